package engine

import (
	"context"
	"time"
)

// SchedulerTx holds the storage operations of date triggers and the
// scheduler (issue 5); it is part of Tx. Both queries read indexes over a
// few calendar days or a short time range, and page by contact id, so a
// scheduler pass costs in proportion to the contacts due, not to all.
type SchedulerTx interface {
	// ContactsByDate returns the contacts whose date q.Name has one of
	// q.MonthDays (MM-DD) or one of q.Dates (YYYY-MM-DD), by contact id,
	// after q.AfterID, at most q.Limit.
	ContactsByDate(ctx context.Context, q DateQuery) ([]ContactDate, error)
	// ConsentExpiring returns the contacts whose consent expires in
	// (after, upTo], by contact id, after afterID, at most limit.
	ConsentExpiring(ctx context.Context, after, upTo time.Time, afterID string, limit int) ([]ContactInstant, error)
}

// DateQuery selects contacts by one of their dates.
type DateQuery struct {
	Name      string
	MonthDays []string // MM-DD: yearly triggers
	Dates     []string // YYYY-MM-DD: one-off triggers
	AfterID   string
	Limit     int
}

// ContactDate is one contact's date (YYYY-MM-DD) with their time zone
// ("" when unset).
type ContactDate struct {
	ContactID string
	Date      string
	Timezone  string
}

// ContactInstant is one contact's moment (consent expiry).
type ContactInstant struct {
	ContactID string
	At        time.Time
}
