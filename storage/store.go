// Package storage keeps Sluice's system of record in SQL through bun: a
// SQLite file (pure Go driver, no cgo) for the embedded default, or
// PostgreSQL. Store implements engine.Store; Migrate applies the embedded,
// forward-only migrations of storage/migrations/{sqlite,postgres}.
//
// Times are stored in UTC with microsecond precision (timestamptz on
// PostgreSQL, fixed-width RFC 3339 text on SQLite, so that text order is time
// order) and read back in UTC. Scenario signing secrets are sealed with
// Config.Secrets before they are written and opened when they are read.
package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/pgdriver"
	"github.com/uptrace/bun/driver/sqliteshim"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/secrets"
)

// Config configures Open.
type Config struct {
	// URL names the database: "postgres://…" (or "postgresql://…") for
	// PostgreSQL, "sqlite://path" or a bare file path for SQLite. Required.
	URL string
	// Secrets seals Scenario.SigningSecret at rest. Required.
	Secrets *secrets.Box
	// MaxOpenConns caps the PostgreSQL connection pool. Defaults to 10.
	// SQLite always uses a single connection: it allows one writer at a
	// time, and one connection turns lock contention into queueing.
	MaxOpenConns int
	// CopyMinRows is the fewest rows of one write of new rows (events,
	// a new run's steps, deliveries, attempts…) that PostgreSQL gets as
	// COPY instead of INSERT … VALUES (pgcopy.go). Defaults to 4;
	// negative: never.
	CopyMinRows int
}

// DefaultMaxOpenConns is the PostgreSQL pool size used when
// Config.MaxOpenConns is zero.
const DefaultMaxOpenConns = 10

// sqliteBusyTimeout is how long a SQLite statement waits for another
// process's write lock before failing with "database is locked".
const sqliteBusyTimeout = 10 * time.Second

// Store is the SQL implementation of engine.Store. It is safe for
// concurrent use.
type Store struct {
	repo
	db *bun.DB
	// read serves the reads made outside a transaction that must not
	// queue behind writes: the workers' step reads, the sweeper's, the
	// statistics and the metrics gauges. On SQLite it is a pool of
	// read-only connections: in WAL mode they read the last commit while
	// the one writer connection writes, instead of queueing behind its
	// transactions. On PostgreSQL it is db.
	read     *bun.DB
	box      *secrets.Box
	postgres bool
	// pgOpts reopen the database for the migration lock (PostgreSQL).
	pgOpts []pgdriver.Option
	count  *atomic.Uint64
	trips  *atomic.Uint64 // round trips to PostgreSQL (pgConn)
	// copyMinRows: Config.CopyMinRows, 0 for never.
	copyMinRows int
}

var _ engine.Store = (*Store)(nil)

// Open connects to the database named by cfg.URL and checks that it
// answers. It does not migrate: call Migrate.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Secrets == nil {
		return nil, errors.New("storage: Config.Secrets is required")
	}
	if cfg.URL == "" {
		return nil, errors.New("storage: Config.URL is required")
	}
	if cfg.MaxOpenConns < 0 {
		return nil, errors.New("storage: Config.MaxOpenConns must not be negative")
	}
	if cfg.MaxOpenConns == 0 {
		cfg.MaxOpenConns = DefaultMaxOpenConns
	}
	switch {
	case cfg.CopyMinRows == 0:
		cfg.CopyMinRows = defaultCopyMinRows
	case cfg.CopyMinRows < 0:
		cfg.CopyMinRows = 0
	}
	s := &Store{box: cfg.Secrets, count: new(atomic.Uint64), trips: new(atomic.Uint64), copyMinRows: cfg.CopyMinRows}
	if strings.HasPrefix(cfg.URL, "postgres://") || strings.HasPrefix(cfg.URL, "postgresql://") {
		opts, err := pgOptions(cfg.URL)
		if err != nil {
			return nil, err
		}
		sqldb := sql.OpenDB(pgConnector{pgdriver.NewConnector(opts...), s.trips, s.count})
		sqldb.SetMaxOpenConns(cfg.MaxOpenConns)
		sqldb.SetMaxIdleConns(cfg.MaxOpenConns)
		sqldb.SetConnMaxIdleTime(5 * time.Minute)
		s.db = bun.NewDB(sqldb, pgdialect.New(), bun.WithDiscardUnknownColumns())
		s.read = s.db
		s.postgres = true
		s.pgOpts = opts
	} else {
		configureSQLite()
		sqldb, err := sql.Open(sqliteshim.ShimName, sqliteDSN(cfg.URL))
		if err != nil {
			return nil, fmt.Errorf("storage: open sqlite: %w", err)
		}
		// One connection: SQLite has one writer; the pool queues callers
		// instead of letting them fail with "database is locked". Never
		// close it when idle (an in-memory database would vanish).
		sqldb.SetMaxOpenConns(1)
		sqldb.SetMaxIdleConns(1)
		sqldb.SetConnMaxIdleTime(0)
		sqldb.SetConnMaxLifetime(0)
		s.db = bun.NewDB(sqldb, sqlitedialect.New(), bun.WithDiscardUnknownColumns())
		readdb, err := sql.Open(sqliteshim.ShimName, sqliteDSN(cfg.URL)+"&_pragma=query_only(1)")
		if err != nil {
			_ = s.db.Close()
			return nil, fmt.Errorf("storage: open sqlite for reading: %w", err)
		}
		readdb.SetMaxOpenConns(sqliteReaders)
		readdb.SetMaxIdleConns(sqliteReaders)
		s.read = bun.NewDB(readdb, sqlitedialect.New(), bun.WithDiscardUnknownColumns())
		s.read.AddQueryHook(counterHook{n: s.count})
		s.db.AddQueryHook(counterHook{n: s.count}) // PostgreSQL's connections count their own (pgConn)
	}
	s.repo = repo{db: s.db, st: s}
	if err := s.db.PingContext(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("storage: connect: %w", err)
	}
	return s, nil
}

// sqliteReaders is the size of SQLite's read pool.
const sqliteReaders = 2

// pgOptions parses a postgres:// URL into pgdriver options. Parameters
// pgdriver does not know (e.g. search_path) are sent to the server as
// run-time settings when a connection starts.
func pgOptions(rawURL string) (opts []pgdriver.Option, err error) {
	if _, err := url.Parse(rawURL); err != nil {
		return nil, fmt.Errorf("storage: database URL: %w", err)
	}
	// pgdriver.WithDSN panics on a DSN it cannot use; test it first.
	defer func() {
		if r := recover(); r != nil {
			opts, err = nil, fmt.Errorf("storage: database URL: %v", r)
		}
	}()
	pgdriver.NewConnector(pgdriver.WithDSN(rawURL))
	// The URL's application_name, if any, wins over "sluice".
	return []pgdriver.Option{pgdriver.WithApplicationName("sluice"), pgdriver.WithDSN(rawURL)}, nil
}

// sqliteDSN turns "sqlite://path" or a bare path into a modernc DSN with
// WAL, a busy timeout, foreign keys, synchronous=NORMAL and BEGIN IMMEDIATE
// transactions (a transaction that reads and then writes cannot then fail
// to upgrade its lock when another process writes).
func sqliteDSN(raw string) string {
	path := strings.TrimPrefix(strings.TrimPrefix(raw, "sqlite://"), "sqlite:")
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", sqliteBusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	if !strings.HasPrefix(path, "file:") {
		path = "file:" + path
	}
	return path + sep + q.Encode()
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close closes the database.
func (s *Store) Close() error {
	err := s.db.Close()
	if s.read != s.db {
		err = errors.Join(err, s.read.Close())
	}
	return err
}

// DB returns the underlying bun database, for tests and tools.
func (s *Store) DB() *bun.DB { return s.db }

// Postgres reports whether the store is on PostgreSQL (else SQLite).
func (s *Store) Postgres() bool { return s.postgres }

// Statements returns how many SQL statements (BEGIN, COMMIT and ROLLBACK
// included) the store has sent since it was opened. On PostgreSQL they are
// counted as they go to the server, after statements are merged (pgConn).
func (s *Store) Statements() uint64 { return s.count.Load() }

// RoundTrips returns how many messages the store has sent to PostgreSQL
// and waited for since it was opened: fewer than Statements, since inside
// a transaction BEGIN and statements sent later travel with the next one
// (pgConn). On SQLite, which runs in the process, it is 0.
func (s *Store) RoundTrips() uint64 { return s.trips.Load() }

// counterHook counts statements with one atomic add per statement.
type counterHook struct{ n *atomic.Uint64 }

// BeforeQuery counts the statement.
func (h counterHook) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	h.n.Add(1)
	return ctx
}

// AfterQuery does nothing.
func (counterHook) AfterQuery(context.Context, *bun.QueryEvent) {}

// repo runs the queries of engine.Tx on a *bun.DB or a bun.Tx.
type repo struct {
	db bun.IDB
	tx bool   // db is a bun.Tx
	st *Store // the store it belongs to
}

// txKey is the context key under which InTx stores its transaction.
type txKey struct{}

// txVal is the transaction in flight in a context.
type txVal struct {
	st *Store
	r  *repo
}

// conn returns what to run a statement on: a Tx-bound repo runs on its
// transaction; the Store runs on the transaction of an InTx in ctx (so a
// Store method called inside InTx's fn joins the transaction instead of
// waiting for SQLite's single connection for ever), else on the pool.
func (r *repo) conn(ctx context.Context) bun.IDB {
	if !r.tx {
		if v, ok := ctx.Value(txKey{}).(*txVal); ok && v.st == r.st {
			return v.r.db
		}
	}
	return r.db
}

// reader is what to run a read on: the transaction's connection when
// there is one (conn), else the store's read pool.
func (r *repo) reader(ctx context.Context) bun.IDB {
	if db := r.conn(ctx); db != r.st.db {
		return db
	}
	return r.st.read
}

// InTx runs fn in one transaction, committed when fn returns nil and
// rolled back otherwise (or when fn panics). Called on a Tx-bound value, or
// with a ctx from inside another InTx of the same store, it runs fn in
// that transaction.
func (r *repo) InTx(ctx context.Context, fn func(ctx context.Context, tx engine.Tx) error) error {
	if r.tx {
		return fn(ctx, r)
	}
	if v, ok := ctx.Value(txKey{}).(*txVal); ok && v.st == r.st {
		return fn(ctx, v.r)
	}
	var fnErr error
	err := r.st.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		tr := &repo{db: tx, tx: true, st: r.st}
		fnErr = fn(context.WithValue(ctx, txKey{}, &txVal{st: r.st, r: tr}), tr)
		return fnErr
	})
	if err != nil && fnErr == nil {
		// A statement sent with COMMIT (later) failed, or the commit did.
		return wrap(err, "commit")
	}
	return err
}

// atomic runs fn in a transaction unless it already runs in one.
func (r *repo) atomic(ctx context.Context, fn func(ctx context.Context, r *repo) error) error {
	return r.InTx(ctx, func(ctx context.Context, tx engine.Tx) error { return fn(ctx, tx.(*repo)) })
}

// box returns the secrets box.
func (r *repo) box() *secrets.Box { return r.st.box }
