package engine

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Config wires an Engine. Store, Queue, Sender, Registry and NewSecret are
// required.
type Config struct {
	Store    Store
	Queue    Queue
	Sender   Sender
	Registry *Registry
	// Clock defaults to the system clock.
	Clock Clock
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// NewSecret makes a scenario signing secret (whsec_…).
	NewSecret func() string
	// Metrics receives delivery outcomes and run starts. Defaults to
	// NopMetrics.
	Metrics Metrics
	// StepParallel caps the steps the process runs at once (their sends in
	// flight). Defaults to 64.
	StepParallel int
	// CommitLanes is how many batches of step outcomes may commit at once.
	// Defaults to 1: while a batch commits the next one gathers. A store
	// that commits side by side (PostgreSQL) does better with 2 under a
	// backlog, where one lane is busy all the time and is the bound; give
	// it StepParallel enough to fill both (the app: 2 and 128).
	CommitLanes int
	// ImportHeartbeat is how often a running import shows it is alive;
	// one silent for four is failed by FailStaleImports. Defaults to 30s.
	ImportHeartbeat time.Duration
	// ActiveCacheTTL is how long the set of active scenarios (and a
	// scenario's name and secret) is cached before changes made by other
	// processes are seen. Defaults to 1s.
	ActiveCacheTTL time.Duration
	// IngestLinger is how long an event may wait for others to share its
	// transaction when fewer than IngestFill are waiting: a light load
	// then pays one transaction per few events instead of one each, at
	// the cost of at most this much more time before the API answers.
	// Defaults to 5ms; negative: none.
	IngestLinger time.Duration
	// IngestFill is how many waiting events end the linger. Defaults to
	// 16. As many as lately waited at once end it too, and so do events
	// that stop coming (batcher.lingerFor), so that fewer clients than
	// that which each wait for their answer before they send again do
	// not linger on every batch.
	IngestFill int
	// CommitLinger is the same for the outcomes of steps, which wait for
	// commitFill others. It delays the end of a step's task and the start
	// of the step after it, not its webhook. Defaults to 20ms; negative:
	// none.
	CommitLinger time.Duration
	// IngestHold bounds how long one batch of events waits for this
	// process's workers when they are behind on the steps it created
	// (admission, see admitAhead). Defaults to 500ms; negative: never
	// waits.
	IngestHold time.Duration
}

// Engine runs scenarios: it ingests events, starts runs, executes steps and
// makes deliveries, and serves the scenario life cycle to the API.
type Engine struct {
	cfg Config
	st  Store
	log *slog.Logger

	plansMu sync.RWMutex
	plans   map[planKey]*plan

	active cached[*activeSet] // triggers of the active scenarios

	scenMu    sync.Mutex
	scenarios map[string]*cached[*Scenario] // rows read by the steps

	subs cached[*subscriptionSet] // event subscriptions (subscriptions.go)

	lists sync.Map // ids of lists known to exist (lists are never deleted)

	slots chan struct{} // one per step running (RunSteps)

	recent recentSteps // steps just created, for their first run here

	// Group commit of the hot path (batch.go): events in, steps read,
	// step outcomes out.
	ingests  batcher[*ingestCall]
	allNew   atomic.Bool // the last batch of events read found none of its contacts (guessAllNew)
	loads    batcher[*loadCall]
	outcomes batcher[*outcome]
}

type planKey struct {
	scenarioID string
	version    int
}

// New checks cfg, applies defaults and returns an Engine.
func New(cfg Config) (*Engine, error) {
	if cfg.Store == nil || cfg.Queue == nil || cfg.Sender == nil || cfg.Registry == nil || cfg.NewSecret == nil {
		return nil, errors.New("engine: Store, Queue, Sender, Registry and NewSecret are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NopMetrics{}
	}
	if cfg.StepParallel <= 0 {
		cfg.StepParallel = 64
	}
	if cfg.CommitLanes <= 0 {
		cfg.CommitLanes = batchLanes
	}
	if cfg.ImportHeartbeat <= 0 {
		cfg.ImportHeartbeat = 30 * time.Second
	}
	if cfg.ActiveCacheTTL == 0 {
		cfg.ActiveCacheTTL = time.Second
	}
	if cfg.IngestLinger == 0 {
		cfg.IngestLinger = 5 * time.Millisecond
	}
	if cfg.IngestFill <= 0 {
		cfg.IngestFill = ingestFill
	}
	if cfg.CommitLinger == 0 {
		cfg.CommitLinger = 20 * time.Millisecond
	}
	if cfg.IngestHold == 0 {
		cfg.IngestHold = 500 * time.Millisecond
	}
	e := &Engine{cfg: cfg, st: cfg.Store, log: cfg.Logger, plans: map[planKey]*plan{},
		scenarios: map[string]*cached[*Scenario]{}, slots: make(chan struct{}, cfg.StepParallel)}
	e.ingests = batcher[*ingestCall]{run: e.ingestBatch, max: MaxBatch, lanes: batchLanes, log: e.log,
		weight: func(c *ingestCall) int { return len(c.inputs) }, fill: cfg.IngestFill, linger: cfg.IngestLinger, adaptive: true}
	e.loads = batcher[*loadCall]{run: e.loadBatch, max: maxStepBatch, lanes: batchLanes, log: e.log, weight: one[*loadCall]}
	e.outcomes = batcher[*outcome]{run: e.commitOutcomes, max: maxStepBatch, lanes: cfg.CommitLanes, log: e.log,
		weight: one[*outcome], fill: commitFill, linger: cfg.CommitLinger}
	return e, nil
}

// batchLanes is how many batches of one kind may be in flight at once
// (for step outcomes, Config.CommitLanes' default). One: while a batch
// commits the next one gathers, so batches grow with the load. Two ingest
// lanes measured the same throughput on two cores with half the batch
// size, so twice the statements per delivery.
const batchLanes = 1

// maxStepBatch caps the steps read or committed together.
const maxStepBatch = 500

// ingestFill (Config.IngestFill's default) and commitFill are the batches
// that do not linger (Config's IngestLinger and CommitLinger). Sixteen
// events share most of a transaction's cost: at 2,500 events/s, against
// four, a fifth less CPU per delivery for PostgreSQL and a tenth less for
// Sluice, for 1.5-2.5 ms more before the API answers. Clients that each
// wait for their answer, fewer than that, are not held back: the linger
// ends as soon as as many are there as lately waited at once, or when
// events stop coming (batcher.lingerFor). A step outcome's wait costs no
// webhook any time, so outcomes wait for more.
const (
	ingestFill = 16
	commitFill = 32
)

// now is the clock's time at the precision storage keeps (microseconds), so
// what an API call returns is what a later read returns.
func (e *Engine) now() time.Time { return e.cfg.Clock.Now().UTC().Truncate(time.Microsecond) }

// NodeTypes lists the node catalogue.
func (e *Engine) NodeTypes() []Spec { return e.cfg.Registry.Specs() }

// Ping checks the database.
func (e *Engine) Ping(ctx context.Context) error { return e.st.Ping(ctx) }

// work collects what a transaction decided: counters to bump inside it,
// steps and deliveries to enqueue once it has committed.
type work struct {
	stats      map[statKey]*StatDelta
	steps      []*Step
	deliveries []*Delivery
	// For Metrics, reported after commit (engine/metrics.go).
	observed      []observation
	runsStarted   int // by events
	runsScheduled int // by date triggers
	// New deliveries per event subscription, counted at the end of the
	// transaction (engine/subscriptions.go).
	subDeliveries map[string]int
	// Runs that may have ended but were not completed: checked again
	// once the transaction has committed.
	recheck []string
	// settle, when set, runs once the transaction has committed, before
	// what follows the commit (for what a statement sent with the commit
	// answers).
	settle func(w *work)
	// The pending steps in steps with the contact and event they run
	// with, remembered once committed (recentSteps), when that is on.
	known []StepLoad
}

// know notes the pending steps added to w.steps since index from that
// are due now, with the contact and event of each one's run (of), for
// recentSteps. A step due later would be forgotten before it runs.
func (e *Engine) know(w *work, from int, of func(s *Step) (*Contact, *Event)) {
	if !e.recent.on.Load() {
		return
	}
	now := e.now()
	for _, s := range w.steps[from:] {
		if s.DueAt.After(now) {
			continue
		}
		if c, ev := of(s); c != nil && ev != nil {
			w.known = append(w.known, StepLoad{Step: s, Contact: c, Event: ev})
		}
	}
}

type statKey struct {
	scenarioID string
	version    int
	nodeID     string
	hour       time.Time
}

// bump adds to a node's counters; f changes the delta.
func (w *work) bump(scenarioID string, version int, nodeID string, at time.Time, f func(*StatDelta)) {
	k := statKey{scenarioID, version, nodeID, at.UTC().Truncate(time.Hour)}
	d := w.stats[k]
	if d == nil {
		if w.stats == nil {
			w.stats = map[statKey]*StatDelta{}
		}
		d = &StatDelta{ScenarioID: scenarioID, Version: version, NodeID: nodeID, Hour: k.hour}
		w.stats[k] = d
	}
	f(d)
}

// inTx runs fn in a transaction, bumps the counters it collected in the
// same transaction, and enqueues its steps and deliveries after commit. A
// failed enqueue is logged: the sweeper finds the row later. fn returns
// errSkip to roll back quietly when the work was already done.
func (e *Engine) inTx(ctx context.Context, fn func(ctx context.Context, tx Tx, w *work) error) error {
	var w work
	err := e.st.InTx(ctx, func(ctx context.Context, tx Tx) error {
		w = work{}
		if err := fn(ctx, tx, &w); err != nil {
			return err
		}
		if err := countSubscriptionDeliveries(ctx, tx, &w); err != nil {
			return err
		}
		if len(w.stats) == 0 {
			return nil
		}
		deltas := make([]StatDelta, 0, len(w.stats))
		for _, d := range w.stats {
			deltas = append(deltas, *d)
		}
		return tx.BumpStats(ctx, deltas)
	})
	if errors.Is(err, errSkip) {
		return nil // another worker did this already; nothing to enqueue
	}
	if err != nil {
		return err
	}
	if w.settle != nil {
		w.settle(&w)
	}
	e.recent.put(w.known) // before the steps are enqueued, for their workers
	e.enqueue(ctx, &w)
	e.report(&w)
	e.recheckRuns(ctx, w.recheck)
	return nil
}

// recheckRuns completes, after a commit, the runs that a transaction left
// active only because another transaction had not yet committed the end of
// their other branches: under READ COMMITTED two transactions that each end
// one branch can each see the other's step still pending, and the later to
// commit must then complete the run. This statement sees both. A failure
// is logged: the run keeps status active with nothing pending.
func (e *Engine) recheckRuns(ctx context.Context, ids []string) {
	if len(ids) == 0 {
		return
	}
	if _, err := e.st.CompleteRuns(ctx, ids); err != nil {
		e.log.Warn("complete runs after commit", "runs", len(ids), "err", err)
	}
}

// enqueue hands a committed transaction's steps and deliveries to the
// queue, up to enqueueParallel at a time: each is a round trip, and a batch
// should not wait for them one after the other. Steps due in the same
// second go in groups of up to stepGroup, one task each.
func (e *Engine) enqueue(ctx context.Context, w *work) {
	var jobs []func()
	for _, g := range groupSteps(w.steps, e.now()) {
		jobs = append(jobs, func() {
			if err := e.cfg.Queue.EnqueueSteps(ctx, g.ids, g.at); err != nil {
				e.log.Warn("enqueue steps; the sweeper will retry", "steps", len(g.ids), "first", g.ids[0], "err", err)
			}
		})
	}
	for _, d := range w.deliveries {
		if d.NextAttemptAt == nil {
			continue
		}
		jobs = append(jobs, func() {
			if err := e.cfg.Queue.EnqueueDelivery(ctx, d.ID, *d.NextAttemptAt); err != nil {
				e.log.Warn("enqueue delivery; the sweeper will retry", "delivery", d.ID, "err", err)
			}
		})
	}
	if len(jobs) == 1 {
		jobs[0]()
		return
	}
	// A few goroutines take the jobs in turn: one goroutine per job grew a
	// fresh stack for each (asynq and go-redis calls run deep), 6% of the
	// CPU when 1,000-event batches were enqueued.
	var wg sync.WaitGroup
	var next atomic.Int64
	for range min(enqueueParallel, len(jobs)) {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(jobs)); i = next.Add(1) - 1 {
				jobs[i]()
			}
		})
	}
	wg.Wait()
}

// enqueueParallel caps the enqueues in flight for one transaction.
const enqueueParallel = 16

// stepGroup caps the steps of one task: a task's steps share one dequeue
// and one acknowledgement, and a group is retried as a whole when one of
// its steps fails on the infrastructure.
const stepGroup = 64

// stepBatch is steps to enqueue as one task.
type stepBatch struct {
	ids []string
	at  time.Time
}

// groupSteps groups steps due at the same whole second (asynq keeps
// seconds), or due already, in order, up to stepGroup each.
func groupSteps(steps []*Step, now time.Time) []stepBatch {
	var out []stepBatch
	open := map[int64]int{} // due second → index in out of its open group
	for _, s := range steps {
		at := s.DueAt
		if at.Before(now) {
			at = now
		}
		sec := at.Unix()
		i, ok := open[sec]
		if !ok || len(out[i].ids) == stepGroup {
			out = append(out, stepBatch{at: at})
			i = len(out) - 1
			open[sec] = i
		}
		out[i].ids = append(out[i].ids, s.ID)
		if at.After(out[i].at) {
			out[i].at = at
		}
	}
	return out
}

// planFor returns the compiled graph of a version, compiling it once.
func (e *Engine) planFor(ctx context.Context, tx Tx, scenarioID string, version int) (*plan, error) {
	k := planKey{scenarioID, version}
	e.plansMu.RLock()
	p := e.plans[k]
	e.plansMu.RUnlock()
	if p != nil {
		return p, nil
	}
	v, err := tx.GetVersion(ctx, scenarioID, version)
	if err != nil {
		return nil, err
	}
	p, problems := compileGraph(e.cfg.Registry, v.Graph)
	if len(problems) > 0 {
		return nil, &ProblemsError{Problems: problems}
	}
	if v.ActivatedAt != nil { // only frozen versions are cached
		e.plansMu.Lock()
		e.plans[k] = p
		e.plansMu.Unlock()
	}
	return p, nil
}

// scenario returns a scenario's row, cached for ActiveCacheTTL.
func (e *Engine) scenario(ctx context.Context, tx Tx, id string) (*Scenario, error) {
	e.scenMu.Lock()
	c := e.scenarios[id]
	if c == nil {
		c = &cached[*Scenario]{}
		e.scenarios[id] = c
	}
	e.scenMu.Unlock()
	return c.get(e.cfg.ActiveCacheTTL, func() (*Scenario, error) { return tx.GetScenario(ctx, id) })
}

// forget drops cached state about a scenario after a local change.
func (e *Engine) forget(id string) {
	e.scenMu.Lock()
	delete(e.scenarios, id)
	e.scenMu.Unlock()
	e.active.forget()
}

// cached holds one value, loaded again once it is older than a TTL (the
// active triggers, the subscriptions, a scenario's row: changes other
// processes make are seen within the TTL; local changes call forget).
//
// One caller loads at a time. When the value expired under load, every
// running step asked for it within the same millisecond: each read it,
// up to 64 queries at once on a pool of 10 connections, and the batches
// of the hot path waited for a connection behind them (75 ms, once a
// second). Now the others keep the value being replaced until the load
// ends, or wait for it when there is none.
type cached[T any] struct {
	mu      sync.Mutex
	v       T
	ok      bool
	loaded  time.Time
	gen     int           // bumped by forget: a load begun before is not kept
	loading chan struct{} // closed when the load in flight ends; nil if none
}

// get returns the value, calling load when it is missing or older than ttl.
func (c *cached[T]) get(ttl time.Duration, load func() (T, error)) (T, error) {
	c.mu.Lock()
	for c.loading != nil || !c.ok || time.Since(c.loaded) >= ttl {
		if c.loading == nil {
			return c.load(load) // unlocks
		}
		if c.ok {
			break // another caller is loading: the value it replaces will do
		}
		wait := c.loading
		c.mu.Unlock()
		<-wait
		c.mu.Lock()
	}
	v := c.v
	c.mu.Unlock()
	return v, nil
}

// load runs load as the one loader, with c.mu held on entry; it returns
// with c.mu released. A load that fails or panics leaves the value as it
// was, and the next caller loads.
func (c *cached[T]) load(load func() (T, error)) (v T, err error) {
	done, gen := make(chan struct{}), c.gen
	c.loading = done
	c.mu.Unlock()
	loaded := false
	defer func() {
		c.mu.Lock()
		c.loading = nil
		close(done)
		if loaded && err == nil && gen == c.gen {
			c.v, c.ok, c.loaded = v, true, time.Now()
		}
		c.mu.Unlock()
	}()
	v, err = load()
	loaded = true
	return v, err
}

// forget drops the value so the next get loads it.
func (c *cached[T]) forget() {
	c.mu.Lock()
	var zero T
	c.v, c.ok = zero, false
	c.gen++
	c.mu.Unlock()
}

// activeSet indexes the triggers of every active scenario by event type.
type activeSet struct {
	byType map[string][]activeTrigger
	any    []activeTrigger // triggers with no fixed event types
}

type activeTrigger struct {
	scenario *Scenario
	plan     *plan
	node     *planNode
	trigger  Trigger
}

func (a *activeSet) forType(t string) [][]activeTrigger {
	return [][]activeTrigger{a.byType[t], a.any}
}

// activeTriggers returns the cached trigger index, reloading it after
// ActiveCacheTTL.
func (e *Engine) activeTriggers(ctx context.Context, tx Tx) (*activeSet, error) {
	return e.active.get(e.cfg.ActiveCacheTTL, func() (*activeSet, error) { return e.loadActiveTriggers(ctx, tx) })
}

// loadActiveTriggers builds the trigger index from the active scenarios.
func (e *Engine) loadActiveTriggers(ctx context.Context, tx Tx) (*activeSet, error) {
	list, err := tx.ActiveScenarios(ctx)
	if err != nil {
		return nil, err
	}
	a := &activeSet{byType: map[string][]activeTrigger{}}
	for i := range list {
		s := &list[i]
		p, err := e.planFor(ctx, tx, s.ID, s.ActiveVersion)
		if err != nil {
			e.log.Error("active scenario does not compile; skipped", "scenario", s.ID, "version", s.ActiveVersion, "err", err)
			continue
		}
		for _, t := range p.triggers {
			trig, ok := t.compiled.(Trigger)
			if !ok {
				continue
			}
			at := activeTrigger{scenario: s, plan: p, node: t, trigger: trig}
			if t.spec.EventTypes == nil {
				a.any = append(a.any, at)
				continue
			}
			for _, et := range t.spec.EventTypes {
				a.byType[et] = append(a.byType[et], at)
			}
		}
	}
	return a, nil
}
