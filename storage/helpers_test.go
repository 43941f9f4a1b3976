package storage_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/storage"
)

// t0 has sub-second precision, so that tests see it kept.
var t0 = time.Date(2026, 11, 23, 12, 56, 40, 123456000, time.UTC)

// at returns t0 plus sec seconds.
func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

func ptr[T any](v T) *T { return &v }

// fixture creates rows that the tests build on.
type fixture struct {
	t   *testing.T
	ctx context.Context
	s   *storage.Store
}

func newFixture(t *testing.T, s *storage.Store) *fixture {
	t.Helper()
	return &fixture{t: t, ctx: context.Background(), s: s}
}

func (f *fixture) contact(id, email string) *engine.Contact {
	f.t.Helper()
	c := &engine.Contact{ID: id, Email: email, CreatedAt: t0, UpdatedAt: t0}
	ok, err := f.s.InsertContact(f.ctx, c)
	if err != nil || !ok {
		f.t.Fatalf("insert contact %s: %v %v", id, ok, err)
	}
	return c
}

func (f *fixture) list(id string) *engine.List {
	f.t.Helper()
	l := &engine.List{ID: id, Name: "List " + id, CreatedAt: t0}
	if err := f.s.CreateList(f.ctx, l); err != nil {
		f.t.Fatal(err)
	}
	return l
}

func testGraph() engine.Graph {
	return engine.Graph{
		Nodes: []engine.Node{
			{ID: "trigger", Type: "signup", Config: json.RawMessage(`{"list":"l1"}`), Position: &engine.Position{X: 1, Y: 2}},
			{ID: "hook", Type: "send_webhook", Config: json.RawMessage(`{"url":"https://example.org/hook"}`)},
			{ID: "end", Type: "end"},
		},
		Edges: []engine.Edge{{From: "trigger", To: "hook"}, {From: "hook", To: "end"}},
	}
}

func (f *fixture) scenario(id string) *engine.Scenario {
	f.t.Helper()
	sc := &engine.Scenario{ID: id, Name: "Scenario " + id, Status: engine.StatusDraft, Version: 1,
		SigningSecret: "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0", CreatedAt: t0, UpdatedAt: t0}
	v := &engine.Version{ScenarioID: id, Number: 1, Graph: testGraph(), CreatedAt: t0}
	if err := f.s.CreateScenario(f.ctx, sc, v); err != nil {
		f.t.Fatal(err)
	}
	return sc
}

func (f *fixture) run(id, scenarioID, contactID string) *engine.Run {
	f.t.Helper()
	r := &engine.Run{ID: id, ScenarioID: scenarioID, Version: 1, ContactID: contactID, EventID: "evt_1",
		Status: engine.RunActive, CreatedAt: t0}
	ok, err := f.s.InsertRun(f.ctx, r)
	if err != nil || !ok {
		f.t.Fatalf("insert run %s: %v %v", id, ok, err)
	}
	return r
}

func step(id string, r *engine.Run, node string, due time.Time) *engine.Step {
	return &engine.Step{ID: id, RunID: r.ID, ScenarioID: r.ScenarioID, Version: r.Version, NodeID: node,
		ContactID: r.ContactID, EventID: r.EventID, Status: engine.StepPending, DueAt: due, CreatedAt: t0}
}

func delivery(id, scenarioID, node string, created time.Time) *engine.Delivery {
	return &engine.Delivery{ID: id, MessageID: "msg_" + id, Kind: engine.KindStep, ScenarioID: scenarioID, Version: 1,
		NodeID: node, RunID: "run_1", StepID: "stp_1", ContactID: "con_1", URL: "https://example.org/hook",
		Method: "POST", Headers: map[string]string{"X-Test": "1"}, Body: []byte(`{"id":"` + id + `"}`),
		Timeout: 10 * time.Second, Status: engine.DeliveryPending, CreatedAt: created, NextAttemptAt: ptr(created)}
}

// pendingStep creates a pending step of a new run of a new scenario.
func (f *fixture) pendingStep(id string) *engine.Step {
	f.t.Helper()
	f.scenario("scn_" + id)
	st := step(id, f.run("run_"+id, "scn_"+id, "con_"+id), "n1", t0)
	if _, err := f.s.InsertSteps(f.ctx, []*engine.Step{st}); err != nil {
		f.t.Fatal(err)
	}
	return st
}

func (f *fixture) delivery(d *engine.Delivery) *engine.Delivery {
	f.t.Helper()
	ok, err := f.s.InsertDelivery(f.ctx, d)
	if err != nil || !ok {
		f.t.Fatalf("insert delivery %s: %v %v", d.ID, ok, err)
	}
	return d
}

// ids returns the ids of xs.
func ids[T any](xs []T, id func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = id(x)
	}
	return out
}

func seq(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s_%03d", prefix, i)
	}
	return out
}

// checksReferences tells whether the store itself refuses a run or a
// delivery of a missing scenario, a step of a missing run and a
// subscription to a missing list or of a missing contact. SQLite does, by
// foreign key; PostgreSQL leaves it to the engine (migrations 009 and
// 010): there the row goes in.
func checksReferences(s *storage.Store) bool { return !s.Postgres() }

// wantMissingRef checks err, the error of writing a row that references
// a missing scenario, run, list or contact: ErrNotFound where the store checks
// references, none where it does not.
func wantMissingRef(t *testing.T, s *storage.Store, what string, err error) {
	t.Helper()
	if checksReferences(s) && !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("%s: %v, want ErrNotFound", what, err)
	}
	if !checksReferences(s) && err != nil {
		t.Errorf("%s: %v, want it written (references are the engine's to check)", what, err)
	}
}
