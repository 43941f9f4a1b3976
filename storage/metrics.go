package storage

import (
	"context"
	"time"
)

// Gauges are point-in-time figures for the /metrics endpoint, read from
// the pending-work indexes (steps_due, deliveries_due) so that a scrape
// costs in proportion to the pending work, not to the history.
type Gauges struct {
	// RunsInFlight counts runs with a pending step (running or waiting).
	RunsInFlight int64
	// OldestDue is when the oldest pending step or delivery due at or
	// before now fell due; zero when nothing is overdue.
	OldestDue time.Time
}

// Gauges reads the current Gauges.
func (s *Store) Gauges(ctx context.Context, now time.Time) (Gauges, error) {
	var g Gauges
	if err := s.read.NewRaw(`SELECT count(DISTINCT run_id) FROM steps WHERE status = 'pending'`).
		Scan(ctx, &g.RunsInFlight); err != nil {
		return g, wrap(err, "count runs in flight")
	}
	var step, delivery utime
	if err := s.read.NewRaw(`SELECT min(due_at) FROM steps WHERE status = 'pending' AND due_at <= ?`, ut(now)).
		Scan(ctx, &step); err != nil {
		return g, wrap(err, "oldest due step")
	}
	if err := s.read.NewRaw(`SELECT min(next_attempt_at) FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ?`, ut(now)).
		Scan(ctx, &delivery); err != nil {
		return g, wrap(err, "oldest due delivery")
	}
	for _, u := range []utime{step, delivery} {
		if t := time.Time(u); !t.IsZero() && (g.OldestDue.IsZero() || t.Before(g.OldestDue)) {
			g.OldestDue = u.T()
		}
	}
	return g, nil
}
