package app_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// batch posts n signup events for contacts c0…c(n-1) in one call.
func batch(t *testing.T, base, listID string, from, n int) {
	t.Helper()
	evs := make([]map[string]any, n)
	for i := range evs {
		evs[i] = signup(listID, fmt.Sprintf("c%d@example.org", from+i), fmt.Sprintf("C%d", from+i), "pro", i)
	}
	var res struct {
		Accepted []any `json:"accepted"`
		Refused  []any `json:"refused"`
	}
	if code := call(t, base, "POST", "/api/v1/events/batch", map[string]any{"events": evs}, &res); code != 202 || len(res.Accepted) != n {
		t.Fatalf("batch: %d, %d accepted, refused %v", code, len(res.Accepted), res.Refused)
	}
}

// checkEveryContactOnce checks that each of n contacts was delivered, and
// that every duplicate carried the same webhook-id.
func checkEveryContactOnce(t *testing.T, rc *receiver, n int) (dups int) {
	t.Helper()
	ids := map[string]map[string]bool{}
	for _, r := range rc.requests() {
		email := fmt.Sprint(r.Decoded["data"].(map[string]any)["email"])
		if ids[email] == nil {
			ids[email] = map[string]bool{}
		} else {
			dups++
		}
		ids[email][r.Header.Get("webhook-id")] = true
	}
	if len(ids) != n {
		t.Errorf("%d contacts delivered, want %d", len(ids), n)
	}
	for email, set := range ids {
		if len(set) != 1 {
			t.Errorf("%s was delivered under %d webhook-ids: %v", email, len(set), set)
		}
	}
	return dups
}

func distinct(rc *receiver) int {
	seen := map[string]bool{}
	for _, r := range rc.requests() {
		seen[r.Header.Get("webhook-id")] = true
	}
	return len(seen)
}

// TestRedisFlushLosesNothing flushes Redis (FLUSHALL) while many contacts
// are running: the sweeper finds the due rows whose tasks vanished, and
// every delivery still ends accepted.
func TestRedisFlushLosesNothing(t *testing.T) {
	eachStack(t, func(t *testing.T, st stack) {
		const n = 300
		rc := newReceiver(t, func(*http.Request, int) int { time.Sleep(15 * time.Millisecond); return 200 })
		cfg := config(t, st)
		cfg.Concurrency = 4
		s := startServe(t, cfg)
		listID := s.list("L")
		sc := s.webhookScenario(listID, rc.URL+"/hook")

		redisURL := st.redisURL
		if redisURL == "" {
			redisURL = "redis://" + s.app.EmbeddedRedisAddr()
		}
		opt, err := redis.ParseURL(redisURL)
		if err != nil {
			t.Fatal(err)
		}
		rdb := redis.NewClient(opt)
		defer rdb.Close()

		batch(t, s.base, listID, 0, n)
		waitFor(t, 20*time.Second, "the first deliveries", func() bool { return distinct(rc) >= 40 })
		if err := rdb.FlushAll(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
		if got := distinct(rc); got >= n-50 {
			t.Fatalf("flushed too late to mean anything: %d of %d already delivered", got, n)
		}
		waitFor(t, 60*time.Second, "every contact delivered", func() bool { return distinct(rc) == n })
		waitFor(t, 10*time.Second, "accepted = n", func() bool { return s.stats(sc.ID)["w1"].Accepted == n })
		dups := checkEveryContactOnce(t, rc, n)
		w1 := s.stats(sc.ID)["w1"]
		if w1.Reached != n || w1.Pending != 0 || w1.Failed != 0 {
			t.Errorf("stats after the flush: %+v", w1)
		}
		t.Logf("%s: %d duplicates after FLUSHALL, all with the same webhook-id", st.name, dups)
	})
}

// buildBinary builds cmd/sluice once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sluice")
	cmd := exec.Command(runtime.GOROOT()+"/bin/go", "build", "-o", bin, "..")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	return bin
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// proc starts `sluice role` with env and stops it (SIGTERM) at cleanup.
func proc(t *testing.T, bin, role string, env []string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, role)
	cmd.Env = append(os.Environ(), env...)
	logf, err := os.Create(filepath.Join(t.TempDir(), role+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("--- %s log:\n%s", role, b)
		}
	})
	return cmd
}

// TestWorkerKilledLosesNothing runs api, worker and scheduler as separate
// processes on PostgreSQL and Redis, SIGKILLs the worker mid-run and starts
// another: every delivery still ends accepted, duplicates carry the same
// webhook-id. (asynq hands a dead worker's tasks back once their lease has
// expired, about a minute later; the sweeper covers the rest.)
func TestWorkerKilledLosesNothing(t *testing.T) {
	stopWorkerMidRun(t, syscall.SIGKILL, 150*time.Second)
}

// TestWorkerStopsGracefully sends SIGTERM instead: the worker finishes or
// hands back its in-flight tasks and exits 0 within its shutdown timeout,
// and the next worker completes everything without waiting for a lease to
// expire.
func TestWorkerStopsGracefully(t *testing.T) {
	stopWorkerMidRun(t, syscall.SIGTERM, 30*time.Second)
}

func stopWorkerMidRun(t *testing.T, sig syscall.Signal, recovery time.Duration) {
	if testing.Short() {
		t.Skip("builds the binary and runs several processes")
	}
	const n = 300
	rc := newReceiver(t, func(*http.Request, int) int { time.Sleep(20 * time.Millisecond); return 200 })
	c := startCluster(t, "SLUICE_WORKER_CONCURRENCY=4")
	c.proc("api")
	c.proc("scheduler")
	worker := c.proc("worker")
	s := c.waitAPI()
	base := c.base
	listID := s.list("L")
	sc := s.webhookScenario(listID, rc.URL+"/hook")
	batch(t, base, listID, 0, n)

	waitFor(t, 30*time.Second, "the first deliveries", func() bool { return distinct(rc) >= 40 })
	if err := worker.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	stoppedAt := distinct(rc)
	exited := make(chan error, 1)
	go func() { exited <- worker.Wait() }()
	select {
	case err := <-exited:
		if sig == syscall.SIGTERM && err != nil {
			t.Errorf("worker stopped by SIGTERM exited with %v, want 0", err)
		}
	case <-time.After(25 * time.Second):
		t.Fatal("the worker did not exit within 25 s")
	}
	if stoppedAt >= n-50 {
		t.Fatalf("stopped too late to mean anything: %d of %d already delivered", stoppedAt, n)
	}
	c.proc("worker")
	// Steps in flight on a killed worker may have been received but not
	// committed: asynq hands their tasks back once the lease has expired.
	waitFor(t, recovery, "accepted = n", func() bool { return s.stats(sc.ID)["w1"].Accepted == n })
	if got := distinct(rc); got != n {
		t.Errorf("%d distinct webhook-ids received, want %d", got, n)
	}
	dups := checkEveryContactOnce(t, rc, n)
	w1 := s.stats(sc.ID)["w1"]
	if w1.Reached != n || w1.Pending != 0 || w1.Failed != 0 {
		t.Errorf("stats after %s: %+v", sig, w1)
	}
	t.Logf("%s at %d of %d delivered; %d duplicates, all with the same webhook-id", sig, stoppedAt, n, dups)
}

// cluster is Sluice run as separate processes on one PostgreSQL schema and
// one Redis database.
type cluster struct {
	t    *testing.T
	bin  string
	env  []string
	base string
}

// startCluster builds the binary, migrates a fresh schema and returns a
// cluster whose processes get env (plus extra variables).
func startCluster(t *testing.T, extra ...string) *cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary and runs several processes")
	}
	addr := freePort(t)
	c := &cluster{t: t, bin: buildBinary(t), base: "http://" + addr}
	c.env = append([]string{"SLUICE_ADDR=" + addr, "SLUICE_DATA_DIR=" + t.TempDir(), "SLUICE_DATABASE_URL=" + pgSchema(t),
		"SLUICE_REDIS_URL=" + redisDB(t), "SLUICE_API_KEY=" + apiKey, "SLUICE_ALLOW_PRIVATE_TARGETS=true",
		"SLUICE_SWEEP_INTERVAL=500ms", "SLUICE_SWEEP_GRACE=2s"}, extra...)
	migrate := exec.Command(c.bin, "migrate")
	migrate.Env = append(os.Environ(), c.env...)
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	return c
}

func (c *cluster) proc(role string) *exec.Cmd { return proc(c.t, c.bin, role, c.env) }

// waitAPI waits for the api process's /healthz and returns a client of it.
func (c *cluster) waitAPI() *server {
	waitFor(c.t, 15*time.Second, "the api", func() bool {
		resp, err := http.Get(c.base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	return &server{t: c.t, base: c.base}
}

// TestManyProcessesEnterOnce runs one api, two workers and two schedulers
// on PostgreSQL and Redis: contacts whose date is reached now each enter a
// date_reached scenario exactly once and are delivered exactly once.
func TestManyProcessesEnterOnce(t *testing.T) {
	const n = 100
	rc := newReceiver(t, nil)
	c := startCluster(t, "SLUICE_SCHEDULE_INTERVAL=500ms")
	c.proc("api")
	s := c.waitAPI()

	now := time.Now().UTC()
	evs := make([]map[string]any, n)
	for i := range evs {
		evs[i] = map[string]any{"type": "imported", "email": fmt.Sprintf("d%d@example.org", i),
			"contact": map[string]any{"dates": map[string]any{"birthday": now.AddDate(-30, 0, 0).Format(time.DateOnly)}}}
	}
	s.must(202, "POST", "/api/v1/events/batch", map[string]any{"events": evs}, nil)
	var sc scenarioView
	s.must(201, "POST", "/api/v1/scenarios", map[string]any{"name": "Birthday", "graph": map[string]any{
		"nodes": []map[string]any{
			{"id": "t1", "type": "date_reached", "config": map[string]any{"field": "birthday", "recurrence": "yearly",
				"time": now.Format("15:04"), "timezone": "UTC"}},
			{"id": "w1", "type": "send_webhook", "config": map[string]any{"url": rc.URL + "/birthday", "fields": []string{"email"}}},
		},
		"edges": []map[string]any{{"from": "t1", "to": "w1"}},
	}}, &sc)
	s.must(200, "POST", "/api/v1/scenarios/"+sc.ID+"/activate", nil, nil)
	for _, role := range []string{"worker", "worker", "scheduler", "scheduler"} {
		c.proc(role)
	}
	waitFor(t, 60*time.Second, "every contact delivered", func() bool { return s.stats(sc.ID)["w1"].Accepted == n })
	time.Sleep(2 * time.Second) // a second pass of both schedulers must add nothing
	if dups := checkEveryContactOnce(t, rc, n); dups != 0 {
		t.Errorf("%d duplicate deliveries with two schedulers and two workers", dups)
	}
	if st := s.stats(sc.ID)["t1"]; st.Reached != n {
		t.Errorf("trigger reached %d, want %d", st.Reached, n)
	}
}
