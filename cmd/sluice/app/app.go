package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/netguard"
	"github.com/sluicehq/sluice/engine/secrets"
	"github.com/sluicehq/sluice/engine/tasks"
	"github.com/sluicehq/sluice/engine/webhook"
	"github.com/sluicehq/sluice/frontend"
	"github.com/sluicehq/sluice/nodes"
	"github.com/sluicehq/sluice/storage"
)

// Roles of the sluice binary.
const (
	RoleServe     = "serve"
	RoleAPI       = "api"
	RoleWorker    = "worker"
	RoleScheduler = "scheduler"
)

// App is a wired Sluice process.
type App struct {
	cfg      Config
	log      *slog.Logger
	store    *storage.Store
	mini     *miniredis.Miniredis
	miniStop chan struct{}
	redis    asynq.RedisConnOpt
	rdb      redis.UniversalClient
	client   *asynq.Client
	trips    tripCounter
	wake     *waker
	insp     *asynq.Inspector
	metrics  *metrics
	// Engine is the process's engine.
	Engine *engine.Engine

	addrMu      sync.Mutex
	addr        string
	metricsAddr string
}

// New opens storage (migrating it), connects Redis (starting the
// in-process one when no URL is set) and builds the engine. Close releases
// everything.
func New(ctx context.Context, cfg Config, log *slog.Logger) (a *App, err error) {
	if err := cfg.ensureKeys(); err != nil {
		return nil, err
	}
	box, err := secrets.New(cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	a = &App{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if a.store, err = storage.Open(ctx, storage.Config{URL: cfg.DatabaseURL, Secrets: box}); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err = a.store.Migrate(ctx); err != nil {
		return nil, fmt.Errorf("migrate database: %w", err)
	}
	concurrency, lanes := workerDefaults(a.store)
	if a.cfg.Concurrency == 0 {
		a.cfg.Concurrency = concurrency
	}
	if cfg.RedisURL == "" {
		a.miniStop = make(chan struct{})
		if a.mini, err = startMiniredis(a.miniStop); err != nil {
			return nil, err
		}
		a.redis = asynq.RedisClientOpt{Addr: a.mini.Addr()}
	} else if a.redis, err = parseRedisURL(cfg.RedisURL); err != nil {
		return nil, fmt.Errorf("SLUICE_REDIS_URL: %w", err)
	}
	a.rdb = a.redis.MakeRedisClient().(redis.UniversalClient)
	a.wake = newWaker()
	a.rdb.AddHook(a.wake) // first, so that the trip counter sees its dequeues
	a.rdb.AddHook(&a.trips)
	a.client = asynq.NewClientFromRedisClient(a.rdb)
	sender, err := webhook.New(webhook.Config{Client: netguard.NewClient(netguard.Config{AllowPrivate: cfg.AllowPrivateTargets})})
	if err != nil {
		return nil, err
	}
	reg := engine.NewRegistry()
	nodes.Register(reg)
	a.insp = asynq.NewInspectorFromRedisClient(a.rdb)
	a.metrics = newMetrics(a.store, &a.trips, a.insp, engine.SystemClock{}, log)
	a.Engine, err = engine.New(engine.Config{Store: a.store, Queue: tasks.NewQueue(a.client), Sender: sender,
		Registry: reg, Logger: log, NewSecret: webhook.NewSecret, Metrics: a.metrics, StepParallel: a.cfg.Concurrency,
		CommitLanes: lanes, IngestLinger: orNone(cfg.IngestLinger), IngestFill: cfg.IngestFill, IngestHold: orNone(cfg.IngestHold),
		CommitLinger: orNone(cfg.CommitLinger)})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// workerDefaults is, for st, the steps a worker runs at once when
// SLUICE_WORKER_CONCURRENCY is unset and engine.Config.CommitLanes.
// PostgreSQL commits batches side by side, and under a backlog one batch
// of step outcomes at a time was the bound, busy all the time with the
// machine 86 % busy: two lanes and 128 steps delivered 100k webhooks about
// 24 % faster (3 pairs). SQLite has one writer, so a second lane would only
// queue for it, and 128 steps there measured 8-10 % slower than 64.
func workerDefaults(st *storage.Store) (concurrency, commitLanes int) {
	if st.Postgres() {
		return 128, 2
	}
	return 64, 1
}

// startMiniredis runs the in-process Redis-compatible server on a loopback
// port. miniredis only expires keys when its clock is advanced, so a
// goroutine advances it every second until stop is closed.
func startMiniredis(stop <-chan struct{}) (*miniredis.Miniredis, error) {
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("start in-process redis: %w", err)
	}
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				m.FastForward(time.Second)
			}
		}
	}()
	return m, nil
}

// RedisRoundTrips returns how many round trips this process has made to
// Redis (commands and pipelines; for the benchmark).
func (a *App) RedisRoundTrips() uint64 { return a.trips.n.Load() }

// Store returns the process's storage (for tests and the benchmark).
func (a *App) Store() *storage.Store { return a.store }

// Addr returns the address the HTTP server listens on, once it does.
func (a *App) Addr() string {
	a.addrMu.Lock()
	defer a.addrMu.Unlock()
	return a.addr
}

// EmbeddedRedisAddr returns the address of the in-process Redis, or "" when
// a real Redis is configured.
func (a *App) EmbeddedRedisAddr() string {
	if a.mini == nil {
		return ""
	}
	return a.mini.Addr()
}

// APIKey returns the API's bearer key.
func (a *App) APIKey() string { return a.cfg.APIKey }

// Close releases Redis, the in-process server and the database.
func (a *App) Close() error {
	if a.client != nil {
		a.client.Close()
	}
	if a.rdb != nil {
		a.rdb.Close()
	}
	if a.mini != nil {
		close(a.miniStop)
		a.mini.Close()
	}
	if a.store != nil {
		return a.store.Close()
	}
	return nil
}

// Run runs role until ctx is cancelled, then shuts down gracefully:
// the HTTP server stops taking requests, workers finish or hand back their
// tasks.
func (a *App) Run(ctx context.Context, role string) error {
	if a.mini != nil && role != RoleServe {
		return fmt.Errorf("the %s role needs SLUICE_REDIS_URL: the in-process Redis only serves `sluice serve`", role)
	}
	var parts []func(context.Context) error
	switch role {
	case RoleServe:
		// The workers run what this process enqueues: they wait for it
		// rather than poll for it.
		a.wake.setWait(serveWakeWait)
		parts = append(parts, a.runHTTP, a.runWorker, a.runSweeper, a.runDateScheduler)
	case RoleAPI:
		parts = append(parts, a.runHTTP)
	case RoleWorker:
		parts = append(parts, a.runWorker)
	case RoleScheduler:
		parts = append(parts, a.runSweeper, a.runDateScheduler)
	default:
		return fmt.Errorf("unknown role %q", role)
	}
	if a.cfg.MetricsAddr != "" {
		parts = append(parts, a.runMetrics)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(parts))
	for _, run := range parts {
		go func() { errs <- run(ctx) }()
	}
	var first error
	for range parts {
		if err := <-errs; err != nil && first == nil {
			first = err
			cancel() // one part failing stops the others
		}
	}
	return first
}

func (a *App) runHTTP(ctx context.Context) error {
	srv, err := api.New(api.Config{Engine: a.Engine, APIKey: a.cfg.APIKey, BodyLimit: a.cfg.BodyLimit,
		Checks: a.checks(), Frontend: frontend.Handler(), Logger: a.log, Metrics: a.metrics.handler(),
		ImportLimit: int64(a.cfg.ImportLimit)})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.cfg.Addr, err)
	}
	a.addrMu.Lock()
	a.addr = ln.Addr().String()
	a.addrMu.Unlock()
	a.log.Info("sluice is listening", "url", "http://"+ln.Addr().String())
	if a.cfg.generatedAPIKey {
		fmt.Printf("\nA new API key was generated and stored in %s/api_key:\n\n    %s\n\n", a.cfg.DataDir, a.cfg.APIKey)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Listener(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		// Requests in flight get 10 s; connections still open then are
		// cut. That is the end of a graceful stop, not a failure of it.
		if err := srv.ShutdownWithTimeout(10 * time.Second); err != nil {
			a.log.Warn("HTTP connections still open 10 s after shutdown began were closed", "err", err)
		}
		return nil
	}
}

func (a *App) runWorker(ctx context.Context) error {
	srv := asynq.NewServerFromRedisClient(a.rdb, asynq.Config{
		Concurrency:              a.cfg.Concurrency,
		Queues:                   map[string]int{tasks.QueueName: 1},
		TaskCheckInterval:        10 * time.Millisecond,
		DelayedTaskCheckInterval: 250 * time.Millisecond,
		RetryDelayFunc:           tasks.RetryDelay,
		ShutdownTimeout:          20 * time.Second,
		LogLevel:                 asynq.WarnLevel,
	})
	// The steps this process creates are mostly run by its own workers,
	// right after: they need not read them back.
	a.Engine.EnableRecentSteps()
	if err := srv.Start(tasks.NewMux(a.Engine)); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	<-ctx.Done()
	a.wake.stop()
	srv.Shutdown()
	return nil
}

// queueLatency is how long the oldest task waiting in Sluice's queue has
// waited (0 when the queue is empty or Redis cannot say). A row due less
// than that long ago may still have its task in the queue, so the sweeper
// leaves it alone: under a backlog it would otherwise re-enqueue, one round
// trip each, thousands of rows whose tasks are merely waiting their turn.
// After a flush the queue is empty and every overdue row is swept.
func (a *App) queueLatency() time.Duration {
	info, err := a.insp.GetQueueInfo(tasks.QueueName)
	if err != nil {
		return 0 // no queue yet, or Redis away: sweep as usual
	}
	return info.Latency
}

// heldSteps is the steps that tasks being run hold (nil when Redis cannot
// say: sweep as usual).
func (a *App) heldSteps() map[string]bool {
	held, err := tasks.HeldSteps(a.insp)
	if err != nil {
		a.log.Warn("sweep: list the steps held by running tasks", "err", err)
	}
	return held
}

func (a *App) runSweeper(ctx context.Context) error {
	t := time.NewTicker(a.cfg.SweepInterval)
	defer t.Stop()
	var purged time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			n, err := a.Engine.Sweep(ctx, a.cfg.SweepGrace+a.queueLatency(), a.heldSteps())
			if err != nil && !errors.Is(err, context.Canceled) {
				a.log.Warn("sweep", "err", err)
			} else if n > 0 {
				a.log.Debug("sweep re-enqueued due work", "rows", n)
			}
			// Once a minute: purge the events buffered for inactive event
			// subscriptions longer than engine.BufferRetention, and fail
			// the imports whose process stopped.
			if time.Since(purged) >= time.Minute {
				purged = time.Now()
				n, err := a.Engine.PurgeSubscriptionBuffers(ctx)
				if err != nil && !errors.Is(err, context.Canceled) {
					a.log.Warn("purge buffered subscription events", "err", err)
				} else if n > 0 {
					a.log.Info("purged buffered subscription events older than 5 days", "events", n)
				}
				n, err = a.Engine.FailStaleImports(ctx)
				if err != nil && !errors.Is(err, context.Canceled) {
					a.log.Warn("fail stale imports", "err", err)
				} else if n > 0 {
					a.log.Warn("imports whose process stopped marked failed", "imports", n)
				}
			}
		}
	}
}

// orNone turns a configured 0 (none) into the engine's negative (none).
func orNone(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
