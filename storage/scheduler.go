package storage

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/sluicehq/sluice/engine"
)

// syncDates makes contact_dates mirror the dates of cs (in the caller's
// transaction): one row per well-formed YYYY-MM-DD date. Nothing is read
// back, so on PostgreSQL the statements go with the next one.
func (r *repo) syncDates(ctx context.Context, cs ...*engine.Contact) error {
	if len(cs) == 0 {
		return nil
	}
	ids := make([]string, len(cs))
	var rows []contactDateRow
	for i, c := range cs {
		ids[i] = c.ID
		rows = appendDates(rows, c)
	}
	if _, err := r.conn(ctx).NewDelete().TableExpr("contact_dates").Where("contact_id IN (?)", bun.In(ids)).Exec(later(ctx)); err != nil {
		return wrap(err, "clear dates of %d contacts", len(ids))
	}
	if len(rows) == 0 {
		return nil
	}
	return wrap(r.copyLater(ctx, &rows), "write dates of %d contacts", len(cs))
}

// appendDates appends the contact_dates rows of c's dates to rows.
func appendDates(rows []contactDateRow, c *engine.Contact) []contactDateRow {
	for name, v := range c.Dates {
		if _, err := time.Parse(time.DateOnly, v); err != nil {
			continue // validated on input; a stray value is simply not scheduled
		}
		rows = append(rows, contactDateRow{ContactID: c.ID, Name: name, MonthDay: v[5:], Date: v})
	}
	return rows
}

// contactDateRow is a row of contact_dates.
type contactDateRow struct {
	bun.BaseModel `bun:"table:contact_dates"`
	ContactID     string `bun:"contact_id,pk"`
	Name          string `bun:"name,pk"`
	MonthDay      string `bun:"month_day"`
	Date          string `bun:"date"`
}

// defaultScheduleLimit is the page size of the scheduler's queries when
// none is given.
const defaultScheduleLimit = 500

// ContactsByDate returns the contacts whose date q.Name has one of
// q.MonthDays or one of q.Dates, by contact id (index contact_dates_month_day
// or contact_dates_date).
func (r *repo) ContactsByDate(ctx context.Context, q engine.DateQuery) ([]engine.ContactDate, error) {
	if q.Limit <= 0 {
		q.Limit = defaultScheduleLimit
	}
	out := []engine.ContactDate{}
	if len(q.MonthDays) == 0 && len(q.Dates) == 0 {
		return out, nil
	}
	// The time zone comes from a correlated subquery, one primary-key
	// lookup per candidate: a join may be planned as a scan of contacts.
	sel := r.conn(ctx).NewSelect().TableExpr("contact_dates AS d").
		ColumnExpr("d.contact_id, d.date").
		ColumnExpr("(SELECT c.timezone FROM contacts AS c WHERE c.id = d.contact_id) AS timezone").
		Where("d.name = ?", q.Name).Where("d.contact_id > ?", q.AfterID).
		WhereGroup(" AND ", func(s *bun.SelectQuery) *bun.SelectQuery {
			if len(q.MonthDays) > 0 {
				s = s.WhereOr("d.month_day IN (?)", bun.In(q.MonthDays))
			}
			if len(q.Dates) > 0 {
				s = s.WhereOr("d.date IN (?)", bun.In(q.Dates))
			}
			return s
		}).
		OrderExpr("d.contact_id").Limit(int64(q.Limit))
	var rows []struct {
		ContactID string `bun:"contact_id"`
		Date      string `bun:"date"`
		Timezone  string `bun:"timezone"`
	}
	if err := sel.Scan(ctx, &rows); err != nil {
		return nil, wrap(err, "contacts by date %s", q.Name)
	}
	for _, row := range rows {
		out = append(out, engine.ContactDate{ContactID: row.ContactID, Date: row.Date, Timezone: row.Timezone})
	}
	return out, nil
}

// ConsentExpiring returns the contacts whose consent expires in (after,
// upTo], by contact id (index contacts_consent_expires).
func (r *repo) ConsentExpiring(ctx context.Context, after, upTo time.Time, afterID string, limit int) ([]engine.ContactInstant, error) {
	if limit <= 0 {
		limit = defaultScheduleLimit
	}
	var rows []struct {
		ID string `bun:"id"`
		At utime  `bun:"consent_expires_at"`
	}
	err := r.conn(ctx).NewRaw(`SELECT id, consent_expires_at FROM contacts
WHERE consent_expires_at IS NOT NULL AND consent_expires_at > ? AND consent_expires_at <= ? AND id > ?
ORDER BY id LIMIT ?`, ut(after), ut(upTo), afterID, limit).Scan(ctx, &rows)
	if err != nil {
		return nil, wrap(err, "contacts whose consent expires")
	}
	out := make([]engine.ContactInstant, len(rows))
	for i, row := range rows {
		out[i] = engine.ContactInstant{ContactID: row.ID, At: row.At.T()}
	}
	return out, nil
}
