package nodes

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/engine"
)

// registry returns a catalogue with every node type.
func registry(t testing.TB) *engine.Registry {
	t.Helper()
	r := engine.NewRegistry()
	Register(r)
	return r
}

// compile compiles cfg for typ and fails on any problem.
func compile(t testing.TB, typ, cfg string) engine.Compiled {
	t.Helper()
	nt, ok := registry(t).Get(typ)
	if !ok {
		t.Fatalf("type %q not registered", typ)
	}
	node, problems := nt.Compile(json.RawMessage(cfg))
	if len(problems) > 0 {
		t.Fatalf("Compile(%s, %s): %+v", typ, cfg, problems)
	}
	if node == nil {
		t.Fatalf("Compile(%s, %s) returned a nil node", typ, cfg)
	}
	return node
}

// execute compiles cfg for typ and executes it for c.
func execute(t *testing.T, typ, cfg string, c *engine.Contact, ev *engine.Event, now time.Time) (engine.Result, error) {
	t.Helper()
	ex, ok := compile(t, typ, cfg).(engine.Executor)
	if !ok {
		t.Fatalf("%s does not compile to an Executor", typ)
	}
	x := &engine.StepContext{
		Scenario: &engine.Scenario{ID: "sc_1", Name: "Welcome"}, Version: 1, NodeID: "n1",
		Run: &engine.Run{ID: "run_1", Version: 1}, Contact: c, Event: ev, Now: now,
	}
	return ex.Execute(context.Background(), x)
}

var now = time.Date(2026, 11, 23, 12, 56, 40, 0, time.UTC) // a Monday

func contact() *engine.Contact {
	return &engine.Contact{
		ID: "ct_1", Email: "john.doe@example.org", Firstname: "John", Lastname: "Doe", Timezone: "Europe/Paris",
		Fields: map[string]any{"c3": "pro", "score": 42, "city": "Lyon"},
		Dates:  map[string]string{"birthday": "1990-05-01", "renewal": "2026-12-01", "bad": "soon"},
		Groups: []string{"vip"},
	}
}

func event() *engine.Event {
	return &engine.Event{ID: "evt_1", Type: "signup", ListID: "lst_1",
		Data: map[string]any{"plan": "gold", "seats": 3.0}, OccurredAt: now}
}

func TestRegister(t *testing.T) {
	t.Parallel()
	r := registry(t)
	want := map[string]struct {
		kind   engine.Kind
		outs   []string
		events []string
	}{
		"signup":                {engine.KindTrigger, nil, []string{"signup"}},
		"unsubscribe":           {engine.KindTrigger, nil, []string{"unsubscribe"}},
		"click":                 {engine.KindTrigger, nil, []string{"click"}},
		"open":                  {engine.KindTrigger, nil, []string{"open"}},
		"contact_updated":       {engine.KindTrigger, nil, []string{"contact_updated"}},
		"group_added":           {engine.KindTrigger, nil, []string{"group_added"}},
		"custom_event":          {engine.KindTrigger, nil, nil},
		"inbound_webhook":       {engine.KindTrigger, nil, []string{"signup", "unsubscribe"}},
		"date_reached":          {engine.KindTrigger, nil, []string{"date_reached"}},
		"consent_expiring":      {engine.KindTrigger, nil, []string{"consent_expiring"}},
		"send_webhook":          {engine.KindAction, nil, nil},
		"add_to_group":          {engine.KindAction, nil, nil},
		"remove_from_group":     {engine.KindAction, nil, nil},
		"update_field":          {engine.KindAction, nil, nil},
		"subscribe_to_list":     {engine.KindAction, nil, nil},
		"unsubscribe_from_list": {engine.KindAction, nil, nil},
		"wait":                  {engine.KindFlow, nil, nil},
		"condition":             {engine.KindFlow, []string{"yes", "no"}, nil},
		"end":                   {engine.KindFlow, []string{}, nil},
	}
	specs := r.Specs()
	if len(specs) != len(want) {
		t.Errorf("Register installed %d types, want %d", len(specs), len(want))
	}
	for name, w := range want {
		nt, ok := r.Get(name)
		if !ok {
			t.Errorf("type %q not registered", name)
			continue
		}
		s := nt.Spec()
		if s.Type != name || s.Kind != w.kind || s.Label == "" || s.Description == "" {
			t.Errorf("%s: spec %q kind %q label %q description %q", name, s.Type, s.Kind, s.Label, s.Description)
		}
		if diff := cmp.Diff(w.outs, s.Outputs); diff != "" || (w.outs == nil) != (s.Outputs == nil) {
			t.Errorf("%s: Outputs (-want +got):\n%s (nil: want %v got %v)", name, diff, w.outs == nil, s.Outputs == nil)
		}
		if diff := cmp.Diff(w.events, s.EventTypes); diff != "" {
			t.Errorf("%s: EventTypes (-want +got):\n%s", name, diff)
		}
		// Every compiled node is a Trigger or an Executor according to its kind.
		node, problems := nt.Compile(json.RawMessage(validConfigs[name]))
		if len(problems) > 0 {
			t.Errorf("%s: valid config %s: %+v", name, validConfigs[name], problems)
			continue
		}
		_, isTrigger := node.(engine.Trigger)
		_, isExecutor := node.(engine.Executor)
		if isTrigger != (w.kind == engine.KindTrigger) || isExecutor == (w.kind == engine.KindTrigger) {
			t.Errorf("%s: compiled %T: trigger %v executor %v", name, node, isTrigger, isExecutor)
		}
	}
	// Outputs keep their null / [] distinction in the API's JSON.
	end, _ := r.Get("end")
	b, _ := json.Marshal(end.Spec())
	if !strings.Contains(string(b), `"outputs":[]`) {
		t.Errorf("end spec JSON %s lacks \"outputs\":[]", b)
	}
}

func TestSchemas(t *testing.T) {
	t.Parallel()
	for _, s := range registry(t).Specs() {
		var doc struct {
			Dialect    string                     `json:"$schema"`
			Type       string                     `json:"type"`
			Properties map[string]json.RawMessage `json:"properties"`
			Required   []string                   `json:"required"`
			Additional *bool                      `json:"additionalProperties"`
		}
		if err := json.Unmarshal(s.Schema, &doc); err != nil {
			t.Errorf("%s: schema is not valid JSON: %v\n%s", s.Type, err, s.Schema)
			continue
		}
		if doc.Type != "object" || doc.Properties == nil || doc.Required == nil ||
			doc.Additional == nil || *doc.Additional || doc.Dialect != schemaDialect {
			t.Errorf("%s: schema header wrong: %s", s.Type, s.Schema)
		}
		for _, req := range doc.Required {
			if _, ok := doc.Properties[req]; !ok {
				t.Errorf("%s: required %q is not a property", s.Type, req)
			}
		}
		for name, raw := range doc.Properties {
			var p struct {
				Type        string `json:"type"`
				Title       string `json:"title"`
				Description string `json:"description"`
			}
			if err := json.Unmarshal(raw, &p); err != nil || p.Type == "" || p.Title == "" || p.Description == "" {
				t.Errorf("%s.%s: property needs type, title and description: %s", s.Type, name, raw)
			}
		}
		// The properties are exactly the fields Compile accepts.
		nt, _ := registry(t).Get(s.Type)
		fields := []string{}
		for name := range doc.Properties {
			fields = append(fields, name)
		}
		slices.Sort(fields)
		got := slices.Clone(nt.(*nodeType).fields)
		slices.Sort(got)
		if diff := cmp.Diff(fields, got); diff != "" {
			t.Errorf("%s: schema properties vs accepted fields (-schema +fields):\n%s", s.Type, diff)
		}
	}
}

func TestSpecIsACopy(t *testing.T) {
	t.Parallel()
	nt, _ := registry(t).Get("condition")
	s := nt.Spec()
	s.Outputs[0] = "changed"
	s.Schema[0] = 'X'
	if again := nt.Spec(); again.Outputs[0] != "yes" || again.Schema[0] != '{' {
		t.Error("Spec returned shared slices")
	}
}

// validConfigs has one valid config per type.
var validConfigs = map[string]string{
	"signup":                `{"list_id":"lst_1"}`,
	"unsubscribe":           `{}`,
	"click":                 `{"url_contains":"/pricing"}`,
	"open":                  ``,
	"contact_updated":       `{"fields":["c3","firstname"]}`,
	"group_added":           `{"group":"vip"}`,
	"custom_event":          `{"name":"order_paid"}`,
	"inbound_webhook":       `{"inbound_webhook_id":"ibw_1"}`,
	"date_reached":          `{"field":"birthday","recurrence":"yearly","offset_days":0,"time":"09:00","timezone":"Europe/Paris"}`,
	"consent_expiring":      `{"days_before":30}`,
	"send_webhook":          `{"url":"https://example.org/hook","fields":["email"],"data":{"plan":"{{ contact.c3 }}"},"headers":{"X-Token":"abc"}}`,
	"add_to_group":          `{"group":"vip"}`,
	"remove_from_group":     `{"group":"vip"}`,
	"update_field":          `{"field":"c3","value":"{{ event.data.plan }}"}`,
	"subscribe_to_list":     `{"list_id":"lst_1"}`,
	"unsubscribe_from_list": `{"list_id":"lst_1"}`,
	"wait":                  `{"duration":"1h30m"}`,
	"condition":             `{"expression":"contact.c3 == \"pro\""}`,
	"end":                   `{}`,
}

func TestCompileValid(t *testing.T) {
	t.Parallel()
	tests := []struct{ typ, cfg string }{
		{"signup", `null`},
		{"signup", `{"list_id":null}`},
		{"unsubscribe", `{"list_id":"lst_2"}`},
		{"click", `{}`},
		{"contact_updated", `{"fields":[]}`},
		{"send_webhook", `{"url":"https://example.org/hook"}`},
		{"send_webhook", `{"url":"http://{{ contact.c3 }}.example.org/a?e={{ contact.email }}","method":"PATCH",
			"fields":["email","firstname","lastname","id","timezone","c3","custom_field_2"],
			"data":{"n":"{{ contact.score + 1 }}","lit":"x"},"timeout":"60s"}`},
		{"send_webhook", `{"url":" https://example.org ","method":"PUT","fields":[],"headers":{"Authorization":"Bearer {{ event.data.token }}","X-A_b.c~":"1"},"timeout":"1s"}`},
		{"update_field", `{"field":"firstname","value":""}`},
		{"update_field", `{"field":"timezone","value":"Europe/Paris"}`},
		{"wait", `{"duration":"2d"}`},
		{"wait", `{"duration":"1d12h"}`},
		{"wait", `{"duration":"365d"}`},
		{"wait", `{"duration":"45s"}`},
		{"wait", `{"until_field":"birthday"}`},
		{"wait", `{"until_field":"birthday","offset_days":-1,"time":"09:00"}`},
		{"wait", `{"weekdays":["mon","Fri"],"from":"09:00","to":"11:00"}`},
		{"wait", `{"from":"00:00","to":"23:59"}`},
		{"condition", `{"expression":"\"vip\" in contact.groups and event.data.seats > 2"}`},
		{"end", ``},
	}
	for _, tt := range tests {
		nt, _ := registry(t).Get(tt.typ)
		if _, problems := nt.Compile(json.RawMessage(tt.cfg)); len(problems) > 0 {
			t.Errorf("Compile(%s, %s): %+v", tt.typ, tt.cfg, problems)
		}
	}
}
