// Package nodes is Sluice's node catalogue: the triggers, actions and flow
// steps a scenario is drawn with. Each type declares its config's JSON Schema
// (rendered as a form by the builder), validates a config strictly, compiling
// every placeholder and expression once, and returns a compiled node that
// matches events (engine.Trigger) or executes a step (engine.Executor).
package nodes

import (
	"bytes"
	"encoding/json"
	"slices"

	"github.com/sluicehq/sluice/engine"
)

// Register installs every node type of the catalogue in r.
func Register(r *engine.Registry) {
	for _, t := range catalogue() {
		r.Register(t)
	}
}

// catalogue builds every node type.
func catalogue() []*nodeType {
	return []*nodeType{
		signupType(), unsubscribeType(), clickType(), openType(), contactUpdatedType(),
		groupAddedType(), customEventType(), inboundWebhookType(),
		dateReachedType(), consentExpiringType(), // datetriggers.go
		sendWebhookType(), addToGroupType(), removeFromGroupType(), updateFieldType(),
		subscribeType(), unsubscribeFromListType(),
		waitType(), conditionType(), endType(),
	}
}

// nodeType is one catalogue entry: its Spec, the config fields it accepts
// (the schema's properties) and how a checked config becomes a node.
type nodeType struct {
	spec   engine.Spec
	fields []string
	// compile reads c (recording problems in it) and returns the node;
	// its result is dropped when c has problems.
	compile func(c *config) engine.Compiled
}

// newType assembles a nodeType whose config is described by s.
func newType(spec engine.Spec, s schema, compile func(c *config) engine.Compiled) *nodeType {
	spec.Schema = s.document()
	return &nodeType{spec: spec, fields: s.names(), compile: compile}
}

// Spec describes the type; the slices are copies the caller may keep.
func (t *nodeType) Spec() engine.Spec {
	s := t.spec
	s.Schema = bytes.Clone(s.Schema)
	if s.Outputs != nil {
		s.Outputs = slices.Clone(s.Outputs)
	}
	s.EventTypes = slices.Clone(s.EventTypes)
	return s
}

// Compile checks config and returns the compiled node, or every problem.
func (t *nodeType) Compile(raw json.RawMessage) (engine.Compiled, []engine.Problem) {
	c := parseConfig(raw, t.fields)
	if c.broken {
		return nil, c.problems
	}
	node := t.compile(c)
	if len(c.problems) > 0 {
		return nil, c.problems
	}
	return node, nil
}
