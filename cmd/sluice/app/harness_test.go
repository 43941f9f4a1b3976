package app_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/sluicehq/sluice/cmd/sluice/app"
)

const apiKey = "test-api-key"

// stack is a database and a Redis for one test.
type stack struct {
	name     string
	dbURL    string // "" → SQLite in the data dir
	redisURL string // "" → in-process Redis
}

// eachStack runs fn on the embedded defaults (SQLite + in-process Redis)
// and on PostgreSQL + real Redis.
func eachStack(t *testing.T, fn func(t *testing.T, s stack)) {
	t.Run("embedded", func(t *testing.T) {
		t.Parallel()
		fn(t, stack{name: "embedded"})
	})
	t.Run("postgres+redis", func(t *testing.T) {
		t.Parallel()
		fn(t, stack{name: "postgres+redis", dbURL: pgSchema(t), redisURL: redisDB(t)})
	})
}

func unreachable(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s unreachable in CI: %v", what, err)
	}
	t.Skipf("%s unreachable: %v", what, err)
}

// pgSchema creates a fresh schema and returns a URL whose search_path is it.
func pgSchema(t testing.TB) string {
	t.Helper()
	base := os.Getenv("SLUICE_TEST_DATABASE_URL")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	db := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(base)))
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		unreachable(t, "PostgreSQL", err)
	}
	schema := fmt.Sprintf("t_%d_%d", time.Now().UnixNano(), schemaSeq.Add(1))
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Exec("DROP SCHEMA " + schema + " CASCADE") })
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

var schemaSeq, redisSeq atomic.Int64

// redisDB returns the URL of a flushed Redis database of its own (1–15).
func redisDB(t testing.TB) string {
	t.Helper()
	base := os.Getenv("SLUICE_TEST_REDIS_URL")
	if base == "" {
		base = "redis://127.0.0.1:6379"
	}
	n := 1 + redisSeq.Add(1)%15
	u := fmt.Sprintf("%s/%d", strings.TrimRight(base, "/"), n)
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	if err := rdb.FlushDB(context.Background()).Err(); err != nil {
		unreachable(t, "Redis", err)
	}
	return u
}

// server is a running `sluice serve` inside the test process.
type server struct {
	t    testing.TB
	app  *app.App
	base string
}

func config(t testing.TB, s stack) app.Config {
	env := map[string]string{
		"SLUICE_ADDR":                  "127.0.0.1:0",
		"SLUICE_DATA_DIR":              t.TempDir(),
		"SLUICE_DATABASE_URL":          s.dbURL,
		"SLUICE_REDIS_URL":             s.redisURL,
		"SLUICE_API_KEY":               apiKey,
		"SLUICE_ALLOW_PRIVATE_TARGETS": "true",
		"SLUICE_SWEEP_INTERVAL":        "200ms",
		"SLUICE_SWEEP_GRACE":           "1s",
		"SLUICE_WORKER_CONCURRENCY":    "8",
	}
	cfg, err := app.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func startServe(t testing.TB, cfg app.Config) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, app.RoleServe) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		a.Close()
	})
	deadline := time.Now().Add(10 * time.Second)
	for a.Addr() == "" {
		if time.Now().After(deadline) {
			t.Fatal("server did not listen")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return &server{t: t, app: a, base: "http://" + a.Addr()}
}

// call makes an API request and decodes the JSON answer into out (if not nil).
func (s *server) call(method, path string, body any, out any) int {
	s.t.Helper()
	return call(s.t, s.base, method, path, body, out)
}

func call(t testing.TB, base, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

// must is call expecting a status.
func (s *server) must(want int, method, path string, body any, out any) {
	s.t.Helper()
	var raw json.RawMessage
	got := s.call(method, path, body, &raw)
	if got != want {
		s.t.Fatalf("%s %s: status %d, want %d: %s", method, path, got, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			s.t.Fatal(err)
		}
	}
}

// received is one request a receiver got.
type received struct {
	Path    string
	Header  http.Header
	Body    []byte
	Decoded map[string]any
}

// receiver is a loopback HTTP server recording what it gets. status picks
// the answer for each request (nil: 200).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	notify chan struct{}
	status func(r *http.Request, n int) int
}

func newReceiver(t testing.TB, status func(r *http.Request, n int) int) *receiver {
	rc := &receiver{notify: make(chan struct{}, 1), status: status}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		json.Unmarshal(b, &m)
		rc.mu.Lock()
		rc.got = append(rc.got, received{Path: r.URL.Path, Header: r.Header.Clone(), Body: b, Decoded: m})
		n := len(rc.got)
		rc.mu.Unlock()
		select {
		case rc.notify <- struct{}{}:
		default:
		}
		code := 200
		if rc.status != nil {
			code = rc.status(r, n)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"received":%d}`, n)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// verifySignature checks a Standard Webhooks signature by hand (not with
// the library Sluice signs with).
func verifySignature(t *testing.T, secret string, h http.Header, body []byte) {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatalf("secret %q: %v", secret, err)
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", h.Get("webhook-id"), h.Get("webhook-timestamp"), body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if sig == want {
			return
		}
	}
	t.Fatalf("webhook-signature %q does not match %q", h.Get("webhook-signature"), want)
}
