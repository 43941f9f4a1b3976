package storage

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/uptrace/bun/driver/pgdriver"
	"github.com/uptrace/bun/migrate"
)

// migrationFiles holds one set of numbered SQL migrations per database,
// with the same numbers in each. Files named NNN_name.tx.up.sql run in a
// transaction; an applied migration is never edited.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// Migrate applies the migrations not applied yet, in order; each one is
// recorded in sluice_migrations once it succeeded. On PostgreSQL it holds
// an advisory lock (per schema) meanwhile, so processes that migrate at
// the same time take turns. On SQLite one process should migrate at a time.
func (s *Store) Migrate(ctx context.Context) error {
	dir := "migrations/sqlite"
	if s.postgres {
		dir = "migrations/postgres"
	}
	files, err := fs.Sub(migrationFiles, dir)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(files); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if s.postgres {
		unlock, err := s.lockMigrations(ctx)
		if err != nil {
			return err
		}
		defer unlock()
	}
	m := migrate.NewMigrator(s.db, ms,
		migrate.WithTableName("sluice_migrations"),
		migrate.WithLocksTableName("sluice_migration_locks"),
		migrate.WithMarkAppliedOnSuccess(true))
	if err := m.Init(ctx); err != nil {
		return fmt.Errorf("migrate: init: %w", err)
	}
	if _, err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// lockMigrations takes a PostgreSQL advisory lock named after the current
// schema on a connection of its own (so that it works whatever the pool
// size) and returns the function that releases it.
func (s *Store) lockMigrations(ctx context.Context) (unlock func(), err error) {
	db := sql.OpenDB(pgdriver.NewConnector(s.pgOpts...))
	db.SetMaxOpenConns(1)
	const key = "hashtext('sluice.migrate.' || coalesce(current_schema(), ''))"
	if _, err := db.ExecContext(ctx, "SELECT pg_advisory_lock("+key+")"); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("migrate: lock: %w", err)
	}
	return func() {
		_, _ = db.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock("+key+")")
		_ = db.Close()
	}, nil
}
