package engine

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
)

// batcher is group commit: concurrent callers add items, and whatever has
// queued while the previous batch ran goes together in the next one. No
// timer and no wait: a lone caller runs at once in a batch of one, and
// under load batches grow by themselves to what arrives during one commit.
// Items carry a pending (its caller waits on it); the run function
// finishes each item, and whatever it leaves unfinished, or a panic, ends
// the item with an error rather than hanging its caller or the process.
type batcher[T finisher] struct {
	run    func(batch []T)
	weight func(T) int // how much an item counts toward max
	max    int         // a batch stops growing at this weight
	lanes  int         // batches that may run at the same time
	log    *slog.Logger

	mu    sync.Mutex
	queue []T
	busy  int // lanes running
}

// add queues it, starting a lane if one is free.
func (b *batcher[T]) add(it T) {
	b.mu.Lock()
	b.queue = append(b.queue, it)
	start := b.busy < b.lanes
	if start {
		b.busy++
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
		n, w := 0, 0
		for n < len(b.queue) && (n == 0 || w+b.weight(b.queue[n]) <= b.max) {
			w += b.weight(b.queue[n])
			n++
		}
		if n == 0 {
			b.busy--
			b.mu.Unlock()
			return
		}
		batch := make([]T, n)
		copy(batch, b.queue)
		b.queue = append(b.queue[:0], b.queue[n:]...)
		b.mu.Unlock()
		b.runSafely(batch)
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
