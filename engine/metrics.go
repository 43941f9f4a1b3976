package engine

import "time"

// Metrics receives the engine's measurements. The engine calls it after
// the transaction that recorded them has committed, once per outcome (a
// retried or duplicated task is not counted twice), from many goroutines
// at once; implementations must be cheap and safe for concurrent use.
type Metrics interface {
	// DeliveryAttempted reports one attempt of a delivery: its kind, the
	// delivery's status after it (accepted, pending: to be retried, or
	// failed) and how long the HTTP try took.
	DeliveryAttempted(kind DeliveryKind, status DeliveryStatus, took time.Duration)
	// RunsStarted reports n runs started, by source: "event" (an ingested
	// or derived event) or "schedule" (a date trigger).
	RunsStarted(source string, n int)
	// StepsLoaded reports n steps read to run them, by source: "memory"
	// (just created by this process: recentSteps) or "database".
	StepsLoaded(source string, n int)
	// IngestHeld reports how long a batch of events waited for this
	// process's workers to start the steps it had created (admission).
	IngestHeld(took time.Duration)
}

// NopMetrics discards every measurement; it is Config.Metrics' default.
type NopMetrics struct{}

// DeliveryAttempted does nothing.
func (NopMetrics) DeliveryAttempted(DeliveryKind, DeliveryStatus, time.Duration) {}

// RunsStarted does nothing.
func (NopMetrics) RunsStarted(string, int) {}

// StepsLoaded does nothing.
func (NopMetrics) StepsLoaded(string, int) {}

// IngestHeld does nothing.
func (NopMetrics) IngestHeld(time.Duration) {}

// Run sources reported to Metrics.RunsStarted.
const (
	RunSourceEvent    = "event"
	RunSourceSchedule = "schedule"
)

// Step sources reported to Metrics.StepsLoaded.
const (
	StepsFromMemory   = "memory"
	StepsFromDatabase = "database"
)

// observation is one delivery attempt a transaction recorded, reported to
// Metrics once it has committed.
type observation struct {
	kind   DeliveryKind
	status DeliveryStatus
	took   time.Duration
}

// observe notes an attempt of d for Metrics.
func (w *work) observe(d *Delivery, a *Attempt) {
	w.observed = append(w.observed, observation{d.Kind, d.Status, time.Duration(a.DurationMS) * time.Millisecond})
}

// report hands a committed transaction's measurements to Metrics.
func (e *Engine) report(w *work) {
	m := e.cfg.Metrics
	for _, o := range w.observed {
		m.DeliveryAttempted(o.kind, o.status, o.took)
	}
	if w.runsStarted > 0 {
		m.RunsStarted(RunSourceEvent, w.runsStarted)
	}
	if w.runsScheduled > 0 {
		m.RunsStarted(RunSourceSchedule, w.runsScheduled)
	}
}
