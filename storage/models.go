package storage

import (
	"time"

	"github.com/uptrace/bun"

	"github.com/sluicehq/sluice/engine"
)

// Rows of the tables, as bun models. JSON columns are maps and slices that
// bun encodes; nullzero keeps a nil map NULL so that it reads back nil.

type listRow struct {
	bun.BaseModel `bun:"table:lists,alias:l"`
	ID            string `bun:"id,pk"`
	Name          string `bun:"name"`
	CreatedAt     utime  `bun:"created_at"`
}

func newListRow(l *engine.List) *listRow {
	return &listRow{ID: l.ID, Name: l.Name, CreatedAt: ut(l.CreatedAt)}
}

func (r *listRow) list() engine.List {
	return engine.List{ID: r.ID, Name: r.Name, CreatedAt: r.CreatedAt.T()}
}

type contactRow struct {
	bun.BaseModel    `bun:"table:contacts,alias:c"`
	ID               string            `bun:"id,pk"`
	Email            string            `bun:"email"`
	EmailKey         string            `bun:"email_key"`
	Firstname        string            `bun:"firstname"`
	Lastname         string            `bun:"lastname"`
	Fields           map[string]any    `bun:"fields,nullzero"`
	Dates            map[string]string `bun:"dates,nullzero"`
	Groups           []string          `bun:"group_names,nullzero"`
	Timezone         string            `bun:"timezone"`
	ConsentGivenAt   *utime            `bun:"consent_given_at"`
	ConsentExpiresAt *utime            `bun:"consent_expires_at"`
	CreatedAt        utime             `bun:"created_at"`
	UpdatedAt        utime             `bun:"updated_at"`
	Version          int64             `bun:"version"`
}

func newContactRow(c *engine.Contact) *contactRow {
	return &contactRow{
		ID: c.ID, Email: c.Email, EmailKey: emailKey(c.Email),
		Firstname: c.Firstname, Lastname: c.Lastname,
		Fields: c.Fields, Dates: c.Dates, Groups: c.Groups, Timezone: c.Timezone,
		ConsentGivenAt: utp(c.ConsentGivenAt), ConsentExpiresAt: utp(c.ConsentExpiresAt),
		CreatedAt: ut(c.CreatedAt), UpdatedAt: ut(c.UpdatedAt), Version: c.Version,
	}
}

func (r *contactRow) contact() *engine.Contact {
	return &engine.Contact{
		ID: r.ID, Email: r.Email, Firstname: r.Firstname, Lastname: r.Lastname,
		Fields: r.Fields, Dates: r.Dates, Groups: r.Groups, Timezone: r.Timezone,
		ConsentGivenAt: r.ConsentGivenAt.ptr(), ConsentExpiresAt: r.ConsentExpiresAt.ptr(),
		CreatedAt: r.CreatedAt.T(), UpdatedAt: r.UpdatedAt.T(), Version: r.Version,
	}
}

type eventRow struct {
	bun.BaseModel `bun:"table:events,alias:e"`
	ID            string         `bun:"id,pk"`
	Type          string         `bun:"type"`
	ContactID     string         `bun:"contact_id"`
	ListID        string         `bun:"list_id"`
	Data          map[string]any `bun:"data,nullzero"`
	OccurredAt    utime          `bun:"occurred_at"`
}

func newEventRow(e *engine.Event) eventRow {
	return eventRow{ID: e.ID, Type: e.Type, ContactID: e.ContactID, ListID: e.ListID, Data: e.Data, OccurredAt: ut(e.OccurredAt)}
}

func (r *eventRow) event() *engine.Event {
	return &engine.Event{ID: r.ID, Type: r.Type, ContactID: r.ContactID, ListID: r.ListID, Data: r.Data, OccurredAt: r.OccurredAt.T()}
}

type scenarioRow struct {
	bun.BaseModel `bun:"table:scenarios,alias:s"`
	ID            string `bun:"id,pk"`
	Name          string `bun:"name"`
	Status        string `bun:"status"`
	AllowReentry  bool   `bun:"allow_reentry"`
	Version       int    `bun:"version"`
	ActiveVersion int    `bun:"active_version"`
	SigningSecret string `bun:"signing_secret"` // sealed
	CreatedAt     utime  `bun:"created_at"`
	UpdatedAt     utime  `bun:"updated_at"`
}

type versionRow struct {
	bun.BaseModel `bun:"table:scenario_versions,alias:v"`
	ScenarioID    string       `bun:"scenario_id,pk"`
	Number        int          `bun:"number,pk"`
	Graph         engine.Graph `bun:"graph"`
	CreatedAt     utime        `bun:"created_at"`
	ActivatedAt   *utime       `bun:"activated_at"`
}

func newVersionRow(scenarioID string, v *engine.Version) *versionRow {
	return &versionRow{ScenarioID: scenarioID, Number: v.Number, Graph: v.Graph, CreatedAt: ut(v.CreatedAt), ActivatedAt: utp(v.ActivatedAt)}
}

func (r *versionRow) version() engine.Version {
	return engine.Version{ScenarioID: r.ScenarioID, Number: r.Number, Graph: r.Graph, CreatedAt: r.CreatedAt.T(), ActivatedAt: r.ActivatedAt.ptr()}
}

type runRow struct {
	bun.BaseModel `bun:"table:runs,alias:r"`
	ID            string `bun:"id,pk"`
	ScenarioID    string `bun:"scenario_id"`
	Version       int    `bun:"version"`
	ContactID     string `bun:"contact_id"`
	EventID       string `bun:"event_id"`
	EntryKey      string `bun:"entry_key"`
	Trigger       string `bun:"trigger_node"`
	Status        string `bun:"status"`
	CreatedAt     utime  `bun:"created_at"`
}

func newRunRow(r *engine.Run) *runRow {
	return &runRow{ID: r.ID, ScenarioID: r.ScenarioID, Version: r.Version, ContactID: r.ContactID, EventID: r.EventID,
		EntryKey: r.EntryKey, Trigger: r.Trigger, Status: string(r.Status), CreatedAt: ut(r.CreatedAt)}
}

func (r *runRow) run() *engine.Run {
	return &engine.Run{ID: r.ID, ScenarioID: r.ScenarioID, Version: r.Version, ContactID: r.ContactID, EventID: r.EventID,
		EntryKey: r.EntryKey, Trigger: r.Trigger, Status: engine.RunStatus(r.Status), CreatedAt: r.CreatedAt.T()}
}

type listSubscriptionRow struct {
	bun.BaseModel  `bun:"table:list_subscriptions"`
	ListID         string `bun:"list_id,pk"`
	ContactID      string `bun:"contact_id,pk"`
	Status         string `bun:"status"`
	SubscribedAt   *utime `bun:"subscribed_at"`
	UnsubscribedAt *utime `bun:"unsubscribed_at"`
}

type stepRow struct {
	bun.BaseModel `bun:"table:steps,alias:st"`
	ID            string `bun:"id,pk"`
	RunID         string `bun:"run_id"`
	ScenarioID    string `bun:"scenario_id"`
	Version       int    `bun:"version"`
	NodeID        string `bun:"node_id"`
	ContactID     string `bun:"contact_id"`
	EventID       string `bun:"event_id"`
	Status        string `bun:"status"`
	DueAt         utime  `bun:"due_at"`
	Error         string `bun:"error"`
	CreatedAt     utime  `bun:"created_at"`
	DoneAt        *utime `bun:"done_at"`
}

func newStepRow(s *engine.Step) stepRow {
	return stepRow{ID: s.ID, RunID: s.RunID, ScenarioID: s.ScenarioID, Version: s.Version, NodeID: s.NodeID,
		ContactID: s.ContactID, EventID: s.EventID, Status: string(s.Status), DueAt: ut(s.DueAt),
		Error: cleanText(s.Error), CreatedAt: ut(s.CreatedAt), DoneAt: utp(s.DoneAt)}
}

func (r *stepRow) step() engine.Step {
	return engine.Step{ID: r.ID, RunID: r.RunID, ScenarioID: r.ScenarioID, Version: r.Version, NodeID: r.NodeID,
		ContactID: r.ContactID, EventID: r.EventID, Status: engine.StepStatus(r.Status), DueAt: r.DueAt.T(),
		Error: r.Error, CreatedAt: r.CreatedAt.T(), DoneAt: r.DoneAt.ptr()}
}

type deliveryRow struct {
	bun.BaseModel  `bun:"table:deliveries,alias:d"`
	ID             string            `bun:"id,pk"`
	MessageID      string            `bun:"message_id"`
	Kind           string            `bun:"kind"`
	ScenarioID     string            `bun:"scenario_id,nullzero"` // NULL for subscription deliveries
	Version        int               `bun:"version"`
	NodeID         string            `bun:"node_id"`
	RunID          string            `bun:"run_id"`
	StepID         string            `bun:"step_id"`
	ContactID      string            `bun:"contact_id"`
	SubscriptionID string            `bun:"subscription_id"`
	URL            string            `bun:"url"`
	Method         string            `bun:"method"`
	Headers        map[string]string `bun:"headers,nullzero"`
	Body           []byte            `bun:"body"`
	TimeoutMS      int64             `bun:"timeout_ms"`
	Status         string            `bun:"status"`
	Attempts       int               `bun:"attempts"`
	CreatedAt      utime             `bun:"created_at"`
	FirstAttemptAt *utime            `bun:"first_attempt_at"`
	NextAttemptAt  *utime            `bun:"next_attempt_at"`
	LastError      string            `bun:"last_error"`
	DoneAt         *utime            `bun:"done_at"`
}

func newDeliveryRow(d *engine.Delivery) *deliveryRow {
	return &deliveryRow{ID: d.ID, MessageID: d.MessageID, Kind: string(d.Kind), ScenarioID: d.ScenarioID, Version: d.Version,
		NodeID: d.NodeID, RunID: d.RunID, StepID: d.StepID, ContactID: d.ContactID, SubscriptionID: d.SubscriptionID,
		URL: d.URL, Method: d.Method, Headers: d.Headers, Body: d.Body, TimeoutMS: d.Timeout.Milliseconds(),
		Status: string(d.Status), Attempts: d.Attempts, CreatedAt: ut(d.CreatedAt),
		FirstAttemptAt: utp(d.FirstAttemptAt), NextAttemptAt: utp(d.NextAttemptAt),
		LastError: cleanText(d.LastError), DoneAt: utp(d.DoneAt)}
}

func (r *deliveryRow) delivery() engine.Delivery {
	return engine.Delivery{ID: r.ID, MessageID: r.MessageID, Kind: engine.DeliveryKind(r.Kind), ScenarioID: r.ScenarioID,
		Version: r.Version, NodeID: r.NodeID, RunID: r.RunID, StepID: r.StepID, ContactID: r.ContactID,
		SubscriptionID: r.SubscriptionID, URL: r.URL, Method: r.Method, Headers: r.Headers, Body: r.Body,
		Timeout: time.Duration(r.TimeoutMS) * time.Millisecond, Status: engine.DeliveryStatus(r.Status),
		Attempts: r.Attempts, CreatedAt: r.CreatedAt.T(), FirstAttemptAt: r.FirstAttemptAt.ptr(),
		NextAttemptAt: r.NextAttemptAt.ptr(), LastError: r.LastError, DoneAt: r.DoneAt.ptr()}
}

type attemptRow struct {
	bun.BaseModel   `bun:"table:attempts,alias:a"`
	DeliveryID      string            `bun:"delivery_id,pk"`
	Number          int               `bun:"number,pk"`
	ID              string            `bun:"id"`
	At              utime             `bun:"at"`
	URL             string            `bun:"url"`
	Method          string            `bun:"method"`
	RequestHeaders  map[string]string `bun:"request_headers,nullzero"`
	RequestBody     []byte            `bun:"request_body"`
	StatusCode      int               `bun:"status_code"`
	ResponseHeaders map[string]string `bun:"response_headers,nullzero"`
	ResponseBody    []byte            `bun:"response_body"`
	DurationMS      int64             `bun:"duration_ms"`
	Error           string            `bun:"error"`
}

func newAttemptRow(a *engine.Attempt) *attemptRow {
	return &attemptRow{DeliveryID: a.DeliveryID, Number: a.Number, ID: a.ID, At: ut(a.At), URL: a.URL, Method: a.Method,
		RequestHeaders: a.RequestHeaders, RequestBody: []byte(a.RequestBody), StatusCode: a.StatusCode,
		ResponseHeaders: a.ResponseHeaders, ResponseBody: []byte(a.ResponseBody), DurationMS: a.DurationMS,
		Error: cleanText(a.Error)}
}

func (r *attemptRow) attempt() engine.Attempt {
	return engine.Attempt{ID: r.ID, DeliveryID: r.DeliveryID, Number: r.Number, At: r.At.T(), URL: r.URL, Method: r.Method,
		RequestHeaders: r.RequestHeaders, RequestBody: string(r.RequestBody), StatusCode: r.StatusCode,
		ResponseHeaders: r.ResponseHeaders, ResponseBody: string(r.ResponseBody), DurationMS: r.DurationMS, Error: r.Error}
}

type statsRow struct {
	bun.BaseModel `bun:"table:step_stats,alias:ss"`
	NodeID        string `bun:"node_id"`
	Reached       int64  `bun:"reached"`
	Accepted      int64  `bun:"accepted"`
	Pending       int64  `bun:"pending"`
	Failed        int64  `bun:"failed"`
	Attempts      int64  `bun:"attempts"`
}

type hourlyRow struct {
	bun.BaseModel `bun:"table:step_stats_hourly,alias:sh"`
	NodeID        string `bun:"node_id"`
	Hour          utime  `bun:"hour"`
	Reached       int64  `bun:"reached"`
	Accepted      int64  `bun:"accepted"`
	Failed        int64  `bun:"failed"`
	Attempts      int64  `bun:"attempts"`
}
