package nodes

import (
	"context"
	"fmt"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/nodes/placeholder"
)

// maxName bounds group names and list ids.
const maxName = 200

// changeNode is a compiled action that makes one fixed contact change.
type changeNode struct{ change engine.ContactChange }

// Execute returns the node's contact change.
func (n *changeNode) Execute(context.Context, *engine.StepContext) (engine.Result, error) {
	return engine.Result{Changes: []engine.ContactChange{n.change}}, nil
}

// name reads a required short name field (group, list id).
func (c *config) name(field string) string {
	s := c.required(field)
	if len(s) > maxName {
		c.add(path(field), "is too long (at most %d characters)", maxName)
	}
	return s
}

// nameSchema is the schema of a node whose one field is a required short
// name (a group, a list id).
func nameSchema(field, title, description string) schema {
	return schema{props: []prop{
		stringProp(field, title, description).with("minLength", 1, "maxLength", maxName),
	}, required: []string{field}}
}

func addToGroupType() *nodeType {
	return newType(engine.Spec{
		Type: "add_to_group", Kind: engine.KindAction, Label: "Add to a group",
		Description: "Adds the contact to a group.",
	}, nameSchema("group", "Group", "The group the contact joins."), func(c *config) engine.Compiled {
		return &changeNode{engine.ContactChange{Op: engine.OpAddGroup, Group: c.name("group")}}
	})
}

func removeFromGroupType() *nodeType {
	return newType(engine.Spec{
		Type: "remove_from_group", Kind: engine.KindAction, Label: "Remove from a group",
		Description: "Removes the contact from a group.",
	}, nameSchema("group", "Group", "The group the contact leaves."), func(c *config) engine.Compiled {
		return &changeNode{engine.ContactChange{Op: engine.OpRemoveGroup, Group: c.name("group")}}
	})
}

func subscribeType() *nodeType {
	return newType(engine.Spec{
		Type: "subscribe_to_list", Kind: engine.KindAction, Label: "Subscribe to a list",
		Description: "Subscribes the contact to a list.",
	}, nameSchema("list_id", "List", "The list the contact is subscribed to."), func(c *config) engine.Compiled {
		return &changeNode{engine.ContactChange{Op: engine.OpSubscribe, ListID: c.name("list_id")}}
	})
}

func unsubscribeFromListType() *nodeType {
	return newType(engine.Spec{
		Type: "unsubscribe_from_list", Kind: engine.KindAction, Label: "Unsubscribe from a list",
		Description: "Unsubscribes the contact from a list.",
	}, nameSchema("list_id", "List", "The list the contact is unsubscribed from."), func(c *config) engine.Compiled {
		return &changeNode{engine.ContactChange{Op: engine.OpUnsubscribe, ListID: c.name("list_id")}}
	})
}

// textFields are the standard contact fields update_field may set; they
// hold text, so their value is always rendered as a string.
var textFields = []string{"firstname", "lastname", "timezone"}

// reservedFields are contact names that are not settable fields.
var reservedFields = []string{"email", "id", "dates", "groups", "type"}

// updateField is a compiled update_field step.
type updateField struct {
	field string
	value *placeholder.Template
	text  bool // a standard text field: render as a string
}

func updateFieldType() *nodeType {
	return newType(engine.Spec{
		Type: "update_field", Kind: engine.KindAction, Label: "Update a field",
		Description: "Sets one of the contact's fields to a value, which may hold placeholders.",
	}, schema{props: []prop{
		stringProp("field", "Field",
			"The field to set: firstname, lastname, timezone or a custom field such as c3.").
			with("pattern", identifier.String()),
		stringProp("value", "Value",
			"The new value. May hold placeholders such as {{ event.data.plan }}; a value that is a single "+
				"placeholder keeps its type (a number stays a number). Empty clears the field.").
			with("x-placeholders", true, "default", ""),
	}, required: []string{"field", "value"}}, func(c *config) engine.Compiled {
		n := &updateField{field: c.required("field")}
		switch f := n.field; {
		case f == "":
		case !identifier.MatchString(f):
			c.add(path("field"), "%q is not a field name (letters, digits and _ only)", f)
		case contains(reservedFields, f):
			c.add(path("field"), "%s cannot be changed by a scenario; choose firstname, lastname, timezone or a custom field", f)
		}
		n.text = contains(textFields, n.field)
		if !c.has("value") {
			c.add(path("value"), "is required")
		} else if v, ok := c.text("value"); ok {
			n.value = c.template(path("value"), v)
		}
		return n
	})
}

// Execute renders the value and returns the field change.
func (n *updateField) Execute(_ context.Context, x *engine.StepContext) (engine.Result, error) {
	var v any
	var err error
	if n.text {
		v, err = n.value.Render(x.Env())
	} else {
		v, err = n.value.RenderValue(x.Env())
	}
	if err != nil {
		return engine.Result{}, fmt.Errorf("value of %s: %w", n.field, err)
	}
	return engine.Result{Changes: []engine.ContactChange{{Op: engine.OpSetField, Field: n.field, Value: v}}}, nil
}
