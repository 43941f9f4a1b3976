package engine_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/netguard"
	"github.com/sluicehq/sluice/engine/tasks"
	"github.com/sluicehq/sluice/engine/webhook"
	"github.com/sluicehq/sluice/nodes"
	"github.com/sluicehq/sluice/storage"
)

// clock is an injected clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// bundle is an engine on real storage and a real asynq queue (in-process
// Redis), with workers running its tasks.
type bundle struct {
	e     *engine.Engine
	st    *storage.Store
	clock *clock
}

// newEngine builds an engine on st with a real asynq queue on an
// in-process Redis, the real webhook sender (loopback allowed) and clk
// (nil: the system clock), shared by the engine and the sender; opts
// change the configuration further.
func newEngine(t testing.TB, st *storage.Store, clk engine.Clock, opts ...func(*engine.Config)) (*engine.Engine, *miniredis.Miniredis) {
	t.Helper()
	m := miniredis.RunT(t)
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: m.Addr()})
	t.Cleanup(func() { client.Close() })
	if clk == nil {
		clk = engine.SystemClock{}
	}
	sender, err := webhook.New(webhook.Config{Client: netguard.NewClient(netguard.Config{AllowPrivate: true}), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	reg := engine.NewRegistry()
	nodes.Register(reg)
	cfg := engine.Config{Store: st, Queue: tasks.NewQueue(client), Sender: sender, Registry: reg,
		Clock: clk, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), NewSecret: webhook.NewSecret}
	for _, o := range opts {
		o(&cfg)
	}
	e, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e, m
}

// setup is newEngine with an injected clock and workers running the tasks.
func setup(t *testing.T, st *storage.Store, opts ...func(*engine.Config)) *bundle {
	t.Helper()
	clk := &clock{t: time.Now().UTC()}
	e, m := newEngine(t, st, clk, opts...)
	srv := asynq.NewServer(asynq.RedisClientOpt{Addr: m.Addr()}, asynq.Config{Concurrency: 4,
		Queues: map[string]int{tasks.QueueName: 1}, TaskCheckInterval: 10 * time.Millisecond,
		LogLevel: asynq.FatalLevel})
	if err := srv.Start(tasks.NewMux(e)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return &bundle{e: e, st: st, clock: clk}
}

// hook is a loopback receiver answering with the codes in order (then 200).
type hook struct {
	*httptest.Server
	n     atomic.Int64
	codes []int
	mu    sync.Mutex
	heads []http.Header
}

func newHook(t *testing.T, codes ...int) *hook {
	h := &hook{codes: codes}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := h.n.Add(1) - 1
		h.mu.Lock()
		h.heads = append(h.heads, r.Header.Clone())
		h.mu.Unlock()
		code := 200
		if int(i) < len(h.codes) {
			code = h.codes[i]
		}
		if code == 429 {
			w.Header().Set("Retry-After", "7200")
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(h.Close)
	return h
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func node(id, typ string, cfg string) engine.Node {
	return engine.Node{ID: id, Type: typ, Config: []byte(cfg)}
}

// activate creates and activates a scenario with g.
func (b *bundle) activate(t *testing.T, g engine.Graph, reentry bool) *engine.ScenarioView {
	t.Helper()
	ctx := context.Background()
	v, err := b.e.CreateScenario(ctx, engine.ScenarioInput{Name: "S", Graph: g, AllowReentry: &reentry})
	if err != nil {
		t.Fatal(err)
	}
	if v, err = b.e.Activate(ctx, v.ID); err != nil {
		t.Fatal(err)
	}
	return v
}

func (b *bundle) ingest(t *testing.T, evs ...engine.EventInput) []engine.IngestResult {
	t.Helper()
	res, err := b.e.Ingest(context.Background(), evs)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (b *bundle) stats(t *testing.T, id string) map[string]engine.StepStats {
	t.Helper()
	s, err := b.e.Stats(context.Background(), id, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]engine.StepStats{}
	for _, st := range s.Steps {
		out[st.NodeID] = st.StepStats
	}
	return out
}

func ptr[T any](v T) *T { return &v }
