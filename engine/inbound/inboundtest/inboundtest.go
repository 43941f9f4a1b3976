// Package inboundtest makes secure-way inbound payloads for tests the way
// the README tells clients to: with the openssl command line, not with
// Sluice's own code.
package inboundtest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"os/exec"
	"testing"
)

// OpensslPayload returns base64(IV ‖ `openssl enc -aes-256-cbc -K key -iv IV`
// of data). It skips the test when openssl is not installed.
func OpensslPayload(t testing.TB, key string, iv, data []byte) string {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed")
	}
	cmd := exec.Command("openssl", "enc", "-aes-256-cbc", "-K", key, "-iv", hex.EncodeToString(iv))
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl: %v", err)
	}
	return base64.StdEncoding.EncodeToString(append(append([]byte{}, iv...), out...))
}

// Payload is OpensslPayload of the text data with a random IV.
func Payload(t testing.TB, key, data string) string {
	t.Helper()
	return OpensslPayload(t, key, RandomIV(t), []byte(data))
}

// RandomIV returns a random 16-byte IV.
func RandomIV(t testing.TB) []byte {
	t.Helper()
	iv := make([]byte, 16)
	if _, err := rand.Read(iv); err != nil {
		t.Fatal(err)
	}
	return iv
}
