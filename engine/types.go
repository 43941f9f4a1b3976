package engine

import (
	"encoding/json"
	"time"
)

// ScenarioStatus is the life-cycle state of a scenario.
type ScenarioStatus string

// Scenario statuses.
const (
	StatusDraft    ScenarioStatus = "draft"
	StatusActive   ScenarioStatus = "active"
	StatusPaused   ScenarioStatus = "paused"
	StatusArchived ScenarioStatus = "archived"
)

// Scenario is a named, versioned graph of nodes.
type Scenario struct {
	ID            string         `json:"id"`
	Name          string         `json:"name"`
	Status        ScenarioStatus `json:"status"`
	AllowReentry  bool           `json:"allow_reentry"`
	Version       int            `json:"version"`        // latest saved version
	ActiveVersion int            `json:"active_version"` // version new runs enter on; 0 when never activated
	SigningSecret string         `json:"signing_secret"` // whsec_…; encrypted at rest
	CreatedAt     time.Time      `json:"created_at"`
	UpdatedAt     time.Time      `json:"updated_at"`
}

// Version is one saved graph of a scenario. Versions are immutable once
// activated; saving an activated scenario creates a new draft version.
type Version struct {
	ScenarioID  string     `json:"scenario_id"`
	Number      int        `json:"version"`
	Graph       Graph      `json:"graph"`
	CreatedAt   time.Time  `json:"created_at"`
	ActivatedAt *time.Time `json:"activated_at,omitempty"`
}

// Graph is the drawing of a scenario: nodes joined by edges.
type Graph struct {
	Nodes []Node `json:"nodes"`
	Edges []Edge `json:"edges"`
}

// Node is one step of a graph; Type names an entry of the node catalogue.
type Node struct {
	ID       string          `json:"id"`
	Type     string          `json:"type"`
	Config   json.RawMessage `json:"config,omitempty"`
	Position *Position       `json:"position,omitempty"`
}

// Position is where a node sits on the builder's canvas.
type Position struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// Edge joins two nodes; Label is "yes" or "no" on edges leaving a condition.
type Edge struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Label string `json:"label,omitempty"`
}

// Contact is a person known to Sluice.
type Contact struct {
	ID               string            `json:"id"`
	Email            string            `json:"email"`
	Firstname        string            `json:"firstname"`
	Lastname         string            `json:"lastname"`
	Fields           map[string]any    `json:"fields"`
	Dates            map[string]string `json:"dates"`
	Groups           []string          `json:"groups"`
	Timezone         string            `json:"timezone,omitempty"`
	ConsentGivenAt   *time.Time        `json:"consent_given_at,omitempty"`
	ConsentExpiresAt *time.Time        `json:"consent_expires_at,omitempty"`
	CreatedAt        time.Time         `json:"created_at"`
	UpdatedAt        time.Time         `json:"updated_at"`
	// Version counts the updates of the stored contact, which bump it;
	// a write that must not overwrite an update it did not read checks
	// it (Tx.UpdateContactsLater).
	Version int64 `json:"-"`
}

// List is a subscription list contacts join and leave.
type List struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Event types Sluice knows; any other name is a custom event.
const (
	EventSignup          = "signup"
	EventUnsubscribe     = "unsubscribe"
	EventClick           = "click"
	EventOpen            = "open"
	EventContactUpdated  = "contact_updated"
	EventGroupAdded      = "group_added"
	EventGroupRemoved    = "group_removed"
	EventDateReached     = "date_reached"
	EventConsentExpiring = "consent_expiring"
	EventFormSubmitted   = "form_submitted"
	EventInboundWebhook  = "inbound_webhook"
)

// Event is something that happened to a contact. It is stored before
// anything reacts to it.
type Event struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	ContactID  string         `json:"contact_id"`
	ListID     string         `json:"list_id,omitempty"`
	Data       map[string]any `json:"data,omitempty"`
	OccurredAt time.Time      `json:"occurred_at"`
}

// RunStatus is the state of one contact's pass through a scenario.
type RunStatus string

// Run statuses.
const (
	RunActive    RunStatus = "active"
	RunCompleted RunStatus = "completed"
	RunFailed    RunStatus = "failed"
)

// Run is one contact's pass through one scenario version.
type Run struct {
	ID         string `json:"id"`
	ScenarioID string `json:"scenario_id"`
	Version    int    `json:"version"`
	ContactID  string `json:"contact_id"`
	EventID    string `json:"event_id"`
	EntryKey   string `json:"-"` // "" unless the scenario allows re-entry (or per date occurrence)
	// Trigger is the trigger node that started the run. Runs stored before
	// it was kept have "" and a done step for their trigger instead.
	Trigger   string    `json:"-"`
	Status    RunStatus `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

// Entry is a contact's entry into a scenario it may enter once: a run of
// the contact in the scenario with no entry key.
type Entry struct{ ScenarioID, ContactID string }

// StepStatus is the state of one node's execution inside a run.
type StepStatus string

// Step statuses.
const (
	StepPending StepStatus = "pending"
	StepDone    StepStatus = "done"
	StepFailed  StepStatus = "failed"
)

// Step is one node to execute for one run, due at DueAt. A run reaches a
// node at most once: (RunID, NodeID) is unique.
type Step struct {
	ID         string     `json:"id"`
	RunID      string     `json:"run_id"`
	ScenarioID string     `json:"scenario_id"`
	Version    int        `json:"version"`
	NodeID     string     `json:"node_id"`
	ContactID  string     `json:"contact_id"`
	EventID    string     `json:"event_id"`
	Status     StepStatus `json:"status"`
	DueAt      time.Time  `json:"due_at"`
	Error      string     `json:"error,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	DoneAt     *time.Time `json:"done_at,omitempty"`
}

// DeliveryStatus is the state of one webhook request to be made.
type DeliveryStatus string

// Delivery statuses.
const (
	DeliveryPending  DeliveryStatus = "pending"
	DeliveryAccepted DeliveryStatus = "accepted"
	DeliveryFailed   DeliveryStatus = "failed"
)

// DeliveryStatuses are every status a delivery can have.
var DeliveryStatuses = []DeliveryStatus{DeliveryPending, DeliveryAccepted, DeliveryFailed}

// DeliveryKind says what a delivery belongs to.
type DeliveryKind string

// Delivery kinds.
const (
	KindStep         DeliveryKind = "step"
	KindSubscription DeliveryKind = "subscription"
)

// Delivery is one webhook request to be made until a 2xx answer accepts it or
// the retry window closes. Its body is built once and resent unchanged.
type Delivery struct {
	ID             string            `json:"id"`
	MessageID      string            `json:"message_id"` // webhook-id header and body "id"
	Kind           DeliveryKind      `json:"kind"`
	ScenarioID     string            `json:"scenario_id,omitempty"`
	Version        int               `json:"version,omitempty"`
	NodeID         string            `json:"node_id,omitempty"`
	RunID          string            `json:"run_id,omitempty"`
	StepID         string            `json:"step_id,omitempty"`
	ContactID      string            `json:"contact_id,omitempty"`
	SubscriptionID string            `json:"subscription_id,omitempty"`
	URL            string            `json:"url"`
	Method         string            `json:"method"`
	Headers        map[string]string `json:"headers"`
	Body           []byte            `json:"-"`
	Timeout        time.Duration     `json:"-"`
	Status         DeliveryStatus    `json:"status"`
	Attempts       int               `json:"attempts"`
	CreatedAt      time.Time         `json:"created_at"`
	FirstAttemptAt *time.Time        `json:"first_attempt_at,omitempty"`
	NextAttemptAt  *time.Time        `json:"next_attempt_at,omitempty"`
	LastError      string            `json:"last_error,omitempty"`
	DoneAt         *time.Time        `json:"done_at,omitempty"`
}

// Attempt is one HTTP try of a delivery.
type Attempt struct {
	ID              string            `json:"id"`
	DeliveryID      string            `json:"delivery_id"`
	Number          int               `json:"number"`
	At              time.Time         `json:"at"`
	URL             string            `json:"url"`
	Method          string            `json:"method"`
	RequestHeaders  map[string]string `json:"request_headers"`
	RequestBody     string            `json:"request_body"`
	StatusCode      int               `json:"status_code"`
	ResponseHeaders map[string]string `json:"response_headers,omitempty"`
	ResponseBody    string            `json:"response_body,omitempty"` // first 4 KiB
	DurationMS      int64             `json:"duration_ms"`
	Error           string            `json:"error,omitempty"`
}

// StepStats are the counters of one node of one scenario version.
type StepStats struct {
	NodeID   string `json:"node_id"`
	Type     string `json:"type"`
	Reached  int64  `json:"reached"`
	Accepted int64  `json:"accepted"`
	Pending  int64  `json:"pending"`
	Failed   int64  `json:"failed"`
	Attempts int64  `json:"attempts"`
}

// StatDelta is a change to the counters of one node, applied in the same
// transaction as the state change it counts. Hour is the hourly bucket.
type StatDelta struct {
	ScenarioID string
	Version    int
	NodeID     string
	Hour       time.Time
	Reached    int64
	Accepted   int64
	Pending    int64
	Failed     int64
	Attempts   int64
}

// HourlyStats is one hourly bucket of a node's activity.
type HourlyStats struct {
	Hour     time.Time `json:"hour"`
	Reached  int64     `json:"reached"`
	Accepted int64     `json:"accepted"`
	Failed   int64     `json:"failed"`
	Attempts int64     `json:"attempts"`
}
