package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Stacks Sluice runs on.
const (
	stackPostgres = "postgres+redis"
	stackEmbedded = "embedded"
)

// buildSluice builds ./cmd/sluice of the module the working directory is
// in into dir, as a release is built (no symbol table or debug
// information, cmd/sluice/Dockerfile), and returns the binary's path.
func buildSluice(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", errors.New("cannot find the sluice module: run from inside the repository or pass -sluice PATH")
	}
	bin := filepath.Join(dir, "sluice")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/sluice")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/sluice: %w\n%s", err, out)
	}
	return bin, nil
}

// sluiceProc is a running `sluice serve`.
type sluiceProc struct {
	cmd     *exec.Cmd
	stop    context.CancelFunc
	exited  chan struct{} // closed when the process has exited
	waitErr error
	logPath string
	apiKey  string
	base    string // the API, http://127.0.0.1:port
	metrics string // SLUICE_METRICS_ADDR, http://127.0.0.1:port
	httpc   *http.Client
}

// startSluice starts `bin serve` with a fresh data directory under dir and
// env (the stack's SLUICE_DATABASE_URL and SLUICE_REDIS_URL, or nothing
// for the embedded defaults) added to the bench's own environment minus
// its SLUICE_* variables.
func startSluice(ctx context.Context, bin, dir string, env []string, clients int) (*sluiceProc, error) {
	dataDir, err := os.MkdirTemp(dir, "data-*")
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	metricsAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p := &sluiceProc{
		logPath: filepath.Join(dataDir, "sluice.log"),
		apiKey:  randomKey(),
		base:    "http://" + addr,
		metrics: "http://" + metricsAddr,
		exited:  make(chan struct{}),
		httpc:   &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: time.Minute},
	}
	logFile, err := os.Create(p.logPath)
	if err != nil {
		return nil, err
	}
	// The process outlives ctx's cancellation by design: stop sends
	// SIGTERM (a graceful shutdown) and kills it 15 s later.
	pctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	p.stop = stop
	p.cmd = exec.CommandContext(pctx, bin, "serve")
	p.cmd.Cancel = func() error { return p.cmd.Process.Signal(syscall.SIGTERM) }
	p.cmd.WaitDelay = 15 * time.Second
	// Should the bench itself be killed, the kernel stops Sluice too.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	p.cmd.Env = append(withoutSluiceVars(os.Environ()),
		"SLUICE_ADDR="+addr,
		"SLUICE_METRICS_ADDR="+metricsAddr,
		"SLUICE_API_KEY="+p.apiKey,
		"SLUICE_ALLOW_PRIVATE_TARGETS=true",
		"SLUICE_DATA_DIR="+dataDir,
	)
	p.cmd.Env = append(p.cmd.Env, env...)
	if err := p.cmd.Start(); err != nil {
		logFile.Close()
		stop()
		return nil, fmt.Errorf("start %s serve: %w", bin, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	return p, nil
}

// withoutSluiceVars drops SLUICE_* variables, so that a SLUICE_DATABASE_URL
// in the caller's shell does not turn the embedded stack into another.
func withoutSluiceVars(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "SLUICE_") {
			out = append(out, kv)
		}
	}
	return out
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func randomKey() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "bench_" + hex.EncodeToString(b)
}

// pid is the process id.
func (p *sluiceProc) pid() int { return p.cmd.Process.Pid }

// shutdown stops the process (SIGTERM, then SIGKILL after 15 s) and waits
// for it.
func (p *sluiceProc) shutdown() {
	p.stop()
	<-p.exited
	p.httpc.CloseIdleConnections()
}

// failed describes the process's death, with the end of its log.
func (p *sluiceProc) failed() error {
	log, _ := os.ReadFile(p.logPath)
	if len(log) > 2000 {
		log = log[len(log)-2000:]
	}
	return fmt.Errorf("sluice exited (%v); end of its log:\n%s", p.waitErr, log)
}

// waitReady polls /healthz on the API and on the metrics address until
// both answer 200.
func (p *sluiceProc) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if p.healthy(ctx, p.base) && p.healthy(ctx, p.metrics) {
			return nil
		}
		select {
		case <-p.exited:
			return p.failed()
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sluice not ready after %s (log: %s)", timeout, p.logPath)
		}
	}
}

func (p *sluiceProc) healthy(ctx context.Context, base string) bool {
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/healthz", nil)
	resp, err := p.httpc.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// call makes an API request with body as JSON expecting status want,
// decoding the answer into out when it is not nil.
func (p *sluiceProc) call(ctx context.Context, method, path string, body any, want int, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	return p.send(ctx, method, path, "application/json", bytes.NewReader(b), want, out)
}

// send is call with a body of the given content type.
func (p *sluiceProc) send(ctx context.Context, method, path, contentType string, body io.Reader, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+p.apiKey)
	req.Header.Set("Content-Type", contentType)
	resp, err := p.httpc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

// setUp creates a list and an active scenario "signup on that list → Send
// a Webhook to target" whose body carries the event's sent_at, and returns
// the list's id.
func (p *sluiceProc) setUp(ctx context.Context, target string) (string, error) {
	var list struct{ ID string }
	if err := p.call(ctx, "POST", "/api/v1/lists", map[string]any{"name": "Bench"}, http.StatusCreated, &list); err != nil {
		return "", err
	}
	scenario := map[string]any{
		"name": "Bench",
		"graph": map[string]any{
			"nodes": []map[string]any{
				{"id": "t1", "type": "signup", "config": map[string]any{"list_id": list.ID}},
				{"id": "w1", "type": "send_webhook", "config": map[string]any{
					"url":    target,
					"fields": []string{"email", "firstname"},
					"data":   map[string]any{"sent_at": "{{ event.data.sent_at }}"},
				}},
			},
			"edges": []map[string]any{{"from": "t1", "to": "w1"}},
		},
	}
	var sc struct{ ID, Status string }
	if err := p.call(ctx, "POST", "/api/v1/scenarios", scenario, http.StatusCreated, &sc); err != nil {
		return "", err
	}
	if err := p.call(ctx, "POST", "/api/v1/scenarios/"+sc.ID+"/activate", nil, http.StatusOK, &sc); err != nil {
		return "", err
	}
	if sc.Status != "active" {
		return "", fmt.Errorf("activated scenario %s has status %q", sc.ID, sc.Status)
	}
	return list.ID, nil
}

// importContacts creates the contacts of events 0 to n-1 through the
// contacts import, as the events will have them (no list, so no run), and
// waits for it to end (-known).
func (p *sluiceProc) importContacts(ctx context.Context, n int) error {
	var body bytes.Buffer
	for i := range n {
		fmt.Fprintf(&body, "{\"email\":%q,\"firstname\":\"Bench\"}\n", email(i))
	}
	var rep struct {
		Status   string `json:"status"`
		Accepted int    `json:"accepted"`
	}
	if err := p.send(ctx, "POST", "/api/v1/contacts/import", "application/x-ndjson", &body, http.StatusAccepted, &rep); err != nil {
		return err
	}
	if rep.Status != "completed" || rep.Accepted != n {
		return fmt.Errorf("import of %d contacts: %s, %d accepted", n, rep.Status, rep.Accepted)
	}
	return nil
}

// email is event i's contact: a new one for every event, so that each
// signup starts a run (with -known, one imported before).
func email(i int) string { return fmt.Sprintf("bench-%d@example.org", i) }

// signup is event i, a signup on listID stamped with sentAt.
func signup(listID string, i int, sentAt string) map[string]any {
	return map[string]any{"type": "signup", "email": email(i), "list_id": listID,
		"contact": map[string]any{"firstname": "Bench"},
		"data":    map[string]any{"sent_at": sentAt}}
}

// sender returns the sendFunc posting signups on listID: one per
// POST /api/v1/events, or a batch per POST /api/v1/events/batch when
// count > 1.
func (p *sluiceProc) sender(listID string, batch int) sendFunc {
	return func(ctx context.Context, first, count int, sentAt int64) error {
		stamp := strconv.FormatInt(sentAt, 10)
		if batch == 1 {
			return p.call(ctx, "POST", "/api/v1/events", signup(listID, first, stamp), http.StatusAccepted, nil)
		}
		events := make([]map[string]any, count)
		for j := range events {
			events[j] = signup(listID, first+j, stamp)
		}
		var res struct {
			Accepted []json.RawMessage `json:"accepted"`
			Refused  []json.RawMessage `json:"refused"`
		}
		if err := p.call(ctx, "POST", "/api/v1/events/batch", map[string]any{"events": events}, http.StatusAccepted, &res); err != nil {
			return err
		}
		if len(res.Accepted) != count {
			return fmt.Errorf("batch of %d events: %d accepted, refused: %s", count, len(res.Accepted), res.Refused)
		}
		return nil
	}
}

// Sluice's counters on /metrics.
const (
	metricSQL      = "sluice_sql_statements_total"
	metricSQLTrips = "sluice_sql_round_trips_total"
	metricTrips    = "sluice_redis_round_trips_total"
)

// counters are the process's running totals of work.
type counters struct {
	cpu        time.Duration
	statements float64
	sqlTrips   float64
	roundTrips float64
}

// counters reads the process's CPU time and its SQL and Redis counters.
func (p *sluiceProc) counters(ctx context.Context) (counters, error) {
	var c counters
	text, err := p.scrape(ctx)
	if err != nil {
		return c, err
	}
	if c.statements, err = promValue(text, metricSQL); err != nil {
		return c, err
	}
	if c.sqlTrips, err = promValue(text, metricSQLTrips); err != nil {
		c.sqlTrips = -1 // a Sluice from before the counter (-sluice): not measured
	}
	if c.roundTrips, err = promValue(text, metricTrips); err != nil {
		return c, err
	}
	c.cpu, err = cpuTime(p.pid())
	return c, err
}

// scrape returns the text of /metrics.
func (p *sluiceProc) scrape(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", p.metrics+"/metrics", nil)
	if err != nil {
		return "", err
	}
	resp, err := p.httpc.Do(req)
	if err != nil {
		return "", fmt.Errorf("scrape /metrics: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("scrape /metrics: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("scrape /metrics: status %d: %s", resp.StatusCode, b)
	}
	return string(b), nil
}
