package storage

import (
	"database/sql"
	"reflect"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/pgdriver"
	"github.com/uptrace/bun/schema"

	"github.com/sluicehq/sluice/engine"
)

// awkwardRows returns rows of the hot tables with awkward values: escapes,
// quotes, bad UTF-8, times without a fraction, in another zone, at the
// ends of the years PostgreSQL's format holds, nil and empty bytes, nil
// and set pointers.
func awkwardRows() (steps []stepRow, deliveries []*deliveryRow, attempts []*attemptRow, scenarios []*scenarioRow) {
	texts := []string{"", "plain", "tab\there", "new\nline\r\n", `back\slash`, "it's", "''", "naïve ☃", "bad \xff utf-8", "\\\t\n\r'", "a?b"}
	times := []time.Time{
		time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 120000, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.FixedZone("x", 5*3600)),
		time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC),
		time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for i, s := range texts {
		at := times[i%len(times)]
		var done *time.Time
		if i%2 == 0 {
			done = &at
		}
		steps = append(steps, newStepRow(&engine.Step{ID: s, RunID: s, Error: s, Version: i - 3, DueAt: at, CreatedAt: at, DoneAt: done}))
		deliveries = append(deliveries, newDeliveryRow(&engine.Delivery{ID: s, ScenarioID: s, URL: s, Body: []byte(s),
			Headers: map[string]string{s: s}, Timeout: time.Duration(i) * time.Second, Attempts: i, CreatedAt: at, NextAttemptAt: done}))
		attempts = append(attempts, newAttemptRow(&engine.Attempt{DeliveryID: s, RequestBody: s, StatusCode: 200 + i, At: at}))
		scenarios = append(scenarios, &scenarioRow{ID: s, AllowReentry: i%2 == 0, CreatedAt: ut(at)})
	}
	deliveries = append(deliveries, newDeliveryRow(&engine.Delivery{Body: nil}), newDeliveryRow(&engine.Delivery{Body: []byte{}}))
	return
}

// otherRows returns the other rows insertLater writes, as models: new
// contacts (JSON, nullzero maps and slices, optional times), their dates,
// events, runs.
func otherRows() []any {
	at := time.Date(2026, 12, 6, 12, 0, 0, 5000, time.UTC)
	contacts := []contactRow{
		*newContactRow(&engine.Contact{ID: "ctc_1", Email: "A'b@x.org", Firstname: "naïve\t'", Fields: map[string]any{"n": 1.5, "s": "it's"},
			Dates: map[string]string{"birthday": "1990-03-10"}, Groups: []string{"vip"}, ConsentGivenAt: &at, CreatedAt: at, UpdatedAt: at, Version: 3}),
		*newContactRow(&engine.Contact{ID: "ctc_2", Email: "c@x.org", CreatedAt: at, UpdatedAt: at}),
	}
	dates := []contactDateRow{{ContactID: "ctc_1", Name: "birthday", MonthDay: "03-10", Date: "1990-03-10"}}
	events := []eventRow{
		newEventRow(&engine.Event{ID: "evt_1", Type: "signup", ContactID: "ctc_1", Data: map[string]any{"k": "v\n"}, OccurredAt: at}),
		newEventRow(&engine.Event{ID: "evt_2", Type: "signup", ContactID: "ctc_2", OccurredAt: at}),
	}
	runs := []*runRow{newRunRow(&engine.Run{ID: "run_1", ScenarioID: "scn_1", Version: 2, ContactID: "ctc_1", EventID: "evt_1",
		EntryKey: "k", Trigger: "t1", Status: engine.RunActive, CreatedAt: at})}
	return []any{&contacts, &dates, &events, &runs}
}

// TestPlainFieldsAsBunWrites: each field written straight is, byte for
// byte, what bun writes into VALUES, and what its literal becomes in COPY.
func TestPlainFieldsAsBunWrites(t *testing.T) {
	db := bun.NewDB(sql.OpenDB(pgdriver.NewConnector()), pgdialect.New()) // connects to nothing
	gen := db.QueryGen()
	steps, deliveries, attempts, scenarios := awkwardRows()
	var rows []reflect.Value
	for i := range steps {
		rows = append(rows, reflect.ValueOf(&steps[i]).Elem())
	}
	for _, r := range deliveries {
		rows = append(rows, reflect.ValueOf(r).Elem())
	}
	for _, r := range attempts {
		rows = append(rows, reflect.ValueOf(r).Elem())
	}
	for _, r := range scenarios {
		rows = append(rows, reflect.ValueOf(r).Elem())
	}
	straight := 0
	for _, v := range rows {
		table := db.Dialect().Tables().Get(v.Type())
		for i, f := range table.Fields {
			kind := plainKindsOf(table)[i]
			if kind == plainOther {
				continue
			}
			straight++
			got, _, err := appendCopyField(nil, nil, gen, f, kind, v)
			want, _, wantErr := appendCopyField(nil, nil, gen, f, plainOther, v)
			if string(got) != string(want) || (err == nil) != (wantErr == nil) {
				t.Errorf("COPY %s.%s = %q: written %q, %v; bun's literal gives %q, %v", table.Name, f.Name, v.Field(f.Index[0]), got, err, want, wantErr)
			}
			for _, d := range []struct {
				name   string
				gen    schema.QueryGen
				sqlite bool
			}{{"PostgreSQL", gen, false}, {"SQLite", sqliteGen(), true}} {
				got, err = appendValuesField(nil, d.gen, d.sqlite, f, kind, v)
				want, wantErr = appendValuesField(nil, d.gen, d.sqlite, f, plainOther, v)
				if string(got) != string(want) || (err == nil) != (wantErr == nil) {
					t.Errorf("VALUES (%s) %s.%s = %q: written %q, %v; bun writes %q, %v", d.name, table.Name, f.Name, v.Field(f.Index[0]), got, err, want, wantErr)
				}
			}
		}
	}
	if straight == 0 {
		t.Fatal("no field was written straight")
	}
	// A NUL is refused.
	v := reflect.ValueOf(&stepRow{ID: "a\x00b"}).Elem()
	f := db.Dialect().Tables().Get(v.Type()).Fields[0]
	if _, _, err := appendCopyField(nil, nil, gen, f, plainString, v); err == nil {
		t.Error("COPY wrote a string with NUL")
	}
	if _, err := appendValuesField(nil, gen, false, f, plainString, v); err == nil {
		t.Error("VALUES wrote a string with NUL")
	}
}

// TestInsertSQLAsBunWrites: the whole statement is the one bun writes,
// for PostgreSQL and for SQLite.
func TestInsertSQLAsBunWrites(t *testing.T) {
	pg := bun.NewDB(sql.OpenDB(pgdriver.NewConnector()), pgdialect.New()) // connects to nothing
	lite := sqliteDB()
	for _, db := range []*bun.DB{pg, lite} {
		steps, deliveries, attempts, scenarios := awkwardRows()
		for _, model := range append([]any{&steps, &deliveries, &attempts, &scenarios}, otherRows()...) {
			got, err := insertSQL(db.Dialect().Tables(), db.QueryGen(), model)
			if err != nil {
				t.Fatal(err)
			}
			want := db.NewInsert().Model(model).Returning("NULL").String()
			if got != want {
				t.Errorf("insertSQL(%T) for %s:\n got %s\nwant %s", model, db.Dialect().Name(), got, want)
			}
		}
		if _, err := insertSQL(db.Dialect().Tables(), db.QueryGen(), &[]stepRow{}); err == nil {
			t.Error("insertSQL of no rows: no error")
		}
	}
}

// sqliteDB is bun for SQLite, on no database.
func sqliteDB() *bun.DB { return bun.NewDB(&sql.DB{}, sqlitedialect.New()) }

// sqliteGen is bun's query generator for SQLite, on no database.
func sqliteGen() schema.QueryGen { return sqliteDB().QueryGen() }

// BenchmarkInsertSQL: a batch of 16 new steps as INSERT … VALUES, written
// by insertSQL and by bun.
func BenchmarkInsertSQL(b *testing.B) {
	db := bun.NewDB(sql.OpenDB(pgdriver.NewConnector()), pgdialect.New()) // connects to nothing
	rows := benchSteps(16)
	b.Run("straight", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := insertSQL(db.Dialect().Tables(), db.QueryGen(), &rows); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bun", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = db.NewInsert().Model(&rows).Returning("NULL").String()
		}
	})
}
