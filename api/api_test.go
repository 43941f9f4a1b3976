package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sluicehq/sluice/engine"
)

func TestNewChecksConfig(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no engine", Config{APIKey: "k"}},
		{"no key", Config{Engine: b.e}},
		{"negative body limit", Config{Engine: b.e, APIKey: "k", BodyLimit: -1}},
		{"nil check", Config{Engine: b.e, APIKey: "k", Checks: map[string]func(context.Context) error{"db": nil}}},
	} {
		if _, err := New(tc.cfg); err == nil {
			t.Errorf("%s: New succeeded", tc.name)
		}
	}
}

// TestAuth: every /api/v1 route needs the bearer key; /healthz and the
// OpenAPI document do not.
func TestAuth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		name     string
		path     string
		key      *string
		header   map[string]string
		want     int
		wantCode string
	}{
		{name: "missing key", path: "/api/v1/lists", key: ptr(""), want: 401, wantCode: "unauthorized"},
		{name: "wrong key", path: "/api/v1/lists", key: ptr("nope"), want: 401, wantCode: "unauthorized"},
		{name: "key prefix", path: "/api/v1/lists", key: ptr(testKey[:5]), want: 401, wantCode: "unauthorized"},
		{name: "key with extra", path: "/api/v1/lists", key: ptr(testKey + "x"), want: 401, wantCode: "unauthorized"},
		{name: "basic scheme", path: "/api/v1/lists", key: ptr(""), header: map[string]string{"Authorization": "Basic " + testKey},
			want: 401, wantCode: "unauthorized"},
		{name: "right key", path: "/api/v1/lists", want: 200},
		{name: "lower-case scheme", path: "/api/v1/lists", key: ptr(""), header: map[string]string{"Authorization": "bearer " + testKey}, want: 200},
		{name: "unknown route needs the key too", path: "/api/v1/nope", key: ptr(""), want: 404, wantCode: "not_found"},
		{name: "every route checks", path: "/api/v1/scenarios/scn_x/stats", key: ptr("nope"), want: 401, wantCode: "unauthorized"},
		{name: "healthz is public", path: "/healthz", key: ptr(""), want: 200},
		{name: "openapi is public", path: "/api/v1/openapi.json", key: ptr(""), want: 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := b.do(t, request{method: "GET", path: tc.path, key: tc.key, header: tc.header})
			if res.status != tc.want {
				t.Fatalf("status %d, want %d: %s", res.status, tc.want, res.body)
			}
			if tc.wantCode != "" {
				if e := apiError(t, res); e.Code != tc.wantCode || e.Message == "" {
					t.Errorf("error %+v, want code %s", e, tc.wantCode)
				}
			}
			if tc.want == 401 && res.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	ok := func(context.Context) error { return nil }
	down := func(context.Context) error { return errors.New("dial tcp 127.0.0.1:6379: connection refused") }
	hang := func(context.Context) error { time.Sleep(2 * time.Second); return nil }
	for _, tc := range []struct {
		name   string
		checks map[string]func(context.Context) error
		want   int
		body   map[string]string
	}{
		{"real database and redis", nil, 200, map[string]string{"status": "ok", "database": "ok", "redis": "ok"}},
		{"redis down", map[string]func(context.Context) error{"database": ok, "redis": down}, 503,
			map[string]string{"status": "degraded", "database": "ok", "redis": "error: dial tcp 127.0.0.1:6379: connection refused"}},
		{"a check hangs", map[string]func(context.Context) error{"database": ok, "redis": hang}, 503,
			map[string]string{"status": "degraded", "database": "ok", "redis": "error: timed out after 50ms"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *Config) {
				if tc.checks != nil {
					c.Checks = tc.checks
				}
				c.CheckTimeout = 50 * time.Millisecond
			})
			res := b.do(t, request{method: "GET", path: "/healthz", key: ptr("")})
			var got map[string]string
			if err := json.Unmarshal(res.body, &got); err != nil {
				t.Fatal(err)
			}
			if res.status != tc.want {
				t.Errorf("status %d, want %d", res.status, tc.want)
			}
			if diff := cmp.Diff(tc.body, got); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

// TestErrors covers every error class: status, code and field.
func TestErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.call(t, 201, "POST", "/api/v1/contacts", map[string]any{"email": "taken@example.org"}, nil)
	node := func(extra map[string]any) map[string]any {
		n := map[string]any{"id": "t1", "type": "signup"}
		for k, v := range extra {
			n[k] = v
		}
		return n
	}
	for _, tc := range []struct {
		name   string
		method string
		path   string
		body   any
		want   int
		code   string
		field  string
		msg    string // a part of the message, when it matters
	}{
		{"malformed JSON", "POST", "/api/v1/lists", `{"name":`, 400, "bad_request", "", "malformed JSON"},
		{"syntax error", "POST", "/api/v1/lists", `{"name" "x"}`, 400, "bad_request", "", "malformed JSON at byte"},
		{"empty body", "POST", "/api/v1/contacts", "", 400, "bad_request", "", "needs a JSON body"},
		{"trailing data", "POST", "/api/v1/lists", `{"name":"a"} {"name":"b"}`, 400, "bad_request", "", "after the JSON value"},
		{"not an object", "POST", "/api/v1/lists", `["a"]`, 400, "bad_request", "", "must be an object, not an array"},
		{"wrong type", "POST", "/api/v1/contacts", `{"email":5}`, 400, "bad_request", "email", "email must be a string, not a number"},
		{"wrong type in a map", "POST", "/api/v1/contacts", `{"email":"a@example.org","dates":{"birthday":19900501}}`,
			400, "bad_request", "dates.birthday", "must be a string"},
		{"wrong type deep in an array", "POST", "/api/v1/scenarios",
			map[string]any{"name": "S", "graph": map[string]any{"nodes": []any{node(nil), node(map[string]any{"id": 7})}}},
			400, "bad_request", "graph.nodes[1].id", "must be a string, not a number"},
		{"number out of range", "POST", "/api/v1/scenarios",
			`{"name":"S","graph":{"nodes":[{"id":"t1","type":"signup","position":{"x":1e999,"y":0}}]}}`,
			400, "bad_request", "graph.nodes[0].position.x", "in range"},
		{"unknown field", "POST", "/api/v1/contacts", `{"emial":"a@example.org"}`, 400, "bad_request", "emial", "not a known field"},
		{"unknown nested field", "POST", "/api/v1/scenarios",
			map[string]any{"name": "S", "graph": map[string]any{"nodes": []any{node(map[string]any{"colour": "red"})}}},
			400, "bad_request", "graph.nodes[0].colour", "not a known field"},
		{"bad time", "POST", "/api/v1/contacts", `{"email":"a@example.org","consent_given_at":"yesterday"}`,
			400, "bad_request", "consent_given_at", "RFC 3339"},
		{"not found", "GET", "/api/v1/contacts/ctc_nope", nil, 404, "not_found", "", `no contact "ctc_nope"`},
		{"scenario not found", "POST", "/api/v1/scenarios/scn_nope/activate", nil, 404, "not_found", "", `no scenario "scn_nope"`},
		{"unknown route", "GET", "/api/v1/nope", nil, 404, "not_found", "", "no route GET /api/v1/nope"},
		{"method not allowed", "DELETE", "/api/v1/lists", nil, 405, "method_not_allowed", "", "allowed: "},
		{"duplicate email", "POST", "/api/v1/contacts", map[string]any{"email": "taken@example.org"}, 409, "conflict", "", "taken@example.org"},
		{"invalid email", "POST", "/api/v1/contacts", map[string]any{"email": "not-an-email"}, 422, "validation_failed", "email", ""},
		{"invalid custom field", "POST", "/api/v1/contacts", map[string]any{"email": "b@example.org", "fields": map[string]any{"email": "x"}},
			422, "validation_failed", "fields.email", ""},
		{"empty list name", "POST", "/api/v1/lists", map[string]any{"name": " "}, 422, "validation_failed", "name", ""},
		{"scenario without name", "POST", "/api/v1/scenarios", map[string]any{"graph": map[string]any{}}, 422, "validation_failed", "name", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := b.do(t, request{method: tc.method, path: tc.path, body: tc.body})
			if res.status != tc.want {
				t.Fatalf("status %d, want %d: %s", res.status, tc.want, res.body)
			}
			if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			e := apiError(t, res)
			if diff := cmp.Diff(errorDetail{Code: tc.code, Field: tc.field}, e, cmpopts.IgnoreFields(errorDetail{}, "Message")); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if e.Message == "" || !strings.Contains(e.Message, tc.msg) {
				t.Errorf("message %q, want it to contain %q", e.Message, tc.msg)
			}
		})
	}
}

// TestBodyLimit: a body over the limit is a 413 with the JSON error; one
// at the limit is read (and judged on its content).
func TestBodyLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.BodyLimit = 0 }) // the 1 MiB default
	for _, path := range []string{"/api/v1/lists", "/api/v1/events/batch", "/api/v1/scenarios"} {
		res := b.oversized(t, "POST", path, DefaultBodyLimit+1)
		if res.status != 413 {
			t.Fatalf("POST %s: %d %s", path, res.status, res.body)
		}
		want := errorDetail{Code: "payload_too_large", Message: "the request body is larger than 1048576 bytes"}
		if diff := cmp.Diff(want, apiError(t, res)); diff != "" {
			t.Errorf("POST %s (-want +got):\n%s", path, diff)
		}
	}
	name := strings.Repeat("x", DefaultBodyLimit-len(`{"name":""}`))
	res := b.do(t, request{method: "POST", path: "/api/v1/lists", body: map[string]any{"name": name}})
	if e := apiError(t, res); res.status != 422 || e.Field != "name" {
		t.Errorf("a body of exactly 1 MiB: %d %+v", res.status, e)
	}

	small := setup(t, func(c *Config) { c.BodyLimit = 64 })
	res = small.oversized(t, "POST", "/api/v1/contacts", 65)
	if e := apiError(t, res); res.status != 413 || e.Message != "the request body is larger than 64 bytes" {
		t.Errorf("BodyLimit 64: %d %+v", res.status, e)
	}
}

// TestInvalidGraphProblems: validate and activate list every problem of an
// invalid graph in one 422.
func TestInvalidGraphProblems(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sc := b.scenario(t, "Broken", map[string]any{
		"nodes": []map[string]any{
			{"id": "t1", "type": "signup"},
			{"id": "w1", "type": "send_webhook", "config": map[string]any{"url": "not a url"}},
			{"id": "x1", "type": "teleport"},
			{"id": "c1", "type": "condition", "config": map[string]any{"expression": "contact.c3 == \"pro\""}},
		},
		"edges": []map[string]any{{"from": "t1", "to": "w1"}, {"from": "w1", "to": "ghost"}, {"from": "t1", "to": "c1"}},
	})
	want := []engine.Problem{
		{Node: "w1", Field: "config.url"},
		{Node: "x1", Field: "type"},
		{Node: "w1", Field: "graph.edges[1].to"},
		{Node: "c1", Field: "edges"}, // needs a "yes" edge
		{Node: "c1", Field: "edges"}, // and a "no" edge
		{Node: "x1"},                 // no trigger reaches it
	}
	sortProblems := cmpopts.SortSlices(func(a, b engine.Problem) bool {
		return a.Node+"|"+a.Field+"|"+a.Message < b.Node+"|"+b.Field+"|"+b.Message
	})
	for _, action := range []string{"validate", "activate"} {
		t.Run(action, func(t *testing.T) {
			res := b.do(t, request{method: "POST", path: "/api/v1/scenarios/" + sc.ID + "/" + action})
			if res.status != 422 {
				t.Fatalf("status %d: %s", res.status, res.body)
			}
			var got problemsBody
			if err := json.Unmarshal(res.body, &got); err != nil {
				t.Fatal(err)
			}
			if got.Valid || got.Error.Code != "validation_failed" || got.Error.Field != "graph" || got.Error.Message == "" {
				t.Errorf("valid %v, error %+v", got.Valid, got.Error)
			}
			for _, p := range got.Problems {
				if p.Message == "" {
					t.Errorf("problem without a message: %+v", p)
				}
			}
			if diff := cmp.Diff(want, got.Problems, sortProblems, cmpopts.IgnoreFields(engine.Problem{}, "Message")); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
	var v engine.ScenarioView
	b.call(t, 200, "GET", "/api/v1/scenarios/"+sc.ID, nil, &v)
	if v.Status != engine.StatusDraft {
		t.Errorf("an invalid scenario was activated: %s", v.Status)
	}
}

func TestLists(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var empty listsPage
	b.call(t, 200, "GET", "/api/v1/lists", nil, &empty)
	if empty.Lists == nil || len(empty.Lists) != 0 {
		t.Errorf("no lists: %+v (want [])", empty)
	}
	var l engine.List
	b.call(t, 201, "POST", "/api/v1/lists", map[string]any{"name": "Newsletter"}, &l)
	if !strings.HasPrefix(l.ID, "lst_") || l.Name != "Newsletter" || l.CreatedAt.IsZero() {
		t.Errorf("created %+v", l)
	}
	var one engine.List
	b.call(t, 200, "GET", "/api/v1/lists/"+l.ID, nil, &one)
	var all listsPage
	b.call(t, 200, "GET", "/api/v1/lists", nil, &all)
	if diff := cmp.Diff(l, one, storedTime()); diff != "" {
		t.Errorf("GET one (-created +got):\n%s", diff)
	}
	if diff := cmp.Diff([]engine.List{l}, all.Lists, storedTime()); diff != "" {
		t.Errorf("GET all (-want +got):\n%s", diff)
	}
	if e := apiError(t, b.do(t, request{method: "GET", path: "/api/v1/lists/lst_nope"})); e.Code != "not_found" {
		t.Errorf("unknown list: %+v", e)
	}
}

func TestContacts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ignore := cmpopts.IgnoreFields(engine.Contact{}, "ID", "CreatedAt", "UpdatedAt")
	var c engine.Contact
	b.call(t, 201, "POST", "/api/v1/contacts", map[string]any{"email": "Ada@example.org", "firstname": "Ada", "lastname": "Lovelace",
		"fields": map[string]any{"c3": "pro", "seats": 3}, "dates": map[string]any{"birthday": "1990-05-01"}}, &c)
	want := engine.Contact{Email: "Ada@example.org", Firstname: "Ada", Lastname: "Lovelace",
		Fields: map[string]any{"c3": "pro", "seats": float64(3)}, Dates: map[string]string{"birthday": "1990-05-01"}, Groups: []string{}}
	if diff := cmp.Diff(want, c, ignore); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(c.ID, "ctc_") || c.CreatedAt.IsZero() {
		t.Errorf("id %q, created_at %v", c.ID, c.CreatedAt)
	}

	for _, path := range []string{"/api/v1/contacts/" + c.ID, "/api/v1/contacts?email=ada@EXAMPLE.org", "/api/v1/contacts?email=%20Ada@example.org%20"} {
		var got engine.Contact
		b.call(t, 200, "GET", path, nil, &got)
		if diff := cmp.Diff(c, got, storedTime()); diff != "" {
			t.Errorf("GET %s (-want +got):\n%s", path, diff)
		}
	}
	for _, tc := range []struct {
		path  string
		want  int
		field string
	}{
		{"/api/v1/contacts", 400, "email"},
		{"/api/v1/contacts?email=", 400, "email"},
		{"/api/v1/contacts?email=nobody@example.org", 404, ""},
	} {
		res := b.do(t, request{method: "GET", path: tc.path})
		if e := apiError(t, res); res.status != tc.want || e.Field != tc.field {
			t.Errorf("GET %s: %d %+v, want %d field %q", tc.path, res.status, e, tc.want, tc.field)
		}
	}

	// PATCH merges: what is left out stays.
	var patched engine.Contact
	b.call(t, 200, "PATCH", "/api/v1/contacts/"+c.ID, map[string]any{"firstname": "Augusta", "fields": map[string]any{"c4": "x"}}, &patched)
	want.Firstname, want.Fields = "Augusta", map[string]any{"c3": "pro", "seats": float64(3), "c4": "x"}
	if diff := cmp.Diff(want, patched, ignore); diff != "" {
		t.Errorf("PATCH (-want +got):\n%s", diff)
	}
	// PUT replaces: what is left out is cleared.
	var replaced engine.Contact
	b.call(t, 200, "PUT", "/api/v1/contacts/"+c.ID, map[string]any{"email": "ada@example.org", "firstname": "Ada"}, &replaced)
	want = engine.Contact{Email: "ada@example.org", Firstname: "Ada", Fields: map[string]any{}, Dates: map[string]string{}, Groups: []string{}}
	if diff := cmp.Diff(want, replaced, ignore); diff != "" {
		t.Errorf("PUT (-want +got):\n%s", diff)
	}
	if replaced.ID != c.ID || !replaced.UpdatedAt.After(c.UpdatedAt) && !replaced.UpdatedAt.Equal(c.UpdatedAt) {
		t.Errorf("PUT changed id or time: %+v", replaced)
	}

	b.call(t, 201, "POST", "/api/v1/contacts", map[string]any{"email": "bob@example.org"}, nil)
	for _, tc := range []struct {
		name, method, path string
		body               any
		want               int
		field              string
	}{
		{"duplicate email, other case", "POST", "/api/v1/contacts", map[string]any{"email": "BOB@example.org"}, 409, ""},
		{"PATCH to a taken email", "PATCH", "/api/v1/contacts/" + c.ID, map[string]any{"email": "bob@example.org"}, 409, ""},
		{"PUT without email", "PUT", "/api/v1/contacts/" + c.ID, map[string]any{"firstname": "A"}, 422, "email"},
		{"PATCH unknown contact", "PATCH", "/api/v1/contacts/ctc_nope", map[string]any{"firstname": "A"}, 404, ""},
		{"PUT unknown contact", "PUT", "/api/v1/contacts/ctc_nope", map[string]any{"email": "z@example.org"}, 404, ""},
		{"PATCH bad date", "PATCH", "/api/v1/contacts/" + c.ID, map[string]any{"dates": map[string]any{"birthday": "May 1st"}}, 422, "dates.birthday"},
		{"PATCH bad timezone", "PATCH", "/api/v1/contacts/" + c.ID, map[string]any{"timezone": "Mars/Olympus"}, 422, "timezone"},
		{"PATCH wrong type", "PATCH", "/api/v1/contacts/" + c.ID, map[string]any{"groups": "vip"}, 400, "groups"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := b.do(t, request{method: tc.method, path: tc.path, body: tc.body})
			if e := apiError(t, res); res.status != tc.want || e.Field != tc.field {
				t.Errorf("%d %+v, want %d field %q", res.status, e, tc.want, tc.field)
			}
		})
	}
}

func TestEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	listID := b.list(t, "Newsletter")
	var acc eventAccepted
	b.call(t, 202, "POST", "/api/v1/events", map[string]any{"type": "signup", "email": "eve@example.org", "list_id": listID,
		"contact": map[string]any{"firstname": "Eve", "fields": map[string]any{"c3": "pro"}}, "data": map[string]any{"source": "form"}}, &acc)
	if !strings.HasPrefix(acc.EventID, "evt_") {
		t.Errorf("event id %q", acc.EventID)
	}
	var c engine.Contact
	b.call(t, 200, "GET", "/api/v1/contacts?email=eve@example.org", nil, &c)
	if c.Firstname != "Eve" || c.Fields["c3"] != "pro" {
		t.Errorf("the event's contact: %+v", c)
	}
	// The contact comes from contact.email when email is left out.
	b.call(t, 202, "POST", "/api/v1/events", map[string]any{"type": "custom.thing", "contact": map[string]any{"email": "fred@example.org"}}, nil)
	b.call(t, 200, "GET", "/api/v1/contacts?email=fred@example.org", nil, nil)

	for _, tc := range []struct {
		name  string
		body  any
		want  int
		field string
	}{
		{"bad type", map[string]any{"type": "Sign Up", "email": "a@example.org"}, 422, "type"},
		{"no email", map[string]any{"type": "signup"}, 422, "email"},
		{"bad email", map[string]any{"type": "signup", "email": "a@"}, 422, "email"},
		{"unknown list", map[string]any{"type": "signup", "email": "a@example.org", "list_id": "lst_nope"}, 422, "list_id"},
		{"contact email differs", map[string]any{"type": "signup", "email": "a@example.org", "contact": map[string]any{"email": "b@example.org"}},
			422, "contact.email"},
		{"bad contact field", map[string]any{"type": "signup", "email": "a@example.org", "contact": map[string]any{"fields": map[string]any{"bad name": 1}}},
			422, "contact.fields.bad name"},
		{"data of the wrong type", `{"type":"signup","email":"a@example.org","data":[1]}`, 400, "data"},
		{"unknown field", `{"type":"signup","email":"a@example.org","list":"x"}`, 400, "list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := b.do(t, request{method: "POST", path: "/api/v1/events", body: tc.body})
			if e := apiError(t, res); res.status != tc.want || e.Field != tc.field {
				t.Errorf("%d %+v, want %d field %q", res.status, e, tc.want, tc.field)
			}
		})
	}
	res := b.do(t, request{method: "GET", path: "/api/v1/contacts?email=a@example.org"})
	if res.status != 404 {
		t.Errorf("a refused event wrote its contact: %d %s", res.status, res.body)
	}
}

func TestEventsBatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	listID := b.list(t, "Newsletter")
	body := `{"events":[
		{"type":"signup","email":"one@example.org","list_id":"` + listID + `"},
		{"type":"signup","email":"not an email"},
		{"type":"signup","email":5},
		{"type":"signup","email":"three@example.org","list_id":"lst_nope"},
		{"type":"open","email":"four@example.org","data":{"url":"https://example.org"}},
		{"type":"signup","email":"five@example.org","colour":"red"}
	]}`
	var got batchResult
	b.call(t, 202, "POST", "/api/v1/events/batch", body, &got)
	if len(got.Accepted) != 2 {
		t.Fatalf("accepted %+v", got.Accepted)
	}
	for i, idx := range []int{0, 4} {
		if got.Accepted[i].Index != idx || !strings.HasPrefix(got.Accepted[i].EventID, "evt_") {
			t.Errorf("accepted[%d] = %+v, want index %d", i, got.Accepted[i], idx)
		}
	}
	wantRefused := []batchRefused{
		{Index: 1, Error: errorDetail{Code: "validation_failed", Field: "email"}},
		{Index: 2, Error: errorDetail{Code: "bad_request", Field: "email"}},
		{Index: 3, Error: errorDetail{Code: "validation_failed", Field: "list_id"}},
		{Index: 5, Error: errorDetail{Code: "bad_request", Field: "colour"}},
	}
	if diff := cmp.Diff(wantRefused, got.Refused, cmpopts.IgnoreFields(errorDetail{}, "Message")); diff != "" {
		t.Errorf("refused (-want +got):\n%s", diff)
	}
	for _, r := range got.Refused {
		if r.Error.Message == "" {
			t.Errorf("refusal without a message: %+v", r)
		}
	}
	for _, email := range []string{"one@example.org", "four@example.org"} {
		b.call(t, 200, "GET", "/api/v1/contacts?email="+email, nil, nil)
	}

	many := make([]map[string]any, engine.MaxBatch+1)
	for i := range many {
		many[i] = map[string]any{"type": "open", "email": "x@example.org"}
	}
	for _, tc := range []struct {
		name  string
		body  any
		want  int
		field string
	}{
		{"more than 1,000 events", map[string]any{"events": many}, 422, "events"},
		{"no events", map[string]any{"events": []any{}}, 422, "events"},
		{"events missing", map[string]any{}, 422, "events"},
		{"events not an array", map[string]any{"events": map[string]any{}}, 400, "events"},
		{"unknown top-level field", map[string]any{"events": []any{}, "more": 1}, 400, "more"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := b.do(t, request{method: "POST", path: "/api/v1/events/batch", body: tc.body})
			if e := apiError(t, res); res.status != tc.want || e.Field != tc.field {
				t.Errorf("%d %+v, want %d field %q", res.status, e, tc.want, tc.field)
			}
		})
	}
	var all batchResult
	b.call(t, 202, "POST", "/api/v1/events/batch", map[string]any{"events": many[:engine.MaxBatch]}, &all)
	if len(all.Accepted) != engine.MaxBatch || len(all.Refused) != 0 {
		t.Errorf("a full batch: %d accepted, %d refused", len(all.Accepted), len(all.Refused))
	}
}

func TestScenarioLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	listID := b.list(t, "L")
	graph := webhookGraph(listID, "https://example.org/hook")
	var created engine.ScenarioView
	b.call(t, 201, "POST", "/api/v1/scenarios", map[string]any{"name": " Welcome ", "allow_reentry": true, "graph": graph}, &created)
	if !strings.HasPrefix(created.ID, "scn_") || created.Name != "Welcome" || created.Status != engine.StatusDraft ||
		created.Version != 1 || created.ActiveVersion != 0 || !created.AllowReentry || !strings.HasPrefix(created.SigningSecret, "whsec_") {
		t.Errorf("created %+v", created.Scenario)
	}
	var wantGraph engine.Graph
	raw, _ := json.Marshal(graph)
	if err := json.Unmarshal(raw, &wantGraph); err != nil {
		t.Fatal(err)
	}
	graphOpts := cmp.Comparer(func(a, b json.RawMessage) bool { return jsonEqual(a, b) })
	if diff := cmp.Diff(wantGraph, created.Graph, graphOpts); diff != "" {
		t.Errorf("graph (-sent +got):\n%s", diff)
	}
	id := created.ID
	path := "/api/v1/scenarios/" + id

	var got engine.ScenarioView
	b.call(t, 200, "GET", path, nil, &got)
	if diff := cmp.Diff(created, got, graphOpts, storedTime()); diff != "" {
		t.Errorf("GET (-created +got):\n%s", diff)
	}
	var page scenariosPage
	b.call(t, 200, "GET", "/api/v1/scenarios", nil, &page)
	if len(page.Scenarios) != 1 || page.Scenarios[0].ID != id || page.Scenarios[0].Reached != 0 {
		t.Errorf("list %+v", page)
	}

	// PUT saves version 2; version 1 keeps its graph.
	graph2 := webhookGraph(listID, "https://example.org/hook2")
	var saved engine.ScenarioView
	b.call(t, 200, "PUT", path, map[string]any{"name": "Welcome 2", "graph": graph2}, &saved)
	if saved.Version != 2 || saved.Name != "Welcome 2" || !saved.AllowReentry {
		t.Errorf("saved %+v", saved.Scenario)
	}
	var v1, v1q engine.ScenarioView
	b.call(t, 200, "GET", path+"/versions/1", nil, &v1)
	b.call(t, 200, "GET", path+"?version=1", nil, &v1q)
	if diff := cmp.Diff(wantGraph, v1.Graph, graphOpts); diff != "" {
		t.Errorf("version 1 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(v1, v1q, graphOpts); diff != "" {
		t.Errorf("?version=1 differs from /versions/1:\n%s", diff)
	}
	for _, tc := range []struct {
		path  string
		want  int
		field string
	}{
		{path + "/versions/9", 404, ""},
		{path + "/versions/x", 400, "n"},
		{path + "/versions/0", 422, "n"},
		{path + "?version=x", 400, "version"},
		{path + "?version=0", 422, "version"},
		{"/api/v1/scenarios/scn_nope/versions/1", 404, ""},
	} {
		res := b.do(t, request{method: "GET", path: tc.path})
		if e := apiError(t, res); res.status != tc.want || e.Field != tc.field {
			t.Errorf("GET %s: %d %+v, want %d field %q", tc.path, res.status, e, tc.want, tc.field)
		}
	}

	var valid map[string]any
	b.call(t, 200, "POST", path+"/validate", nil, &valid)
	if diff := cmp.Diff(map[string]any{"valid": true}, valid); diff != "" {
		t.Errorf("validate (-want +got):\n%s", diff)
	}

	steps := []struct {
		method, action string
		want           int
		status         engine.ScenarioStatus
	}{
		{"POST", "/activate", 200, engine.StatusActive},
		{"DELETE", "", 409, ""}, // an active scenario cannot be deleted
		{"POST", "/pause", 200, engine.StatusPaused},
		{"POST", "/pause", 409, ""}, // only an active one pauses
		{"POST", "/activate", 200, engine.StatusActive},
		{"POST", "/archive", 200, engine.StatusArchived},
	}
	for _, s := range steps {
		res := b.do(t, request{method: s.method, path: path + s.action})
		if res.status != s.want {
			t.Fatalf("%s %s: %d, want %d: %s", s.method, s.action, res.status, s.want, res.body)
		}
		if s.want != 200 {
			if e := apiError(t, res); e.Code != "conflict" {
				t.Errorf("%s %s: %+v", s.method, s.action, e)
			}
			continue
		}
		var v engine.ScenarioView
		if err := json.Unmarshal(res.body, &v); err != nil {
			t.Fatal(err)
		}
		if v.Status != s.status {
			t.Errorf("%s %s: status %s, want %s", s.method, s.action, v.Status, s.status)
		}
		if s.action == "/activate" && (v.ActiveVersion != 2 || v.ActivatedAt == nil) {
			t.Errorf("activate: active version %d, activated at %v", v.ActiveVersion, v.ActivatedAt)
		}
	}
	if e := apiError(t, b.do(t, request{method: "PUT", path: path, body: map[string]any{"name": "X", "graph": graph}})); e.Code != "conflict" {
		t.Errorf("PUT archived: %+v", e)
	}

	var rotated engine.ScenarioView
	b.call(t, 200, "POST", path+"/rotate-secret", nil, &rotated)
	if rotated.SigningSecret == created.SigningSecret || !strings.HasPrefix(rotated.SigningSecret, "whsec_") {
		t.Errorf("rotated secret %q (was %q)", rotated.SigningSecret, created.SigningSecret)
	}

	res := b.do(t, request{method: "DELETE", path: path})
	if res.status != 204 || len(res.body) != 0 {
		t.Fatalf("DELETE: %d %s", res.status, res.body)
	}
	for _, p := range []string{path, path + "/stats"} {
		if e := apiError(t, b.do(t, request{method: "GET", path: p})); e.Code != "not_found" {
			t.Errorf("GET %s after DELETE: %+v", p, e)
		}
	}
	if e := apiError(t, b.do(t, request{method: "DELETE", path: path})); e.Code != "not_found" {
		t.Errorf("DELETE twice: %+v", e)
	}
}

// TestStatsAndDeliveries runs a scenario end to end: an event in, its step
// run from the queue, the webhook delivered, then the step's counters and
// delivery log read back through the API.
func TestStatsAndDeliveries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rc := receiver(t)
	listID := b.list(t, "L")
	sc := b.scenario(t, "Welcome", webhookGraph(listID, rc.URL+"/hook"))
	b.call(t, 200, "POST", "/api/v1/scenarios/"+sc.ID+"/activate", nil, nil)
	for _, email := range []string{"one@example.org", "two@example.org"} {
		b.call(t, 202, "POST", "/api/v1/events", map[string]any{"type": "signup", "email": email, "list_id": listID,
			"contact": map[string]any{"firstname": "A", "fields": map[string]any{"c3": "pro"}}}, nil)
	}
	if n := b.drain(t); n != 2 {
		t.Errorf("ran %d tasks, want 2", n)
	}
	base := "/api/v1/scenarios/" + sc.ID

	var st engine.ScenarioStats
	b.call(t, 200, "GET", base+"/stats", nil, &st)
	want := engine.ScenarioStats{ScenarioID: sc.ID, Version: 1, Versions: []int{1}, Steps: []engine.StepStatsView{
		{StepStats: engine.StepStats{NodeID: "t1", Type: "signup", Reached: 2}},
		{StepStats: engine.StepStats{NodeID: "w1", Type: "send_webhook", Reached: 2, Accepted: 2, Attempts: 2}},
	}}
	ignoreLatency := cmpopts.IgnoreFields(engine.StepStatsView{}, "LatencyMS")
	if diff := cmp.Diff(want, st, ignoreLatency); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if st.Steps[1].LatencyMS == nil {
		t.Error("no latency percentiles for the webhook step")
	}
	var hourly engine.ScenarioStats
	b.call(t, 200, "GET", base+"/stats?version=1&bucket=hour", nil, &hourly)
	if len(hourly.Steps) != 2 || len(hourly.Steps[1].Hourly) != 1 || hourly.Steps[1].Hourly[0].Accepted != 2 {
		t.Errorf("hourly stats: %+v", hourly.Steps)
	}

	var page deliveryPage
	b.call(t, 200, "GET", base+"/steps/w1/deliveries", nil, &page)
	if len(page.Deliveries) != 2 || page.NextCursor != "" {
		t.Fatalf("deliveries: %+v", page)
	}
	d := page.Deliveries[0]
	if d.Status != engine.DeliveryAccepted || d.NodeID != "w1" || d.URL != rc.URL+"/hook" || len(d.AttemptLog) != 1 {
		t.Errorf("delivery %+v", d)
	}
	a := d.AttemptLog[0]
	if a.StatusCode != 200 || a.ResponseBody != `{"received":true}` || a.RequestBody != string(d.Body) || !json.Valid(d.Body) {
		t.Errorf("attempt %+v; body %s", a, d.Body)
	}
	var body map[string]any
	if err := json.Unmarshal(d.Body, &body); err != nil || body["event"] != engine.WebhookEventName || body["id"] != d.MessageID {
		t.Errorf("delivery body %s", d.Body)
	}

	// Pages of one, following next_cursor.
	var p1, p2 deliveryPage
	b.call(t, 200, "GET", base+"/steps/w1/deliveries?limit=1&status=accepted", nil, &p1)
	if len(p1.Deliveries) != 1 || p1.NextCursor == "" {
		t.Fatalf("page 1: %+v", p1)
	}
	b.call(t, 200, "GET", base+"/steps/w1/deliveries?limit=1&status=accepted&cursor="+p1.NextCursor, nil, &p2)
	if len(p2.Deliveries) != 1 || p2.NextCursor != "" || p2.Deliveries[0].ID == p1.Deliveries[0].ID {
		t.Errorf("page 2: %+v", p2)
	}
	var pending deliveryPage
	b.call(t, 200, "GET", base+"/steps/w1/deliveries?status=pending&version=1", nil, &pending)
	if pending.Deliveries == nil || len(pending.Deliveries) != 0 {
		t.Errorf("pending deliveries: %+v (want [])", pending)
	}
	var list scenariosPage
	b.call(t, 200, "GET", "/api/v1/scenarios", nil, &list)
	if len(list.Scenarios) != 1 || list.Scenarios[0].Reached != 2 || list.Scenarios[0].LastActivity == nil {
		t.Errorf("scenario list: %+v", list.Scenarios)
	}
}

// TestQueryParams: bad query parameters are 400 (not a number) or 422 (out
// of range, not one of the values) naming the parameter.
func TestQueryParams(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sc := b.scenario(t, "S", webhookGraph("", "https://example.org/hook"))
	stats := "/api/v1/scenarios/" + sc.ID + "/stats"
	dels := "/api/v1/scenarios/" + sc.ID + "/steps/w1/deliveries"
	for _, tc := range []struct {
		path  string
		want  int
		field string
	}{
		{stats + "?version=abc", 400, "version"},
		{stats + "?version=1.5", 400, "version"},
		{stats + "?version=0", 422, "version"},
		{stats + "?version=-3", 422, "version"},
		{stats + "?version=99999999999", 422, "version"},
		{stats + "?version=7", 404, ""},
		{stats + "?bucket=day", 422, "bucket"},
		{stats + "?bucket=hour", 200, ""},
		{stats, 200, ""},
		{dels + "?limit=0", 422, "limit"},
		{dels + "?limit=501", 422, "limit"},
		{dels + "?limit=ten", 400, "limit"},
		{dels + "?limit=500", 200, ""},
		{dels + "?limit=1", 200, ""},
		{dels + "?status=done", 422, "status"},
		{dels + "?status=failed", 200, ""},
		{dels + "?version=x", 400, "version"},
		{dels + "?cursor=dlv_nope", 200, ""},
		{"/api/v1/scenarios/scn_nope/steps/w1/deliveries", 404, ""},
	} {
		t.Run(strings.TrimPrefix(tc.path, "/api/v1/scenarios/"+sc.ID), func(t *testing.T) {
			res := b.do(t, request{method: "GET", path: tc.path})
			if res.status != tc.want {
				t.Fatalf("status %d, want %d: %s", res.status, tc.want, res.body)
			}
			if tc.want != 200 {
				if e := apiError(t, res); e.Field != tc.field {
					t.Errorf("error %+v, want field %q", e, tc.field)
				}
			}
		})
	}
}

func TestWebhookTest(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rc := receiver(t)
	closed := receiver(t)
	closed.Close()
	var ct engine.Contact
	b.call(t, 201, "POST", "/api/v1/contacts", map[string]any{"email": "kim@example.org", "firstname": "Kim"}, &ct)

	for _, tc := range []struct {
		name     string
		body     map[string]any
		ok       bool
		status   int
		errMatch string
	}{
		{"reachable", map[string]any{"url": rc.URL + "/ok", "headers": map[string]any{"X-Name": "{{ contact.firstname }}"},
			"data": map[string]any{"k": "v"}, "fields": []string{"email", "firstname"}}, true, 200, ""},
		{"chosen contact", map[string]any{"url": rc.URL + "/ok", "contact_id": ct.ID, "fields": []string{"firstname"}}, true, 200, ""},
		{"answers 500", map[string]any{"url": rc.URL + "/bad"}, false, 500, "500"},
		{"unreachable", map[string]any{"url": closed.URL + "/x"}, false, 0, "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var res engine.TestResult
			b.call(t, 200, "POST", "/api/v1/webhooks/test", tc.body, &res)
			if res.OK != tc.ok || res.StatusCode != tc.status || !strings.Contains(res.Error, tc.errMatch) || (tc.errMatch != "") == (res.Error == "") {
				t.Errorf("result %+v", res)
			}
			if !strings.Contains(res.Request.Body, `"id":"test_evt_`) || res.Request.Method != "POST" {
				t.Errorf("request %+v", res.Request)
			}
		})
	}
	var named engine.TestResult
	b.call(t, 200, "POST", "/api/v1/webhooks/test", map[string]any{"url": rc.URL + "/ok", "contact_id": ct.ID,
		"headers": map[string]any{"X-Name": "{{ contact.firstname }}"}}, &named)
	if named.Request.Headers["X-Name"] != "Kim" {
		t.Errorf("placeholder for the chosen contact: %+v", named.Request.Headers)
	}

	for _, tc := range []struct {
		name  string
		body  any
		want  int
		field string
	}{
		{"bad url", map[string]any{"url": "not a url"}, 422, "url"},
		{"no url", map[string]any{}, 422, "url"},
		{"bad method", map[string]any{"url": rc.URL, "method": "BREW"}, 422, "method"},
		{"unknown contact", map[string]any{"url": rc.URL, "contact_id": "ctc_nope"}, 422, "contact_id"},
		{"unknown field", map[string]any{"url": rc.URL, "body": "x"}, 400, "body"},
		{"headers of the wrong type", map[string]any{"url": rc.URL, "headers": []string{"a"}}, 400, "headers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := b.do(t, request{method: "POST", path: "/api/v1/webhooks/test", body: tc.body})
			if e := apiError(t, res); res.status != tc.want || e.Field != tc.field {
				t.Errorf("%d %+v, want %d field %q", res.status, e, tc.want, tc.field)
			}
		})
	}
}

func TestNodeTypes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res := b.do(t, request{method: "GET", path: "/api/v1/node-types"})
	if res.status != 200 {
		t.Fatalf("%d %s", res.status, res.body)
	}
	var got struct {
		NodeTypes []map[string]any `json:"node_types"`
	}
	if err := json.Unmarshal(res.body, &got); err != nil {
		t.Fatal(err)
	}
	var want []map[string]any
	raw, _ := json.Marshal(b.e.NodeTypes())
	_ = json.Unmarshal(raw, &want)
	if diff := cmp.Diff(want, got.NodeTypes); diff != "" {
		t.Errorf("node types (-engine +api):\n%s", diff)
	}
	types := map[string]bool{}
	for _, nt := range got.NodeTypes {
		types[nt["type"].(string)] = true
		if _, ok := nt["schema"].(map[string]any); !ok {
			t.Errorf("%v: schema %v", nt["type"], nt["schema"])
		}
	}
	for _, name := range []string{"signup", "send_webhook", "wait", "condition", "end"} {
		if !types[name] {
			t.Errorf("no %s node type", name)
		}
	}
}

// TestRoot: "/" points to the API without a front end; with one, the front
// end serves every path but /api and /healthz.
func TestRoot(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var info rootInfo
	res := b.do(t, request{method: "GET", path: "/", key: ptr("")})
	if res.status != 200 || json.Unmarshal(res.body, &info) != nil || info.API != "/api/v1" || info.OpenAPI != "/api/v1/openapi.json" {
		t.Errorf("GET /: %d %s", res.status, res.body)
	}

	spa := setup(t, func(c *Config) {
		c.Frontend = func(c *fiber.Ctx) error { return c.SendString("spa " + c.Path()) }
	})
	for _, tc := range []struct {
		path string
		want int
		body string
	}{
		{"/", 200, "spa /"},
		{"/scenarios/scn_1/edit", 200, "spa /scenarios/scn_1/edit"},
		{"/healthz", 200, ""},
		{"/api/v1/nope", 404, ""},
		{"/api/nope", 404, ""},
	} {
		res := spa.do(t, request{method: "GET", path: tc.path})
		if res.status != tc.want || (tc.body != "" && string(res.body) != tc.body) {
			t.Errorf("GET %s: %d %s", tc.path, res.status, res.body)
		}
		if tc.want == 404 {
			if e := apiError(t, res); e.Code != "not_found" {
				t.Errorf("GET %s: %+v", tc.path, e)
			}
		}
	}
	if res := spa.do(t, request{method: "DELETE", path: "/api/v1/lists"}); res.status != 405 {
		t.Errorf("DELETE /api/v1/lists behind a front end: %d %s", res.status, res.body)
	}
}

// TestPanicIsInternal: a panicking handler is a 500 with the generic JSON
// error, and the app keeps serving.
func TestPanicIsInternal(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.app.Get("/boom", func(*fiber.Ctx) error { panic("boom") })
	res := b.do(t, request{method: "GET", path: "/boom"})
	if e := apiError(t, res); res.status != 500 || e.Code != "internal" || strings.Contains(e.Message, "boom") {
		t.Errorf("%d %+v", res.status, e)
	}
	b.call(t, 200, "GET", "/api/v1/lists", nil, nil)
}

// storedTime compares times to the microsecond that storage keeps; see
// TestTimesRoundTrip for the exact comparison.
func storedTime() cmp.Option { return cmpopts.EquateApproxTime(time.Microsecond) }

// TestTimesRoundTrip: the times a POST answers are the ones later reads
// answer (storage keeps microseconds, so the engine must not hand out
// nanoseconds it does not store).
func TestTimesRoundTrip(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var l, l2 engine.List
	b.call(t, 201, "POST", "/api/v1/lists", map[string]any{"name": "L"}, &l)
	b.call(t, 200, "GET", "/api/v1/lists/"+l.ID, nil, &l2)
	var c, c2 engine.Contact
	b.call(t, 201, "POST", "/api/v1/contacts", map[string]any{"email": "t@example.org"}, &c)
	b.call(t, 200, "GET", "/api/v1/contacts/"+c.ID, nil, &c2)
	var s, s2 engine.ScenarioView
	b.call(t, 201, "POST", "/api/v1/scenarios", map[string]any{"name": "S", "graph": map[string]any{}}, &s)
	b.call(t, 200, "GET", "/api/v1/scenarios/"+s.ID, nil, &s2)
	for _, tc := range []struct {
		what          string
		posted, later time.Time
	}{
		{"list created_at", l.CreatedAt, l2.CreatedAt},
		{"contact created_at", c.CreatedAt, c2.CreatedAt},
		{"contact updated_at", c.UpdatedAt, c2.UpdatedAt},
		{"scenario created_at", s.CreatedAt, s2.CreatedAt},
		{"scenario updated_at", s.UpdatedAt, s2.UpdatedAt},
	} {
		if !tc.posted.Equal(tc.later) {
			t.Errorf("%s: POST answered %s, GET answers %s", tc.what, tc.posted.Format(time.RFC3339Nano), tc.later.Format(time.RFC3339Nano))
		}
	}
}

// jsonEqual reports whether two JSON texts hold the same value.
func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return string(a) == string(b)
	}
	return cmp.Equal(x, y)
}

// TestRetryError: a transaction the database gave up for a concurrent one
// (engine.ErrRetry, a deadlock) is a 503 to try again, not a 500.
func TestRetryError(t *testing.T) {
	t.Parallel()
	s := &server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	app := fiber.New(fiber.Config{ErrorHandler: s.handleError})
	app.Delete("/x", func(*fiber.Ctx) error { return fmt.Errorf("delete: %w", engine.ErrRetry) })
	res, err := app.Test(httptest.NewRequest("DELETE", "/x", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body errorBody
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 503 || res.Header.Get("Retry-After") != "1" || body.Error.Code != "unavailable" {
		t.Errorf("%d, Retry-After %q, %+v; want 503, 1, unavailable", res.StatusCode, res.Header.Get("Retry-After"), body)
	}
}
