package app_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/engine"
)

func (s *server) stats(id string) map[string]engine.StepStats {
	var v engine.ScenarioStats
	s.must(200, "GET", "/api/v1/scenarios/"+id+"/stats", nil, &v)
	out := map[string]engine.StepStats{}
	for _, st := range v.Steps {
		out[st.NodeID] = st.StepStats
	}
	return out
}

type scenarioView struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	Status        string `json:"status"`
	Version       int    `json:"version"`
	SigningSecret string `json:"signing_secret"`
}

// webhookScenario creates and activates "signup → Send a Webhook" to url.
func (s *server) webhookScenario(listID, url string) scenarioView {
	s.t.Helper()
	var sc scenarioView
	s.must(201, "POST", "/api/v1/scenarios", map[string]any{
		"name": "Welcome",
		"graph": map[string]any{
			"nodes": []map[string]any{
				{"id": "t1", "type": "signup", "config": map[string]any{"list_id": listID}, "position": map[string]any{"x": 0, "y": 0}},
				{"id": "w1", "type": "send_webhook", "config": map[string]any{
					"url":     url,
					"fields":  []string{"email", "firstname"},
					"data":    map[string]any{"plan": "{{ contact.c3 }}", "seats": "{{ event.data.seats }}", "greeting": "Hello {{ contact.firstname }}"},
					"headers": map[string]any{"X-Token": "abc-{{ contact.firstname }}"},
				}},
			},
			"edges": []map[string]any{{"from": "t1", "to": "w1"}},
		},
	}, &sc)
	s.must(200, "POST", "/api/v1/scenarios/"+sc.ID+"/activate", nil, &sc)
	if sc.Status != "active" {
		s.t.Fatalf("activated scenario has status %q", sc.Status)
	}
	return sc
}

func (s *server) list(name string) string {
	var l struct{ ID string }
	s.must(201, "POST", "/api/v1/lists", map[string]any{"name": name}, &l)
	return l.ID
}

func signup(listID, email, first, plan string, seats int) map[string]any {
	return map[string]any{"type": "signup", "email": email, "list_id": listID,
		"contact": map[string]any{"firstname": first, "lastname": "Doe", "fields": map[string]any{"c3": plan}},
		"data":    map[string]any{"seats": seats}}
}

// TestSignupDeliversWebhook is the core path: an event in through the API,
// the webhook received with its rendered body, headers and signature, and
// the step's counters moved — on both stacks.
func TestSignupDeliversWebhook(t *testing.T) {
	eachStack(t, func(t *testing.T, st stack) {
		rc := newReceiver(t, nil)
		s := startServe(t, config(t, st))
		listID := s.list("Newsletter")
		sc := s.webhookScenario(listID, rc.URL+"/hook")

		var accepted struct {
			EventID string `json:"event_id"`
		}
		s.must(202, "POST", "/api/v1/events", signup(listID, "john.doe@example.org", "John", "pro", 3), &accepted)
		if !strings.HasPrefix(accepted.EventID, "evt_") {
			t.Fatalf("event id %q", accepted.EventID)
		}
		waitFor(t, 10*time.Second, "the webhook", func() bool { return len(rc.requests()) >= 1 })
		got := rc.requests()[0]

		if got.Header.Get("Content-Type") != "application/json" || got.Header.Get("X-Token") != "abc-John" {
			t.Errorf("headers: %v", got.Header)
		}
		verifySignature(t, sc.SigningSecret, got.Header, got.Body)
		if got.Decoded["id"] != got.Header.Get("webhook-id") {
			t.Errorf("body id %v != webhook-id %q", got.Decoded["id"], got.Header.Get("webhook-id"))
		}
		var contact struct{ ID string }
		s.must(200, "GET", "/api/v1/contacts?email=JOHN.DOE@example.org", nil, &contact)
		want := map[string]any{
			"event":    "automation.webhook.send",
			"scenario": map[string]any{"id": sc.ID, "name": "Welcome", "step": "w1"},
			"data":     map[string]any{"type": "contact", "id": contact.ID, "email": "john.doe@example.org", "firstname": "John"},
			"extra":    map[string]any{"plan": "pro", "seats": float64(3), "greeting": "Hello John"},
		}
		body := got.Decoded
		delete(body, "id")
		if _, err := time.Parse(time.RFC3339, fmt.Sprint(body["timestamp"])); err != nil {
			t.Errorf("timestamp %v: %v", body["timestamp"], err)
		}
		delete(body, "timestamp")
		if diff := cmp.Diff(want, body); diff != "" {
			t.Errorf("body (-want +got):\n%s", diff)
		}

		waitFor(t, 5*time.Second, "accepted = 1", func() bool { return s.stats(sc.ID)["w1"].Accepted == 1 })
		wantStats := map[string]engine.StepStats{
			"t1": {NodeID: "t1", Type: "signup", Reached: 1},
			"w1": {NodeID: "w1", Type: "send_webhook", Reached: 1, Accepted: 1, Attempts: 1},
		}
		if diff := cmp.Diff(wantStats, s.stats(sc.ID)); diff != "" {
			t.Errorf("stats (-want +got):\n%s", diff)
		}

		var page struct {
			Deliveries []struct {
				Status     string `json:"status"`
				MessageID  string `json:"message_id"`
				AttemptLog []struct {
					StatusCode   int    `json:"status_code"`
					ResponseBody string `json:"response_body"`
					RequestBody  string `json:"request_body"`
				} `json:"attempt_log"`
			} `json:"deliveries"`
		}
		s.must(200, "GET", "/api/v1/scenarios/"+sc.ID+"/steps/w1/deliveries?status=accepted", nil, &page)
		if len(page.Deliveries) != 1 || len(page.Deliveries[0].AttemptLog) != 1 {
			t.Fatalf("deliveries: %+v", page)
		}
		d := page.Deliveries[0]
		if d.MessageID != got.Header.Get("webhook-id") || d.AttemptLog[0].StatusCode != 200 ||
			d.AttemptLog[0].ResponseBody != `{"received":1}` || d.AttemptLog[0].RequestBody != string(got.Body) {
			t.Errorf("delivery log: %+v", d)
		}

		// The same contact signs up again: no second run. A new contact does run.
		s.must(202, "POST", "/api/v1/events", signup(listID, "John.Doe@example.org", "John", "pro", 3), nil)
		s.must(202, "POST", "/api/v1/events", signup(listID, "jane@example.org", "Jane", "free", 1), nil)
		waitFor(t, 10*time.Second, "Jane's webhook", func() bool {
			for _, r := range rc.requests() {
				if r.Header.Get("X-Token") == "abc-Jane" {
					return true
				}
			}
			return false
		})
		waitFor(t, 5*time.Second, "accepted = 2", func() bool { return s.stats(sc.ID)["w1"].Accepted == 2 })
		if n := len(rc.requests()); n != 2 {
			t.Errorf("receiver got %d requests, want 2 (John enters once)", n)
		}
	})
}

// TestPrivateTargetsRefused shows the SSRF guard wired into deliveries:
// without SLUICE_ALLOW_PRIVATE_TARGETS a loopback URL is never dialled and
// the delivery stays pending with the reason.
func TestPrivateTargetsRefused(t *testing.T) {
	rc := newReceiver(t, nil)
	cfg := config(t, stack{name: "embedded"})
	cfg.AllowPrivateTargets = false
	s := startServe(t, cfg)
	listID := s.list("L")
	sc := s.webhookScenario(listID, rc.URL+"/hook")
	s.must(202, "POST", "/api/v1/events", signup(listID, "a@example.org", "A", "x", 1), nil)
	waitFor(t, 10*time.Second, "a pending delivery", func() bool { return s.stats(sc.ID)["w1"].Pending == 1 })
	var page struct {
		Deliveries []struct {
			LastError string `json:"last_error"`
		} `json:"deliveries"`
	}
	s.must(200, "GET", "/api/v1/scenarios/"+sc.ID+"/steps/w1/deliveries?status=pending", nil, &page)
	if len(page.Deliveries) != 1 || !strings.Contains(page.Deliveries[0].LastError, "refused") {
		t.Errorf("deliveries: %+v", page)
	}
	if n := len(rc.requests()); n != 0 {
		t.Errorf("the receiver was reached %d times", n)
	}
	var res struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	s.must(200, "POST", "/api/v1/webhooks/test", map[string]any{"url": rc.URL + "/t"}, &res)
	if res.OK || !strings.Contains(res.Error, "refused") {
		t.Errorf("test URL to loopback: %+v", res)
	}
}

// TestTestURL is the builder's "Test URL" button: a green answer and a red one.
func TestTestURL(t *testing.T) {
	rc := newReceiver(t, func(r *http.Request, _ int) int {
		if r.URL.Path == "/bad" {
			return 500
		}
		return 200
	})
	s := startServe(t, config(t, stack{name: "embedded"}))
	type result struct {
		OK         bool   `json:"ok"`
		StatusCode int    `json:"status_code"`
		Error      string `json:"error"`
		Request    struct {
			Headers map[string]string `json:"headers"`
			Body    string            `json:"body"`
		} `json:"request"`
		ResponseBody string `json:"response_body"`
	}
	var ok, bad result
	s.must(200, "POST", "/api/v1/webhooks/test", map[string]any{"url": rc.URL + "/ok",
		"headers": map[string]any{"X-Name": "{{ contact.firstname }}"}, "data": map[string]any{"k": "v"}, "fields": []string{"email"}}, &ok)
	if !ok.OK || ok.StatusCode != 200 || ok.Request.Headers["X-Name"] != "John" || !strings.Contains(ok.Request.Body, `"id":"test_evt_`) {
		t.Errorf("ok result: %+v", ok)
	}
	got := rc.requests()[0]
	if got.Header.Get("X-Name") != "John" || got.Decoded["extra"].(map[string]any)["k"] != "v" ||
		got.Decoded["data"].(map[string]any)["email"] != "john.doe@example.org" {
		t.Errorf("received: %+v", got)
	}
	s.must(200, "POST", "/api/v1/webhooks/test", map[string]any{"url": rc.URL + "/bad"}, &bad)
	if bad.OK || bad.StatusCode != 500 || bad.Error == "" {
		t.Errorf("bad result: %+v", bad)
	}
	var e struct {
		Error struct{ Field string } `json:"error"`
	}
	if code := s.call("POST", "/api/v1/webhooks/test", map[string]any{"url": "not a url"}, &e); code != 422 || e.Error.Field != "url" {
		t.Errorf("bad url: %d %+v", code, e)
	}
}
