package engine

import (
	"encoding/json"
	"time"
)

// WebhookEventName is the "event" of every scenario webhook body.
const WebhookEventName = "automation.webhook.send"

// webhookBody is the JSON every scenario webhook (and test) sends.
type webhookBody struct {
	ID        string         `json:"id"`
	Event     string         `json:"event"`
	Timestamp string         `json:"timestamp"`
	Scenario  bodyScenario   `json:"scenario"`
	Data      map[string]any `json:"data"`
	Extra     map[string]any `json:"extra"`
}

type bodyScenario struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Step string `json:"step"`
}

// BuildBody makes the webhook body: the chosen contact fields go under
// "data" with "type":"contact" and the contact id, the rendered key-values
// under "extra".
func BuildBody(messageID string, at time.Time, s *Scenario, nodeID string, contactID string, req *DeliveryRequest) ([]byte, error) {
	data := make(map[string]any, len(req.Data)+2)
	for k, v := range req.Data {
		data[k] = v
	}
	data["type"] = "contact"
	data["id"] = contactID
	extra := req.Extra
	if extra == nil {
		extra = map[string]any{}
	}
	b := webhookBody{ID: messageID, Event: WebhookEventName, Timestamp: at.UTC().Format(time.RFC3339),
		Data: data, Extra: extra, Scenario: bodyScenario{Step: nodeID}}
	if s != nil {
		b.Scenario.ID, b.Scenario.Name = s.ID, s.Name
	}
	return json.Marshal(b)
}
