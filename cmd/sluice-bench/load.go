package main

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// load is the traffic of one measurement, the same for the floor and for
// Sluice.
type load struct {
	n       int     // events
	clients int     // goroutines sending
	batch   int     // events per request (Sluice) or per unit of enqueues (floor)
	rate    float64 // events per second; 0: as fast as the clients go
}

// sendFunc sends events first … first+count-1, each stamped with sentAt
// (unix nanoseconds).
type sendFunc func(ctx context.Context, first, count int, sentAt int64) error

// drive sends l.n events in units of l.batch from l.clients goroutines and
// returns when all are sent (or the first error), with the time the first
// one was sent and, per unit, how long it took from its stamp until send
// returned (Sluice's API answered; the floor's task was enqueued).
//
// At full speed each unit is stamped with the clock when it is sent. Paced
// (rate > 0) the load is open-loop: unit u is due at start + u·batch/rate
// whatever happened to earlier ones, and is stamped with that scheduled
// time, so latency includes any time it waited for a free client (no
// coordinated omission).
func (l load) drive(ctx context.Context, send sendFunc) (time.Time, []time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	units := (l.n + l.batch - 1) / l.batch
	answered := make([]time.Duration, units) // each unit writes its own
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	start := time.Now()
	for range l.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				u := int(next.Add(1)) - 1
				if u >= units || ctx.Err() != nil {
					return
				}
				first := u * l.batch
				stamp, err := l.due(ctx, start, first)
				if err == nil {
					err = send(ctx, first, min(l.batch, l.n-first), stamp.UnixNano())
					answered[u] = time.Since(stamp)
				}
				if err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	slices.Sort(answered)
	return start, answered, firstErr
}

// due waits until event first is due and returns its send stamp.
func (l load) due(ctx context.Context, start time.Time, first int) (time.Time, error) {
	if l.rate <= 0 {
		return time.Now(), nil
	}
	at := start.Add(time.Duration(float64(first) / l.rate * float64(time.Second)))
	if d := time.Until(at); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return at, ctx.Err()
		}
	}
	return at, nil
}
