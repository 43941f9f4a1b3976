package storage_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/storage"
	"github.com/sluicehq/sluice/storage/storagetest"
)

func TestRuns(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		f.scenario("scn_a")
		run := func(id, contact, key string) *engine.Run {
			return &engine.Run{ID: id, ScenarioID: "scn_a", Version: 1, ContactID: contact, EventID: "evt_1",
				EntryKey: key, Status: engine.RunActive, CreatedAt: t0}
		}
		for _, tc := range []struct {
			name string
			r    *engine.Run
			want bool
		}{
			{"first", run("run_1", "con_1", ""), true},
			{"same contact again", run("run_2", "con_1", ""), false},
			{"other contact", run("run_3", "con_2", ""), true},
			{"re-entry key", run("run_4", "con_1", "2026-11-23"), true},
			{"same re-entry key", run("run_5", "con_1", "2026-11-23"), false},
			{"same id", run("run_1", "con_9", "x"), false},
		} {
			ok, err := s.InsertRun(ctx, tc.r)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if ok != tc.want {
				t.Errorf("InsertRun %s = %v, want %v", tc.name, ok, tc.want)
			}
		}
		_, err := s.InsertRun(ctx, &engine.Run{ID: "run_x", ScenarioID: "scn_missing", ContactID: "c", CreatedAt: t0})
		wantMissingRef(t, s, "InsertRun of a missing scenario", err)
		got, err := s.GetRun(ctx, "run_4")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(run("run_4", "con_1", "2026-11-23"), got); diff != "" {
			t.Errorf("GetRun (-want +got):\n%s", diff)
		}
		if err := s.SetRunStatus(ctx, "run_4", engine.RunCompleted); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetRun(ctx, "run_4"); err != nil || got.Status != engine.RunCompleted {
			t.Errorf("after SetRunStatus: %v, %v", got, err)
		}
		if _, err := s.GetRun(ctx, "run_missing"); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("GetRun(missing): %v, want ErrNotFound", err)
		}
		if err := s.SetRunStatus(ctx, "run_missing", engine.RunFailed); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("SetRunStatus(missing): %v, want ErrNotFound", err)
		}
	})
}

func TestSteps(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		f.scenario("scn_a")
		r := f.run("run_1", "scn_a", "con_1")
		stepIDs := func(steps []*engine.Step) []string { return ids(steps, func(s *engine.Step) string { return s.ID }) }

		if got, err := s.InsertSteps(ctx, nil); err != nil || len(got) != 0 {
			t.Errorf("InsertSteps(nil) = %v, %v", got, err)
		}
		for _, tc := range []struct {
			name  string
			steps []*engine.Step
			want  []string
		}{
			{"new", []*engine.Step{step("stp_1", r, "trigger", t0), step("stp_2", r, "hook", at(10))}, []string{"stp_1", "stp_2"}},
			{"one new, one existing node", []*engine.Step{step("stp_3", r, "hook", at(10)), step("stp_4", r, "end", at(20))}, []string{"stp_4"}},
			{"existing id", []*engine.Step{step("stp_1", r, "other", t0)}, []string{}},
			{"same node twice in a batch", []*engine.Step{step("stp_5", r, "x", t0), step("stp_6", r, "x", t0)}, []string{"stp_5"}},
		} {
			got, err := s.InsertSteps(ctx, tc.steps)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if diff := cmp.Diff(tc.want, stepIDs(got)); diff != "" {
				t.Errorf("InsertSteps %s (-want +got):\n%s", tc.name, diff)
			}
		}
		got, err := s.GetStep(ctx, "stp_2")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(step("stp_2", r, "hook", at(10)), got); diff != "" {
			t.Errorf("GetStep (-want +got):\n%s", diff)
		}
		if _, err := s.GetStep(ctx, "stp_missing"); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("GetStep(missing): %v, want ErrNotFound", err)
		}
		if n, err := pendingSteps(ctx, s, "run_1"); err != nil || n != 4 {
			t.Errorf("pending steps = %d, %v; want 4", n, err)
		}

		ok, err := s.FinishStep(ctx, "stp_2", engine.StepFailed, "boom \x00\xff", at(30))
		if err != nil || !ok {
			t.Fatalf("FinishStep = %v, %v; want true", ok, err)
		}
		ok, err = s.FinishStep(ctx, "stp_2", engine.StepDone, "", at(31))
		if err != nil || ok {
			t.Errorf("FinishStep again = %v, %v; want false", ok, err)
		}
		if _, err := s.FinishStep(ctx, "stp_missing", engine.StepDone, "", t0); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("FinishStep(missing): %v, want ErrNotFound", err)
		}
		want := step("stp_2", r, "hook", at(10))
		want.Status, want.Error, want.DoneAt = engine.StepFailed, "boom \uFFFD\uFFFD", ptr(at(30))
		got, err = s.GetStep(ctx, "stp_2")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("finished step (-want +got):\n%s", diff)
		}
		if n, err := pendingSteps(ctx, s, "run_1"); err != nil || n != 3 {
			t.Errorf("pending steps = %d, %v; want 3", n, err)
		}
		if n, err := pendingSteps(ctx, s, "run_missing"); err != nil || n != 0 {
			t.Errorf("pending steps of a missing run = %d, %v; want 0", n, err)
		}
		_, err = s.InsertSteps(ctx, []*engine.Step{{ID: "stp_x", RunID: "run_missing", NodeID: "n", DueAt: t0, CreatedAt: t0}})
		wantMissingRef(t, s, "InsertSteps of a missing run", err)
	})
}

func TestDueSteps(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		f.scenario("scn_a")
		r := f.run("run_1", "scn_a", "con_1")
		// Inserted out of order; a sub-second later due time must sort
		// after (text order on SQLite).
		steps := []*engine.Step{
			step("stp_c", r, "c", at(30)),
			step("stp_a", r, "a", at(-10)),
			step("stp_d", r, "d", t0.Add(500e6)),
			step("stp_b", r, "b", t0),
			step("stp_e", r, "e", at(3600)),
			step("stp_f", r, "f", at(-20)),
		}
		if _, err := s.InsertSteps(ctx, steps); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.FinishStep(ctx, "stp_f", engine.StepDone, "", t0); err != nil || !ok {
			t.Fatal(ok, err)
		}
		stepIDs := func(steps []engine.Step) []string { return ids(steps, func(s engine.Step) string { return s.ID }) }
		for _, tc := range []struct {
			name  string
			now   int
			limit int
			want  []string
		}{
			{"all due", 60, 10, []string{"stp_a", "stp_b", "stp_d", "stp_c"}},
			{"limit", 60, 2, []string{"stp_a", "stp_b"}},
			{"at the due time", 0, 10, []string{"stp_a", "stp_b"}},
			{"nothing due", -100, 10, []string{}},
			{"default limit", 7200, 0, []string{"stp_a", "stp_b", "stp_d", "stp_c", "stp_e"}},
		} {
			got, err := s.DueSteps(ctx, at(tc.now), tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, stepIDs(got)); diff != "" {
				t.Errorf("DueSteps %s (-want +got):\n%s", tc.name, diff)
			}
		}
	})
}

// pendingSteps counts a run's pending steps in the database.
func pendingSteps(ctx context.Context, s *storage.Store, runID string) (int64, error) {
	return s.DB().NewSelect().Table("steps").Where("run_id = ? AND status = 'pending'", runID).Count(ctx)
}

// InsertNewSteps writes the steps of a new run; a step that exists after
// all is a conflict of the transaction, whenever the statement is sent.
func TestInsertNewSteps(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		f.scenario("scn_n")
		r := f.run("run_n", "scn_n", "con_n")
		err := s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
			return tx.InsertNewSteps(ctx, []*engine.Step{step("stp_n1", r, "hook", t0), step("stp_n2", r, "end", t0)})
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"stp_n1", "stp_n2"} {
			if _, err := s.GetStep(ctx, id); err != nil {
				t.Fatalf("step %s: %v", id, err)
			}
		}
		err = s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
			return tx.InsertNewSteps(ctx, []*engine.Step{step("stp_n3", r, "hook", t0)}) // (run, node) taken
		})
		if !errors.Is(err, engine.ErrConflict) {
			t.Fatalf("a step at a node the run has: %v, want ErrConflict", err)
		}
		if _, err := s.GetStep(ctx, "stp_n3"); !errors.Is(err, engine.ErrNotFound) {
			t.Fatalf("the conflicting step: %v, want ErrNotFound", err)
		}
	})
}
