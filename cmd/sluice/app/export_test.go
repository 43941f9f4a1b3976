package app

import "time"

// The waker (wake.go), for the external tests.
type Waker = waker

func NewWaker() *Waker                   { return newWaker() }
func (w *waker) SetWait(d time.Duration) { w.setWait(d) }
func (w *waker) Stop()                   { w.stop() }

// Concurrency is what New settled on for the worker; CommitLanes is
// what it gives the engine for its store (workerDefaults, as New calls
// it), for the external tests.
func (a *App) Concurrency() int { return a.cfg.Concurrency }
func (a *App) CommitLanes() int {
	_, lanes := workerDefaults(a.store)
	return lanes
}
