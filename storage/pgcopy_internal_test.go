package storage

import (
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/sluicehq/sluice/engine"
)

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

// BenchmarkCopyText: the rows of a batch of 32 new steps as COPY text.
func BenchmarkCopyText(b *testing.B) {
	db := bun.NewDB(sql.OpenDB(pgdriver.NewConnector()), pgdialect.New()) // connects to nothing
	rows := benchSteps(32)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := copyText(db.Dialect().Tables(), db.QueryGen(), &rows); err != nil {
			b.Fatal(err)
		}
	}
}

// benchSteps returns n new steps of one batch, as ingest stores them.
func benchSteps(n int) []stepRow {
	at := time.Date(2026, 12, 6, 12, 0, 0, 123456000, time.UTC)
	rows := make([]stepRow, n)
	for i := range rows {
		rows[i] = newStepRow(&engine.Step{ID: fmt.Sprintf("stp_06h4j9s5e5wbscg2229kpxa%03d", i), RunID: "run_06h4j9s5e5w35cppbp5men6hdc",
			ScenarioID: "scn_06h4j9rnkswxvbgf0ggq2frnrc", Version: 1, NodeID: "w1", ContactID: "ctc_06h4j9s6t1sx36wc17q5dtwjt0",
			EventID: "evt_06h4j9s6t1tk738ym05k16htsw", Status: engine.StepPending, DueAt: at, CreatedAt: at})
	}
	return rows
}

// TestDataRow: a DataRow's text columns, NULL and empty kept apart, and a
// message cut short refused rather than read past its end.
func TestDataRow(t *testing.T) {
	msg := func(cols ...[]byte) []byte {
		b := binary.BigEndian.AppendUint16(nil, uint16(len(cols)))
		for _, c := range cols {
			if c == nil {
				b = binary.BigEndian.AppendUint32(b, 0xFFFFFFFF)
				continue
			}
			b = binary.BigEndian.AppendUint32(b, uint32(len(c)))
			b = append(b, c...)
		}
		return b
	}
	body := msg([]byte("run_1"), nil, []byte{}, []byte("ß\x00x"))
	row, err := dataRow(body, make([]driver.Value, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	want := []driver.Value{[]byte("run_1"), nil, []byte{}, []byte("ß\x00x")}
	if fmt.Sprintf("%q", row) != fmt.Sprintf("%q", want) || row[1] != nil || row[2] == nil {
		t.Fatalf("dataRow = %q, want %q", row, want)
	}
	for n := range len(body) {
		if _, err := dataRow(body[:n], nil); err == nil {
			t.Errorf("a DataRow cut to %d of %d bytes was read", n, len(body))
		}
	}
	if _, err := dataRow(msg(), nil); err != nil {
		t.Errorf("no columns: %v", err)
	}
}
