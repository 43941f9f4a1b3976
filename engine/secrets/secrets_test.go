package secrets_test

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/engine/secrets"
)

func box(t *testing.T, b byte) *secrets.Box {
	t.Helper()
	x, err := secrets.New(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// sealedPrefix starts every sealed value (the stored format).
const sealedPrefix = "enc:v1:"

func TestSealOpen(t *testing.T) {
	t.Parallel()
	a, b := box(t, 1), box(t, 2)
	sealed, err := a.Seal("whsec_abc")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "whsec_abc") || !strings.HasPrefix(sealed, sealedPrefix) {
		t.Fatalf("sealed value %q", sealed)
	}
	again, _ := a.Seal("whsec_abc")
	if again == sealed {
		t.Error("two seals of one value are equal: the nonce is not random")
	}
	if got, err := a.Open(sealed); err != nil || got != "whsec_abc" {
		t.Errorf("Open = %q, %v", got, err)
	}
	if _, err := b.Open(sealed); err == nil {
		t.Error("opened with the wrong key")
	}
	// Flip one bit of each byte in turn (nonce, ciphertext and tag). Editing
	// the base64 text instead can leave the bytes unchanged: its last
	// characters carry padding bits, and the byte may already hold the edit.
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(sealed, sealedPrefix))
	if err != nil {
		t.Fatal(err)
	}
	for i := range raw {
		bad := bytes.Clone(raw)
		bad[i] ^= 0x01
		if _, err := a.Open(sealedPrefix + base64.RawStdEncoding.EncodeToString(bad)); err == nil {
			t.Errorf("opened a value with byte %d of %d tampered", i, len(raw))
		}
	}
	if _, err := a.Open(sealed[:len(sealed)-4]); err == nil {
		t.Error("opened a truncated value")
	}
	if _, err := a.Open("whsec_plain"); err == nil {
		t.Error("opened a value that was never sealed")
	}
	if s, err := a.Seal(""); err != nil || s != "" {
		t.Errorf("empty value: %q %v", s, err)
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	hex64 := strings.Repeat("ab", 32)
	if k, err := secrets.ParseKey(hex64); err != nil || len(k) != 32 {
		t.Errorf("hex key: %v", err)
	}
	for _, bad := range []string{"", "abc", strings.Repeat("ab", 16), strings.Repeat("zz", 32)} {
		if _, err := secrets.ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
	if _, err := secrets.New(make([]byte, 16)); err == nil {
		t.Error("a 16-byte key was accepted")
	}
}
