package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestInboundStartsScenarioAndSubscriptionHears drives issue 4's path on
// the real server, on both stacks: an outside form subscribes a contact by
// the quick way; the inbound_webhook trigger starts a scenario whose
// webhook arrives; the optin_finalized subscription hears about it, signed
// with its own secret; a wrong key is refused and changes nothing.
func TestInboundStartsScenarioAndSubscriptionHears(t *testing.T) {
	eachStack(t, func(t *testing.T, st stack) {
		rc := newReceiver(t, nil)
		s := startServe(t, config(t, st))
		listID := s.list("Newsletter")

		var sub struct {
			ID     string `json:"id"`
			Active bool   `json:"active"`
			Secret string `json:"secret"`
		}
		s.must(201, "POST", "/api/v1/webhooks", map[string]any{"app": "crm", "event": "optin_finalized",
			"url": rc.URL + "/optin", "list_id": listID}, &sub)
		var in struct {
			ID     string `json:"id"`
			URL    string `json:"url"`
			APIKey string `json:"api_key"`
		}
		s.must(201, "POST", "/api/v1/inbound-webhooks", map[string]any{"name": "Lead form", "list_id": listID,
			"action": "subscribe", "custom_fields": []map[string]any{{"key": "c3", "name": "First name"}}}, &in)
		var sc scenarioView
		s.must(201, "POST", "/api/v1/scenarios", map[string]any{"name": "From the form", "graph": map[string]any{
			"nodes": []map[string]any{
				{"id": "t1", "type": "inbound_webhook", "config": map[string]any{"inbound_webhook_id": in.ID}},
				{"id": "w1", "type": "send_webhook", "config": map[string]any{"url": rc.URL + "/scenario",
					"fields": []string{"email"}, "data": map[string]any{"c3": "{{ contact.c3 }}"}}},
			},
			"edges": []map[string]any{{"from": "t1", "to": "w1"}},
		}}, &sc)
		s.must(200, "POST", "/api/v1/scenarios/"+sc.ID+"/activate", nil, nil)

		hook := func(key string) int {
			q := url.Values{"api-key": {key}, "email": {"lead@example.org"}, "c3": {"John"}}
			resp, err := http.Get(s.base + in.URL + "?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if code := hook("wrong"); code != 401 {
			t.Fatalf("wrong key: %d, want 401", code)
		}
		if code := s.call("GET", "/api/v1/contacts?email=lead@example.org", nil, nil); code != 404 {
			t.Fatalf("a refused call wrote the contact (GET contact: %d)", code)
		}
		if code := hook(in.APIKey); code != 200 {
			t.Fatalf("quick way: %d, want 200", code)
		}
		byPath := func(path string) *received {
			for _, r := range rc.requests() {
				if r.Path == path {
					return &r
				}
			}
			return nil
		}
		waitFor(t, 10*time.Second, "the scenario's webhook and the opt-in", func() bool {
			return byPath("/scenario") != nil && byPath("/optin") != nil
		})
		if got := byPath("/scenario").Decoded["extra"].(map[string]any)["c3"]; got != "John" {
			t.Errorf("scenario webhook extra.c3 = %v, want John", got)
		}
		optin := byPath("/optin")
		verifySignature(t, sub.Secret, optin.Header, optin.Body)
		data, _ := optin.Decoded["data"].(map[string]any)
		if optin.Decoded["event"] != "optin_finalized" || data["email"] != "lead@example.org" {
			t.Errorf("opt-in body: %s", optin.Body)
		}
		if !strings.Contains(string(optin.Body), listID) {
			t.Errorf("opt-in body does not name the list %s: %s", listID, optin.Body)
		}
		// The same call again subscribes nobody new: no second opt-in.
		if code := hook(in.APIKey); code != 200 {
			t.Fatalf("second call: %d", code)
		}
		time.Sleep(500 * time.Millisecond)
		n := 0
		for _, r := range rc.requests() {
			if r.Path == "/optin" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d opt-in deliveries, want 1", n)
		}
		t.Logf("%s: inbound → scenario and subscription delivered", st.name)
	})
}
