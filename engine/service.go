package engine

import (
	"encoding/json"
	"time"
)

// ContactInput is contact data sent by a client. Nil pointers and absent
// map keys leave the stored value alone when merging (PATCH, events);
// replacing (PUT) clears what is absent.
type ContactInput struct {
	Email            string            `json:"email"`
	Firstname        *string           `json:"firstname,omitempty"`
	Lastname         *string           `json:"lastname,omitempty"`
	Fields           map[string]any    `json:"fields,omitempty"`
	Dates            map[string]string `json:"dates,omitempty"`
	Groups           []string          `json:"groups,omitempty"`
	Timezone         *string           `json:"timezone,omitempty"`
	ConsentGivenAt   *time.Time        `json:"consent_given_at,omitempty"`
	ConsentExpiresAt *time.Time        `json:"consent_expires_at,omitempty"`
}

// EventInput is one event sent to POST /api/v1/events.
type EventInput struct {
	Type    string         `json:"type"`
	Email   string         `json:"email"`
	ListID  string         `json:"list_id,omitempty"`
	Contact *ContactInput  `json:"contact,omitempty"`
	Data    map[string]any `json:"data,omitempty"`
}

// IngestResult is the outcome of one event of a batch: EventID (and the
// contact it concerns) when it was stored, Err (an *InvalidError) when it
// was refused.
type IngestResult struct {
	EventID   string
	ContactID string
	Err       error
}

// ScenarioInput is the body of POST and PUT /api/v1/scenarios.
type ScenarioInput struct {
	Name         string `json:"name"`
	AllowReentry *bool  `json:"allow_reentry,omitempty"`
	Graph        Graph  `json:"graph"`
}

// ScenarioView is a scenario with its latest version's graph.
type ScenarioView struct {
	Scenario
	Graph       Graph      `json:"graph"`
	ActivatedAt *time.Time `json:"activated_at,omitempty"`
}

// ScenarioSummary is one row of the scenario list.
type ScenarioSummary struct {
	Scenario
	Reached      int64      `json:"reached"`                 // contacts that entered, over every version
	LastActivity *time.Time `json:"last_activity,omitempty"` // start of the latest hour with activity
}

// ScenarioStats are the counters of one version.
type ScenarioStats struct {
	ScenarioID string          `json:"scenario_id"`
	Version    int             `json:"version"`
	Versions   []int           `json:"versions"` // every version, newest first
	Steps      []StepStatsView `json:"steps"`
}

// StepStatsView is one node's counters, with latency percentiles for
// webhook steps and hourly buckets when asked for.
type StepStatsView struct {
	StepStats
	LatencyMS *Percentiles  `json:"latency_ms,omitempty"`
	Hourly    []HourlyStats `json:"hourly,omitempty"`
}

// Percentiles of attempt durations in milliseconds.
type Percentiles struct {
	P50 int64 `json:"p50"`
	P95 int64 `json:"p95"`
	P99 int64 `json:"p99"`
}

// DeliveryView is a delivery with its attempts, as listed by the API.
type DeliveryView struct {
	Delivery
	Body       json.RawMessage `json:"body"`
	AttemptLog []Attempt       `json:"attempt_log"`
}

// TestRequest is the body of POST /api/v1/webhooks/test.
type TestRequest struct {
	URL       string            `json:"url"`
	Method    string            `json:"method,omitempty"`
	Headers   map[string]string `json:"headers,omitempty"`
	Data      map[string]any    `json:"data,omitempty"`   // extra key-values, placeholders allowed
	Fields    []string          `json:"fields,omitempty"` // contact fields to send
	ContactID string            `json:"contact_id,omitempty"`
	Timeout   string            `json:"timeout,omitempty"`
	// ScenarioID and NodeID, when given, sign with that scenario's secret
	// and name it in the body, as the real step would.
	ScenarioID string `json:"scenario_id,omitempty"`
	NodeID     string `json:"node_id,omitempty"`
}

// TestResult is the answer of a Test URL call.
type TestResult struct {
	OK              bool              `json:"ok"`
	StatusCode      int               `json:"status_code,omitempty"`
	DurationMS      int64             `json:"duration_ms"`
	ResponseHeaders map[string]string `json:"response_headers,omitempty"`
	ResponseBody    string            `json:"response_body,omitempty"`
	Error           string            `json:"error,omitempty"`
	Request         TestSent          `json:"request"`
}

// TestSent is the request a Test URL call made.
type TestSent struct {
	URL     string            `json:"url"`
	Method  string            `json:"method"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}
