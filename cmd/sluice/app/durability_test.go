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
	bin := buildBinary(t)
	addr := freePort(t)
	env := []string{"SLUICE_ADDR=" + addr, "SLUICE_DATA_DIR=" + t.TempDir(), "SLUICE_DATABASE_URL=" + pgSchema(t),
		"SLUICE_REDIS_URL=" + redisDB(t), "SLUICE_API_KEY=" + apiKey, "SLUICE_ALLOW_PRIVATE_TARGETS=true",
		"SLUICE_WORKER_CONCURRENCY=4", "SLUICE_SWEEP_INTERVAL=500ms", "SLUICE_SWEEP_GRACE=2s"}
	rc := newReceiver(t, func(*http.Request, int) int { time.Sleep(20 * time.Millisecond); return 200 })

	migrate := exec.Command(bin, "migrate")
	migrate.Env = append(os.Environ(), env...)
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	proc(t, bin, "api", env)
	proc(t, bin, "scheduler", env)
	worker := proc(t, bin, "worker", env)
	base := "http://" + addr
	s := &server{t: t, base: base}
	waitFor(t, 15*time.Second, "the api", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
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
	proc(t, bin, "worker", env)
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
