package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
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
// refused one by one (IngestResult.Err); the valid ones are stored before
// Ingest returns. Concurrent calls are committed together (group commit):
// one transaction and a few multi-row statements for all of them.
func (e *Engine) Ingest(ctx context.Context, inputs []EventInput) ([]IngestResult, error) {
	if len(inputs) > MaxBatch {
		return nil, Invalid("events", "at most %d events per call", MaxBatch)
	}
	call := &ingestCall{inputs: inputs, pending: newPending()}
	e.ingests.add(call)
	defer e.ingests.leave(call)
	select {
	case <-call.done:
		return call.results, call.err
	case <-ctx.Done():
		return nil, ctx.Err() // the batch goes on; the caller no longer waits
	}
}

// Admission: while admitAhead or more of the steps this process created
// have not been started by its busy workers, the ingest lane waits for
// them, up to Config.IngestHold per batch. Events arriving faster than the
// workers can deliver them (a load through the batch endpoint) would
// otherwise pile up as a backlog of seconds, which buys nothing but
// latency, and whose steps outlive recentSteps' span, so that each is read
// back from the database (in the 100k-event benchmark that read was a
// fifth of PostgreSQL's CPU per delivery). Waiting keeps the backlog to
// what the workers start within a fraction of a second. It is bounded:
// workers held up (slow receivers) slow ingestion down, they do not stop
// it.
const (
	admitAhead = recentMax / 2
	admitPoll  = time.Millisecond
)

// admit waits while the workers are behind (see admitAhead). Only a
// process that runs steps remembers them, so only there can it wait.
func (e *Engine) admit() {
	if !e.recent.on.Load() || e.cfg.IngestHold < 0 || !e.behind() {
		return
	}
	start := time.Now()
	deadline := start.Add(e.cfg.IngestHold)
	for e.behind() && time.Now().Before(deadline) {
		time.Sleep(admitPoll)
	}
	e.cfg.Metrics.IngestHeld(time.Since(start))
}

// behind reports whether this process's workers are behind on the steps
// it created: admitAhead or more not started, and at least half of its
// step slots (StepParallel) busy. Where several processes share the
// queue, the others start some of this one's steps and it never hears
// of it: those count as not started until recentSteps forgets them, but
// its workers, not behind, have slots to spare.
func (e *Engine) behind() bool {
	return 2*len(e.slots) >= cap(e.slots) && e.recent.waiting() >= admitAhead
}

// ingestCall is one Ingest call waiting for its batch.
type ingestCall struct {
	inputs  []EventInput
	results []IngestResult
	pending
}

// ingestBatch stores the calls' events in one transaction. If that fails,
// each call is tried on its own, so one call's trouble is its own.
func (e *Engine) ingestBatch(calls []*ingestCall) {
	ctx := context.Background() // the batch is not any one caller's
	e.admit()
	if len(calls) > 1 {
		var all []EventInput
		for _, c := range calls {
			all = append(all, c.inputs...)
		}
		results, err := e.ingest(ctx, all, nil)
		if err == nil {
			for _, c := range calls {
				c.results, results = results[:len(c.inputs):len(c.inputs)], results[len(c.inputs):]
				c.finish(nil)
			}
			return
		}
		e.log.Warn("batched ingestion failed; retrying each call alone", "calls", len(calls), "err", err)
	}
	for _, c := range calls {
		var err error
		c.results, err = e.ingest(ctx, c.inputs, nil)
		c.finish(err)
	}
}

// ingest is Ingest for one batch; also, when set, runs last in the same
// transaction with the results so far, so a caller's own bookkeeping
// commits with the events. Callers hold it to MaxBatch inputs: Ingest
// checks its callers, the batcher never merges past it, and an inbound
// call is one event.
func (e *Engine) ingest(ctx context.Context, inputs []EventInput, also func(ctx context.Context, tx Tx, results []IngestResult) error) ([]IngestResult, error) {
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
	var err error
	const tries = 3
	guess := e.allNew.Load()
	for try := 0; try < tries; try++ {
		read := readWithEntries
		switch {
		case guess:
			read = guessAllNew
		case try == tries-1:
			// The last try does not trust a read of the runs made
			// before BEGIN (see upsertContacts): a contact that keeps
			// entering scenarios from elsewhere cannot make the batch
			// fail.
			read = readContacts
		}
		err = e.inTx(ctx, func(ctx context.Context, tx Tx, w *work) error {
			for _, i := range valid { // a retried transaction starts clean
				results[i] = IngestResult{}
			}
			if err := e.storeEvents(ctx, tx, w, inputs, valid, results, read); err != nil {
				return err
			}
			if also != nil {
				return also(ctx, tx, results)
			}
			return nil
		})
		if guess {
			guess = false
			if errors.Is(err, ErrConflict) { // a contact exists: read them
				e.allNew.Store(false)
				try--
				continue
			}
		}
		// A conflict here is a new contact that another transaction
		// created since this one looked (InsertNewContacts), or a run that
		// another transaction started since (dispatch): the next try
		// finds it. A missing row is a scenario another process deleted
		// since the active ones were cached (the store refuses its
		// counters): the next try reloads them.
		if errors.Is(err, ErrNotFound) {
			e.active.forget()
			continue
		}
		if !errors.Is(err, ErrConflict) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("ingest events: %w", err)
	}
	return results, nil
}

// storeEvents stores the valid inputs (indexes idx) in tx: contacts
// created or merged, list subscriptions, the events and what they derive,
// and the runs they start, each kind in one statement for the whole batch.
// read says how it learns which contacts exist (upsertContacts).
func (e *Engine) storeEvents(ctx context.Context, tx Tx, w *work, inputs []EventInput, idx []int, results []IngestResult, read contactRead) error {
	now := e.now()
	if err := e.checkLists(ctx, tx, inputs, idx, results); err != nil {
		return err
	}
	ok := idx[:0:0]
	for _, i := range idx {
		if results[i].Err == nil {
			ok = append(ok, i)
		}
	}
	if len(ok) == 0 {
		return nil
	}
	ups, runs, err := e.upsertContacts(ctx, tx, w, inputs, ok, now, read)
	if err != nil {
		return err
	}
	var changes []SubscriptionChange
	var subscribers []*Contact
	var items []dispatchItem
	var all []*Event
	fresh := map[string]bool{} // the contacts this transaction creates
	for n, i := range ok {
		in, c := &inputs[i], ups[n].c
		if ups[n].fresh {
			fresh[c.ID] = true
		}
		ev := &Event{ID: NewID("evt"), Type: in.Type, ContactID: c.ID, ListID: in.ListID, Data: in.Data, OccurredAt: now}
		if in.ListID != "" && (in.Type == EventSignup || in.Type == EventUnsubscribe) {
			changes = append(changes, SubscriptionChange{ListID: in.ListID, ContactID: c.ID, Subscribed: in.Type == EventSignup})
			subscribers = append(subscribers, c)
		}
		results[i].EventID, results[i].ContactID = ev.ID, c.ID
		for _, d := range append(ups[n].derived, ev) {
			all = append(all, d)
			items = append(items, dispatchItem{ev: d, c: c, fresh: ups[n].fresh, runs: runs})
		}
	}
	if _, err := e.setSubscriptions(ctx, tx, w, changes, subscribers, fresh, now, false); err != nil {
		return err
	}
	if err := tx.InsertEvents(ctx, all); err != nil {
		return fmt.Errorf("insert events: %w", err)
	}
	return e.dispatch(ctx, tx, w, items...)
}

// checkLists refuses the inputs (indexes idx) whose list does not exist,
// reading each list once.
func (e *Engine) checkLists(ctx context.Context, tx Tx, inputs []EventInput, idx []int, results []IngestResult) error {
	lists := map[string]bool{}
	for _, i := range idx {
		id := inputs[i].ListID
		if id == "" {
			continue
		}
		if _, seen := lists[id]; !seen {
			ok, err := e.listExists(ctx, tx, id)
			if err != nil {
				return err
			}
			lists[id] = ok
		}
		if !lists[id] {
			results[i].Err = Invalid("list_id", "no list %q", id)
		}
	}
	return nil
}

// listExists tells whether a list exists. Lists are never deleted, so a
// list once found is remembered for good (found inside a transaction, it
// exists in every later one either way).
func (e *Engine) listExists(ctx context.Context, tx Tx, id string) (bool, error) {
	if _, known := e.lists.Load(id); known {
		return true, nil
	}
	_, err := tx.GetList(ctx, id)
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	e.lists.Store(id, true)
	return true, nil
}

// upserted is the contact an input's event is about, and the events its
// creation or change records.
type upserted struct {
	c       *Contact
	fresh   bool // created by this transaction
	derived []*Event
}

// upsertContacts creates the inputs' contacts that do not exist and
// merges the inputs' contact data into those that do, in input order (an
// email twice in a batch is one contact, changed twice). It reads every
// contact in one statement and inserts the new ones in one; it returns,
// per input, the contact and the events the change records: group_added
// for each group a new contact starts in; contact_updated and group_added
// for an existing contact that changed. With readWithEntries the same read
// also learns which of the scenarios the events may start the stored
// contacts have entered (the scenarios they may enter once), and returns
// that. With guessAllNew it reads nothing and creates every contact: one
// that exists makes the commit fail with ErrConflict.
func (e *Engine) upsertContacts(ctx context.Context, tx Tx, w *work, inputs []EventInput, idx []int, now time.Time, read contactRead) ([]upserted, *knownRuns, error) {
	emails := make([]string, len(idx))
	for n, i := range idx {
		emails[n] = inputs[i].Email
	}
	var once []string
	if read == readWithEntries {
		var err error
		if once, err = e.enteredOnce(ctx, tx, inputs, idx); err != nil {
			return nil, nil, err
		}
	}
	var found []*Contact
	var entries []Entry
	if read != guessAllNew {
		var err error
		if found, entries, err = tx.GetContactsByEmail(ctx, emails, once); err != nil {
			return nil, nil, err
		}
		e.allNew.Store(len(found) == 0) // the next batch guesses from this one
	}
	book := make(map[string]*Contact, len(idx))
	for _, c := range found {
		book[EmailKey(c.Email)] = c
	}
	out := make([]upserted, len(idx))
	var fresh, changed []*Contact
	isFresh, isChanged := map[*Contact]bool{}, map[*Contact]bool{}
	dated := map[*Contact]map[string]string{} // a changed stored contact's dates before
	for n, i := range idx {
		in := &inputs[i]
		patch := in.Contact
		if patch == nil {
			patch = &ContactInput{Email: in.Email}
		}
		key := EmailKey(in.Email)
		c := book[key]
		if c == nil {
			c = &Contact{ID: NewID("ctc"), CreatedAt: now, UpdatedAt: now}
			applyContactInput(c, patch, true)
			c.Email = in.Email
			book[key], isFresh[c] = c, true
			fresh = append(fresh, c)
			// joining groups at creation is joining them
			out[n] = upserted{c: c, fresh: true, derived: changeEvents(c, nil, slices.Clone(c.Groups), nil, now)}
			continue
		}
		out[n].c, out[n].fresh = c, isFresh[c]
		before := maps.Clone(c.Dates)
		fields, added := applyContactInput(c, patch, false)
		if len(fields) == 0 {
			continue
		}
		c.UpdatedAt = now
		out[n].derived = changeEvents(c, fields, added, nil, now)
		if !isFresh[c] && !isChanged[c] {
			isChanged[c] = true
			changed = append(changed, c)
			dated[c] = before
		}
	}
	// One order for every transaction, so two batches inserting the same
	// new emails wait for each other instead of deadlocking.
	slices.SortFunc(fresh, func(a, b *Contact) int { return strings.Compare(EmailKey(a.Email), EmailKey(b.Email)) })
	if err := tx.InsertNewContacts(ctx, fresh); err != nil {
		return nil, nil, err
	}
	for _, c := range fresh {
		if err := e.publishCreated(ctx, tx, w, c, now); err != nil {
			return nil, nil, err
		}
	}
	// The changed contacts were read here, by email: their writes need no
	// answer. They are written in id order, the order LockContacts locks
	// in, so transactions that change the same contacts wait for each
	// other rather than deadlock.
	slices.SortFunc(changed, func(a, b *Contact) int { return strings.Compare(a.ID, b.ID) })
	var redated []*Contact
	for _, c := range changed {
		if !maps.Equal(dated[c], c.Dates) {
			redated = append(redated, c)
		}
	}
	if err := tx.UpdateContactsLater(ctx, changed, redated); err != nil {
		return nil, nil, err
	}
	return out, newKnownRuns(once, entries), nil
}

// enteredOnce returns the active scenarios, entered once per contact,
// that the inputs' events may start, and those their contact changes
// may (contact_updated, group_added, group_removed), in order.
func (e *Engine) enteredOnce(ctx context.Context, tx Tx, inputs []EventInput, idx []int) ([]string, error) {
	set, err := e.activeTriggers(ctx, tx)
	if err != nil {
		return nil, err
	}
	types := map[string]bool{}
	for _, i := range idx {
		types[inputs[i].Type] = true
		if inputs[i].Contact != nil {
			types[EventContactUpdated], types[EventGroupAdded], types[EventGroupRemoved] = true, true, true
		}
	}
	seen := map[string]bool{}
	var ids []string
	for t := range types {
		for _, group := range set.forType(t) {
			for _, at := range group {
				if s := at.scenario; !s.AllowReentry && !seen[s.ID] {
					seen[s.ID] = true
					ids = append(ids, s.ID)
				}
			}
		}
	}
	slices.Sort(ids) // one statement text for one set
	return ids, nil
}

// contactRead is how a batch of events learns which of its contacts exist.
type contactRead int

const (
	// readWithEntries reads them, and their entries into the scenarios
	// entered once that the events may start.
	readWithEntries contactRead = iota
	// readContacts reads them only.
	readContacts
	// guessAllNew reads nothing: the batch before found none of its
	// contacts, so these are taken to be new too. A new signup is the
	// common event at volume, and the guess saves a round trip; a wrong
	// one costs the failed commit, then the batch reads.
	guessAllNew
)

// knownRuns is what a batch's read of its contacts found of their entries
// into the scenarios it asked about (Tx.GetContactsByEmail).
type knownRuns struct {
	asked   map[string]bool
	entered map[Entry]bool
}

func newKnownRuns(asked []string, entries []Entry) *knownRuns {
	k := &knownRuns{asked: make(map[string]bool, len(asked)), entered: make(map[Entry]bool, len(entries))}
	for _, id := range asked {
		k.asked[id] = true
	}
	for _, en := range entries {
		k.entered[en] = true
	}
	return k
}

// lookup says whether the read asked about contact's entry into scenario
// and, if it did, whether the contact had entered it.
func (k *knownRuns) lookup(scenario, contact string) (asked, entered bool) {
	if k == nil || !k.asked[scenario] {
		return false, false
	}
	return true, k.entered[Entry{ScenarioID: scenario, ContactID: contact}]
}

// recordEvents stores evs (all about contact c) and starts the runs they trigger.
func (e *Engine) recordEvents(ctx context.Context, tx Tx, w *work, evs []*Event, c *Contact) error {
	if len(evs) == 0 {
		return nil
	}
	if err := tx.InsertEvents(ctx, evs); err != nil {
		return fmt.Errorf("insert events: %w", err)
	}
	items := make([]dispatchItem, len(evs))
	for i, ev := range evs {
		items[i] = dispatchItem{ev: ev, c: c}
	}
	return e.dispatch(ctx, tx, w, items...)
}

// dispatchItem is a recorded event and the contact it is about.
type dispatchItem struct {
	ev    *Event
	c     *Contact
	fresh bool       // c is created by this transaction, so it has no run yet
	runs  *knownRuns // c's entries, read with c; nil: not read
}

// dispatch starts a run in every active scenario whose trigger matches an
// item's event, all in a few statements. A contact enters a scenario once
// unless the scenario allows re-entry. Some runs cannot meet a stored run:
// those of contacts the transaction creates, those of scenarios that
// allow re-entry (their entry key is the run's own id), and those of
// contacts read with their entries (knownRuns) that had not entered. They
// are told apart here and written without waiting for an answer
// (InsertNewRuns); a run another transaction starts in the meantime makes
// the commit fail with ErrConflict, which the caller retries. The others
// are inserted unless they exist, which needs an answer (InsertRuns).
func (e *Engine) dispatch(ctx context.Context, tx Tx, w *work, items ...dispatchItem) error {
	set, err := e.activeTriggers(ctx, tx)
	if err != nil {
		return err
	}
	var runs, known, fresh []*Run   // all in order; that may exist; that cannot
	entered := map[[3]string]bool{} // the runs so far: scenario, contact, entry key
	type start struct {
		at activeTrigger
		it dispatchItem
	}
	var starts map[string]start // by run id: its trigger and its event
	for _, it := range items {
		if err := e.publishEvent(ctx, tx, w, it.ev, it.c); err != nil {
			return err
		}
		for _, group := range set.forType(it.ev.Type) {
			for _, at := range group {
				if !at.trigger.Matches(it.ev, it.c) {
					continue
				}
				s := at.scenario
				r := &Run{ID: NewID("run"), ScenarioID: s.ID, Version: s.ActiveVersion, ContactID: it.c.ID,
					EventID: it.ev.ID, Trigger: at.node.ID, Status: RunActive, CreatedAt: it.ev.OccurredAt}
				if s.AllowReentry {
					r.EntryKey = r.ID
				}
				asked, had := it.runs.lookup(s.ID, it.c.ID)
				k := [3]string{r.ScenarioID, r.ContactID, r.EntryKey}
				if had || entered[k] {
					continue // as the stored runs' unique key would have it
				}
				entered[k] = true
				if it.fresh || s.AllowReentry || asked {
					fresh = append(fresh, r)
				} else {
					known = append(known, r)
				}
				if starts == nil {
					starts = map[string]start{}
				}
				runs = append(runs, r)
				starts[r.ID] = start{at, it}
			}
		}
	}
	if len(runs) == 0 {
		return nil
	}
	if err := tx.InsertNewRuns(ctx, fresh); err != nil {
		return fmt.Errorf("start %d runs: %w", len(fresh), err)
	}
	inserted, err := tx.InsertRuns(ctx, known)
	if err != nil {
		return fmt.Errorf("start %d runs: %w", len(known), err)
	}
	ok := make(map[*Run]bool, len(runs))
	for _, r := range append(fresh, inserted...) {
		ok[r] = true
	}
	started := slices.DeleteFunc(runs, func(r *Run) bool { return !ok[r] })
	var steps []*Step
	for _, r := range started {
		w.runsStarted++
		steps = append(steps, entrySteps(w, starts[r.ID].at, r)...)
	}
	from := len(w.steps)
	pending, err := e.insertEntrySteps(ctx, tx, w, steps)
	if err != nil {
		return err
	}
	e.know(w, from, func(s *Step) (*Contact, *Event) { it := starts[s.RunID].it; return it.c, it.ev })
	_, err = tx.CompleteRuns(ctx, endedRuns(started, pending)) // new runs: no other transaction has their steps
	return err
}

// endedRuns returns the ids of the runs that have no new pending step.
func endedRuns(runs []*Run, pending map[string]int) []string {
	var ids []string
	seen := map[string]bool{}
	for _, r := range runs {
		if pending[r.ID] == 0 && !seen[r.ID] {
			seen[r.ID] = true
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// entrySteps counts trigger at as reached by run r, which it started when
// the run was created, and builds the pending steps that follow it. The
// trigger has no step of its own: the run names it (Run.Trigger), and the
// rebuild of the counters counts runs for it.
func entrySteps(w *work, at activeTrigger, r *Run) []*Step {
	t := r.CreatedAt
	w.bump(r.ScenarioID, r.Version, at.node.ID, t, func(d *StatDelta) { d.Reached++ })
	return stepsAfter(at.plan, r, at.node.ID, "", t, t)
}

// stepsAfter builds the pending steps that follow node from in run r
// through edges labelled label, due at due.
func stepsAfter(p *plan, r *Run, from, label string, due, now time.Time) []*Step {
	next := p.next(from, label)
	steps := make([]*Step, len(next))
	for i, id := range next {
		steps[i] = &Step{ID: NewID("stp"), RunID: r.ID, ScenarioID: r.ScenarioID, Version: r.Version,
			NodeID: id, ContactID: r.ContactID, EventID: r.EventID, Status: StepPending, DueAt: due, CreatedAt: now}
	}
	return steps
}

// insertSteps inserts steps (pending or already done) in one statement,
// counts those it inserted as reached and queues the pending ones. It
// returns how many pending steps it created per run.
func (e *Engine) insertSteps(ctx context.Context, tx Tx, w *work, steps []*Step) (map[string]int, error) {
	if len(steps) == 0 {
		return nil, nil
	}
	inserted, err := tx.InsertSteps(ctx, steps)
	if err != nil {
		return nil, fmt.Errorf("insert %d steps: %w", len(steps), err)
	}
	return stepsInserted(w, inserted), nil
}

// insertEntrySteps inserts the entry steps of runs the transaction has
// just created, as insertSteps does; none can exist yet (a graph draws an
// edge once, so a trigger's next nodes are distinct), so the statement
// can wait for the next one (Tx.InsertNewSteps).
func (e *Engine) insertEntrySteps(ctx context.Context, tx Tx, w *work, steps []*Step) (map[string]int, error) {
	if len(steps) == 0 {
		return nil, nil
	}
	if err := tx.InsertNewSteps(ctx, steps); err != nil {
		return nil, fmt.Errorf("insert %d steps: %w", len(steps), err)
	}
	return stepsInserted(w, steps), nil
}

// stepsInserted counts inserted steps as reached and queues the pending
// ones; it returns how many pending steps each run got.
func stepsInserted(w *work, inserted []*Step) map[string]int {
	pending := map[string]int{}
	for _, s := range inserted {
		w.bump(s.ScenarioID, s.Version, s.NodeID, s.CreatedAt, func(d *StatDelta) { d.Reached++ })
		if s.Status == StepPending {
			w.steps = append(w.steps, s)
			pending[s.RunID]++
		}
	}
	return pending
}

func isNotFound(err error) bool { return err != nil && errorsIs(err, ErrNotFound) }
