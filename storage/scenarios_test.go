package storage_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/storage"
	"github.com/sluicehq/sluice/storage/storagetest"
)

func TestScenarios(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		a := f.scenario("scn_a")
		b := &engine.Scenario{ID: "scn_b", Name: "B", Status: engine.StatusActive, AllowReentry: true, Version: 2,
			ActiveVersion: 2, CreatedAt: at(1), UpdatedAt: at(2)} // no secret
		if err := s.CreateScenario(ctx, b, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateScenario(ctx, a, nil); !errors.Is(err, engine.ErrConflict) {
			t.Errorf("CreateScenario twice: %v, want ErrConflict", err)
		}
		got, err := s.GetScenario(ctx, "scn_a")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(a, got); diff != "" {
			t.Errorf("GetScenario (-want +got):\n%s", diff)
		}
		if _, err := s.GetScenario(ctx, "scn_missing"); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("GetScenario(missing): %v, want ErrNotFound", err)
		}
		all, err := s.ListScenarios(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]engine.Scenario{*b, *a}, all); diff != "" {
			t.Errorf("ListScenarios (-want +got):\n%s", diff)
		}
		active, err := s.ActiveScenarios(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]engine.Scenario{*b}, active); diff != "" {
			t.Errorf("ActiveScenarios (-want +got):\n%s", diff)
		}

		upd := *a
		upd.Name, upd.Status, upd.AllowReentry, upd.Version, upd.ActiveVersion = "A2", engine.StatusPaused, true, 3, 2
		upd.SigningSecret, upd.UpdatedAt = "whsec_bmV3LXNlY3JldC1uZXctc2VjcmV0LW5ldw", at(60)
		upd.CreatedAt = at(99) // not written
		if err := s.UpdateScenario(ctx, &upd); err != nil {
			t.Fatal(err)
		}
		got, err = s.GetScenario(ctx, "scn_a")
		if err != nil {
			t.Fatal(err)
		}
		upd.CreatedAt = a.CreatedAt
		if diff := cmp.Diff(&upd, got); diff != "" {
			t.Errorf("after UpdateScenario (-want +got):\n%s", diff)
		}
		if err := s.UpdateScenario(ctx, &engine.Scenario{ID: "scn_missing"}); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("UpdateScenario(missing): %v, want ErrNotFound", err)
		}
	})
}

func TestSigningSecretSealed(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		sc := f.scenario("scn_a")
		var raw string
		if err := s.DB().NewRaw("SELECT signing_secret FROM scenarios WHERE id = ?", sc.ID).Scan(f.ctx, &raw); err != nil {
			t.Fatal(err)
		}
		if raw == sc.SigningSecret || strings.Contains(raw, "whsec_") || !strings.HasPrefix(raw, "enc:v1:") {
			t.Errorf("stored signing_secret = %q, want it sealed", raw)
		}
		got, err := s.GetScenario(f.ctx, sc.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.SigningSecret != sc.SigningSecret {
			t.Errorf("opened secret = %q, want %q", got.SigningSecret, sc.SigningSecret)
		}
	})
}

func TestVersions(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		f.scenario("scn_a")
		v1, err := s.GetVersion(ctx, "scn_a", 1)
		if err != nil {
			t.Fatal(err)
		}
		want1 := &engine.Version{ScenarioID: "scn_a", Number: 1, Graph: testGraph(), CreatedAt: t0}
		if diff := cmp.Diff(want1, v1); diff != "" {
			t.Errorf("GetVersion (-want +got):\n%s", diff)
		}
		v2 := &engine.Version{ScenarioID: "scn_a", Number: 2, Graph: engine.Graph{Nodes: []engine.Node{{ID: "n", Type: "end"}}}, CreatedAt: at(10)}
		if err := s.InsertVersion(ctx, v2); err != nil {
			t.Fatal(err)
		}
		if err := s.InsertVersion(ctx, v2); !errors.Is(err, engine.ErrConflict) {
			t.Errorf("InsertVersion twice: %v, want ErrConflict", err)
		}
		if err := s.InsertVersion(ctx, &engine.Version{ScenarioID: "scn_missing", Number: 1, CreatedAt: t0}); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("InsertVersion of a missing scenario: %v, want ErrNotFound", err)
		}
		if err := s.MarkVersionActivated(ctx, "scn_a", 2, at(20)); err != nil {
			t.Fatal(err)
		}
		v2.ActivatedAt = ptr(at(20))
		list, err := s.ListVersions(ctx, "scn_a")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]engine.Version{*v2, *want1}, list); diff != "" {
			t.Errorf("ListVersions (-want +got):\n%s", diff)
		}
		for _, tc := range []struct {
			scenario string
			number   int
		}{{"scn_a", 3}, {"scn_missing", 1}} {
			if _, err := s.GetVersion(ctx, tc.scenario, tc.number); !errors.Is(err, engine.ErrNotFound) {
				t.Errorf("GetVersion(%s, %d): %v, want ErrNotFound", tc.scenario, tc.number, err)
			}
			if err := s.MarkVersionActivated(ctx, tc.scenario, tc.number, t0); !errors.Is(err, engine.ErrNotFound) {
				t.Errorf("MarkVersionActivated(%s, %d): %v, want ErrNotFound", tc.scenario, tc.number, err)
			}
		}
		if list, err := s.ListVersions(ctx, "scn_missing"); err != nil || len(list) != 0 {
			t.Errorf("ListVersions(missing) = %v, %v; want none", list, err)
		}
	})
}

func TestDeleteScenario(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		f.scenario("scn_a")
		f.scenario("scn_keep")
		for _, id := range []string{"scn_a", "scn_keep"} {
			r := f.run("run_"+id, id, "con_1")
			if _, err := s.InsertSteps(ctx, []*engine.Step{step("stp_"+id, r, "hook", t0)}); err != nil {
				t.Fatal(err)
			}
			d := f.delivery(delivery("dlv_"+id, id, "hook", t0))
			if err := s.InsertAttempt(ctx, &engine.Attempt{ID: "att_" + id, DeliveryID: d.ID, Number: 1, At: t0, URL: d.URL, Method: "POST"}); err != nil {
				t.Fatal(err)
			}
			if err := s.BumpStats(ctx, []engine.StatDelta{{ScenarioID: id, Version: 1, NodeID: "hook", Hour: t0, Reached: 1}}); err != nil {
				t.Fatal(err)
			}
		}
		sub := &engine.Delivery{ID: "dlv_sub", MessageID: "m", Kind: engine.KindSubscription, SubscriptionID: "sub_1",
			URL: "https://example.org", Method: "POST", Status: engine.DeliveryPending, CreatedAt: t0}
		f.delivery(sub)

		if err := s.DeleteScenario(ctx, "scn_a"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteScenario(ctx, "scn_a"); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("DeleteScenario twice: %v, want ErrNotFound", err)
		}
		count := func(table, scenario string) int {
			t.Helper()
			var n int
			q := "SELECT COUNT(*) FROM " + table + " WHERE scenario_id = ?"
			if table == "attempts" {
				q = "SELECT COUNT(*) FROM attempts WHERE delivery_id = 'dlv_' || ?"
			}
			if err := s.DB().NewRaw(q, scenario).Scan(ctx, &n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		for _, table := range []string{"scenario_versions", "runs", "steps", "deliveries", "attempts", "step_stats", "step_stats_hourly"} {
			if n := count(table, "scn_a"); n != 0 {
				t.Errorf("%s keeps %d rows of the deleted scenario", table, n)
			}
			if n := count(table, "scn_keep"); n != 1 {
				t.Errorf("%s has %d rows of the other scenario, want 1", table, n)
			}
		}
		if _, err := s.GetDelivery(ctx, "dlv_sub"); err != nil {
			t.Errorf("subscription delivery: %v", err)
		}
	})
}
