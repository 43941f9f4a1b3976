package engine

// IngestWaiting is how many events the ingest batcher counts as waiting:
// those whose Ingest has not returned.
func IngestWaiting(e *Engine) int {
	e.ingests.mu.Lock()
	defer e.ingests.mu.Unlock()
	return e.ingests.inside
}
