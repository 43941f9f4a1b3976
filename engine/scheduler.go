package engine

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// DateRule says when a date_reached trigger fires for a contact: on the
// contact's date Field (every year, or once), moved by OffsetDays, at
// Minute minutes after local midnight, in the contact's time zone (their
// Timezone when it is set and known, else Location).
//
// Calendar rules: a yearly 29 February falls on 28 February in other
// years. A local time that does not exist (the hour skipped when clocks
// spring forward, e.g. 02:30 in Europe/Paris on the last Sunday of March)
// fires at the same distance after the skipped hour began: 02:30 becomes
// 03:30 local time. A local time that exists twice (clocks falling back)
// fires once, at its second instance (02:30 CET, after the clocks went
// back), as time.Date resolves it.
type DateRule struct {
	Field      string
	Yearly     bool
	OffsetDays int
	Minute     int
	Location   *time.Location // nil: UTC
}

// ConsentRule says when a consent_expiring trigger fires: DaysBefore times
// 24 hours before the contact's consent expires.
type ConsentRule struct{ DaysBefore int }

// Schedule is what a scheduled trigger fires on: exactly one of its rules.
type Schedule struct {
	Date    *DateRule
	Consent *ConsentRule
}

// Scheduled is a compiled trigger fired by the DateScheduler from the
// contacts' dates rather than by events (its Matches reports false).
type Scheduled interface {
	Trigger
	Schedule() Schedule
}

// SchedulerConfig configures a DateScheduler.
type SchedulerConfig struct {
	// CatchUp is how far back the first pass after a start looks, so that
	// occurrences due while no scheduler ran still start (late). Defaults
	// to 1h.
	CatchUp time.Duration
	// MaxWindow caps the span of time one ScheduleWindow call covers; a
	// longer gap is worked through in several. Defaults to 1h.
	MaxWindow time.Duration
	// PageSize is how many candidate contacts one query returns (and one
	// transaction starts runs for). Defaults to 500.
	PageSize int
}

// DateScheduler starts the runs of date_reached and consent_expiring
// triggers. Each Tick covers the time since the previous one, by the
// engine's clock. Any number of schedulers may run against one database:
// a run's entry key names its scenario node and occurrence, so a contact
// enters once per occurrence whichever scheduler gets there first.
type DateScheduler struct {
	e   *Engine
	cfg SchedulerConfig

	mu   sync.Mutex
	done time.Time // every occurrence due at or before done was handled
}

// NewDateScheduler returns a scheduler for e; cfg's zero fields take their
// defaults.
func (e *Engine) NewDateScheduler(cfg SchedulerConfig) *DateScheduler {
	if cfg.CatchUp <= 0 {
		cfg.CatchUp = time.Hour
	}
	if cfg.MaxWindow <= 0 {
		cfg.MaxWindow = time.Hour
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 500
	}
	return &DateScheduler{e: e, cfg: cfg}
}

// Done returns the time up to which every occurrence has been handled
// (zero before the first Tick).
func (s *DateScheduler) Done() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done
}

// Tick starts the runs due since the previous Tick (since CatchUp before
// now on the first) up to now, and returns how many it started. After an
// error the next Tick covers the same time again.
func (s *DateScheduler) Tick(ctx context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.e.now()
	if s.done.IsZero() {
		s.done = now.Add(-s.cfg.CatchUp)
	}
	total := 0
	for s.done.Before(now) {
		to := s.done.Add(s.cfg.MaxWindow)
		if to.After(now) {
			to = now
		}
		n, err := s.e.scheduleWindow(ctx, s.done, to, s.cfg.PageSize)
		total += n
		if err != nil {
			return total, err
		}
		s.done = to
	}
	return total, nil
}

// ScheduleWindow starts the runs of every active scheduled trigger whose
// occurrence falls in (from, to], and returns how many it started.
func (e *Engine) ScheduleWindow(ctx context.Context, from, to time.Time) (int, error) {
	return e.scheduleWindow(ctx, from, to, 500)
}

func (e *Engine) scheduleWindow(ctx context.Context, from, to time.Time, page int) (int, error) {
	set, err := e.activeTriggers(ctx, e.st)
	if err != nil {
		return 0, fmt.Errorf("schedule: active scenarios: %w", err)
	}
	total := 0
	for _, typ := range []string{EventDateReached, EventConsentExpiring} {
		for _, at := range set.byType[typ] {
			sc, ok := at.trigger.(Scheduled)
			if !ok {
				continue
			}
			var n int
			switch rule := sc.Schedule(); {
			case rule.Date != nil:
				n, err = e.scheduleDates(ctx, at, rule.Date, from, to, page)
			case rule.Consent != nil:
				n, err = e.scheduleConsent(ctx, at, rule.Consent, from, to, page)
			}
			total += n
			if err != nil {
				return total, fmt.Errorf("schedule scenario %s node %s: %w", at.scenario.ID, at.node.ID, err)
			}
		}
	}
	return total, nil
}

// entry is one run a scheduled trigger is to start.
type entry struct {
	contactID string
	key       string // the run's entry key: node and occurrence
	dueAt     time.Time
	data      map[string]any
}

// scheduleDates starts the date_reached runs due in (from, to]. Candidate
// contacts come from the contact_dates indexes by calendar day: a local
// date on which the trigger's time of day falls in (from, to] in some time
// zone (UTC-12 to UTC+14, with an hour's margin for DST); the exact moment
// is then checked in each contact's own time zone.
func (e *Engine) scheduleDates(ctx context.Context, at activeTrigger, r *DateRule, from, to time.Time, page int) (int, error) {
	tod := time.Duration(r.Minute) * time.Minute
	first := civilDay(from.UTC().Add(-13*time.Hour - tod))
	last := civilDay(to.UTC().Add(15*time.Hour - tod))
	q := DateQuery{Name: r.Field, Limit: page}
	years := map[int]bool{}
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		base := d.AddDate(0, 0, -r.OffsetDays) // the contact's date (this year's)
		years[base.Year()] = true
		if !r.Yearly {
			q.Dates = append(q.Dates, base.Format(time.DateOnly))
			continue
		}
		q.MonthDays = append(q.MonthDays, base.Format("01-02"))
		if base.Month() == time.February && base.Day() == 28 && !isLeap(base.Year()) {
			q.MonthDays = append(q.MonthDays, "02-29")
		}
	}
	locs := map[string]*time.Location{}
	total := 0
	for {
		cands, err := e.st.ContactsByDate(ctx, q)
		if err != nil {
			return total, err
		}
		var due []entry
		for _, c := range cands {
			date, err := time.Parse(time.DateOnly, c.Date)
			if err != nil {
				continue
			}
			loc := locationOf(locs, c.Timezone, r.Location)
			for y := range years {
				day, ok := occurrence(date, y, r.Yearly)
				if !ok {
					continue
				}
				day = day.AddDate(0, 0, r.OffsetDays)
				fire := time.Date(day.Year(), day.Month(), day.Day(), r.Minute/60, r.Minute%60, 0, 0, loc)
				if fire.After(from) && !fire.After(to) {
					occ := day.Format(time.DateOnly)
					due = append(due, entry{contactID: c.ContactID, dueAt: fire.UTC(),
						key:  fmt.Sprintf("%s:%s:%s", EventDateReached, at.node.ID, occ),
						data: map[string]any{"field": r.Field, "date": c.Date, "occurrence": occ, "node_id": at.node.ID}})
				}
			}
		}
		n, err := e.startEntries(ctx, at, EventDateReached, due)
		total += n
		if err != nil || len(cands) < q.Limit {
			return total, err
		}
		q.AfterID = cands[len(cands)-1].ContactID
	}
}

// scheduleConsent starts the consent_expiring runs due in (from, to]:
// contacts whose consent expires DaysBefore days after a moment of it.
func (e *Engine) scheduleConsent(ctx context.Context, at activeTrigger, r *ConsentRule, from, to time.Time, page int) (int, error) {
	ahead := time.Duration(r.DaysBefore) * 24 * time.Hour
	after := ""
	total := 0
	for {
		cands, err := e.st.ConsentExpiring(ctx, from.Add(ahead), to.Add(ahead), after, page)
		if err != nil {
			return total, err
		}
		due := make([]entry, len(cands))
		for i, c := range cands {
			exp := c.At.UTC().Format(time.RFC3339)
			due[i] = entry{contactID: c.ContactID, dueAt: c.At.Add(-ahead),
				key:  fmt.Sprintf("%s:%s:%s", EventConsentExpiring, at.node.ID, exp),
				data: map[string]any{"consent_expires_at": exp, "days_before": r.DaysBefore, "node_id": at.node.ID}}
		}
		n, err := e.startEntries(ctx, at, EventConsentExpiring, due)
		total += n
		if err != nil || len(cands) < page {
			return total, err
		}
		after = cands[len(cands)-1].ContactID
	}
}

// startEntries starts the runs of due in one transaction: for each, a run
// with its entry key (skipped when that key has entered already), the
// event that started it, and its first steps.
func (e *Engine) startEntries(ctx context.Context, at activeTrigger, evType string, due []entry) (int, error) {
	if len(due) == 0 {
		return 0, nil
	}
	started := 0
	err := e.inTx(ctx, func(ctx context.Context, tx Tx, w *work) error {
		started = 0
		now := e.now()
		s := at.scenario
		for _, d := range due {
			d.data["due_at"] = d.dueAt.Format(time.RFC3339)
			ev := &Event{ID: NewID("evt"), Type: evType, ContactID: d.contactID, Data: d.data, OccurredAt: now}
			r := &Run{ID: NewID("run"), ScenarioID: s.ID, Version: s.ActiveVersion, ContactID: d.contactID,
				EventID: ev.ID, EntryKey: d.key, Trigger: at.node.ID, Status: RunActive, CreatedAt: now}
			ok, err := tx.InsertRun(ctx, r)
			if err != nil {
				return fmt.Errorf("start run of scenario %s: %w", s.ID, err)
			}
			if !ok {
				continue // this occurrence has entered already
			}
			if err := tx.InsertEvents(ctx, []*Event{ev}); err != nil {
				return fmt.Errorf("insert %s event: %w", evType, err)
			}
			pending, err := e.insertEntrySteps(ctx, tx, w, entrySteps(w, at, r))
			if err != nil {
				return err
			}
			if pending[r.ID] == 0 {
				if err := tx.SetRunStatus(ctx, r.ID, RunCompleted); err != nil {
					return err
				}
			}
			started++
		}
		w.runsScheduled = started
		return nil
	})
	if err != nil {
		return 0, err
	}
	return started, nil
}

// occurrence returns the day in year y of a yearly date (29 February is
// 28 February in other years), or the date itself for a one-off one
// (false when it is not in year y).
func occurrence(date time.Time, y int, yearly bool) (time.Time, bool) {
	if !yearly {
		return date, date.Year() == y
	}
	m, d := date.Month(), date.Day()
	if m == time.February && d == 29 && !isLeap(y) {
		d = 28
	}
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), true
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// civilDay is t's calendar day (in t's location) at midnight UTC.
func civilDay(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// locationOf is the time zone named tz (cached in locs), or def (UTC when
// nil) when tz is empty or unknown.
func locationOf(locs map[string]*time.Location, tz string, def *time.Location) *time.Location {
	if def == nil {
		def = time.UTC
	}
	if tz == "" {
		return def
	}
	loc, seen := locs[tz]
	if !seen {
		loc, _ = time.LoadLocation(tz)
		locs[tz] = loc
	}
	if loc == nil {
		return def
	}
	return loc
}
