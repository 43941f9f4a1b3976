package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// RunSteps runs steps that were enqueued together (one "step:run" task),
// at once, at most StepParallel steps of the process at a time: their
// reads and commits share batches. It fails if any step failed; a retry
// finds the others finished and leaves them alone.
func (e *Engine) RunSteps(ctx context.Context, ids []string) error {
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		select {
		case e.slots <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return ctx.Err()
		}
		wg.Go(func() {
			defer func() { <-e.slots }()
			errs[i] = e.RunStep(ctx, id)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// RunStep executes one step. It is idempotent: a step
// that is no longer pending is left alone, and a step run twice at once
// commits once (the second finds it finished and its outcome is dropped). A
// send_webhook step makes its first attempt before committing, so a crash
// between the two resends the same webhook-id. Reads and commits are
// grouped with those of the steps running at the same time (batch.go).
func (e *Engine) RunStep(ctx context.Context, stepID string) error {
	l, err := e.loadStep(stepID)
	if err != nil {
		return fmt.Errorf("load step %s: %w", stepID, err)
	}
	if l.Step == nil {
		return nil // deleted with its scenario
	}
	st := l.Step
	if st.Status != StepPending {
		return nil
	}
	now := e.now()
	p, err := e.planFor(ctx, e.st, st.ScenarioID, st.Version)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return e.failStep(ctx, st, fmt.Errorf("load version %d: %w", st.Version, err))
	}
	node := p.nodes[st.NodeID]
	exec, ok := node.compiledExecutor()
	if !ok {
		return e.failStep(ctx, st, fmt.Errorf("node %s (%s) cannot be executed", st.NodeID, node.typeName()))
	}
	s, err := e.scenario(ctx, e.st, st.ScenarioID)
	if err != nil {
		return fmt.Errorf("load scenario %s: %w", st.ScenarioID, err)
	}
	if l.Contact == nil || l.Event == nil {
		return fmt.Errorf("load contact %s and event %s of step %s: %w", st.ContactID, st.EventID, st.ID, ErrNotFound)
	}
	c, ev := l.Contact, l.Event
	run := &Run{ID: st.RunID, ScenarioID: st.ScenarioID, Version: st.Version, ContactID: c.ID, EventID: ev.ID}
	x := &StepContext{Scenario: s, Version: st.Version, NodeID: st.NodeID, Run: run, Contact: c, Event: ev, Now: now}
	res, err := exec.Execute(ctx, x)
	if err != nil {
		return e.failStep(ctx, st, err)
	}
	o := &outcome{st: st, plan: p, run: run, contact: c, event: ev, res: res, pending: newPending()}
	if res.Delivery != nil {
		if o.delivery, err = e.stepDelivery(st, s, res.Delivery); err != nil {
			return e.failStep(ctx, st, err)
		}
		sent := e.cfg.Sender.Send(ctx, o.delivery, s.SigningSecret)
		if err := ctx.Err(); err != nil {
			return err // shutting down: hand the task back, this was no attempt
		}
		now = e.now()
		o.attempt = settle(o.delivery, 0, sent, now)
	}
	o.now = now
	// Not abandoned on ctx: the task must not end before its outcome is
	// committed, and a commit is short.
	e.outcomes.add(o)
	return o.wait()
}

// loadCall is one step read waiting for its batch.
type loadCall struct {
	id  string
	out StepLoad // Step nil: no such step
	pending
}

// loadStep returns a step with its contact and event: as the transaction
// that created it committed them, when this process did a moment ago
// (recentSteps), else read in one query with the steps other workers are
// reading at the same time.
func (e *Engine) loadStep(id string) (StepLoad, error) {
	if l, ok := e.recent.take(id); ok {
		e.cfg.Metrics.StepsLoaded(StepsFromMemory, 1)
		return l, nil
	}
	call := &loadCall{id: id, pending: newPending()}
	e.loads.add(call)
	err := call.wait()
	return call.out, err
}

// loadBatch reads the steps of calls in one query.
func (e *Engine) loadBatch(calls []*loadCall) {
	ids := make([]string, len(calls))
	for i, c := range calls {
		ids[i] = c.id
	}
	loaded, err := e.st.LoadSteps(context.Background(), ids)
	if err == nil {
		e.cfg.Metrics.StepsLoaded(StepsFromDatabase, len(ids))
	}
	byID := make(map[string]StepLoad, len(loaded))
	for _, l := range loaded {
		byID[l.Step.ID] = l
	}
	for _, c := range calls {
		c.out = byID[c.id]
		c.finish(err)
	}
}

// outcome is what running a step decided, waiting to be committed.
type outcome struct {
	st       *Step
	plan     *plan
	run      *Run
	contact  *Contact
	event    *Event
	res      Result
	delivery *Delivery // send_webhook: after its first attempt
	attempt  *Attempt
	now      time.Time
	pending
}

// commitOutcomes commits the outcomes of steps in one transaction; if that
// fails, each is committed on its own so one outcome's trouble is its own.
func (e *Engine) commitOutcomes(batch []*outcome) {
	ctx := context.Background() // the batch is not any one task's
	err := e.commitTogether(ctx, batch)
	if err != nil && len(batch) > 1 {
		e.log.Warn("batched step commit failed; committing each step alone", "steps", len(batch), "err", err)
		for _, o := range batch {
			o.finish(e.commitTogether(ctx, []*outcome{o}))
		}
		return
	}
	for _, o := range batch {
		o.finish(err)
	}
}

// commitTogether finishes the steps that are still pending (the others ran
// elsewhere: their outcome is dropped), stores their deliveries and first
// attempts, applies contact changes, creates the next steps and completes
// the runs that have nothing left, each kind in one statement.
func (e *Engine) commitTogether(ctx context.Context, batch []*outcome) error {
	next, goesOn := following(batch)
	if sureSteps(batch, next) {
		err := e.commitSure(ctx, batch, next, goesOn)
		if !errors.Is(err, ErrStale) {
			return err
		}
		// A step of the batch was finished elsewhere: sort them out.
	}
	return e.commitSorting(ctx, batch, next, goesOn)
}

// following returns the steps that follow each outcome of batch, by
// index, and the runs that go on: get a next step.
func following(batch []*outcome) (next [][]*Step, goesOn map[string]bool) {
	next = make([][]*Step, len(batch))
	goesOn = map[string]bool{}
	for i, o := range batch {
		if !o.res.End {
			due := o.now
			if !o.res.NextAt.IsZero() {
				due = o.res.NextAt.UTC()
			}
			next[i] = stepsAfter(o.plan, o.run, o.st.NodeID, o.res.Label, due, o.now)
		}
		if len(next[i]) > 0 {
			goesOn[o.run.ID] = true
		}
	}
	return next, goesOn
}

// endingRuns returns the runs of batch that get no next step, whose last
// pending step may be in the batch, once each.
func endingRuns(batch []*outcome, next [][]*Step, goesOn map[string]bool) (ending []string, ends map[string]bool) {
	ends = map[string]bool{}
	for i, o := range batch {
		if len(next[i]) == 0 && !goesOn[o.run.ID] && !ends[o.run.ID] {
			ends[o.run.ID] = true
			ending = append(ending, o.run.ID)
		}
	}
	return ending, ends
}

// sureSteps tells a batch of distinct steps that change no contact and
// whose next steps are of nodes with one edge in, as a webhook that ends a
// scenario or is followed by another step: their next steps can only be
// made by their finish, so committing them reads nothing.
func sureSteps(batch []*outcome, next [][]*Step) bool {
	seen := make(map[string]bool, len(batch))
	for i, o := range batch {
		if seen[o.st.ID] || len(o.res.Changes) > 0 {
			return false
		}
		for _, s := range next[i] {
			if n := o.plan.nodes[s.NodeID]; n == nil || n.in != 1 {
				return false
			}
		}
		seen[o.st.ID] = true
	}
	return true
}

// commitSure commits a batch of sureSteps assuming every step is still
// pending, as it is unless another worker ran it too: the steps' finish,
// their runs' completion, the next steps, deliveries, attempts and
// counters then go as one statement on PostgreSQL (FinishAll). If a step
// was not pending, nothing is stored and the error is ErrStale.
func (e *Engine) commitSure(ctx context.Context, batch []*outcome, next [][]*Step, goesOn map[string]bool) error {
	ids := make([]string, len(batch))
	var steps []*Step
	for i, o := range batch {
		ids[i] = o.st.ID
		steps = append(steps, next[i]...)
	}
	ending, _ := endingRuns(batch, next, goesOn)
	return e.inTx(ctx, func(ctx context.Context, tx Tx, w *work) error {
		var completed []string
		if err := tx.FinishAll(ctx, ids, e.now(), ending, steps, &completed); err != nil {
			return err
		}
		if err := e.storeFirstAttempts(ctx, tx, w, batch); err != nil {
			return err
		}
		from := len(w.steps)
		stepsInserted(w, steps)
		e.knowNext(w, from, batch, nil)
		// As commitSorting's recheck; known only once committed.
		w.settle = func(w *work) {
			done := make(map[string]bool, len(completed))
			for _, id := range completed {
				done[id] = true
			}
			for _, id := range ending {
				if !done[id] {
					w.recheck = append(w.recheck, id)
				}
			}
		}
		return nil
	})
}

// knowNext hands the steps queued since from, those following outcomes,
// to the recent steps with their contact (as contacts holds it when the
// commit changed it) and event.
func (e *Engine) knowNext(w *work, from int, outcomes []*outcome, contacts map[string]*Contact) {
	if !e.recent.on.Load() {
		return
	}
	byRun := make(map[string]*outcome, len(outcomes))
	for _, o := range outcomes {
		byRun[o.run.ID] = o
	}
	e.know(w, from, func(s *Step) (*Contact, *Event) {
		o := byRun[s.RunID]
		if o == nil {
			return nil, nil
		}
		if c := contacts[o.contact.ID]; c != nil {
			return c, o.event // as the changes of this commit left it
		}
		return o.contact, o.event
	})
}

// commitSorting is commitTogether for any batch: it finishes the steps
// first, and goes on with those it finished.
func (e *Engine) commitSorting(ctx context.Context, batch []*outcome, next [][]*Step, goesOn map[string]bool) error {
	return e.inTx(ctx, func(ctx context.Context, tx Tx, w *work) error {
		// What follows each step is known before anything is written, so
		// the runs it ends complete with the steps' finish, in one
		// statement on PostgreSQL.
		ids := make([]string, len(batch))
		for i, o := range batch {
			ids[i] = o.st.ID
		}
		ending, ends := endingRuns(batch, next, goesOn)
		finished, completed, err := tx.FinishSteps(ctx, ids, e.now(), ending)
		if err != nil {
			return err
		}
		if len(finished) == 0 {
			return errSkip
		}
		// A step run twice at once in this process may be in the batch
		// twice: the first outcome claims it, the other is dropped.
		unclaimed := make(map[string]bool, len(finished))
		for _, id := range finished {
			unclaimed[id] = true
		}
		claimed := make([]*outcome, 0, len(finished))
		var steps []*Step
		for i, o := range batch {
			if unclaimed[o.st.ID] {
				claimed = append(claimed, o)
				steps = append(steps, next[i]...)
				delete(unclaimed, o.st.ID)
			}
		}
		if err := e.storeFirstAttempts(ctx, tx, w, claimed); err != nil {
			return err
		}
		contacts, err := lockChanged(ctx, tx, claimed)
		if err != nil {
			return err
		}
		for _, o := range claimed {
			if len(o.res.Changes) == 0 {
				continue
			}
			if err := e.applyChanges(ctx, tx, w, contacts[o.contact.ID], o.res.Changes, o.now); err != nil {
				return err
			}
		}
		from := len(w.steps)
		pending, err := e.insertSteps(ctx, tx, w, steps)
		if err != nil {
			return err
		}
		e.knowNext(w, from, claimed, contacts)
		// A run that was to go on but got no new pending step (its next
		// node was reached already) may have ended too.
		var rest []*Run
		for _, o := range claimed {
			if !ends[o.run.ID] {
				rest = append(rest, o.run)
			}
		}
		ended := endedRuns(rest, pending)
		more, err := tx.CompleteRuns(ctx, ended)
		if err != nil {
			return err
		}
		// A run whose other branch ended in a transaction still open (on
		// another worker) did not look complete from here; whichever of
		// the two commits last completes it after its commit (recheck).
		for _, id := range ended {
			ends[id] = true
		}
		done := map[string]bool{}
		for _, id := range append(completed, more...) {
			done[id] = true
		}
		for _, o := range claimed {
			if id := o.run.ID; ends[id] && !done[id] {
				done[id] = true // once
				w.recheck = append(w.recheck, id)
			}
		}
		return nil
	})
}

// lockChanged reads, and locks until the commit, the contacts the outcomes
// change, by id: the steps ran with copies read earlier, and an update
// committed since (the API's, an event's) must not be overwritten, so
// their changes apply to the stored contact as it is now. Steps of one
// contact change one copy.
func lockChanged(ctx context.Context, tx Tx, outcomes []*outcome) (map[string]*Contact, error) {
	var ids []string
	seen := map[string]bool{}
	for _, o := range outcomes {
		if len(o.res.Changes) > 0 && !seen[o.contact.ID] {
			seen[o.contact.ID] = true
			ids = append(ids, o.contact.ID)
		}
	}
	locked, err := tx.LockContacts(ctx, ids)
	if err != nil {
		return nil, err
	}
	contacts := make(map[string]*Contact, len(locked))
	for _, c := range locked {
		contacts[c.ID] = c
	}
	for _, id := range ids {
		if contacts[id] == nil {
			return nil, fmt.Errorf("contact %s: %w", id, ErrNotFound) // contacts are never deleted
		}
	}
	return contacts, nil
}

// storeFirstAttempts stores the deliveries of the outcomes that have one
// and their first attempts. The outcomes' steps were just finished by this
// transaction, and a step's delivery is stored only with its finish, so
// the deliveries are new: a step re-run after a crash was claimed by the
// first run's commit and is dropped before this.
func (e *Engine) storeFirstAttempts(ctx context.Context, tx Tx, w *work, batch []*outcome) error {
	var ds []*Delivery
	var first []*Attempt
	for _, o := range batch {
		if o.delivery != nil {
			ds, first = append(ds, o.delivery), append(first, o.attempt)
			countAttempt(w, o.delivery, o.now)
			w.observe(o.delivery, o.attempt)
		}
	}
	if len(ds) == 0 {
		return nil
	}
	if err := tx.InsertNewDeliveries(ctx, ds); err != nil {
		return err
	}
	if err := tx.InsertAttempts(ctx, first); err != nil {
		return fmt.Errorf("log %d first attempts: %w", len(first), err)
	}
	return nil
}

// errSkip rolls a transaction back without it being an error: another
// worker already did this work.
var errSkip = errors.New("already done")

func errOrSkip(err error) error {
	if err != nil {
		return err
	}
	return errSkip
}

func (n *planNode) compiledExecutor() (Executor, bool) {
	if n == nil {
		return nil, false
	}
	x, ok := n.compiled.(Executor)
	return x, ok
}

func (n *planNode) typeName() string {
	if n == nil {
		return "missing"
	}
	return n.Type
}

// failStep records a step that cannot run (a bad expression at run time, a
// missing node): it is failed with a readable reason and its run stops.
func (e *Engine) failStep(ctx context.Context, st *Step, cause error) error {
	e.log.Warn("step failed", "step", st.ID, "scenario", st.ScenarioID, "node", st.NodeID, "err", cause)
	msg := cause.Error()
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	return e.inTx(ctx, func(ctx context.Context, tx Tx, w *work) error {
		ok, err := tx.FinishStep(ctx, st.ID, StepFailed, msg, e.now())
		if err != nil || !ok {
			return errOrSkip(err)
		}
		w.bump(st.ScenarioID, st.Version, st.NodeID, e.now(), func(d *StatDelta) { d.Failed++ })
		return tx.SetRunStatus(ctx, st.RunID, RunFailed)
	})
}

// stepDelivery builds the delivery of a send_webhook step. Its ids derive
// from the step's, so a re-run sends the same webhook-id.
func (e *Engine) stepDelivery(st *Step, s *Scenario, req *DeliveryRequest) (*Delivery, error) {
	suffix := IDSuffix(st.ID)
	d := &Delivery{ID: "dlv_" + suffix, MessageID: "evt_" + suffix, Kind: KindStep,
		ScenarioID: st.ScenarioID, Version: st.Version, NodeID: st.NodeID, RunID: st.RunID, StepID: st.ID,
		ContactID: st.ContactID, URL: req.URL, Method: req.Method, Headers: req.Headers, Timeout: req.Timeout,
		Status: DeliveryPending, CreatedAt: st.DueAt}
	if d.Method == "" {
		d.Method = "POST"
	}
	body, err := BuildBody(d.MessageID, st.DueAt, s, st.NodeID, st.ContactID, req)
	if err != nil {
		return nil, fmt.Errorf("build webhook body: %w", err)
	}
	d.Body = body
	return d, nil
}

// settle applies one attempt's outcome to d (attempt number prev+1):
// accepted on 2xx, failed on 410 or when the retry window has closed, else
// pending with its next attempt time. It returns the attempt to log.
func settle(d *Delivery, prev int, o SendOutcome, now time.Time) *Attempt {
	a := o.Attempt
	a.ID = NewID("att")
	a.DeliveryID = d.ID
	a.Number = prev + 1
	if a.At.IsZero() {
		a.At = now
	}
	if d.FirstAttemptAt == nil {
		t := a.At
		d.FirstAttemptAt = &t
	}
	d.Attempts = prev + 1
	d.LastError = a.Error
	d.NextAttemptAt = nil
	switch {
	case o.Accepted:
		d.Status = DeliveryAccepted
		d.DoneAt = &now
	case o.Gone:
		d.Status = DeliveryFailed
		d.DoneAt = &now
	default:
		if at, ok := NextAttempt(*d.FirstAttemptAt, now, d.Attempts, o.RetryAfter); ok {
			d.NextAttemptAt = &at
		} else {
			d.Status = DeliveryFailed
			d.DoneAt = &now
		}
	}
	return &a
}

// countAttempt bumps a step delivery's counters for its latest attempt
// and schedules the next one if it is still pending.
func countAttempt(w *work, d *Delivery, now time.Time) {
	if d.Status == DeliveryPending {
		w.deliveries = append(w.deliveries, d)
	}
	if d.Kind != KindStep {
		return
	}
	w.bump(d.ScenarioID, d.Version, d.NodeID, now, func(s *StatDelta) {
		s.Attempts++
		if d.Attempts > 1 {
			s.Pending-- // it was counted pending after its previous attempt
		}
		switch d.Status {
		case DeliveryAccepted:
			s.Accepted++
		case DeliveryFailed:
			s.Failed++
		default:
			s.Pending++
		}
	})
}

// AttemptDelivery makes the next attempt of a delivery (task
// "delivery:attempt"). It is idempotent: a delivery that is no longer
// pending, or whose attempt count moved on meanwhile, is left alone.
func (e *Engine) AttemptDelivery(ctx context.Context, deliveryID string) error {
	d, err := e.st.GetDelivery(ctx, deliveryID)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load delivery %s: %w", deliveryID, err)
	}
	if d.Status != DeliveryPending {
		return nil
	}
	secret, err := e.deliverySecret(ctx, d)
	if err != nil {
		return err
	}
	prev := d.Attempts
	o := e.cfg.Sender.Send(ctx, d, secret)
	if err := ctx.Err(); err != nil {
		return err // shutting down: hand the task back, this was no attempt
	}
	now := e.now()
	a := settle(d, prev, o, now)
	return e.inTx(ctx, func(ctx context.Context, tx Tx, w *work) error {
		ok, err := tx.UpdateDelivery(ctx, d, prev)
		if err != nil || !ok {
			return errOrSkip(err)
		}
		if err := tx.InsertAttempt(ctx, a); err != nil {
			return fmt.Errorf("log attempt of %s: %w", d.ID, err)
		}
		countAttempt(w, d, now)
		w.observe(d, a)
		if d.Kind == KindSubscription {
			return e.subscriptionAttempted(ctx, tx, d, a, now)
		}
		return nil
	})
}

// deliverySecret is the signing secret of a delivery's destination.
func (e *Engine) deliverySecret(ctx context.Context, d *Delivery) (string, error) {
	switch d.Kind {
	case KindStep:
		s, err := e.scenario(ctx, e.st, d.ScenarioID)
		if err != nil {
			return "", fmt.Errorf("load scenario of delivery %s: %w", d.ID, err)
		}
		return s.SigningSecret, nil
	case KindSubscription:
		return e.subscriptionSecret(ctx, d)
	default:
		return "", fmt.Errorf("delivery %s: unknown kind %q", d.ID, d.Kind)
	}
}

// applyChanges makes an action's changes to the contact in tx and records
// the events they cause (group_added, contact_updated, signup…), which may
// start other runs.
func (e *Engine) applyChanges(ctx context.Context, tx Tx, w *work, c *Contact, changes []ContactChange, now time.Time) error {
	var changed, added, removed []string
	var evs []*Event
	for _, ch := range changes {
		switch ch.Op {
		case OpAddGroup:
			if !slices.Contains(c.Groups, ch.Group) {
				c.Groups = append(c.Groups, ch.Group)
				added = append(added, ch.Group)
			}
		case OpRemoveGroup:
			if i := slices.Index(c.Groups, ch.Group); i >= 0 {
				c.Groups = slices.Delete(c.Groups, i, i+1)
				removed = append(removed, ch.Group)
			}
		case OpSetField:
			if setContactField(c, ch.Field, ch.Value) {
				changed = append(changed, ch.Field)
			}
		case OpSubscribe, OpUnsubscribe:
			sub := ch.Op == OpSubscribe
			ok, err := e.setSubscription(ctx, tx, w, c, ch.ListID, sub, now)
			if err != nil {
				return fmt.Errorf("%s list %s: %w", ch.Op, ch.ListID, err)
			}
			if ok {
				t := EventUnsubscribe
				if sub {
					t = EventSignup
				}
				evs = append(evs, &Event{ID: NewID("evt"), Type: t, ContactID: c.ID, ListID: ch.ListID,
					Data: map[string]any{"source": "scenario"}, OccurredAt: now})
			}
		default:
			return fmt.Errorf("unknown contact change %q", ch.Op)
		}
	}
	if len(added)+len(removed) > 0 {
		changed = append(changed, "groups")
	}
	if len(changed) > 0 {
		c.UpdatedAt = now
		if err := tx.UpdateContact(ctx, c); err != nil {
			return fmt.Errorf("update contact %s: %w", c.ID, err)
		}
	}
	evs = append(changeEvents(c, changed, added, removed, now), evs...)
	return e.recordEvents(ctx, tx, w, evs, c)
}

// setContactField sets a standard or custom field and reports a change.
func setContactField(c *Contact, field string, v any) bool {
	str := func() string {
		if v == nil {
			return ""
		}
		return strings.TrimSpace(fmt.Sprint(v))
	}
	switch field {
	case "firstname", "lastname", "timezone":
		dst := map[string]*string{"firstname": &c.Firstname, "lastname": &c.Lastname, "timezone": &c.Timezone}[field]
		if *dst == str() {
			return false
		}
		*dst = str()
		return true
	}
	if c.Fields == nil {
		c.Fields = map[string]any{}
	}
	if old, ok := c.Fields[field]; ok && fmt.Sprint(old) == fmt.Sprint(v) {
		return false
	}
	c.Fields[field] = v
	return true
}

// Sweep re-enqueues due steps and deliveries whose task may be missing (a
// flushed or restarted Redis): rows due before now-grace that are still
// pending, but for the steps in held (those that tasks being run hold).
// The queue drops duplicates of tasks it still holds. It returns how many
// rows it handed to the queue.
func (e *Engine) Sweep(ctx context.Context, grace time.Duration, held map[string]bool) (int, error) {
	const batch = 1000
	before := e.now().Add(-grace)
	steps, err := e.st.DueSteps(ctx, before, batch)
	if err != nil {
		return 0, fmt.Errorf("sweep steps: %w", err)
	}
	n := 0
	for i := range steps {
		if held[steps[i].ID] {
			continue
		}
		if err := e.cfg.Queue.EnqueueSteps(ctx, []string{steps[i].ID}, steps[i].DueAt); err != nil {
			return n, fmt.Errorf("sweep: enqueue step %s: %w", steps[i].ID, err)
		}
		n++
	}
	ds, err := e.st.DueDeliveries(ctx, before, batch)
	if err != nil {
		return n, fmt.Errorf("sweep deliveries: %w", err)
	}
	for i := range ds {
		if err := e.cfg.Queue.EnqueueDelivery(ctx, ds[i].ID, *ds[i].NextAttemptAt); err != nil {
			return n, fmt.Errorf("sweep: enqueue delivery %s: %w", ds[i].ID, err)
		}
		n++
	}
	return n, nil
}
