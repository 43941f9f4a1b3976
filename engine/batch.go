package engine

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"time"
)

// batcher is group commit: concurrent callers add items, and whatever has
// queued while the previous batch ran goes together in the next one, so
// under load batches grow by themselves to what arrives during one commit.
// A light load would make batches of one, each paying a whole transaction;
// so a batch lighter than fill waits for more items, until its oldest item
// has waited linger (no linger: a lone caller runs at once) or, when
// adaptive, until as many as lately waited at once are there or items stop
// coming (see lingerFor). Items carry a pending (its caller waits on it,
// then, when adaptive, calls leave); the run function finishes each item,
// and whatever it leaves unfinished, or a panic, ends the item with an
// error rather than hanging its caller or the process.
type batcher[T finisher] struct {
	run    func(batch []T)
	weight func(T) int // how much an item counts toward max
	max    int         // a batch stops growing at this weight
	lanes  int         // batches that may run at the same time
	log    *slog.Logger
	// A batch lighter than fill waits for more until its oldest item has
	// waited linger; when adaptive, less (lingerFor).
	fill     int
	linger   time.Duration
	adaptive bool

	mu     sync.Mutex
	queue  []waiting[T]
	queued int           // the weight of the queue
	busy   int           // lanes running
	filled chan struct{} // a lingering lane is told the queue reached fill (or expected)
	// When adaptive: the gaps between the latest arrivals (a ring; ngaps
	// recorded in all) and when the newest came; the weight of the items
	// whose callers have not left (inside), the most of it since the last
	// batch was taken (peak) and in each of the last batches (a ring).
	gaps   [16]time.Duration
	ngaps  int
	last   time.Time
	inside int
	peak   int
	peaks  [4]int
	npeaks int
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
	if b.adaptive {
		if !b.last.IsZero() {
			b.gaps[b.ngaps%len(b.gaps)] = q.at.Sub(b.last)
			b.ngaps++
		}
		b.last = q.at
		b.inside += b.weight(it)
		b.peak = max(b.peak, b.inside)
	}
	b.queue = append(b.queue, q)
	b.queued += b.weight(it)
	start := b.busy < b.lanes
	if start {
		b.busy++
	}
	if e := b.expected(); b.filled != nil && (b.queued >= b.fill || e > 0 && b.queued >= e) {
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

// leave tells an adaptive batcher that its caller no longer waits for it.
func (b *batcher[T]) leave(it T) {
	if !b.adaptive {
		return
	}
	b.mu.Lock()
	b.inside -= b.weight(it)
	b.mu.Unlock()
}

// lane runs batches until the queue is empty.
func (b *batcher[T]) lane() {
	var freed time.Time // when this lane's last batch ended (adaptive only)
	for {
		b.mu.Lock()
		if wait := b.lingerFor(time.Now(), freed); wait > 0 {
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
		if b.adaptive {
			b.peaks[b.npeaks%len(b.peaks)] = b.peak
			b.npeaks++
			b.peak = b.inside
		}
		b.mu.Unlock()
		b.runSafely(batch)
		if b.adaptive {
			freed = time.Now()
		}
	}
}

// lingerFor is how long a lane freed at freed should wait at now for the
// queue to fill before it takes a batch: until the oldest item has waited
// linger, when the queue is not empty and lighter than fill. When adaptive,
// a queue as heavy as the most that waited at once in the last few
// batches goes at once (callers that each wait for their answer before
// they send again, fewer than fill, are all there), and a linger ends
// quietFor after the newest item came or the lane was freed, whichever is
// later (callers that stop coming). b.mu is held.
func (b *batcher[T]) lingerFor(now, freed time.Time) time.Duration {
	if b.linger <= 0 || len(b.queue) == 0 || b.queued >= b.fill {
		return 0
	}
	if e := b.expected(); e > 0 && b.queued >= e {
		return 0
	}
	wait := b.linger - now.Sub(b.queue[0].at)
	if q := b.quietFor(); q > 0 {
		since := b.queue[len(b.queue)-1].at
		if freed.After(since) {
			since = freed
		}
		wait = min(wait, q-now.Sub(since))
	}
	return wait
}

// expected is the most that waited at once in the last few batches when
// adaptive; else 0. b.mu is held.
func (b *batcher[T]) expected() int {
	if !b.adaptive || b.npeaks == 0 {
		return 0
	}
	return slices.Max(b.peaks[:min(b.npeaks, len(b.peaks))])
}

// minQuiet is the least quiet that ends a linger: about the time callers
// just answered take to send again, so that a lane freed by a batch waits
// for them.
const minQuiet = 500 * time.Microsecond

// quietFor is how long without a new item ends a linger: 3 times the
// median of the latest gaps between items, at least minQuiet; 0 (no such
// end) unless adaptive and len(gaps) gaps are known. Callers that each
// wait for their answer before they send again, fewer than fill, arrive
// together and then stop until they are answered, so lingering on would
// only hold them back; items that keep coming at a steady rate, however
// slow, arrive within 3 median gaps of each other, and their batches grow
// to fill or linger as before. b.mu is held.
func (b *batcher[T]) quietFor() time.Duration {
	if !b.adaptive || b.ngaps < len(b.gaps) {
		return 0
	}
	gaps := b.gaps
	slices.Sort(gaps[:])
	return max(3*gaps[len(gaps)/2], minQuiet)
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
