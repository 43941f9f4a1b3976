package app

import "time"

// The waker (wake.go), for the external tests.
type Waker = waker

func NewWaker() *Waker                   { return newWaker() }
func (w *waker) SetWait(d time.Duration) { w.setWait(d) }
func (w *waker) Stop()                   { w.stop() }
