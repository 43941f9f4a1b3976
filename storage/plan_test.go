package storage_test

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/uptrace/bun"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/storage/storagetest"
)

// statements records the SQL a store sends.
type statements struct {
	mu  sync.Mutex
	sql []string
}

func (s *statements) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }

func (s *statements) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sql = append(s.sql, e.Query)
}

// find returns the last statement that starts with prefix.
func (s *statements) find(t *testing.T, prefix string) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.sql) - 1; i >= 0; i-- {
		if strings.HasPrefix(s.sql[i], prefix) {
			return s.sql[i]
		}
	}
	t.Fatalf("no statement starting with %q among %d", prefix, len(s.sql))
	return ""
}

// TestPendingLookupsByID: finishing steps and updating a delivery find
// their rows by primary key, not by reading the partial index of pending
// work, even when the statistics say almost nothing is pending and in
// truth 20,000 rows are (a burst after a quiet spell). Each statement the
// store sent is explained on PostgreSQL.
func TestPendingLookupsByID(t *testing.T) {
	t.Parallel()
	s := storagetest.OpenPostgres(t)
	f := newFixture(t, s)
	ctx := f.ctx
	f.scenario("scn_p")
	f.run("run_p", "scn_p", "con_p")
	d := f.delivery(&engine.Delivery{ID: "dlv_p", MessageID: "msg_p", Kind: engine.KindStep, ScenarioID: "scn_p",
		URL: "https://example.org/", Method: "POST", Status: engine.DeliveryPending, CreatedAt: t0})
	db := s.DB()
	fill := func(status string, from, to int) {
		t.Helper()
		if _, err := db.ExecContext(ctx, `INSERT INTO steps (id, run_id, scenario_id, version, node_id, contact_id, event_id, status, due_at, error, created_at)
SELECT 'stp_' || i, 'run_p', 'scn_p', 1, 'n' || i, 'con_p', 'evt_p', ?, ?, '', ? FROM generate_series(?::int, ?::int) i`,
			status, t0, t0, from, to); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO deliveries (id, message_id, kind, scenario_id, url, method, status, created_at, next_attempt_at)
SELECT 'dlv_' || i, 'msg_' || i, 'step', 'scn_p', 'https://example.org/', 'POST', ?, ?, ? FROM generate_series(?::int, ?::int) i`,
			status, t0, t0, from, to); err != nil {
			t.Fatal(err)
		}
	}
	fill("done", 1, 300)
	if _, err := db.ExecContext(ctx, "ANALYZE steps; ANALYZE deliveries"); err != nil {
		t.Fatal(err)
	}
	fill("pending", 301, 20300)

	var sent statements
	db.AddQueryHook(&sent)
	if _, _, err := s.FinishSteps(ctx, []string{"stp_400", "stp_500", "stp_600"}, at(1), []string{"run_p"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishStep(ctx, "stp_700", engine.StepFailed, "boom", at(1)); err != nil {
		t.Fatal(err)
	}
	d.Attempts, d.LastError = 1, "timeout"
	if _, err := s.UpdateDelivery(ctx, d, 0); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ prefix, pkey, partial string }{
		{"WITH finished AS", "steps_pkey", "steps_due"},
		{"UPDATE steps SET status", "steps_pkey", "steps_due"},
		{"UPDATE deliveries", "deliveries_pkey", "deliveries_due"},
	} {
		q := sent.find(t, c.prefix)
		var plan []string
		if err := db.NewRaw("EXPLAIN "+q).Scan(ctx, &plan); err != nil {
			t.Fatal(err)
		}
		text := strings.Join(plan, "\n")
		if !strings.Contains(text, c.pkey) || strings.Contains(text, c.partial) {
			t.Errorf("%s… is planned without %s or with %s:\n%s", c.prefix, c.pkey, c.partial, text)
		}
	}
}

var _ bun.QueryHook = (*statements)(nil)

// TestRebuildStatsByRuns: rebuilding one version's statistics reads that
// scenario's steps through its runs (runs_entry, then steps_run_node),
// not the whole steps table, now that no index leads with a step's
// scenario. 200 scenarios of 50 runs of 2 steps each.
func TestRebuildStatsByRuns(t *testing.T) {
	t.Parallel()
	s := storagetest.OpenPostgres(t)
	f := newFixture(t, s)
	ctx := f.ctx
	for i := range 200 {
		f.scenario(fmt.Sprintf("scn_%d", i))
	}
	db := s.DB()
	if _, err := db.ExecContext(ctx, `INSERT INTO runs (id, scenario_id, version, contact_id, status, created_at)
SELECT 'run_' || i, 'scn_' || (i % 200), 1, 'con_' || i, 'completed', ? FROM generate_series(1, 10000) i`, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO steps (id, run_id, scenario_id, version, node_id, status, due_at, created_at)
SELECT 'stp_' || i || '_' || n, 'run_' || i, 'scn_' || (i % 200), 1, n, 'done', ?, ? FROM generate_series(1, 10000) i, unnest(ARRAY['trigger', 'hook']) n`,
		t0, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "ANALYZE runs; ANALYZE steps"); err != nil {
		t.Fatal(err)
	}
	var sent statements
	db.AddQueryHook(&sent)
	if err := s.RebuildStats(ctx, "scn_7", 1); err != nil {
		t.Fatal(err)
	}
	var plan []string
	if err := db.NewRaw("EXPLAIN "+sent.find(t, "INSERT INTO step_stats")).Scan(ctx, &plan); err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	if !strings.Contains(text, "steps_run_node") || strings.Contains(text, "Seq Scan on steps") {
		t.Errorf("the rebuild reads steps without steps_run_node, or all of them:\n%s", text)
	}
	stats, err := s.GetStats(ctx, "scn_7", 1)
	if err != nil {
		t.Fatal(err)
	}
	reached := map[string]int64{}
	for _, st := range stats {
		reached[st.NodeID] = st.Reached
	}
	if want := map[string]int64{"trigger": 50, "hook": 50}; !maps.Equal(reached, want) {
		t.Errorf("reached after the rebuild: %v, want %v", reached, want)
	}
}
