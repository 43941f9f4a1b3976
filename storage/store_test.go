package storage_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/storage"
	"github.com/sluicehq/sluice/storage/storagetest"
)

func TestOpenRequiresSecrets(t *testing.T) {
	t.Parallel()
	_, err := storage.Open(context.Background(), storage.Config{URL: storagetest.SQLiteURL(t)})
	if err == nil || !strings.Contains(err.Error(), "Secrets") {
		t.Fatalf("Open without Secrets: err = %v, want an error naming Secrets", err)
	}
}

func TestOpenBadPostgresURL(t *testing.T) {
	t.Parallel()
	_, err := storage.Open(context.Background(), storage.Config{URL: "postgres://x/y?sslmode=bogus", Secrets: storagetest.Box(t)})
	if err == nil {
		t.Fatal("Open with a bad sslmode: no error")
	}
}

func TestMigrateTwice(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		// storagetest already migrated once.
		for range 2 {
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("Migrate again: %v", err)
			}
		}
		var n int
		if err := s.DB().NewRaw("SELECT COUNT(*) FROM sluice_migrations").Scan(ctx, &n); err != nil {
			t.Fatal(err)
		}
		dir := "sqlite"
		if s.Postgres() {
			dir = "postgres"
		}
		files, err := filepath.Glob("migrations/" + dir + "/*.up.sql")
		if err != nil || len(files) == 0 {
			t.Fatalf("migration files: %v %v", files, err)
		}
		if n != len(files) {
			t.Errorf("sluice_migrations has %d rows, want one per migration (%d)", n, len(files))
		}
	})
}

func TestMigrateConcurrentlyPostgres(t *testing.T) {
	t.Parallel()
	url := storagetest.PostgresURL(t)
	ctx := context.Background()
	const n = 4
	stores := make([]*storage.Store, n)
	for i := range stores {
		s, err := storage.Open(ctx, storage.Config{URL: url, Secrets: storagetest.Box(t), MaxOpenConns: 1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		stores[i] = s
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, s := range stores {
		wg.Go(func() { errs[i] = s.Migrate(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate %d: %v", i, err)
		}
	}
	if _, err := stores[0].ListLists(ctx); err != nil {
		t.Errorf("after concurrent migrations: %v", err)
	}
}

// TestIndexedKeysCompareAsBytes keeps migration 012's rule for the tables
// to come: an indexed text column on PostgreSQL has COLLATE "C", since
// every index entry stored compares keys, and any other collation compares
// them through strcoll.
func TestIndexedKeysCompareAsBytes(t *testing.T) {
	t.Parallel()
	s := storagetest.OpenPostgres(t)
	var cols []string
	err := s.DB().NewRaw(`SELECT DISTINCT c.relname || '.' || a.attname
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (i.indkey)
WHERE c.relnamespace = current_schema()::regnamespace
  AND a.atttypid = 'text'::regtype
  AND a.attcollation <> 'pg_catalog."C"'::regcollation
ORDER BY 1`).Scan(context.Background(), &cols)
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) > 0 {
		t.Errorf("indexed text columns not COLLATE \"C\": %v", cols)
	}
}

func TestInTx(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		t.Run("rollback on error leaves nothing", func(t *testing.T) {
			ctx := context.Background()
			boom := errors.New("boom")
			err := s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
				if err := tx.CreateList(ctx, &engine.List{ID: "lst_rb", Name: "x", CreatedAt: t0}); err != nil {
					return err
				}
				if _, err := tx.InsertContact(ctx, &engine.Contact{ID: "con_rb", Email: "rb@example.org", CreatedAt: t0, UpdatedAt: t0}); err != nil {
					return err
				}
				if err := tx.BumpStats(ctx, []engine.StatDelta{}); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("InTx error = %v, want boom", err)
			}
			if _, err := s.GetList(ctx, "lst_rb"); !errors.Is(err, engine.ErrNotFound) {
				t.Errorf("GetList after rollback: %v, want ErrNotFound", err)
			}
			if _, err := s.GetContact(ctx, "con_rb"); !errors.Is(err, engine.ErrNotFound) {
				t.Errorf("GetContact after rollback: %v, want ErrNotFound", err)
			}
		})
		t.Run("rollback on panic", func(t *testing.T) {
			ctx := context.Background()
			func() {
				defer func() { _ = recover() }()
				_ = s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
					if err := tx.CreateList(ctx, &engine.List{ID: "lst_panic", Name: "x", CreatedAt: t0}); err != nil {
						return err
					}
					panic("boom")
				})
			}()
			if _, err := s.GetList(ctx, "lst_panic"); !errors.Is(err, engine.ErrNotFound) {
				t.Errorf("GetList after panic: %v, want ErrNotFound", err)
			}
		})
		t.Run("nested and store calls join the transaction", func(t *testing.T) {
			ctx := context.Background()
			boom := errors.New("boom")
			err := s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
				nested, ok := tx.(interface {
					InTx(context.Context, func(context.Context, engine.Tx) error) error
				})
				if !ok {
					t.Fatal("the Tx has no InTx")
				}
				if err := nested.InTx(ctx, func(ctx context.Context, tx2 engine.Tx) error {
					return tx2.CreateList(ctx, &engine.List{ID: "lst_nested", Name: "x", CreatedAt: t0})
				}); err != nil {
					return err
				}
				// The Store, called with the transaction's ctx, sees the
				// uncommitted row (on SQLite it would otherwise wait for
				// the single connection for ever).
				if _, err := s.GetList(ctx, "lst_nested"); err != nil {
					return fmt.Errorf("store inside tx: %w", err)
				}
				if err := s.InTx(ctx, func(ctx context.Context, tx3 engine.Tx) error {
					return tx3.CreateList(ctx, &engine.List{ID: "lst_nested2", Name: "x", CreatedAt: t0})
				}); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("InTx error = %v, want boom", err)
			}
			for _, id := range []string{"lst_nested", "lst_nested2"} {
				if _, err := s.GetList(ctx, id); !errors.Is(err, engine.ErrNotFound) {
					t.Errorf("GetList(%s) after rollback: %v, want ErrNotFound", id, err)
				}
			}
		})
		t.Run("commit", func(t *testing.T) {
			ctx := context.Background()
			err := s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
				return tx.CreateList(ctx, &engine.List{ID: "lst_commit", Name: "x", CreatedAt: t0})
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.GetList(ctx, "lst_commit"); err != nil {
				t.Errorf("GetList after commit: %v", err)
			}
		})
	})
}

// TestConcurrentInTxSQLite writes from 8 goroutines, over two Stores on
// one file (as two processes would), without "database is locked".
func TestConcurrentInTxSQLite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storagetest.SQLiteURL(t)
	box := storagetest.Box(t)
	var stores []*storage.Store
	for range 2 {
		s, err := storage.Open(ctx, storage.Config{URL: url, Secrets: box})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		stores = append(stores, s)
	}
	f := newFixture(t, stores[0])
	f.scenario("scn_1")
	const goroutines, perG = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*perG)
	for g := range goroutines {
		s := stores[g%2]
		wg.Go(func() {
			for i := range perG {
				err := s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
					// Read, then write: the lock upgrade that fails with
					// deferred transactions.
					if _, err := tx.GetStats(ctx, "scn_1", 1); err != nil {
						return err
					}
					id := fmt.Sprintf("con_%d_%d", g, i)
					if _, err := tx.InsertContact(ctx, &engine.Contact{ID: id, Email: id + "@example.org", CreatedAt: t0, UpdatedAt: t0}); err != nil {
						return err
					}
					return tx.BumpStats(ctx, []engine.StatDelta{{ScenarioID: "scn_1", Version: 1, NodeID: "trigger", Hour: t0, Reached: 1}})
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("InTx: %v", err)
	}
	stats, err := stores[1].GetStats(ctx, "scn_1", 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []engine.StepStats{{NodeID: "trigger", Reached: goroutines * perG}}
	if diff := cmp.Diff(want, stats); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

func TestStatements(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		before := s.Statements()
		if _, err := s.ListLists(ctx); err != nil {
			t.Fatal(err)
		}
		if got := s.Statements() - before; got != 1 {
			t.Errorf("one query counted %d statements", got)
		}
		before = s.Statements()
		err := s.InTx(ctx, func(ctx context.Context, tx engine.Tx) error {
			_, err := tx.ListLists(ctx)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Statements() - before; got != 3 {
			t.Errorf("BEGIN, query, COMMIT counted %d statements", got)
		}
	})
}

func TestPing(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, s *storage.Store) {
		if err := s.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}
