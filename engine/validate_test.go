package engine_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/storage/storagetest"
)

func validator(t testing.TB) *engine.Engine {
	e, _ := newEngine(t, storagetest.OpenSQLite(t), nil)
	return e
}

// TestValidateGraph lists every kind of problem with the node and field it
// names. Each graph differs from a valid one by one fault.
func TestValidateGraph(t *testing.T) {
	t.Parallel()
	e := validator(t)
	trigger := node("t1", "signup", `{}`)
	hook := node("w1", "send_webhook", `{"url":"https://example.org/h"}`)
	edge := engine.Edge{From: "t1", To: "w1"}
	type want struct{ node, field, msg string }
	cases := []struct {
		name  string
		graph engine.Graph
		want  []want
	}{
		{"valid", engine.Graph{Nodes: []engine.Node{trigger, hook}, Edges: []engine.Edge{edge}}, nil},
		{"empty", engine.Graph{}, []want{{"", "graph.nodes", "at least a trigger"}}},
		{"unknown type", engine.Graph{Nodes: []engine.Node{trigger, node("w1", "send_fax", `{}`)}, Edges: []engine.Edge{edge}},
			[]want{{"w1", "type", `unknown node type "send_fax"`}}},
		{"missing config", engine.Graph{Nodes: []engine.Node{trigger, node("w1", "send_webhook", `{}`)}, Edges: []engine.Edge{edge}},
			[]want{{"w1", "config.url", ""}}},
		{"invalid config", engine.Graph{Nodes: []engine.Node{trigger, node("w1", "send_webhook", `{"url":"ftp://x"}`)}, Edges: []engine.Edge{edge}},
			[]want{{"w1", "config.url", ""}}},
		{"placeholder does not compile", engine.Graph{Nodes: []engine.Node{trigger,
			node("w1", "send_webhook", `{"url":"https://example.org","data":{"plan":"{{ contact.c3 + }}"}}`)}, Edges: []engine.Edge{edge}},
			[]want{{"w1", "config.data.plan", ""}}},
		{"expression does not compile", engine.Graph{Nodes: []engine.Node{trigger, node("c1", "condition", `{"expression":"contact.c3 ==="}`),
			node("e1", "end", `{}`), node("e2", "end", `{}`)},
			Edges: []engine.Edge{{From: "t1", To: "c1"}, {From: "c1", To: "e1", Label: "yes"}, {From: "c1", To: "e2", Label: "no"}}},
			[]want{{"c1", "config.expression", ""}}},
		{"condition without no", engine.Graph{Nodes: []engine.Node{trigger, node("c1", "condition", `{"expression":"true"}`), hook},
			Edges: []engine.Edge{{From: "t1", To: "c1"}, {From: "c1", To: "w1", Label: "yes"}}},
			[]want{{"c1", "edges", `"no"`}}},
		{"unlabelled edge from condition", engine.Graph{Nodes: []engine.Node{trigger, node("c1", "condition", `{"expression":"true"}`), hook, node("e1", "end", `{}`)},
			Edges: []engine.Edge{{From: "t1", To: "c1"}, {From: "c1", To: "w1"}, {From: "c1", To: "e1", Label: "no"}}},
			[]want{{"c1", "graph.edges[1].label", "one of"}, {"c1", "edges", `"yes"`}, {"w1", "", "no trigger reaches"}}},
		{"label on a plain edge", engine.Graph{Nodes: []engine.Node{trigger, hook}, Edges: []engine.Edge{{From: "t1", To: "w1", Label: "yes"}}},
			[]want{{"t1", "graph.edges[0].label", "no label"}, {"w1", "", "no trigger reaches"}}},
		{"unreachable node", engine.Graph{Nodes: []engine.Node{trigger, hook, node("w2", "send_webhook", `{"url":"https://example.org/2"}`)}, Edges: []engine.Edge{edge}},
			[]want{{"w2", "", "no trigger reaches"}}},
		{"cycle", engine.Graph{Nodes: []engine.Node{trigger, hook, node("w2", "send_webhook", `{"url":"https://example.org/2"}`)},
			Edges: []engine.Edge{edge, {From: "w1", To: "w2"}, {From: "w2", To: "w1"}}},
			[]want{{"w1", "edges", "cycle"}}},
		{"no trigger", engine.Graph{Nodes: []engine.Node{hook}}, []want{{"", "graph.nodes", "needs a trigger"}}},
		{"duplicate id", engine.Graph{Nodes: []engine.Node{trigger, hook, node("w1", "end", `{}`)}, Edges: []engine.Edge{edge}},
			[]want{{"w1", "id", "used twice"}}},
		{"missing id", engine.Graph{Nodes: []engine.Node{trigger, hook, {Type: "end"}}, Edges: []engine.Edge{edge}},
			[]want{{"", "graph.nodes[2].id", "required"}}},
		{"edge to nowhere", engine.Graph{Nodes: []engine.Node{trigger, hook}, Edges: []engine.Edge{edge, {From: "w1", To: "zz"}}},
			[]want{{"w1", "graph.edges[1].to", "unknown node"}}},
		{"edge into a trigger", engine.Graph{Nodes: []engine.Node{trigger, hook}, Edges: []engine.Edge{edge, {From: "w1", To: "t1"}}},
			[]want{{"t1", "graph.edges[1].to", "incoming"}}},
		{"edge out of end", engine.Graph{Nodes: []engine.Node{trigger, node("e1", "end", `{}`), hook},
			Edges: []engine.Edge{{From: "t1", To: "e1"}, {From: "e1", To: "w1"}}},
			[]want{{"e1", "graph.edges[1]", "no outgoing"}, {"w1", "", "no trigger reaches"}}},
		{"every problem at once", engine.Graph{Nodes: []engine.Node{trigger, node("w1", "send_webhook", `{}`), node("x", "nope", `{}`)},
			Edges: []engine.Edge{edge}},
			[]want{{"w1", "config.url", ""}, {"x", "type", "unknown"}, {"x", "", "no trigger reaches"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := e.ValidateGraph(tc.graph)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d problems, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				p := got[i]
				if p.Node != w.node || p.Field != w.field || !strings.Contains(p.Message, w.msg) {
					t.Errorf("problem %d = %+v, want node %q field %q message containing %q", i, p, w.node, w.field, w.msg)
				}
			}
		})
	}
}

// TestActivateRefusesInvalid shows Activate returning every problem.
func TestActivateRefusesInvalid(t *testing.T) {
	t.Parallel()
	e := validator(t)
	ctx := t.Context()
	v, err := e.CreateScenario(ctx, engine.ScenarioInput{Name: "x", Graph: engine.Graph{Nodes: []engine.Node{
		node("t1", "signup", `{}`), node("w1", "send_webhook", `{}`)}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Activate(ctx, v.ID)
	pe, ok := err.(*engine.ProblemsError)
	if !ok {
		t.Fatalf("Activate: %v, want *ProblemsError", err)
	}
	want := []engine.Problem{{Node: "w1", Field: "config.url"}, {Node: "w1", Message: "no trigger reaches this node"}}
	if diff := cmp.Diff(want, pe.Problems, cmp.Comparer(func(a, b engine.Problem) bool {
		return a.Node == b.Node && a.Field == b.Field && (a.Message == "" || b.Message == "" || a.Message == b.Message)
	})); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	got, err := e.GetScenario(ctx, v.ID)
	if err != nil || got.Status != engine.StatusDraft {
		t.Errorf("after a refused activation: %+v %v", got, err)
	}
}

// FuzzGraph decodes arbitrary JSON as a graph and validates it: never a
// panic, the same answer twice, and a valid graph activates.
func FuzzGraph(f *testing.F) {
	f.Add([]byte(`{"nodes":[{"id":"t1","type":"signup","config":{}},{"id":"w1","type":"send_webhook","config":{"url":"https://e.org","data":{"a":"{{ contact.c3 }}"}}}],"edges":[{"from":"t1","to":"w1"}]}`))
	f.Add([]byte(`{"nodes":[{"id":"t1","type":"signup"},{"id":"c","type":"condition","config":{"expression":"contact.c3 == \"x\""}},{"id":"e","type":"end"}],"edges":[{"from":"t1","to":"c"},{"from":"c","to":"e","label":"yes"},{"from":"c","to":"e","label":"no"}]}`))
	f.Add([]byte(`{"nodes":[{"id":"a","type":"wait","config":{"duration":"1h"}}],"edges":[{"from":"a","to":"a"}]}`))
	f.Add([]byte(`{"nodes":[{"id":"t","type":"click","config":{"url_contains":7}}],"edges":[{"from":"","to":"t"}]}`))
	e := validator(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var g engine.Graph
		if err := json.Unmarshal(data, &g); err != nil {
			return
		}
		p1 := e.ValidateGraph(g)
		p2 := e.ValidateGraph(g)
		if diff := cmp.Diff(p1, p2); diff != "" {
			t.Fatalf("validation is not deterministic:\n%s", diff)
		}
		for _, p := range p1 {
			if p.Message == "" {
				t.Fatalf("problem without a message: %+v", p)
			}
		}
		if len(p1) == 0 && len(g.Nodes) > 0 {
			v, err := e.CreateScenario(t.Context(), engine.ScenarioInput{Name: "fuzz", Graph: g})
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			if _, err := e.Activate(t.Context(), v.ID); err != nil {
				t.Fatalf("a valid graph does not activate: %v", err)
			}
		}
	})
}
