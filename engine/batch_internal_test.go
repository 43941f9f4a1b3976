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

// TestBatcherQuietFor: when adaptive, a linger also ends 3 median gaps (at
// least minQuiet) after the newest item came or the lane was freed,
// whichever is later, once 16 gaps are known; steady arrivals, however
// slow, keep it going, and a burst's one long gap does not stretch it. A
// queue as heavy as the most that waited at once lately goes at once.
func TestBatcherQuietFor(t *testing.T) {
	const linger = time.Hour
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	gaps := func(ds ...time.Duration) [16]time.Duration {
		var g [16]time.Duration
		for i := range g {
			g[i] = ds[i%len(ds)]
		}
		return g
	}
	for _, tt := range []struct {
		name      string
		gaps      [16]time.Duration
		ngaps     int
		oldest    time.Duration // before now
		newest    time.Duration
		freed     time.Duration // 0: never
		expect    int
		want      time.Duration
		wantQuiet time.Duration
	}{
		{"too few gaps known", gaps(100 * time.Microsecond), 15, 3 * ms, 2 * ms, 0, 0, linger - 3*ms, 0},
		{"a burst, then nothing", gaps(100 * time.Microsecond), 16, 3 * ms, 200 * time.Microsecond, 0, 0, 300 * time.Microsecond, minQuiet},
		{"a burst, long over", gaps(100 * time.Microsecond), 40, 3 * ms, 2 * ms, 0, 0, minQuiet - 2*ms, minQuiet},
		{"steady and slow", gaps(2 * ms), 16, 5 * ms, ms, 0, 0, 5 * ms, 6 * ms},
		{"freed after the newest came", gaps(100 * time.Microsecond), 16, 3 * ms, 2 * ms, 100 * time.Microsecond, 0, 400 * time.Microsecond, minQuiet},
		{"a burst's long gap", gaps(50*time.Microsecond, 50*time.Microsecond, 50*time.Microsecond, 3*ms), 16, 3 * ms, 200 * time.Microsecond, 0, 0, 300 * time.Microsecond, minQuiet},
		{"as many as lately waited at once", gaps(2 * ms), 16, 3 * ms, ms, 2 * ms, 2, 0, 6 * ms},
		{"not all of them", gaps(2 * ms), 16, 3 * ms, ms, 2 * ms, 3, 5 * ms, 6 * ms},
		{"the linger ends first", gaps(2 * ms), 16, linger - ms, ms, 0, 0, ms, 6 * ms},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newLingering(&recorder{}, 100, linger)
			b.adaptive, b.gaps, b.ngaps = true, tt.gaps, tt.ngaps
			b.queue = []waiting[*item]{{at: now.Add(-tt.oldest)}, {at: now.Add(-tt.newest)}}
			b.queued = 2
			var freed time.Time
			if tt.freed > 0 {
				freed = now.Add(-tt.freed)
			}
			if tt.expect > 0 {
				b.peaks[0], b.npeaks = tt.expect, 1
			}
			if got := b.quietFor(); got != tt.wantQuiet {
				t.Errorf("quietFor = %v, want %v", got, tt.wantQuiet)
			}
			if got := b.lingerFor(now, freed); got != tt.want {
				t.Errorf("lingerFor = %v, want %v", got, tt.want)
			}
			if b.gaps != tt.gaps {
				t.Errorf("quietFor reordered the gaps: %v", b.gaps)
			}
		})
	}
}

// TestBatcherQuietEnds: callers that stop coming end a linger of an hour
// when adaptive; else they wait (TestBatcherLingerFills). The first 17
// items, added at once, reach fill and teach the batcher their gaps; three
// more, fewer than fill, then run by themselves.
func TestBatcherQuietEnds(t *testing.T) {
	r := &recorder{}
	b := newLingering(r, 17, time.Hour)
	b.adaptive = true
	items := make([]*item, 20)
	for i := range items {
		items[i] = &item{n: i, pending: newPending()}
	}
	for _, it := range items[:17] {
		b.add(it)
	}
	if err := items[16].wait(); err != nil {
		t.Fatal(err)
	}
	for _, it := range items[17:] {
		b.add(it)
	}
	select {
	case <-items[19].done:
	case <-time.After(10 * time.Second):
		t.Fatalf("three items that stopped coming still lingered after 10s: batches %v", r.recorded())
	}
	got := r.recorded()
	if len(got) != 2 || len(got[0]) != 17 || !slices.Equal(got[1], []int{17, 18, 19}) {
		t.Errorf("batches %v, want the first 17 items, then 17, 18 and 19", got)
	}
}
