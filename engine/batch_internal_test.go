package engine

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// item is a batched item that records the batch it ran in.
type item struct {
	n int
	pending
}

// recorder is a batcher's run function that records its batches.
type recorder struct {
	mu      sync.Mutex
	batches [][]int
}

func (r *recorder) run(batch []*item) {
	ns := make([]int, len(batch))
	for i, it := range batch {
		ns[i] = it.n
	}
	r.mu.Lock()
	r.batches = append(r.batches, ns)
	r.mu.Unlock()
	for _, it := range batch {
		it.finish(nil)
	}
}

func (r *recorder) recorded() [][]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.batches)
}

func newLingering(r *recorder, fill int, linger time.Duration) *batcher[*item] {
	return &batcher[*item]{run: r.run, weight: one[*item], max: 100, lanes: 1, fill: fill, linger: linger}
}

// TestBatcherLingerFills: a batch lighter than fill waits for more items,
// and goes as soon as they make up fill: with a linger far longer than the
// test, two items added one after the other share one batch, and the
// third, alone, waits for a fourth.
func TestBatcherLingerFills(t *testing.T) {
	r := &recorder{}
	b := newLingering(r, 2, time.Hour)
	items := make([]*item, 4)
	for i := range items {
		items[i] = &item{n: i, pending: newPending()}
	}
	b.add(items[0])
	b.add(items[1])
	if err := items[1].wait(); err != nil {
		t.Fatal(err)
	}
	b.add(items[2])
	select {
	case <-items[2].done:
		t.Fatalf("a lone item ran without waiting for fill: batches %v", r.recorded())
	case <-time.After(50 * time.Millisecond):
	}
	b.add(items[3])
	if err := items[3].wait(); err != nil {
		t.Fatal(err)
	}
	if got, want := r.recorded(), [][]int{{0, 1}, {2, 3}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("batches %v, want %v", got, want)
	}
}

// TestBatcherLingerEnds: a batch that never reaches fill runs once its
// oldest item has waited linger, with whatever came meanwhile; the lane is
// free again afterwards.
func TestBatcherLingerEnds(t *testing.T) {
	r := &recorder{}
	const linger = 30 * time.Millisecond
	b := newLingering(r, 100, linger)
	first, second := &item{n: 1, pending: newPending()}, &item{n: 2, pending: newPending()}
	start := time.Now()
	b.add(first)
	b.add(second)
	if err := first.wait(); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < linger {
		t.Errorf("the batch ran after %v, before its linger of %v", waited, linger)
	}
	third := &item{n: 3, pending: newPending()}
	b.add(third)
	if err := third.wait(); err != nil {
		t.Fatal(err)
	}
	if got, want := r.recorded(), [][]int{{1, 2}, {3}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("batches %v, want %v", got, want)
	}
}

// TestBatcherNoLinger: without a linger a lone item runs at once, whatever
// fill says.
func TestBatcherNoLinger(t *testing.T) {
	r := &recorder{}
	b := newLingering(r, 100, 0)
	it := &item{n: 7, pending: newPending()}
	b.add(it)
	select {
	case <-it.done:
	case <-time.After(10 * time.Second):
		t.Fatal("a lone item without linger never ran")
	}
	if got, want := r.recorded(), [][]int{{7}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("batches %v, want %v", got, want)
	}
}
