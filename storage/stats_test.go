package storage_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/storage"
	"github.com/sluicehq/sluice/storage/storagetest"
)

func TestBumpStats(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		f.scenario("scn_a")
		h1 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
		h2 := h1.Add(time.Hour)
		d := func(node string, hour time.Time, reached, accepted, pending, failed, attempts int64) engine.StatDelta {
			return engine.StatDelta{ScenarioID: "scn_a", Version: 1, NodeID: node, Hour: hour,
				Reached: reached, Accepted: accepted, Pending: pending, Failed: failed, Attempts: attempts}
		}
		batches := [][]engine.StatDelta{
			{d("trigger", h1.Add(5*time.Minute), 1, 0, 0, 0, 0), d("hook", h1.Add(5*time.Minute), 1, 0, 1, 0, 0)},
			// The same node twice in one batch, and a pending-only delta
			// without an hour.
			{d("hook", h1.Add(59*time.Minute+59*time.Second), 0, 0, 0, 0, 1), d("hook", h1.Add(59*time.Minute), 0, 0, 0, 0, 1),
				d("hook", time.Time{}, 0, 0, 1, 0, 0)},
			// Accepted in the next hour: pending -1.
			{d("hook", h2.Add(time.Second), 0, 1, -1, 0, 1)},
			{d("hook", h2.Add(30*time.Minute).In(time.FixedZone("X", 5*3600)), 0, 0, -1, 1, 1)},
			{d("trigger", h2, 1, 0, 0, 0, 0), d("other", h2, 0, 0, 0, 0, 0)}, // all-zero deltas write nothing
			{},
		}
		for i, b := range batches {
			if err := s.BumpStats(ctx, b); err != nil {
				t.Fatalf("batch %d: %v", i, err)
			}
		}
		if err := s.BumpStats(ctx, []engine.StatDelta{d("hook", time.Time{}, 1, 0, 0, 0, 0)}); err == nil {
			t.Error("BumpStats with reached but no hour: no error")
		}
		// Another version is counted apart.
		if err := s.BumpStats(ctx, []engine.StatDelta{{ScenarioID: "scn_a", Version: 2, NodeID: "hook", Hour: h1, Reached: 7}}); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetStats(ctx, "scn_a", 1)
		if err != nil {
			t.Fatal(err)
		}
		want := []engine.StepStats{
			{NodeID: "hook", Reached: 1, Accepted: 1, Pending: 0, Failed: 1, Attempts: 4},
			{NodeID: "trigger", Reached: 2},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GetStats (-want +got):\n%s", diff)
		}
		hourly, err := s.GetHourlyStats(ctx, "scn_a", 1, h1.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		wantHourly := map[string][]engine.HourlyStats{
			"hook": {
				{Hour: h1, Reached: 1, Attempts: 2},
				{Hour: h2, Accepted: 1, Failed: 1, Attempts: 2},
			},
			"trigger": {{Hour: h1, Reached: 1}, {Hour: h2, Reached: 1}},
		}
		if diff := cmp.Diff(wantHourly, hourly); diff != "" {
			t.Errorf("GetHourlyStats (-want +got):\n%s", diff)
		}
		// since inside the second hour still returns its bucket.
		hourly, err = s.GetHourlyStats(ctx, "scn_a", 1, h2.Add(10*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		wantHourly = map[string][]engine.HourlyStats{
			"hook":    {{Hour: h2, Accepted: 1, Failed: 1, Attempts: 2}},
			"trigger": {{Hour: h2, Reached: 1}},
		}
		if diff := cmp.Diff(wantHourly, hourly); diff != "" {
			t.Errorf("GetHourlyStats since h2+10m (-want +got):\n%s", diff)
		}
		for _, tc := range []struct {
			scenario string
			version  int
		}{{"scn_a", 3}, {"scn_missing", 1}} {
			if got, err := s.GetStats(ctx, tc.scenario, tc.version); err != nil || len(got) != 0 {
				t.Errorf("GetStats(%s, %d) = %v, %v; want none", tc.scenario, tc.version, got, err)
			}
			if got, err := s.GetHourlyStats(ctx, tc.scenario, tc.version, h1); err != nil || len(got) != 0 {
				t.Errorf("GetHourlyStats(%s, %d) = %v, %v; want none", tc.scenario, tc.version, got, err)
			}
		}
	})
}

func TestAttemptDurations(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		f.scenario("scn_a")
		// dlv_0: 10, 11; dlv_1: 20 (version 2); dlv_2: 30, 31, 32; other node: 99.
		durations := map[string][]int64{"dlv_0": {10, 11}, "dlv_1": {20}, "dlv_2": {30, 31, 32}, "dlv_x": {99}}
		for _, id := range []string{"dlv_0", "dlv_1", "dlv_2", "dlv_x"} {
			d := delivery(id, "scn_a", "hook", t0)
			if id == "dlv_1" {
				d.Version = 2
			}
			if id == "dlv_x" {
				d.NodeID = "other"
			}
			f.delivery(d)
			for i, ms := range durations[id] {
				if err := s.InsertAttempt(ctx, &engine.Attempt{ID: fmt.Sprintf("att_%s_%d", id, i), DeliveryID: id, Number: i + 1, At: at(i), URL: "u", Method: "POST", DurationMS: ms}); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, tc := range []struct {
			name    string
			version int
			limit   int
			want    []int64
		}{
			{"version 1", 1, 0, []int64{32, 31, 30, 11, 10}},
			{"every version", 0, 0, []int64{32, 31, 30, 20, 11, 10}},
			{"limit takes the latest", 1, 2, []int64{32, 31}},
			{"no attempts", 3, 0, []int64{}},
		} {
			got, err := s.AttemptDurations(ctx, "scn_a", tc.version, "hook", tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("AttemptDurations %s (-want +got):\n%s", tc.name, diff)
			}
		}
	})
}

// TestRebuildStats runs a scripted sequence the way the engine would
// (state change and counters in one transaction), then checks that
// RebuildStats recomputes the same totals from the rows.
func TestRebuildStats(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		f.scenario("scn_a")
		hour := t0
		delta := func(node string) engine.StatDelta {
			return engine.StatDelta{ScenarioID: "scn_a", Version: 1, NodeID: node, Hour: hour}
		}
		inTx := func(fn func(ctx context.Context, tx engine.Tx) error) {
			t.Helper()
			if err := s.InTx(ctx, fn); err != nil {
				t.Fatal(err)
			}
		}
		// outcome per contact: attempts made, then the final status
		// ("" = still pending).
		type outcome struct {
			attempts int
			final    engine.DeliveryStatus
		}
		outcomes := []outcome{{1, engine.DeliveryAccepted}, {3, engine.DeliveryAccepted}, {2, ""}, {0, ""},
			{4, engine.DeliveryFailed}, {1, engine.DeliveryFailed}, {2, engine.DeliveryAccepted}}
		for i, o := range outcomes {
			cid, rid := fmt.Sprintf("con_%d", i), fmt.Sprintf("run_%d", i)
			did := fmt.Sprintf("dlv_%d", i)
			// Entry: a run naming its trigger node, or (as runs stored
			// before migration 013 did) a done step for the trigger.
			inTx(func(ctx context.Context, tx engine.Tx) error {
				r := &engine.Run{ID: rid, ScenarioID: "scn_a", Version: 1, ContactID: cid, Status: engine.RunActive, CreatedAt: t0}
				steps := []*engine.Step{step("stp_h"+rid, r, "hook", t0)}
				var ds []engine.StatDelta
				if i%2 == 0 {
					r.Trigger = "trigger"
					d := delta("trigger")
					d.Reached = 1
					ds = append(ds, d)
				} else {
					trig := step("stp_t"+rid, r, "trigger", t0)
					trig.Status = engine.StepDone
					steps = append(steps, trig)
				}
				if ok, err := tx.InsertRun(ctx, r); err != nil || !ok {
					return fmt.Errorf("insert run: %v %w", ok, err)
				}
				ins, err := tx.InsertSteps(ctx, steps)
				if err != nil {
					return err
				}
				for _, st := range ins {
					d := delta(st.NodeID)
					d.Reached = 1
					ds = append(ds, d)
				}
				return tx.BumpStats(ctx, ds)
			})
			// The hook step makes a delivery.
			inTx(func(ctx context.Context, tx engine.Tx) error {
				if ok, err := tx.FinishStep(ctx, "stp_h"+rid, engine.StepDone, "", t0); err != nil || !ok {
					return fmt.Errorf("finish: %v %w", ok, err)
				}
				if _, err := tx.InsertDelivery(ctx, delivery(did, "scn_a", "hook", t0)); err != nil {
					return err
				}
				d := delta("hook")
				d.Pending = 1
				r, err := tx.GetRun(ctx, rid)
				if err != nil {
					return err
				}
				end := step("stp_e"+rid, r, "end", t0)
				ins, err := tx.InsertSteps(ctx, []*engine.Step{end})
				if err != nil {
					return err
				}
				e := delta("end")
				e.Reached = int64(len(ins))
				return tx.BumpStats(ctx, []engine.StatDelta{d, e})
			})
			// Attempts.
			for n := 1; n <= o.attempts; n++ {
				inTx(func(ctx context.Context, tx engine.Tx) error {
					dl, err := tx.GetDelivery(ctx, did)
					if err != nil {
						return err
					}
					prev := dl.Attempts
					dl.Attempts = n
					d := delta("hook")
					d.Attempts = 1
					if n == o.attempts && o.final != "" {
						dl.Status = o.final
						d.Pending = -1
						if o.final == engine.DeliveryAccepted {
							d.Accepted = 1
						} else {
							d.Failed = 1
						}
					}
					if ok, err := tx.UpdateDelivery(ctx, dl, prev); err != nil || !ok {
						return fmt.Errorf("update delivery: %v %w", ok, err)
					}
					if err := tx.InsertAttempt(ctx, &engine.Attempt{ID: fmt.Sprintf("att_%s_%d", did, n), DeliveryID: did, Number: n, At: t0, URL: "u", Method: "POST"}); err != nil {
						return err
					}
					return tx.BumpStats(ctx, []engine.StatDelta{d})
				})
			}
		}
		// A re-delivered task must not count twice: InsertSteps reports
		// nothing new, so nothing is bumped.
		inTx(func(ctx context.Context, tx engine.Tx) error {
			r, err := tx.GetRun(ctx, "run_0")
			if err != nil {
				return err
			}
			if r.Trigger != "trigger" {
				return fmt.Errorf("run_0 read back with trigger %q, want %q", r.Trigger, "trigger")
			}
			ins, err := tx.InsertSteps(ctx, []*engine.Step{step("stp_dup", r, "end", t0)})
			if err != nil || len(ins) != 0 {
				return fmt.Errorf("duplicate end step inserted: %v %w", ins, err)
			}
			return nil
		})

		incremental, err := s.GetStats(ctx, "scn_a", 1)
		if err != nil {
			t.Fatal(err)
		}
		want := []engine.StepStats{
			{NodeID: "end", Reached: 7},
			{NodeID: "hook", Reached: 7, Accepted: 3, Pending: 2, Failed: 2, Attempts: 13},
			{NodeID: "trigger", Reached: 7},
		}
		if diff := cmp.Diff(want, incremental); diff != "" {
			t.Fatalf("incremental stats (-want +got):\n%s", diff)
		}
		// Drift the counters, and give another version some that must
		// survive, then rebuild.
		drift := delta("hook")
		drift.Reached, drift.Pending, drift.Attempts = 5, -3, 100
		ghost := delta("ghost")
		ghost.Reached = 1
		other := delta("hook")
		other.Version, other.Reached = 2, 42
		if err := s.BumpStats(ctx, []engine.StatDelta{drift, ghost, other}); err != nil {
			t.Fatal(err)
		}
		if err := s.RebuildStats(ctx, "scn_a", 1); err != nil {
			t.Fatal(err)
		}
		rebuilt, err := s.GetStats(ctx, "scn_a", 1)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(incremental, rebuilt); diff != "" {
			t.Errorf("rebuilt stats differ from the incremental ones (-want +got):\n%s", diff)
		}
		v2, err := s.GetStats(ctx, "scn_a", 2)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]engine.StepStats{{NodeID: "hook", Reached: 42}}, v2); diff != "" {
			t.Errorf("version 2 stats (-want +got):\n%s", diff)
		}
		// Rebuilding a version without rows empties it.
		if err := s.RebuildStats(ctx, "scn_a", 2); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetStats(ctx, "scn_a", 2); err != nil || len(got) != 0 {
			t.Errorf("GetStats after rebuilding an empty version = %v, %v", got, err)
		}
	})
}
