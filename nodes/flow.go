package nodes

import (
	"context"
	"fmt"

	"github.com/expr-lang/expr/vm"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/nodes/placeholder"
)

// Edge labels of a condition.
const (
	labelYes = "yes"
	labelNo  = "no"
)

// condition is a compiled condition step.
type condition struct{ prog *vm.Program }

func conditionType() *nodeType {
	return newType(engine.Spec{
		Type: "condition", Kind: engine.KindFlow, Label: "Condition",
		Description: "Sends the contact down the \"yes\" or the \"no\" branch depending on an expression, " +
			`e.g. contact.c3 == "pro" or "vip" in contact.groups.`,
		Outputs: []string{labelYes, labelNo},
	}, schema{props: []prop{
		stringProp("expression", "Condition",
			`An expression that is true or false, over contact (contact.firstname, contact.c3, contact.dates, `+
				`contact.groups) and event (event.type, event.data). Example: contact.c3 == "pro" && event.data.amount > 100.`).
			with("minLength", 1, "maxLength", maxText, "x-expression", true),
	}, required: []string{"expression"}}, func(c *config) engine.Compiled {
		n := &condition{}
		if code := c.required("expression"); code != "" {
			prog, err := placeholder.CompileExpr(code)
			if err != nil {
				c.add(path("expression"), "expression error at %v", err)
			}
			n.prog = prog
		}
		return n
	})
}

// Execute evaluates the expression and follows "yes" or "no".
func (n *condition) Execute(_ context.Context, x *engine.StepContext) (engine.Result, error) {
	ok, err := placeholder.EvalBool(n.prog, x.Env())
	if err != nil {
		return engine.Result{}, fmt.Errorf("condition: %w", err)
	}
	if ok {
		return engine.Result{Label: labelYes}, nil
	}
	return engine.Result{Label: labelNo}, nil
}

// endNode is a compiled end step.
type endNode struct{}

func endType() *nodeType {
	return newType(engine.Spec{
		Type: "end", Kind: engine.KindFlow, Label: "End",
		Description: "Ends the scenario for the contact.",
		Outputs:     []string{},
	}, schema{}, func(*config) engine.Compiled { return endNode{} })
}

// Execute stops the run.
func (endNode) Execute(context.Context, *engine.StepContext) (engine.Result, error) {
	return engine.Result{End: true}, nil
}
