package storage

import (
	"database/sql"
	"fmt"
	"reflect"
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
	at := time.Date(2026, 12, 6, 12, 0, 0, 123456000, time.UTC)
	rows := make([]stepRow, 32)
	for i := range rows {
		rows[i] = newStepRow(&engine.Step{ID: fmt.Sprintf("stp_06h4j9s5e5wbscg2229kpxa%03d", i), RunID: "run_06h4j9s5e5w35cppbp5men6hdc",
			ScenarioID: "scn_06h4j9rnkswxvbgf0ggq2frnrc", Version: 1, NodeID: "w1", ContactID: "ctc_06h4j9s6t1sx36wc17q5dtwjt0",
			EventID: "evt_06h4j9s6t1tk738ym05k16htsw", Status: engine.StepPending, DueAt: at, CreatedAt: at})
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := copyText(db.Dialect().Tables(), db.QueryGen(), &rows); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCopyFieldsAsBunWrites: each field copyText writes straight has the
// COPY text that bun's SQL literal of it becomes, for awkward values.
func TestCopyFieldsAsBunWrites(t *testing.T) {
	db := bun.NewDB(sql.OpenDB(pgdriver.NewConnector()), pgdialect.New()) // connects to nothing
	gen := db.QueryGen()
	texts := []string{"", "plain", "tab\there", "new\nline\r\n", `back\slash`, "it's", "naïve ☃", "bad \xff utf-8", "\\\t\n\r'"}
	times := []time.Time{
		time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 120000, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.FixedZone("x", 5*3600)),
		time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC),
		time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	var rows []any
	for i, s := range texts {
		at := times[i%len(times)]
		rows = append(rows,
			newStepRow(&engine.Step{ID: s, RunID: s, Error: s, Version: i - 3, DueAt: at, CreatedAt: at, DoneAt: &at}),
			newDeliveryRow(&engine.Delivery{ID: s, ScenarioID: s, URL: s, Body: []byte(s), Timeout: time.Duration(i) * time.Second,
				Attempts: i, CreatedAt: at, NextAttemptAt: &at}),
			newAttemptRow(&engine.Attempt{DeliveryID: s, RequestBody: s, StatusCode: 200 + i, At: at}),
			&scenarioRow{ID: s, AllowReentry: i%2 == 0, CreatedAt: ut(at)},
		)
	}
	rows = append(rows, newDeliveryRow(&engine.Delivery{Body: nil}), newDeliveryRow(&engine.Delivery{Body: []byte{}}))
	straight := 0
	for _, r := range rows {
		v := reflect.ValueOf(r)
		if v.Kind() == reflect.Pointer {
			v = v.Elem()
		} else { // addressable, as a slice's rows are
			v = reflect.New(v.Type()).Elem()
			v.Set(reflect.ValueOf(r))
		}
		table := db.Dialect().Tables().Get(v.Type())
		for i, f := range table.Fields {
			kind := copyKindsOf(table)[i]
			if kind == copyLiteral {
				continue
			}
			straight++
			got, _, err := appendCopyField(nil, nil, gen, f, kind, v)
			want, _, wantErr := appendCopyField(nil, nil, gen, f, copyLiteral, v)
			if string(got) != string(want) || (err == nil) != (wantErr == nil) {
				t.Errorf("%s.%s = %q: written %q, %v; bun's literal gives %q, %v", table.Name, f.Name, v.Field(f.Index[0]), got, err, want, wantErr)
			}
		}
	}
	if straight == 0 {
		t.Fatal("no field was written straight")
	}
	// A NUL is refused either way.
	v := reflect.ValueOf(&stepRow{ID: "a\x00b"}).Elem()
	f := db.Dialect().Tables().Get(v.Type()).Fields[0]
	if _, _, err := appendCopyField(nil, nil, gen, f, copyString, v); err == nil {
		t.Error("a string with NUL was written")
	}
}
