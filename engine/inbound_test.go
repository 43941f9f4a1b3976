package engine_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/engine/inbound/inboundtest"
	"github.com/sluicehq/sluice/storage"
	"github.com/sluicehq/sluice/storage/storagetest"
)

// inboundFixture is an engine with a list and an inbound webhook on it.
type inboundFixture struct {
	*bundle
	list *engine.List
	hook *engine.InboundWebhook
}

func newInboundFixture(t *testing.T, st *storage.Store, in engine.InboundInput) *inboundFixture {
	t.Helper()
	b := setup(t, st)
	ctx := context.Background()
	l, err := b.e.CreateList(ctx, "Newsletter")
	if err != nil {
		t.Fatal(err)
	}
	in.ListID = l.ID
	if in.Name == "" {
		in.Name = "Lead form"
	}
	w, err := b.e.CreateInbound(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	return &inboundFixture{bundle: b, list: l, hook: w}
}

// call makes a quick-way GET from 203.0.113.7 with query.
func (f *inboundFixture) call(query string) (*engine.InboundResult, error) {
	return f.e.ReceiveInbound(context.Background(), f.hook.ID, engine.InboundRequest{Method: "GET",
		RemoteIP: netip.MustParseAddr("203.0.113.7"), Headers: http.Header{}, Query: query})
}

func TestInboundLifeCycle(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		f := newInboundFixture(t, st, engine.InboundInput{AllowedHeaders: map[string]string{"x-source": "crm"},
			AllowedIPs:   []string{"203.0.113.0/24", "2001:DB8::1/32", "::ffff:198.51.100.9"},
			CustomFields: []engine.CustomField{{Key: "c3", Name: "First name"}, {Key: "c4"}}})
		ctx := context.Background()
		w := f.hook
		if !regexp.MustCompile(`^[0-9a-f]{48}$`).MatchString(w.APIKey) || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(w.SecretKey) {
			t.Errorf("keys %q %q", w.APIKey, w.SecretKey)
		}
		want := &engine.InboundWebhook{ID: w.ID, Name: "Lead form", ListID: f.list.ID, Action: engine.InboundSubscribe,
			AllowedMethods: []string{"GET", "POST"}, AllowedHeaders: map[string]string{"X-Source": "crm"},
			AllowedIPs:   []string{"203.0.113.0/24", "2001:db8::/32", "198.51.100.9/32"},
			CustomFields: []engine.CustomField{{Key: "c3", Name: "First name"}, {Key: "c4", Name: "c4"}},
			URL:          "/hooks/" + w.ID, APIKey: w.APIKey, SecretKey: w.SecretKey, CreatedAt: w.CreatedAt, UpdatedAt: w.CreatedAt}
		if diff := cmp.Diff(want, w); diff != "" {
			t.Errorf("created (-want +got):\n%s", diff)
		}
		got, err := f.e.GetInbound(ctx, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GetInbound (-want +got):\n%s", diff)
		}

		upd, err := f.e.UpdateInbound(ctx, w.ID, engine.InboundInput{Name: "Renamed", ListID: f.list.ID,
			Action: engine.InboundUnsubscribe, AllowedMethods: []string{"post"}})
		if err != nil {
			t.Fatal(err)
		}
		if upd.Name != "Renamed" || upd.Action != engine.InboundUnsubscribe || !slices.Equal(upd.AllowedMethods, []string{"POST"}) ||
			upd.APIKey != w.APIKey || upd.SecretKey != w.SecretKey || len(upd.AllowedIPs) != 0 {
			t.Errorf("updated %+v", upd)
		}
		rot, err := f.e.RotateInboundKeys(ctx, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rot.APIKey == w.APIKey || rot.SecretKey == w.SecretKey || len(rot.SecretKey) != 64 {
			t.Errorf("rotate kept a key: %+v", rot)
		}
		list, err := f.e.ListInbound(ctx)
		if err != nil || len(list) != 1 || list[0].APIKey != rot.APIKey || list[0].URL != rot.URL {
			t.Errorf("ListInbound %+v %v", list, err)
		}
		if err := f.e.DeleteInbound(ctx, w.ID); err != nil {
			t.Fatal(err)
		}
		for name, err := range map[string]error{
			"get":      second(f.e.GetInbound(ctx, w.ID)),
			"update":   second(f.e.UpdateInbound(ctx, w.ID, engine.InboundInput{Name: "x", ListID: f.list.ID})),
			"rotate":   second(f.e.RotateInboundKeys(ctx, w.ID)),
			"activity": second(f.e.InboundActivity(ctx, w.ID, time.Time{})),
			"receive":  second(f.call("api-key=" + rot.APIKey + "&email=a%40b.org")),
			"delete":   f.e.DeleteInbound(ctx, w.ID),
		} {
			if !errors.Is(err, engine.ErrNotFound) {
				t.Errorf("%s after delete: %v, want ErrNotFound", name, err)
			}
		}
	})
}

func second[T any](_ T, err error) error { return err }

func TestInboundValidation(t *testing.T) {
	t.Parallel()
	b := setup(t, storagetest.OpenSQLite(t))
	ctx := context.Background()
	l, err := b.e.CreateList(ctx, "L")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		in    engine.InboundInput
		field string
	}{
		{"no name", engine.InboundInput{ListID: l.ID}, "name"},
		{"no list", engine.InboundInput{Name: "x"}, "list_id"},
		{"unknown list", engine.InboundInput{Name: "x", ListID: "lst_missing"}, "list_id"},
		{"bad action", engine.InboundInput{Name: "x", ListID: l.ID, Action: "delete"}, "action"},
		{"bad method", engine.InboundInput{Name: "x", ListID: l.ID, AllowedMethods: []string{"GET", "PUT"}}, "allowed_methods[1]"},
		{"bad header name", engine.InboundInput{Name: "x", ListID: l.ID, AllowedHeaders: map[string]string{"X Source": "a"}}, "allowed_headers.X Source"},
		{"empty header value", engine.InboundInput{Name: "x", ListID: l.ID, AllowedHeaders: map[string]string{"X-Source": ""}}, "allowed_headers.X-Source"},
		{"bad IP", engine.InboundInput{Name: "x", ListID: l.ID, AllowedIPs: []string{"10.0.0.0/8", "10.0.0.300"}}, "allowed_ips[1]"},
		{"bad CIDR", engine.InboundInput{Name: "x", ListID: l.ID, AllowedIPs: []string{"2001:db8::/129"}}, "allowed_ips[0]"},
		{"reserved custom field", engine.InboundInput{Name: "x", ListID: l.ID, CustomFields: []engine.CustomField{{Key: "email"}}}, "custom_fields[0].key"},
		{"custom field twice", engine.InboundInput{Name: "x", ListID: l.ID, CustomFields: []engine.CustomField{{Key: "c3"}, {Key: "c3"}}}, "custom_fields[1].key"},
	} {
		_, err := b.e.CreateInbound(ctx, tc.in)
		var inv *engine.InvalidError
		if !errors.As(err, &inv) || inv.Field != tc.field {
			t.Errorf("%s: %v, want an invalid %s", tc.name, err, tc.field)
		}
	}
}

func TestReceiveInbound(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		f := newInboundFixture(t, st, engine.InboundInput{AllowedMethods: []string{"GET", "POST"},
			AllowedHeaders: map[string]string{"X-Source": "crm"},
			AllowedIPs:     []string{"203.0.113.0/24", "2001:db8::/32"},
			CustomFields:   []engine.CustomField{{Key: "c3", Name: "First name"}}})
		ctx := context.Background()
		w := f.hook
		key := "api-key=" + w.APIKey
		okHeaders := http.Header{"X-Source": {"crm"}}
		req := func(method, ip, query, ctype, body string, h http.Header) engine.InboundRequest {
			if h == nil {
				h = okHeaders
			}
			return engine.InboundRequest{Method: method, RemoteIP: netip.MustParseAddr(ip), Headers: h, Query: query,
				ContentType: ctype, Body: []byte(body)}
		}

		// Refusals: each is counted with its reason and writes nothing.
		for _, tc := range []struct {
			name string
			req  engine.InboundRequest
			code engine.RefusalCode
			in   string // in the message
		}{
			{"no key", req("GET", "203.0.113.7", "email=x1%40example.org", "", "", nil), engine.RefusedKey, "missing"},
			{"wrong key", req("GET", "203.0.113.7", "api-key=nope&email=x2%40example.org", "", "", nil), engine.RefusedKey, "wrong"},
			{"method", req("PUT", "203.0.113.7", key+"&email=x3%40example.org", "", "", nil), engine.RefusedMethod, "PUT"},
			{"HEAD", req("HEAD", "203.0.113.7", key+"&email=x3%40example.org", "", "", nil), engine.RefusedMethod, "HEAD"},
			{"IPv4 outside", req("GET", "198.51.100.1", key+"&email=x4%40example.org", "", "", nil), engine.RefusedIP, "198.51.100.1"},
			{"IPv6 outside", req("GET", "2001:db9::1", key+"&email=x5%40example.org", "", "", nil), engine.RefusedIP, "2001:db9::1"},
			{"header missing", req("GET", "203.0.113.7", key+"&email=x6%40example.org", "", "", http.Header{}), engine.RefusedHeader, "X-Source"},
			{"header wrong", req("GET", "203.0.113.7", key+"&email=x7%40example.org", "", "", http.Header{"X-Source": {"crmx"}}), engine.RefusedHeader, "X-Source"},
			{"unknown field", req("GET", "203.0.113.7", key+"&email=x8%40example.org&c9=1", "", "", nil), engine.RefusedPayload, "not a field"},
			{"invalid email", req("GET", "203.0.113.7", key+"&email=not-an-email", "", "", nil), engine.RefusedPayload, "not a valid email"},
			{"oversized body", req("POST", "203.0.113.7", key, "application/x-www-form-urlencoded", "email=x9%40example.org&c3="+strings.Repeat("a", 70<<10), nil), engine.RefusedPayload, "larger than"},
			{"bad base64", req("POST", "203.0.113.7", "", "application/json", `{"payload":"%%%"}`, nil), engine.RefusedPayload, "not base64"},
			{"wrong secret key", req("POST", "203.0.113.7", "", "application/json",
				`{"payload":"`+inboundtest.Payload(t, strings.Repeat("0", 64), `{"email":"x10@example.org"}`)+`"}`, nil), engine.RefusedPayload, "does not decrypt"},
		} {
			_, err := f.e.ReceiveInbound(ctx, w.ID, tc.req)
			var r *engine.RefusedError
			if !errors.As(err, &r) || r.Code != tc.code || !strings.Contains(r.Message, tc.in) {
				t.Errorf("%s: %v, want %s mentioning %q", tc.name, err, tc.code, tc.in)
			}
		}
		for i := 1; i <= 10; i++ {
			if _, err := f.st.GetContactByEmail(ctx, fmt.Sprintf("x%d@example.org", i)); !errors.Is(err, engine.ErrNotFound) {
				t.Errorf("a refused call wrote contact x%d: %v", i, err)
			}
		}
		act, err := f.e.InboundActivity(ctx, w.ID, time.Now().Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if act.Accepted != 0 || act.Refused != 13 || len(act.Refusals) != 13 || len(act.Hours) != 1 || act.Hours[0].Refused != 13 {
			t.Errorf("activity after refusals: %+v", act)
		}
		if r := act.Refusals[0]; r.Code != engine.RefusedPayload || !strings.Contains(r.Reason, "bad PKCS#7 padding") && !strings.Contains(r.Reason, "plaintext") || r.RemoteIP != "203.0.113.7" || r.Method != "POST" {
			t.Errorf("newest refusal %+v: the operator sees why", r)
		}

		// The quick way, from an IPv4 and an IPv6 address in the ranges
		// (an IPv4-mapped address counts as IPv4), in the query string,
		// a form body and a JSON body.
		for i, r := range []engine.InboundRequest{
			req("GET", "203.0.113.7", key+"&email=John%40Example.org&c3=John", "", "", nil),
			req("POST", "::ffff:203.0.113.8", "", "application/x-www-form-urlencoded", key+"&email=john%40example.org&firstname=J", nil),
			req("POST", "2001:db8::5", key, "application/json", `{"email":"john@example.org","lastname":"Doe"}`, nil),
		} {
			res, err := f.e.ReceiveInbound(ctx, w.ID, r)
			if err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
			if res.Status != "subscribed" || res.ContactID == "" || res.EventID == "" {
				t.Errorf("call %d: %+v", i, res)
			}
			ev, err := f.st.GetEvent(ctx, res.EventID)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Type != engine.EventSignup || ev.ListID != f.list.ID || ev.Data["inbound_webhook_id"] != w.ID || ev.ContactID != res.ContactID {
				t.Errorf("call %d: event %+v", i, ev)
			}
		}
		c, err := f.e.FindContact(ctx, "john@example.org")
		if err != nil {
			t.Fatal(err)
		}
		if c.Email != "john@example.org" || c.Firstname != "J" || c.Lastname != "Doe" || c.Fields["c3"] != "John" {
			t.Errorf("contact %+v", c)
		}
		lists, err := f.st.ContactLists(ctx, c.ID)
		if err != nil || !slices.Equal(lists, []string{f.list.ID}) {
			t.Errorf("lists %v %v", lists, err)
		}

		// The secure way, with a payload made by openssl (JSON, then a
		// query string); an api-key given with it must be right.
		for i, data := range []string{`{"email":"jane@example.org","c3":"Jane"}`, "email=jane%40example.org&lastname=Roe"} {
			payload := inboundtest.Payload(t, w.SecretKey, data)
			res, err := f.e.ReceiveInbound(ctx, w.ID, req("POST", "203.0.113.7", "", "application/json", `{"payload":"`+payload+`"}`, nil))
			if err != nil || res.Status != "subscribed" {
				t.Fatalf("secure call %d: %+v %v", i, res, err)
			}
		}
		jane, err := f.e.FindContact(ctx, "jane@example.org")
		if err != nil || jane.Fields["c3"] != "Jane" || jane.Lastname != "Roe" {
			t.Errorf("jane %+v %v", jane, err)
		}
		payload := inboundtest.Payload(t, w.SecretKey, `{"email":"x11@example.org"}`)
		_, err = f.e.ReceiveInbound(ctx, w.ID, req("POST", "203.0.113.7", "api-key=wrong", "application/json", `{"payload":"`+payload+`"}`, nil))
		var r *engine.RefusedError
		if !errors.As(err, &r) || r.Code != engine.RefusedKey {
			t.Errorf("secure way with a wrong api-key: %v", err)
		}

		act, err = f.e.InboundActivity(ctx, w.ID, time.Now().Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if act.Accepted != 5 || act.Refused != 14 {
			t.Errorf("activity: %d accepted, %d refused; want 5, 14", act.Accepted, act.Refused)
		}

		// Rotating the keys: the old ones stop working at once.
		rot, err := f.e.RotateInboundKeys(ctx, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.e.ReceiveInbound(ctx, w.ID, req("GET", "203.0.113.7", key+"&email=john%40example.org", "", "", nil)); !errors.As(err, &r) || r.Code != engine.RefusedKey {
			t.Errorf("old api key after rotation: %v", err)
		}
		_, err = f.e.ReceiveInbound(ctx, w.ID, req("POST", "203.0.113.7", "", "application/json", `{"payload":"`+inboundtest.Payload(t, w.SecretKey, `{"email":"john@example.org"}`)+`"}`, nil))
		if !errors.As(err, &r) || r.Code != engine.RefusedPayload {
			t.Errorf("old secret key after rotation: %v", err)
		}
		if _, err := f.e.ReceiveInbound(ctx, w.ID, req("GET", "203.0.113.7", "api-key="+rot.APIKey+"&email=john%40example.org", "", "", nil)); err != nil {
			t.Errorf("new api key: %v", err)
		}

		// Unsubscribing.
		if _, err := f.e.UpdateInbound(ctx, w.ID, engine.InboundInput{Name: "Leave", ListID: f.list.ID, Action: engine.InboundUnsubscribe}); err != nil {
			t.Fatal(err)
		}
		res, err := f.call("api-key=" + rot.APIKey + "&email=john%40example.org")
		if err != nil || res.Status != "unsubscribed" {
			t.Fatalf("unsubscribe: %+v %v", res, err)
		}
		if lists, _ := f.st.ContactLists(ctx, c.ID); len(lists) != 0 {
			t.Errorf("still subscribed to %v", lists)
		}
	})
}

// TestInboundTriggersScenario: a contact subscribed through an inbound
// webhook starts an active scenario whose trigger is that webhook, whose
// webhook step reaches a loopback receiver; another webhook's calls do not.
func TestInboundTriggersScenario(t *testing.T) {
	t.Parallel()
	storagetest.Each(t, func(t *testing.T, st *storage.Store) {
		f := newInboundFixture(t, st, engine.InboundInput{})
		ctx := context.Background()
		other, err := f.e.CreateInbound(ctx, engine.InboundInput{Name: "Other", ListID: f.list.ID})
		if err != nil {
			t.Fatal(err)
		}
		h := newHook(t)
		f.activate(t, engine.Graph{Nodes: []engine.Node{
			node("t1", "inbound_webhook", `{"inbound_webhook_id":"`+f.hook.ID+`"}`),
			node("w1", "send_webhook", `{"url":"`+h.URL+`","fields":["email"]}`),
		}, Edges: []engine.Edge{{From: "t1", To: "w1"}}}, false)
		if _, err := f.e.ReceiveInbound(ctx, other.ID, engine.InboundRequest{Method: "GET", Query: "api-key=" + other.APIKey + "&email=b%40example.org"}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.call("api-key=" + f.hook.APIKey + "&email=a%40example.org"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the webhook", func() bool { return h.n.Load() == 1 })
		time.Sleep(100 * time.Millisecond)
		if n := h.n.Load(); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
}
