package storage_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/storage"
	"github.com/sluicehq/sluice/storage/storagetest"
)

// The many-rows forms of storage/batch.go, each on both databases.

func TestGetContactsByEmail(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		f.contact("con_a", "Ada@Example.org")
		f.contact("con_b", "bob@example.org")
		f.contact("con_c", "carl@example.org")
		for _, id := range []string{"scn_1", "scn_2", "scn_3"} {
			f.scenario(id)
		}
		f.run("run_a1", "scn_1", "con_a")
		f.run("run_a2", "scn_2", "con_a")
		f.run("run_b1", "scn_1", "con_b")
		f.run("run_b3", "scn_3", "con_b")
		again := &engine.Run{ID: "run_c2", ScenarioID: "scn_2", Version: 1, ContactID: "con_c", EventID: "evt_1",
			EntryKey: "run_c2", Status: engine.RunActive, CreatedAt: t0} // a re-entry is not an entry
		if _, err := s.InsertRun(f.ctx, again); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name      string
			emails    []string
			scenarios []string
			want      []string // "id email", sorted
			entries   []string // "scenario contact", sorted
		}{
			{"any case, unknown left out", []string{"ADA@example.ORG", "bob@example.org", "nobody@example.org"}, nil,
				[]string{"con_a Ada@Example.org", "con_b bob@example.org"}, []string{}},
			{"twice the same contact", []string{"carl@example.org", "CARL@example.org"}, nil, []string{"con_c carl@example.org"}, []string{}},
			{"only unknown", []string{"nobody@example.org"}, []string{"scn_1"}, []string{}, []string{}},
			{"none", nil, []string{"scn_1"}, []string{}, []string{}},
			{"entries of the scenarios asked", []string{"ada@example.org", "bob@example.org", "carl@example.org", "nobody@example.org"},
				[]string{"scn_1", "scn_2"},
				[]string{"con_a Ada@Example.org", "con_b bob@example.org", "con_c carl@example.org"},
				[]string{"scn_1 con_a", "scn_1 con_b", "scn_2 con_a"}},
			{"no entry", []string{"carl@example.org"}, []string{"scn_1", "scn_2", "scn_3"}, []string{"con_c carl@example.org"}, []string{}},
		} {
			got, entries, err := s.GetContactsByEmail(f.ctx, tc.emails, tc.scenarios)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			keys, pairs := []string{}, []string{}
			for _, c := range got {
				keys = append(keys, c.ID+" "+c.Email)
			}
			for _, en := range entries {
				pairs = append(pairs, en.ScenarioID+" "+en.ContactID)
			}
			slices.Sort(keys)
			slices.Sort(pairs)
			if diff := cmp.Diff([][]string{tc.want, tc.entries}, [][]string{keys, pairs}); diff != "" {
				t.Errorf("GetContactsByEmail %s: contacts, entries (-want +got):\n%s", tc.name, diff)
			}
		}
	})
}

func TestInsertContacts(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		f.contact("con_a", "Ada@Example.org")
		contact := func(id, email string, dates map[string]string) *engine.Contact {
			return &engine.Contact{ID: id, Email: email, Dates: dates, Timezone: "Europe/Paris", CreatedAt: t0, UpdatedAt: t0}
		}
		cs := []*engine.Contact{
			contact("con_1", "ADA@example.org", map[string]string{"birthday": "1970-03-10"}), // existing email, other case
			contact("con_2", "new@example.org", map[string]string{"birthday": "1990-03-10", "renewal": "2027-01-01"}),
			contact("con_3", "New@Example.ORG", map[string]string{"birthday": "1980-03-10"}), // same email in the call: first wins
			contact("con_a", "fresh@example.org", nil),                                       // existing id
			contact("con_4", "four@example.org", map[string]string{"birthday": "2000-03-10"}),
			contact("con_4", "four-again@example.org", nil), // same id in the call: first wins
		}
		got, err := s.InsertContacts(ctx, cs)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]bool{false, true, false, false, true, false}, got); diff != "" {
			t.Errorf("InsertContacts (-want +got):\n%s", diff)
		}
		for email, want := range map[string]string{"new@example.org": "con_2", "ada@example.org": "con_a", "four@example.org": "con_4"} {
			if c, err := s.GetContactByEmail(ctx, email); err != nil || c.ID != want {
				t.Errorf("GetContactByEmail(%s) = %+v, %v; want %s", email, c, err, want)
			}
		}
		for _, id := range []string{"con_1", "con_3"} {
			if _, err := s.GetContact(ctx, id); !errors.Is(err, engine.ErrNotFound) {
				t.Errorf("GetContact(%s) of a contact not inserted: %v, want ErrNotFound", id, err)
			}
		}
		for _, email := range []string{"fresh@example.org", "four-again@example.org"} {
			if _, err := s.GetContactByEmail(ctx, email); !errors.Is(err, engine.ErrNotFound) {
				t.Errorf("GetContactByEmail(%s) of a contact not inserted: %v, want ErrNotFound", email, err)
			}
		}
		// Only the inserted contacts' dates are written.
		byDate := func(q engine.DateQuery) []string {
			t.Helper()
			got, err := s.ContactsByDate(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			out := []string{}
			for _, c := range got {
				out = append(out, c.ContactID+" "+c.Date+" "+c.Timezone)
			}
			return out
		}
		if diff := cmp.Diff([]string{"con_2 1990-03-10 Europe/Paris", "con_4 2000-03-10 Europe/Paris"},
			byDate(engine.DateQuery{Name: "birthday", MonthDays: []string{"03-10"}})); diff != "" {
			t.Errorf("birthdays (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"con_2 2027-01-01 Europe/Paris"},
			byDate(engine.DateQuery{Name: "renewal", Dates: []string{"2027-01-01"}})); diff != "" {
			t.Errorf("renewals (-want +got):\n%s", diff)
		}
		if got, err := s.InsertContacts(ctx, nil); err != nil || len(got) != 0 {
			t.Errorf("InsertContacts(nil) = %v, %v", got, err)
		}
	})
}

// subscriptionChanges sets up lists, contacts and subscriptions and
// returns changes of every kind to them and the lists each contact is in
// after them.
func subscriptionChanges(t *testing.T, f *fixture) ([]engine.SubscriptionChange, map[string][]string) {
	t.Helper()
	f.list("lst_a")
	f.list("lst_b")
	for _, id := range []string{"con_1", "con_2", "con_3"} {
		f.contact(id, id+"@example.org")
	}
	// Before: con_1 in lst_a, con_2 in lst_b, con_3 unsubscribed from lst_b.
	for _, pre := range []struct {
		list, contact string
		subscribed    bool
	}{{"lst_a", "con_1", true}, {"lst_b", "con_2", true}, {"lst_b", "con_3", true}, {"lst_b", "con_3", false}} {
		if _, err := f.s.SetSubscription(f.ctx, pre.list, pre.contact, pre.subscribed, t0); err != nil {
			t.Fatal(err)
		}
	}
	return []engine.SubscriptionChange{
		{ListID: "lst_a", ContactID: "con_1", Subscribed: true},  // repeat: no change
		{ListID: "lst_a", ContactID: "con_2", Subscribed: true},  // new
		{ListID: "lst_b", ContactID: "con_1", Subscribed: false}, // never subscribed: no change
		{ListID: "lst_b", ContactID: "con_2", Subscribed: false}, // subscribed: unsubscribed
		{ListID: "lst_b", ContactID: "con_3", Subscribed: true},  // resubscribed
		{ListID: "lst_a", ContactID: "con_3", Subscribed: false}, // never subscribed: no change
	}, map[string][]string{"con_1": {"lst_a"}, "con_2": {"lst_a"}, "con_3": {"lst_b"}}
}

// checkLists checks the lists each contact is in.
func checkLists(t *testing.T, f *fixture, when string, want map[string][]string) {
	t.Helper()
	for id, lists := range want {
		got, err := f.s.ContactLists(f.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(lists, got); diff != "" {
			t.Errorf("%s: ContactLists(%s) (-want +got):\n%s", when, id, diff)
		}
	}
}

func TestSetSubscriptions(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		changes, wantLists := subscriptionChanges(t, f)
		got, err := s.SetSubscriptions(ctx, changes, at(1))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]bool{false, true, false, true, true, false}, got); diff != "" {
			t.Errorf("SetSubscriptions (-want +got):\n%s", diff)
		}
		checkLists(t, f, "after the changes", wantLists)
		// The same changes again change nothing.
		got, err = s.SetSubscriptions(ctx, changes, at(2))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(make([]bool, len(changes)), got); diff != "" {
			t.Errorf("SetSubscriptions repeated (-want +got):\n%s", diff)
		}
		// A missing list or contact fails the whole call, where the
		// store checks them (elsewhere the rows go in, and the lists
		// checked below would change).
		missingRefs := []engine.SubscriptionChange{
			{ListID: "lst_missing", ContactID: "con_1", Subscribed: true},
			{ListID: "lst_b", ContactID: "con_missing", Subscribed: true},
		}
		if !checksReferences(s) {
			missingRefs = nil
		}
		for _, missing := range missingRefs {
			_, err := s.SetSubscriptions(ctx, []engine.SubscriptionChange{{ListID: "lst_b", ContactID: "con_1", Subscribed: true}, missing}, at(3))
			if !errors.Is(err, engine.ErrNotFound) {
				t.Errorf("SetSubscriptions with %+v: %v, want ErrNotFound", missing, err)
			}
		}
		checkLists(t, f, "after the failed calls", wantLists)
		if got, err := s.SetSubscriptions(ctx, nil, t0); err != nil || len(got) != 0 {
			t.Errorf("SetSubscriptions(nil) = %v, %v", got, err)
		}
	})
}

// TestSetSubscriptionsLater: the same changes without reading what
// changed; on PostgreSQL they go with the commit, in one round trip.
func TestSetSubscriptionsLater(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		changes, wantLists := subscriptionChanges(t, f)
		trips := s.RoundTrips()
		err := s.InTx(f.ctx, func(ctx context.Context, tx engine.Tx) error { return tx.SetSubscriptionsLater(ctx, changes, at(1)) })
		if err != nil {
			t.Fatal(err)
		}
		if n := s.RoundTrips() - trips; s.Postgres() && n != 1 {
			t.Errorf("%d round trips, want 1", n)
		}
		checkLists(t, f, "after the changes", wantLists)
		var kept time.Time // a repeat changes nothing, not even the time
		if err := s.DB().NewRaw("SELECT subscribed_at FROM list_subscriptions WHERE list_id = 'lst_a' AND contact_id = 'con_1'").Scan(f.ctx, &kept); err != nil {
			t.Fatal(err)
		}
		if !kept.Equal(t0) {
			t.Errorf("the repeated subscription's time is %v, want %v", kept, t0)
		}
	})
}

func TestInsertRuns(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		f.scenario("scn_a")
		f.run("run_1", "scn_a", "con_1")
		run := func(id, contact, key string) *engine.Run {
			return &engine.Run{ID: id, ScenarioID: "scn_a", Version: 1, ContactID: contact, EventID: "evt_1",
				EntryKey: key, Status: engine.RunActive, CreatedAt: t0}
		}
		runs := []*engine.Run{
			run("run_2", "con_1", ""),   // (scenario, contact, key) exists
			run("run_3", "con_2", ""),   // new
			run("run_4", "con_2", ""),   // same key as run_3 in the call
			run("run_5", "con_1", "k1"), // new key
			run("run_1", "con_9", "x"),  // existing id
			run("run_6", "con_3", "k1"), // new
			run("run_6", "con_4", "k2"), // same id as the previous one
		}
		got, err := s.InsertRuns(ctx, runs)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]*engine.Run{runs[1], runs[3], runs[5]}, got); diff != "" {
			t.Errorf("InsertRuns (-want +got):\n%s", diff)
		}
		for _, id := range []string{"run_3", "run_5", "run_6"} {
			if r, err := s.GetRun(ctx, id); err != nil || r.Status != engine.RunActive {
				t.Errorf("GetRun(%s) = %+v, %v", id, r, err)
			}
		}
		if r, err := s.GetRun(ctx, "run_6"); err != nil || r.ContactID != "con_3" {
			t.Errorf("run_6 = %+v, %v; want the first of the call (con_3)", r, err)
		}
		for _, id := range []string{"run_2", "run_4"} {
			if _, err := s.GetRun(ctx, id); !errors.Is(err, engine.ErrNotFound) {
				t.Errorf("GetRun(%s) of a run not inserted: %v, want ErrNotFound", id, err)
			}
		}
		_, err = s.InsertRuns(ctx, []*engine.Run{{ID: "run_x", ScenarioID: "scn_missing", ContactID: "c", CreatedAt: t0}})
		wantMissingRef(t, s, "InsertRuns of a missing scenario", err)
		if got, err := s.InsertRuns(ctx, nil); err != nil || len(got) != 0 {
			t.Errorf("InsertRuns(nil) = %v, %v", got, err)
		}
	})
}

func TestCompleteRuns(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		f.scenario("scn_a")
		// steps of each run: "p" pending, "d" done, "f" failed.
		runs := []struct {
			id     string
			failed bool
			steps  string
			listed bool // in the call
			want   engine.RunStatus
		}{
			{"run_nosteps", false, "", true, engine.RunCompleted},
			{"run_done", false, "dd", true, engine.RunCompleted},
			{"run_donefailed", false, "df", true, engine.RunCompleted},
			{"run_pending", false, "dp", true, engine.RunActive},
			{"run_failed", true, "d", true, engine.RunFailed},
			{"run_failedpending", true, "p", true, engine.RunFailed},
			{"run_unlisted", false, "d", false, engine.RunActive},
		}
		var call []string
		for _, r := range runs {
			run := f.run(r.id, "scn_a", "con_"+r.id)
			var steps []*engine.Step
			for i, st := range r.steps {
				sp := step(fmt.Sprintf("stp_%s_%d", r.id, i), run, fmt.Sprintf("n%d", i), t0)
				switch st {
				case 'd':
					sp.Status, sp.DoneAt = engine.StepDone, ptr(t0)
				case 'f':
					sp.Status, sp.DoneAt, sp.Error = engine.StepFailed, ptr(t0), "boom"
				}
				steps = append(steps, sp)
			}
			if _, err := s.InsertSteps(ctx, steps); err != nil {
				t.Fatal(err)
			}
			if r.failed {
				if err := s.SetRunStatus(ctx, r.id, engine.RunFailed); err != nil {
					t.Fatal(err)
				}
			}
			if r.listed {
				call = append(call, r.id)
			}
		}
		call = append(call, "run_missing", "run_done") // unknown and repeated ids are fine
		done, err := s.CompleteRuns(ctx, call)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(done)
		if want := []string{"run_done", "run_donefailed", "run_nosteps"}; !slices.Equal(done, want) {
			t.Errorf("CompleteRuns returned %v, want %v", done, want)
		}
		for _, r := range runs {
			got, err := s.GetRun(ctx, r.id)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != r.want {
				t.Errorf("%s: status %s, want %s", r.id, got.Status, r.want)
			}
		}
		if done, err := s.CompleteRuns(ctx, nil); err != nil || len(done) != 0 {
			t.Errorf("CompleteRuns(nil) = %v, %v", done, err)
		}
	})
}

func TestFinishSteps(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		f.scenario("scn_a")
		r := f.run("run_1", "scn_a", "con_1")
		done := step("stp_done", r, "n0", t0)
		done.Status, done.DoneAt = engine.StepDone, ptr(at(-60))
		failed := step("stp_failed", r, "n1", t0)
		failed.Status, failed.DoneAt, failed.Error = engine.StepFailed, ptr(at(-60)), "boom"
		steps := []*engine.Step{step("stp_1", r, "n2", t0), step("stp_2", r, "n3", t0), step("stp_other", r, "n4", t0), done, failed}
		if _, err := s.InsertSteps(ctx, steps); err != nil {
			t.Fatal(err)
		}
		got, _, err := s.FinishSteps(ctx, []string{"stp_1", "stp_done", "stp_missing", "stp_failed", "stp_2", "stp_1"}, at(5), nil)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if diff := cmp.Diff([]string{"stp_1", "stp_2"}, got); diff != "" {
			t.Errorf("FinishSteps (-want +got):\n%s", diff)
		}
		for _, tc := range []struct {
			id     string
			status engine.StepStatus
			doneAt *time.Time
			errMsg string
		}{
			{"stp_1", engine.StepDone, ptr(at(5)), ""},
			{"stp_2", engine.StepDone, ptr(at(5)), ""},
			{"stp_other", engine.StepPending, nil, ""},
			{"stp_done", engine.StepDone, ptr(at(-60)), ""},
			{"stp_failed", engine.StepFailed, ptr(at(-60)), "boom"},
		} {
			st, err := s.GetStep(ctx, tc.id)
			if err != nil {
				t.Fatal(err)
			}
			if st.Status != tc.status || st.Error != tc.errMsg || !cmp.Equal(tc.doneAt, st.DoneAt) {
				t.Errorf("%s: %s %q done at %v; want %s %q done at %v", tc.id, st.Status, st.Error, st.DoneAt, tc.status, tc.errMsg, tc.doneAt)
			}
		}
		if got, _, err := s.FinishSteps(ctx, []string{"stp_1", "stp_2"}, at(6), nil); err != nil || len(got) != 0 {
			t.Errorf("FinishSteps of finished steps = %v, %v; want none", got, err)
		}
		if got, _, err := s.FinishSteps(ctx, nil, at(6), nil); err != nil || len(got) != 0 {
			t.Errorf("FinishSteps(nil) = %v, %v", got, err)
		}
	})
}

// TestFinishStepsCompletes: the runs FinishSteps is asked to complete are
// completed when one of the steps it finished is theirs and nothing of
// theirs is left pending (on PostgreSQL in the same statement, where the
// steps it finishes must not count as pending).
func TestFinishStepsCompletes(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		f.scenario("scn_a")
		last := f.run("run_last", "scn_a", "con_1")     // its one pending step finishes
		two := f.run("run_two", "scn_a", "con_2")       // both pending steps finish
		branch := f.run("run_branch", "scn_a", "con_3") // another branch stays pending
		idle := f.run("run_idle", "scn_a", "con_4")     // none of its steps is finished here
		steps := []*engine.Step{step("stp_last", last, "n1", t0), step("stp_two_a", two, "n1", t0),
			step("stp_two_b", two, "n2", t0), step("stp_branch", branch, "n1", t0), step("stp_branch_b", branch, "n2", t0)}
		if _, err := s.InsertSteps(ctx, steps); err != nil {
			t.Fatal(err)
		}
		all := []string{last.ID, two.ID, branch.ID, idle.ID}
		got, completed, err := s.FinishSteps(ctx, []string{"stp_last", "stp_two_a", "stp_two_b", "stp_branch"}, at(5), all)
		if err != nil || len(got) != 4 {
			t.Fatalf("FinishSteps = %v, %v", got, err)
		}
		slices.Sort(completed)
		if want := []string{last.ID, two.ID}; !slices.Equal(completed, want) {
			t.Errorf("FinishSteps completed %v, want %v", completed, want)
		}
		for id, want := range map[string]engine.RunStatus{last.ID: engine.RunCompleted, two.ID: engine.RunCompleted,
			branch.ID: engine.RunActive, idle.ID: engine.RunActive} {
			r, err := s.GetRun(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != want {
				t.Errorf("%s: %s, want %s", id, r.Status, want)
			}
		}
	})
}

// FinishAll finishes steps that are all pending, completes the runs it
// ends and inserts the next steps, with what the transaction writes after
// it (on PostgreSQL in one round trip); when one step is no longer
// pending, the transaction fails with ErrStale and stores nothing, neither
// the other steps' finish, the next steps nor the writes after it.
func TestFinishAll(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		f.scenario("scn_a")
		last := f.run("run_last", "scn_a", "con_1")     // its one pending step finishes
		branch := f.run("run_branch", "scn_a", "con_2") // another branch stays pending
		later := f.run("run_later", "scn_a", "con_3")
		done := step("stp_done", later, "n2", t0)
		done.Status, done.DoneAt = engine.StepDone, ptr(at(-60))
		steps := []*engine.Step{step("stp_last", last, "n1", t0), step("stp_branch", branch, "n1", t0),
			step("stp_branch_b", branch, "n2", t0), step("stp_later", later, "n1", t0), done}
		if _, err := s.InsertSteps(ctx, steps); err != nil {
			t.Fatal(err)
		}
		finish := func(ids []string, runs []string, next *engine.Step, d *engine.Delivery) ([]string, error) {
			var completed []string
			trips := s.RoundTrips()
			defer func() {
				if n := s.RoundTrips() - trips; s.Postgres() && n != 1 {
					t.Errorf("FinishAll of %v: %d round trips, want 1", ids, n)
				}
			}()
			err := s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
				if err := tx.FinishAll(ctx, ids, at(5), runs, []*engine.Step{next}, &completed); err != nil {
					return err
				}
				if err := tx.InsertNewDeliveries(ctx, []*engine.Delivery{d}); err != nil {
					return err
				}
				return tx.BumpStats(ctx, []engine.StatDelta{{ScenarioID: "scn_a", Version: 1, NodeID: "n1", Hour: t0, Accepted: 1}})
			})
			return completed, err
		}
		completed, err := finish([]string{"stp_last", "stp_branch"}, []string{last.ID, branch.ID}, step("stp_next", branch, "n3", t0),
			delivery("dlv_1", "scn_a", "n1", t0))
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{last.ID}; !slices.Equal(completed, want) {
			t.Errorf("FinishAll completed %v, want %v", completed, want)
		}
		if _, err := s.GetDelivery(ctx, "dlv_1"); err != nil {
			t.Errorf("the delivery written after FinishAll: %v", err)
		}

		_, err = finish([]string{"stp_later", "stp_done"}, []string{later.ID}, step("stp_next_2", later, "n3", t0),
			delivery("dlv_2", "scn_a", "n1", t0))
		if !errors.Is(err, engine.ErrStale) {
			t.Fatalf("FinishAll of a step done already: %v, want ErrStale", err)
		}
		if _, err := s.GetDelivery(ctx, "dlv_2"); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("the delivery of the failed transaction: %v, want ErrNotFound", err)
		}
		if _, err := s.GetStep(ctx, "stp_next_2"); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("the next step of the failed transaction: %v, want ErrNotFound", err)
		}
		for id, want := range map[string]engine.StepStatus{"stp_last": engine.StepDone, "stp_branch": engine.StepDone,
			"stp_branch_b": engine.StepPending, "stp_later": engine.StepPending, "stp_next": engine.StepPending} {
			if st, err := s.GetStep(ctx, id); err != nil || st.Status != want {
				t.Errorf("%s: %v, %v; want %s", id, st, err, want)
			}
		}
		if r, err := s.GetRun(ctx, later.ID); err != nil || r.Status != engine.RunActive {
			t.Errorf("run of the failed transaction: %v, %v; want active", r, err)
		}
		stats, err := s.GetStats(ctx, "scn_a", 1)
		if err != nil || len(stats) != 1 || stats[0].Accepted != 1 {
			t.Errorf("counters: %+v, %v; want the first transaction's only", stats, err)
		}
	})
}

func TestInsertDeliveries(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		f.scenario("scn_a")
		f.delivery(delivery("dlv_1", "scn_a", "hook", t0))
		d2 := delivery("dlv_2", "scn_a", "hook", at(1))
		d3 := delivery("dlv_3", "scn_a", "other", at(2))
		d3.Body = []byte{0, 1, 0xff}
		again := delivery("dlv_2", "scn_a", "again", at(3))
		got, err := s.InsertDeliveries(ctx, []*engine.Delivery{delivery("dlv_1", "scn_a", "x", t0), d2, d3, again})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]bool{false, true, true, false}, got); diff != "" {
			t.Errorf("InsertDeliveries (-want +got):\n%s", diff)
		}
		for _, want := range []*engine.Delivery{delivery("dlv_1", "scn_a", "hook", t0), d2, d3} {
			got, err := s.GetDelivery(ctx, want.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("GetDelivery(%s) (-want +got):\n%s", want.ID, diff)
			}
		}
		_, err = s.InsertDeliveries(ctx, []*engine.Delivery{delivery("dlv_x", "scn_missing", "hook", t0)})
		wantMissingRef(t, s, "InsertDeliveries of a missing scenario", err)
		if got, err := s.InsertDeliveries(ctx, nil); err != nil || len(got) != 0 {
			t.Errorf("InsertDeliveries(nil) = %v, %v", got, err)
		}
	})
}

func TestInsertAttempts(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		f.scenario("scn_a")
		f.delivery(delivery("dlv_1", "scn_a", "hook", t0))
		f.delivery(delivery("dlv_2", "scn_a", "hook", t0))
		attempt := func(d string, n int) *engine.Attempt {
			return &engine.Attempt{ID: fmt.Sprintf("att_%s_%d", d, n), DeliveryID: d, Number: n, At: at(n),
				URL: "https://example.org/hook", Method: "POST", StatusCode: 500, DurationMS: int64(10 * n)}
		}
		if err := s.InsertAttempts(ctx, []*engine.Attempt{attempt("dlv_1", 2), attempt("dlv_2", 1), attempt("dlv_1", 1)}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			as   []*engine.Attempt
			want error
		}{
			{"a number taken", []*engine.Attempt{attempt("dlv_2", 2), attempt("dlv_1", 2)}, engine.ErrConflict},
			{"a number twice in the call", []*engine.Attempt{attempt("dlv_2", 3), attempt("dlv_2", 3)}, engine.ErrConflict},
			{"a missing delivery", []*engine.Attempt{attempt("dlv_2", 4), attempt("dlv_missing", 1)}, engine.ErrNotFound},
		} {
			if err := s.InsertAttempts(ctx, tc.as); !errors.Is(err, tc.want) {
				t.Errorf("InsertAttempts %s: %v, want %v", tc.name, err, tc.want)
			}
		}
		// The failed calls inserted nothing.
		got, err := s.ListAttempts(ctx, []string{"dlv_1", "dlv_2"})
		if err != nil {
			t.Fatal(err)
		}
		numbers := map[string][]int{}
		for d, as := range got {
			for _, a := range as {
				numbers[d] = append(numbers[d], a.Number)
			}
		}
		if diff := cmp.Diff(map[string][]int{"dlv_1": {1, 2}, "dlv_2": {1}}, numbers); diff != "" {
			t.Errorf("attempts (-want +got):\n%s", diff)
		}
		if err := s.InsertAttempts(ctx, nil); err != nil {
			t.Errorf("InsertAttempts(nil): %v", err)
		}
	})
}

func TestLoadSteps(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		f.scenario("scn_a")
		f.contact("con_1", "one@example.org")
		f.contact("con_2", "two@example.org")
		evs := []*engine.Event{
			{ID: "evt_1", Type: "signup", ContactID: "con_1", ListID: "lst_a", Data: map[string]any{"n": 1.0}, OccurredAt: t0},
			{ID: "evt_2", Type: "ping", ContactID: "con_2", OccurredAt: at(1)},
		}
		if err := s.InsertEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
		r1 := f.run("run_1", "scn_a", "con_1")
		r2 := &engine.Run{ID: "run_2", ScenarioID: "scn_a", Version: 1, ContactID: "con_2", EventID: "evt_2", Status: engine.RunActive, CreatedAt: t0}
		r3 := &engine.Run{ID: "run_3", ScenarioID: "scn_a", Version: 1, ContactID: "con_gone", EventID: "evt_gone", Status: engine.RunActive, CreatedAt: t0}
		if _, err := s.InsertRuns(ctx, []*engine.Run{r2, r3}); err != nil {
			t.Fatal(err)
		}
		steps := []*engine.Step{step("stp_1", r1, "hook", t0), step("stp_2", r1, "end", at(1)), step("stp_3", r2, "hook", at(2)),
			step("stp_4", r3, "hook", t0)}
		if _, err := s.InsertSteps(ctx, steps); err != nil {
			t.Fatal(err)
		}
		got, err := s.LoadSteps(ctx, []string{"stp_3", "stp_missing", "stp_1", "stp_4"})
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(got, func(a, b engine.StepLoad) int { return strings.Compare(a.Step.ID, b.Step.ID) })
		type loaded struct {
			Step    *engine.Step
			Contact string
			Event   *engine.Event
		}
		gotL := make([]loaded, len(got))
		for i, l := range got {
			gotL[i] = loaded{Step: l.Step, Event: l.Event}
			if l.Contact != nil {
				gotL[i].Contact = l.Contact.ID + " " + l.Contact.Email
			}
		}
		want := []loaded{
			{steps[0], "con_1 one@example.org", evs[0]},
			{steps[2], "con_2 two@example.org", evs[1]},
			{steps[3], "", nil}, // its contact and event are gone
		}
		if diff := cmp.Diff(want, gotL); diff != "" {
			t.Errorf("LoadSteps (-want +got):\n%s", diff)
		}
		if got, err := s.LoadSteps(ctx, []string{"stp_missing"}); err != nil || len(got) != 0 {
			t.Errorf("LoadSteps(missing) = %v, %v", got, err)
		}
		if got, err := s.LoadSteps(ctx, nil); err != nil || len(got) != 0 {
			t.Errorf("LoadSteps(nil) = %v, %v", got, err)
		}
	})
}

// TestStatShards commits many transactions that each enter a contact
// (run, trigger and hook steps, for some a delivery and its attempt) and
// count it, concurrently on PostgreSQL: the counters, spread over the
// shards, sum exactly, and RebuildStats folds them into one row per node
// with the same totals.
func TestStatShards(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		f := newFixture(t, s)
		ctx := f.ctx
		f.scenario("scn_a")
		const n = 200
		h1 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
		h2 := h1.Add(time.Hour)
		hourOf := func(i int) time.Time { return []time.Time{h1.Add(10 * time.Minute), h2.Add(59 * time.Minute)}[i%2] }
		enter := func(i int) error {
			return s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
				at := hourOf(i)
				r := &engine.Run{ID: fmt.Sprintf("run_%03d", i), ScenarioID: "scn_a", Version: 1, ContactID: fmt.Sprintf("con_%03d", i),
					Status: engine.RunActive, CreatedAt: at}
				if _, err := tx.InsertRuns(ctx, []*engine.Run{r}); err != nil {
					return err
				}
				trig := step("stp_t"+r.ID, r, "trigger", at)
				trig.Status, trig.DoneAt = engine.StepDone, &at
				if _, err := tx.InsertSteps(ctx, []*engine.Step{trig, step("stp_h"+r.ID, r, "hook", at)}); err != nil {
					return err
				}
				deltas := []engine.StatDelta{
					{ScenarioID: "scn_a", Version: 1, NodeID: "trigger", Hour: at, Reached: 1},
					{ScenarioID: "scn_a", Version: 1, NodeID: "hook", Hour: at, Reached: 1},
				}
				if i%3 == 0 { // a delivery with its first attempt
					d := delivery("dlv_"+r.ID, "scn_a", "hook", at)
					hook := engine.StatDelta{ScenarioID: "scn_a", Version: 1, NodeID: "hook", Hour: at, Attempts: 1}
					if i%2 == 0 {
						d.Status, hook.Accepted = engine.DeliveryAccepted, 1
					} else {
						hook.Pending = 1
					}
					if _, err := tx.InsertDeliveries(ctx, []*engine.Delivery{d}); err != nil {
						return err
					}
					if err := tx.InsertAttempts(ctx, []*engine.Attempt{{ID: "att_" + r.ID, DeliveryID: d.ID, Number: 1, At: at, URL: "u", Method: "POST"}}); err != nil {
						return err
					}
					deltas = append(deltas, hook)
				}
				return tx.BumpStats(ctx, deltas)
			})
		}
		if s.Postgres() {
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				wg.Go(func() { errs[i] = enter(i) })
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
		} else {
			for i := range n {
				if err := enter(i); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Expected, per node and per hour.
		wantHook := engine.StepStats{NodeID: "hook", Reached: n}
		wantHourly := map[string][]engine.HourlyStats{
			"hook":    {{Hour: h1}, {Hour: h2}},
			"trigger": {{Hour: h1}, {Hour: h2}},
		}
		for i := range n {
			h := i % 2
			wantHourly["hook"][h].Reached++
			wantHourly["trigger"][h].Reached++
			if i%3 == 0 {
				wantHook.Attempts++
				wantHourly["hook"][h].Attempts++
				if i%2 == 0 {
					wantHook.Accepted++
					wantHourly["hook"][h].Accepted++
				} else {
					wantHook.Pending++
				}
			}
		}
		want := []engine.StepStats{wantHook, {NodeID: "trigger", Reached: n}}
		got, err := s.GetStats(ctx, "scn_a", 1)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GetStats (-want +got):\n%s", diff)
		}
		hourly, err := s.GetHourlyStats(ctx, "scn_a", 1, h1)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wantHourly, hourly); diff != "" {
			t.Errorf("GetHourlyStats (-want +got):\n%s", diff)
		}
		rows := func(table string) int {
			t.Helper()
			c, err := s.DB().NewSelect().TableExpr(table).Where("scenario_id = ? AND version = 1", "scn_a").Count(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return int(c)
		}
		// 200 picks of 1 in 16 shards all equal: never in practice.
		if got := rows("step_stats"); got <= 2 || got > 2*16 {
			t.Errorf("step_stats has %d rows for 2 nodes; want them spread over shards (3 to 32)", got)
		}
		if err := s.RebuildStats(ctx, "scn_a", 1); err != nil {
			t.Fatal(err)
		}
		if got, err = s.GetStats(ctx, "scn_a", 1); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GetStats after RebuildStats (-want +got):\n%s", diff)
		}
		if got := rows("step_stats"); got != 2 {
			t.Errorf("step_stats has %d rows after RebuildStats; want one per node (2)", got)
		}
		if hourly, err = s.GetHourlyStats(ctx, "scn_a", 1, h1); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wantHourly, hourly); diff != "" {
			t.Errorf("GetHourlyStats after RebuildStats (-want +got):\n%s", diff)
		}
		// Counting on after a rebuild adds to its totals: entry 204 has an
		// accepted delivery (204 is a multiple of 3 and even).
		if err := enter(204); err != nil {
			t.Fatal(err)
		}
		if got, err = s.GetStats(ctx, "scn_a", 1); err != nil {
			t.Fatal(err)
		}
		want[0].Reached, want[0].Accepted, want[0].Attempts = n+1, want[0].Accepted+1, want[0].Attempts+1
		want[1].Reached = n + 1
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GetStats after one more entry (-want +got):\n%s", diff)
		}
	})
}

// TestLoadStepsBesideAWrite: steps are read while a write transaction is
// open, and see the last commit, not the open transaction's writes (on
// SQLite, from the read pool instead of queueing behind the one writer).
func TestLoadStepsBesideAWrite(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		newFixture(t, s).pendingStep("stp_1")
		inTx, read := make(chan struct{}), make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
				if _, _, err := tx.FinishSteps(ctx, []string{"stp_1"}, at(1), nil); err != nil {
					return err
				}
				close(inTx)
				<-read // hold the transaction open until the read is done
				return nil
			})
		}()
		<-inTx
		got := make(chan []engine.StepLoad, 1)
		go func() {
			loaded, err := s.LoadSteps(ctx, []string{"stp_1"})
			if err != nil {
				t.Error(err)
			}
			got <- loaded
		}()
		select {
		case loaded := <-got:
			if len(loaded) != 1 || loaded[0].Step.Status != engine.StepPending {
				t.Errorf("read beside the open transaction: %+v, want stp_1 still pending", loaded)
			}
		case <-time.After(5 * time.Second):
			t.Error("the read waited for the write transaction")
		}
		close(read)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if loaded, err := s.LoadSteps(ctx, []string{"stp_1"}); err != nil || len(loaded) != 1 || loaded[0].Step.Status != engine.StepDone {
			t.Errorf("after commit: %+v, %v; want stp_1 done", loaded, err)
		}
	})
}

// TestInsertNewRows: the writes of rows that cannot exist yet (a new
// contact, its subscriptions and runs; a finished step's delivery) store
// them all in one transaction, and a row that did exist after all is
// ErrConflict for the whole transaction, even when the statement went with
// a later one.
func TestInsertNewRows(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, checkInsertNewRows)
}

// TestInsertNewRowsByCopy is TestInsertNewRows with every write of new
// rows sent as COPY (pgcopy.go), conflicts included.
func TestInsertNewRowsByCopy(t *testing.T) {
	t.Parallel()
	checkInsertNewRows(t, openPostgres(t, storage.Config{CopyMinRows: 1}))
}

func checkInsertNewRows(t *testing.T, s *storage.Store) {
	{
		f := newFixture(t, s)
		ctx := f.ctx
		f.list("lst_a")
		f.list("lst_b")
		f.scenario("scn_a")
		f.contact("con_old", "old@example.org")
		contact := func(id, email string) *engine.Contact {
			return &engine.Contact{ID: id, Email: email, Dates: map[string]string{"birthday": "1990-03-10"},
				Timezone: "UTC", CreatedAt: t0, UpdatedAt: t0}
		}
		run := func(id, contactID string) *engine.Run {
			return &engine.Run{ID: id, ScenarioID: "scn_a", Version: 1, ContactID: contactID, EventID: "evt_1",
				Status: engine.RunActive, CreatedAt: t0}
		}
		err := s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
			if err := tx.InsertNewContacts(ctx, []*engine.Contact{contact("con_1", "One@example.org"), contact("con_2", "two@example.org")}); err != nil {
				return err
			}
			if err := tx.SubscribeNew(ctx, []engine.SubscriptionChange{{ListID: "lst_a", ContactID: "con_1", Subscribed: true},
				{ListID: "lst_b", ContactID: "con_1", Subscribed: true}, {ListID: "lst_a", ContactID: "con_2", Subscribed: true}}, at(1)); err != nil {
				return err
			}
			if err := tx.InsertNewRuns(ctx, []*engine.Run{run("run_1", "con_1"), run("run_2", "con_2")}); err != nil {
				return err
			}
			if err := tx.InsertNewDeliveries(ctx, []*engine.Delivery{delivery("dlv_1", "scn_a", "hook", t0)}); err != nil {
				return err
			}
			// A read in the same transaction sees what went before it.
			got, _, err := tx.GetContactsByEmail(ctx, []string{"one@example.org", "TWO@example.org"}, nil)
			if err != nil || len(got) != 2 {
				return fmt.Errorf("read back in the transaction: %d contacts, %v", len(got), err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for id, want := range map[string][]string{"con_1": {"lst_a", "lst_b"}, "con_2": {"lst_a"}} {
			if got, err := s.ContactLists(ctx, id); err != nil || !slices.Equal(got, want) {
				t.Errorf("ContactLists(%s) = %v, %v; want %v", id, got, err, want)
			}
		}
		for _, id := range []string{"run_1", "run_2"} {
			if r, err := s.GetRun(ctx, id); err != nil || r.Status != engine.RunActive {
				t.Errorf("GetRun(%s) = %+v, %v", id, r, err)
			}
		}
		if d, err := s.GetDelivery(ctx, "dlv_1"); err != nil || d.Status != engine.DeliveryPending {
			t.Errorf("GetDelivery(dlv_1) = %+v, %v", d, err)
		}
		if got, err := s.ContactsByDate(ctx, engine.DateQuery{Name: "birthday", MonthDays: []string{"03-10"}}); err != nil || len(got) != 2 {
			t.Errorf("birthdays of the new contacts: %+v, %v; want 2", got, err)
		}

		// Each write meeting a row that exists fails the transaction.
		for _, tc := range []struct {
			name  string
			write func(ctx context.Context, tx engine.Tx) error
		}{
			{"an email taken, other case", func(ctx context.Context, tx engine.Tx) error {
				return tx.InsertNewContacts(ctx, []*engine.Contact{contact("con_3", "three@example.org"), contact("con_4", "OLD@example.org")})
			}},
			{"a subscription that exists", func(ctx context.Context, tx engine.Tx) error {
				return tx.SubscribeNew(ctx, []engine.SubscriptionChange{{ListID: "lst_b", ContactID: "con_2", Subscribed: true},
					{ListID: "lst_a", ContactID: "con_1", Subscribed: true}}, at(2))
			}},
			{"a contact already in the scenario", func(ctx context.Context, tx engine.Tx) error {
				return tx.InsertNewRuns(ctx, []*engine.Run{run("run_3", "con_old"), run("run_4", "con_1")})
			}},
			{"a delivery that exists", func(ctx context.Context, tx engine.Tx) error {
				return tx.InsertNewDeliveries(ctx, []*engine.Delivery{delivery("dlv_2", "scn_a", "hook", t0), delivery("dlv_1", "scn_a", "hook", t0)})
			}},
		} {
			err := s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
				if err := tx.InsertNewContacts(ctx, []*engine.Contact{contact("con_5", "five@example.org")}); err != nil {
					return err
				}
				return tc.write(ctx, tx) // sent with the commit, on PostgreSQL
			})
			if !errors.Is(err, engine.ErrConflict) {
				t.Errorf("%s: %v, want ErrConflict", tc.name, err)
			}
		}
		for _, id := range []string{"con_3", "con_4", "con_5"} {
			if _, err := s.GetContact(ctx, id); !errors.Is(err, engine.ErrNotFound) {
				t.Errorf("GetContact(%s) of a transaction that failed: %v, want ErrNotFound", id, err)
			}
		}
		for _, id := range []string{"run_3", "run_4"} {
			if _, err := s.GetRun(ctx, id); !errors.Is(err, engine.ErrNotFound) {
				t.Errorf("GetRun(%s) of a transaction that failed: %v, want ErrNotFound", id, err)
			}
		}
		if got, err := s.ContactLists(ctx, "con_2"); err != nil || !slices.Equal(got, []string{"lst_a"}) {
			t.Errorf("ContactLists(con_2) after a failed subscribe = %v, %v", got, err)
		}
		if _, err := s.GetDelivery(ctx, "dlv_2"); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("GetDelivery(dlv_2) of a transaction that failed: %v, want ErrNotFound", err)
		}
		err = s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
			return errors.Join(tx.InsertNewContacts(ctx, nil), tx.SubscribeNew(ctx, nil, t0), tx.InsertNewRuns(ctx, nil), tx.InsertNewDeliveries(ctx, nil))
		})
		if err != nil {
			t.Errorf("writing no rows: %v", err)
		}
	}
}
