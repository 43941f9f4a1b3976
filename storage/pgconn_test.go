package storage_test

import (
	"context"
	"errors"
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
// round trip, and what it wrote is there afterwards.
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
	if rt != 1 || st != 4 {
		t.Fatalf("%d round trips for %d statements; want 1 for 4 (BEGIN, events, stats, COMMIT)", rt, st)
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
	ctx := context.Background()
	stop := errors.New("stop")
	rt, _, err := trips(t, s, func() error {
		return s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
			if err := tx.InsertEvents(ctx, []*engine.Event{event("evt_1")}); err != nil {
				return err
			}
			return stop
		})
	})
	if !errors.Is(err, stop) || rt != 0 {
		t.Fatalf("rolled back: %d round trips, %v; want 0 and the function's error", rt, err)
	}
	if _, err := s.GetEvent(ctx, "evt_1"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("event of the rolled-back transaction: %v, want ErrNotFound", err)
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
