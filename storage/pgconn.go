package storage

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"
)

// PostgreSQL connections that save round trips inside a transaction.
//
// pgdriver sends every statement as a simple-protocol query (bun has
// already formatted the arguments into it), and a simple query may hold
// several statements, run in order until one fails. So inside a
// transaction nothing needs to go alone:
//
//   - BEGIN is not sent when the transaction begins but in front of its
//     first statement;
//   - a statement run with a later context, whose result its caller does
//     not need (an INSERT without RETURNING, a counter bump), waits and is
//     sent in front of the next statement, or of COMMIT.
//
// A transaction that begins, inserts events, runs and the runs' first
// steps, bumps its counters and commits is so two round trips instead of
// six. What a statement does is the
// same: each still runs in the transaction, in the order it was issued. A
// statement sent later fails later: its error is returned by the call that
// sent it (a later statement, or Commit), and the transaction rolls back.
//
// Statements are also saved, not only round trips:
//
//   - writes that wait together become one statement where they can
//     (mergeWrites);
//   - a transaction whose statements all waited until Commit is sent
//     without BEGIN and COMMIT: the statements of one message run as one
//     transaction anyway (the protocol's implicit transaction);
//   - a read its caller marks readFirst, run before the transaction has
//     sent anything, runs outside it, so BEGIN can still wait for Commit.
//     At READ COMMITTED every statement reads its own snapshot, so a plain
//     read sees the same rows outside the transaction as in it.
//
// So storing a batch of new contacts' events and their runs is a read and
// one statement, and a transaction that only writes is one statement.

// laterKey marks a context whose statement may be sent later.
type laterKey struct{}

// later returns ctx marked so that, inside a PostgreSQL transaction, the
// statement run with it is sent together with the next one. Use it only
// for statements that return no rows and whose result (rows affected) is
// not read: its Exec returns errSentLater for RowsAffected. Outside a
// transaction, and on SQLite, the statement runs at once.
func later(ctx context.Context) context.Context { return context.WithValue(ctx, laterKey{}, true) }

// insertLater inserts the rows of model (a pointer to a slice of rows)
// with a statement that may be sent later: without RETURNING, not even
// the one bun adds to read back the columns it leaves to their defaults.
// The statement is insertSQL's: bun's, without its reflection on every
// value.
func (r *repo) insertLater(ctx context.Context, model any) error {
	q, err := insertSQL(r.st.db.Dialect().Tables(), r.st.db.QueryGen(), model)
	if err != nil {
		return err
	}
	// "?" and bun.Safe: the statement is final, bun must not look for
	// placeholders in its values.
	_, err = r.conn(ctx).ExecContext(later(ctx), "?", bun.Safe(q))
	return err
}

// insertAllLater inserts a row per item, made by row, in one statement
// that may be sent later (copyLater: many rows go as COPY).
func insertAllLater[T, R any](ctx context.Context, r *repo, items []T, row func(T) R, what string) error {
	if len(items) == 0 {
		return nil
	}
	rows := make([]R, len(items))
	for i, it := range items {
		rows[i] = row(it)
	}
	return wrap(r.copyLater(ctx, &rows), "insert %d %s", len(items), what)
}

// errSentLater is what RowsAffected says of a statement sent later.
var errSentLater = errors.New("storage: statement sent with the next one; no row count")

// laterResult is the result of a statement that has not been sent yet.
type laterResult struct{}

func (laterResult) LastInsertId() (int64, error) { return 0, errSentLater }
func (laterResult) RowsAffected() (int64, error) { return 0, errSentLater }

// rowsKey holds, in a context, what takes the rows of a query sent later
// (queryLater).
type rowsKey struct{}

// queryLater returns ctx marked so that, inside a PostgreSQL transaction
// that has sent nothing yet, the query run with it (by ExecContext) waits
// like a later statement, and sink gets its rows when it is sent: with
// the commit, as the main statement of the waiting writes merged into it
// (mergeWrites), or before the next statement. Elsewhere it runs at once.
func queryLater(ctx context.Context, sink func(row []driver.Value) error) context.Context {
	return context.WithValue(ctx, rowsKey{}, sink)
}

// readFirstKey marks a context whose query may run before its
// transaction's BEGIN.
type readFirstKey struct{}

// readFirst returns ctx marked so that, on PostgreSQL at READ COMMITTED,
// the query run with it, if its transaction has sent nothing yet, runs
// outside the transaction. Use it only for plain reads: a SELECT without
// FOR UPDATE or SHARE and nothing else that locks or writes.
func readFirst(ctx context.Context) context.Context {
	return context.WithValue(ctx, readFirstKey{}, true)
}

// pgConnector opens pgConns and counts their round trips and statements.
type pgConnector struct {
	*pgdriver.Connector
	trips, count *atomic.Uint64
}

// Connect opens a connection and reads the isolation its transactions get.
func (c pgConnector) Connect(ctx context.Context) (driver.Conn, error) {
	cn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	pc := &pgConn{Conn: cn.(*pgdriver.Conn), trips: c.trips, count: c.count}
	level, err := pc.show(ctx, "default_transaction_isolation")
	if err != nil {
		_ = cn.Close()
		return nil, err
	}
	pc.readCommitted = level == "read committed"
	return pc, nil
}

// show returns the value of a run-time setting.
func (cn *pgConn) show(ctx context.Context, name string) (string, error) {
	cn.sent(1)
	var v string
	err := cn.queryInto(ctx, "SHOW "+name, func(row []driver.Value) (err error) {
		v, err = textValue(row[0])
		return err
	})
	if err != nil {
		return "", fmt.Errorf("storage: show %s: %w", name, err)
	}
	return v, nil
}

// textValue returns a text column's value as the driver gave it.
func textValue(v driver.Value) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	}
	return "", fmt.Errorf("a text column read as %T", v)
}

// pgConn is a pgdriver connection that holds back BEGIN and later
// statements until the next statement of their transaction. database/sql
// uses a connection from one goroutine at a time.
type pgConn struct {
	*pgdriver.Conn
	trips, count  *atomic.Uint64
	readCommitted bool    // transactions run at READ COMMITTED
	inTx          bool    // a transaction began (maybe not yet on the server)
	begun         bool    // its BEGIN has been sent
	pending       []piece // statements to send before the next one (after BEGIN, if it waits)
}

// waiting tells whether anything waits to be sent: BEGIN or statements.
func (cn *pgConn) waiting() bool { return len(cn.pending) > 0 || cn.inTx && !cn.begun }

// untouched tells a transaction that has neither sent nor held back any
// statement yet: only its BEGIN waits.
func (cn *pgConn) untouched() bool { return cn.inTx && !cn.begun && len(cn.pending) == 0 }

// sent counts a round trip carrying n statements.
func (cn *pgConn) sent(n uint64) {
	cn.trips.Add(1)
	cn.count.Add(n)
}

// copyWaits tells whether a COPY is among the waiting statements: its rows
// go only by an exchange (pgcopy.go).
func (cn *pgConn) copyWaits() bool {
	return slices.ContainsFunc(cn.pending, func(p piece) bool { return p.rows != nil })
}

// Begin begins a transaction.
func (cn *pgConn) Begin() (driver.Tx, error) {
	return cn.BeginTx(context.Background(), driver.TxOptions{})
}

// BeginTx begins a transaction. With the default options BEGIN waits for
// the first statement; other options are sent at once by pgdriver.
func (cn *pgConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if opts.Isolation != driver.IsolationLevel(0) || opts.ReadOnly {
		cn.sent(1)
		if _, err := cn.Conn.BeginTx(ctx, opts); err != nil {
			return nil, err
		}
		cn.inTx, cn.begun = true, true
		return pgTx{cn}, nil
	}
	if !cn.IsValid() {
		return nil, driver.ErrBadConn
	}
	cn.inTx, cn.begun, cn.pending = true, false, cn.pending[:0]
	return pgTx{cn}, nil
}

// ExecContext runs a statement, or, if ctx says later and it may wait,
// holds it until the next one. A COPY (its rows in ctx, copyLater) always
// goes with what waits.
func (cn *pgConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if rows, ok := ctx.Value(copyKey{}).([]byte); ok {
		cn.pending = append(cn.pending, piece{sql: query, rows: rows})
		if cn.inTx && ctx.Value(laterKey{}) != nil {
			return laterResult{}, nil
		}
		return laterResult{}, cn.exchange(ctx, "")
	}
	if sink, ok := ctx.Value(rowsKey{}).(func([]driver.Value) error); ok && len(args) == 0 {
		if cn.untouched() {
			cn.pending = append(cn.pending, piece{sql: query, sink: sink})
			return laterResult{}, nil
		}
		if err := cn.flush(ctx, false); err != nil {
			return nil, err
		}
		cn.trips.Add(1)
		return laterResult{}, cn.queryInto(ctx, cn.take(query), sink)
	}
	if cn.inTx && len(args) == 0 && ctx.Value(laterKey{}) != nil && mayWait(query) {
		cn.pending = append(cn.pending, piece{sql: query})
		return laterResult{}, nil
	}
	if err := cn.flush(ctx, len(args) > 0); err != nil {
		return nil, err
	}
	cn.trips.Add(1)
	return cn.Conn.ExecContext(ctx, cn.take(query), args)
}

// QueryContext runs a query, after the statements waiting for it; or,
// marked readFirst when only BEGIN waits, alone and outside the
// transaction.
func (cn *pgConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if cn.readCommitted && cn.untouched() && ctx.Value(readFirstKey{}) != nil {
		cn.sent(1)
		return cn.Conn.QueryContext(ctx, query, args)
	}
	if err := cn.flush(ctx, len(args) > 0); err != nil {
		return nil, err
	}
	cn.trips.Add(1)
	return cn.Conn.QueryContext(ctx, cn.take(query), args)
}

// PrepareContext prepares a statement, after the statements waiting.
func (cn *pgConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if err := cn.flush(ctx, true); err != nil {
		return nil, err
	}
	cn.trips.Add(1)
	st, err := cn.Conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return &pgStmt{Stmt: st, cn: cn}, nil
}

// Prepare prepares a statement.
func (cn *pgConn) Prepare(query string) (driver.Stmt, error) {
	return cn.PrepareContext(context.Background(), query)
}

// flush sends the waiting statements on their own when the next statement
// cannot carry them (alone: it has arguments, or is prepared; or COPY rows
// wait, which only an exchange sends).
func (cn *pgConn) flush(ctx context.Context, alone bool) error {
	if !cn.waiting() {
		return nil
	}
	if cn.copyWaits() {
		return cn.exchange(ctx, "") // a waiting query with them
	}
	if cn.headWaits() {
		if err := cn.sendHead(ctx); err != nil {
			return err
		}
	}
	if !alone {
		return nil
	}
	cn.trips.Add(1)
	_, err := cn.Conn.ExecContext(ctx, cn.take(""), nil)
	return err
}

// headWaits tells whether a query sent later (queryLater) waits: it is
// then the first waiting statement.
func (cn *pgConn) headWaits() bool { return len(cn.pending) > 0 && cn.pending[0].sink != nil }

// sendHead sends the waiting query (after BEGIN, if that waits) on its own
// and gives its rows to its sink.
func (cn *pgConn) sendHead(ctx context.Context) error {
	h := cn.pending[0]
	cn.pending = append(cn.pending[:0], cn.pending[1:]...)
	q, n := h.sql, uint64(1)
	if cn.inTx && !cn.begun {
		q, n = "BEGIN;\n"+q, 2
		cn.begun = true
	}
	cn.sent(n)
	return cn.queryInto(ctx, q, h.sink)
}

// queryInto runs a query and gives each row to sink.
func (cn *pgConn) queryInto(ctx context.Context, query string, sink func([]driver.Value) error) error {
	rows, err := cn.Conn.QueryContext(ctx, query, nil)
	if err != nil {
		return err
	}
	row := make([]driver.Value, len(rows.Columns()))
	for err == nil {
		if err = rows.Next(row); err == nil {
			err = sink(row)
		}
	}
	if cerr := rows.Close(); errors.Is(err, io.EOF) {
		err = cerr
	}
	return err
}

// take returns query with what waits in front (BEGIN, then the waiting
// statements, merged into one where they can be), empties the wait and
// counts the statements.
func (cn *pgConn) take(query string) string {
	parts := make([]string, 0, len(cn.pending)+2)
	if cn.inTx && !cn.begun {
		parts = append(parts, "BEGIN")
		cn.begun = true
	}
	if merged, ok := mergeWrites(cn.pending); ok {
		parts = append(parts, merged)
	} else if first, merged, ok := mergeTail(cn.pending); ok {
		for _, p := range first {
			parts = append(parts, p.sql)
		}
		parts = append(parts, merged)
	} else {
		for _, p := range cn.pending {
			parts = append(parts, p.sql)
		}
	}
	if query != "" {
		parts = append(parts, query)
	}
	cn.pending = cn.pending[:0]
	cn.count.Add(uint64(len(parts)))
	return strings.Join(parts, ";\n")
}

// mayWait tells whether a statement can be sent later: it must return no
// rows, since only the last statement of a message may (pgdriver reads
// the first result set), so nothing with RETURNING or a SELECT.
func mayWait(query string) bool {
	q := strings.TrimSpace(query)
	if len(q) >= 6 && strings.EqualFold(q[:6], "SELECT") {
		return false
	}
	return !strings.Contains(q, "RETURNING") && !strings.Contains(q, "returning")
}

// pgStmt is a prepared statement of a pgConn. database/sql reuses one
// prepared on a connection in the connection's later transactions, so it
// too sends what waits (BEGIN first) before it runs.
type pgStmt struct {
	driver.Stmt
	cn *pgConn
}

// ExecContext runs the statement after what waits.
func (s *pgStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if err := s.cn.flush(ctx, true); err != nil {
		return nil, err
	}
	s.cn.sent(1)
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

// QueryContext runs the statement after what waits.
func (s *pgStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if err := s.cn.flush(ctx, true); err != nil {
		return nil, err
	}
	s.cn.sent(1)
	return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}

// pgTx ends a pgConn's transaction.
type pgTx struct{ cn *pgConn }

// Commit sends the waiting statements and COMMIT in one message. If the
// transaction never reached the server, there is nothing to commit; if
// only its waiting statements are left to send, they go without BEGIN and
// COMMIT, as one implicit transaction (a COPY's rows excepted: they take
// the exchange). If a statement fails, COMMIT does not run; a transaction
// BEGIN opened is rolled back so that the connection goes back to the
// pool outside any transaction (an implicit one ends by itself).
func (tx pgTx) Commit() error {
	cn := tx.cn
	defer cn.end()
	if !cn.begun && len(cn.pending) == 0 {
		return nil // only BEGIN waited: nothing ran
	}
	ctx := context.Background()
	if cn.headWaits() && !cn.begun {
		if merged, ok := mergeWrites(cn.pending); ok {
			// The query and the writes after it in one statement, its
			// own transaction.
			sink := cn.pending[0].sink
			cn.inTx, cn.pending = false, cn.pending[:0]
			cn.sent(1)
			return cn.queryInto(ctx, merged, sink)
		}
	}
	var err error
	if cn.headWaits() && !cn.copyWaits() {
		err = cn.sendHead(ctx)
	}
	switch {
	case err != nil:
	case cn.copyWaits():
		// A waiting query goes first in the exchange, its rows read.
		err = cn.exchange(ctx, "COMMIT")
	case !cn.begun:
		cn.inTx = false // the message is the transaction
		cn.trips.Add(1)
		_, err = cn.Conn.ExecContext(ctx, cn.take(""), nil)
		return err
	default:
		cn.trips.Add(1)
		_, err = cn.Conn.ExecContext(ctx, cn.take("COMMIT"), nil)
	}
	if err != nil && cn.IsValid() {
		cn.sent(1)
		_, _ = cn.Conn.ExecContext(ctx, "ROLLBACK", nil)
	}
	return err
}

// Rollback drops the waiting statements and rolls back what reached the
// server.
func (tx pgTx) Rollback() error {
	cn := tx.cn
	defer cn.end()
	if !cn.begun {
		return nil
	}
	cn.sent(1)
	_, err := cn.Conn.ExecContext(context.Background(), "ROLLBACK", nil)
	return err
}

// end forgets the transaction.
func (cn *pgConn) end() {
	cn.inTx, cn.begun, cn.pending = false, false, cn.pending[:0]
}
