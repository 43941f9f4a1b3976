package api

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/inbound/inboundtest"
)

// inbound creates an inbound webhook from body (list_id added) and returns it.
func (b *bundle) inbound(t *testing.T, listID string, body map[string]any) engine.InboundWebhook {
	t.Helper()
	body["list_id"] = listID
	if body["name"] == nil {
		body["name"] = "Lead form"
	}
	var w engine.InboundWebhook
	b.call(t, 201, "POST", "/api/v1/inbound-webhooks", body, &w)
	return w
}

// hook calls /hooks/… without a bearer key.
func (b *bundle) hook(t *testing.T, method, path string, body any, header map[string]string) response {
	t.Helper()
	return b.do(t, request{method: method, path: path, body: body, key: ptr(""), header: header})
}

func TestInboundWebhookRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	list := b.list(t, "Newsletter")
	w := b.inbound(t, list, map[string]any{"action": "subscribe", "allowed_methods": []string{"POST", "GET"},
		"allowed_headers": map[string]string{"X-Source": "crm"}, "allowed_ips": []string{"203.0.113.0/24"},
		"custom_fields": []map[string]string{{"key": "c3", "name": "First name"}}})
	if w.URL != "/hooks/"+w.ID || len(w.APIKey) != 48 || len(w.SecretKey) != 64 ||
		len(w.CustomFields) != 1 || w.CustomFields[0] != (engine.CustomField{Key: "c3", Name: "First name"}) {
		t.Errorf("created %+v", w)
	}
	res := b.do(t, request{method: "POST", path: "/api/v1/inbound-webhooks", body: map[string]any{"name": "x", "list_id": "lst_nope"}})
	if e := apiError(t, res); res.status != 422 || e.Field != "list_id" {
		t.Errorf("unknown list: %d %+v", res.status, e)
	}
	res = b.do(t, request{method: "POST", path: "/api/v1/inbound-webhooks", body: map[string]any{"name": "x", "list_id": list, "allowed_ips": []string{"nope"}}})
	if e := apiError(t, res); res.status != 422 || e.Field != "allowed_ips[0]" {
		t.Errorf("bad IP: %d %+v", res.status, e)
	}
	res = b.do(t, request{method: "POST", path: "/api/v1/inbound-webhooks", body: map[string]any{"name": "x", "list_id": list, "colour": "red"}})
	if e := apiError(t, res); res.status != 400 || e.Field != "colour" {
		t.Errorf("unknown field: %d %+v", res.status, e)
	}
	if res := b.do(t, request{method: "GET", path: "/api/v1/inbound-webhooks", key: ptr("")}); res.status != 401 {
		t.Errorf("without the bearer key: %d", res.status)
	}

	var page inboundPage
	b.call(t, 200, "GET", "/api/v1/inbound-webhooks", nil, &page)
	if len(page.InboundWebhooks) != 1 || page.InboundWebhooks[0].ID != w.ID {
		t.Errorf("list %+v", page)
	}
	var got engine.InboundWebhook
	b.call(t, 200, "GET", "/api/v1/inbound-webhooks/"+w.ID, nil, &got)
	if got.APIKey != w.APIKey || got.SecretKey != w.SecretKey {
		t.Errorf("get %+v", got)
	}
	b.call(t, 200, "PUT", "/api/v1/inbound-webhooks/"+w.ID, map[string]any{"name": "Renamed", "list_id": list, "action": "unsubscribe"}, &got)
	if got.Name != "Renamed" || got.Action != engine.InboundUnsubscribe || got.APIKey != w.APIKey {
		t.Errorf("put %+v", got)
	}
	b.call(t, 200, "POST", "/api/v1/inbound-webhooks/"+w.ID+"/rotate-keys", nil, &got)
	if got.APIKey == w.APIKey || got.SecretKey == w.SecretKey {
		t.Errorf("rotate kept a key")
	}
	var act engine.InboundActivity
	b.call(t, 200, "GET", "/api/v1/inbound-webhooks/"+w.ID+"/activity?hours=48", nil, &act)
	if act.InboundWebhookID != w.ID || act.Accepted != 0 || len(act.Hours) != 0 {
		t.Errorf("activity %+v", act)
	}
	if res := b.do(t, request{method: "GET", path: "/api/v1/inbound-webhooks/" + w.ID + "/activity?hours=0"}); res.status != 422 {
		t.Errorf("hours=0: %d", res.status)
	}
	b.call(t, 204, "DELETE", "/api/v1/inbound-webhooks/"+w.ID, nil, nil)
	for _, r := range []request{
		{method: "GET", path: "/api/v1/inbound-webhooks/" + w.ID},
		{method: "DELETE", path: "/api/v1/inbound-webhooks/" + w.ID},
		{method: "POST", path: "/api/v1/inbound-webhooks/" + w.ID + "/rotate-keys"},
		{method: "GET", path: "/api/v1/inbound-webhooks/" + w.ID + "/activity"},
		{method: "GET", path: "/hooks/" + w.ID + "?api-key=" + got.APIKey + "&email=a%40b.org", key: ptr("")},
	} {
		if res := b.do(t, r); res.status != 404 || !strings.Contains(apiError(t, res).Message, "inbound webhook") {
			t.Errorf("%s %s after delete: %d %s", r.method, r.path, res.status, res.body)
		}
	}
}

func TestInboundQuickAndSecureWays(t *testing.T) {
	t.Parallel()
	b := setup(t)
	list := b.list(t, "Newsletter")
	w := b.inbound(t, list, map[string]any{"custom_fields": []map[string]string{{"key": "c3", "name": "First name"}}})
	path := "/hooks/" + w.ID
	for _, tc := range []struct {
		name, method, path string
		body               any
		header             map[string]string
	}{
		{"GET, query string", "GET", path + "?api-key=" + w.APIKey + "&email=john%40example.org&c3=John", nil, nil},
		{"POST, form body", "POST", path, "api-key=" + w.APIKey + "&email=john%40example.org&firstname=J",
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"}},
		{"POST, JSON body", "POST", path + "?api-key=" + w.APIKey, map[string]any{"email": "john@example.org", "lastname": "Doe"}, nil},
		{"POST, secure way (openssl, JSON)", "POST", path,
			map[string]any{"payload": inboundtest.Payload(t, w.SecretKey, `{"email":"jane@example.org","c3":"Jane"}`)}, nil},
		{"POST, secure way (openssl, query string) in a form", "POST", path,
			"payload=" + url.QueryEscape(inboundtest.Payload(t, w.SecretKey, "email=jane%40example.org&lastname=Roe")),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"}},
	} {
		res := b.hook(t, tc.method, tc.path, tc.body, tc.header)
		var out engine.InboundResult
		if res.status != 200 {
			t.Fatalf("%s: %d %s", tc.name, res.status, res.body)
		}
		if err := json.Unmarshal(res.body, &out); err != nil || out.Status != "subscribed" || out.ContactID == "" {
			t.Errorf("%s: %s", tc.name, res.body)
		}
	}
	var john, jane engine.Contact
	b.call(t, 200, "GET", "/api/v1/contacts?email=john@example.org", nil, &john)
	b.call(t, 200, "GET", "/api/v1/contacts?email=jane@example.org", nil, &jane)
	if john.Firstname != "J" || john.Lastname != "Doe" || john.Fields["c3"] != "John" || jane.Fields["c3"] != "Jane" || jane.Lastname != "Roe" {
		t.Errorf("john %+v, jane %+v", john, jane)
	}
	var act engine.InboundActivity
	b.call(t, 200, "GET", "/api/v1/inbound-webhooks/"+w.ID+"/activity", nil, &act)
	if act.Accepted != 5 || act.Refused != 0 || len(act.Hours) != 1 || act.Hours[0].Accepted != 5 {
		t.Errorf("activity %+v", act)
	}
}

func TestInboundRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	list := b.list(t, "Newsletter")
	open := b.inbound(t, list, map[string]any{"allowed_methods": []string{"POST"}})
	guarded := b.inbound(t, list, map[string]any{"name": "Guarded", "allowed_headers": map[string]string{"X-Source": "crm"},
		"allowed_ips": []string{"203.0.113.0/24", "2001:db8::/32"}})
	q := func(w engine.InboundWebhook, n int) string {
		return fmt.Sprintf("/hooks/%s?api-key=%s&email=x%d%%40example.org", w.ID, w.APIKey, n)
	}
	raw, _ := base64.StdEncoding.DecodeString(inboundtest.Payload(t, open.SecretKey, `{"email":"x20@example.org"}`))
	raw[len(raw)-1] ^= 1
	for _, tc := range []struct {
		name, method, path string
		body               any
		header             map[string]string
		status             int
		code               string
	}{
		{"missing key", "POST", "/hooks/" + open.ID + "?email=x1%40example.org", nil, nil, 401, "wrong_key"},
		{"wrong key", "POST", "/hooks/" + open.ID + "?api-key=nope&email=x2%40example.org", nil, nil, 401, "wrong_key"},
		{"method", "GET", q(open, 3), nil, nil, 405, "method_not_allowed"},
		{"IP (app.Test's 0.0.0.0)", "GET", q(guarded, 4), nil, map[string]string{"X-Source": "crm"}, 403, "ip_not_allowed"},
		{"X-Forwarded-For is not trusted", "GET", q(guarded, 5), nil,
			map[string]string{"X-Source": "crm", "X-Forwarded-For": "203.0.113.7", "X-Real-Ip": "203.0.113.7"}, 403, "ip_not_allowed"},
		{"unknown field", "POST", q(open, 6) + "&c9=x", nil, nil, 400, "bad_payload"},
		{"invalid email", "POST", "/hooks/" + open.ID + "?api-key=" + open.APIKey + "&email=x7-not-an-email", nil, nil, 400, "bad_payload"},
		{"oversized body", "POST", q(open, 8), "c3=" + strings.Repeat("a", 65<<10), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 400, "bad_payload"},
		{"malformed JSON", "POST", q(open, 9), `{"email":`, nil, 400, "bad_payload"},
		{"bad base64", "POST", "/hooks/" + open.ID, map[string]any{"payload": "not base64!"}, nil, 400, "bad_payload"},
		{"wrong padding", "POST", "/hooks/" + open.ID, map[string]any{"payload": base64.StdEncoding.EncodeToString(raw)}, nil, 400, "bad_payload"},
		{"wrong secret key", "POST", "/hooks/" + open.ID,
			map[string]any{"payload": inboundtest.Payload(t, guarded.SecretKey, `{"email":"x21@example.org"}`)}, nil, 400, "bad_payload"},
	} {
		res := b.hook(t, tc.method, tc.path, tc.body, tc.header)
		e := apiError(t, res)
		if res.status != tc.status || e.Code != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, res.status, res.body, tc.status, tc.code)
		}
		if tc.status == 405 && res.header.Get("Allow") != "POST" {
			t.Errorf("405 without Allow: POST: %q", res.header.Get("Allow"))
		}
	}
	for _, email := range []string{"x1", "x2", "x3", "x4", "x5", "x6", "x8", "x9", "x20", "x21"} {
		if res := b.do(t, request{method: "GET", path: "/api/v1/contacts?email=" + email + "@example.org"}); res.status != 404 {
			t.Errorf("a refused call wrote contact %s", email)
		}
	}
	var act engine.InboundActivity
	b.call(t, 200, "GET", "/api/v1/inbound-webhooks/"+open.ID+"/activity", nil, &act)
	if act.Refused != 10 || act.Accepted != 0 || len(act.Refusals) != 10 || act.Hours[0].Refused != 10 {
		t.Errorf("activity of open: %d refused, %d refusals kept", act.Refused, len(act.Refusals))
	}
	reasons := ""
	for _, r := range act.Refusals {
		reasons += string(r.Code) + ": " + r.Reason + "\n"
	}
	for _, want := range []string{"padding", "not base64", "not a valid email", "larger than", "c9", "method GET", "api-key is wrong", "api-key parameter is missing"} {
		if !strings.Contains(reasons, want) {
			t.Errorf("the refusals do not mention %q:\n%s", want, reasons)
		}
	}
	b.call(t, 200, "GET", "/api/v1/inbound-webhooks/"+guarded.ID+"/activity", nil, &act)
	if act.Refused != 2 {
		t.Errorf("activity of guarded: %d refused", act.Refused)
	}
}

// TestInboundRealClientIP calls over a real socket from 127.0.0.1: the
// allow-list applies to the socket's peer, whatever X-Forwarded-For says.
func TestInboundRealClientIP(t *testing.T) {
	t.Parallel()
	b := setup(t)
	list := b.list(t, "Newsletter")
	loopback := b.inbound(t, list, map[string]any{"allowed_ips": []string{"127.0.0.0/8"}})
	elsewhere := b.inbound(t, list, map[string]any{"name": "Elsewhere", "allowed_ips": []string{"203.0.113.0/24", "::1"}})
	base := b.listen(t)
	get := func(w engine.InboundWebhook, email string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/hooks/"+w.ID+"?api-key="+w.APIKey+"&email="+url.QueryEscape(email), nil)
		req.Header.Set("X-Forwarded-For", "203.0.113.7")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		_, _ = io.Copy(io.Discard, res.Body)
		return res.StatusCode
	}
	if got := get(loopback, "a@example.org"); got != 200 {
		t.Errorf("from 127.0.0.1 to a loopback-only webhook: %d", got)
	}
	if got := get(elsewhere, "b@example.org"); got != 403 {
		t.Errorf("from 127.0.0.1 with X-Forwarded-For 203.0.113.7: %d, want 403", got)
	}
}

// TestInboundWebhookStartsScenario is the trigger end to end: a contact
// subscribed the quick way starts an active scenario whose trigger is the
// inbound webhook, and its webhook step reaches a loopback receiver.
func TestInboundWebhookStartsScenario(t *testing.T) {
	t.Parallel()
	b := setup(t)
	list := b.list(t, "Newsletter")
	w := b.inbound(t, list, map[string]any{"custom_fields": []map[string]string{{"key": "c3", "name": "First name"}}})
	got := make(chan string, 4)
	rcv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- string(body)
	}))
	t.Cleanup(rcv.Close)
	sc := b.scenario(t, "From the form", map[string]any{
		"nodes": []map[string]any{
			{"id": "t1", "type": "inbound_webhook", "config": map[string]any{"inbound_webhook_id": w.ID}},
			{"id": "w1", "type": "send_webhook", "config": map[string]any{"url": rcv.URL + "/lead", "fields": []string{"email"},
				"data": map[string]any{"name": "{{ contact.c3 }}", "via": "{{ event.data.inbound_webhook_id }}"}}},
		},
		"edges": []map[string]any{{"from": "t1", "to": "w1"}},
	})
	b.call(t, 200, "POST", "/api/v1/scenarios/"+sc.ID+"/activate", nil, nil)
	res := b.hook(t, "GET", "/hooks/"+w.ID+"?api-key="+w.APIKey+"&email=john%40example.org&c3=John", nil, nil)
	if res.status != 200 {
		t.Fatalf("call: %d %s", res.status, res.body)
	}
	b.drain(t)
	select {
	case body := <-got:
		for _, want := range []string{`"email":"john@example.org"`, `"name":"John"`, `"via":"` + w.ID + `"`} {
			if !strings.Contains(body, want) {
				t.Errorf("the webhook body lacks %s: %s", want, body)
			}
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the scenario's webhook never reached the receiver")
	}
	var stats engine.ScenarioStats
	b.call(t, 200, "GET", "/api/v1/scenarios/"+sc.ID+"/stats", nil, &stats)
	for _, s := range stats.Steps {
		if s.NodeID == "w1" && (s.Reached != 1 || s.Accepted != 1) {
			t.Errorf("w1 stats %+v", s)
		}
	}
}
