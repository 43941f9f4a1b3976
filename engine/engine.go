package engine

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Config wires an Engine. Store, Queue, Sender and Registry are required.
type Config struct {
	Store    Store
	Queue    Queue
	Sender   Sender
	Registry *Registry
	// Clock defaults to the system clock.
	Clock Clock
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// NewSecret makes a scenario signing secret (whsec_…). Required.
	NewSecret func() string
	// ActiveCacheTTL is how long the set of active scenarios is cached
	// before other processes' activations are seen. Defaults to 1s.
	ActiveCacheTTL time.Duration
}

// Engine runs scenarios: it ingests events, starts runs, executes steps and
// makes deliveries, and serves the scenario life cycle to the API.
type Engine struct {
	cfg Config
}

// New checks cfg, applies defaults and returns an Engine.
func New(cfg Config) (*Engine, error) {
	if cfg.Store == nil || cfg.Queue == nil || cfg.Sender == nil || cfg.Registry == nil || cfg.NewSecret == nil {
		return nil, errors.New("engine: Store, Queue, Sender, Registry and NewSecret are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ActiveCacheTTL == 0 {
		cfg.ActiveCacheTTL = time.Second
	}
	return &Engine{cfg: cfg}, nil
}

var errTodo = errors.New("not implemented yet")

// NodeTypes lists the node catalogue.
func (e *Engine) NodeTypes() []Spec { return e.cfg.Registry.Specs() }

// Ping checks the database.
func (e *Engine) Ping(ctx context.Context) error { return e.cfg.Store.Ping(ctx) }

// CreateList creates a list.
func (e *Engine) CreateList(ctx context.Context, name string) (*List, error) { return nil, errTodo }

// GetList returns a list.
func (e *Engine) GetList(ctx context.Context, id string) (*List, error) { return nil, errTodo }

// Lists returns every list.
func (e *Engine) Lists(ctx context.Context) ([]List, error) { return nil, errTodo }

// CreateContact creates a contact; ErrConflict when the email exists.
func (e *Engine) CreateContact(ctx context.Context, in ContactInput) (*Contact, error) {
	return nil, errTodo
}

// GetContact returns a contact by id.
func (e *Engine) GetContact(ctx context.Context, id string) (*Contact, error) { return nil, errTodo }

// FindContact returns a contact by email (case-insensitive).
func (e *Engine) FindContact(ctx context.Context, email string) (*Contact, error) {
	return nil, errTodo
}

// UpdateContact changes a contact: replace (PUT) or merge (PATCH). Changed
// fields emit a contact_updated event, added groups group_added.
func (e *Engine) UpdateContact(ctx context.Context, id string, in ContactInput, replace bool) (*Contact, error) {
	return nil, errTodo
}

// Ingest validates, stores and reacts to events. Invalid events are
// refused one by one (IngestResult.Err); the valid ones are stored in one
// transaction before Ingest returns.
func (e *Engine) Ingest(ctx context.Context, evs []EventInput) ([]IngestResult, error) {
	return nil, errTodo
}

// CreateScenario saves a new scenario as draft version 1.
func (e *Engine) CreateScenario(ctx context.Context, in ScenarioInput) (*ScenarioView, error) {
	return nil, errTodo
}

// SaveScenario saves in as a new draft version.
func (e *Engine) SaveScenario(ctx context.Context, id string, in ScenarioInput) (*ScenarioView, error) {
	return nil, errTodo
}

// GetScenario returns a scenario with its latest version's graph.
func (e *Engine) GetScenario(ctx context.Context, id string) (*ScenarioView, error) {
	return nil, errTodo
}

// GetScenarioVersion returns a scenario with the graph of one version.
func (e *Engine) GetScenarioVersion(ctx context.Context, id string, version int) (*ScenarioView, error) {
	return nil, errTodo
}

// ListScenarios lists scenarios with their reach and last activity.
func (e *Engine) ListScenarios(ctx context.Context) ([]ScenarioSummary, error) {
	return nil, errTodo
}

// ValidateGraph returns every problem of g (empty when valid).
func (e *Engine) ValidateGraph(g Graph) []Problem { return nil }

// Activate validates the latest version and makes it the one new runs
// enter on (*ProblemsError when invalid).
func (e *Engine) Activate(ctx context.Context, id string) (*ScenarioView, error) {
	return nil, errTodo
}

// Pause stops new runs from entering; runs in flight go on.
func (e *Engine) Pause(ctx context.Context, id string) (*ScenarioView, error) { return nil, errTodo }

// Archive retires a scenario.
func (e *Engine) Archive(ctx context.Context, id string) (*ScenarioView, error) {
	return nil, errTodo
}

// DeleteScenario deletes a draft or archived scenario (ErrConflict otherwise).
func (e *Engine) DeleteScenario(ctx context.Context, id string) error { return errTodo }

// RotateSecret gives a scenario a new signing secret.
func (e *Engine) RotateSecret(ctx context.Context, id string) (*ScenarioView, error) {
	return nil, errTodo
}

// Stats returns a version's counters (0: the active, else latest, version);
// hourly adds the per-hour buckets of the last 7 days.
func (e *Engine) Stats(ctx context.Context, id string, version int, hourly bool) (*ScenarioStats, error) {
	return nil, errTodo
}

// Deliveries lists a step's deliveries with their attempts; next is the
// cursor of the following page ("" at the end).
func (e *Engine) Deliveries(ctx context.Context, f DeliveryFilter) (views []DeliveryView, next string, err error) {
	return nil, "", errTodo
}

// TestWebhook sends a test request ("test_evt_…" id) with sample or chosen
// contact data and reports the answer. Errors are only for bad input.
func (e *Engine) TestWebhook(ctx context.Context, req TestRequest) (*TestResult, error) {
	return nil, errTodo
}

// RunStep executes one step (task "step:run"); idempotent.
func (e *Engine) RunStep(ctx context.Context, stepID string) error { return errTodo }

// AttemptDelivery makes the next attempt of a delivery (task
// "delivery:attempt"); idempotent.
func (e *Engine) AttemptDelivery(ctx context.Context, deliveryID string) error { return errTodo }

// Sweep re-enqueues due steps and deliveries whose task may be missing
// (due before now-grace) and returns how many it enqueued.
func (e *Engine) Sweep(ctx context.Context, grace time.Duration) (int, error) { return 0, errTodo }
