package engine

import (
	"context"
	"time"
)

// Store is the system of record. Every method of Tx is also callable outside
// a transaction; InTx runs fn in one transaction, committed when fn returns
// nil and rolled back otherwise. Implementations return ErrNotFound for
// missing rows. They need not refuse a run or delivery whose scenario, a
// step whose run, or a subscription whose list or contact, is missing
// (PostgreSQL does not: the check is a query per row on the hot path).
// The engine checks lists before it subscribes anyone; contacts and lists
// are never deleted; and a run, step or delivery is stored with a bump of
// its scenario's counters, which the store refuses for a missing
// scenario.
type Store interface {
	Tx
	InTx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	Ping(ctx context.Context) error
	Close() error
}

// Tx is the set of storage operations the engine uses.
//
// Inside a transaction, the writes that return nothing but an error
// (InsertEvents, the Insert…New and …New methods, InsertAttempts,
// BumpStats) may be sent
// with the next statement instead of on their own: their error, a
// conflict say, may then come from that statement or from the commit, and
// rolls the transaction back all the same.
type Tx interface {
	InboundTx
	SubscriptionTx
	SchedulerTx
	ImportTx

	// Lists and subscriptions.
	CreateList(ctx context.Context, l *List) error
	GetList(ctx context.Context, id string) (*List, error)
	ListLists(ctx context.Context) ([]List, error)
	// SetSubscription subscribes (or unsubscribes) a contact to a list and
	// reports whether that changed anything.
	SetSubscription(ctx context.Context, listID, contactID string, subscribed bool, at time.Time) (changed bool, err error)
	// ContactLists returns the ids of the lists the contact is subscribed to.
	ContactLists(ctx context.Context, contactID string) ([]string, error)

	// Contacts. Emails are unique case-insensitively.
	// InsertContact inserts c unless its email exists (then it returns false).
	InsertContact(ctx context.Context, c *Contact) (inserted bool, err error)
	GetContact(ctx context.Context, id string) (*Contact, error)
	// LockContacts returns the contacts with the ids for a transaction
	// that writes them back: no other transaction can change them until
	// this one ends. They are locked in id order, so two transactions
	// wait for each other rather than deadlock.
	LockContacts(ctx context.Context, ids []string) ([]*Contact, error)
	GetContactByEmail(ctx context.Context, email string) (*Contact, error)
	// UpdateContact writes every field of c (found by c.ID).
	UpdateContact(ctx context.Context, c *Contact) error
	// UpdateContactsLater writes every field of cs, contacts the
	// transaction read and whose emails it kept, and rewrites the stored
	// dates of those in redated. Nothing comes back but an error, which
	// may come later (see Tx).
	UpdateContactsLater(ctx context.Context, cs, redated []*Contact) error

	// The many-rows forms of the hot path, one statement each whatever
	// the number of rows (batched ingestion and step outcomes).
	// GetContactsByEmail returns the contacts with any of the emails and,
	// in the same statement, which of the scenarios given each of them has
	// entered: has a run in with no entry key (scenarios entered once).
	GetContactsByEmail(ctx context.Context, emails, scenarios []string) ([]*Contact, []Entry, error)
	// InsertContacts inserts the contacts whose id and email are new and
	// reports for each whether it did.
	InsertContacts(ctx context.Context, cs []*Contact) ([]bool, error)
	// InsertNewContacts inserts contacts whose emails the transaction
	// looked up and did not find; one that another transaction created
	// since is ErrConflict, which may come later (see Tx).
	InsertNewContacts(ctx context.Context, cs []*Contact) error
	// SetSubscriptions applies subscription changes (each list and
	// contact pair at most once) and reports for each whether it changed
	// anything.
	SetSubscriptions(ctx context.Context, changes []SubscriptionChange, at time.Time) ([]bool, error)
	// SetSubscriptionsLater is SetSubscriptions when what changed is not
	// read: nothing comes back but an error, which may come later (see Tx).
	SetSubscriptionsLater(ctx context.Context, changes []SubscriptionChange, at time.Time) error
	// SubscribeNew subscribes contacts created in the transaction (each
	// list and contact pair once): each is a change, and nothing comes
	// back but an error, which may come later (see Tx).
	SubscribeNew(ctx context.Context, changes []SubscriptionChange, at time.Time) error
	// InsertRuns inserts the runs InsertRun would and returns them.
	InsertRuns(ctx context.Context, runs []*Run) ([]*Run, error)
	// InsertNewRuns inserts runs that no stored run can meet (each
	// scenario, contact and entry key once): of contacts created in the
	// transaction, with fresh entry keys, or known not to exist. Nothing
	// comes back but an error, which may come later (see Tx); one that
	// exists after all is ErrConflict.
	InsertNewRuns(ctx context.Context, runs []*Run) error
	// CompleteRuns marks completed those of the runs that are active and
	// have no pending step, and returns their ids.
	CompleteRuns(ctx context.Context, ids []string) ([]string, error)
	// FinishSteps moves those of the steps that are pending to done and
	// returns their ids; if it finished any, it then completes the runs of
	// complete that have nothing pending left and returns theirs too.
	FinishSteps(ctx context.Context, ids []string, at time.Time, complete []string) (finished, completed []string, err error)
	// FinishAll is FinishSteps for steps (distinct ids) that must all be
	// pending: if one is not, the transaction fails with ErrStale and
	// stores nothing. It inserts next, steps that only these steps' finish
	// can create, as InsertNewSteps does. It may be sent with the commit,
	// so the runs it completed are in *completed only once the transaction
	// has committed.
	FinishAll(ctx context.Context, ids []string, at time.Time, complete []string, next []*Step, completed *[]string) error
	// InsertDeliveries inserts the deliveries whose id is new and reports
	// for each whether it did.
	InsertDeliveries(ctx context.Context, ds []*Delivery) ([]bool, error)
	// InsertNewDeliveries inserts the deliveries of steps the transaction
	// has just finished: a step's delivery is stored with its finish, so
	// none can exist yet.
	InsertNewDeliveries(ctx context.Context, ds []*Delivery) error
	// InsertAttempts inserts attempts (ErrConflict if a delivery already
	// has an attempt with that number).
	InsertAttempts(ctx context.Context, as []*Attempt) error
	// LoadSteps returns the steps with the ids with their contact and
	// event; missing steps are left out.
	LoadSteps(ctx context.Context, ids []string) ([]StepLoad, error)

	// Events.
	InsertEvents(ctx context.Context, evs []*Event) error
	GetEvent(ctx context.Context, id string) (*Event, error)

	// Scenarios and versions.
	CreateScenario(ctx context.Context, s *Scenario, v *Version) error
	// UpdateScenario writes name, status, allow_reentry, version,
	// active_version, signing_secret and updated_at.
	UpdateScenario(ctx context.Context, s *Scenario) error
	GetScenario(ctx context.Context, id string) (*Scenario, error)
	ListScenarios(ctx context.Context) ([]Scenario, error)
	// DeleteScenario deletes a scenario with its versions, stats, runs
	// (and their steps) and deliveries (and their attempts).
	DeleteScenario(ctx context.Context, id string) error
	InsertVersion(ctx context.Context, v *Version) error
	GetVersion(ctx context.Context, scenarioID string, number int) (*Version, error)
	// ListVersions returns every version of a scenario, newest first.
	ListVersions(ctx context.Context, scenarioID string) ([]Version, error)
	MarkVersionActivated(ctx context.Context, scenarioID string, number int, at time.Time) error
	// ActiveScenarios returns the scenarios whose status is active.
	ActiveScenarios(ctx context.Context) ([]Scenario, error)

	// Runs and steps.
	// InsertRun inserts r unless a run with the same scenario, contact and
	// entry key exists (then it returns false).
	InsertRun(ctx context.Context, r *Run) (inserted bool, err error)
	GetRun(ctx context.Context, id string) (*Run, error)
	SetRunStatus(ctx context.Context, id string, status RunStatus) error
	// InsertSteps inserts the steps whose (run, node) is new and returns
	// those it inserted.
	InsertSteps(ctx context.Context, steps []*Step) ([]*Step, error)
	// InsertNewSteps inserts the first steps of runs the transaction has
	// just created: none can exist yet, so nothing comes back but an
	// error, which may come later (see Tx).
	InsertNewSteps(ctx context.Context, steps []*Step) error
	GetStep(ctx context.Context, id string) (*Step, error)
	// FinishStep moves a pending step to status; false if it was not pending.
	FinishStep(ctx context.Context, id string, status StepStatus, errMsg string, at time.Time) (bool, error)
	// DueSteps returns pending steps due at or before t, oldest first.
	DueSteps(ctx context.Context, t time.Time, limit int) ([]Step, error)

	// Deliveries and attempts.
	// InsertDelivery inserts d unless its id exists (then it returns false).
	InsertDelivery(ctx context.Context, d *Delivery) (inserted bool, err error)
	GetDelivery(ctx context.Context, id string) (*Delivery, error)
	// UpdateDelivery writes status, attempts, first/next attempt times,
	// last error and done time, only if the stored row still has
	// prevAttempts attempts and is pending; false otherwise.
	UpdateDelivery(ctx context.Context, d *Delivery, prevAttempts int) (bool, error)
	InsertAttempt(ctx context.Context, a *Attempt) error
	ListDeliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error)
	// ListAttempts returns the attempts of the given deliveries, oldest first.
	ListAttempts(ctx context.Context, deliveryIDs []string) (map[string][]Attempt, error)
	// DueDeliveries returns pending deliveries whose next attempt is at or
	// before t, oldest first.
	DueDeliveries(ctx context.Context, t time.Time, limit int) ([]Delivery, error)

	// Stats.
	// BumpStats adds the deltas to the per-node totals and hourly buckets.
	BumpStats(ctx context.Context, deltas []StatDelta) error
	GetStats(ctx context.Context, scenarioID string, version int) ([]StepStats, error)
	GetHourlyStats(ctx context.Context, scenarioID string, version int, since time.Time) (map[string][]HourlyStats, error)
	// AttemptDurations returns the durations (ms) of a node's attempts.
	AttemptDurations(ctx context.Context, scenarioID string, version int, nodeID string, limit int) ([]int64, error)
	// RebuildStats recomputes a version's totals from the steps, deliveries
	// and attempts rows (the reconciliation query).
	RebuildStats(ctx context.Context, scenarioID string, version int) error
}

// SubscriptionChange subscribes or unsubscribes a contact to a list.
type SubscriptionChange struct {
	ListID, ContactID string
	Subscribed        bool
}

// StepLoad is a step with what executing it reads: its contact and event
// (nil when they are gone).
type StepLoad struct {
	Step    *Step
	Contact *Contact
	Event   *Event
}

// DeliveryFilter selects deliveries of one scenario step, newest first.
// Cursor is the id of the last delivery of the previous page.
type DeliveryFilter struct {
	ScenarioID string
	Version    int // 0: every version
	NodeID     string
	Status     DeliveryStatus // "": every status
	Limit      int
	Cursor     string
}

// Queue carries work: each task only says "look at row X now".
type Queue interface {
	// EnqueueSteps asks for steps to run at at, as one unit of work.
	EnqueueSteps(ctx context.Context, stepIDs []string, at time.Time) error
	EnqueueDelivery(ctx context.Context, deliveryID string, at time.Time) error
}

// SendOutcome is the result of one HTTP try of a delivery.
type SendOutcome struct {
	Attempt    Attempt
	Accepted   bool          // 2xx
	Gone       bool          // 410: stop at once
	RetryAfter time.Duration // from a Retry-After header; 0 when absent
}

// Sender makes one signed HTTP try of a delivery. secret is the
// destination's whsec_ signing secret.
type Sender interface {
	Send(ctx context.Context, d *Delivery, secret string) SendOutcome
}

// Clock tells the time; tests inject a controllable one.
type Clock interface{ Now() time.Time }

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns the current UTC time.
func (SystemClock) Now() time.Time { return time.Now().UTC() }
