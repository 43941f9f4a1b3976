package engine

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// eventType is what an event type may look like.
var eventType = regexp.MustCompile(`^[a-z][a-z0-9_.:-]{0,63}$`)

// MaxBatch is the most events one Ingest call takes.
const MaxBatch = 1000

// validateEvent checks one event input and normalises its email.
func validateEvent(in *EventInput) error {
	if !eventType.MatchString(in.Type) {
		return Invalid("type", "an event type is 1 to 64 lower-case letters, digits or _ . : - starting with a letter")
	}
	if in.Email == "" && in.Contact != nil {
		in.Email = in.Contact.Email
	}
	email, err := NormalizeEmail("email", in.Email)
	if err != nil {
		return err
	}
	in.Email = email
	if in.Contact != nil {
		if in.Contact.Email != "" && !strings.EqualFold(strings.TrimSpace(in.Contact.Email), email) {
			return Invalid("contact.email", "differs from the event's email")
		}
		in.Contact.Email = email
		if err := validateContactInput("contact.", in.Contact); err != nil {
			return err
		}
	}
	if (in.Type == EventSignup || in.Type == EventUnsubscribe) && in.ListID == "" && in.Data != nil {
		if _, bad := in.Data["list_id"]; bad {
			return Invalid("list_id", "list_id goes at the top level of the event, not in data")
		}
	}
	return nil
}

// Ingest validates, stores and reacts to events. Invalid events are
// refused one by one (IngestResult.Err); the valid ones are stored in one
// transaction before Ingest returns.
func (e *Engine) Ingest(ctx context.Context, inputs []EventInput) ([]IngestResult, error) {
	return e.ingest(ctx, inputs, nil)
}

// ingest is Ingest; also, when set, runs last in the same transaction with
// the results so far, so a caller's own bookkeeping commits with the events.
func (e *Engine) ingest(ctx context.Context, inputs []EventInput, also func(ctx context.Context, tx Tx, results []IngestResult) error) ([]IngestResult, error) {
	if len(inputs) > MaxBatch {
		return nil, Invalid("events", "at most %d events per call", MaxBatch)
	}
	results := make([]IngestResult, len(inputs))
	valid := make([]int, 0, len(inputs))
	for i := range inputs {
		if err := validateEvent(&inputs[i]); err != nil {
			results[i].Err = err
			continue
		}
		valid = append(valid, i)
	}
	if len(valid) == 0 {
		return results, nil
	}
	err := e.inTx(ctx, func(ctx context.Context, tx Tx, w *work) error {
		for _, i := range valid { // a retried transaction starts clean
			results[i] = IngestResult{}
		}
		now := e.now()
		lists := map[string]bool{}
		for _, i := range valid {
			id := inputs[i].ListID
			if id == "" {
				continue
			}
			if _, seen := lists[id]; !seen {
				_, err := tx.GetList(ctx, id)
				if err != nil && !isNotFound(err) {
					return err
				}
				lists[id] = err == nil
			}
			if !lists[id] {
				results[i].Err = Invalid("list_id", "no list %q", id)
			}
		}
		type pending struct {
			evs     []*Event
			contact *Contact
		}
		var all []*Event
		var todo []pending
		for _, i := range valid {
			if results[i].Err != nil {
				continue
			}
			in := &inputs[i]
			c, created, derived, err := e.upsertContact(ctx, tx, in, now)
			if err != nil {
				return err
			}
			if created {
				if err := e.publishCreated(ctx, tx, w, c, now); err != nil {
					return err
				}
			}
			ev := &Event{ID: NewID("evt"), Type: in.Type, ContactID: c.ID, ListID: in.ListID,
				Data: in.Data, OccurredAt: now}
			if in.ListID != "" && (in.Type == EventSignup || in.Type == EventUnsubscribe) {
				if _, err := e.setSubscription(ctx, tx, w, c, in.ListID, in.Type == EventSignup, now); err != nil {
					return err
				}
			}
			results[i].EventID, results[i].ContactID = ev.ID, c.ID
			evs := append(derived, ev)
			all = append(all, evs...)
			todo = append(todo, pending{evs: evs, contact: c})
		}
		if len(all) > 0 {
			if err := tx.InsertEvents(ctx, all); err != nil {
				return fmt.Errorf("insert events: %w", err)
			}
		}
		for _, p := range todo {
			for _, ev := range p.evs {
				if err := e.dispatch(ctx, tx, w, ev, p.contact); err != nil {
					return err
				}
			}
		}
		if also != nil {
			return also(ctx, tx, results)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ingest events: %w", err)
	}
	return results, nil
}

// upsertContact creates the event's contact (created is true) or merges
// the event's contact data into it. It returns the events the change
// records: group_added for each group a new contact starts in;
// contact_updated and group_added for an existing contact that changed.
func (e *Engine) upsertContact(ctx context.Context, tx Tx, in *EventInput, now time.Time) (c *Contact, created bool, evs []*Event, err error) {
	patch := in.Contact
	if patch == nil {
		patch = &ContactInput{Email: in.Email}
	}
	c, err = tx.GetContactByEmail(ctx, in.Email)
	if err != nil && !isNotFound(err) {
		return nil, false, nil, err
	}
	if c == nil {
		c = &Contact{ID: NewID("ctc"), CreatedAt: now, UpdatedAt: now}
		applyContactInput(c, patch, true)
		c.Email = in.Email
		ok, err := tx.InsertContact(ctx, c)
		if err != nil {
			return nil, false, nil, err
		}
		if ok {
			return c, true, changeEvents(c, nil, c.Groups, nil, now), nil // joining groups at creation is joining them
		}
		// Another transaction created it meanwhile: merge into theirs.
		if c, err = tx.GetContactByEmail(ctx, in.Email); err != nil {
			return nil, false, nil, err
		}
	}
	changed, added := applyContactInput(c, patch, false)
	if len(changed) == 0 {
		return c, false, nil, nil
	}
	c.UpdatedAt = now
	if err := tx.UpdateContact(ctx, c); err != nil {
		return nil, false, nil, err
	}
	return c, false, changeEvents(c, changed, added, nil, now), nil
}

// recordEvents stores evs (all about contact c) and starts the runs they trigger.
func (e *Engine) recordEvents(ctx context.Context, tx Tx, w *work, evs []*Event, c *Contact) error {
	if len(evs) == 0 {
		return nil
	}
	if err := tx.InsertEvents(ctx, evs); err != nil {
		return fmt.Errorf("insert events: %w", err)
	}
	for _, ev := range evs {
		if err := e.dispatch(ctx, tx, w, ev, c); err != nil {
			return err
		}
	}
	return nil
}

// dispatch starts a run in every active scenario whose trigger matches ev.
// A contact enters a scenario once unless the scenario allows re-entry.
func (e *Engine) dispatch(ctx context.Context, tx Tx, w *work, ev *Event, c *Contact) error {
	if err := e.publishEvent(ctx, tx, w, ev, c); err != nil {
		return err
	}
	set, err := e.activeTriggers(ctx, tx)
	if err != nil {
		return err
	}
	for _, group := range set.forType(ev.Type) {
		for _, at := range group {
			if !at.trigger.Matches(ev, c) {
				continue
			}
			s := at.scenario
			r := &Run{ID: NewID("run"), ScenarioID: s.ID, Version: s.ActiveVersion, ContactID: c.ID,
				EventID: ev.ID, Status: RunActive, CreatedAt: ev.OccurredAt}
			if s.AllowReentry {
				r.EntryKey = r.ID
			}
			ok, err := tx.InsertRun(ctx, r)
			if err != nil {
				return fmt.Errorf("start run of scenario %s: %w", s.ID, err)
			}
			if !ok {
				continue
			}
			w.runsStarted++
			// The trigger's own step is stored done, so its reach can be
			// rebuilt from the rows like every other node's.
			entered := &Step{ID: NewID("stp"), RunID: r.ID, ScenarioID: s.ID, Version: r.Version, NodeID: at.node.ID,
				ContactID: c.ID, EventID: ev.ID, Status: StepDone, DueAt: ev.OccurredAt, CreatedAt: ev.OccurredAt,
				DoneAt: &ev.OccurredAt}
			n, err := e.startSteps(ctx, tx, w, at.plan, r, at.node.ID, "", ev.OccurredAt, ev.OccurredAt, entered)
			if err != nil {
				return err
			}
			if n == 0 {
				if err := tx.SetRunStatus(ctx, r.ID, RunCompleted); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// startSteps creates the steps that follow node `from` through edges
// labelled label, due at due, in one statement with the steps in also
// (already done), and counts them all as reached. It returns how many
// pending steps it created.
func (e *Engine) startSteps(ctx context.Context, tx Tx, w *work, p *plan, r *Run, from, label string, due, now time.Time, also ...*Step) (int, error) {
	next := p.next(from, label)
	if len(next)+len(also) == 0 {
		return 0, nil
	}
	steps := also
	for _, id := range next {
		steps = append(steps, &Step{ID: NewID("stp"), RunID: r.ID, ScenarioID: r.ScenarioID, Version: r.Version,
			NodeID: id, ContactID: r.ContactID, EventID: r.EventID, Status: StepPending, DueAt: due, CreatedAt: now})
	}
	inserted, err := tx.InsertSteps(ctx, steps)
	if err != nil {
		return 0, fmt.Errorf("insert steps of run %s: %w", r.ID, err)
	}
	n := 0
	for _, s := range inserted {
		w.bump(r.ScenarioID, r.Version, s.NodeID, now, func(d *StatDelta) { d.Reached++ })
		if s.Status == StepPending {
			w.steps = append(w.steps, s)
			n++
		}
	}
	return n, nil
}

func isNotFound(err error) bool { return err != nil && errorsIs(err, ErrNotFound) }
