package engine

import (
	"sync"
)

// batcher is group commit: concurrent callers add items, and whatever has
// queued while the previous batch ran goes together in the next one. No
// timer and no wait: a lone caller runs at once in a batch of one, and
// under load batches grow by themselves to what arrives during one commit.
// Items signal their own completion; batcher only groups them.
type batcher[T any] struct {
	run    func(batch []T)
	weight func(T) int // how much an item counts toward max
	max    int         // a batch stops growing at this weight
	lanes  int         // batches that may run at the same time

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
		b.run(batch)
	}
}

// one counts every item as 1.
func one[T any](T) int { return 1 }
