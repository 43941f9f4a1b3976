package engine

// IngestWaiting is how many events the ingest batcher counts as waiting:
// those whose Ingest has not returned.
func IngestWaiting(e *Engine) int {
	e.ingests.mu.Lock()
	defer e.ingests.mu.Unlock()
	return e.ingests.inside
}

// AdmitAhead is how many remembered steps not yet started hold ingestion.
const AdmitAhead = admitAhead

// RecentWaiting is how many remembered steps no worker has taken yet.
func RecentWaiting(e *Engine) int { return e.recent.waiting() }
