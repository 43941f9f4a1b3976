package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/storage"
	"github.com/sluicehq/sluice/storage/storagetest"
)

// An api process whose cache of active scenarios is stale tries to start
// a run of a scenario another process has just archived and deleted. On
// PostgreSQL runs do not reference their scenario (migration 009), yet no
// run may outlive it: it would stay pending and be swept for good. The
// counters the run's start bumps do reference the scenario, so the store
// refuses the transaction (as the runs' own foreign key does on SQLite),
// and the ingest tries again with the active scenarios reloaded: the
// event is taken, and starts no run.
func TestNoRunOfDeletedScenario(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		h := newHook(t)
		api, _ := newEngine(t, st, nil, func(c *engine.Config) { c.ActiveCacheTTL = time.Hour })
		admin, _ := newEngine(t, st, nil)
		s, err := admin.CreateScenario(ctx, engine.ScenarioInput{Name: "S", Graph: engine.Graph{
			Nodes: []engine.Node{node("t1", "signup", `{}`), hookNode("w1", h.URL)},
			Edges: []engine.Edge{{From: "t1", To: "w1"}}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Activate(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		// The api process now holds the scenario as active.
		if _, err := api.Ingest(ctx, []engine.EventInput{{Type: "signup", Email: "a@example.org"}}); err != nil {
			t.Fatal(err)
		}
		if n := rowsOf(t, st, "runs", s.ID); n != 1 {
			t.Fatalf("%d runs before the delete, want 1", n)
		}
		if _, err := admin.Archive(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		if err := admin.DeleteScenario(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		res, err := api.Ingest(ctx, []engine.EventInput{{Type: "signup", Email: "b@example.org"}})
		if err != nil || res[0].Err != nil || res[0].EventID == "" {
			t.Errorf("ingest from the stale cache: %v %+v, want the event taken", err, res)
		}
		for _, table := range []string{"runs", "steps", "deliveries"} {
			if n := rowsOf(t, st, table, s.ID); n != 0 {
				t.Errorf("%s: %d rows of the deleted scenario", table, n)
			}
		}
		if due, err := st.DueSteps(ctx, time.Now().Add(time.Hour), 10); err != nil || len(due) != 0 {
			t.Errorf("due steps: %v %v, want none", due, err)
		}
	})
}

// rowsOf counts a table's rows of a scenario.
func rowsOf(t *testing.T, st *storage.Store, table, scenarioID string) int {
	t.Helper()
	var n int
	if err := st.DB().NewRaw("SELECT COUNT(*) FROM "+table+" WHERE scenario_id = ?", scenarioID).Scan(context.Background(), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Deleting an archived scenario while its steps finish leaves nothing of
// it behind: no run, step, delivery or attempt, even on PostgreSQL where
// these rows have no foreign key up to the scenario (DeleteScenario
// deletes them after the scenario, whose counters every step's commit
// bumps: a commit either lands before the delete sees the rows, or is
// refused).
func TestDeleteScenarioWhileStepsFinish(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		h := newHook(t)
		e, _ := newEngine(t, st, nil)
		s, err := e.CreateScenario(ctx, engine.ScenarioInput{Name: "S", Graph: engine.Graph{
			Nodes: []engine.Node{node("t1", "signup", `{}`), hookNode("w1", h.URL), node("w2", "wait", `{"duration":"1h"}`)},
			Edges: []engine.Edge{{From: "t1", To: "w1"}, {From: "w1", To: "w2"}}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Activate(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		const n = 300
		in := make([]engine.EventInput, n)
		for i := range in {
			in[i] = engine.EventInput{Type: "signup", Email: fmt.Sprintf("d%d@example.org", i)}
		}
		if _, err := e.Ingest(ctx, in); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Archive(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		due, err := st.DueSteps(ctx, time.Now().Add(time.Hour), n)
		if err != nil || len(due) != n {
			t.Fatalf("due steps: %d %v", len(due), err)
		}
		var wg sync.WaitGroup
		for i := range due {
			wg.Go(func() { _ = e.RunStep(ctx, due[i].ID) }) // the delete refuses some commits
		}
		waitFor(t, "the first webhooks", func() bool { return h.n.Load() >= n/4 })
		if err := e.DeleteScenario(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		for _, table := range []string{"runs", "steps", "deliveries"} {
			if n := rowsOf(t, st, table, s.ID); n != 0 {
				t.Errorf("%s: %d rows of the deleted scenario", table, n)
			}
		}
		for _, q := range []string{
			"SELECT COUNT(*) FROM steps WHERE run_id NOT IN (SELECT id FROM runs)",
			"SELECT COUNT(*) FROM attempts WHERE delivery_id NOT IN (SELECT id FROM deliveries)",
		} {
			var orphans int
			if err := st.DB().NewRaw(q).Scan(ctx, &orphans); err != nil || orphans != 0 {
				t.Errorf("%s: %d, %v", q, orphans, err)
			}
		}
	})
}

// A scenario that subscribes contacts to a list that does not exist
// subscribes no one: its step's commit is refused (the task fails and is
// retried, as for any refused commit). The engine checks the list: a store
// need not (PostgreSQL has no foreign key from a subscription to its list,
// migration 009).
func TestSubscribeToMissingList(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		e, _ := newEngine(t, st, nil)
		sc, err := e.CreateScenario(ctx, engine.ScenarioInput{Name: "S", Graph: engine.Graph{
			Nodes: []engine.Node{node("t1", "signup", `{}`), node("s1", "subscribe_to_list", `{"list_id":"lst_missing"}`)},
			Edges: []engine.Edge{{From: "t1", To: "s1"}}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Activate(ctx, sc.ID); err != nil {
			t.Fatal(err)
		}
		res, err := e.Ingest(ctx, []engine.EventInput{{Type: "signup", Email: "m@example.org"}})
		if err != nil || res[0].Err != nil {
			t.Fatalf("ingest: %v %+v", err, res)
		}
		due, err := st.DueSteps(ctx, time.Now().Add(time.Hour), 10)
		if err != nil || len(due) != 1 {
			t.Fatalf("due steps: %v %v", due, err)
		}
		if err := e.RunStep(ctx, due[0].ID); !errors.Is(err, engine.ErrNotFound) || !strings.Contains(err.Error(), "lst_missing") {
			t.Errorf("RunStep: %v, want the list not found", err)
		}
		if lists, err := st.ContactLists(ctx, res[0].ContactID); err != nil || len(lists) != 0 {
			t.Errorf("lists of the contact: %v %v, want none", lists, err)
		}
		if due, err := st.DueSteps(ctx, time.Now().Add(time.Hour), 10); err != nil || len(due) != 1 {
			t.Errorf("due steps after the refused commit: %v %v, want the step still pending", due, err)
		}
	})
}
