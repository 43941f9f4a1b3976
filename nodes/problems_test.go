package nodes

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCompileProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		typ    string
		cfg    string
		fields []string // the Field of every problem, in order
		msg    string   // substring of the first problem's message
	}{
		// Config shape, any type.
		{"not an object", "signup", `["x"]`, []string{"config"}, "JSON object"},
		{"invalid JSON", "signup", `{"list_id":`, []string{"config"}, "not valid JSON"},
		{"not an object, required fields", "send_webhook", `"https://example.org"`, []string{"config"}, "JSON object"},
		{"unknown field", "signup", `{"list":"x","zz":1}`, []string{"config.list", "config.zz"}, `unknown field "list" (allowed: list_id)`},
		{"unknown field on end", "end", `{"x":1}`, []string{"config.x"}, "unknown field"},
		{"wrong type", "signup", `{"list_id":5}`, []string{"config.list_id"}, "must be a string"},

		// Triggers.
		{"click url_contains type", "click", `{"url_contains":true}`, []string{"config.url_contains"}, "must be a string"},
		{"fields not a list", "contact_updated", `{"fields":"c3"}`, []string{"config.fields"}, "list of strings"},
		{"fields item type", "contact_updated", `{"fields":["c3",4,"a b"]}`, []string{"config.fields[1]", "config.fields[2]"}, "must be a string"},
		{"weekdays not strings", "wait", `{"weekdays":[1,"mon"],"from":"09:00","to":"10:00"}`, []string{"config.weekdays[0]"}, "must be a string"},
		{"group required", "group_added", `{}`, []string{"config.group"}, "is required"},
		{"group blank", "group_added", `{"group":"  "}`, []string{"config.group"}, "must not be empty"},
		{"custom name required", "custom_event", `{"name":null}`, []string{"config.name"}, "is required"},
		{"custom name long", "custom_event", `{"name":"` + strings.Repeat("x", 101) + `"}`, []string{"config.name"}, "too long"},
		{"inbound id required", "inbound_webhook", `{}`, []string{"config.inbound_webhook_id"}, "is required"},

		// send_webhook.
		{"url required", "send_webhook", `{}`, []string{"config.url"}, "is required"},
		{"url not http", "send_webhook", `{"url":"ftp://example.org"}`, []string{"config.url"}, "https://"},
		{"url relative", "send_webhook", `{"url":"/hook"}`, []string{"config.url"}, "https://"},
		{"url no host", "send_webhook", `{"url":"https:///path"}`, []string{"config.url"}, "host"},
		{"url spaces", "send_webhook", `{"url":"https://example.org/a b"}`, []string{"config.url"}, "spaces"},
		{"url bad port", "send_webhook", `{"url":"https://example.org:port/"}`, []string{"config.url"}, "not a valid URL"},
		{"url whole placeholder", "send_webhook", `{"url":"{{ event.data.url }}"}`, []string{"config.url"}, "https://"},
		{"url placeholder error", "send_webhook", `{"url":"https://example.org/{{ contcat.id }}"}`,
			[]string{"config.url"}, "placeholder error at column 24: unknown name contcat in {{ contcat.id }}"},
		{"url unclosed", "send_webhook", `{"url":"https://example.org/{{ contact.id"}`, []string{"config.url"}, "column 21: unclosed {{"},
		{"method", "send_webhook", `{"url":"https://example.org","method":"GET"}`, []string{"config.method"}, "POST, PUT, PATCH"},
		{"method type", "send_webhook", `{"url":"https://example.org","method":1}`, []string{"config.method"}, "must be a string"},
		{"fields names", "send_webhook", `{"url":"https://example.org","fields":["email","first name","type","email",7]}`,
			[]string{"config.fields[4]", "config.fields[1]", "config.fields[2]", "config.fields[3]"}, "must be a string"},
		{"data not object", "send_webhook", `{"url":"https://example.org","data":["x"]}`, []string{"config.data"}, "object"},
		{"data value type", "send_webhook", `{"url":"https://example.org","data":{"plan":5,"ok":"x"}}`, []string{"config.data.plan"}, "must be a string"},
		{"data placeholder", "send_webhook", `{"url":"https://example.org","data":{"plan":"{{ contact.c3 ==  }}"}}`,
			[]string{"config.data.plan"}, "placeholder error at column"},
		{"data empty key", "send_webhook", `{"url":"https://example.org","data":{"":"x"}}`, []string{"config.data."}, "1 to 100"},
		{"header value type", "send_webhook", `{"url":"https://example.org","headers":{"X-Token":{"a":1}}}`,
			[]string{"config.headers.X-Token"}, "must be a string"},
		{"header names", "send_webhook", `{"url":"https://example.org","headers":{"Bad Name":"x","Host":"h","content-length":"1","Webhook-Id":"x","X-A":"1","x-a":"2"}}`,
			[]string{"config.headers.Bad Name", "config.headers.Host", "config.headers.Webhook-Id", "config.headers.content-length", "config.headers.x-a"},
			"not a valid header name"},
		{"header line break", "send_webhook", `{"url":"https://example.org","headers":{"X-A":"a\r\nB: c"}}`, []string{"config.headers.X-A"}, "one line"},
		{"header placeholder", "send_webhook", `{"url":"https://example.org","headers":{"X-A":"{{ nope }}"}}`,
			[]string{"config.headers.X-A"}, "column 4: unknown name nope"},
		{"timeout syntax", "send_webhook", `{"url":"https://example.org","timeout":"15"}`, []string{"config.timeout"}, "duration"},
		{"timeout range", "send_webhook", `{"url":"https://example.org","timeout":"2m"}`, []string{"config.timeout"}, "between 1s and 60s"},
		{"timeout short", "send_webhook", `{"url":"https://example.org","timeout":"500ms"}`, []string{"config.timeout"}, "between 1s and 60s"},
		{"webhook all at once", "send_webhook", `{"url":"x","method":"get","timeout":5,"extra":1}`,
			[]string{"config.extra", "config.url", "config.method", "config.timeout"}, "unknown field"},

		// Contact actions.
		{"add group required", "add_to_group", `{}`, []string{"config.group"}, "is required"},
		{"remove group type", "remove_from_group", `{"group":["a"]}`, []string{"config.group"}, "must be a string"},
		{"group too long", "add_to_group", `{"group":"` + strings.Repeat("g", 201) + `"}`, []string{"config.group"}, "too long"},
		{"subscribe list required", "subscribe_to_list", `{"list_id":""}`, []string{"config.list_id"}, "must not be empty"},
		{"unsubscribe list required", "unsubscribe_from_list", `{}`, []string{"config.list_id"}, "is required"},
		{"update field required", "update_field", `{}`, []string{"config.field", "config.value"}, "is required"},
		{"update field email", "update_field", `{"field":"email","value":"x"}`, []string{"config.field"}, "cannot be changed"},
		{"update field name", "update_field", `{"field":"c-3","value":"x"}`, []string{"config.field"}, "not a field name"},
		{"update value type", "update_field", `{"field":"c3","value":3}`, []string{"config.value"}, "must be a string"},
		{"update value placeholder", "update_field", `{"field":"c3","value":"x {{ event.dat }} {{ 1 +"}`, []string{"config.value"}, "column 19: unclosed {{"},

		// wait.
		{"wait empty", "wait", `{}`, []string{"config.duration"}, "is required"},
		{"wait syntax", "wait", `{"duration":"1 hour"}`, []string{"config.duration"}, "such as 30m"},
		{"wait zero", "wait", `{"duration":"0s"}`, []string{"config.duration"}, "longer than 0"},
		{"wait negative", "wait", `{"duration":"-1h"}`, []string{"config.duration"}, "such as 30m"},
		{"wait days negative rest", "wait", `{"duration":"1d-1h"}`, []string{"config.duration"}, "such as 30m"},
		{"wait too long", "wait", `{"duration":"366d"}`, []string{"config.duration"}, "365 days"},
		{"wait too long hours", "wait", `{"duration":"8761h"}`, []string{"config.duration"}, "365 days"},
		{"wait huge days", "wait", `{"duration":"9999d"}`, []string{"config.duration"}, "365 days"},
		{"wait type", "wait", `{"duration":90}`, []string{"config.duration"}, "must be a string"},
		{"wait mixed", "wait", `{"duration":"1h","until_field":"birthday","from":"09:00"}`,
			[]string{"config.until_field", "config.from"}, "cannot be combined with duration"},
		{"wait date field", "wait", `{"until_field":"birth day","offset_days":1.5,"time":"9am"}`,
			[]string{"config.until_field", "config.offset_days", "config.time"}, "not a field name"},
		{"wait offset range", "wait", `{"until_field":"birthday","offset_days":400}`, []string{"config.offset_days"}, "between -365 and 365"},
		{"wait time only", "wait", `{"time":"09:00"}`, []string{"config.until_field"}, "is required"},
		{"wait window", "wait", `{"weekdays":["mon","mon","funday"],"from":"11:00","to":"09:00"}`,
			[]string{"config.weekdays[1]", "config.weekdays[2]", "config.to"}, "listed twice"},
		{"wait window missing", "wait", `{"weekdays":["mon"]}`, []string{"config.from", "config.to"}, "required for a time window"},
		{"wait window hours", "wait", `{"from":"24:00","to":"9:00"}`, []string{"config.from", "config.to"}, "time of day"},
		{"wait window and date", "wait", `{"from":"09:00","to":"10:00","offset_days":1}`, []string{"config.offset_days"}, "cannot be combined with from"},

		// condition.
		{"condition required", "condition", `{}`, []string{"config.expression"}, "is required"},
		{"condition unknown root", "condition", `{"expression":"contcat.c3 == 1"}`, []string{"config.expression"},
			`expression error at column 1: unknown name contcat in "contcat.c3 == 1"`},
		{"condition not boolean", "condition", `{"expression":"contact.score + 1 > 2 ? 1 : 2"}`, []string{"config.expression"}, "expected bool"},
		{"condition syntax", "condition", `{"expression":"contact.c3 =="}`, []string{"config.expression"}, "column 13: unexpected token EOF"},
		{"condition braces", "condition", `{"expression":"{{ contact.c3 }}"}`, []string{"config.expression"}, "expression error"},
	}
	r := registry(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			nt, _ := r.Get(tt.typ)
			node, problems := nt.Compile(json.RawMessage(tt.cfg))
			if node != nil {
				t.Errorf("Compile returned a node (%T) with problems", node)
			}
			got := make([]string, len(problems))
			for i, p := range problems {
				got[i] = p.Field
				if p.Message == "" || p.Node != "" {
					t.Errorf("problem %+v: want a message and no node", p)
				}
			}
			if diff := cmp.Diff(tt.fields, got); diff != "" {
				t.Errorf("problem fields (-want +got):\n%s\nproblems: %+v", diff, problems)
			}
			if len(problems) > 0 && !strings.Contains(problems[0].Message, tt.msg) {
				t.Errorf("first problem %q does not contain %q", problems[0].Message, tt.msg)
			}
		})
	}
}
