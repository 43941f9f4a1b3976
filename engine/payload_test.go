package engine_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/engine"
)

func TestBuildBody(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 23, 12, 56, 40, 0, time.UTC)
	s := &engine.Scenario{ID: "scn_1", Name: "Welcome"}
	req := &engine.DeliveryRequest{Data: map[string]any{"email": "john.doe@example.org", "firstname": "John"},
		Extra: map[string]any{"plan": "pro", "seats": 3.0}}
	body, err := engine.BuildBody("evt_1", at, s, "w1", "ctc_1", req)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"id": "evt_1", "event": "automation.webhook.send", "timestamp": "2026-11-23T12:56:40Z",
		"scenario": map[string]any{"id": "scn_1", "name": "Welcome", "step": "w1"},
		"data":     map[string]any{"type": "contact", "id": "ctc_1", "email": "john.doe@example.org", "firstname": "John"},
		"extra":    map[string]any{"plan": "pro", "seats": 3.0}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	if _, ok := req.Data["type"]; ok {
		t.Error("BuildBody changed the caller's data map")
	}
}

func BenchmarkBuildBody(b *testing.B) {
	s := &engine.Scenario{ID: "scn_06h0gznzwdrg349fyn7aqwyk5r", Name: "Welcome"}
	req := &engine.DeliveryRequest{Data: map[string]any{"email": "john.doe@example.org", "firstname": "John"},
		Extra: map[string]any{"plan": "pro"}}
	at := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := engine.BuildBody("evt_06h0gzp0xszab0dkhaj17ypp8m", at, s, "w1", "ctc_06h0gzp0xhvbkeg2vp788cmqh0", req); err != nil {
			b.Fatal(err)
		}
	}
}
