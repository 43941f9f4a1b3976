package engine_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/webhook"
	"github.com/sluicehq/sluice/nodes"
	"github.com/sluicehq/sluice/storage"
	"github.com/sluicehq/sluice/storage/storagetest"
)

// Group commit (engine/batch.go): step reads, step outcomes and Ingest
// calls gathered into batches. The tests hold a batch inside the store
// until the callers they need have queued behind it, so which calls share
// a batch is decided by the test, not by timing.

// The engine's batcher settings (engine.go), which the tests check.
const (
	lanes        = 1   // batchLanes: batches of one kind in flight at once
	maxStepBatch = 500 // the most step reads (or outcomes) in one batch
)

// gate holds the calls of one store method until it is opened.
type gate struct {
	open    chan struct{}
	mu      sync.Mutex
	n       int           // calls that came
	changed chan struct{} // closed when n changes
}

func newGate() *gate { return &gate{open: make(chan struct{}), changed: make(chan struct{})} }

// pass counts a call and waits until the gate opens.
func (g *gate) pass() {
	g.mu.Lock()
	g.n++
	close(g.changed)
	g.changed = make(chan struct{})
	g.mu.Unlock()
	<-g.open
}

// wait reports whether n calls have come to the gate, waiting up to 10 s
// for them.
func (g *gate) wait(n int) bool {
	timeout := time.After(10 * time.Second)
	for {
		g.mu.Lock()
		got, changed := g.n, g.changed
		g.mu.Unlock()
		if got >= n {
			return true
		}
		select {
		case <-changed:
		case <-timeout:
			return false
		}
	}
}

// spyStore is a store that records the calls the engine makes per batch
// (a LoadSteps call is one batch of step reads, a FinishSteps call one of
// step outcomes, an InsertNewContacts call one try of a batch of events of
// new contacts),
// counts those in flight, and holds them at a gate when asked to.
type spyStore struct {
	engine.Store // nil: LoadSteps finds nothing, and nothing else may be called

	mu     sync.Mutex
	calls  map[string][][]string
	busy   map[string]int
	peaks  map[string]int
	gates  map[string]*gate
	panics map[string]bool // methods whose next call panics
}

func newSpy(st engine.Store) *spyStore {
	return &spyStore{Store: st, calls: map[string][][]string{}, busy: map[string]int{}, peaks: map[string]int{},
		gates: map[string]*gate{}}
}

// enter records a call of method with args, waits at its gate if there is
// one, and returns what to call when the call is over.
func (s *spyStore) enter(method string, args []string) (leave func()) {
	s.mu.Lock()
	s.calls[method] = append(s.calls[method], slices.Clone(args))
	s.busy[method]++
	s.peaks[method] = max(s.peaks[method], s.busy[method])
	g := s.gates[method]
	boom := s.panics[method]
	delete(s.panics, method)
	s.mu.Unlock()
	if g != nil {
		g.pass()
	}
	if boom {
		s.mu.Lock()
		s.busy[method]--
		s.mu.Unlock()
		panic("spy: " + method + " panics")
	}
	return func() {
		s.mu.Lock()
		s.busy[method]--
		s.mu.Unlock()
	}
}

// panicNext makes the next call of method panic.
func (s *spyStore) panicNext(method string) {
	s.mu.Lock()
	if s.panics == nil {
		s.panics = map[string]bool{}
	}
	s.panics[method] = true
	s.mu.Unlock()
}

// hold makes the calls of method wait at a new gate until release.
func (s *spyStore) hold(method string) *gate {
	g := newGate()
	s.mu.Lock()
	s.gates[method] = g
	s.mu.Unlock()
	return g
}

// release lets the held calls of method go on, and the next ones pass.
func (s *spyStore) release(method string) {
	s.mu.Lock()
	g := s.gates[method]
	delete(s.gates, method)
	s.mu.Unlock()
	close(g.open)
}

// releaseAll opens every gate still held (a test that stopped early).
func (s *spyStore) releaseAll() {
	s.mu.Lock()
	held := s.gates
	s.gates = map[string]*gate{}
	s.mu.Unlock()
	for _, g := range held {
		close(g.open)
	}
}

// recorded returns the arguments of each call of method so far.
func (s *spyStore) recorded(method string) [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls[method])
}

// peak returns the most calls of method that were in flight at once.
func (s *spyStore) peak(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peaks[method]
}

// InTx is recorded before the transaction begins (a held InTx holds no
// connection), and its transaction is spied on too.
func (s *spyStore) InTx(ctx context.Context, fn func(ctx context.Context, tx engine.Tx) error) error {
	defer s.enter("InTx", nil)()
	return s.Store.InTx(ctx, func(ctx context.Context, tx engine.Tx) error { return fn(ctx, spyTx{Tx: tx, s: s}) })
}

func (s *spyStore) LoadSteps(ctx context.Context, ids []string) ([]engine.StepLoad, error) {
	defer s.enter("LoadSteps", ids)()
	if s.Store == nil {
		return nil, nil
	}
	return s.Store.LoadSteps(ctx, ids)
}

// spyTx is a transaction of a spyStore.
type spyTx struct {
	engine.Tx
	s *spyStore
}

func (tx spyTx) GetContactsByEmail(ctx context.Context, emails, scenarios []string) ([]*engine.Contact, []engine.Entry, error) {
	defer tx.s.enter("GetContactsByEmail", emails)()
	return tx.Tx.GetContactsByEmail(ctx, emails, scenarios)
}

func (tx spyTx) UpdateContact(ctx context.Context, c *engine.Contact) error {
	defer tx.s.enter("UpdateContact", []string{c.ID})()
	return tx.Tx.UpdateContact(ctx, c)
}

func (tx spyTx) InsertNewContacts(ctx context.Context, cs []*engine.Contact) error {
	defer tx.s.enter("InsertNewContacts", keys(cs, func(c *engine.Contact) string { return c.Email }))()
	return tx.Tx.InsertNewContacts(ctx, cs)
}

func (tx spyTx) FinishSteps(ctx context.Context, ids []string, at time.Time, complete []string) ([]string, []string, error) {
	defer tx.s.enter("FinishSteps", ids)()
	return tx.Tx.FinishSteps(ctx, ids, at, complete)
}

func (tx spyTx) FinishAll(ctx context.Context, ids []string, at time.Time, complete []string, next []*engine.Step, completed *[]string) error {
	defer tx.s.enter("FinishAll", ids)()
	return tx.Tx.FinishAll(ctx, ids, at, complete, next, completed)
}

func (tx spyTx) InsertNewDeliveries(ctx context.Context, ds []*engine.Delivery) error {
	defer tx.s.enter("InsertNewDeliveries", keys(ds, func(d *engine.Delivery) string { return d.ID }))()
	return tx.Tx.InsertNewDeliveries(ctx, ds)
}

// keys returns key(x) for each of xs, as a spied call's arguments.
func keys[T any](xs []T, key func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = key(x)
	}
	return out
}

// memQueue is an in-memory engine.Queue that only records what it is given.
type memQueue struct {
	mu         sync.Mutex
	steps      []string
	groups     []int // steps per EnqueueSteps call
	deliveries []string
}

func (q *memQueue) EnqueueSteps(_ context.Context, ids []string, _ time.Time) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.steps = append(q.steps, ids...)
	q.groups = append(q.groups, len(ids))
	return nil
}

func (q *memQueue) EnqueueDelivery(_ context.Context, id string, _ time.Time) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.deliveries = append(q.deliveries, id)
	return nil
}

func (q *memQueue) enqueued() (steps, deliveries []string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.steps), slices.Clone(q.deliveries)
}

// fakeSender accepts every delivery with a 200 and counts the tries per
// delivery; before, when set, runs first (to make tries meet or wait).
type fakeSender struct {
	mu     sync.Mutex
	sent   map[string]int
	before func(d *engine.Delivery)
}

func (f *fakeSender) Send(_ context.Context, d *engine.Delivery, _ string) engine.SendOutcome {
	f.mu.Lock()
	f.sent[d.ID]++
	before := f.before
	f.mu.Unlock()
	if before != nil {
		before(d)
	}
	return engine.SendOutcome{Accepted: true, Attempt: engine.Attempt{URL: d.URL, Method: d.Method, StatusCode: 200, DurationMS: 1}}
}

func (f *fakeSender) setBefore(fn func(d *engine.Delivery)) {
	f.mu.Lock()
	f.before = fn
	f.mu.Unlock()
}

func (f *fakeSender) tries(deliveryID string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sent[deliveryID]
}

// meet pairs goroutines by key: arrive returns once two have come with the
// same key, true for the second.
type meet struct {
	mu    sync.Mutex
	first map[string]chan struct{}
}

func (m *meet) arrive(key string) (second bool) {
	m.mu.Lock()
	if ch, ok := m.first[key]; ok {
		delete(m.first, key)
		m.mu.Unlock()
		close(ch)
		return true
	}
	ch := make(chan struct{})
	if m.first == nil {
		m.first = map[string]chan struct{}{}
	}
	m.first[key] = ch
	m.mu.Unlock()
	<-ch
	return false
}

// rig is an engine on a spied store (st, or none when st is nil), an
// in-memory queue, a fake sender and an injected clock, with no workers:
// the test runs the steps.
type rig struct {
	*bundle
	spy    *spyStore
	queue  *memQueue
	sender *fakeSender
}

func newRig(t *testing.T, st *storage.Store, opts ...func(*engine.Config)) *rig {
	t.Helper()
	var inner engine.Store
	if st != nil {
		inner = st
	}
	r := &rig{spy: newSpy(inner), queue: &memQueue{}, sender: &fakeSender{sent: map[string]int{}}}
	t.Cleanup(r.spy.releaseAll)
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	reg := engine.NewRegistry()
	nodes.Register(reg)
	cfg := engine.Config{Store: r.spy, Queue: r.queue, Sender: r.sender, Registry: reg, Clock: clk,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), NewSecret: webhook.NewSecret}
	for _, opt := range opts {
		opt(&cfg)
	}
	e, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.bundle = &bundle{e: e, st: st, clock: clk}
	return r
}

// signupHook is "signup → send_webhook".
func signupHook() engine.Graph {
	return engine.Graph{Nodes: []engine.Node{node("t1", "signup", `{}`), hookNode("w1", "https://example.org/hook")},
		Edges: []engine.Edge{{From: "t1", To: "w1"}}}
}

// signups returns n signup events of distinct emails starting with prefix.
func signups(prefix string, n int) []engine.EventInput {
	evs := make([]engine.EventInput, n)
	for i := range evs {
		evs[i] = engine.EventInput{Type: "signup", Email: fmt.Sprintf("%s%03d@example.org", prefix, i)}
	}
	return evs
}

// countRows runs a SELECT COUNT(*) query.
func countRows(t *testing.T, st *storage.Store, query string, args ...any) int {
	t.Helper()
	var n int
	if err := st.DB().NewRaw(query, args...).Scan(context.Background(), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// goroutineID returns the id of the calling goroutine.
func goroutineID() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	return strings.Fields(string(buf))[1] // "goroutine 12 [running]:"
}

// parked counts the goroutines started by goroutine creator that are
// blocked on a channel inside engine method fn: callers waiting for their
// batch after having joined its queue.
func parked(creator, fn string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	top := "github.com/sluicehq/sluice/engine.(*Engine)." + fn + "("
	const wait = "github.com/sluicehq/sluice/engine.(*pending).wait("
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		header, frames, _ := strings.Cut(g, "\n")
		if strings.HasPrefix(frames, wait) { // the caller's own frame is next
			_, frames, _ = strings.Cut(frames, "\n")
			_, frames, _ = strings.Cut(frames, "\n")
		}
		if (strings.Contains(header, "[chan receive") || strings.Contains(header, "[select")) &&
			strings.HasPrefix(frames, top) && strings.Contains(frames, " in goroutine "+creator+"\n") {
			n++
		}
	}
	return n
}

// waitParked waits until n goroutines that the calling goroutine started
// are parked in engine method fn.
func waitParked(t *testing.T, fn string, n int) {
	t.Helper()
	me := goroutineID()
	waitFor(t, fmt.Sprintf("%d callers waiting in %s", n, fn), func() bool { return parked(me, fn) >= n })
}

// TestBatchPanic: a batch that panics ends its callers with an error
// instead of killing the process or leaving them waiting, and the next
// batch runs.
func TestBatchPanic(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	ctx := context.Background()
	r.spy.panicNext("LoadSteps")
	err := r.e.RunStep(ctx, "stp_boom")
	if err == nil || !strings.Contains(err.Error(), "spy: LoadSteps panics") {
		t.Fatalf("RunStep in a panicking batch: %v", err)
	}
	if err := r.e.RunStep(ctx, "stp_after"); err != nil {
		t.Fatalf("the batch after a panic: %v", err)
	}
}

// TestBatcher drives the batcher of step reads (each LoadSteps call is one
// of its batches): a lone read runs at once in a batch of its own; reads
// from many goroutines are each read exactly once, in batches no larger
// than the cap, by at most `lanes` batches at a time; and the lanes are
// free again afterwards.
func TestBatcher(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	ctx := context.Background()
	if err := r.e.RunStep(ctx, "stp_lone"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]string{{"stp_lone"}}, r.spy.recorded("LoadSteps")); diff != "" {
		t.Fatalf("a lone read (-want +got):\n%s", diff)
	}

	// The lanes held with their first batch, then every other read queued
	// behind them: more than a full batch is waiting.
	const n = 1600
	g := r.spy.hold("LoadSteps")
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- r.e.RunStep(ctx, fmt.Sprintf("stp_%04d", i)) }()
	}
	if !g.wait(lanes) {
		t.Fatalf("%d lanes never started", lanes)
	}
	waitParked(t, "loadStep", n)
	r.spy.release("LoadSteps")
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	batches := r.spy.recorded("LoadSteps")[1:]
	seen := map[string]int{}
	largest := 0
	for _, b := range batches {
		largest = max(largest, len(b))
		for _, id := range b {
			seen[id]++
		}
	}
	if largest > maxStepBatch {
		t.Errorf("a batch of %d reads; the cap is %d", largest, maxStepBatch)
	}
	// At most lanes*500 reads were in the held batches, so at least 600
	// were queued: the next batch is a full one.
	if largest != maxStepBatch {
		t.Errorf("largest batch %d reads; want a full batch of %d", largest, maxStepBatch)
	}
	for i := range n {
		if id := fmt.Sprintf("stp_%04d", i); seen[id] != 1 {
			t.Errorf("%s read %d times", id, seen[id])
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct reads, want %d", len(seen), n)
	}
	if p := r.spy.peak("LoadSteps"); p != lanes {
		t.Errorf("%d batches in flight at most; want %d (the lanes)", p, lanes)
	}
	t.Logf("%d reads in %d batches", n, len(batches))

	// The lanes were given back: a lone read still runs (else it never
	// ends).
	done := make(chan error, 1)
	go func() { done <- r.e.RunStep(ctx, "stp_after") }()
	mustEnd(t, done)
	all := r.spy.recorded("LoadSteps")
	if diff := cmp.Diff([]string{"stp_after"}, all[len(all)-1]); diff != "" {
		t.Errorf("the read after the burst (-want +got):\n%s", diff)
	}
}

// TestBatchIngestConcurrent: 200 concurrent Ingest calls, 50 of them for
// an email another call has too (in another case), committed mostly in one
// merged batch: each call gets its own event and the right contact, there
// is one contact per email, each contact enters the signup scenario once,
// and the counters agree.
func TestBatchIngestConcurrent(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		r := newRig(t, st)
		ctx := context.Background()
		sc := r.activate(t, signupHook(), false)
		list, err := r.e.CreateList(ctx, "News")
		if err != nil {
			t.Fatal(err)
		}
		const distinct, repeats = 150, 50
		var emails []string
		for i := range distinct {
			emails = append(emails, fmt.Sprintf("user%03d@example.org", i))
		}
		for i := range repeats {
			emails = append(emails, fmt.Sprintf("USER%03d@Example.ORG", 3*i))
		}
		results := make([][]engine.IngestResult, len(emails))
		errs := make([]error, len(emails))
		g := r.spy.hold("InTx")
		var wg sync.WaitGroup
		for i, email := range emails {
			wg.Go(func() {
				results[i], errs[i] = r.e.Ingest(ctx, []engine.EventInput{{Type: "signup", Email: email, ListID: list.ID}})
			})
		}
		if !g.wait(lanes) {
			t.Fatal("the lanes never started")
		}
		waitParked(t, "Ingest", len(emails))
		r.spy.release("InTx")
		wg.Wait()

		contactOfEmail := map[string]string{} // lower-case email → contact id
		eventIDs := map[string]bool{}
		for i, email := range emails {
			if errs[i] != nil || len(results[i]) != 1 || results[i][0].Err != nil {
				t.Fatalf("Ingest %s = %+v, %v", email, results[i], errs[i])
			}
			res := results[i][0]
			if res.EventID == "" || res.ContactID == "" || eventIDs[res.EventID] {
				t.Errorf("Ingest %s: event %q (already seen: %v), contact %q", email, res.EventID, eventIDs[res.EventID], res.ContactID)
			}
			eventIDs[res.EventID] = true
			key := strings.ToLower(email)
			if id, ok := contactOfEmail[key]; ok && id != res.ContactID {
				t.Errorf("%s: contact %s, and %s for the same email in another call", email, res.ContactID, id)
			}
			contactOfEmail[key] = res.ContactID
			ev, err := st.GetEvent(ctx, res.EventID)
			if err != nil || ev.Type != "signup" || ev.ContactID != res.ContactID || ev.ListID != list.ID {
				t.Errorf("event of %s: %+v, %v; want a signup of contact %s to %s", email, ev, err, res.ContactID, list.ID)
			}
		}
		seenContacts := map[string]bool{}
		for email, id := range contactOfEmail {
			if seenContacts[id] {
				t.Errorf("contact %s has two emails", id)
			}
			seenContacts[id] = true
			if c, err := r.e.FindContact(ctx, email); err != nil || c.ID != id {
				t.Errorf("FindContact(%s) = %+v, %v; want %s", email, c, err, id)
			}
		}
		if got := countRows(t, st, "SELECT COUNT(*) FROM contacts"); got != distinct {
			t.Errorf("%d contacts, want %d", got, distinct)
		}
		if got := countRows(t, st, "SELECT COUNT(*) FROM list_subscriptions WHERE list_id = ? AND status = 'subscribed'", list.ID); got != distinct {
			t.Errorf("%d subscribers, want %d", got, distinct)
		}
		var runs []struct {
			ContactID string `bun:"contact_id"`
			N         int    `bun:"n"`
		}
		if err := st.DB().NewRaw("SELECT contact_id, COUNT(*) AS n FROM runs WHERE scenario_id = ? GROUP BY contact_id", sc.ID).Scan(ctx, &runs); err != nil {
			t.Fatal(err)
		}
		for _, run := range runs {
			if run.N != 1 || !seenContacts[run.ContactID] {
				t.Errorf("contact %s entered %d times (one of the ingested contacts: %v)", run.ContactID, run.N, seenContacts[run.ContactID])
			}
		}
		if len(runs) != distinct {
			t.Errorf("%d contacts entered, want %d", len(runs), distinct)
		}
		stats := r.stats(t, sc.ID)
		if stats["t1"].Reached != distinct || stats["w1"].Reached != distinct {
			t.Errorf("reached: t1 %d, w1 %d; want %d each", stats["t1"].Reached, stats["w1"].Reached, distinct)
		}
		steps, _ := r.queue.enqueued()
		slices.Sort(steps)
		var pending []string
		if err := st.DB().NewRaw("SELECT id FROM steps WHERE scenario_id = ? AND status = 'pending' ORDER BY id", sc.ID).Scan(ctx, &pending); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(pending, steps); diff != "" || len(steps) != distinct {
			t.Errorf("enqueued steps are not the %d pending ones (-pending +enqueued):\n%s", distinct, diff)
		}
		largest := 0
		for _, b := range r.spy.recorded("InsertNewContacts") {
			largest = max(largest, len(b))
		}
		if largest > engine.MaxBatch {
			t.Errorf("a batch created %d contacts; the cap is %d events", largest, engine.MaxBatch)
		}
		if largest < 2 {
			t.Errorf("no batch created more than one contact: the calls were not merged")
		}
		r.checkRebuild(t, sc.ID, 1)
	})
}

// TestBatchIngestContactRace: two engines on one database (two
// processes) whose batches create the same contact at the same time (on
// PostgreSQL both read it missing before either inserts it): the batch
// that loses runs again and finds it, so both calls get the one contact,
// which enters once.
func TestBatchIngestContactRace(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		r1, r2 := newRig(t, st), newRig(t, st)
		ctx := context.Background()
		sc := r1.activate(t, signupHook(), false)
		g1, g2 := r1.spy.hold("InsertNewContacts"), r2.spy.hold("InsertNewContacts")
		results := make([][]engine.IngestResult, 2)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		wg.Go(func() {
			results[0], errs[0] = r1.e.Ingest(ctx, []engine.EventInput{{Type: "signup", Email: "race@example.org"}})
		})
		if !g1.wait(1) {
			t.Fatal("the first batch never came to insert its contact")
		}
		wg.Go(func() {
			results[1], errs[1] = r2.e.Ingest(ctx, []engine.EventInput{{Type: "signup", Email: "Race@Example.org"}})
		})
		releaseBoth(t, st, r1, r2, "InsertNewContacts", g2) // the second read the contact missing too
		wg.Wait()
		for i := range 2 {
			if errs[i] != nil || len(results[i]) != 1 || results[i][0].Err != nil {
				t.Fatalf("Ingest %d = %+v, %v", i, results[i], errs[i])
			}
		}
		if a, b := results[0][0].ContactID, results[1][0].ContactID; a != b {
			t.Errorf("contacts %s and %s for the same email", a, b)
		}
		if got := countRows(t, st, "SELECT COUNT(*) FROM contacts"); got != 1 {
			t.Errorf("%d contacts, want 1", got)
		}
		if got := countRows(t, st, "SELECT COUNT(*) FROM runs WHERE scenario_id = ?", sc.ID); got != 1 {
			t.Errorf("%d runs, want 1", got)
		}
		if s := r1.stats(t, sc.ID); s["t1"].Reached != 1 || s["w1"].Reached != 1 {
			t.Errorf("reached: t1 %d, w1 %d; want 1 each", s["t1"].Reached, s["w1"].Reached)
		}
		want := 2 // one read per batch
		if st.Postgres() {
			want = 3 // and the loser's second try
		}
		if got := len(r1.spy.recorded("GetContactsByEmail")) + len(r2.spy.recorded("GetContactsByEmail")); got != want {
			t.Errorf("%d contact reads, want %d", got, want)
		}
	})
}

// releaseBoth waits until the second of two racing batches reaches g2, the
// gate of method that holds the first (on SQLite it waits for the one
// connection instead), then lets both go on.
func releaseBoth(t *testing.T, st *storage.Store, r1, r2 *rig, method string, g2 *gate) {
	t.Helper()
	if st.Postgres() {
		if !g2.wait(1) {
			t.Fatalf("the second batch never came to %s", method)
		}
	} else {
		waitParked(t, "Ingest", 2)
	}
	r1.spy.release(method)
	r2.spy.release(method)
}

// TestBatchIngestRunRace: two engines on one database whose batches start
// the same known contact in a scenario entered once, at the same time. On
// PostgreSQL both read (before BEGIN) that it has not entered, so both
// insert its run without asking; the batch that commits second fails on
// the run's unique key, runs again, reads the entry and starts nothing. The
// contact enters once and is counted once.
func TestBatchIngestRunRace(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		r1, r2 := newRig(t, st), newRig(t, st)
		ctx := context.Background()
		sc := r1.activate(t, signupHook(), false)
		// Known, in no scenario; each engine has read it, so neither
		// guesses its next batch's contacts new (guessAllNew).
		for _, r := range []*rig{r1, r1, r2} {
			r.ingest(t, engine.EventInput{Type: "visit", Email: "race@example.org"})
		}
		g1, g2 := r1.spy.hold("InsertNewContacts"), r2.spy.hold("InsertNewContacts")
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, r := range []*rig{r1, r2} {
			wg.Go(func() {
				res, err := r.e.Ingest(ctx, []engine.EventInput{{Type: "signup", Email: "race@example.org"}})
				if err == nil && res[0].Err != nil {
					err = res[0].Err
				}
				errs[i] = err
			})
			if i == 0 && !g1.wait(1) {
				t.Fatal("the first batch never came past its read")
			}
		}
		releaseBoth(t, st, r1, r2, "InsertNewContacts", g2) // the second read no entry too
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		if got := countRows(t, st, "SELECT COUNT(*) FROM runs WHERE scenario_id = ?", sc.ID); got != 1 {
			t.Errorf("%d runs, want 1", got)
		}
		if s := r1.stats(t, sc.ID); s["t1"].Reached != 1 || s["w1"].Reached != 1 {
			t.Errorf("reached: t1 %d, w1 %d; want 1 each", s["t1"].Reached, s["w1"].Reached)
		}
		s1, _ := r1.queue.enqueued()
		s2, _ := r2.queue.enqueued()
		if got := len(s1) + len(s2); got != 1 {
			t.Errorf("%d steps queued, want 1", got)
		}
		want := 5 // the visits' reads and one per batch
		if st.Postgres() {
			want = 6 // and the loser's second try
		}
		if got := len(r1.spy.recorded("GetContactsByEmail")) + len(r2.spy.recorded("GetContactsByEmail")); got != want {
			t.Errorf("%d contact reads, want %d", got, want)
		}
	})
}

// TestGuessNewContacts: after a batch that found none of its contacts the
// next reads nothing and creates them all; a stored contact among them
// fails that commit, and the batch reads and stores each event once.
func TestGuessNewContacts(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		r := newRig(t, st)
		sc := r.activate(t, signupHook(), false)
		first := r.ingest(t, engine.EventInput{Type: "signup", Email: "a@example.org"})[0] // found none
		reads := len(r.spy.recorded("GetContactsByEmail"))
		// 40 new contacts (so that on PostgreSQL they go as COPY) and the
		// stored one.
		evs := append(signups("b", 40), engine.EventInput{Type: "signup", Email: "A@example.org"}) // stored: the guess fails
		res := r.ingest(t, evs...)
		if got := len(r.spy.recorded("GetContactsByEmail")) - reads; got != 1 {
			t.Errorf("%d reads for the batch, want 1 (after the failed guess)", got)
		}
		if tries := r.spy.recorded("InsertNewContacts"); len(tries) != 3 || len(tries[1]) != 41 || len(tries[2]) != 40 {
			t.Errorf("contacts created per try: %d tries, want [a] then the 41 (the guess) then the 40 new", len(tries))
		}
		if res[40].ContactID != first.ContactID {
			t.Errorf("the stored contact's event went to %s, want %s", res[40].ContactID, first.ContactID)
		}
		if n := countRows(t, st, "SELECT count(*) FROM contacts"); n != 41 {
			t.Errorf("%d contacts, want 41", n)
		}
		if n := countRows(t, st, "SELECT count(*) FROM events WHERE type = 'signup'"); n != 42 {
			t.Errorf("%d signups stored, want 42", n)
		}
		if s := r.stats(t, sc.ID); s["t1"].Reached != 41 {
			t.Errorf("t1 reached %d times, want 41 (each contact enters once)", s["t1"].Reached)
		}
		// Having found a contact, the next batch reads again.
		r.ingest(t, engine.EventInput{Type: "signup", Email: "c@example.org"})
		if got := len(r.spy.recorded("GetContactsByEmail")) - reads; got != 2 {
			t.Errorf("%d reads after a batch that found a contact, want 2", got)
		}
	})
}

// storedContact stores a@example.org (firstname A) through events, the
// last of which finds it, so that the rig's next batch reads its contacts
// (no guessAllNew), and returns its id.
func storedContact(t *testing.T, r *rig) string {
	t.Helper()
	id := r.ingest(t, engine.EventInput{Type: "visit", Email: "a@example.org", Contact: &engine.ContactInput{Firstname: ptr("A")}})[0].ContactID
	r.ingest(t, engine.EventInput{Type: "visit", Email: "a@example.org"})
	return id
}

// TestIngestKeepsAConcurrentUpdate: an update of a stored contact (the
// API's) committed between a batch's read of the contact and its commit is
// not overwritten by the batch's write of the contact: on PostgreSQL, where
// the read runs before the transaction, the write finds the contact's
// version changed, fails, and the batch reads it again; on SQLite the
// update waits for the batch. Both changes stay.
func TestIngestKeepsAConcurrentUpdate(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		r := newRig(t, st)
		ctx := context.Background()
		id := storedContact(t, r)
		reads := len(r.spy.recorded("GetContactsByEmail"))
		g := r.spy.hold("InsertNewContacts") // after the read
		done := make(chan error, 1)
		go func() {
			_, err := r.e.Ingest(ctx, []engine.EventInput{{Type: "visit", Email: "a@example.org", Contact: &engine.ContactInput{Lastname: ptr("Batch")}}})
			done <- err
		}()
		if !g.wait(1) {
			t.Fatal("the batch never came past its read")
		}
		updateWhileHeld(t, st, r, "InsertNewContacts", id, done)
		checkNames(t, st, id, "Api", "Batch")
		if got := len(r.spy.recorded("GetContactsByEmail")) - reads; st.Postgres() && got != 2 {
			t.Errorf("%d reads by the batch, want 2 (its write failed once)", got)
		}
	})
}

// TestUpdateContactKeepsAConcurrentEvent: the API's read-modify-write of a
// contact locks it from its read (on PostgreSQL), so an event that changes
// the contact meanwhile waits, then finds the version changed and reads it
// again: the API's firstname and the event's lastname both stay.
func TestUpdateContactKeepsAConcurrentEvent(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		r := newRig(t, st)
		ctx := context.Background()
		id := storedContact(t, r)
		g := r.spy.hold("UpdateContact") // the API has read the contact
		updated := make(chan error, 1)
		go func() {
			_, err := r.e.UpdateContact(ctx, id, engine.ContactInput{Firstname: ptr("Api")}, false)
			updated <- err
		}()
		if !g.wait(1) {
			t.Fatal("the API's update never read the contact")
		}
		done := make(chan error, 1)
		go func() {
			_, err := r.e.Ingest(ctx, []engine.EventInput{{Type: "visit", Email: "a@example.org", Contact: &engine.ContactInput{Lastname: ptr("Event")}}})
			done <- err
		}()
		if st.Postgres() {
			waitForLockOrDone(t, st, done) // the event's write waits for the API's lock
		} else {
			waitParked(t, "Ingest", 1) // the event waits for the one connection
		}
		r.spy.release("UpdateContact")
		mustEnd(t, updated, done)
		checkNames(t, st, id, "Api", "Event")
	})
}

// mustEnd waits for each of chans to give an error, and fails on one that
// is not nil. A channel already read (nil) is skipped.
func mustEnd(t *testing.T, chans ...chan error) {
	t.Helper()
	for _, ch := range chans {
		if ch == nil {
			continue
		}
		select {
		case err := <-ch:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a call never ended")
		}
	}
}

// checkNames checks the stored firstname and lastname of contact id.
func checkNames(t *testing.T, st *storage.Store, id, firstname, lastname string) {
	t.Helper()
	c, err := st.GetContact(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if c.Firstname != firstname || c.Lastname != lastname {
		t.Errorf("contact %q %q, want %q %q (both changes)", c.Firstname, c.Lastname, firstname, lastname)
	}
}

// TestStepChangeKeepsAConcurrentUpdate: a step that changes its contact
// ran with a copy read before its commit; an update committed since (the
// API's) stays, and the step's change applies on top of it.
func TestStepChangeKeepsAConcurrentUpdate(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		r := newRig(t, st)
		r.e.EnableRecentSteps() // the step runs with the copy its event's commit held
		ctx := context.Background()
		g := engine.Graph{Nodes: []engine.Node{node("t1", "signup", `{}`), node("u1", "update_field", `{"field":"lastname","value":"Step"}`)},
			Edges: []engine.Edge{{From: "t1", To: "u1"}}}
		r.activate(t, g, false)
		id := r.ingest(t, engine.EventInput{Type: "signup", Email: "a@example.org", Contact: &engine.ContactInput{Firstname: ptr("A")}})[0].ContactID
		steps, _ := r.queue.enqueued()
		gate := r.spy.hold("FinishSteps") // the step has run; its commit has not begun
		done := make(chan error, 1)
		go func() { done <- r.e.RunStep(ctx, steps[0]) }()
		if !gate.wait(1) {
			t.Fatal("the step never came to commit")
		}
		updateWhileHeld(t, st, r, "FinishSteps", id, done)
		checkNames(t, st, id, "Api", "Step")
	})
}

// updateWhileHeld sets contact id's firstname to Api through the API while
// a call of r is held at method, then lets the call go on, and waits for
// both (held gives the call's error). On PostgreSQL the update commits
// while the call is held; on SQLite it waits for the one connection, so
// for the call.
func updateWhileHeld(t *testing.T, st *storage.Store, r *rig, method, id string, held chan error) {
	t.Helper()
	updated := make(chan error, 1)
	go func() {
		_, err := r.e.UpdateContact(context.Background(), id, engine.ContactInput{Firstname: ptr("Api")}, false)
		updated <- err
	}()
	if st.Postgres() {
		mustEnd(t, updated)
		updated = nil
	}
	r.spy.release(method)
	mustEnd(t, updated, held)
}

// waitForLockOrDone waits up to 10 s until a PostgreSQL backend waits for
// a lock, or until done has a value (which it puts back).
func waitForLockOrDone(t *testing.T, st *storage.Store, done chan error) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-done:
			done <- err
			return
		default:
		}
		if countRows(t, st, "SELECT COUNT(*) FROM pg_locks WHERE NOT granted") > 0 {
			return
		}
	}
	t.Fatal("nothing waited for a lock, and the event did not end")
}

// TestBatchIngestInvalidList: events for a missing list, alone in a call
// or beside a valid event, merged in one batch with valid calls: each is
// refused in its own call's results, and everything else is stored.
func TestBatchIngestInvalidList(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		r := newRig(t, st)
		ctx := context.Background()
		list, err := r.e.CreateList(ctx, "News")
		if err != nil {
			t.Fatal(err)
		}
		signup := func(email, listID string) engine.EventInput {
			return engine.EventInput{Type: "signup", Email: email, ListID: listID}
		}
		type call struct {
			name   string
			events []engine.EventInput
			want   []string // per event: "ok" or the field of the InvalidError
		}
		var calls []call
		for i := range lanes + 20 { // the first ones hold the lanes
			calls = append(calls, call{fmt.Sprintf("valid %d", i), []engine.EventInput{signup(fmt.Sprintf("v%02d@example.org", i), list.ID)}, []string{"ok"}})
		}
		// Queued behind the lanes, so in one batch together.
		late := []call{
			{"missing list", []engine.EventInput{signup("bad@example.org", "lst_missing")}, []string{"list_id"}},
			{"mixed", []engine.EventInput{signup("m1@example.org", list.ID), signup("m2@example.org", "lst_missing")}, []string{"ok", "list_id"}},
			{"last", []engine.EventInput{signup("last@example.org", list.ID)}, []string{"ok"}},
		}
		results := make([][]engine.IngestResult, len(calls)+len(late))
		errs := make([]error, len(results))
		g := r.spy.hold("InTx")
		var wg sync.WaitGroup
		for i, c := range append(slices.Clone(calls), late...) {
			if i == len(calls) {
				waitParked(t, "Ingest", len(calls))
			}
			wg.Go(func() { results[i], errs[i] = r.e.Ingest(ctx, c.events) })
			if i < lanes && !g.wait(i+1) {
				t.Fatalf("lane %d never started", i+1)
			}
		}
		waitParked(t, "Ingest", len(calls)+len(late))
		r.spy.release("InTx")
		wg.Wait()

		calls = append(calls, late...)
		stored := 0
		for i, c := range calls {
			if errs[i] != nil || len(results[i]) != len(c.want) {
				t.Errorf("%s: Ingest = %+v, %v", c.name, results[i], errs[i])
				continue
			}
			for j, want := range c.want {
				res := results[i][j]
				if want == "ok" {
					if res.Err != nil || res.EventID == "" || res.ContactID == "" {
						t.Errorf("%s, event %d: %+v; want it stored", c.name, j, res)
					}
					stored++
					continue
				}
				var inv *engine.InvalidError
				if !errors.As(res.Err, &inv) || inv.Field != want || res.EventID != "" || res.ContactID != "" {
					t.Errorf("%s, event %d: %+v; want it refused on %s", c.name, j, res, want)
				}
			}
		}
		if got := countRows(t, st, "SELECT COUNT(*) FROM events WHERE type = 'signup'"); got != stored {
			t.Errorf("%d signups stored, want %d", got, stored)
		}
		if got := countRows(t, st, "SELECT COUNT(*) FROM list_subscriptions WHERE list_id = ?", list.ID); got != stored {
			t.Errorf("%d subscriptions, want %d", got, stored)
		}
		for _, email := range []string{"bad@example.org", "m2@example.org"} {
			if _, err := r.e.FindContact(ctx, email); !errors.Is(err, engine.ErrNotFound) {
				t.Errorf("FindContact(%s) of a refused event: %v, want ErrNotFound", email, err)
			}
		}
		merged := slices.ContainsFunc(r.spy.recorded("InsertNewContacts"), func(emails []string) bool {
			return slices.Contains(emails, "m1@example.org") && slices.Contains(emails, "last@example.org")
		})
		if !merged {
			t.Errorf("the late calls were not merged: %v", r.spy.recorded("InsertNewContacts"))
		}
	})
}

// TestBatchIngestFallback: a call whose event cannot be stored fails the
// merged transaction; each call is then tried alone, so only that call
// gets the error and the calls merged with it are stored.
func TestBatchIngestFallback(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		r := newRig(t, st)
		ctx := context.Background()
		var emails []string
		for i := range lanes { // they hold the lanes
			emails = append(emails, fmt.Sprintf("lane%d@example.org", i))
		}
		late := []string{"good1@example.org", "bad@example.org", "good2@example.org"}
		emails = append(emails, late...)
		results := make([][]engine.IngestResult, len(emails))
		errs := make([]error, len(emails))
		g := r.spy.hold("InTx")
		var wg sync.WaitGroup
		for i, email := range emails {
			ev := engine.EventInput{Type: "signup", Email: email}
			if strings.HasPrefix(email, "bad") {
				ev.Data = map[string]any{"x": math.NaN()} // no JSON for it
			}
			wg.Go(func() { results[i], errs[i] = r.e.Ingest(ctx, []engine.EventInput{ev}) })
			if i < lanes && !g.wait(i+1) {
				t.Fatalf("lane %d never started", i+1)
			}
		}
		waitParked(t, "Ingest", len(emails))
		r.spy.release("InTx")
		wg.Wait()
		for i, email := range emails {
			if email == "bad@example.org" {
				if errs[i] == nil {
					t.Errorf("Ingest %s = %+v; want an error", email, results[i])
				}
				if _, err := r.e.FindContact(ctx, email); !errors.Is(err, engine.ErrNotFound) {
					t.Errorf("FindContact(%s) of the failed call: %v, want ErrNotFound", email, err)
				}
				continue
			}
			if errs[i] != nil || len(results[i]) != 1 || results[i][0].Err != nil || results[i][0].EventID == "" {
				t.Errorf("Ingest %s = %+v, %v; want it stored", email, results[i], errs[i])
				continue
			}
			if c, err := r.e.FindContact(ctx, email); err != nil || c.ID != results[i][0].ContactID {
				t.Errorf("FindContact(%s) = %+v, %v; want %s", email, c, err, results[i][0].ContactID)
			}
		}
		if got := countRows(t, st, "SELECT COUNT(*) FROM events WHERE type = 'signup'"); got != len(emails)-1 {
			t.Errorf("%d signups stored, want %d", got, len(emails)-1)
		}
		if got := countRows(t, st, "SELECT COUNT(*) FROM contacts"); got != len(emails)-1 {
			t.Errorf("%d contacts, want %d", got, len(emails)-1)
		}
		// The late calls were tried together once, then one by one.
		merged := slices.ContainsFunc(r.spy.recorded("InsertNewContacts"), func(emails []string) bool {
			for _, e := range late {
				if !slices.Contains(emails, e) {
					return false
				}
			}
			return true
		})
		if !merged {
			t.Errorf("no merged try of the late calls: %q", r.spy.recorded("InsertNewContacts"))
		}
	})
}

// TestCommitLanes: with Config.CommitLanes 2 (the app's setting on
// PostgreSQL) a second batch of step outcomes commits while the first
// does, a third waits for one of them, and every step commits once.
func TestCommitLanes(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		const commitLanes = 2
		r := newRig(t, st, func(c *engine.Config) {
			c.CommitLanes = commitLanes
			c.CommitLinger = -1 // each lane takes what waits, at once
		})
		ctx := context.Background()
		r.activate(t, signupHook(), false)
		const n = 30
		r.ingest(t, signups("lane", n)...)
		steps, _ := r.queue.enqueued()
		if len(steps) != n {
			t.Fatalf("%d steps enqueued, want %d", len(steps), n)
		}
		g := r.spy.hold("InTx")
		errs := make(chan error, n)
		for i, id := range steps {
			go func() { errs <- r.e.RunStep(ctx, id) }()
			if i < commitLanes && !g.wait(i+1) {
				t.Fatalf("commit lane %d never started", i+1)
			}
		}
		waitParked(t, "RunStep", n)
		r.spy.release("InTx")
		for range n {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		if p := r.spy.peak("InTx"); p != commitLanes {
			t.Errorf("%d commits in flight at most; want %d (the lanes)", p, commitLanes)
		}
		finished := map[string]int{}
		for _, ids := range append(r.spy.recorded("FinishSteps"), r.spy.recorded("FinishAll")...) {
			for _, id := range ids {
				finished[id]++
			}
		}
		for _, id := range steps {
			if finished[id] != 1 {
				t.Errorf("step %s finished %d times, want once", id, finished[id])
			}
		}
		if got := countRows(t, st, "SELECT COUNT(*) FROM deliveries WHERE status = 'accepted'"); got != n {
			t.Errorf("%d deliveries accepted, want %d", got, n)
		}
	})
}

// TestBatchRunStep runs steps from several goroutines at once: the same
// step twice with both outcomes in one batch; the same step on two engines
// (two workers) whose batches commit side by side; and many steps each run
// twice at once. Each step commits once: one delivery, one attempt, its
// counters counted once, and every run completed.
func TestBatchRunStep(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		r, r2 := newRig(t, st), newRig(t, st)
		ctx := context.Background()
		sc := r.activate(t, signupHook(), false)
		const n = 24
		r.ingest(t, signups("s", n)...)
		steps, _ := r.queue.enqueued()
		if len(steps) != n {
			t.Fatalf("%d steps enqueued, want %d", len(steps), n)
		}
		errs := make(chan error, 2*n)
		running := 0
		run := func(r *rig, id string) {
			running++
			go func() { errs <- r.e.RunStep(ctx, id) }()
		}
		// finish waits for the steps running to return.
		finish := func() {
			t.Helper()
			for ; running > 0; running-- {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
		}
		sends := map[string]int{} // tries expected per step

		// The same step twice in one batch: the lanes are held with a
		// batch of their own while its two outcomes queue behind them.
		holders, dup := steps[:lanes], steps[lanes]
		g := r.spy.hold("InTx")
		for i, id := range holders {
			run(r, id)
			sends[id] = 1
			if !g.wait(i + 1) {
				t.Fatalf("lane %d never started", i+1)
			}
		}
		run(r, dup)
		run(r, dup)
		sends[dup] = 2
		waitParked(t, "RunStep", lanes+2)
		r.spy.release("InTx")
		finish()
		together := slices.ContainsFunc(r.spy.recorded("FinishSteps"), func(ids []string) bool {
			return slices.Equal(ids, []string{dup, dup})
		})
		if !together {
			t.Errorf("the two outcomes of %s were not committed in one batch: %v", dup, r.spy.recorded("FinishSteps"))
		}

		// The same step on two engines, whose batches commit side by side
		// once both have read it pending and sent its webhook.
		race := steps[lanes+1]
		g1, g2 := r.spy.hold("InTx"), r2.spy.hold("InTx")
		run(r, race)
		run(r2, race)
		sends[race] = 2
		if !g1.wait(1) || !g2.wait(1) {
			t.Fatal("the two outcomes of one step never came to commit")
		}
		r.spy.release("InTx")
		r2.spy.release("InTx")
		finish()
		// Both tried it as a last step, assuming it pending (FinishAll);
		// the second found it done, stored nothing of that try (ErrStale)
		// and sorted it out step by step (FinishSteps).
		only := func(ids []string) bool { return slices.Equal(ids, []string{race}) }
		if !slices.ContainsFunc(r.spy.recorded("FinishAll"), only) || !slices.ContainsFunc(r2.spy.recorded("FinishAll"), only) ||
			!slices.ContainsFunc(append(r.spy.recorded("FinishSteps"), r2.spy.recorded("FinishSteps")...), only) {
			t.Errorf("%s: FinishAll %v and %v, FinishSteps %v and %v; want FinishAll on both, then FinishSteps", race,
				r.spy.recorded("FinishAll"), r2.spy.recorded("FinishAll"), r.spy.recorded("FinishSteps"), r2.spy.recorded("FinishSteps"))
		}

		// Every other step twice at once, each pair having read it pending
		// before either commits.
		var m meet
		r.sender.setBefore(func(d *engine.Delivery) { m.arrive(d.StepID) })
		for _, id := range steps[lanes+2:] {
			run(r, id)
			run(r, id)
			sends[id] = 2
		}
		finish()

		for _, id := range steps {
			d := "dlv_" + engine.IDSuffix(id)
			if got := r.sender.tries(d) + r2.sender.tries(d); got != sends[id] {
				t.Errorf("step %s sent %d times, want %d", id, got, sends[id])
			}
		}
		for _, tc := range []struct {
			what, query string
			want        int
		}{
			{"deliveries", "SELECT COUNT(*) FROM deliveries WHERE scenario_id = ?", n},
			{"accepted deliveries with one attempt", "SELECT COUNT(*) FROM deliveries WHERE scenario_id = ? AND status = 'accepted' AND attempts = 1", n},
			{"attempts", "SELECT COUNT(*) FROM attempts AS a JOIN deliveries AS d ON d.id = a.delivery_id WHERE d.scenario_id = ?", n},
			{"completed runs", "SELECT COUNT(*) FROM runs WHERE scenario_id = ? AND status = 'completed'", n},
			{"runs", "SELECT COUNT(*) FROM runs WHERE scenario_id = ?", n},
			{"pending steps", "SELECT COUNT(*) FROM steps WHERE scenario_id = ? AND status = 'pending'", 0},
		} {
			if got := countRows(t, st, tc.query, sc.ID); got != tc.want {
				t.Errorf("%d %s, want %d", got, tc.what, tc.want)
			}
		}
		want := engine.StepStats{NodeID: "w1", Type: "send_webhook", Reached: n, Accepted: n, Attempts: n}
		if diff := cmp.Diff(want, r.stats(t, sc.ID)["w1"]); diff != "" {
			t.Errorf("w1 counters (-want +got):\n%s", diff)
		}
		for _, q := range []*memQueue{r.queue, r2.queue} {
			if _, deliveries := q.enqueued(); len(deliveries) != 0 {
				t.Errorf("accepted deliveries enqueued for retry: %v", deliveries)
			}
		}
		r.checkRebuild(t, sc.ID, 1)
	})
}

// TestStepsRunInGroups: the steps one ingest transaction makes are
// enqueued as tasks of at most 64 steps, and RunSteps runs a group to the
// end: each step sent once, finished and its run completed. Run again, a
// group whose steps are done sends nothing.
func TestStepsRunInGroups(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		r := newRig(t, st)
		ctx := context.Background()
		sc := r.activate(t, signupHook(), false)
		const n = 150
		r.ingest(t, signups("g", n)...)
		steps, _ := r.queue.enqueued()
		r.queue.mu.Lock()
		groups := slices.Clone(r.queue.groups)
		r.queue.mu.Unlock()
		if len(steps) != n || !slices.Equal(groups, []int{64, 64, 22}) {
			t.Fatalf("%d steps enqueued in groups %v, want %d in 64, 64, 22", len(steps), groups, n)
		}
		for range 2 {
			for i := 0; i < n; i += 64 {
				if err := r.e.RunSteps(ctx, steps[i:min(i+64, n)]); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, id := range steps {
			if got := r.sender.sent["dlv_"+engine.IDSuffix(id)]; got != 1 {
				t.Errorf("step %s sent %d times, want 1", id, got)
			}
		}
		if got := countRows(t, st, "SELECT COUNT(*) FROM runs WHERE scenario_id = ? AND status = 'completed'", sc.ID); got != n {
			t.Errorf("%d runs completed, want %d", got, n)
		}
		if got := r.stats(t, sc.ID)["w1"]; got.Accepted != n {
			t.Errorf("w1 accepted %d, want %d", got.Accepted, n)
		}
	})
}

// TestRunStepsStopsOnCancel: a group whose task is cancelled (the worker
// shuts down) returns the context's error, so the task is handed back.
func TestRunStepsStopsOnCancel(t *testing.T) {
	r := newRig(t, storagetest.OpenSQLite(t))
	r.activate(t, signupHook(), false)
	r.ingest(t, engine.EventInput{Type: "signup", Email: "c@example.org"})
	steps, _ := r.queue.enqueued()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.e.RunSteps(ctx, steps); !errors.Is(err, context.Canceled) {
		t.Errorf("RunSteps on a cancelled task: %v, want context.Canceled", err)
	}
}

// TestSweepLeavesHeldSteps: the sweeper re-enqueues overdue pending steps,
// one task each, but not those a running task holds.
func TestSweepLeavesHeldSteps(t *testing.T) {
	r := newRig(t, storagetest.OpenSQLite(t))
	ctx := context.Background()
	r.activate(t, signupHook(), false)
	r.ingest(t, signups("h", 3)...)
	steps, _ := r.queue.enqueued()
	r.clock.Add(time.Minute)
	n, err := r.e.Sweep(ctx, 30*time.Second, map[string]bool{steps[1]: true})
	if err != nil {
		t.Fatal(err)
	}
	after, _ := r.queue.enqueued()
	swept := after[len(steps):]
	slices.Sort(swept)
	want := []string{steps[0], steps[2]}
	slices.Sort(want)
	if n != 2 || !slices.Equal(swept, want) {
		t.Errorf("swept %d: %v, want %v (not the held %s)", n, swept, want, steps[1])
	}
}

// TestLastBranchCompletesRun: a run's two branches end on two workers
// whose transactions overlap, each having finished its step while the
// other's was still pending as far as it could see. The run must still
// end completed (PostgreSQL: under READ COMMITTED neither transaction sees
// the other's finish).
func TestLastBranchCompletesRun(t *testing.T) {
	st := storagetest.OpenPostgres(t)
	r, r2 := newRig(t, st), newRig(t, st)
	ctx := context.Background()
	g := engine.Graph{Nodes: []engine.Node{node("t1", "signup", `{}`), hookNode("w1", "https://example.org/a"),
		hookNode("w2", "https://example.org/b")}, Edges: []engine.Edge{{From: "t1", To: "w1"}, {From: "t1", To: "w2"}}}
	sc := r.activate(t, g, false)
	res := r.ingest(t, engine.EventInput{Type: "signup", Email: "two@example.org"})
	steps, _ := r.queue.enqueued()
	if len(steps) != 2 {
		t.Fatalf("%d steps enqueued, want 2 (one per branch)", len(steps))
	}
	runBothAt(t, "InsertNewDeliveries", r, steps[0], r2, steps[1])
	var status string
	if err := st.DB().NewRaw("SELECT status FROM runs WHERE scenario_id = ? AND contact_id = ?", sc.ID, res[0].ContactID).Scan(ctx, &status); err != nil {
		t.Fatal(err)
	}
	if status != string(engine.RunCompleted) {
		t.Errorf("run %s after both branches ended, want %s", status, engine.RunCompleted)
	}
}

// TestBatchIngestNewAndKnownContacts: one call mixing a contact it creates
// (whose rows are written without asking what exists) and a stored one:
// each list and each scenario sees what it would one event at a time.
func TestBatchIngestNewAndKnownContacts(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		r := newRig(t, st)
		ctx := context.Background()
		once := r.activate(t, signupHook(), false)
		again := r.activate(t, signupHook(), true)
		var lists []string
		for _, name := range []string{"A", "B", "C"} {
			l, err := r.e.CreateList(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			lists = append(lists, l.ID)
		}
		a, b, c := lists[0], lists[1], lists[2]
		old := r.ingest(t, engine.EventInput{Type: "signup", Email: "old@example.org", ListID: b})[0].ContactID
		res := r.ingest(t,
			engine.EventInput{Type: "signup", Email: "new@example.org", ListID: a},
			engine.EventInput{Type: "signup", Email: "NEW@example.org", ListID: b},
			engine.EventInput{Type: "unsubscribe", Email: "new@example.org", ListID: c}, // never subscribed
			engine.EventInput{Type: "unsubscribe", Email: "old@example.org", ListID: b},
			engine.EventInput{Type: "signup", Email: "old@example.org", ListID: a},
		)
		for i, x := range res {
			if x.Err != nil || x.EventID == "" {
				t.Fatalf("event %d: %+v", i, x)
			}
		}
		fresh := res[0].ContactID
		if res[1].ContactID != fresh || res[2].ContactID != fresh || res[3].ContactID != old || res[4].ContactID != old || fresh == old {
			t.Fatalf("contacts %+v: want the new one thrice, then %s twice", res, old)
		}
		subscribed := func(contact string) []string {
			t.Helper()
			var got []string
			if err := st.DB().NewRaw("SELECT list_id FROM list_subscriptions WHERE contact_id = ? AND status = 'subscribed' ORDER BY list_id",
				contact).Scan(ctx, &got); err != nil {
				t.Fatal(err)
			}
			return got
		}
		want := []string{a, b}
		slices.Sort(want)
		if got := subscribed(fresh); !slices.Equal(got, want) {
			t.Errorf("new contact in %v, want %v", got, want)
		}
		if got := subscribed(old); !slices.Equal(got, []string{a}) {
			t.Errorf("stored contact in %v, want [%s]", got, a)
		}
		if n := countRows(t, st, "SELECT COUNT(*) FROM list_subscriptions WHERE list_id = ?", c); n != 0 {
			t.Errorf("%d rows for list C, which nobody joined", n)
		}
		for _, tc := range []struct {
			scenario string
			contact  string
			want     int
		}{{once.ID, fresh, 1}, {once.ID, old, 1}, {again.ID, fresh, 2}, {again.ID, old, 2}} {
			if n := countRows(t, st, "SELECT COUNT(*) FROM runs WHERE scenario_id = ? AND contact_id = ?", tc.scenario, tc.contact); n != tc.want {
				t.Errorf("scenario %s, contact %s: %d runs, want %d", tc.scenario, tc.contact, n, tc.want)
			}
		}
		if s := r.stats(t, once.ID); s["t1"].Reached != 2 {
			t.Errorf("once: t1 reached %d, want 2", s["t1"].Reached)
		}
		if s := r.stats(t, again.ID); s["t1"].Reached != 4 {
			t.Errorf("again: t1 reached %d, want 4", s["t1"].Reached)
		}
	})
}

// TestRoundTripsPerEvent counts PostgreSQL round trips (messages sent and
// waited for) and statements: a signup of a new contact commits in 2 (its
// lookup, ahead of the transaction; then the writes, one statement with no
// BEGIN or COMMIT), and the webhook step it starts in 1 (the finish, the
// delivery, attempt and counters in one statement), with the scenario,
// the contact and the event known from the ingest. A known contact's
// signup also waits for its run's insert, which tells whether the contact
// was in the scenario already.
func TestRoundTripsPerEvent(t *testing.T) {
	st := storagetest.OpenPostgres(t)
	r := newRig(t, st)
	r.e.EnableRecentSteps()
	ctx := context.Background()
	r.activate(t, signupHook(), true)
	// The active triggers and the scenario are cached after a first event.
	r.ingest(t, engine.EventInput{Type: "signup", Email: "warm@example.org"})
	warm, _ := r.queue.enqueued()
	if err := r.e.RunStep(ctx, warm[0]); err != nil {
		t.Fatal(err)
	}
	count := func(what string, wantTrips, wantStatements uint64, fn func()) {
		t.Helper()
		trips, statements := st.RoundTrips(), st.Statements()
		fn()
		trips, statements = st.RoundTrips()-trips, st.Statements()-statements
		if trips != wantTrips || statements != wantStatements {
			t.Errorf("%s: %d round trips, %d statements; want %d and %d", what, trips, statements, wantTrips, wantStatements)
		}
	}
	// The first event's read found no contact, so the next batch guesses
	// its contacts are new too and reads nothing.
	count("a new contact's signup", 1, 1, func() { r.ingest(t, engine.EventInput{Type: "signup", Email: "new@example.org"}) })
	steps, _ := r.queue.enqueued()
	count("its webhook step", 1, 1, func() {
		if err := r.e.RunStep(ctx, steps[len(steps)-1]); err != nil {
			t.Fatal(err)
		}
	})
	// The guess is wrong for a stored contact: its commit fails on the
	// contact's email, and the batch reads and commits again.
	count("a known contact's signup, guessed new", 3, 3, func() {
		r.ingest(t, engine.EventInput{Type: "signup", Email: "new@example.org", Data: map[string]any{"firstname": "Ada"}})
	})
	count("a known contact's signup", 2, 2, func() {
		r.ingest(t, engine.EventInput{Type: "signup", Email: "new@example.org", Data: map[string]any{"firstname": "Ada"}})
	})
	// A scenario entered once: the read of the contact says whether it
	// has entered, so its run needs no answer either.
	once := r.activate(t, signupHook(), false)
	r.ingest(t, engine.EventInput{Type: "signup", Email: "warm2@example.org"})
	r.ingest(t, engine.EventInput{Type: "signup", Email: "warm2@example.org"}) // read: no more guessing
	count("a known contact's signup, entering once", 2, 2, func() {
		r.ingest(t, engine.EventInput{Type: "signup", Email: "new@example.org"})
	})
	count("a known contact's signup, entered already", 2, 2, func() {
		r.ingest(t, engine.EventInput{Type: "signup", Email: "new@example.org"})
	})
	if n := countRows(t, st, "SELECT count(*) FROM runs WHERE scenario_id = ?", once.ID); n != 2 {
		t.Errorf("%d runs in the scenario entered once, want 2 (warm2 and new, once each)", n)
	}
	if n := countRows(t, st, "SELECT count(*) FROM contacts WHERE email = 'new@example.org'"); n != 1 {
		t.Errorf("%d contacts new@example.org after the wrong guess, want 1", n)
	}
	// A change: the contact's UPDATE joins the commit's WITH.
	count("a known contact's change", 2, 2, func() {
		r.ingest(t, engine.EventInput{Type: "signup", Email: "new@example.org", Contact: &engine.ContactInput{Firstname: ptr("Ada")}})
	})
	if c, err := st.GetContactByEmail(ctx, "new@example.org"); err != nil || c.Firstname != "Ada" {
		t.Errorf("the known contact after its change: %+v, %v", c, err)
	}
	count("a known contact's change of dates", 2, 4, func() { // the UPDATE and the DELETE of the old dates first
		r.ingest(t, engine.EventInput{Type: "signup", Email: "new@example.org", Contact: &engine.ContactInput{Dates: map[string]string{"birthday": "1990-03-10"}}})
	})
	if n := countRows(t, st, "SELECT count(*) FROM contact_dates WHERE name = 'birthday' AND date = '1990-03-10'"); n != 1 {
		t.Errorf("%d birthdays stored, want 1", n)
	}
	// Joining a list: whether that changed anything is not read unless a
	// subscription listens to optin_finalized.
	lists := make([]string, 3)
	for i := range lists {
		l, err := r.e.CreateList(ctx, fmt.Sprint("L", i))
		if err != nil {
			t.Fatal(err)
		}
		lists[i] = l.ID
		r.ingest(t, engine.EventInput{Type: "signup", Email: "warm3@example.org", ListID: l.ID}) // the list is known
	}
	count("a known contact's signup to a list", 2, 2, func() {
		r.ingest(t, engine.EventInput{Type: "signup", Email: "new@example.org", ListID: lists[0]})
	})
	r.subscribe(t, engine.SubscriptionInput{App: "crm", Event: engine.SubOptinFinalized, URL: "https://example.org/optin"})
	r.ingest(t, engine.EventInput{Type: "signup", Email: "warm3@example.org", ListID: lists[0]}) // subscriptions cached
	// Now the change is read, and so published.
	r.ingest(t, engine.EventInput{Type: "signup", Email: "new@example.org", ListID: lists[1]})
	if n := countRows(t, st, "SELECT count(*) FROM list_subscriptions WHERE contact_id = (SELECT id FROM contacts WHERE email = 'new@example.org') AND status = 'subscribed'"); n != 2 {
		t.Errorf("the known contact is in %d lists, want 2", n)
	}
	if _, ds := r.queue.enqueued(); len(ds) != 1 {
		t.Errorf("%d deliveries queued, want 1 (optin_finalized of the second list)", len(ds))
	}
}

// TestRoundTripsPerStep: on PostgreSQL a webhook followed by another step
// (a node with one edge in, which only its finish can reach) commits in
// one round trip and one statement too: its finish, the next step, its
// delivery, attempt and counters.
func TestRoundTripsPerStep(t *testing.T) {
	st := storagetest.OpenPostgres(t)
	r := newRig(t, st)
	r.e.EnableRecentSteps()
	ctx := context.Background()
	g := engine.Graph{Nodes: []engine.Node{node("t1", "signup", `{}`), hookNode("w1", "https://example.org/a"), hookNode("w2", "https://example.org/b")},
		Edges: []engine.Edge{{From: "t1", To: "w1"}, {From: "w1", To: "w2"}}}
	sc := r.activate(t, g, false)
	last := func() string {
		steps, _ := r.queue.enqueued()
		return steps[len(steps)-1]
	}
	for _, email := range []string{"warm@example.org", "new@example.org"} {
		r.ingest(t, engine.EventInput{Type: "signup", Email: email})
		for _, node := range []string{"w1", "w2"} {
			trips, statements := st.RoundTrips(), st.Statements()
			if err := r.e.RunStep(ctx, last()); err != nil {
				t.Fatal(err)
			}
			trips, statements = st.RoundTrips()-trips, st.Statements()-statements
			if email == "new@example.org" && (trips != 1 || statements != 1) { // the first warms the caches
				t.Errorf("%s's step: %d round trips, %d statements; want 1 and 1", node, trips, statements)
			}
		}
	}
	s := r.stats(t, sc.ID)
	for _, node := range []string{"t1", "w1", "w2"} {
		if s[node].Reached != 2 {
			t.Errorf("%s reached %d times, want 2", node, s[node].Reached)
		}
	}
	if s["w1"].Accepted != 2 || s["w2"].Accepted != 2 {
		t.Errorf("accepted: w1 %d, w2 %d; want 2 each", s["w1"].Accepted, s["w2"].Accepted)
	}
	if n := countRows(t, st, "SELECT count(*) FROM runs WHERE scenario_id = ? AND status = 'completed'", sc.ID); n != 2 {
		t.Errorf("%d runs completed, want 2", n)
	}
	r.checkRebuild(t, sc.ID, 1)
}

// runBothAt runs step id1 on r1 and id2 on r2 at once, holds both at
// method until both have come to it, then lets them go on and waits for
// them.
func runBothAt(t *testing.T, method string, r1 *rig, id1 string, r2 *rig, id2 string) {
	t.Helper()
	g1, g2 := r1.spy.hold(method), r2.spy.hold(method)
	errs := make(chan error, 2)
	go func() { errs <- r1.e.RunStep(context.Background(), id1) }()
	go func() { errs <- r2.e.RunStep(context.Background(), id2) }()
	if !g1.wait(1) || !g2.wait(1) {
		t.Fatalf("the two steps never both came to %s", method)
	}
	r1.spy.release(method)
	r2.spy.release(method)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestStepWithANextRace: two engines run the same webhook step, which has
// a step after it, and commit side by side. Both assume it pending and
// send its finish with the next step (FinishAll); the second finds it
// done, stores nothing of that try (ErrStale), and then drops its outcome:
// one next step, one delivery, each counted once.
func TestStepWithANextRace(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		r, r2 := newRig(t, st), newRig(t, st)
		g := engine.Graph{Nodes: []engine.Node{node("t1", "signup", `{}`), hookNode("w1", "https://example.org/a"), hookNode("w2", "https://example.org/b")},
			Edges: []engine.Edge{{From: "t1", To: "w1"}, {From: "w1", To: "w2"}}}
		sc := r.activate(t, g, false)
		r.ingest(t, engine.EventInput{Type: "signup", Email: "race@example.org"})
		steps, _ := r.queue.enqueued()
		runBothAt(t, "InTx", r, steps[0], r2, steps[0])
		only := func(ids []string) bool { return slices.Equal(ids, steps[:1]) }
		if !slices.ContainsFunc(r.spy.recorded("FinishAll"), only) || !slices.ContainsFunc(r2.spy.recorded("FinishAll"), only) {
			t.Errorf("FinishAll %v and %v; want the step on both", r.spy.recorded("FinishAll"), r2.spy.recorded("FinishAll"))
		}
		if n := countRows(t, st, "SELECT count(*) FROM steps WHERE scenario_id = ? AND node_id = 'w2'", sc.ID); n != 1 {
			t.Errorf("%d steps of w2, want 1", n)
		}
		if n := countRows(t, st, "SELECT count(*) FROM deliveries WHERE scenario_id = ? AND node_id = 'w1'", sc.ID); n != 1 {
			t.Errorf("%d deliveries of w1 stored, want 1", n)
		}
		q1, _ := r.queue.enqueued()
		q2, _ := r2.queue.enqueued()
		if got := len(q1) + len(q2); got != 2 { // the entry step, and w2's once
			t.Errorf("%d steps queued, want 2", got)
		}
		s := r.stats(t, sc.ID)
		if s["w1"].Reached != 1 || s["w1"].Accepted != 1 || s["w2"].Reached != 1 {
			t.Errorf("w1 reached %d, accepted %d; w2 reached %d; want 1 each", s["w1"].Reached, s["w1"].Accepted, s["w2"].Reached)
		}
		r.checkRebuild(t, sc.ID, 1)
	})
}

// TestIngestFill: with a linger too long to end first, events wait until
// IngestFill of them are there and then share one transaction; a fill of
// 4 would have split them.
func TestIngestFill(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		const fill = 6
		r := newRig(t, st, func(c *engine.Config) { c.IngestLinger, c.IngestFill = time.Minute, fill })
		r.activate(t, signupHook(), false)
		ingestAtOnce(context.Background(), t, r.e, signups("fill", fill))
		tries := r.spy.recorded("InsertNewContacts")
		if len(tries) != 1 || len(tries[0]) != fill {
			t.Errorf("the events went in %d batches %q, want one of %d", len(tries), tries, fill)
		}
	})
}

// TestIngestOneAtATime: a caller that sends one event at a time, each once
// the last is answered, does not wait out the linger (here an hour), even
// with fewer events than IngestFill: after a burst that fills a batch,
// each of its events goes in a batch of its own at once. The engine counts
// who waits (Ingest leaves the batcher when answered); a caller counted
// after it left would make every batch wait for it.
func TestIngestOneAtATime(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		r := newRig(t, st, func(c *engine.Config) { c.IngestLinger = time.Hour })
		r.activate(t, signupHook(), false)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		const burst, alone = 16, 8
		ingestAtOnce(ctx, t, r.e, signups("burst", burst))
		for i, ev := range signups("alone", alone) {
			if _, err := r.e.Ingest(ctx, []engine.EventInput{ev}); err != nil {
				t.Fatalf("event %d sent alone: %v", i, err)
			}
		}
		if n := engine.IngestWaiting(r.e); n != 0 {
			t.Errorf("%d events counted as waiting once every Ingest returned, want 0", n)
		}
		tries := r.spy.recorded("InsertNewContacts")
		sizes := make([]int, len(tries))
		for i, try := range tries {
			sizes[i] = len(try)
		}
		if want := append([]int{burst}, slices.Repeat([]int{1}, alone)...); !slices.Equal(sizes, want) {
			t.Errorf("batches of %v events, want %v", sizes, want)
		}
	})
}

// ingestAtOnce ingests each event in a call of its own, all at once.
func ingestAtOnce(ctx context.Context, t *testing.T, e *engine.Engine, evs []engine.EventInput) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(evs))
	for i, ev := range evs {
		wg.Go(func() { _, errs[i] = e.Ingest(ctx, []engine.EventInput{ev}) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// In a process that runs steps, Ingest waits while AdmitAhead of the steps
// it created have not started and its workers are busy (they are behind),
// and goes on once they have room; so a load faster than the workers stays
// a backlog short enough for them to run its steps from memory. With the
// workers idle it does not wait, whatever the count: where processes share
// the queue, the others start some of this one's steps.
func TestIngestWaitsForTheWorkers(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		const parallel, busy = 8, 4 // half the step slots busy: behind
		held := &heldTimer{}
		r := newRig(t, st, func(c *engine.Config) { c.Metrics, c.StepParallel, c.IngestHold = held, parallel, time.Hour })
		r.e.EnableRecentSteps()
		r.activate(t, signupHook(), false)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		evs := signups("ahead", engine.AdmitAhead+busy)
		for len(evs) > 0 {
			n := min(len(evs), engine.MaxBatch)
			if _, err := r.e.Ingest(ctx, evs[:n]); err != nil {
				t.Fatal(err)
			}
			evs = evs[n:]
		}
		steps, _ := r.queue.enqueued()
		if len(steps) != engine.AdmitAhead+busy {
			t.Fatalf("%d steps enqueued, want %d", len(steps), engine.AdmitAhead+busy)
		}
		// Idle workers: not behind.
		if _, err := r.e.Ingest(ctx, signups("idle", 1)); err != nil {
			t.Fatal(err)
		}
		if n, _ := held.get(); n != 0 {
			t.Fatalf("ingestion held %d times with the workers idle, want 0", n)
		}

		// busy steps start and hold their slots until their sends may go.
		release := make(chan struct{})
		var started sync.WaitGroup
		started.Add(busy)
		r.sender.setBefore(func(*engine.Delivery) { started.Done(); <-release })
		running := make(chan error, 1)
		go func() { running <- r.e.RunSteps(ctx, steps[:busy]) }()
		started.Wait()

		done := make(chan error, 1)
		go func() { _, err := r.e.Ingest(ctx, signups("next", 1)); done <- err }()
		select {
		case err := <-done:
			t.Fatalf("Ingest returned (%v) with %d steps not started and the workers busy", err, engine.AdmitAhead)
		case <-time.After(200 * time.Millisecond):
		}
		close(release)
		if err := <-running; err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("Ingest once the workers had room: %v", err)
		}
		if got, _ := r.queue.enqueued(); len(got) != engine.AdmitAhead+busy+2 {
			t.Errorf("%d steps enqueued, want %d", len(got), engine.AdmitAhead+busy+2)
		}
		if n, took := held.get(); n != 1 || took <= 0 {
			t.Errorf("ingestion held %d times for %v in all, want once", n, took)
		}
	})
}

// heldTimer records what Metrics.IngestHeld reports.
type heldTimer struct {
	engine.NopMetrics
	mu   sync.Mutex
	n    int
	took time.Duration
}

func (h *heldTimer) IngestHeld(took time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n++
	h.took += took
}

func (h *heldTimer) get() (int, time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n, h.took
}

// A step due later is not remembered: it would be forgotten before it
// runs, and until then it would count as a step the workers are behind on.
func TestStepsDueLaterAreNotRemembered(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		r := newRig(t, st)
		r.e.EnableRecentSteps()
		r.activate(t, engine.Graph{
			Nodes: []engine.Node{node("t1", "signup", `{}`), node("d1", "wait", `{"duration":"1h"}`),
				hookNode("w1", "https://example.org/hook")},
			Edges: []engine.Edge{{From: "t1", To: "d1"}, {From: "d1", To: "w1"}},
		}, false)
		ctx := context.Background()
		if _, err := r.e.Ingest(ctx, signups("later", 1)); err != nil {
			t.Fatal(err)
		}
		if n := engine.RecentWaiting(r.e); n != 1 {
			t.Fatalf("%d steps remembered after the signup, want its wait step", n)
		}
		steps, _ := r.queue.enqueued()
		if err := r.e.RunSteps(ctx, steps); err != nil {
			t.Fatal(err)
		}
		if got, _ := r.queue.enqueued(); len(got) != 2 {
			t.Fatalf("%d steps enqueued, want the wait step and the webhook step after it", len(got))
		}
		if n := engine.RecentWaiting(r.e); n != 0 {
			t.Errorf("%d steps remembered after the wait step ran, want 0: the webhook step is due in an hour", n)
		}
	})
}
