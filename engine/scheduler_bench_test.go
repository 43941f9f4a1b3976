package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice/storage"
	"github.com/sluicehq/sluice/storage/storagetest"
)

// BenchmarkScheduleWindow100k measures scheduler passes over 100,000
// contacts with birthdays spread over the year and a date_reached trigger
// at 09:00 UTC: the pass whose 15-second window holds 09:00 (reported as
// first-pass-ms; it starts the ~274 runs of the day) and then the
// ordinary pass of the next 15 seconds, which finds nobody due (ns/op),
// with the SQL statements of each (first-pass-sql, sql/pass).
// Both read the candidate days through the contact_dates index: the cost
// follows the contacts of those days, not the 100,000.
func BenchmarkScheduleWindow100k(b *testing.B) {
	for _, db := range []struct {
		name string
		open func(testing.TB) *storage.Store
		fill string
	}{
		{"sqlite", storagetest.OpenSQLite, `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99999)
INSERT INTO contacts (id, email, email_key, dates, timezone, created_at, updated_at)
SELECT printf('ctc_%06d', i), printf('c%d@x.org', i), printf('c%d@x.org', i),
  json_object('birthday', date('1980-01-01', '+' || (i % 365) || ' days')), '', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z' FROM n`},
		{"postgres", storagetest.OpenPostgres, `INSERT INTO contacts (id, email, email_key, dates, timezone, created_at, updated_at)
SELECT 'ctc_' || lpad(i::text, 6, '0'), 'c' || i || '@x.org', 'c' || i || '@x.org',
  jsonb_build_object('birthday', to_char(date '1980-01-01' + (i % 365), 'YYYY-MM-DD')), '', now(), now()
FROM generate_series(0, 99999) i`},
	} {
		b.Run(db.name, func(b *testing.B) {
			st := db.open(b)
			ctx := context.Background()
			for _, q := range []string{db.fill, `INSERT INTO contact_dates (contact_id, name, month_day, date)
SELECT id, 'birthday', substr(` + jsonText(st) + `, 6, 5), ` + jsonText(st) + ` FROM contacts`} {
				if _, err := st.DB().ExecContext(ctx, q); err != nil {
					b.Fatal(err)
				}
			}
			if st.Postgres() {
				st.DB().ExecContext(ctx, "ANALYZE")
			}
			clk := &clock{t: utc("2026-03-10T09:00:00Z")}
			e, _ := newEngine(b, st, clk)
			id := dateScenarioTB(b, e, "date_reached", `{"field":"birthday","time":"09:00"}`)
			from := utc("2026-03-10T08:59:45Z")
			start, stmts := time.Now(), st.Statements()
			if _, err := e.ScheduleWindow(ctx, from, from.Add(15*time.Second)); err != nil {
				b.Fatal(err)
			}
			first, firstSQL := time.Since(start), st.Statements()-stmts
			from = from.Add(15 * time.Second)
			stmts = st.Statements()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := e.ScheduleWindow(ctx, from, from.Add(15*time.Second)); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			perPass := float64(st.Statements()-stmts) / float64(b.N)
			var runs int
			if err := st.DB().NewRaw("SELECT count(*) FROM runs WHERE scenario_id = ?", id).Scan(ctx, &runs); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(runs), "runs")
			b.ReportMetric(float64(first.Milliseconds()), "first-pass-ms")
			b.ReportMetric(float64(firstSQL), "first-pass-sql")
			b.ReportMetric(perPass, "sql/pass")
		})
	}
}

// jsonText is the SQL expression of contacts.dates' birthday as text.
func jsonText(st *storage.Store) string {
	if st.Postgres() {
		return "(dates->>'birthday')"
	}
	return "json_extract(dates, '$.birthday')"
}
