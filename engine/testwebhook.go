package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// sampleContact is who a Test URL call speaks of when no contact is chosen.
func sampleContact() *Contact {
	return &Contact{ID: "ctc_sample", Email: "john.doe@example.org", Firstname: "John", Lastname: "Doe",
		Fields: map[string]any{}, Dates: map[string]string{}, Groups: []string{}}
}

// TestWebhook sends a test request ("test_evt_…" id) with sample or chosen
// contact data and reports the answer. Errors are only for bad input: an
// unreachable URL or a non-2xx answer is a result with OK false.
func (e *Engine) TestWebhook(ctx context.Context, req TestRequest) (*TestResult, error) {
	t, ok := e.cfg.Registry.Get("send_webhook")
	if !ok {
		return nil, fmt.Errorf("test webhook: no send_webhook node type registered")
	}
	cfg := map[string]any{"url": req.URL}
	if req.Method != "" {
		cfg["method"] = req.Method
	}
	if req.Headers != nil {
		cfg["headers"] = req.Headers
	}
	if req.Data != nil {
		cfg["data"] = req.Data
	}
	if req.Fields != nil {
		cfg["fields"] = req.Fields
	}
	if req.Timeout != "" {
		cfg["timeout"] = req.Timeout
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, Invalid("data", "cannot be encoded as JSON: %v", err)
	}
	compiled, problems := t.Compile(raw)
	if len(problems) > 0 {
		p := problems[0]
		return nil, Invalid(strings.TrimPrefix(p.Field, "config."), "%s", p.Message)
	}
	exec, ok := compiled.(Executor)
	if !ok {
		return nil, fmt.Errorf("test webhook: send_webhook does not execute")
	}
	c := sampleContact()
	if req.ContactID != "" {
		if c, err = e.st.GetContact(ctx, req.ContactID); err != nil {
			if isNotFound(err) {
				return nil, Invalid("contact_id", "no contact %q", req.ContactID)
			}
			return nil, err
		}
	}
	s := &Scenario{ID: "scn_test", Name: "Test"}
	secret := e.cfg.NewSecret()
	if req.ScenarioID != "" {
		if s, err = e.st.GetScenario(ctx, req.ScenarioID); err != nil {
			if isNotFound(err) {
				return nil, Invalid("scenario_id", "no scenario %q", req.ScenarioID)
			}
			return nil, err
		}
		secret = s.SigningSecret
	}
	now := e.now()
	ev := &Event{ID: "evt_test", Type: EventSignup, ContactID: c.ID, Data: map[string]any{}, OccurredAt: now}
	x := &StepContext{Scenario: s, NodeID: req.NodeID, Run: &Run{ID: "run_test"}, Contact: c, Event: ev, Now: now}
	res, err := exec.Execute(ctx, x)
	if err != nil {
		return nil, Invalid("data", "%v", err)
	}
	r := res.Delivery
	msgID := "test_" + NewID("evt")
	body, err := BuildBody(msgID, now, s, req.NodeID, c.ID, r)
	if err != nil {
		return nil, err
	}
	d := &Delivery{ID: msgID, MessageID: msgID, URL: r.URL, Method: r.Method, Headers: r.Headers,
		Body: body, Timeout: r.Timeout}
	if d.Method == "" {
		d.Method = "POST"
	}
	o := e.cfg.Sender.Send(ctx, d, secret)
	a := o.Attempt
	return &TestResult{OK: o.Accepted, StatusCode: a.StatusCode, DurationMS: a.DurationMS,
		ResponseHeaders: a.ResponseHeaders, ResponseBody: a.ResponseBody, Error: a.Error,
		Request: TestSent{URL: d.URL, Method: d.Method, Headers: a.RequestHeaders, Body: string(body)}}, nil
}
