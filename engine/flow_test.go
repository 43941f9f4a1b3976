package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/storage"
	"github.com/sluicehq/sluice/storage/storagetest"
)

func hookNode(id, url string) engine.Node {
	return node(id, "send_webhook", `{"url":"`+url+`","fields":["email"]}`)
}

// checkRebuild recomputes a version's counters from the rows (the
// reconciliation query) and checks they equal the incremental ones.
func (b *bundle) checkRebuild(t *testing.T, scenarioID string, version int) {
	t.Helper()
	ctx := context.Background()
	before, err := b.st.GetStats(ctx, scenarioID, version)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.st.RebuildStats(ctx, scenarioID, version); err != nil {
		t.Fatal(err)
	}
	after, err := b.st.GetStats(ctx, scenarioID, version)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("rebuilt counters differ from the incremental ones (-incremental +rebuilt):\n%s", diff)
	}
}

func (b *bundle) delivery(t *testing.T, scenarioID, nodeID string) engine.DeliveryView {
	t.Helper()
	ds, _, err := b.e.Deliveries(context.Background(), engine.DeliveryFilter{ScenarioID: scenarioID, NodeID: nodeID})
	if err != nil || len(ds) != 1 {
		t.Fatalf("deliveries of %s: %d, %v", nodeID, len(ds), err)
	}
	return ds[0]
}

// TestConditionGroupsAndChaining: a condition routes yes/no, add_to_group
// records group_added which starts a second scenario, update_field changes
// the contact, end stops the run.
func TestConditionGroupsAndChaining(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		b := setup(t, st)
		pro, free, vip := newHook(t), newHook(t), newHook(t)
		first := b.activate(t, engine.Graph{
			Nodes: []engine.Node{node("t1", "signup", `{}`), node("c1", "condition", `{"expression":"contact.c3 == \"pro\""}`),
				node("g1", "add_to_group", `{"group":"vip"}`), node("u1", "update_field", `{"field":"c4","value":"{{ contact.firstname + '!' }}"}`),
				hookNode("w1", pro.URL), hookNode("w2", free.URL), node("e1", "end", `{}`)},
			Edges: []engine.Edge{{From: "t1", To: "c1"}, {From: "c1", To: "g1", Label: "yes"}, {From: "c1", To: "w2", Label: "no"},
				{From: "g1", To: "u1"}, {From: "u1", To: "w1"}, {From: "w2", To: "e1"}},
		}, false)
		second := b.activate(t, engine.Graph{
			Nodes: []engine.Node{node("t1", "group_added", `{"group":"vip"}`), hookNode("w1", vip.URL)},
			Edges: []engine.Edge{{From: "t1", To: "w1"}},
		}, false)
		b.ingest(t,
			engine.EventInput{Type: "signup", Email: "p@example.org", Contact: &engine.ContactInput{Firstname: ptr("Pat"), Fields: map[string]any{"c3": "pro"}}},
			engine.EventInput{Type: "signup", Email: "f@example.org", Contact: &engine.ContactInput{Fields: map[string]any{"c3": "free"}}})
		waitFor(t, "three webhooks", func() bool { return pro.n.Load() == 1 && free.n.Load() == 1 && vip.n.Load() == 1 })
		waitFor(t, "counters", func() bool {
			return b.stats(t, second.ID)["w1"].Accepted == 1 && b.stats(t, first.ID)["w1"].Accepted == 1
		})

		got := b.stats(t, first.ID)
		for id, want := range map[string]int64{"t1": 2, "c1": 2, "g1": 1, "u1": 1, "w1": 1, "w2": 1} {
			if got[id].Reached != want {
				t.Errorf("%s reached %d, want %d", id, got[id].Reached, want)
			}
		}
		c, err := b.e.FindContact(context.Background(), "p@example.org")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"vip"}, c.Groups); diff != "" || c.Fields["c4"] != "Pat!" {
			t.Errorf("contact after the run: groups %v, c4 %v", c.Groups, c.Fields["c4"])
		}
		b.checkRebuild(t, first.ID, 1)
		b.checkRebuild(t, second.ID, 1)
	})
}

// TestNewContactJoiningGroups: a contact created already in a group (by an
// event or through the contacts API) has joined it: group_added fires.
func TestNewContactJoiningGroups(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		b := setup(t, st)
		h := newHook(t)
		sc := b.activate(t, engine.Graph{
			Nodes: []engine.Node{node("t1", "group_added", `{"group":"vip"}`), hookNode("w1", h.URL)},
			Edges: []engine.Edge{{From: "t1", To: "w1"}},
		}, false)
		b.ingest(t, engine.EventInput{Type: "signup", Email: "g1@example.org", Contact: &engine.ContactInput{Groups: []string{"vip"}}},
			engine.EventInput{Type: "signup", Email: "g2@example.org", Contact: &engine.ContactInput{Groups: []string{"other"}}})
		if _, err := b.e.CreateContact(context.Background(), engine.ContactInput{Email: "g3@example.org", Groups: []string{"vip"}}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "two group_added runs", func() bool { return b.stats(t, sc.ID)["w1"].Accepted == 2 })
		if s := b.stats(t, sc.ID)["t1"]; s.Reached != 2 {
			t.Errorf("trigger reached %d, want 2 (g1 and g3 joined vip; g2 joined another group)", s.Reached)
		}
	})
}

// TestWaitUsesTheClock: a wait step delays the next one until the injected
// clock passes; nothing is sent before.
func TestWaitUsesTheClock(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		b := setup(t, st)
		h := newHook(t)
		sc := b.activate(t, engine.Graph{
			Nodes: []engine.Node{node("t1", "signup", `{}`), node("d1", "wait", `{"duration":"1h30m"}`), hookNode("w1", h.URL)},
			Edges: []engine.Edge{{From: "t1", To: "d1"}, {From: "d1", To: "w1"}},
		}, false)
		b.ingest(t, engine.EventInput{Type: "signup", Email: "w@example.org"})
		waitFor(t, "the wait step", func() bool { return b.stats(t, sc.ID)["w1"].Reached == 1 })
		due, err := st.DueSteps(context.Background(), b.clock.Now().Add(89*time.Minute), 10)
		if err != nil || len(due) != 0 {
			t.Fatalf("due before 1h30m: %v %v", due, err)
		}
		b.clock.Add(90 * time.Minute)
		due, err = st.DueSteps(context.Background(), b.clock.Now(), 10)
		if err != nil || len(due) != 1 || due[0].NodeID != "w1" {
			t.Fatalf("due after 1h30m: %v %v", due, err)
		}
		if h.n.Load() != 0 {
			t.Fatal("sent before the wait was over")
		}
		if err := b.e.RunStep(context.Background(), due[0].ID); err != nil {
			t.Fatal(err)
		}
		if h.n.Load() != 1 || b.stats(t, sc.ID)["w1"].Accepted != 1 {
			t.Errorf("after the wait: %d requests, stats %+v", h.n.Load(), b.stats(t, sc.ID)["w1"])
		}
		// Running the same step again changes nothing (idempotent handler).
		if err := b.e.RunStep(context.Background(), due[0].ID); err != nil || h.n.Load() != 1 {
			t.Errorf("re-run: %v, %d requests", err, h.n.Load())
		}
	})
}

// TestRetriesUntilAccepted: a 500 leaves the delivery pending with the
// next attempt about 30 s later; the retry that gets a 200 accepts it and
// moves the counters from pending to accepted.
func TestRetriesUntilAccepted(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		b := setup(t, st)
		h := newHook(t, 500, 503)
		sc := b.activate(t, engine.Graph{Nodes: []engine.Node{node("t1", "signup", `{}`), hookNode("w1", h.URL)},
			Edges: []engine.Edge{{From: "t1", To: "w1"}}}, false)
		b.ingest(t, engine.EventInput{Type: "signup", Email: "r@example.org"})
		waitFor(t, "the first attempt", func() bool { return b.stats(t, sc.ID)["w1"].Pending == 1 })
		d := b.delivery(t, sc.ID, "w1")
		delay := d.NextAttemptAt.Sub(*d.FirstAttemptAt)
		if d.Status != engine.DeliveryPending || delay < 24*time.Second || delay > 36*time.Second || !strings.Contains(d.LastError, "500") {
			t.Fatalf("after a 500: %+v (next in %s)", d.Delivery, delay)
		}
		for i := 0; i < 2; i++ {
			b.clock.Add(time.Hour)
			if err := b.e.AttemptDelivery(context.Background(), d.ID); err != nil {
				t.Fatal(err)
			}
		}
		d = b.delivery(t, sc.ID, "w1")
		if d.Status != engine.DeliveryAccepted || len(d.AttemptLog) != 3 {
			t.Fatalf("after 500, 503, 200: %+v", d)
		}
		ids := map[string]bool{}
		for _, hd := range h.heads {
			ids[hd.Get("webhook-id")] = true
		}
		if len(ids) != 1 {
			t.Errorf("retries changed the webhook-id: %v", ids)
		}
		want := engine.StepStats{NodeID: "w1", Type: "send_webhook", Reached: 1, Accepted: 1, Attempts: 3}
		if diff := cmp.Diff(want, b.stats(t, sc.ID)["w1"]); diff != "" {
			t.Errorf("stats (-want +got):\n%s", diff)
		}
		// A further attempt of an accepted delivery does nothing.
		if err := b.e.AttemptDelivery(context.Background(), d.ID); err != nil || h.n.Load() != 3 {
			t.Errorf("attempt after acceptance: %v, %d requests", err, h.n.Load())
		}
		b.checkRebuild(t, sc.ID, 1)
	})
}

// TestRetryOutcomes: 410 fails at once, Retry-After is honoured, a 3xx is
// not accepted, and the 12-hour window closes with failed.
func TestRetryOutcomes(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		cases := []struct {
			name  string
			codes []int
			check func(t *testing.T, b *bundle, sc *engine.ScenarioView, d engine.DeliveryView)
		}{
			{"410 fails at once", []int{410}, func(t *testing.T, b *bundle, sc *engine.ScenarioView, d engine.DeliveryView) {
				if d.Status != engine.DeliveryFailed || d.NextAttemptAt != nil {
					t.Errorf("after 410: %+v", d.Delivery)
				}
				if s := b.stats(t, sc.ID)["w1"]; s.Failed != 1 || s.Pending != 0 {
					t.Errorf("stats: %+v", s)
				}
			}},
			{"Retry-After honoured", []int{429}, func(t *testing.T, b *bundle, sc *engine.ScenarioView, d engine.DeliveryView) {
				if d.Status != engine.DeliveryPending || d.NextAttemptAt.Sub(*d.FirstAttemptAt) < 2*time.Hour {
					t.Errorf("after 429 Retry-After 7200: %+v", d.Delivery)
				}
			}},
			{"3xx is not accepted", []int{302}, func(t *testing.T, b *bundle, sc *engine.ScenarioView, d engine.DeliveryView) {
				if d.Status != engine.DeliveryPending {
					t.Errorf("after 302: %+v", d.Delivery)
				}
			}},
			{"window closes", []int{500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500},
				func(t *testing.T, b *bundle, sc *engine.ScenarioView, d engine.DeliveryView) {
					for i := 0; i < 30 && d.Status == engine.DeliveryPending; i++ {
						b.clock.Add(d.NextAttemptAt.Sub(b.clock.Now()))
						if err := b.e.AttemptDelivery(context.Background(), d.ID); err != nil {
							t.Fatal(err)
						}
						d = b.delivery(t, sc.ID, "w1")
					}
					last := d.AttemptLog[len(d.AttemptLog)-1].At
					if d.Status != engine.DeliveryFailed || last.Sub(*d.FirstAttemptAt) > 12*time.Hour+time.Second ||
						last.Sub(*d.FirstAttemptAt) < 11*time.Hour || len(d.AttemptLog) < 10 {
						t.Errorf("after 12 h of 500s: %s with %d attempts, last %s after the first", d.Status, len(d.AttemptLog), last.Sub(*d.FirstAttemptAt))
					}
					if s := b.stats(t, sc.ID)["w1"]; s.Failed != 1 || s.Pending != 0 || s.Attempts != int64(len(d.AttemptLog)) {
						t.Errorf("stats: %+v", s)
					}
					b.checkRebuild(t, sc.ID, 1)
				}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				b := setup(t, st)
				h := newHook(t, tc.codes...)
				sc := b.activate(t, engine.Graph{Nodes: []engine.Node{node("t1", "signup", `{}`), hookNode("w1", h.URL)},
					Edges: []engine.Edge{{From: "t1", To: "w1"}}}, false)
				b.ingest(t, engine.EventInput{Type: "signup", Email: "o@example.org"})
				waitFor(t, "the first attempt", func() bool { return b.stats(t, sc.ID)["w1"].Attempts == 1 })
				tc.check(t, b, sc, b.delivery(t, sc.ID, "w1"))
			})
		}
	})
}

// TestVersionsAndReentry: runs keep the version they entered on; a contact
// enters once unless the scenario allows re-entry.
func TestVersionsAndReentry(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		b := setup(t, st)
		h1, h2 := newHook(t), newHook(t)
		ctx := context.Background()
		g := func(url string) engine.Graph {
			return engine.Graph{Nodes: []engine.Node{node("t1", "custom_event", `{"name":"ping"}`), hookNode("w1", url)},
				Edges: []engine.Edge{{From: "t1", To: "w1"}}}
		}
		sc := b.activate(t, g(h1.URL), true)
		b.ingest(t, engine.EventInput{Type: "ping", Email: "v@example.org"}, engine.EventInput{Type: "ping", Email: "v@example.org"})
		waitFor(t, "two entries", func() bool { return h1.n.Load() == 2 })
		if _, err := b.e.SaveScenario(ctx, sc.ID, engine.ScenarioInput{Name: "S", Graph: g(h2.URL), AllowReentry: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		b.ingest(t, engine.EventInput{Type: "ping", Email: "v2@example.org"})
		waitFor(t, "v1 still running", func() bool { return h1.n.Load() == 3 })
		if _, err := b.e.Activate(ctx, sc.ID); err != nil {
			t.Fatal(err)
		}
		b.ingest(t, engine.EventInput{Type: "ping", Email: "v3@example.org"}, engine.EventInput{Type: "ping", Email: "v3@example.org"})
		waitFor(t, "v2", func() bool { return h2.n.Load() == 1 })
		// The counters commit just after the receiver answers: wait on them.
		waitFor(t, "the counters", func() bool {
			v1, err1 := b.e.Stats(ctx, sc.ID, 1, false)
			v2, err2 := b.e.Stats(ctx, sc.ID, 2, false)
			return err1 == nil && err2 == nil && v1.Steps[1].Accepted == 3 && v2.Steps[1].Accepted == 1
		})
		v1, err := b.e.Stats(ctx, sc.ID, 1, false)
		if err != nil {
			t.Fatal(err)
		}
		v2, err := b.e.Stats(ctx, sc.ID, 0, false)
		if err != nil {
			t.Fatal(err)
		}
		if v1.Steps[1].Accepted != 3 || v2.Version != 2 || v2.Steps[0].Reached != 1 {
			t.Errorf("v1 %+v, v2 %+v", v1.Steps, v2.Steps)
		}
		list, err := b.e.ListScenarios(ctx)
		if err != nil || len(list) != 1 || list[0].Reached != 4 || list[0].LastActivity == nil {
			t.Errorf("the list counts every version's entries (3 on v1, 1 on v2): %+v %v", list, err)
		}
	})
}

// TestRunTimeFailureIsReadable: a placeholder that fails at run time fails
// the step with the reason, visible in the step's counters.
func TestRunTimeFailureIsReadable(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		b := setup(t, st)
		h := newHook(t)
		sc := b.activate(t, engine.Graph{Nodes: []engine.Node{node("t1", "signup", `{}`),
			node("w1", "send_webhook", `{"url":"`+h.URL+`","data":{"x":"{{ event.data.n / 0 + event.data.missing.deeper }}"}}`)},
			Edges: []engine.Edge{{From: "t1", To: "w1"}}}, false)
		b.ingest(t, engine.EventInput{Type: "signup", Email: "f@example.org", Data: map[string]any{"n": 1}})
		waitFor(t, "the failed step", func() bool { return b.stats(t, sc.ID)["w1"].Failed == 1 })
		if h.n.Load() != 0 {
			t.Error("a failed render still sent a request")
		}
	})
}
