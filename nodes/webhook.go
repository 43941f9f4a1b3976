package nodes

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/nodes/placeholder"
)

// Webhook limits and defaults.
const (
	defaultTimeout = 15 * time.Second
	minTimeout     = time.Second
	maxTimeout     = 60 * time.Second
	maxURL         = 2048
)

// webhookMethods are the HTTP methods a webhook step may use.
var webhookMethods = []string{"POST", "PUT", "PATCH"}

// defaultFields are the contact fields sent when "fields" is omitted.
var defaultFields = []string{"email"}

// reservedHeaders are the headers Sluice sets itself (lower case); every
// "webhook-…" header is reserved too (Standard Webhooks signature).
var reservedHeaders = []string{"host", "content-length", "content-type", "transfer-encoding", "connection"}

// namedTemplate is a compiled value with its key (data key or header name).
type namedTemplate struct {
	key string
	tpl *placeholder.Template
}

// sendWebhook is a compiled send_webhook step.
type sendWebhook struct {
	url     *placeholder.Template
	method  string
	fields  []string
	data    []namedTemplate
	headers []namedTemplate
	timeout time.Duration
}

func sendWebhookType() *nodeType {
	valueSchema := map[string]any{"type": "string", "x-placeholders": true}
	return newType(engine.Spec{
		Type: "send_webhook", Kind: engine.KindAction, Label: "Send a Webhook",
		Description: "Sends the contact's details to another system's URL as a signed JSON request, " +
			"retried for up to 12 hours until it is accepted.",
	}, schema{props: []prop{
		stringProp("url", "URL",
			"Where the request is sent, e.g. https://crm.example.org/hooks/sluice. "+
				"May hold placeholders such as {{ contact.c3 }}.").
			with("format", "uri", "x-placeholders", true, "minLength", 1, "maxLength", maxURL),
		stringProp("method", "Method", "The HTTP method of the request.").
			with("enum", webhookMethods, "default", "POST"),
		{name: "fields", schema: map[string]any{
			"type": "array", "title": "Contact fields to send",
			"description": "The contact's fields included in the request's data: email, firstname, lastname, id, " +
				"timezone or a custom field such as c3.",
			"items":       map[string]any{"type": "string", "pattern": identifier.String()},
			"uniqueItems": true, "default": defaultFields,
		}},
		{name: "data", schema: map[string]any{
			"type": "object", "title": "Additional data",
			"description": "Extra key-values sent in the request's \"extra\" object. Values may hold placeholders " +
				"such as {{ event.data.plan }}; a value that is a single placeholder keeps its type (a number stays a number).",
			"propertyNames":        map[string]any{"minLength": 1, "maxLength": 100},
			"additionalProperties": valueSchema, "x-placeholders": true, "default": map[string]any{},
		}},
		{name: "headers", schema: map[string]any{
			"type": "object", "title": "Headers",
			"description": "Extra HTTP headers, e.g. an Authorization token. Values may hold placeholders. " +
				"Host, Content-Type, Content-Length and webhook-* headers are set by Sluice.",
			"propertyNames":        map[string]any{"pattern": `^[!#$%&'*+.^_` + "`" + `|~0-9A-Za-z-]+$`},
			"additionalProperties": valueSchema, "x-placeholders": true, "default": map[string]any{},
		}},
		stringProp("timeout", "Timeout",
			"How long to wait for an answer before trying again later, from 1s to 60s.").
			with("default", "15s", "pattern", `^([0-9]+(\.[0-9]+)?(ms|s|m))+$`),
	}, required: []string{"url"}}, compileSendWebhook)
}

func compileSendWebhook(c *config) engine.Compiled {
	n := &sendWebhook{method: "POST", timeout: defaultTimeout, fields: defaultFields}
	if raw := c.required("url"); raw != "" {
		n.url = c.template(path("url"), raw)
		if n.url != nil {
			if err := checkURL(n.url.Fill("x")); err != "" {
				c.add(path("url"), "%s", err)
			}
		}
	}
	if m, ok := c.str("method"); ok {
		if contains(webhookMethods, m) {
			n.method = m
		} else {
			c.add(path("method"), "must be one of %s", strings.Join(webhookMethods, ", "))
		}
	}
	if items, ok := c.strList("fields", 100); ok {
		n.fields = make([]string, 0, len(items))
		for _, it := range items {
			switch f := it.value; {
			case !identifier.MatchString(f):
				c.add(indexPath("fields", it.index), "%q is not a field name (letters, digits and _ only)", f)
			case f == "type":
				c.add(indexPath("fields", it.index), `"type" is set by Sluice ("contact") and cannot be sent as a field`)
			case contains(n.fields, f):
				c.add(indexPath("fields", it.index), "%q is listed twice", f)
			default:
				n.fields = append(n.fields, f)
			}
		}
	}
	for _, e := range c.strMap("data", 100) {
		if e.key == "" || len(e.key) > 100 {
			c.add(e.field, "keys must have 1 to 100 characters")
			continue
		}
		if t := c.template(e.field, e.value); t != nil {
			n.data = append(n.data, namedTemplate{key: e.key, tpl: t})
		}
	}
	for _, e := range c.strMap("headers", 50) {
		if msg := checkHeaderName(e.key, n.headers); msg != "" {
			c.add(e.field, "%s", msg)
			continue
		}
		if strings.ContainsAny(e.value, "\r\n\x00") {
			c.add(e.field, "must be on one line")
			continue
		}
		if t := c.template(e.field, e.value); t != nil {
			n.headers = append(n.headers, namedTemplate{key: e.key, tpl: t})
		}
	}
	if s, ok := c.str("timeout"); ok {
		d, err := time.ParseDuration(s)
		switch {
		case err != nil:
			c.add(path("timeout"), "must be a duration such as 15s")
		case d < minTimeout || d > maxTimeout:
			c.add(path("timeout"), "must be between 1s and 60s")
		default:
			n.timeout = d
		}
	}
	return n
}

// checkURL returns why u (with its placeholders filled) is not an absolute
// http(s) URL, or "".
func checkURL(u string) string {
	if len(u) > maxURL {
		return fmt.Sprintf("is too long (at most %d characters)", maxURL)
	}
	if strings.ContainsFunc(u, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "must not contain spaces or control characters"
	}
	p, err := url.Parse(u)
	if err != nil {
		return "is not a valid URL: " + strings.TrimPrefix(err.Error(), fmt.Sprintf("parse %q: ", u))
	}
	if p.Scheme != "http" && p.Scheme != "https" {
		return "must start with https:// or http://"
	}
	if p.Host == "" || p.Hostname() == "" {
		return "must name a host, e.g. https://example.org/hook"
	}
	return ""
}

// checkHeaderName returns why name cannot be a configured header, or "".
func checkHeaderName(name string, seen []namedTemplate) string {
	if name == "" {
		return "header names must not be empty"
	}
	for _, r := range name {
		if !isTokenChar(r) {
			return fmt.Sprintf("%q is not a valid header name", name)
		}
	}
	lower := strings.ToLower(name)
	if contains(reservedHeaders, lower) || strings.HasPrefix(lower, "webhook-") {
		return fmt.Sprintf("%s is set by Sluice and cannot be configured", name)
	}
	for _, h := range seen {
		if strings.EqualFold(h.key, name) {
			return fmt.Sprintf("%s is the same header as %s", name, h.key)
		}
	}
	return ""
}

// isTokenChar reports whether r may appear in an HTTP header name (RFC 9110 tchar).
func isTokenChar(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune("!#$%&'*+-.^_`|~", r)
}

// Execute renders the URL, headers and data and returns the delivery to make.
func (n *sendWebhook) Execute(_ context.Context, x *engine.StepContext) (engine.Result, error) {
	env := x.Env()
	u, err := n.url.Render(env)
	if err != nil {
		return engine.Result{}, fmt.Errorf("url: %w", err)
	}
	if msg := checkURL(u); msg != "" {
		return engine.Result{}, fmt.Errorf("url: rendered to %q, which %s", u, msg)
	}
	headers := make(map[string]string, len(n.headers))
	for _, h := range n.headers {
		v, err := h.tpl.Render(env)
		if err != nil {
			return engine.Result{}, fmt.Errorf("header %s: %w", h.key, err)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return engine.Result{}, fmt.Errorf("header %s: rendered value contains a line break", h.key)
		}
		headers[h.key] = v
	}
	extra := make(map[string]any, len(n.data))
	for _, d := range n.data {
		v, err := d.tpl.RenderValue(env)
		if err != nil {
			return engine.Result{}, fmt.Errorf("data %q: %w", d.key, err)
		}
		extra[d.key] = v
	}
	return engine.Result{Delivery: &engine.DeliveryRequest{
		URL:     u,
		Method:  n.method,
		Headers: headers,
		Data:    contactData(x.Contact, n.fields),
		Extra:   extra,
		Timeout: n.timeout,
	}}, nil
}

// contactData picks fields of c: standard ones from the struct, custom ones
// from c.Fields (null when the contact has no value).
func contactData(c *engine.Contact, fields []string) map[string]any {
	if c == nil {
		c = &engine.Contact{}
	}
	data := make(map[string]any, len(fields))
	for _, f := range fields {
		switch f {
		case "email":
			data[f] = c.Email
		case "firstname":
			data[f] = c.Firstname
		case "lastname":
			data[f] = c.Lastname
		case "id":
			data[f] = c.ID
		case "timezone":
			data[f] = c.Timezone
		default:
			data[f] = c.Fields[f]
		}
	}
	return data
}
