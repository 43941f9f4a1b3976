// Package inbound decodes the calls outside systems make to an inbound
// webhook, without touching storage: the quick way (data in the query
// string, a form body or a JSON body, with an api-key) and the secure way
// (a payload holding base64(IV ‖ AES-256-CBC ciphertext, PKCS#7 padding) of
// the data, under the webhook's 256-bit secret key), then checks the
// fields against the ones the webhook accepts.
package inbound

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaxBody is the largest request body an inbound webhook accepts: 64 KiB.
const MaxBody = 64 << 10

// Parameter names with a meaning of their own.
const (
	ParamAPIKey  = "api-key"
	ParamPayload = "payload"
)

// Limits on the data of one call.
const (
	maxFields   = 100
	maxValue    = 4096 // custom field values, like the engine's
	maxName     = 200  // firstname, lastname
	maxKeyBytes = 64
)

// Standard fields every inbound webhook accepts besides its custom ones.
var standard = []string{"email", "firstname", "lastname"}

// Error is a refused call: Message and Field are told to the caller;
// Detail, when set, says more and is kept for the operator only (the
// caller must not learn, for instance, whether a payload's padding was
// right: that would make the webhook a padding oracle).
type Error struct {
	Field   string
	Message string
	Detail  string
}

func (e *Error) Error() string {
	msg := e.Message
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	if e.Field == "" {
		return msg
	}
	return e.Field + ": " + msg
}

func errorf(field, format string, args ...any) *Error {
	return &Error{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Params are the parameters of one call, gathered from the query string
// and the body.
type Params struct {
	APIKey  string            // the api-key parameter ("" when absent)
	Payload string            // the secure way's payload ("" for the quick way)
	Values  map[string]string // every other parameter
}

// Collect gathers a call's parameters from its raw query string and its
// body, read as JSON (an object of strings, numbers, booleans or nulls) or
// as a form according to contentType (sniffed when it is empty or
// text/plain). A parameter given twice with different values is refused.
func Collect(rawQuery, contentType string, body []byte) (*Params, error) {
	if len(body) > MaxBody {
		return nil, errorf("", "the body is larger than %d bytes", MaxBody)
	}
	p := &Params{Values: map[string]string{}}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, errorf("", "malformed query string: %v", err)
	}
	if err := p.addValues(q); err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) > 0 {
		var vals map[string]string
		switch bodyKind(contentType, body) {
		case "json":
			vals, err = parseJSON(body)
		case "form":
			vals, err = parseForm(string(body))
		default:
			return nil, errorf("", "unsupported Content-Type %q: send JSON, a form (application/x-www-form-urlencoded) or the query string alone", contentType)
		}
		if err != nil {
			return nil, err
		}
		for _, k := range sortedKeys(vals) {
			if err := p.add(k, vals[k]); err != nil {
				return nil, err
			}
		}
	}
	if p.Payload != "" && len(p.Values) > 0 {
		return nil, errorf(sortedKeys(p.Values)[0], "with a payload, every field goes inside the payload")
	}
	return p, nil
}

// bodyKind is "json", "form" or "" (unsupported) for a body.
func bodyKind(contentType string, body []byte) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if contentType == "" {
		mt, err = "", nil
	}
	if err != nil {
		return ""
	}
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return "json"
	case mt == "application/x-www-form-urlencoded":
		return "form"
	case mt == "" || mt == "text/plain":
		if bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
			return "json"
		}
		return "form"
	}
	return ""
}

func (p *Params) addValues(q url.Values) error {
	for _, k := range sortedKeys(q) {
		for _, v := range q[k] {
			if err := p.add(k, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// add records one parameter.
func (p *Params) add(k, v string) error {
	dst := map[string]*string{ParamAPIKey: &p.APIKey, ParamPayload: &p.Payload}[k]
	if dst != nil {
		if *dst != "" && *dst != v {
			return errorf(k, "is given twice with different values")
		}
		*dst = v
		return nil
	}
	if old, ok := p.Values[k]; ok && old != v {
		return errorf(k, "is given twice with different values")
	}
	if len(p.Values) >= maxFields {
		return errorf("", "more than %d fields", maxFields)
	}
	p.Values[k] = v
	return nil
}

// parseForm reads url-encoded data; a key given twice must have one value.
func parseForm(s string) (map[string]string, error) {
	q, err := url.ParseQuery(s)
	if err != nil {
		return nil, errorf("", "malformed form data: %v", err)
	}
	out := make(map[string]string, len(q))
	for _, k := range sortedKeys(q) {
		for _, v := range q[k] {
			if old, ok := out[k]; ok && old != v {
				return nil, errorf(k, "is given twice with different values")
			}
			out[k] = v
		}
	}
	return out, nil
}

// parseJSON reads a JSON object whose values are strings, numbers,
// booleans or nulls (left out).
func parseJSON(b []byte) (map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, errorf("", "malformed JSON: a JSON object of fields is expected: %v", strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errorf("", "unexpected data after the JSON object")
	}
	if m == nil {
		return nil, errorf("", "a JSON object of fields is expected, not null")
	}
	out := make(map[string]string, len(m))
	for _, k := range sortedKeys(m) {
		switch v := m[k].(type) {
		case nil:
		case string:
			out[k] = v
		case json.Number:
			out[k] = v.String()
		case bool:
			out[k] = fmt.Sprint(v)
		default:
			return nil, errorf(k, "must be a string, number, boolean or null")
		}
	}
	return out, nil
}

// notDecrypting is what a caller is told of any payload that does not
// decrypt to data; Detail says why, for the operator.
func notDecrypting(detail string) *Error {
	return &Error{Field: ParamPayload, Detail: detail,
		Message: "the payload does not decrypt to data with this inbound webhook's secret key " +
			"(wrong key, or not base64 of IV ‖ AES-256-CBC ciphertext with PKCS#7 padding)"}
}

// Decrypt opens a secure-way payload with secretKey (64 hex characters)
// and returns the data inside: a JSON object or a query string. Base64 may
// be standard or URL-safe, padded or not, and wrapped over lines (as
// openssl -base64 writes it); a space stands for a "+" lost to form
// decoding.
func Decrypt(secretKey, payload string) (map[string]string, error) {
	key, err := hex.DecodeString(secretKey)
	if err != nil || len(key) != 32 {
		return nil, errors.New("inbound: the secret key must be 64 hex characters")
	}
	raw, err := decodeBase64(payload)
	if err != nil {
		return nil, errorf(ParamPayload, "the payload is not base64: %v", err)
	}
	if len(raw) < 2*aes.BlockSize || len(raw)%aes.BlockSize != 0 {
		return nil, errorf(ParamPayload, "the payload must decode to a 16-byte IV followed by whole 16-byte blocks of ciphertext, not %d bytes", len(raw))
	}
	block, _ := aes.NewCipher(key) // a 32-byte key cannot fail
	plain := make([]byte, len(raw)-aes.BlockSize)
	cipher.NewCBCDecrypter(block, raw[:aes.BlockSize]).CryptBlocks(plain, raw[aes.BlockSize:])
	plain, ok := unpad(plain)
	if !ok {
		return nil, notDecrypting("bad PKCS#7 padding")
	}
	if !utf8.Valid(plain) {
		return nil, notDecrypting("the plaintext is not UTF-8")
	}
	var vals map[string]string
	if t := bytes.TrimSpace(plain); bytes.HasPrefix(t, []byte("{")) {
		vals, err = parseJSON(t)
	} else {
		vals, err = parseForm(string(t))
	}
	if err != nil {
		return nil, notDecrypting("the plaintext is neither a JSON object nor a query string: " + err.Error())
	}
	return vals, nil
}

// decodeBase64 reads standard or URL-safe base64, padded or not, ignoring
// line breaks; spaces are read as "+".
func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case '\n', '\r', '\t':
			return -1
		case ' ', '-':
			return '+'
		case '_':
			return '/'
		}
		return r
	}, s)
	s = strings.TrimRight(s, "=")
	if s == "" {
		return nil, errors.New("it is empty")
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// unpad removes PKCS#7 padding, looking at every byte of the last block
// whatever the padding length, so that its time does not tell it.
func unpad(b []byte) ([]byte, bool) {
	n := len(b)
	if n == 0 || n%aes.BlockSize != 0 {
		return nil, false
	}
	pad := int(b[n-1])
	good := subtle.ConstantTimeLessOrEq(1, pad) & subtle.ConstantTimeLessOrEq(pad, aes.BlockSize)
	for i := 1; i <= aes.BlockSize; i++ {
		inPad := subtle.ConstantTimeLessOrEq(i, pad)
		same := subtle.ConstantTimeByteEq(b[n-i], byte(pad))
		good &= same | (inPad ^ 1)
	}
	if good != 1 {
		return nil, false
	}
	return b[:n-pad], true
}

// Encrypt makes a secure-way payload of data under secretKey (64 hex
// characters) with a random IV: base64(IV ‖ AES-256-CBC(PKCS#7(data))).
// It is what a client does; Sluice uses it in tests and examples.
func Encrypt(secretKey string, data []byte) (string, error) {
	iv := make([]byte, aes.BlockSize)
	if _, err := rand.Read(iv); err != nil {
		return "", err
	}
	return EncryptIV(secretKey, iv, data)
}

// EncryptIV is Encrypt with a given 16-byte IV.
func EncryptIV(secretKey string, iv, data []byte) (string, error) {
	key, err := hex.DecodeString(secretKey)
	if err != nil || len(key) != 32 {
		return "", errors.New("inbound: the secret key must be 64 hex characters")
	}
	if len(iv) != aes.BlockSize {
		return "", errors.New("inbound: the IV must be 16 bytes")
	}
	block, _ := aes.NewCipher(key)
	pad := aes.BlockSize - len(data)%aes.BlockSize
	plain := append(slices.Clone(data), bytes.Repeat([]byte{byte(pad)}, pad)...)
	out := make([]byte, aes.BlockSize+len(plain))
	copy(out, iv)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(out[aes.BlockSize:], plain)
	return base64.StdEncoding.EncodeToString(out), nil
}

// Contact is the contact data of an accepted call.
type Contact struct {
	Email     string
	Firstname *string
	Lastname  *string
	Fields    map[string]any // the webhook's custom fields that were passed
}

// Fields returns the names a webhook with the given custom field keys
// accepts: email, firstname, lastname and the custom ones.
func Fields(custom []string) []string { return append(slices.Clone(standard), custom...) }

// Check turns a call's values into contact data: email is required, every
// key must be a standard field or one of custom, and every value valid
// UTF-8 without NUL, of a sensible length. Whether the email is a valid
// address is the engine's to judge.
func Check(values map[string]string, custom []string) (*Contact, error) {
	c := &Contact{Fields: map[string]any{}}
	for _, k := range sortedKeys(values) {
		v := values[k]
		if len(k) > maxKeyBytes || !utf8.ValidString(k) {
			return nil, errorf("", "a field name is at most %d bytes of UTF-8", maxKeyBytes)
		}
		if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			return nil, errorf(k, "must be UTF-8 text without NUL characters")
		}
		switch {
		case k == "email":
			c.Email = strings.TrimSpace(v)
		case k == "firstname" || k == "lastname":
			if len(v) > maxName {
				return nil, errorf(k, "is longer than %d bytes", maxName)
			}
			if k == "firstname" {
				c.Firstname = &v
			} else {
				c.Lastname = &v
			}
		case slices.Contains(custom, k):
			if len(v) > maxValue {
				return nil, errorf(k, "is longer than %d bytes", maxValue)
			}
			c.Fields[k] = v
		default:
			return nil, errorf(k, "%q is not a field of this inbound webhook; it accepts %s", k, strings.Join(Fields(custom), ", "))
		}
	}
	if c.Email == "" {
		return nil, errorf("email", "email is required")
	}
	return c, nil
}

// Decode is the whole of a call's decoding once its parameters are
// collected: the quick way's values, or the secure way's payload opened
// with secretKey; then Check. It returns the api-key found inside a
// payload, if any, with the contact.
func Decode(p *Params, secretKey string, custom []string) (*Contact, string, error) {
	values, apiKey := p.Values, ""
	if p.Payload != "" {
		var err error
		if values, err = Decrypt(secretKey, p.Payload); err != nil {
			return nil, "", err
		}
		apiKey = values[ParamAPIKey]
		delete(values, ParamAPIKey)
		if _, nested := values[ParamPayload]; nested {
			return nil, "", errorf(ParamPayload, "a payload cannot hold another payload")
		}
	}
	c, err := Check(values, custom)
	return c, apiKey, err
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
