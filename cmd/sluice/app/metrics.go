package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/tasks"
	"github.com/sluicehq/sluice/storage"
)

// metrics is the process's Prometheus registry. Counters and the latency
// histogram are fed by the engine (engine.Metrics) as outcomes commit, so
// they count what this process did; the gauges (queue depth, runs in
// flight, scheduler lag) are read from Redis and the database at scrape
// time and are the same in every process.
type metrics struct {
	reg        *prometheus.Registry
	deliveries *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	runs       *prometheus.CounterVec
	loaded     *prometheus.CounterVec
	held       prometheus.Counter
	dateTicks  *prometheus.CounterVec
	dateLag    prometheus.Gauge
}

var _ engine.Metrics = (*metrics)(nil)

// newMetrics registers Sluice's metrics, Go's and the process's. trips
// counts the process's Redis round trips.
func newMetrics(st *storage.Store, trips *tripCounter, insp *asynq.Inspector, clock engine.Clock, log *slog.Logger) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_delivery_attempts_total",
			Help: "Webhook delivery attempts, by delivery kind and outcome (accepted, retry: still pending, failed: given up).",
		}, []string{"kind", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sluice_delivery_attempt_duration_seconds",
			Help:    "Duration of webhook delivery attempts (the HTTP try), by delivery kind.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"kind"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_runs_started_total",
			Help: "Runs started, by source (event, schedule).",
		}, []string{"source"}),
		loaded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_steps_loaded_total",
			Help: "Steps read to run them, by source: memory (created by this process a moment before) or database.",
		}, []string{"source"}),
		held: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_ingest_held_seconds_total",
			Help: "Time ingestion waited for this process's busy workers, 2,500 steps behind, to start the steps it created (admission; 0 in the api role).",
		}),
		dateTicks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_date_scheduler_ticks_total",
			Help: "Passes of the date-trigger scheduler, by result (ok, error).",
		}, []string{"result"}),
		dateLag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sluice_date_scheduler_lag_seconds",
			Help: "How far behind the clock the date-trigger scheduler's last completed pass was.",
		}),
	}
	// The two work counters are read from counters the store and the Redis
	// client keep anyway, so that a benchmark can divide them by deliveries
	// from outside the process (cmd/sluice-bench).
	statements := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "sluice_sql_statements_total",
		Help: "SQL statements this process sent to the database (BEGIN, COMMIT and ROLLBACK included).",
	}, func() float64 { return float64(st.Statements()) })
	sqlTrips := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "sluice_sql_round_trips_total",
		Help: "Messages this process sent to PostgreSQL and waited for: inside a transaction BEGIN and the writes that return nothing travel with the next statement (0 on SQLite, which runs in the process).",
	}, func() float64 { return float64(st.RoundTrips()) })
	roundTrips := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "sluice_redis_round_trips_total",
		Help: "Round trips this process made to Redis: one per command, one per pipeline.",
	}, func() float64 { return float64(trips.n.Load()) })
	m.reg.MustRegister(m.deliveries, m.latency, m.runs, m.loaded, m.held, m.dateTicks, m.dateLag, statements, sqlTrips, roundTrips,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&gauges{st: st, insp: insp, clock: clock, log: log})
	for _, o := range []string{"accepted", "retry", "failed"} { // present from the start, at 0
		m.deliveries.WithLabelValues(string(engine.KindStep), o)
	}
	m.loaded.WithLabelValues(engine.StepsFromMemory)
	m.loaded.WithLabelValues(engine.StepsFromDatabase)
	return m
}

// DeliveryAttempted counts one attempt and its duration.
func (m *metrics) DeliveryAttempted(kind engine.DeliveryKind, status engine.DeliveryStatus, took time.Duration) {
	outcome := string(status)
	if status == engine.DeliveryPending {
		outcome = "retry"
	}
	m.deliveries.WithLabelValues(string(kind), outcome).Inc()
	m.latency.WithLabelValues(string(kind)).Observe(took.Seconds())
}

// RunsStarted counts started runs.
func (m *metrics) RunsStarted(source string, n int) {
	m.runs.WithLabelValues(source).Add(float64(n))
}

// StepsLoaded counts steps read to run them.
func (m *metrics) StepsLoaded(source string, n int) {
	m.loaded.WithLabelValues(source).Add(float64(n))
}

// IngestHeld adds the time ingestion waited for the workers.
func (m *metrics) IngestHeld(took time.Duration) {
	m.held.Add(took.Seconds())
}

// handler serves the registry in the Prometheus exposition format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, Timeout: 10 * time.Second})
}

// gauges reads the shared state at scrape time.
type gauges struct {
	st    *storage.Store
	insp  *asynq.Inspector
	clock engine.Clock
	log   *slog.Logger
}

var (
	queueDesc = prometheus.NewDesc("sluice_queue_tasks",
		"Tasks in the asynq queue, by state (pending, active, scheduled, retry, archived).", []string{"state"}, nil)
	queueLatencyDesc = prometheus.NewDesc("sluice_queue_latency_seconds",
		"Age of the oldest pending task in the asynq queue.", nil, nil)
	inFlightDesc = prometheus.NewDesc("sluice_runs_in_flight",
		"Runs with a pending step (running or waiting).", nil, nil)
	lagDesc = prometheus.NewDesc("sluice_scheduler_lag_seconds",
		"How overdue the oldest due pending step or delivery is (0 when none is): grows when workers or the scheduler fall behind.", nil, nil)
)

// Describe sends the gauges' descriptions.
func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDesc
	ch <- queueLatencyDesc
	ch <- inFlightDesc
	ch <- lagDesc
}

// Collect reads the queue and the database; a source that fails is left
// out of the scrape (and logged) rather than reported as zero.
func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	q, err := g.insp.GetQueueInfo(tasks.QueueName)
	if err != nil && g.noQueueYet() {
		q, err = &asynq.QueueInfo{}, nil // nothing was ever queued: all zero
	}
	if err != nil {
		g.log.Warn("metrics: queue info", "err", err)
	}
	if err == nil {
		for state, n := range map[string]int{"pending": q.Pending, "active": q.Active, "scheduled": q.Scheduled,
			"retry": q.Retry, "archived": q.Archived} {
			ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(n), state)
		}
		ch <- prometheus.MustNewConstMetric(queueLatencyDesc, prometheus.GaugeValue, q.Latency.Seconds())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	now := g.clock.Now()
	gs, err := g.st.Gauges(ctx, now)
	if err != nil {
		g.log.Warn("metrics: database gauges", "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(inFlightDesc, prometheus.GaugeValue, float64(gs.RunsInFlight))
	lag := 0.0
	if !gs.OldestDue.IsZero() {
		lag = now.Sub(gs.OldestDue).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, lag)
}

// noQueueYet tells whether Redis knows no queue of Sluice's: asynq makes
// one at the first enqueue, and its GetQueueInfo fails on one it does not
// know with an error of its internal package (asynq.ErrQueueNotFound wraps
// only the errors of other calls).
func (g *gauges) noQueueYet() bool {
	qs, err := g.insp.Queues()
	return err == nil && !slices.Contains(qs, tasks.QueueName)
}

// checks are the health checks of every role: the database and Redis.
func (a *App) checks() map[string]func(context.Context) error {
	return map[string]func(context.Context) error{
		"database": a.store.Ping,
		"redis":    func(ctx context.Context) error { return a.rdb.Ping(ctx).Err() },
	}
}

// runMetrics serves /metrics and /healthz on Config.MetricsAddr, for the
// roles without the API (worker, scheduler) and their container health
// checks.
func (a *App) runMetrics(ctx context.Context) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.metrics.handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		for name, check := range a.checks() {
			if err := check(ctx); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintf(w, "%s: %v\n", name, err)
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})
	ln, err := net.Listen("tcp", a.cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("listen on %s (SLUICE_METRICS_ADDR): %w", a.cfg.MetricsAddr, err)
	}
	a.addrMu.Lock()
	a.metricsAddr = ln.Addr().String()
	a.addrMu.Unlock()
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}

// MetricsAddr returns the address of the SLUICE_METRICS_ADDR server, once
// it listens.
func (a *App) MetricsAddr() string {
	a.addrMu.Lock()
	defer a.addrMu.Unlock()
	return a.metricsAddr
}
