package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun/driver/pgdriver"
)

// settle is how long a measurement waits after the last webhook arrived
// before reading the counters: Sluice commits a delivery's outcome just
// after the receiver has answered.
const settle = 200 * time.Millisecond

// settings is what a benchmark does, from the flags.
type settings struct {
	N, Clients, Batch, Runs int
	Rates                   []float64 // events/s, each measured in turn; 0: full speed
	Stacks                  []string
	PgURL                   string
	RedisURL                string // with its database number
	Sluice                  string // binary; "" builds ./cmd/sluice
	Timeout                 time.Duration
	Idle                    time.Duration
	JSON                    bool
	Known                   bool // the events' contacts are imported before the load
}

// load is the traffic of a measurement at rate.
func (s settings) load(rate float64) load {
	return load{n: s.N, clients: s.Clients, batch: s.Batch, rate: rate}
}

// unreachableError says PostgreSQL or Redis did not answer.
type unreachableError struct {
	what, url, flag string
	err             error
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("%s at %s is not reachable (start it, or point %s at one): %v", e.what, e.url, e.flag, e.err)
}

func (e *unreachableError) Unwrap() error { return e.err }

// services are the PostgreSQL and Redis the benchmark uses.
type services struct {
	pg    *sql.DB // nil when no stack needs PostgreSQL
	pgURL string
	// walinspect is the schema of pg_walinspect ("" without it); dropWal
	// says the benchmark installed it.
	walinspect string
	dropWal    bool
	rdb        *redis.Client
	redisURL   string
	redisDB    int
}

// walMark is a point in PostgreSQL's WAL, with the server's WAL totals
// then (pg_stat_wal, PostgreSQL 14 and later) for where the WAL cannot be
// read.
type walMark struct {
	lsn            string
	records, bytes float64
	totals         bool // records and bytes read
}

// walMark reads the WAL's flush position (flushLSN) and totals.
func (svc *services) walMark(ctx context.Context) walMark {
	m := walMark{lsn: svc.flushLSN(ctx)}
	err := svc.pg.QueryRowContext(ctx, "SELECT wal_records, wal_bytes FROM pg_stat_wal").Scan(&m.records, &m.bytes)
	m.totals = err == nil
	return m
}

// flushLSN returns the WAL's flush position, "" where it cannot be read.
// The flush position: WAL past it cannot be read yet (pg_walinspect
// refuses a "future" end), and a commit is flushed before it returns, so
// every committed write is behind it.
func (svc *services) flushLSN(ctx context.Context) string {
	var lsn string
	if err := svc.pg.QueryRowContext(ctx, "SELECT pg_current_wal_flush_lsn()::text").Scan(&lsn); err != nil {
		return ""
	}
	return lsn
}

// walBetween returns the WAL records and bytes the whole server wrote
// between two marks. It reads them off the WAL itself (pg_walinspect's
// pg_get_wal_stats) when it can: exact, whenever it is asked. pg_stat_wal
// lags: a backend reports its counts at most once a second while busy,
// and when it goes idle with counts it could not report yet, only 10 s
// later, so a short run's last second or more went missing (a run of
// 5,000 events read 8 to 15 records per delivery where the WAL held 22).
// Its totals are the fallback (ok false where neither can be read).
func (svc *services) walBetween(ctx context.Context, from, to walMark) (records, bytes float64, ok bool) {
	if svc.walinspect != "" && from.lsn != "" && to.lsn != "" {
		q := "SELECT coalesce(sum(count), 0)::float8, coalesce(sum(combined_size), 0)::float8 FROM " +
			svc.walinspect + ".pg_get_wal_stats($1::pg_lsn, $2::pg_lsn)"
		if err := svc.pg.QueryRowContext(ctx, q, from.lsn, to.lsn).Scan(&records, &bytes); err == nil {
			return records, bytes, true
		}
	}
	if from.totals && to.totals {
		return to.records - from.records, to.bytes - from.bytes, true
	}
	return 0, 0, false
}

// walSchema is where the benchmark installs pg_walinspect when the
// database does not have it (and removes it at the end).
const walSchema = "sluice_bench_wal"

// useWalinspect finds pg_walinspect, installing it if it is missing and
// the role may, and sets svc.walinspect to its schema. Without it (before
// PostgreSQL 15, or without the right to install it) the WAL figures come
// from pg_stat_wal.
func (svc *services) useWalinspect(ctx context.Context) {
	find := func() string {
		var schema string
		_ = svc.pg.QueryRowContext(ctx, `SELECT quote_ident(n.nspname) FROM pg_extension e
			JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_walinspect'`).Scan(&schema)
		return schema
	}
	if svc.walinspect = find(); svc.walinspect != "" {
		return
	}
	if _, err := svc.pg.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+walSchema+"; CREATE EXTENSION IF NOT EXISTS pg_walinspect SCHEMA "+walSchema); err != nil {
		_, _ = svc.pg.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+walSchema)
		return
	}
	svc.walinspect, svc.dropWal = find(), true
}

// connect checks that Redis (always: the floor runs on it) and PostgreSQL
// (when a stack needs it) answer.
func connect(ctx context.Context, s settings) (*services, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	opt, err := redis.ParseURL(s.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("-redis: %w", err)
	}
	svc := &services{rdb: redis.NewClient(opt), redisURL: s.RedisURL, redisDB: opt.DB, pgURL: s.PgURL}
	if err := svc.rdb.Ping(ctx).Err(); err != nil {
		svc.close()
		return nil, &unreachableError{"Redis", redact(s.RedisURL), "-redis or SLUICE_TEST_REDIS_URL", err}
	}
	if !slices.Contains(s.Stacks, stackPostgres) {
		return svc, nil
	}
	svc.pg = sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(s.PgURL)))
	if err := svc.pg.PingContext(ctx); err != nil {
		svc.close()
		return nil, &unreachableError{"PostgreSQL", redact(s.PgURL), "-pg or SLUICE_TEST_DATABASE_URL", err}
	}
	svc.useWalinspect(ctx)
	return svc, nil
}

func (svc *services) close() {
	svc.rdb.Close()
	if svc.pg != nil {
		if svc.dropWal {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, _ = svc.pg.ExecContext(ctx, "DROP SCHEMA "+walSchema+" CASCADE")
			cancel()
		}
		svc.pg.Close()
	}
}

// redisCalls is how many commands the Redis server has run, all clients
// and databases together.
func (svc *services) redisCalls(ctx context.Context) (uint64, error) {
	info, err := svc.rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, fmt.Errorf("redis INFO commandstats: %w", err)
	}
	n, err := sumCalls(info)
	// Redis counts a command once it has run, so this INFO shows up in
	// the next one: leave it out.
	return n - 1, err
}

// commandsPerDelivery sets res's Redis commands per delivery from the
// count before the window (calls0), and warns when other clients were busy
// on the server meanwhile: INFO commandstats counts their commands too.
func (svc *services) commandsPerDelivery(ctx context.Context, res *result, calls0 uint64, window time.Duration) error {
	calls1, err := svc.redisCalls(ctx)
	if err != nil {
		return err
	}
	res.Figures[figRedisCmds] = perDelivery(float64(calls1-calls0), *res)
	list, err := svc.rdb.ClientList(ctx).Result()
	if err != nil {
		return fmt.Errorf("redis CLIENT LIST: %w", err)
	}
	if n := activeElsewhere(list, svc.redisDB, window); n > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf(
			"%d other Redis clients (on other databases) were active during the load: Redis commands per delivery counts their commands too", n))
	}
	return nil
}

// stackEnv prepares a stack for one Sluice process and returns its
// SLUICE_* variables and what undoes the preparation. postgres+redis gets
// a fresh schema (its URL's search_path) and the flushed Redis database;
// embedded needs nothing.
func (svc *services) stackEnv(ctx context.Context, stack string) (env []string, cleanup func(), err error) {
	if stack == stackEmbedded {
		return nil, func() {}, nil
	}
	if err := svc.rdb.FlushDB(ctx).Err(); err != nil {
		return nil, nil, fmt.Errorf("flush redis: %w", err)
	}
	schema := fmt.Sprintf("sluice_bench_%d", time.Now().UnixNano())
	if _, err := svc.pg.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		return nil, nil, fmt.Errorf("create schema: %w", err)
	}
	cleanup = func() {
		// Also after Ctrl-C: ctx is cancelled by then.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := svc.pg.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			fmt.Fprintf(os.Stderr, "sluice-bench: drop schema %s: %v\n", schema, err)
		}
	}
	u, err := url.Parse(svc.pgURL)
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("-pg: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return []string{"SLUICE_DATABASE_URL=" + u.String(), "SLUICE_REDIS_URL=" + svc.redisURL}, cleanup, nil
}

// bench runs measurements.
type bench struct {
	s        settings
	svc      *services
	rc       *receiver
	bin      string
	tmp      string
	progress io.Writer
}

// run measures, s.Runs times, at each of s.Rates in turn, the floor and
// then every stack, and returns the report; each table is written to out
// as it completes (unless s.JSON).
func (b *bench) run(ctx context.Context, out io.Writer) (report, error) {
	rep := report{Settings: b.s.summary()}
	for r := 1; r <= b.s.Runs; r++ {
		for _, rate := range b.s.Rates {
			results, err := b.measureAll(ctx, r, rate)
			if err != nil {
				return rep, err
			}
			rep.Runs = append(rep.Runs, results...)
			for _, res := range results {
				for _, w := range res.Warnings {
					fmt.Fprintf(b.progress, "warning: run %d, %s, %s: %s\n", r, pace(rate), res.Stack, w)
				}
			}
			if !b.s.JSON {
				writeTable(out, fmt.Sprintf("run %d of %d, %s", r, b.s.Runs, pace(rate)), results)
			}
		}
	}
	rep.Median = medians(rep.Runs)
	return rep, nil
}

// measureAll measures the floor, then every stack, at rate, and sets each
// stack's ratio to the floor.
func (b *bench) measureAll(ctx context.Context, run int, rate float64) ([]result, error) {
	fl, err := b.measureFloor(ctx, run, rate)
	if err != nil {
		return nil, fmt.Errorf("run %d, %s, floor: %w", run, pace(rate), err)
	}
	results := []result{fl}
	for _, stack := range b.s.Stacks {
		res, err := b.measureSluice(ctx, run, rate, stack)
		if err != nil {
			return nil, fmt.Errorf("run %d, %s, %s: %w", run, pace(rate), stack, err)
		}
		res.Figures[figRatio] = res.Figures[figPerSec] / fl.Figures[figPerSec]
		results = append(results, res)
	}
	return results, nil
}

// measureFloor measures the bare asynq server.
func (b *bench) measureFloor(ctx context.Context, run int, rate float64) (result, error) {
	fmt.Fprintf(b.progress, "run %d, %s: floor…\n", run, pace(rate))
	f, err := startFloor(ctx, b.svc.redisURL, b.rc.url)
	if err != nil {
		return result{}, err
	}
	defer f.close()
	calls0, err := b.svc.redisCalls(ctx)
	if err != nil {
		return result{}, err
	}
	began := time.Now()
	res, err := b.measure(ctx, run, rate, "floor", f.send)
	if err != nil {
		return res, err
	}
	return res, b.svc.commandsPerDelivery(ctx, &res, calls0, time.Since(began))
}

// measureSluice starts a fresh `sluice serve` on stack, sets up the
// scenario, lets it idle, then measures it.
func (b *bench) measureSluice(ctx context.Context, run int, rate float64, stack string) (result, error) {
	fmt.Fprintf(b.progress, "run %d, %s: %s…\n", run, pace(rate), stack)
	env, cleanup, err := b.svc.stackEnv(ctx, stack)
	if err != nil {
		return result{}, err
	}
	defer cleanup()
	p, err := startSluice(ctx, b.bin, b.tmp, env, b.s.Clients)
	if err != nil {
		return result{}, err
	}
	defer p.shutdown()
	if err := p.waitReady(ctx, time.Minute); err != nil {
		return result{}, err
	}
	listID, err := p.setUp(ctx, b.rc.url)
	if err != nil {
		return result{}, err
	}
	if b.s.Known {
		if err := p.importContacts(ctx, b.s.N); err != nil {
			return result{}, err
		}
	}
	if err := sleep(ctx, b.s.Idle); err != nil {
		return result{}, err
	}
	idle, err := readMemory(p.pid())
	if err != nil {
		return result{}, err
	}
	res, err := b.measureProcess(ctx, run, rate, stack, p, listID)
	if err != nil {
		select {
		case <-p.exited: // the real reason
			return res, p.failed()
		default:
			return res, err
		}
	}
	end, err := readMemory(p.pid())
	if err != nil {
		return res, err
	}
	res.Figures[figIdleRSS] = mib(idle.RSS)
	res.Figures[figPeakRSS] = mib(end.Peak)
	bin, err := os.Stat(b.bin)
	if err != nil {
		return res, err
	}
	res.Figures[figBinary] = mib(uint64(bin.Size()))
	return res, nil
}

// measureProcess measures a ready Sluice: its counters before and after
// the load give the work per delivery.
func (b *bench) measureProcess(ctx context.Context, run int, rate float64, stack string, p *sluiceProc, listID string) (result, error) {
	realRedis := stack != stackEmbedded // the in-process one is not on our server
	var calls0 uint64
	if realRedis {
		var err error
		if calls0, err = b.svc.redisCalls(ctx); err != nil {
			return result{}, err
		}
	}
	c0, err := p.counters(ctx)
	if err != nil {
		return result{}, err
	}
	var wal0 walMark
	if stack == stackPostgres {
		wal0 = b.svc.walMark(ctx)
	}
	began := time.Now()
	res, err := b.measure(ctx, run, rate, stack, p.sender(listID, b.s.Batch))
	if err != nil {
		return res, err
	}
	c1, err := p.counters(ctx)
	if err != nil {
		return res, err
	}
	res.Figures[figCPU] = perDelivery(float64((c1.cpu - c0.cpu).Microseconds()), res)
	res.Figures[figSQL] = perDelivery(c1.statements-c0.statements, res)
	if stack == stackPostgres && c0.sqlTrips >= 0 { // SQLite runs in the process: no trips
		res.Figures[figSQLTrips] = perDelivery(c1.sqlTrips-c0.sqlTrips, res)
	}
	res.Figures[figTrips] = perDelivery(c1.roundTrips-c0.roundTrips, res)
	if stack == stackPostgres {
		if err := b.svc.waitWALStill(ctx); err != nil {
			return res, err
		}
		if records, bytes, ok := b.svc.walBetween(ctx, wal0, b.svc.walMark(ctx)); ok {
			res.Figures[figWALRecords] = perDelivery(records, res)
			res.Figures[figWALBytes] = perDelivery(bytes, res)
		}
	}
	if realRedis {
		return res, b.svc.commandsPerDelivery(ctx, &res, calls0, time.Since(began))
	}
	return res, nil
}

// waitWALStill waits until PostgreSQL has stopped writing its WAL: until
// the flush position has not moved over quietFor, or for quietMax. Past
// the settle measure waits, a slow machine may still be committing the
// last outcomes, which are the deliveries' work. (Sluice's own counters
// are read at the end of the window as before: an idle Sluice still
// reads, its sweeper and asynq's polling, so they never stand still.)
func (svc *services) waitWALStill(ctx context.Context) error {
	lsn := svc.flushLSN(ctx)
	deadline := time.Now().Add(quietMax)
	for lsn != "" && time.Now().Before(deadline) {
		if err := sleep(ctx, quietFor); err != nil {
			return err
		}
		prev := lsn
		if lsn = svc.flushLSN(ctx); lsn == prev {
			break
		}
	}
	return nil
}

// quietFor and quietMax bound waitWALStill's wait.
const (
	quietFor = 250 * time.Millisecond
	quietMax = 5 * time.Second
)

// measure drives the load at rate through send and waits for its
// webhooks: deliveries/s from the first event sent to the last webhook
// received, and the latency percentiles.
func (b *bench) measure(ctx context.Context, run int, rate float64, stack string, send sendFunc) (result, error) {
	b.rc.expect(b.s.N)
	cpu0, err := takeCPUSnapshot()
	if err != nil {
		return result{}, err
	}
	start, answered, err := b.s.load(rate).drive(ctx, send)
	if err != nil {
		return result{}, err
	}
	if err := b.rc.wait(ctx, b.s.Timeout); err != nil {
		return result{}, err
	}
	if err := sleep(ctx, settle); err != nil {
		return result{}, err
	}
	cpu1, err := takeCPUSnapshot()
	if err != nil {
		return result{}, err
	}
	d := b.rc.result()
	if d.unstamped > 0 {
		return result{}, fmt.Errorf("%d webhooks carried no extra.sent_at", d.unstamped)
	}
	res := result{Run: run, Stack: stack, Rate: rate, Figures: map[string]float64{
		figDeliveries: float64(d.count),
		figPerSec:     float64(d.count) / d.last.Sub(start).Seconds(),
		figP50:        ms(percentile(d.latencies, 50)),
		figP95:        ms(percentile(d.latencies, 95)),
		figP99:        ms(percentile(d.latencies, 99)),
		figAnswerP50:  ms(percentile(answered, 50)),
		figAnswerP99:  ms(percentile(answered, 99)),
	}}
	// Where the machine's CPU went over the same window (the settle
	// included, when next to nothing runs).
	us := func(d time.Duration) float64 { return perDelivery(float64(d.Microseconds()), res) }
	if total := cpu1.total - cpu0.total; total > 0 {
		res.Figures[figBusy] = 100 * float64(cpu1.busy-cpu0.busy) / float64(total)
	}
	res.Figures[figBenchCPU] = us(cpu1.self - cpu0.self)
	if stack == stackPostgres {
		res.Figures[figPGCPU] = us(cpu1.postgres.since(cpu0.postgres))
	}
	if stack != stackEmbedded {
		res.Figures[figRedisCPU] = us(cpu1.redis.since(cpu0.redis))
	}
	fmt.Fprintf(b.progress, "  %.0f deliveries/s, p99 %.1f ms\n", res.Figures[figPerSec], res.Figures[figP99])
	return res, nil
}

func perDelivery(total float64, res result) float64 { return total / res.Figures[figDeliveries] }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mib(bytes uint64) float64 { return float64(bytes) / (1 << 20) }

// sleep waits d or until ctx is cancelled.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// redact hides a URL's password.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Redacted()
}
