package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/engine"
)

// TestWebhookSubscriptions goes through the event subscription routes
// end to end: create, filter, deliver an event to a loopback receiver,
// counters and attempt log, deactivate, buffer, activate with replay,
// notifications, delete.
func TestWebhookSubscriptions(t *testing.T) {
	b := setup(t)
	var mu sync.Mutex
	var got []map[string]any
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
		if r.URL.Path == "/bad" {
			w.WriteHeader(500)
		}
	}))
	t.Cleanup(rcv.Close)
	list := b.list(t, "Newsletter")

	var optin, created engine.Subscription
	b.call(t, 201, "POST", "/api/v1/webhooks", map[string]any{"app": "crm-sync", "event": "optin_finalized",
		"url": rcv.URL + "/ok", "list_id": list}, &optin)
	if optin.ID == "" || !optin.Active || !strings.HasPrefix(optin.Secret, "whsec_") || optin.ListID != list {
		t.Fatalf("created: %+v", optin)
	}
	b.call(t, 201, "POST", "/api/v1/webhooks", map[string]any{"app": "other", "event": "contact_created",
		"url": rcv.URL + "/bad"}, &created)

	for _, c := range []struct {
		body   any
		status int
		field  string
	}{
		{map[string]any{"event": "signup", "url": rcv.URL}, 422, "event"},
		{map[string]any{"event": "optin_finalized", "url": "nope"}, 422, "url"},
		{map[string]any{"event": "optin_finalized", "url": rcv.URL, "list_id": "lst_nope"}, 422, "list_id"},
		{map[string]any{"event": "optin_finalized", "url": rcv.URL, "colour": "red"}, 400, "colour"},
	} {
		res := b.do(t, request{method: "POST", path: "/api/v1/webhooks", body: c.body})
		if res.status != c.status || apiError(t, res).Field != c.field {
			t.Errorf("%v: %d %s, want %d about %s", c.body, res.status, res.body, c.status, c.field)
		}
	}

	for _, c := range []struct {
		query string
		want  int
	}{{"", 2}, {"?app=crm-sync", 1}, {"?event=contact_created", 1}, {"?app=crm-sync&event=contact_created", 0}} {
		var page subscriptionsPage
		b.call(t, 200, "GET", "/api/v1/webhooks"+c.query, nil, &page)
		if len(page.Webhooks) != c.want {
			t.Errorf("GET /api/v1/webhooks%s: %d, want %d", c.query, len(page.Webhooks), c.want)
		}
	}
	if res := b.do(t, request{method: "GET", path: "/api/v1/webhooks?event=nope"}); res.status != 422 {
		t.Errorf("?event=nope: %d", res.status)
	}

	b.call(t, 202, "POST", "/api/v1/events", map[string]any{"type": "signup", "email": "a@example.org", "list_id": list}, nil)
	if n := b.drain(t); n != 2 {
		t.Fatalf("drained %d tasks, want 2 (optin_finalized, contact_created)", n)
	}
	var sub engine.Subscription
	b.call(t, 200, "GET", "/api/v1/webhooks/"+optin.ID, nil, &sub)
	if sub.Deliveries != 1 || sub.Accepted != 1 || sub.Attempts != 1 || sub.Pending != 0 {
		t.Errorf("counters: %+v", sub.SubscriptionCounts)
	}
	var page deliveryPage
	b.call(t, 200, "GET", "/api/v1/webhooks/"+optin.ID+"/deliveries", nil, &page)
	if len(page.Deliveries) != 1 || len(page.Deliveries[0].AttemptLog) != 1 || page.Deliveries[0].AttemptLog[0].StatusCode != 200 ||
		!strings.Contains(string(page.Deliveries[0].Body), `"event":"optin_finalized"`) {
		t.Fatalf("deliveries: %+v", page)
	}
	b.call(t, 200, "GET", "/api/v1/webhooks/"+created.ID+"/deliveries?status=pending", nil, &page)
	if len(page.Deliveries) != 1 || page.Deliveries[0].AttemptLog[0].StatusCode != 500 {
		t.Fatalf("failing deliveries: %+v", page)
	}

	// Deactivated: events are buffered, then replayed on activation.
	b.call(t, 200, "POST", "/api/v1/webhooks/"+created.ID+"/deactivate", nil, &sub)
	if sub.Active || sub.DeactivatedAt == nil {
		t.Fatalf("deactivated: %+v", sub)
	}
	b.call(t, 202, "POST", "/api/v1/events", map[string]any{"type": "visit", "email": "b@example.org"}, nil)
	b.call(t, 200, "GET", "/api/v1/webhooks/"+created.ID, nil, &sub)
	if sub.Buffered != 1 {
		t.Fatalf("buffered: %+v", sub.SubscriptionCounts)
	}
	b.call(t, 200, "POST", "/api/v1/webhooks/"+created.ID+"/activate", map[string]any{"replay_events": true}, &sub)
	if !sub.Active || sub.Buffered != 0 || sub.Replayed != 1 || sub.Deliveries != 2 {
		t.Fatalf("activated with replay: %+v", sub)
	}
	b.call(t, 200, "POST", "/api/v1/webhooks/"+created.ID+"/activate", nil, &sub) // already active: no body needed

	var notes notificationsPage
	b.call(t, 200, "GET", "/api/v1/notifications?limit=10", nil, &notes)
	if notes.Notifications == nil {
		t.Error("notifications: null, want a list")
	}

	b.call(t, 204, "DELETE", "/api/v1/webhooks/"+optin.ID, nil, nil)
	for _, r := range []request{{method: "DELETE", path: "/api/v1/webhooks/" + optin.ID},
		{method: "GET", path: "/api/v1/webhooks/" + optin.ID}, {method: "GET", path: "/api/v1/webhooks/" + optin.ID + "/deliveries"},
		{method: "POST", path: "/api/v1/webhooks/" + optin.ID + "/activate"}} {
		if res := b.do(t, r); res.status != 404 || !strings.Contains(apiError(t, res).Message, optin.ID) {
			t.Errorf("%s %s after delete: %d %s", r.method, r.path, res.status, res.body)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) < 2 {
		t.Errorf("the receiver got %d requests", len(got))
	}
}
