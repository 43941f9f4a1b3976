package engine

import "time"

// IngestWaiting is how many events the ingest batcher counts as waiting:
// those whose Ingest has not returned.
func IngestWaiting(e *Engine) int {
	e.ingests.mu.Lock()
	defer e.ingests.mu.Unlock()
	return e.ingests.inside
}

// AdmitAhead is how many remembered steps not yet started hold ingestion.
const AdmitAhead = admitAhead

// SetAdmitWait sets how long one ingest batch waits for the workers, for
// the test's duration.
func SetAdmitWait(t interface{ Cleanup(func()) }, d time.Duration) {
	old := admitWait
	admitWait = d
	t.Cleanup(func() { admitWait = old })
}

// RecentWaiting is how many remembered steps no worker has taken yet.
func RecentWaiting(e *Engine) int { return e.recent.waiting() }
