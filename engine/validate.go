package engine

import "fmt"

// plan is a compiled version: every node compiled once, edges indexed.
type plan struct {
	nodes    map[string]*planNode
	order    []string // node ids in graph order
	triggers []*planNode
}

type planNode struct {
	Node
	spec     Spec
	compiled Compiled
	out      []Edge
	in       int // edges into the node
}

// next returns the nodes reached from id by edges with label.
func (p *plan) next(id, label string) []string {
	n := p.nodes[id]
	if n == nil {
		return nil
	}
	var out []string
	for _, e := range n.out {
		if e.Label == label {
			out = append(out, e.To)
		}
	}
	return out
}

// ValidateGraph returns every problem of g (empty when valid).
func (e *Engine) ValidateGraph(g Graph) []Problem {
	_, problems := compileGraph(e.cfg.Registry, g)
	return problems
}

// compileGraph checks g and compiles every node. It reports every problem:
// unknown types, bad configs (with the node's own field paths), dangling or
// mislabelled edges, cycles and nodes no trigger reaches.
func compileGraph(reg *Registry, g Graph) (*plan, []Problem) {
	var problems []Problem
	add := func(node, field, format string, args ...any) {
		problems = append(problems, Problem{Node: node, Field: field, Message: fmt.Sprintf(format, args...)})
	}
	p := &plan{nodes: make(map[string]*planNode, len(g.Nodes))}
	if len(g.Nodes) == 0 {
		add("", "graph.nodes", "a scenario needs at least a trigger and one step")
	}
	for i, n := range g.Nodes {
		switch {
		case n.ID == "":
			add("", fmt.Sprintf("graph.nodes[%d].id", i), "node id is required")
			continue
		case len(n.ID) > 64:
			add(n.ID, "id", "node id is longer than 64 characters")
			continue
		case p.nodes[n.ID] != nil:
			add(n.ID, "id", "node id %q is used twice", n.ID)
			continue
		}
		pn := &planNode{Node: n}
		p.nodes[n.ID] = pn
		p.order = append(p.order, n.ID)
		t, ok := reg.Get(n.Type)
		if !ok {
			add(n.ID, "type", "unknown node type %q", n.Type)
			continue
		}
		pn.spec = t.Spec()
		compiled, probs := t.Compile(n.Config)
		for _, pr := range probs {
			pr.Node = n.ID
			problems = append(problems, pr)
		}
		pn.compiled = compiled
		if pn.spec.Kind == KindTrigger {
			p.triggers = append(p.triggers, pn)
		}
	}
	if len(g.Nodes) > 0 && len(p.triggers) == 0 {
		add("", "graph.nodes", "a scenario needs a trigger node")
	}

	seen := map[Edge]bool{}
	for i, ed := range g.Edges {
		field := fmt.Sprintf("graph.edges[%d]", i)
		from, to := p.nodes[ed.From], p.nodes[ed.To]
		switch {
		case from == nil:
			add(ed.From, field+".from", "edge starts at unknown node %q", ed.From)
			continue
		case to == nil:
			add(ed.From, field+".to", "edge ends at unknown node %q", ed.To)
			continue
		case seen[ed]:
			add(ed.From, field, "edge %s → %s is drawn twice", ed.From, ed.To)
			continue
		case to.spec.Kind == KindTrigger && to.spec.Type != "":
			add(ed.To, field+".to", "a trigger cannot have incoming edges")
			continue
		}
		seen[ed] = true
		if from.spec.Type != "" {
			outs := from.spec.Outputs
			switch {
			case outs != nil && len(outs) == 0:
				add(ed.From, field, "a %s node has no outgoing edges", from.Type)
				continue
			case outs == nil && ed.Label != "":
				add(ed.From, field+".label", "edges from a %s node carry no label", from.Type)
				continue
			case outs != nil && !contains(outs, ed.Label):
				add(ed.From, field+".label", "edge label must be one of %v", outs)
				continue
			}
		}
		from.out = append(from.out, ed)
		to.in++
	}
	for _, id := range p.order {
		pn := p.nodes[id]
		for _, label := range pn.spec.Outputs {
			if len(p.next(id, label)) == 0 {
				add(id, "edges", "a %s node needs a %q edge", pn.Type, label)
			}
		}
	}
	problems = append(problems, graphShapeProblems(p)...)
	if len(problems) > 0 {
		return nil, problems
	}
	return p, nil
}

// graphShapeProblems finds cycles and nodes that no trigger reaches.
func graphShapeProblems(p *plan) []Problem {
	var problems []Problem
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	inCycle := map[string]bool{}
	var visit func(id string)
	visit = func(id string) {
		color[id] = grey
		for _, ed := range p.nodes[id].out {
			switch color[ed.To] {
			case white:
				visit(ed.To)
			case grey:
				inCycle[ed.To] = true
			}
		}
		color[id] = black
	}
	for _, id := range p.order {
		if color[id] == white {
			visit(id)
		}
	}
	reached := map[string]bool{}
	var walk func(id string)
	walk = func(id string) {
		if reached[id] {
			return
		}
		reached[id] = true
		for _, ed := range p.nodes[id].out {
			walk(ed.To)
		}
	}
	for _, t := range p.triggers {
		walk(t.ID)
	}
	for _, id := range p.order {
		if inCycle[id] {
			problems = append(problems, Problem{Node: id, Field: "edges", Message: "the graph has a cycle through this node"})
		}
		if len(p.triggers) > 0 && !reached[id] {
			problems = append(problems, Problem{Node: id, Message: "no trigger reaches this node"})
		}
	}
	return problems
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
