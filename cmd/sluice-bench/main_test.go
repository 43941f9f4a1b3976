package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"
)

// requireServices skips the test when PostgreSQL or Redis is unreachable,
// or fails it in CI, where they must be there.
func requireServices(t *testing.T) {
	t.Helper()
	s, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := connect(context.Background(), s)
	var unreachable *unreachableError
	switch {
	case errors.As(err, &unreachable) && os.Getenv("CI") != "true":
		t.Skip(err)
	case err != nil:
		t.Fatal(err)
	}
	svc.close()
}

// TestBench runs the whole benchmark small: by default (at full speed,
// then paced at 2,500 events/s, on both stacks) and paced in batches on
// PostgreSQL + Redis; it checks that every measurement is there, in order,
// with every figure sane.
func TestBench(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Sluice twice per case")
	}
	requireServices(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin, err := buildSluice(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	tests := []struct {
		name   string
		args   []string
		stacks []string
		rates  []float64
	}{
		{"defaults", nil, []string{stackPostgres, stackEmbedded}, []float64{0, 2500}},
		{"paced batches of stored contacts", []string{"-stacks", "postgres+redis", "-rate", "500", "-batch", "4", "-known"}, []string{stackPostgres}, []float64{500}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"-n", "200", "-runs", "1", "-idle", "1s", "-timeout", "30s", "-json", "-sluice", bin}, tt.args...)
			var out, progress bytes.Buffer
			if err := runCLI(ctx, args, &out, &progress); err != nil {
				t.Fatalf("%v\nprogress:\n%s", err, &progress)
			}
			var rep report
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				t.Fatalf("JSON output: %v\n%s", err, &out)
			}
			per := 1 + len(tt.stacks) // the floor, then each stack
			if len(rep.Runs) != per*len(tt.rates) || len(rep.Median) != len(rep.Runs) {
				t.Fatalf("%d results and %d medians, want %d each:\n%s", len(rep.Runs), len(rep.Median), per*len(tt.rates), &out)
			}
			for i, res := range rep.Runs {
				stack := "floor"
				if i%per > 0 {
					stack = tt.stacks[i%per-1]
				}
				if rate := tt.rates[i/per]; res.Stack != stack || res.Rate != rate || rep.Median[i].Stack != stack || rep.Median[i].Rate != rate {
					t.Errorf("result %d is %s at %v (median: %s at %v), want %s at %v",
						i, res.Stack, res.Rate, rep.Median[i].Stack, rep.Median[i].Rate, stack, rate)
				}
				checkFigures(t, res, n, res.Rate)
			}
		})
	}
}

// binaryBudget is the most bytes the release binary may take.
const binaryBudget = 40_000_000

// checkFigures checks that a result has the figures its stack measures,
// with sane values.
func checkFigures(t *testing.T, res result, n int, rate float64) {
	t.Helper()
	f := res.Figures
	positive := []string{figPerSec, figP50, figP95, figP99, figAnswerP50, figAnswerP99, figBusy, figBenchCPU}
	// redis-server's CPU is read in ticks of 10 ms: over 200 deliveries
	// that cost it a few µs each, no tick may pass. It must be there.
	present := []string{}
	switch res.Stack {
	case "floor":
		positive = append(positive, figRedisCmds)
		present = append(present, figRedisCPU)
	case stackPostgres:
		positive = append(positive, figRatio, figCPU, figIdleRSS, figPeakRSS, figBinary, figRedisCmds, figTrips, figSQL, figPGCPU,
			figWALRecords, figWALBytes)
		present = append(present, figRedisCPU)
	case stackEmbedded:
		positive = append(positive, figRatio, figCPU, figIdleRSS, figPeakRSS, figBinary, figTrips, figSQL)
		for _, k := range []string{figRedisCmds, figRedisCPU, figPGCPU, figWALRecords, figWALBytes} {
			if _, ok := f[k]; ok {
				t.Errorf("%s: %s measured on the embedded stack (no PostgreSQL, Redis in process)", res.Stack, k)
			}
		}
	}
	// The release build (buildSluice) must stay within the 40 MB budget.
	if size := f[figBinary] * (1 << 20); size > binaryBudget {
		t.Errorf("%s: the binary takes %.0f bytes, over the budget of %d", res.Stack, size, binaryBudget)
	}
	if f[figBusy] > 100 {
		t.Errorf("%s: machine CPU busy %v%%", res.Stack, f[figBusy])
	}
	if f[figDeliveries] != float64(n) {
		t.Errorf("%s: %v deliveries, want %d", res.Stack, f[figDeliveries], n)
	}
	for _, k := range positive {
		if v, ok := f[k]; !ok || !(v > 0) {
			t.Errorf("%s: %s = %v (present: %t), want > 0", res.Stack, k, v, ok)
		}
	}
	for _, k := range present {
		if v, ok := f[k]; !ok || !(v >= 0) {
			t.Errorf("%s: %s = %v (present: %t), want ≥ 0", res.Stack, k, v, ok)
		}
	}
	if !(f[figP50] <= f[figP95] && f[figP95] <= f[figP99]) {
		t.Errorf("%s: percentiles out of order: %v %v %v", res.Stack, f[figP50], f[figP95], f[figP99])
	}
	if f[figAnswerP50] > f[figAnswerP99] {
		t.Errorf("%s: answer p50 %v above p99 %v", res.Stack, f[figAnswerP50], f[figAnswerP99])
	}
	if f[figPeakRSS] < f[figIdleRSS] {
		t.Errorf("%s: peak RSS %v below idle RSS %v", res.Stack, f[figPeakRSS], f[figIdleRSS])
	}
	// Paced, nothing can deliver faster than events are sent.
	if rate > 0 && f[figPerSec] > rate*1.1 {
		t.Errorf("%s: %v deliveries/s paced at %v events/s", res.Stack, f[figPerSec], rate)
	}
}

func TestParseFlags(t *testing.T) {
	t.Setenv("SLUICE_TEST_REDIS_URL", "")
	t.Setenv("SLUICE_TEST_DATABASE_URL", "")
	s, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s.N != 5000 || s.Clients != 16 || !slices.Equal(s.Rates, []float64{0, 2500}) || s.Batch != 1 || s.Runs != 3 ||
		strings.Join(s.Stacks, ",") != "postgres+redis,embedded" || s.RedisURL != "redis://127.0.0.1:6379/14" ||
		s.PgURL != "postgres://postgres@127.0.0.1:5432/test?sslmode=disable" {
		t.Errorf("defaults: %+v", s)
	}
	for _, args := range [][]string{
		{"-stacks", "mysql"}, {"-stacks", "embedded,embedded"}, {"-stacks", ""},
		{"-batch", "0"}, {"-batch", "1001"}, {"-n", "0"}, {"-rate", "-1"}, {"-rate", "0,-5"}, {"-rate", "fast"},
		{"-rate", "NaN"}, {"-rate", "500,500"}, {"-rate", ","}, {"extra"},
	} {
		if _, err := parseFlags(args, io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
	if s, err := parseFlags([]string{"-rate", " 500, 0,"}, io.Discard); err != nil || !slices.Equal(s.Rates, []float64{500, 0}) {
		t.Errorf("-rate ' 500, 0,': %v, %v; want [500 0] in that order", s.Rates, err)
	}
}

func TestBenchRedisURL(t *testing.T) {
	for in, want := range map[string]string{
		"redis://127.0.0.1:6379":                     "redis://127.0.0.1:6379/14",
		"redis://127.0.0.1:6379/":                    "redis://127.0.0.1:6379/14",
		"redis://127.0.0.1:6379/3":                   "redis://127.0.0.1:6379/3",
		"redis://:pw@127.0.0.1:6379?dial_timeout=3s": "redis://:pw@127.0.0.1:6379/14?dial_timeout=3s",
		"rediss://example.org:6380/":                 "rediss://example.org:6380/14",
		"redis://127.0.0.1:6379/notanumber":          "",
	} {
		got, err := benchRedisURL(in)
		if (err != nil) != (want == "") || got != want && want != "" {
			t.Errorf("benchRedisURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestWALBetween: the WAL between two marks is read off the WAL itself,
// exactly and at once: 1,000 rows inserted one statement after another
// are 1,000 heap records and a commit each, whatever PostgreSQL's
// statistics have reported by then. The benchmark removes pg_walinspect
// when it installed it.
func TestWALBetween(t *testing.T) {
	requireServices(t)
	ctx := context.Background()
	s, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := connect(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if svc.dropWal {
		// After svc has closed (the deferred calls below), which removes
		// what it installed.
		t.Cleanup(func() {
			db := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(s.PgURL)))
			defer db.Close()
			var left int
			if err := db.QueryRowContext(ctx, "SELECT count(*) FROM pg_extension WHERE extname = 'pg_walinspect'").Scan(&left); err != nil || left != 0 {
				t.Errorf("pg_walinspect left installed: %d, %v", left, err)
			}
		})
	}
	defer svc.close()
	if svc.walinspect == "" {
		t.Skip("pg_walinspect is not available (PostgreSQL 15 and later, installed by a superuser)")
	}
	schema := fmt.Sprintf("wal_test_%d", time.Now().UnixNano())
	if _, err := svc.pg.ExecContext(ctx, "CREATE SCHEMA "+schema+"; CREATE TABLE "+schema+".t (x int)"); err != nil {
		t.Fatal(err)
	}
	defer func() { // before svc.close, deferred earlier, closes the pool
		if _, err := svc.pg.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop the test's schema %s: %v", schema, err)
		}
	}()
	from := svc.walMark(ctx)
	for i := range 1000 {
		if _, err := svc.pg.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s.t VALUES (%d)", schema, i)); err != nil {
			t.Fatal(err)
		}
	}
	to := svc.walMark(ctx)
	records, bytes, ok := svc.walBetween(ctx, from, to)
	// Other tests may write on the server meanwhile (CI runs packages in
	// parallel): the whole server's WAL holds at least ours.
	if !ok || records < 2000 || bytes < 2000*30 {
		t.Errorf("WAL of 1,000 one-row transactions: %v records, %v bytes, ok %v; want at least 2,000 records (a row and a commit each)", records, bytes, ok)
	}
	// Read off the WAL, not the lagging statistics.
	var direct float64
	if err := svc.pg.QueryRowContext(ctx, "SELECT coalesce(sum(count), 0)::float8 FROM "+svc.walinspect+".pg_get_wal_stats($1::pg_lsn, $2::pg_lsn)",
		from.lsn, to.lsn).Scan(&direct); err != nil || direct != records {
		t.Errorf("walBetween read %v records, pg_get_wal_stats %v (%v): not read off the WAL", records, direct, err)
	}
	// Ours exactly: the heap inserts into the test's table between the marks.
	var ours int
	q := `SELECT count(*) FROM ` + svc.walinspect + `.pg_get_wal_records_info($1::pg_lsn, $2::pg_lsn)
		WHERE resource_manager = 'Heap' AND record_type LIKE 'INSERT%'
		AND block_ref LIKE '%/' || pg_relation_filenode($3::regclass)::text || ' %'`
	if err := svc.pg.QueryRowContext(ctx, q, from.lsn, to.lsn, schema+".t").Scan(&ours); err != nil || ours != 1000 {
		t.Errorf("the table's inserts in the WAL between the marks: %d, %v; want 1,000", ours, err)
	}
}
