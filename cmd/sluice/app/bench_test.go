package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// countingReceiver answers 200 and counts; done closes at target.
type countingReceiver struct {
	*httptest.Server
	n      atomic.Int64
	target atomic.Int64
	done   chan struct{}
	once   sync.Once
}

func newCountingReceiver(tb testing.TB) *countingReceiver {
	rc := &countingReceiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if rc.n.Add(1) == rc.target.Load() {
			rc.once.Do(func() { close(rc.done) })
		}
	}))
	tb.Cleanup(rc.Close)
	return rc
}

func (rc *countingReceiver) expect(n int) {
	rc.n.Store(0)
	rc.once = sync.Once{}
	rc.done = make(chan struct{})
	rc.target.Store(int64(n))
}

func (rc *countingReceiver) wait(tb testing.TB, timeout time.Duration) {
	select {
	case <-rc.done:
	case <-time.After(timeout):
		tb.Fatalf("receiver got %d of %d in %s", rc.n.Load(), rc.target.Load(), timeout)
	}
}

const (
	benchClients = 16
	// floorConcurrency is the floor's: Sluice's worker default on
	// PostgreSQL (Sluice runs with its store's default).
	floorConcurrency = 128
)

// parallel runs fn(i) for i in [0,n) on benchClients goroutines.
func parallel(n int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for c := 0; c < benchClients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// floor measures a bare asynq server on the same Redis whose handler makes
// the same POST: tasks enqueued by benchClients goroutines, deliveries/s
// from the first enqueue to the last request received.
func floor(b *testing.B, redisURL string, rc *countingReceiver, n int) float64 {
	opt, err := asynq.ParseRedisURI(redisURL)
	if err != nil {
		b.Fatal(err)
	}
	rdb := opt.MakeRedisClient().(redis.UniversalClient)
	defer rdb.Close()
	rdb.FlushDB(context.Background())
	client := asynq.NewClientFromRedisClient(rdb)
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	body := []byte(`{"id":"evt_0","event":"automation.webhook.send","timestamp":"2026-11-23T12:56:40Z","scenario":{"id":"scn_x","name":"Bench","step":"w1"},"data":{"type":"contact","id":"ctc_x","email":"c@example.org","firstname":"C"},"extra":{"sent_at":"0"}}`)
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{Concurrency: floorConcurrency,
		Queues: map[string]int{"floor": 1}, TaskCheckInterval: 10 * time.Millisecond, LogLevel: asynq.FatalLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc("floor:post", func(ctx context.Context, t *asynq.Task) error {
		resp, err := httpc.Post(rc.URL, "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	})
	if err := srv.Start(mux); err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown()
	rc.expect(n)
	start := time.Now()
	parallel(n, func(i int) {
		p, _ := json.Marshal(map[string]string{"id": fmt.Sprint(i)})
		if _, err := client.Enqueue(asynq.NewTask("floor:post", p), asynq.Queue("floor")); err != nil {
			b.Error(err)
		}
	})
	rc.wait(b, 5*time.Minute)
	return float64(n) / time.Since(start).Seconds()
}

// sluice measures `sluice serve`: signup events posted one per request by
// benchClients clients, deliveries/s from the first event to the last
// webhook received, SQL statements per delivery (BEGIN and COMMIT
// included) and Redis round trips per delivery (everything the process
// sent, background polling and the sweeper included).
func sluice(b *testing.B, st stack, rc *countingReceiver, n int) (perSec, stmts, trips float64) {
	cfg := config(b, st)
	cfg.Concurrency = 0 // the store's default, as sluice serve runs
	s := startServe(b, cfg)
	listID := s.list("Bench")
	s.webhookScenario(listID, rc.URL)
	rc.expect(n)
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchClients}}
	defer httpc.CloseIdleConnections()
	before, trips0 := s.app.Store().Statements(), s.app.RedisRoundTrips()
	start := time.Now()
	parallel(n, func(i int) {
		ev, _ := json.Marshal(signup(listID, fmt.Sprintf("b%d@example.org", i), "B", "pro", i))
		req, _ := http.NewRequest("POST", s.base+"/api/v1/events", bytes.NewReader(ev))
		req.Header.Set("Authorization", "Bearer "+apiKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := httpc.Do(req)
		if err != nil {
			b.Error(err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 202 {
			b.Errorf("event: %d", resp.StatusCode)
		}
	})
	b.Logf("%s: %d events accepted in %s (%.0f/s), %d delivered by then", st.name, n, time.Since(start).Round(time.Millisecond),
		float64(n)/time.Since(start).Seconds(), rc.n.Load())
	rc.wait(b, 5*time.Minute)
	perSec = float64(n) / time.Since(start).Seconds()
	// The last commits land just after the last request is received.
	time.Sleep(200 * time.Millisecond)
	stmts = float64(s.app.Store().Statements()-before) / float64(n)
	trips = float64(s.app.RedisRoundTrips()-trips0) / float64(n)
	return perSec, stmts, trips
}

// BenchmarkEndToEnd measures, in one run, the floor (bare asynq + POST) and
// Sluice end to end on PostgreSQL + Redis and on the embedded defaults, and
// reports deliveries/s and the ratio to the floor. b.N is the number of
// deliveries: run it with -benchtime=3000x (see README).
func BenchmarkEndToEnd(b *testing.B) {
	slog.SetLogLoggerLevel(slog.LevelError)
	n := max(b.N, 1)
	rc := newCountingReceiver(b)
	redisURL := redisDB(b)
	fl := floor(b, redisURL, rc, n)
	pg, pgStmts, pgRedis := sluice(b, stack{name: "postgres+redis", dbURL: pgSchema(b), redisURL: redisDB(b)}, rc, n)
	emb, _, _ := sluice(b, stack{name: "embedded"}, rc, n)
	b.ReportMetric(fl, "floor/s")
	b.ReportMetric(pg, "pg+redis/s")
	b.ReportMetric(emb, "embedded/s")
	b.ReportMetric(pg/fl, "pg/floor")
	b.ReportMetric(pgStmts, "sql/delivery")
	b.ReportMetric(pgRedis, "redis-trips/delivery")
	b.ReportMetric(0, "ns/op")
}
