package storage

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/driver/pgdriver"
	"github.com/uptrace/bun/schema"

	"github.com/sluicehq/sluice/engine"
)

// sqliteTimeFormat is fixed-width, so that SQLite's text comparison and
// ordering of stored times is their time order.
const sqliteTimeFormat = "2006-01-02T15:04:05.000000Z"

// utime is a time stored in UTC with microsecond precision: timestamptz on
// PostgreSQL, sqliteTimeFormat text on SQLite. Use it for every time column
// and every time parameter.
type utime time.Time

// ut converts t for storage.
func ut(t time.Time) utime { return utime(t) }

// utp converts an optional time for a model field (nil stays NULL).
func utp(t *time.Time) *utime {
	if t == nil {
		return nil
	}
	u := utime(*t)
	return &u
}

// utArg converts an optional time into a query argument: a nil *utime
// must not reach bun as an argument (it would call AppendQuery on nil).
func utArg(t *time.Time) any {
	if t == nil {
		return nil
	}
	return utime(*t)
}

// norm returns t in UTC truncated to the microsecond, as it is stored.
func norm(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// T returns the stored time.
func (u utime) T() time.Time { return norm(time.Time(u)) }

// ptr returns the stored time of an optional column.
func (u *utime) ptr() *time.Time {
	if u == nil {
		return nil
	}
	t := u.T()
	return &t
}

// AppendQuery writes u as an SQL literal of the query's dialect.
func (u utime) AppendQuery(gen schema.QueryGen, b []byte) ([]byte, error) {
	t := u.T()
	if gen.Dialect().Name() == dialect.PG {
		return gen.Dialect().AppendTime(b, t), nil
	}
	b = append(b, '\'')
	b = t.AppendFormat(b, sqliteTimeFormat)
	return append(b, '\''), nil
}

// Scan reads a time column of either database.
func (u *utime) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		*u = utime(norm(v))
		return nil
	case string:
		return u.parse(v)
	case []byte:
		return u.parse(string(v))
	case nil:
		*u = utime{}
		return nil
	}
	return fmt.Errorf("storage: cannot scan %T into a time", src)
}

func (u *utime) parse(s string) error {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			*u = utime(norm(t))
			return nil
		}
	}
	return fmt.Errorf("storage: cannot parse time %q", s)
}

// hourOf returns the hourly bucket of t.
func hourOf(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

// sqlState is the SQLSTATE code of a PostgreSQL error, as pgdriver or an
// exchange (pgcopy.go) reports it; "" for any other error.
func sqlState(err error) string { return pgField(err, 'C') }

// pgField returns a field of a PostgreSQL error ('C' the SQLSTATE code,
// 'M' the message), or "" if err is not one.
func pgField(err error, k byte) string {
	var pgErr pgdriver.Error
	if errors.As(err, &pgErr) {
		return pgErr.Field(k)
	}
	var xErr pgError
	if errors.As(err, &xErr) {
		return xErr.Field(k)
	}
	return ""
}

// raised reports whether err is the failure a statement makes on purpose
// when what it assumed no longer holds: PostgreSQL has no RAISE outside
// PL/pgSQL, so the statement casts a text carrying mark to a number, which
// fails (22P02). FinishAll's marks steps no longer pending (staleMark),
// UpdateContactsLater's a contact changed since read (changedMark).
func raised(err error, mark string) bool {
	return sqlState(err) == "22P02" && strings.Contains(pgField(err, 'M'), mark)
}

// isUnique reports whether err is a unique (or primary key) violation.
func isUnique(err error) bool {
	if code := sqlState(err); code != "" {
		return code == "23505"
	}
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// isForeignKey reports whether err is a foreign key violation.
func isForeignKey(err error) bool {
	if code := sqlState(err); code != "" {
		return code == "23503"
	}
	return err != nil && strings.Contains(err.Error(), "FOREIGN KEY constraint failed")
}

// isDeadlock reports whether err is PostgreSQL's deadlock_detected or
// serialization_failure: the transaction lost to a concurrent one.
func isDeadlock(err error) bool {
	code := sqlState(err)
	return code == "40P01" || code == "40001"
}

// wrap adds what was being done to err, mapping missing rows to
// engine.ErrNotFound, unique violations to engine.ErrConflict, foreign
// key violations (a referenced row is missing) to engine.ErrNotFound and
// deadlocks to engine.ErrRetry.
func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	what := fmt.Sprintf(format, args...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%s: %w", what, engine.ErrNotFound)
	case isUnique(err):
		return fmt.Errorf("%s: %w: %v", what, engine.ErrConflict, err)
	case isForeignKey(err):
		return fmt.Errorf("%s: %w: referenced row: %v", what, engine.ErrNotFound, err)
	case isDeadlock(err):
		return fmt.Errorf("%s: %w: %v", what, engine.ErrRetry, err)
	case raised(err, staleMark):
		return fmt.Errorf("%s: %w", what, engine.ErrStale)
	case raised(err, changedMark):
		return fmt.Errorf("%s: %w: %v", what, engine.ErrConflict, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// notFound is the error for a missing row.
func notFound(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), engine.ErrNotFound)
}

// cleanText makes free text from outside (error messages) storable: valid
// UTF-8 without NUL bytes, which PostgreSQL text refuses.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// affected returns the number of rows a statement changed.
func affected(res sql.Result) (int64, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("rows affected: %w", err)
	}
	return n, nil
}

// Page sizes of ListDeliveries.
const (
	defaultPageSize = 50
	maxPageSize     = 500
)

// defaultDueLimit is the batch size of DueSteps and DueDeliveries when
// limit is not positive; defaultDurationsLimit that of AttemptDurations.
const (
	defaultDueLimit       = 100
	defaultDurationsLimit = 1000
)

// pendingByID keeps, of rows looked up by id, the pending ones. It is
// written so that it does not imply the predicate of the partial indexes
// of pending work (steps_due, deliveries_due): otherwise, when the
// statistics say little is pending (a burst after a quiet spell, a new
// table), PostgreSQL reads every pending entry of that index to find a
// few rows by id: 16 ms instead of 0.1 ms with 58,000 steps pending.
const pendingByID = "(status = 'pending') IS TRUE"
