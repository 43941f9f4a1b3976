package storage

import "testing"

// TestAppendCopyValue: SQL literals as bun writes them become COPY text
// values; anything else (bun's ?!(error) for a value it cannot write) is
// refused rather than stored.
func TestAppendCopyValue(t *testing.T) {
	tests := []struct {
		lit, want string
		ok        bool
	}{
		{"NULL", `\N`, true},
		{"TRUE", "t", true},
		{"FALSE", "f", true},
		{"42", "42", true},
		{"-1.5e3", "-1.5e3", true},
		{"''", "", true},
		{"'it''s'", "it's", true},
		{"'a\tb\nc\rd\\e'", `a\tb\nc\rd\\e`, true},
		{`'\x00ff'`, `\\x00ff`, true},
		{"'{}'::jsonb", "{}", true},
		{"?!(bun: string with NUL)", "", false},
		{"'open", "", false},
		{"'a'b'", "", false},
		{"DEFAULT", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, err := appendCopyValue(nil, []byte(tt.lit))
		if (err == nil) != tt.ok || (tt.ok && string(got) != tt.want) {
			t.Errorf("appendCopyValue(%q) = %q, %v; want %q, ok %t", tt.lit, got, err, tt.want, tt.ok)
		}
	}
}
