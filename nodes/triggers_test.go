package nodes

import (
	"testing"

	"github.com/sluicehq/sluice/engine"
)

func TestTriggerMatches(t *testing.T) {
	t.Parallel()
	ev := func(typ, list string, data map[string]any) *engine.Event {
		return &engine.Event{ID: "evt_1", Type: typ, ListID: list, Data: data}
	}
	tests := []struct {
		typ  string
		cfg  string
		ev   *engine.Event
		want bool
	}{
		{"signup", `{}`, ev("signup", "lst_1", nil), true},
		{"signup", `{}`, ev("signup", "", nil), true},
		{"signup", `{}`, ev("unsubscribe", "lst_1", nil), false},
		{"signup", `{"list_id":"lst_1"}`, ev("signup", "lst_1", nil), true},
		{"signup", `{"list_id":"lst_1"}`, ev("signup", "lst_2", nil), false},
		{"signup", `{"list_id":""}`, ev("signup", "lst_2", nil), true},
		{"signup", `{}`, nil, false},
		{"unsubscribe", `{"list_id":"lst_1"}`, ev("unsubscribe", "lst_1", nil), true},
		{"unsubscribe", `{"list_id":"lst_1"}`, ev("unsubscribe", "lst_9", nil), false},
		{"unsubscribe", `{}`, ev("signup", "lst_1", nil), false},

		{"click", `{}`, ev("click", "", nil), true},
		{"click", `{}`, ev("open", "", nil), false},
		{"click", `{"url_contains":"/pricing"}`, ev("click", "", map[string]any{"url": "https://x.org/pricing?a=1"}), true},
		{"click", `{"url_contains":"/pricing"}`, ev("click", "", map[string]any{"url": "https://x.org/about"}), false},
		{"click", `{"url_contains":"/pricing"}`, ev("click", "", map[string]any{"url": 5}), false},
		{"click", `{"url_contains":"/pricing"}`, ev("click", "", nil), false},
		{"open", `{"url_contains":"news"}`, ev("open", "", map[string]any{"url": "https://x.org/news/42"}), true},
		{"open", `{"url_contains":"news"}`, ev("click", "", map[string]any{"url": "https://x.org/news/42"}), false},
		{"open", `{}`, ev("open", "", nil), true},

		{"contact_updated", `{}`, ev("contact_updated", "", nil), true},
		{"contact_updated", `{}`, ev("signup", "", nil), false},
		{"contact_updated", `{"fields":["c3","firstname"]}`, ev("contact_updated", "", map[string]any{"fields": []any{"lastname", "c3"}}), true},
		{"contact_updated", `{"fields":["c3"]}`, ev("contact_updated", "", map[string]any{"fields": []string{"c3"}}), true},
		{"contact_updated", `{"fields":["c3"]}`, ev("contact_updated", "", map[string]any{"fields": []any{"c4", 3}}), false},
		{"contact_updated", `{"fields":["c3"]}`, ev("contact_updated", "", map[string]any{"fields": "c3"}), false},
		{"contact_updated", `{"fields":["c3"]}`, ev("contact_updated", "", nil), false},

		{"group_added", `{"group":"vip"}`, ev("group_added", "", map[string]any{"group": "vip"}), true},
		{"group_added", `{"group":"vip"}`, ev("group_added", "", map[string]any{"group": "VIP"}), false},
		{"group_added", `{"group":"vip"}`, ev("group_added", "", nil), false},
		{"group_added", `{"group":"vip"}`, ev("group_removed", "", map[string]any{"group": "vip"}), false},

		{"custom_event", `{"name":"order_paid"}`, ev("order_paid", "", nil), true},
		{"custom_event", `{"name":"order_paid"}`, ev("order_refunded", "", nil), false},
		{"custom_event", `{"name":"order_paid"}`, ev("signup", "", nil), false},

		{"inbound_webhook", `{"inbound_webhook_id":"ibw_1"}`, ev("signup", "lst_1", map[string]any{"inbound_webhook_id": "ibw_1"}), true},
		{"inbound_webhook", `{"inbound_webhook_id":"ibw_1"}`, ev("unsubscribe", "lst_1", map[string]any{"inbound_webhook_id": "ibw_1"}), true},
		{"inbound_webhook", `{"inbound_webhook_id":"ibw_1"}`, ev("signup", "lst_1", map[string]any{"inbound_webhook_id": "ibw_2"}), false},
		{"inbound_webhook", `{"inbound_webhook_id":"ibw_1"}`, ev("signup", "lst_1", nil), false},
		{"inbound_webhook", `{"inbound_webhook_id":"ibw_1"}`, ev("inbound_webhook", "", map[string]any{"inbound_webhook_id": "ibw_1"}), false},
	}
	for _, tt := range tests {
		trig, ok := compile(t, tt.typ, tt.cfg).(engine.Trigger)
		if !ok {
			t.Fatalf("%s is not a Trigger", tt.typ)
		}
		if got := trig.Matches(tt.ev, contact()); got != tt.want {
			t.Errorf("%s %s Matches(%+v) = %v, want %v", tt.typ, tt.cfg, tt.ev, got, tt.want)
		}
	}
}
