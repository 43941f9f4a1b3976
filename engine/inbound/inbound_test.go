package inbound_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/engine/inbound"
	"github.com/sluicehq/sluice/engine/inbound/inboundtest"
)

const secret = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

var custom = []string{"c3"}

func TestQuickWay(t *testing.T) {
	t.Parallel()
	john := "John"
	for _, tc := range []struct {
		name, query, ctype, body string
		want                     *inbound.Contact
		key                      string
	}{
		{"query string", "api-key=K&email=a%40b.org&c3=John", "", "", &inbound.Contact{Email: "a@b.org", Fields: map[string]any{"c3": "John"}}, "K"},
		{"form body", "", "application/x-www-form-urlencoded", "api-key=K&email=a%40b.org&firstname=John",
			&inbound.Contact{Email: "a@b.org", Firstname: &john, Fields: map[string]any{}}, "K"},
		{"JSON body", "api-key=K", "application/json; charset=utf-8", `{"email":"a@b.org","c3":42,"lastname":null}`,
			&inbound.Contact{Email: "a@b.org", Fields: map[string]any{"c3": "42"}}, "K"},
		{"sniffed JSON", "", "", `{"email":"a@b.org","api-key":"K"}`, &inbound.Contact{Email: "a@b.org", Fields: map[string]any{}}, "K"},
		{"same value twice", "email=a%40b.org&api-key=K", "application/x-www-form-urlencoded", "email=a%40b.org",
			&inbound.Contact{Email: "a@b.org", Fields: map[string]any{}}, "K"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := inbound.Collect(tc.query, tc.ctype, []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			c, _, err := inbound.Decode(p, secret, custom)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, c); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if p.APIKey != tc.key {
				t.Errorf("api key %q, want %q", p.APIKey, tc.key)
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	good, err := inbound.Encrypt(secret, []byte(`{"email":"a@b.org"}`))
	if err != nil {
		t.Fatal(err)
	}
	otherKey := strings.Repeat("ab", 32)
	wrongKey, _ := inbound.Encrypt(otherKey, []byte(`{"email":"a@b.org","c3":"a longer value to fill blocks"}`))
	raw, _ := base64.StdEncoding.DecodeString(good)
	raw[len(raw)-1] ^= 0x55 // breaks the padding
	badPadding := base64.StdEncoding.EncodeToString(raw)
	for _, tc := range []struct {
		name, query, ctype, body string
		field, contains          string
	}{
		{"unknown field", "email=a%40b.org&c4=x", "", "", "c4", "not a field"},
		{"no email", "c3=x", "", "", "email", "required"},
		{"twice, different", "email=a%40b.org&email=c%40d.org", "", "", "email", "twice"},
		{"bad query", "email=%zz", "", "", "", "malformed query"},
		{"bad JSON", "", "application/json", `{"email":`, "", "malformed JSON"},
		{"nested JSON", "", "application/json", `{"email":{"x":1}}`, "email", "string, number"},
		{"JSON array", "", "application/json", `["email"]`, "", "malformed JSON"},
		{"unsupported type", "", "multipart/form-data; boundary=x", "--x", "", "unsupported Content-Type"},
		{"oversized body", "", "application/x-www-form-urlencoded", "email=" + strings.Repeat("a", inbound.MaxBody), "", "larger than"},
		{"long value", "email=a%40b.org&c3=" + strings.Repeat("x", 4097), "", "", "c3", "longer than"},
		{"NUL", "email=a%40b.org&firstname=a%00b", "", "", "firstname", "NUL"},
		{"payload with fields", "email=a%40b.org", "application/json", `{"payload":"` + good + `"}`, "email", "inside the payload"},
		{"bad base64", "", "application/json", `{"payload":"***"}`, "payload", "not base64"},
		{"short payload", "", "application/json", `{"payload":"AAAA"}`, "payload", "16-byte IV"},
		{"wrong padding", "", "application/json", `{"payload":"` + badPadding + `"}`, "payload", "does not decrypt"},
		{"wrong key", "", "application/json", `{"payload":"` + wrongKey + `"}`, "payload", "does not decrypt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := inbound.Collect(tc.query, tc.ctype, []byte(tc.body))
			if err == nil {
				_, _, err = inbound.Decode(p, secret, custom)
			}
			var ie *inbound.Error
			if !errors.As(err, &ie) {
				t.Fatalf("error %v (%T), want an *inbound.Error", err, err)
			}
			if ie.Field != tc.field || !strings.Contains(ie.Message, tc.contains) {
				t.Errorf("got field %q message %q, want field %q and %q", ie.Field, ie.Message, tc.field, tc.contains)
			}
		})
	}
}

// TestSecureWayWithOpenSSL decrypts payloads made by the openssl command
// line, JSON and query-string data, in the shapes clients send them.
func TestSecureWayWithOpenSSL(t *testing.T) {
	t.Parallel()
	want := &inbound.Contact{Email: "john@example.org", Fields: map[string]any{"c3": "John"}}
	for _, tc := range []struct{ name, data string }{
		{"JSON", `{"email":"john@example.org","c3":"John"}`},
		{"query string", "email=john%40example.org&c3=John"},
		{"whole blocks (a full block of padding)", `{"email":"john@example.org","c3":"John"}       `}, // 48 bytes
	} {
		t.Run(tc.name, func(t *testing.T) {
			payload := inboundtest.OpensslPayload(t, secret, inboundtest.RandomIV(t), []byte(tc.data))
			for name, body := range map[string]struct{ ctype, body string }{
				"json":          {"application/json", `{"payload":"` + payload + `"}`},
				"form, raw +":   {"application/x-www-form-urlencoded", "payload=" + payload},
				"wrapped lines": {"application/json", `{"payload":"` + wrap(payload) + `"}`},
				"url-safe":      {"application/json", `{"payload":"` + strings.NewReplacer("+", "-", "/", "_", "=", "").Replace(payload) + `"}`},
			} {
				p, err := inbound.Collect("", body.ctype, []byte(body.body))
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				c, _, err := inbound.Decode(p, secret, custom)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if diff := cmp.Diff(want, c); diff != "" {
					t.Errorf("%s (-want +got):\n%s", name, diff)
				}
			}
		})
	}
}

// TestEncryptMatchesOpenSSL: our Encrypt is what openssl makes.
func TestEncryptMatchesOpenSSL(t *testing.T) {
	t.Parallel()
	iv := inboundtest.RandomIV(t)
	for _, data := range []string{"", "x", strings.Repeat("y", 16), `{"email":"a@b.org"}`} {
		got, err := inbound.EncryptIV(secret, iv, []byte(data))
		if err != nil {
			t.Fatal(err)
		}
		if want := inboundtest.OpensslPayload(t, secret, iv, []byte(data)); got != want {
			t.Errorf("%q: Encrypt %s, openssl %s", data, got, want)
		}
	}
}

// wrap breaks s into lines of 64 characters, as openssl -base64 does.
func wrap(s string) string {
	var b strings.Builder
	for len(s) > 64 {
		b.WriteString(s[:64] + `\n`)
		s = s[64:]
	}
	b.WriteString(s)
	return b.String()
}

// FuzzDecode feeds any query string, content type and body through the
// whole decoder: it never panics, refuses with an *inbound.Error, and
// whatever it accepts has an email and only known fields. Payloads are
// made for the body too, so that the decryption path is reached.
func FuzzDecode(f *testing.F) {
	iv := bytes.Repeat([]byte{7}, 16)
	enc := func(s string) string {
		p, err := inbound.EncryptIV(secret, iv, []byte(s))
		if err != nil {
			f.Fatal(err)
		}
		return p
	}
	f.Add("api-key=K&email=a%40b.org&c3=John", "", []byte(nil))
	f.Add("", "application/x-www-form-urlencoded", []byte("email=a%40b.org&firstname=J"))
	f.Add("api-key=K", "application/json", []byte(`{"email":"a@b.org","c3":1.5,"lastname":null}`))
	f.Add("", "application/json", []byte(`{"payload":"`+enc(`{"email":"a@b.org","c3":"x"}`)+`"}`))
	f.Add("", "", []byte("payload="+enc("email=a%40b.org&api-key=K")))
	f.Add("payload="+enc(`{"payload":"x","email":"a@b.org"}`), "text/plain", []byte(nil))
	f.Add("email=%zz", "multipart/form-data", []byte("--x"))
	f.Fuzz(func(t *testing.T, query, ctype string, body []byte) {
		for _, b := range [][]byte{body, []byte(`{"payload":"` + enc(string(body)) + `"}`)} {
			p, err := inbound.Collect(query, ctype, b)
			if err == nil {
				var c *inbound.Contact
				c, _, err = inbound.Decode(p, secret, custom)
				if err == nil {
					if c.Email == "" {
						t.Fatalf("accepted without an email: %+v", c)
					}
					for k := range c.Fields {
						if k != "c3" {
							t.Fatalf("accepted unknown field %q", k)
						}
					}
					continue
				}
			}
			var ie *inbound.Error
			if !errors.As(err, &ie) {
				t.Fatalf("error %v (%T) is not an *inbound.Error", err, err)
			}
		}
	})
}
