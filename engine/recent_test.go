package engine_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/storage"
	"github.com/sluicehq/sluice/storage/storagetest"
)

// loadCounter counts the steps the engine loaded, by source.
type loadCounter struct {
	engine.NopMetrics
	memory, database atomic.Int64
}

func (m *loadCounter) StepsLoaded(source string, n int) {
	switch source {
	case engine.StepsFromMemory:
		m.memory.Add(int64(n))
	case engine.StepsFromDatabase:
		m.database.Add(int64(n))
	}
}

// bodies is a loopback receiver keeping the JSON bodies it got.
type bodies struct {
	*httptest.Server
	mu  sync.Mutex
	got []map[string]any
}

func newBodies(t *testing.T) *bodies {
	b := &bodies{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		b.mu.Lock()
		b.got = append(b.got, body)
		b.mu.Unlock()
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *bodies) list() []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]map[string]any(nil), b.got...)
}

// A run's steps, created by the engine's own transactions, run from what
// those committed when recent steps are on, and are read from the database
// when they are off; the webhook is the same either way. The webhook comes
// after two steps that change the contact: it must see both changes, so
// what a step commit remembers is the contact as that commit left it.
func TestRecentStepsRunAsCommitted(t *testing.T) {
	for _, on := range []bool{true, false} {
		name := map[bool]string{true: "remembered", false: "read"}[on]
		t.Run(name, func(t *testing.T) {
			storagetest.Each(t, func(t *testing.T, st *storage.Store) {
				m := &loadCounter{}
				b := setup(t, st, func(c *engine.Config) { c.Metrics = m })
				if on {
					b.e.EnableRecentSteps()
				}
				h := newBodies(t)
				b.activate(t, engine.Graph{
					Nodes: []engine.Node{node("t1", "signup", `{}`),
						node("u1", "update_field", `{"field":"c4","value":"{{ contact.firstname + '!' }}"}`),
						node("g1", "add_to_group", `{"group":"vip"}`),
						node("w1", "send_webhook", `{"url":"`+h.URL+`","fields":["email","firstname","c3"],`+
							`"data":{"c4":"{{ contact.c4 }}","vip":"{{ 'vip' in contact.groups }}","plan":"{{ event.data.plan }}"}}`)},
					Edges: []engine.Edge{{From: "t1", To: "u1"}, {From: "u1", To: "g1"}, {From: "g1", To: "w1"}},
				}, false)
				b.ingest(t, engine.EventInput{Type: "signup", Email: "pat@example.org", Data: map[string]any{"plan": "pro"},
					Contact: &engine.ContactInput{Firstname: ptr("Pat"), Fields: map[string]any{"c3": "x"}}})
				waitFor(t, "the webhook", func() bool { return len(h.list()) == 1 })

				body := h.list()[0]
				data, _ := body["data"].(map[string]any)
				extra, _ := body["extra"].(map[string]any)
				if data["email"] != "pat@example.org" || data["firstname"] != "Pat" || data["c3"] != "x" {
					t.Errorf("data = %v", data)
				}
				if extra["c4"] != "Pat!" || extra["vip"] != true || extra["plan"] != "pro" {
					t.Errorf("extra = %v; want the field and the group the two steps before set, and the event's plan", extra)
				}
				mem, db := m.memory.Load(), m.database.Load()
				// A step picked up more than a second after its commit (a
				// stalled machine) is read from the database instead.
				if on && (mem < 1 || mem+db != 3) {
					t.Errorf("steps loaded: %d from memory, %d from the database; want the 3 from memory", mem, db)
				}
				if !on && (mem != 0 || db != 3) {
					t.Errorf("steps loaded: %d from memory, %d from the database; want all 3 from the database", mem, db)
				}
			})
		})
	}
}
