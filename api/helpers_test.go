package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/gofiber/fiber/v2"
	"github.com/hibiken/asynq"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/netguard"
	"github.com/sluicehq/sluice/engine/tasks"
	"github.com/sluicehq/sluice/engine/webhook"
	"github.com/sluicehq/sluice/nodes"
	"github.com/sluicehq/sluice/storage"
	"github.com/sluicehq/sluice/storage/storagetest"
)

const testKey = "test-key-0123456789"

// bundle is an app on a real engine: SQLite storage, the node catalogue,
// the webhook sender (loopback allowed) and an asynq queue on miniredis.
type bundle struct {
	app     *fiber.App
	e       *engine.Engine
	store   *storage.Store
	client  *asynq.Client
	inspect *asynq.Inspector
	mux     *asynq.ServeMux
	baseURL string         // set by listen
	doc     map[string]any // set by document
}

// setup builds a bundle; configure may change the api Config before New.
func setup(t *testing.T, configure ...func(*Config)) *bundle {
	t.Helper()
	st := storagetest.OpenSQLite(t)
	m := miniredis.RunT(t)
	redis := asynq.RedisClientOpt{Addr: m.Addr()}
	client := asynq.NewClient(redis)
	t.Cleanup(func() { _ = client.Close() })
	inspect := asynq.NewInspector(redis)
	t.Cleanup(func() { _ = inspect.Close() })
	sender, err := webhook.New(webhook.Config{Client: netguard.NewClient(netguard.Config{AllowPrivate: true}),
		DefaultTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	reg := engine.NewRegistry()
	nodes.Register(reg)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	e, err := engine.New(engine.Config{Store: st, Queue: tasks.NewQueue(client), Sender: sender, Registry: reg,
		Logger: quiet, NewSecret: webhook.NewSecret})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Engine: e, APIKey: testKey, Logger: quiet, Checks: map[string]func(context.Context) error{
		"database": st.Ping,
		"redis":    func(context.Context) error { return client.Ping() },
	}}
	for _, f := range configure {
		f(&cfg)
	}
	app, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &bundle{app: app, e: e, store: st, client: client, inspect: inspect, mux: tasks.NewMux(e)}
}

// drain runs the queued tasks that are due, in order, through the real
// task handlers, until none is left (a step may enqueue the next ones); it returns how many ran.
func (b *bundle) drain(t *testing.T) int {
	t.Helper()
	ran := 0
	for round := 0; round < 20; round++ {
		pending, err := b.inspect.ListPendingTasks(tasks.QueueName)
		if errors.Is(err, asynq.ErrQueueNotFound) || len(pending) == 0 {
			return ran
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range pending {
			if err := b.inspect.DeleteTask(tasks.QueueName, task.ID); err != nil {
				t.Fatal(err)
			}
			if err := b.mux.ProcessTask(context.Background(), asynq.NewTask(task.Type, task.Payload)); err != nil {
				t.Fatalf("%s %s: %v", task.Type, task.Payload, err)
			}
			ran++
		}
	}
	t.Fatal("the queue does not drain")
	return ran
}

// request is one HTTP call through app.Test.
type request struct {
	method, path string
	body         any               // nil: none; string or []byte: raw; else JSON
	key          *string           // nil: the right key; "": no Authorization header
	header       map[string]string // extra headers
}

// response is what a call answered.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do makes r against the app and returns the answer.
func (b *bundle) do(t *testing.T, r request) response {
	t.Helper()
	var body io.Reader
	switch v := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(v)
	case []byte:
		body = bytes.NewReader(v)
	default:
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(r.method, r.path, body)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	key := testKey
	if r.key != nil {
		key = *r.key
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	res, err := b.app.Test(req, 30_000)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := response{status: res.StatusCode, header: res.Header, body: raw}
	conform(t, b.document(t), r.method, r.path, out)
	return out
}

// document is the app's OpenAPI document, fetched once.
func (b *bundle) document(t *testing.T) map[string]any {
	t.Helper()
	if b.doc == nil {
		res, err := b.app.Test(httptest.NewRequest("GET", "/api/v1/openapi.json", nil))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if err := json.NewDecoder(res.Body).Decode(&b.doc); err != nil {
			t.Fatal(err)
		}
	}
	return b.doc
}

// listen serves the app on a loopback port (once) and returns its base URL.
func (b *bundle) listen(t *testing.T) string {
	t.Helper()
	if b.baseURL != "" {
		return b.baseURL
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.app.Listener(ln) }()
	t.Cleanup(func() {
		if err := b.app.ShutdownWithTimeout(5 * time.Second); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		<-done
	})
	b.baseURL = "http://" + ln.Addr().String()
	return b.baseURL
}

// oversized announces a body of n bytes to path over a real socket and
// reads the answer. fasthttp refuses such a body from its Content-Length
// alone and answers itself, which app.Test cannot show (it returns the
// error), and sending the body would race the server's close (a reset).
func (b *bundle) oversized(t *testing.T, method, path string, n int) response {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(b.listen(t), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: sluice\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n{", method, path, testKey, n)
	if _, err := conn.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := response{status: res.StatusCode, header: res.Header, body: raw}
	conform(t, b.document(t), method, path, out)
	return out
}

// call makes a JSON call, checks its status and decodes the answer into
// out (when not nil).
func (b *bundle) call(t *testing.T, wantStatus int, method, path string, body, out any) {
	t.Helper()
	res := b.do(t, request{method: method, path: path, body: body})
	if res.status != wantStatus {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, path, res.status, wantStatus, res.body)
	}
	if out != nil {
		if err := json.Unmarshal(res.body, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, res.body, err)
		}
	}
}

// apiError decodes an error answer.
func apiError(t *testing.T, res response) errorDetail {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(res.body, &e); err != nil || e.Error.Code == "" {
		t.Fatalf("not an error body (%v): %s", err, res.body)
	}
	return e.Error
}

// receiver is an HTTP server webhooks are sent to: /bad answers 500,
// everything else 200 {"received":true}.
func receiver(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/bad" {
			http.Error(w, "nope", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"received":true}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// webhookGraph is "signup on list → send_webhook to url".
func webhookGraph(listID, url string) map[string]any {
	return map[string]any{
		"nodes": []map[string]any{
			{"id": "t1", "type": "signup", "config": map[string]any{"list_id": listID}, "position": map[string]any{"x": 0, "y": 0}},
			{"id": "w1", "type": "send_webhook", "config": map[string]any{"url": url, "fields": []string{"email", "firstname"},
				"data": map[string]any{"plan": "{{ contact.c3 }}"}}, "position": map[string]any{"x": 0, "y": 100}},
		},
		"edges": []map[string]any{{"from": "t1", "to": "w1"}},
	}
}

// list creates a list and returns its id.
func (b *bundle) list(t *testing.T, name string) string {
	t.Helper()
	var l engine.List
	b.call(t, 201, "POST", "/api/v1/lists", map[string]any{"name": name}, &l)
	return l.ID
}

// scenario creates a scenario with graph and returns it.
func (b *bundle) scenario(t *testing.T, name string, graph map[string]any) engine.ScenarioView {
	t.Helper()
	var v engine.ScenarioView
	b.call(t, 201, "POST", "/api/v1/scenarios", map[string]any{"name": name, "graph": graph}, &v)
	return v
}

func ptr[T any](v T) *T { return &v }
