package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// Kind groups node types: entry points, actions and flow steps.
type Kind string

// Node kinds.
const (
	KindTrigger Kind = "trigger"
	KindAction  Kind = "action"
	KindFlow    Kind = "flow"
)

// Spec describes a node type to the API and the builder.
type Spec struct {
	Type        string          `json:"type"`
	Kind        Kind            `json:"kind"`
	Label       string          `json:"label"`
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema"` // JSON Schema of the node's config
	// Outputs are the labels of the edges the node may have: nil for one
	// kind of unlabelled edge (any number, followed together), ["yes","no"]
	// for a condition (both required), [] for none (end).
	Outputs []string `json:"outputs"`
	// EventTypes are the event types a trigger listens to.
	EventTypes []string `json:"event_types,omitempty"`
}

// NodeType is one entry of the node catalogue.
type NodeType interface {
	Spec() Spec
	// Compile checks config and prepares the node for execution: every
	// expression and placeholder is compiled here, once per version.
	// Problems name fields relative to the node ("config.url").
	Compile(config json.RawMessage) (Compiled, []Problem)
}

// Compiled is a node ready to run. Triggers implement Trigger; other nodes
// implement Executor.
type Compiled any

// Trigger is a compiled entry node.
type Trigger interface {
	// Matches reports whether ev (about contact c) starts a run here.
	Matches(ev *Event, c *Contact) bool
}

// Executor is a compiled action or flow node.
type Executor interface {
	Execute(ctx context.Context, x *StepContext) (Result, error)
}

// StepContext is what a node sees when it runs for one contact.
type StepContext struct {
	Scenario *Scenario
	Version  int
	NodeID   string
	Run      *Run
	Contact  *Contact
	Event    *Event
	Now      time.Time
	env      map[string]any
}

// Env is the expression environment: contact (standard fields, custom
// fields flattened, dates, groups), event (type, data), run, scenario, now.
func (x *StepContext) Env() map[string]any {
	if x.env == nil {
		x.env = ExprEnv(x.Contact, x.Event, x.Run, x.Scenario, x.Now)
	}
	return x.env
}

// ExprEnv builds the environment that expressions and placeholders see.
func ExprEnv(c *Contact, ev *Event, r *Run, s *Scenario, now time.Time) map[string]any {
	contact := map[string]any{}
	if c != nil {
		for k, v := range c.Fields {
			contact[k] = v
		}
		contact["id"] = c.ID
		contact["email"] = c.Email
		contact["firstname"] = c.Firstname
		contact["lastname"] = c.Lastname
		contact["timezone"] = c.Timezone
		dates := map[string]any{}
		for k, v := range c.Dates {
			dates[k] = v
		}
		contact["dates"] = dates
		groups := make([]any, len(c.Groups))
		for i, g := range c.Groups {
			groups[i] = g
		}
		contact["groups"] = groups
	}
	event := map[string]any{"type": "", "data": map[string]any{}}
	if ev != nil {
		data := ev.Data
		if data == nil {
			data = map[string]any{}
		}
		event = map[string]any{"id": ev.ID, "type": ev.Type, "list_id": ev.ListID, "data": data,
			"occurred_at": ev.OccurredAt.UTC().Format(time.RFC3339Nano)}
	}
	run := map[string]any{}
	if r != nil {
		run = map[string]any{"id": r.ID, "version": r.Version}
	}
	scenario := map[string]any{}
	if s != nil {
		scenario = map[string]any{"id": s.ID, "name": s.Name}
	}
	return map[string]any{"contact": contact, "event": event, "run": run, "scenario": scenario,
		"now": now.UTC().Format(time.RFC3339)}
}

// SampleEnv is an environment with every top-level name, used to compile
// expressions so that a misspelt root name is a validation error.
func SampleEnv() map[string]any {
	return ExprEnv(&Contact{}, &Event{}, &Run{}, &Scenario{}, time.Time{})
}

// Result is what a node decided. The executor applies it in one
// transaction: contact changes, a delivery to make, the next steps.
type Result struct {
	// Label selects the outgoing edges to follow ("yes"/"no" for a
	// condition); "" follows every unlabelled edge.
	Label string
	// End stops the run here.
	End bool
	// NextAt delays the next steps (wait); zero means now.
	NextAt time.Time
	// Changes are applied to the contact in the step's transaction.
	Changes []ContactChange
	// Delivery is a webhook request to make (send_webhook).
	Delivery *DeliveryRequest
}

// ChangeOp is a kind of contact change.
type ChangeOp string

// Contact change kinds.
const (
	OpAddGroup    ChangeOp = "add_group"
	OpRemoveGroup ChangeOp = "remove_group"
	OpSetField    ChangeOp = "set_field"
	OpSubscribe   ChangeOp = "subscribe"
	OpUnsubscribe ChangeOp = "unsubscribe"
)

// ContactChange is one change an action makes to the contact.
type ContactChange struct {
	Op     ChangeOp
	Group  string
	Field  string
	Value  any
	ListID string
}

// DeliveryRequest is a webhook a send_webhook step wants made: the executor
// wraps Data and Extra in the standard body, signs and sends it.
type DeliveryRequest struct {
	URL     string
	Method  string
	Headers map[string]string
	Data    map[string]any // chosen contact fields
	Extra   map[string]any // rendered key-values
	Timeout time.Duration
}

// Registry is the node catalogue.
type Registry struct {
	types map[string]NodeType
}

// NewRegistry returns an empty catalogue.
func NewRegistry() *Registry { return &Registry{types: map[string]NodeType{}} }

// Register adds t; registering a type name twice panics (a wiring bug).
func (r *Registry) Register(t NodeType) {
	name := t.Spec().Type
	if _, dup := r.types[name]; dup {
		panic(fmt.Sprintf("node type %q registered twice", name))
	}
	r.types[name] = t
}

// Get returns the node type called name.
func (r *Registry) Get(name string) (NodeType, bool) {
	t, ok := r.types[name]
	return t, ok
}

// Specs lists every node type, sorted by kind then type.
func (r *Registry) Specs() []Spec {
	out := make([]Spec, 0, len(r.types))
	for _, t := range r.types {
		out = append(out, t.Spec())
	}
	order := map[Kind]int{KindTrigger: 0, KindAction: 1, KindFlow: 2}
	sort.Slice(out, func(i, j int) bool {
		if order[out[i].Kind] != order[out[j].Kind] {
			return order[out[i].Kind] < order[out[j].Kind]
		}
		return out[i].Type < out[j].Type
	})
	return out
}
