// Package storagetest opens migrated storage.Stores for tests: a fresh
// SQLite file, or a fresh schema of the PostgreSQL database named by
// SLUICE_TEST_DATABASE_URL, dropped at cleanup.
package storagetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/sluicehq/sluice/engine/secrets"
	"github.com/sluicehq/sluice/storage"
)

// DefaultPostgresURL is the database used when SLUICE_TEST_DATABASE_URL is
// not set.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Each runs fn as two parallel subtests, "sqlite" and "postgres", each on a
// freshly migrated store of its own. The PostgreSQL subtest is skipped when
// the database is unreachable, unless CI=true.
func Each(t *testing.T, fn func(t *testing.T, s *storage.Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, OpenSQLite(t))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		fn(t, OpenPostgres(t))
	})
}

// Box returns a secrets box with a random key.
func Box(t testing.TB) *secrets.Box {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	box, err := secrets.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return box
}

// SQLiteURL returns the URL of a new SQLite file in t.TempDir().
func SQLiteURL(t testing.TB) string {
	t.Helper()
	return "sqlite://" + filepath.Join(t.TempDir(), "sluice.db")
}

// OpenSQLite returns a migrated store on a new SQLite file, closed at
// cleanup.
func OpenSQLite(t testing.TB) *storage.Store {
	t.Helper()
	return open(t, SQLiteURL(t))
}

// OpenPostgres returns a migrated store on a new PostgreSQL schema,
// closed and dropped at cleanup.
func OpenPostgres(t testing.TB) *storage.Store {
	t.Helper()
	return open(t, PostgresURL(t))
}

// open returns a migrated store on url with a random secrets key, closed
// at cleanup.
func open(t testing.TB, url string) *storage.Store {
	t.Helper()
	ctx := context.Background()
	s, err := storage.Open(ctx, storage.Config{URL: url, Secrets: Box(t)})
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

// PostgresURL creates a new schema in the test database and returns the
// database URL with search_path set to it; the schema is dropped at
// cleanup. It skips t when PostgreSQL is unreachable, unless CI=true, when
// it fails.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("SLUICE_TEST_DATABASE_URL")
	if base == "" {
		base = DefaultPostgresURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	name := "sluice_test_" + randomHex(t, 8)
	if err := adminExec(ctx, base, "CREATE SCHEMA ?", name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL unreachable (CI=true): %v", err)
		}
		t.Skipf("PostgreSQL unreachable, set SLUICE_TEST_DATABASE_URL: %v", err)
	}
	t.Cleanup(func() {
		// Registered before the store's cleanup, so it runs after the
		// store is closed.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := adminExec(ctx, base, "DROP SCHEMA ? CASCADE", name); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// adminExec runs one statement about schema on the base database.
func adminExec(ctx context.Context, base, query, schema string) error {
	db := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(base)))
	defer db.Close()
	bdb := bun.NewDB(db, pgdialect.New())
	_, err := bdb.ExecContext(ctx, query, bun.Ident(schema))
	return err
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
