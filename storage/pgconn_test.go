package storage_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/storage"
	"github.com/sluicehq/sluice/storage/storagetest"
)

// openPostgresOneConn returns a migrated PostgreSQL store whose pool holds
// one connection, so that every call reuses the connection the last left.
func openPostgresOneConn(t *testing.T) *storage.Store {
	t.Helper()
	return openPostgres(t, storage.Config{MaxOpenConns: 1})
}

// openPostgres returns a migrated store on a new PostgreSQL schema,
// configured by cfg but for its URL and secrets.
func openPostgres(t *testing.T, cfg storage.Config) *storage.Store {
	t.Helper()
	ctx := context.Background()
	cfg.URL, cfg.Secrets = storagetest.PostgresURL(t), storagetest.Box(t)
	s, err := storage.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// trips runs fn and returns the round trips and statements it made.
func trips(t *testing.T, s *storage.Store, fn func() error) (roundTrips, statements uint64, err error) {
	t.Helper()
	r0, s0 := s.RoundTrips(), s.Statements()
	err = fn()
	return s.RoundTrips() - r0, s.Statements() - s0, err
}

func event(id string) *engine.Event {
	return &engine.Event{ID: id, Type: "signup", ContactID: "ctc_1", OccurredAt: t0}
}

// Inside a transaction, BEGIN and the writes that return nothing travel
// with the next statement: a transaction that only writes such rows is one
// round trip, and, its INSERTs merged into one statement, sent without
// BEGIN and COMMIT, one statement; what it wrote is there afterwards.
func TestTransactionSendsLaterWritesWithCommit(t *testing.T) {
	s := openPostgresOneConn(t)
	ctx := context.Background()
	f := newFixture(t, s)
	f.contact("ctc_1", "a@example.org")
	sc := f.scenario("scn_1")
	rt, st, err := trips(t, s, func() error {
		return s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
			if err := tx.InsertEvents(ctx, []*engine.Event{event("evt_1"), event("evt_2")}); err != nil {
				return err
			}
			return tx.BumpStats(ctx, []engine.StatDelta{{ScenarioID: sc.ID, Version: 1, NodeID: "hook", Hour: t0, Reached: 2}})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if rt != 1 || st != 1 {
		t.Fatalf("%d round trips for %d statements; want 1 for 1 (events and stats in one)", rt, st)
	}
	for _, id := range []string{"evt_1", "evt_2"} {
		if _, err := s.GetEvent(ctx, id); err != nil {
			t.Fatalf("event %s after commit: %v", id, err)
		}
	}
	stats, err := s.GetStats(ctx, sc.ID, 1)
	if err != nil || len(stats) != 1 || stats[0].Reached != 2 {
		t.Fatalf("stats after commit: %+v, %v", stats, err)
	}

	// A query sees what was held back before it: the held writes go first.
	rt, _, err = trips(t, s, func() error {
		return s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
			if err := tx.InsertEvents(ctx, []*engine.Event{event("evt_3")}); err != nil {
				return err
			}
			ev, err := tx.GetEvent(ctx, "evt_3")
			if err != nil {
				return err
			}
			if ev.ID != "evt_3" {
				t.Errorf("read %q", ev.ID)
			}
			return nil
		})
	})
	if err != nil || rt != 2 {
		t.Fatalf("write then read: %d round trips (want 2: BEGIN, insert and select; COMMIT), %v", rt, err)
	}
}

// The writes merged into one statement, sent without BEGIN, are still all
// or nothing: when one part fails (a duplicate event), the others (the
// counters) are not there, the error is the part's own, and the connection
// is usable.
func TestMergedWritesFailTogether(t *testing.T) {
	s := openPostgresOneConn(t)
	ctx := context.Background()
	f := newFixture(t, s)
	sc := f.scenario("scn_1")
	if err := s.InsertEvents(ctx, []*engine.Event{event("evt_dup")}); err != nil {
		t.Fatal(err)
	}
	rt, st, err := trips(t, s, func() error {
		return s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
			if err := tx.BumpStats(ctx, []engine.StatDelta{{ScenarioID: sc.ID, Version: 1, NodeID: "hook", Hour: t0, Reached: 1}}); err != nil {
				return err
			}
			return tx.InsertEvents(ctx, []*engine.Event{event("evt_dup")})
		})
	})
	if !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("commit with a duplicate event: %v, want ErrConflict", err)
	}
	if rt != 1 || st != 1 {
		t.Errorf("%d round trips, %d statements; want one merged statement and no ROLLBACK", rt, st)
	}
	if stats, err := s.GetStats(ctx, sc.ID, 1); err != nil || len(stats) != 0 {
		t.Fatalf("stats of the failed statement: %+v, %v; want none", stats, err)
	}
	if err := s.InsertEvents(ctx, []*engine.Event{event("evt_after")}); err != nil {
		t.Fatal(err)
	}
}

// A merged statement checks its foreign keys at its end, so a row may
// refer to one that another part of it inserts: a new contact's dates.
func TestMergedWritesSeeEachOthersKeys(t *testing.T) {
	s := openPostgresOneConn(t)
	ctx := context.Background()
	c := &engine.Contact{ID: "ctc_d", Email: "d@example.org", Dates: map[string]string{"birthday": "1990-04-01"},
		CreatedAt: t0, UpdatedAt: t0}
	rt, st, err := trips(t, s, func() error {
		return s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
			if err := tx.InsertNewContacts(ctx, []*engine.Contact{c}); err != nil {
				return err
			}
			return tx.InsertEvents(ctx, []*engine.Event{{ID: "evt_d", Type: "signup", ContactID: c.ID, OccurredAt: t0}})
		})
	})
	if err != nil || rt != 1 || st != 1 {
		t.Fatalf("contact, dates and event: %d round trips, %d statements, %v; want 1, 1, nil", rt, st, err)
	}
	got, err := s.GetContact(ctx, c.ID)
	if err != nil || got.Dates["birthday"] != "1990-04-01" {
		t.Fatalf("contact after the merged insert: %+v, %v", got, err)
	}
}

// A transaction's first read, marked readFirst (looking contacts up by
// email), runs ahead of BEGIN; the writes after it still go as one
// statement, and a transaction that ends in an error after the read wrote
// nothing and left the connection clean.
func TestReadFirstRunsBeforeBegin(t *testing.T) {
	s := openPostgresOneConn(t)
	ctx := context.Background()
	f := newFixture(t, s)
	f.contact("ctc_1", "a@example.org")
	sc := f.scenario("scn_1")
	rt, st, err := trips(t, s, func() error {
		return s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
			cs, _, err := tx.GetContactsByEmail(ctx, []string{"A@example.org", "b@example.org"}, nil)
			if err != nil {
				return err
			}
			if len(cs) != 1 || cs[0].ID != "ctc_1" {
				t.Errorf("contacts by email: %+v", cs)
			}
			if err := tx.InsertEvents(ctx, []*engine.Event{event("evt_1")}); err != nil {
				return err
			}
			return tx.BumpStats(ctx, []engine.StatDelta{{ScenarioID: sc.ID, Version: 1, NodeID: "hook", Hour: t0, Reached: 1}})
		})
	})
	if err != nil || rt != 2 || st != 2 {
		t.Fatalf("read, then events and stats: %d round trips, %d statements, %v; want 2, 2, nil", rt, st, err)
	}
	if _, err := s.GetEvent(ctx, "evt_1"); err != nil {
		t.Fatal(err)
	}
	if rt := failedTrips(t, s, true, "evt_2"); rt != 1 {
		t.Fatalf("read, write, error: %d round trips; want 1 (the read)", rt)
	}
	// After a write, the same read runs inside the transaction and sees it.
	err = s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
		if err := tx.InsertNewContacts(ctx, []*engine.Contact{{ID: "ctc_3", Email: "c@example.org", CreatedAt: t0, UpdatedAt: t0}}); err != nil {
			return err
		}
		cs, _, err := tx.GetContactsByEmail(ctx, []string{"c@example.org"}, nil)
		if err == nil && len(cs) != 1 {
			t.Errorf("a read after a write in the transaction found %d contacts, want 1", len(cs))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A held-back write that fails fails the commit with the storage error it
// would have had alone (a conflict), the whole transaction is rolled back,
// and the connection goes back to the pool usable, outside any
// transaction.
func TestLaterWriteFailureRollsBack(t *testing.T) {
	s := openPostgresOneConn(t)
	ctx := context.Background()
	if err := s.InsertEvents(ctx, []*engine.Event{event("evt_dup")}); err != nil {
		t.Fatal(err)
	}
	err := s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
		if err := tx.InsertEvents(ctx, []*engine.Event{event("evt_new")}); err != nil {
			return err
		}
		return tx.InsertEvents(ctx, []*engine.Event{event("evt_dup")}) // held back: fails at commit
	})
	if !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("commit with a duplicate event: %v, want ErrConflict", err)
	}
	if _, err := s.GetEvent(ctx, "evt_new"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("event of the failed transaction: %v, want ErrNotFound", err)
	}
	// The one connection is not left in an aborted transaction: a write
	// outside a transaction sticks, and the next transaction commits.
	if err := s.InsertEvents(ctx, []*engine.Event{event("evt_after")}); err != nil {
		t.Fatal(err)
	}
	if err := s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
		return tx.InsertEvents(ctx, []*engine.Event{event("evt_tx")})
	}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"evt_after", "evt_tx"} {
		if _, err := s.GetEvent(ctx, id); err != nil {
			t.Fatalf("event %s: %v", id, err)
		}
	}
}

// A transaction that gives up before any statement had to be sent costs
// no round trip and leaves nothing behind.
func TestRollbackBeforeAnythingSent(t *testing.T) {
	s := openPostgresOneConn(t)
	if rt := failedTrips(t, s, false, "evt_1"); rt != 0 {
		t.Fatalf("rolled back: %d round trips; want 0", rt)
	}
}

// A statement prepared on a connection runs inside the transaction that
// uses it, also in a later transaction on the same connection, where it is
// not prepared again: BEGIN, held back, goes before it.
func TestPreparedStatementRunsInsideTransaction(t *testing.T) {
	s := openPostgresOneConn(t)
	ctx := context.Background()
	stmt, err := s.DB().DB.PrepareContext(ctx,
		`INSERT INTO events (id, type, contact_id, list_id, occurred_at) VALUES ($1, 'signup', '', '', now())`)
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	for _, id := range []string{"evt_a", "evt_b"} {
		tx, err := s.DB().DB.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.StmtContext(ctx, stmt).ExecContext(ctx, id); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetEvent(ctx, id); !errors.Is(err, engine.ErrNotFound) {
			t.Fatalf("%s, inserted by a rolled-back transaction: %v, want ErrNotFound", id, err)
		}
	}
}

// Where transactions do not run at READ COMMITTED, a read outside the
// transaction could see other rows than one inside it: there the read
// waits for BEGIN like any other.
func TestReadFirstWaitsAboveReadCommitted(t *testing.T) {
	ctx := context.Background()
	url := storagetest.PostgresURL(t)
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	s, err := storage.Open(ctx, storage.Config{URL: url + sep + "default_transaction_isolation=repeatable%20read",
		Secrets: storagetest.Box(t), MaxOpenConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	rt, st, err := trips(t, s, func() error {
		return s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
			if _, _, err := tx.GetContactsByEmail(ctx, []string{"a@example.org"}, nil); err != nil {
				return err
			}
			return tx.InsertEvents(ctx, []*engine.Event{event("evt_1")})
		})
	})
	if err != nil || rt != 2 || st != 4 {
		t.Fatalf("read, then write at REPEATABLE READ: %d round trips, %d statements, %v; want 2, 4 (BEGIN and the read; the write and COMMIT)", rt, st, err)
	}
}

// failedTrips runs a transaction that reads contacts by email (if read),
// inserts the event id and then fails; it checks that the transaction's
// error is the function's and that the event is not there, and returns
// the round trips it made.
func failedTrips(t *testing.T, s *storage.Store, read bool, id string) uint64 {
	t.Helper()
	ctx := context.Background()
	stop := errors.New("stop")
	rt, _, err := trips(t, s, func() error {
		return s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
			if read {
				if _, _, err := tx.GetContactsByEmail(ctx, []string{"a@example.org"}, nil); err != nil {
					return err
				}
			}
			if err := tx.InsertEvents(ctx, []*engine.Event{event(id)}); err != nil {
				return err
			}
			return stop
		})
	})
	if !errors.Is(err, stop) {
		t.Fatalf("failed transaction: %v, want the function's error", err)
	}
	if _, err := s.GetEvent(ctx, id); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("event of the rolled-back transaction: %v, want ErrNotFound", err)
	}
	return rt
}

// A query sent later (FinishAll's) waits for the commit and the writes
// after it join it: the finish, the delivery and the counters are one
// statement. A query in between sends it first, on its own, and what it
// answers is read all the same.
func TestQueryLaterJoinsTheCommit(t *testing.T) {
	s := openPostgresOneConn(t)
	ctx := context.Background()
	f := newFixture(t, s)
	sc := f.scenario("scn_1")
	finish := func(id string, between bool) (rt, st uint64, completed []string) {
		t.Helper()
		r := f.run("run_"+id, sc.ID, "con_"+id)
		if _, err := s.InsertSteps(ctx, []*engine.Step{step(id, r, "hook", t0)}); err != nil {
			t.Fatal(err)
		}
		rt, st, err := trips(t, s, func() error {
			return s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
				if err := tx.FinishAll(ctx, []string{id}, at(5), []string{r.ID}, nil, &completed); err != nil {
					return err
				}
				if between {
					if _, err := tx.GetRun(ctx, r.ID); err != nil {
						return err
					}
				}
				if err := tx.InsertNewDeliveries(ctx, []*engine.Delivery{delivery("dlv_"+id, sc.ID, "hook", t0)}); err != nil {
					return err
				}
				return tx.BumpStats(ctx, []engine.StatDelta{{ScenarioID: sc.ID, Version: 1, NodeID: "hook", Hour: t0, Accepted: 1}})
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{r.ID}; !slices.Equal(completed, want) {
			t.Errorf("completed %v, want %v", completed, want)
		}
		return rt, st, completed
	}
	if rt, st, _ := finish("stp_1", false); rt != 1 || st != 1 {
		t.Errorf("finish, delivery and counters: %d round trips, %d statements; want 1 and 1", rt, st)
	}
	if rt, st, _ := finish("stp_2", true); rt != 3 || st != 5 {
		t.Errorf("with a read between: %d round trips, %d statements; want 3 (BEGIN and the finish; the read; the writes and COMMIT) and 5", rt, st)
	}
	stats, err := s.GetStats(ctx, sc.ID, 1)
	if err != nil || len(stats) != 1 || stats[0].Accepted != 2 {
		t.Fatalf("counters: %+v, %v; want 2 accepted", stats, err)
	}
}

// Writes that cannot join the query sent later (a COPY) travel with it:
// BEGIN, the query, the COPY and COMMIT in one message, the query's rows
// read on the way. When the query fails (a step no longer pending), the
// COPY is not applied and the transaction is rolled back.
func TestQueryLaterBeforeCopy(t *testing.T) {
	s := openPostgres(t, storage.Config{MaxOpenConns: 1, CopyMinRows: 1})
	ctx := context.Background()
	f := newFixture(t, s)
	sc := f.scenario("scn_1")
	r := f.run("run_1", sc.ID, "con_1")
	done := step("stp_done", r, "hook", t0)
	done.Status, done.DoneAt = engine.StepDone, ptr(t0)
	if _, err := s.InsertSteps(ctx, []*engine.Step{step("stp_1", r, "hook", t0), done}); err != nil {
		t.Fatal(err)
	}
	var completed []string
	finish := func(ids ...string) (uint64, error) {
		completed = nil
		rt, _, err := trips(t, s, func() error {
			return s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
				if err := tx.FinishAll(ctx, ids, at(5), []string{r.ID}, nil, &completed); err != nil {
					return err
				}
				return tx.InsertNewDeliveries(ctx, []*engine.Delivery{delivery("dlv_1", sc.ID, "hook", t0)})
			})
		})
		return rt, err
	}
	if _, err := finish("stp_1", "stp_done"); !errors.Is(err, engine.ErrStale) {
		t.Fatalf("FinishAll of a step done already, then a COPY: %v, want ErrStale", err)
	}
	if _, err := s.GetDelivery(ctx, "dlv_1"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("the COPY of the failed transaction: %v, want ErrNotFound", err)
	}
	rt, err := finish("stp_1")
	if err != nil || rt != 1 {
		t.Fatalf("FinishAll, then a COPY: %d round trips, %v; want 1 (BEGIN, the query, the COPY, COMMIT)", rt, err)
	}
	if want := []string{r.ID}; !slices.Equal(completed, want) {
		t.Errorf("runs the query completed: %v, want %v", completed, want)
	}
	if got, err := s.GetRun(ctx, r.ID); err != nil || got.Status != engine.RunCompleted {
		t.Errorf("run: %+v, %v; want completed", got, err)
	}
	if _, err := s.GetDelivery(ctx, "dlv_1"); err != nil {
		t.Fatal(err)
	}
	if st, err := s.GetStep(ctx, "stp_1"); err != nil || st.Status != engine.StepDone {
		t.Fatalf("step: %v, %v; want done", st, err)
	}
}
