package nodes

import (
	"strings"

	"github.com/sluicehq/sluice/engine"
)

// listProp is the optional list of signup and unsubscribe triggers.
func listProp(description string) prop {
	return stringProp("list_id", "List", description)
}

// listTrigger starts a run on an event of type typ, optionally only for
// one list.
type listTrigger struct {
	typ    string
	listID string // "": any list
}

// Matches reports whether ev is of the trigger's type and list.
func (t *listTrigger) Matches(ev *engine.Event, _ *engine.Contact) bool {
	return ev != nil && ev.Type == t.typ && (t.listID == "" || ev.ListID == t.listID)
}

func signupType() *nodeType {
	return newType(engine.Spec{
		Type: "signup", Kind: engine.KindTrigger, Label: "Contact subscribes",
		Description: "Starts when a contact subscribes to a list.",
		EventTypes:  []string{engine.EventSignup},
	}, schema{props: []prop{
		listProp("Only start for subscriptions to this list. Leave empty to start for any list."),
	}}, func(c *config) engine.Compiled {
		id, _ := c.str("list_id")
		return &listTrigger{typ: engine.EventSignup, listID: id}
	})
}

func unsubscribeType() *nodeType {
	return newType(engine.Spec{
		Type: "unsubscribe", Kind: engine.KindTrigger, Label: "Contact unsubscribes",
		Description: "Starts when a contact unsubscribes from a list.",
		EventTypes:  []string{engine.EventUnsubscribe},
	}, schema{props: []prop{
		listProp("Only start for unsubscriptions from this list. Leave empty to start for any list."),
	}}, func(c *config) engine.Compiled {
		id, _ := c.str("list_id")
		return &listTrigger{typ: engine.EventUnsubscribe, listID: id}
	})
}

// urlTrigger starts a run on a click or open, optionally only when the
// event's "url" data contains some text.
type urlTrigger struct {
	typ      string
	contains string // "": any
}

// Matches reports whether ev is of the trigger's type and, when a text is
// set, whether ev.Data["url"] is a string containing it.
func (t *urlTrigger) Matches(ev *engine.Event, _ *engine.Contact) bool {
	if ev == nil || ev.Type != t.typ {
		return false
	}
	if t.contains == "" {
		return true
	}
	u, ok := ev.Data["url"].(string)
	return ok && strings.Contains(u, t.contains)
}

func clickType() *nodeType {
	return newType(engine.Spec{
		Type: "click", Kind: engine.KindTrigger, Label: "Contact clicks a link",
		Description: "Starts when a contact clicks a link in a message.",
		EventTypes:  []string{engine.EventClick},
	}, schema{props: []prop{
		stringProp("url_contains", "Link contains",
			"Only start when the clicked link contains this text (e.g. /pricing). Leave empty for any link."),
	}}, func(c *config) engine.Compiled {
		s, _ := c.str("url_contains")
		return &urlTrigger{typ: engine.EventClick, contains: s}
	})
}

func openType() *nodeType {
	return newType(engine.Spec{
		Type: "open", Kind: engine.KindTrigger, Label: "Contact opens a message",
		Description: "Starts when a contact opens a message.",
		EventTypes:  []string{engine.EventOpen},
	}, schema{props: []prop{
		stringProp("url_contains", "Message link contains",
			"Only start when the opened message's URL contains this text. Leave empty for any message."),
	}}, func(c *config) engine.Compiled {
		s, _ := c.str("url_contains")
		return &urlTrigger{typ: engine.EventOpen, contains: s}
	})
}

// updatedTrigger starts a run when a contact's fields change, optionally
// only some of them.
type updatedTrigger struct {
	fields []string // nil: any field
}

// Matches reports whether ev is a contact_updated event and, when fields
// are set, whether one of ev.Data["fields"] (the changed names) is among them.
func (t *updatedTrigger) Matches(ev *engine.Event, _ *engine.Contact) bool {
	if ev == nil || ev.Type != engine.EventContactUpdated {
		return false
	}
	if len(t.fields) == 0 {
		return true
	}
	switch changed := ev.Data["fields"].(type) {
	case []string:
		for _, f := range changed {
			if contains(t.fields, f) {
				return true
			}
		}
	case []any:
		for _, f := range changed {
			if s, ok := f.(string); ok && contains(t.fields, s) {
				return true
			}
		}
	}
	return false
}

func contactUpdatedType() *nodeType {
	return newType(engine.Spec{
		Type: "contact_updated", Kind: engine.KindTrigger, Label: "Contact is updated",
		Description: "Starts when a contact's details change.",
		EventTypes:  []string{engine.EventContactUpdated},
	}, schema{props: []prop{
		{name: "fields", schema: map[string]any{
			"type": "array", "title": "Fields to watch",
			"description": "Only start when one of these fields changes (e.g. firstname, c3). Leave empty for any change.",
			"items":       map[string]any{"type": "string", "pattern": identifier.String()},
			"uniqueItems": true,
		}},
	}}, func(c *config) engine.Compiled {
		items, _ := c.strList("fields", 100)
		t := &updatedTrigger{}
		if len(items) > 0 {
			t.fields = c.fieldNames("fields", items)
		}
		return t
	})
}

// groupTrigger starts a run when a contact is added to a group.
type groupTrigger struct{ group string }

// Matches reports whether ev adds the contact to the trigger's group.
func (t *groupTrigger) Matches(ev *engine.Event, _ *engine.Contact) bool {
	if ev == nil || ev.Type != engine.EventGroupAdded {
		return false
	}
	g, ok := ev.Data["group"].(string)
	return ok && g == t.group
}

func groupAddedType() *nodeType {
	return newType(engine.Spec{
		Type: "group_added", Kind: engine.KindTrigger, Label: "Contact joins a group",
		Description: "Starts when a contact is added to a group.",
		EventTypes:  []string{engine.EventGroupAdded},
	}, schema{props: []prop{
		stringProp("group", "Group", "The group the contact is added to.").with("minLength", 1),
	}, required: []string{"group"}}, func(c *config) engine.Compiled {
		return &groupTrigger{group: c.required("group")}
	})
}

// customTrigger starts a run on events of a custom type.
type customTrigger struct{ name string }

// Matches reports whether ev's type is the trigger's event name.
func (t *customTrigger) Matches(ev *engine.Event, _ *engine.Contact) bool {
	return ev != nil && ev.Type == t.name
}

func customEventType() *nodeType {
	return newType(engine.Spec{
		Type: "custom_event", Kind: engine.KindTrigger, Label: "Custom event",
		Description: "Starts when your application sends an event with this name (e.g. order_paid).",
		EventTypes:  nil, // any type: Matches checks the name
	}, schema{props: []prop{
		stringProp("name", "Event name", "The event's type as your application sends it, e.g. order_paid.").
			with("minLength", 1, "maxLength", 100),
	}, required: []string{"name"}}, func(c *config) engine.Compiled {
		name := c.required("name")
		if len(name) > 100 {
			c.add(path("name"), "is too long (at most 100 characters)")
		}
		return &customTrigger{name: name}
	})
}

// inboundTrigger starts a run when an inbound webhook subscribes or
// unsubscribes a contact.
type inboundTrigger struct{ id string }

// Matches reports whether ev is a signup or unsubscribe recorded by the
// trigger's inbound webhook (ev.Data["inbound_webhook_id"]).
func (t *inboundTrigger) Matches(ev *engine.Event, _ *engine.Contact) bool {
	if ev == nil || (ev.Type != engine.EventSignup && ev.Type != engine.EventUnsubscribe) {
		return false
	}
	id, ok := ev.Data["inbound_webhook_id"].(string)
	return ok && id == t.id
}

func inboundWebhookType() *nodeType {
	return newType(engine.Spec{
		Type: "inbound_webhook", Kind: engine.KindTrigger, Label: "Inbound webhook is called",
		Description: "Starts when an outside system subscribes or unsubscribes a contact through one of your inbound webhooks.",
		EventTypes:  []string{engine.EventSignup, engine.EventUnsubscribe},
	}, schema{props: []prop{
		stringProp("inbound_webhook_id", "Inbound webhook", "The inbound webhook whose calls start this scenario.").
			with("minLength", 1),
	}, required: []string{"inbound_webhook_id"}}, func(c *config) engine.Compiled {
		return &inboundTrigger{id: c.required("inbound_webhook_id")}
	})
}
