package engine

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"
)

// batcher is group commit: concurrent callers add items, and whatever has
// queued while the previous batch ran goes together in the next one, so
// under load batches grow by themselves to what arrives during one commit.
// A light load would make batches of one, each paying a whole transaction;
// so a batch lighter than fill waits for more items, until its oldest item
// has waited linger (no linger: a lone caller runs at once). Items carry a
// pending (its caller waits on it); the run function finishes each item,
// and whatever it leaves unfinished, or a panic, ends the item with an
// error rather than hanging its caller or the process.
type batcher[T finisher] struct {
	run    func(batch []T)
	weight func(T) int // how much an item counts toward max
	max    int         // a batch stops growing at this weight
	lanes  int         // batches that may run at the same time
	log    *slog.Logger
	// A batch lighter than fill waits for more until its oldest item has
	// waited linger.
	fill   int
	linger time.Duration

	mu     sync.Mutex
	queue  []waiting[T]
	queued int           // the weight of the queue
	busy   int           // lanes running
	filled chan struct{} // a lingering lane is told the queue reached fill
}

// waiting is an item and when it was added.
type waiting[T any] struct {
	it T
	at time.Time
}

// add queues it, starting a lane if one is free.
func (b *batcher[T]) add(it T) {
	q := waiting[T]{it: it}
	if b.linger > 0 {
		q.at = time.Now()
	}
	b.mu.Lock()
	b.queue = append(b.queue, q)
	b.queued += b.weight(it)
	start := b.busy < b.lanes
	if start {
		b.busy++
	}
	if b.queued >= b.fill && b.filled != nil {
		select {
		case b.filled <- struct{}{}:
		default: // told already
		}
	}
	b.mu.Unlock()
	if start {
		go b.lane()
	}
}

// lane runs batches until the queue is empty.
func (b *batcher[T]) lane() {
	for {
		b.mu.Lock()
		if wait := b.lingerFor(); wait > 0 {
			if b.filled == nil {
				b.filled = make(chan struct{}, 1)
			}
			filled := b.filled
			b.mu.Unlock()
			waitFill(filled, wait)
			continue
		}
		n, w := 0, 0
		for n < len(b.queue) && (n == 0 || w+b.weight(b.queue[n].it) <= b.max) {
			w += b.weight(b.queue[n].it)
			n++
		}
		if n == 0 {
			b.busy--
			b.mu.Unlock()
			return
		}
		batch := make([]T, n)
		for i := range batch {
			batch[i] = b.queue[i].it
		}
		b.queue = append(b.queue[:0], b.queue[n:]...)
		b.queued -= w
		b.mu.Unlock()
		b.runSafely(batch)
	}
}

// lingerFor is how long a lane should wait for the queue to fill before
// it takes a batch: until the oldest item has waited linger, when the
// queue is not empty and lighter than fill. b.mu is held.
func (b *batcher[T]) lingerFor() time.Duration {
	if b.linger <= 0 || len(b.queue) == 0 || b.queued >= b.fill {
		return 0
	}
	return b.linger - time.Since(b.queue[0].at)
}

// waitFill waits up to d for add to say on filled that the queue reached
// fill.
func waitFill(filled <-chan struct{}, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-filled:
	case <-t.C:
	}
}

// errUnfinished ends an item its batch did not finish (a bug).
var errUnfinished = fmt.Errorf("engine: batch ended without an answer for this item")

// runSafely runs a batch; a panic in it is logged and ends its items with
// an error, as does returning without finishing one.
func (b *batcher[T]) runSafely(batch []T) {
	defer func() {
		err := errUnfinished
		if r := recover(); r != nil {
			err = fmt.Errorf("engine: batch failed: %v", r)
			b.log.Error("batch panicked; its callers get an error", "err", err, "stack", string(debug.Stack()))
		}
		for _, it := range batch {
			it.finish(err)
		}
	}()
	b.run(batch)
}

// finisher is an item of a batch.
type finisher interface{ finish(err error) }

// pending is what a batched item's caller waits on. Only the lane running
// the item's batch finishes it.
type pending struct {
	err    error
	done   chan struct{}
	closed bool
}

func newPending() pending { return pending{done: make(chan struct{})} }

// finish ends the item with err; later calls do nothing.
func (p *pending) finish(err error) {
	if p.closed {
		return
	}
	p.err, p.closed = err, true
	close(p.done)
}

// wait blocks until the item is finished and returns its error.
func (p *pending) wait() error {
	<-p.done
	return p.err
}

// one counts every item as 1.
func one[T any](T) int { return 1 }
