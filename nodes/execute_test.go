package nodes

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/engine"
)

func TestSendWebhookExecute(t *testing.T) {
	t.Parallel()
	cfg := `{"url":"https://{{ contact.c3 }}.example.org/hooks?plan={{ event.data.plan }}",
		"method":"PUT",
		"fields":["email","firstname","lastname","id","timezone","c3","score","missing"],
		"data":{"plan":"{{ event.data.plan }}","seats":"{{ event.data.seats }}","label":"{{ contact.firstname }} ({{ contact.score }})",
			"static":"x","groups":"{{ contact.groups }}","nothing":"{{ contact.nothing }}"},
		"headers":{"Authorization":"Bearer {{ contact.c3 }}-token","X-Static":"abc"},
		"timeout":"5s"}`
	res, err := execute(t, "send_webhook", cfg, contact(), event(), now)
	if err != nil {
		t.Fatal(err)
	}
	want := engine.Result{Delivery: &engine.DeliveryRequest{
		URL:     "https://pro.example.org/hooks?plan=gold",
		Method:  "PUT",
		Headers: map[string]string{"Authorization": "Bearer pro-token", "X-Static": "abc"},
		Data: map[string]any{"email": "john.doe@example.org", "firstname": "John", "lastname": "Doe", "id": "ct_1",
			"timezone": "Europe/Paris", "c3": "pro", "score": 42, "missing": nil},
		Extra: map[string]any{"plan": "gold", "seats": 3.0, "label": "John (42)", "static": "x",
			"groups": []any{"vip"}, "nothing": nil},
		Timeout: 5 * time.Second,
	}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("Execute (-want +got):\n%s", diff)
	}
}

func TestSendWebhookDefaults(t *testing.T) {
	t.Parallel()
	res, err := execute(t, "send_webhook", `{"url":"https://example.org/hook"}`, contact(), event(), now)
	if err != nil {
		t.Fatal(err)
	}
	want := &engine.DeliveryRequest{
		URL: "https://example.org/hook", Method: "POST", Headers: map[string]string{},
		Data: map[string]any{"email": "john.doe@example.org"}, Extra: map[string]any{}, Timeout: 15 * time.Second,
	}
	if diff := cmp.Diff(want, res.Delivery); diff != "" {
		t.Errorf("Delivery (-want +got):\n%s", diff)
	}
	res, err = execute(t, "send_webhook", `{"url":"https://example.org/hook","fields":[]}`, contact(), event(), now)
	if err != nil || len(res.Delivery.Data) != 0 {
		t.Errorf("fields [] sent %v, %v", res.Delivery.Data, err)
	}
}

func TestSendWebhookRunErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  string
		want string
	}{
		{"data", `{"url":"https://example.org","data":{"plan":"{{ event.data.plan.x }}"}}`,
			`data "plan": expression "event.data.plan.x": `},
		{"header", `{"url":"https://example.org","headers":{"X-A":"{{ contact.score + 'a' }}"}}`,
			`header X-A: expression "contact.score + 'a'": invalid operation`},
		{"header line break", `{"url":"https://example.org","headers":{"X-A":"{{ event.data.crlf }}"}}`,
			"header X-A: rendered value contains a line break"},
		{"url render", `{"url":"https://example.org/{{ event.data.plan.x }}"}`, "url: expression"},
		{"url invalid", `{"url":"https://{{ event.data.crlf }}/"}`, "url: rendered to"},
		{"url no host", `{"url":"https://{{ contact.nothing }}/a"}`, "must name a host"},
	}
	ev := event()
	ev.Data["crlf"] = "a\r\nInjected: 1"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := execute(t, "send_webhook", tt.cfg, contact(), ev, now)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Execute error = %v, want %q", err, tt.want)
			}
			if res.Delivery != nil {
				t.Error("Execute returned a delivery with an error")
			}
		})
	}
}

func TestContactActions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ  string
		cfg  string
		want engine.ContactChange
	}{
		{"add_to_group", `{"group":" vip "}`, engine.ContactChange{Op: engine.OpAddGroup, Group: "vip"}},
		{"remove_from_group", `{"group":"trial"}`, engine.ContactChange{Op: engine.OpRemoveGroup, Group: "trial"}},
		{"subscribe_to_list", `{"list_id":"lst_1"}`, engine.ContactChange{Op: engine.OpSubscribe, ListID: "lst_1"}},
		{"unsubscribe_from_list", `{"list_id":"lst_2"}`, engine.ContactChange{Op: engine.OpUnsubscribe, ListID: "lst_2"}},
		{"update_field", `{"field":"c3","value":"{{ event.data.plan }}"}`, engine.ContactChange{Op: engine.OpSetField, Field: "c3", Value: "gold"}},
		{"update_field", `{"field":"seats","value":"{{ event.data.seats * 2 }}"}`, engine.ContactChange{Op: engine.OpSetField, Field: "seats", Value: 6.0}},
		{"update_field", `{"field":"c9","value":" plan {{ event.data.plan }} "}`, engine.ContactChange{Op: engine.OpSetField, Field: "c9", Value: " plan gold "}},
		{"update_field", `{"field":"c9","value":""}`, engine.ContactChange{Op: engine.OpSetField, Field: "c9", Value: ""}},
		{"update_field", `{"field":"firstname","value":"{{ event.data.seats }}"}`, engine.ContactChange{Op: engine.OpSetField, Field: "firstname", Value: "3"}},
		{"update_field", `{"field":"timezone","value":"America/New_York"}`, engine.ContactChange{Op: engine.OpSetField, Field: "timezone", Value: "America/New_York"}},
	}
	for _, tt := range tests {
		res, err := execute(t, tt.typ, tt.cfg, contact(), event(), now)
		if err != nil {
			t.Errorf("%s %s: %v", tt.typ, tt.cfg, err)
			continue
		}
		if diff := cmp.Diff(engine.Result{Changes: []engine.ContactChange{tt.want}}, res); diff != "" {
			t.Errorf("%s %s (-want +got):\n%s", tt.typ, tt.cfg, diff)
		}
	}
	_, err := execute(t, "update_field", `{"field":"c3","value":"{{ event.data.plan.x }}"}`, contact(), event(), now)
	if err == nil || !strings.Contains(err.Error(), `value of c3: expression "event.data.plan.x"`) {
		t.Errorf("update_field run error = %v", err)
	}
}

func TestCondition(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr string
		want string
	}{
		{`contact.c3 == "pro"`, "yes"},
		{`contact.c3 == "free"`, "no"},
		{`"vip" in contact.groups && event.data.seats >= 3`, "yes"},
		{`contact.score > 50 || event.type == "click"`, "no"},
		{`contact.nothing`, "no"},
		{`contact.dates.birthday startsWith "1990"`, "yes"},
	}
	for _, tt := range tests {
		cfg := `{"expression":` + quote(tt.expr) + `}`
		res, err := execute(t, "condition", cfg, contact(), event(), now)
		if err != nil || res.Label != tt.want {
			t.Errorf("condition %s = %+v, %v; want label %q", tt.expr, res, err, tt.want)
		}
	}
	for _, expr := range []string{`contact.c3`, `event.data.plan.x == 1`} {
		_, err := execute(t, "condition", `{"expression":`+quote(expr)+`}`, contact(), event(), now)
		if err == nil || !strings.Contains(err.Error(), "condition: expression "+quote(expr)) {
			t.Errorf("condition %s error = %v", expr, err)
		}
	}
}

func TestEnd(t *testing.T) {
	t.Parallel()
	res, err := execute(t, "end", `{}`, contact(), event(), now)
	if err != nil || !res.End {
		t.Errorf("end = %+v, %v", res, err)
	}
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
