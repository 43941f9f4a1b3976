package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/engine"
)

// The OpenAPI 3.1 document is built in New from the route table (routes.go)
// and from the Go types the handlers decode and answer, so that it cannot
// drift from them: a field added to an engine type shows up here, and
// TestOpenAPIMatchesRoutes checks that every route is described.

// rawSchema is a JSON Schema written by hand, used where a Go type says too
// little (health, query parameters).
type rawSchema map[string]any

// queryParam describes one query parameter of a route.
type queryParam struct {
	name     string
	required bool
	schema   rawSchema
	desc     string
}

// respDoc is one answer of a route: its description and body (a Go value
// whose type is described, a rawSchema, or nil for none).
type respDoc struct {
	desc string
	body any
}

// opDoc describes a route for the OpenAPI document.
type opDoc struct {
	id          string // operationId
	tag         string
	summary     string
	description string
	query       []queryParam
	pathTypes   map[string]rawSchema // path parameters that are not plain strings
	body        any                  // request body: Go value or rawSchema; nil for none
	bodyTypes   []bodyType           // a request body that is not JSON (instead of body)
	status      int                  // success status; 0 means 200
	resp        any                  // success body: Go value or rawSchema; nil for none
	example     any                  // an example of the success body; nil for none
	extra       map[int]respDoc      // other non-error answers (503 of /healthz)
	errs        []int                // error statuses besides 401 and 500
	problems    bool                 // a 422 may carry a graph's problems
}

// bodyType is one media type a request body may have, with an example.
type bodyType struct {
	mime    string
	schema  rawSchema
	example string
}

// errorResponse names the shared error answer of a status.
func errorResponse(status int) (string, bool) {
	switch status {
	case 400:
		return "BadRequest", true
	case 401:
		return "Unauthorized", true
	case 404:
		return "NotFound", true
	case 408:
		return "RequestTimeout", true
	case 409:
		return "Conflict", true
	case 413:
		return "PayloadTooLarge", true
	case 415:
		return "UnsupportedMediaType", true
	case 422:
		return "Invalid", true
	case 500:
		return "Internal", true
	}
	return "", false
}

// buildOpenAPI returns the OpenAPI 3.1 document of routes as JSON.
func buildOpenAPI(routes []route) ([]byte, error) {
	g := newSchemaGen()
	paths := map[string]map[string]any{}
	for _, r := range routes {
		p, pathParams := openAPIPath(r.path)
		d := r.doc
		op := map[string]any{"operationId": d.id, "summary": d.summary, "tags": []string{d.tag}}
		if d.description != "" {
			op["description"] = d.description
		}
		var params []any
		for _, name := range pathParams {
			schema := rawSchema{"type": "string"}
			if t, ok := d.pathTypes[name]; ok {
				schema = t
			}
			params = append(params, map[string]any{"name": name, "in": "path", "required": true, "schema": schema})
		}
		for _, q := range d.query {
			params = append(params, map[string]any{"name": q.name, "in": "query", "required": q.required,
				"schema": q.schema, "description": q.desc})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if d.body != nil {
			op["requestBody"] = map[string]any{"required": true,
				"content": map[string]any{"application/json": map[string]any{"schema": g.of(d.body)}}}
		}
		if d.bodyTypes != nil {
			content := map[string]any{}
			for _, bt := range d.bodyTypes {
				content[bt.mime] = map[string]any{"schema": map[string]any(bt.schema), "example": bt.example}
			}
			op["requestBody"] = map[string]any{"required": true, "content": content}
		}
		status := d.status
		if status == 0 {
			status = http.StatusOK
		}
		responses := map[string]any{}
		success := g.response(http.StatusText(status), d.resp)
		if d.example != nil {
			success["content"].(map[string]any)["application/json"].(map[string]any)["example"] = d.example
		}
		responses[fmt.Sprint(status)] = success
		for code, rd := range d.extra {
			responses[fmt.Sprint(code)] = g.response(rd.desc, rd.body)
		}
		errs := append([]int{500}, d.errs...)
		if !r.public {
			errs = append(errs, 401)
		} else {
			op["security"] = []any{}
		}
		if d.problems {
			errs = append(errs, 422)
		}
		for _, code := range errs {
			name, ok := errorResponse(code)
			if !ok {
				return nil, fmt.Errorf("%s %s: no shared answer for status %d", r.method, r.path, code)
			}
			if code == 422 && d.problems {
				name = "InvalidGraph"
			}
			responses[fmt.Sprint(code)] = map[string]any{"$ref": "#/components/responses/" + name}
		}
		op["responses"] = responses
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		method := strings.ToLower(r.method)
		if _, dup := paths[p][method]; dup {
			return nil, fmt.Errorf("%s %s is described twice", r.method, r.path)
		}
		paths[p][method] = op
	}

	errRef := g.of(errorBody{})
	problemsRef := g.of(problemsBody{})
	jsonBody := func(desc string, schema any) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": schema}}}
	}
	responses := map[string]any{
		"BadRequest":           jsonBody("Malformed input: bad JSON, a field of the wrong type, an unknown field, a bad query parameter. error.field names it when known.", errRef),
		"Unauthorized":         jsonBody("Missing or wrong bearer key.", errRef),
		"NotFound":             jsonBody("No such resource.", errRef),
		"Conflict":             jsonBody("The request clashes with the current state (e.g. an existing email).", errRef),
		"PayloadTooLarge":      jsonBody("The body is larger than the server's limit (1 MiB by default; 256 MiB for a contacts import).", errRef),
		"RequestTimeout":       jsonBody("The body did not arrive in time.", errRef),
		"UnsupportedMediaType": jsonBody("The body's Content-Type (or Content-Encoding) is not one the route takes.", errRef),
		"Invalid":              jsonBody("Well-formed input that breaks a rule; error.field names it.", errRef),
		"InvalidGraph":         jsonBody("The scenario's graph is invalid: every problem is listed.", problemsRef),
		"Internal":             jsonBody("An internal error; the server log has the details.", errRef),
	}
	if g.err != nil {
		return nil, g.err
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "Sluice API",
			"version": "1.0.0",
			"description": "Sluice's HTTP API. Every /api/v1 route needs Authorization: Bearer <key> except this document. " +
				"Times are RFC 3339 UTC; ids are strings. Errors: {\"error\":{\"code\",\"message\",\"field\"}}.",
		},
		"security": []any{map[string]any{"bearer": []any{}}},
		"tags": []any{
			map[string]any{"name": "meta"}, map[string]any{"name": "lists"}, map[string]any{"name": "contacts"},
			map[string]any{"name": "events"}, map[string]any{"name": "scenarios"}, map[string]any{"name": "stats"},
			map[string]any{"name": "webhooks"},
		},
		"paths": paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer",
				"description": "The API key (SLUICE_API_KEY, or the one generated on first start)."}},
			"schemas":   g.defs,
			"responses": responses,
		},
	}
	return json.MarshalIndent(doc, "", "  ")
}

// openAPIPath turns a fiber path (/scenarios/:id) into an OpenAPI one
// (/scenarios/{id}) and lists its parameters.
func openAPIPath(p string) (string, []string) {
	segs := strings.Split(p, "/")
	var params []string
	for i, s := range segs {
		if name, ok := strings.CutPrefix(s, ":"); ok {
			segs[i] = "{" + name + "}"
			params = append(params, name)
		}
	}
	return strings.Join(segs, "/"), params
}

// schemaGen describes Go types as JSON Schemas (OpenAPI 3.1 dialect), named
// struct types once each under components/schemas.
type schemaGen struct {
	defs     map[string]any
	names    map[reflect.Type]string
	owners   map[string]reflect.Type
	enums    map[reflect.Type][]string
	required map[reflect.Type][]string
	override map[string]map[string]any
	err      error
}

func newSchemaGen() *schemaGen {
	return &schemaGen{defs: map[string]any{}, names: map[reflect.Type]string{}, owners: map[string]reflect.Type{},
		enums: enums(), required: requiredOverride(), override: fieldOverride()}
}

// response is an answer object with a JSON body described by body (nil:
// no body).
func (g *schemaGen) response(desc string, body any) map[string]any {
	r := map[string]any{"description": desc}
	if body != nil {
		r["content"] = map[string]any{"application/json": map[string]any{"schema": g.of(body)}}
	}
	return r
}

// of describes v: a rawSchema as is, any other value by its type.
func (g *schemaGen) of(v any) any {
	if rs, ok := v.(rawSchema); ok {
		return map[string]any(rs)
	}
	return g.schema(reflect.TypeOf(v))
}

// enums are the values of the named string types the API shows.
func enums() map[reflect.Type][]string {
	return map[reflect.Type][]string{
		reflect.TypeFor[engine.ScenarioStatus](): {"draft", "active", "paused", "archived"},
		reflect.TypeFor[engine.DeliveryStatus](): {"pending", "accepted", "failed"},
		reflect.TypeFor[engine.DeliveryKind]():   {"step", "subscription"},
		reflect.TypeFor[engine.Kind]():           {"trigger", "action", "flow"},
		reflect.TypeFor[engine.RunStatus]():      {"active", "completed", "failed"},
		reflect.TypeFor[engine.StepStatus]():     {"pending", "done", "failed"},
		reflect.TypeFor[engine.ImportStatus]():   {"running", "completed", "failed"},
	}
}

// requiredOverride lists the required fields of input types whose Go tags
// say too little (email may come from contact.email; PATCH needs nothing).
func requiredOverride() map[reflect.Type][]string {
	return map[reflect.Type][]string{
		reflect.TypeFor[engine.ContactInput](): {},
		reflect.TypeFor[engine.EventInput]():   {"type"},
		reflect.TypeFor[engine.TestRequest]():  {"url"},
	}
}

// fieldOverride describes fields (Type.json_name) better than their Go type.
func fieldOverride() map[string]map[string]any {
	return map[string]map[string]any{
		"Node.config": {"type": "object", "description": "The node's configuration; its shape is the node type's schema (GET /api/v1/node-types)."},
		"Spec.schema": {"type": "object", "description": "JSON Schema of the node's config."},
		"Spec.outputs": {"type": []string{"array", "null"}, "items": map[string]any{"type": "string"},
			"description": "Labels of the edges the node may have: null for unlabelled edges, [\"yes\",\"no\"] for a condition, [] for none."},
		"DeliveryView.body": {"description": "The JSON body the delivery sends."},
		"ContactInput.email": {"type": "string", "format": "email",
			"description": "Required when creating or replacing; in an event, defaults to the event's email."},
		"EventInput.type": {"type": "string", "pattern": "^[a-z][a-z0-9_.:-]{0,63}$",
			"description": "signup, unsubscribe, click, open, contact_updated, group_added, date_reached, consent_expiring, form_submitted, or a custom name."},
		"Contact.fields": {"type": "object", "additionalProperties": map[string]any{"type": []string{"string", "number", "boolean", "null"}},
			"description": "Custom fields (c1…cN or named)."},
		"ContactInput.fields": {"type": "object", "additionalProperties": map[string]any{"type": []string{"string", "number", "boolean", "null"}},
			"description": "Custom fields (c1…cN or named)."},
		"ContactInput.dates": {"type": "object", "additionalProperties": map[string]any{"type": "string", "format": "date"},
			"description": "Dates such as birthday (YYYY-MM-DD); \"\" removes one."},
	}
}

// schema describes t.
func (g *schemaGen) schema(t reflect.Type) map[string]any {
	switch t {
	case reflect.TypeFor[time.Time]():
		return map[string]any{"type": "string", "format": "date-time"}
	case reflect.TypeFor[json.RawMessage]():
		return map[string]any{}
	}
	if values, ok := g.enums[t]; ok {
		return map[string]any{"type": "string", "enum": values}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.schema(t.Elem())
	case reflect.Interface:
		return map[string]any{}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32:
		return map[string]any{"type": "integer"}
	case reflect.Int64:
		return map[string]any{"type": "integer", "format": "int64"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			break
		}
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Struct:
		if t.Name() == "" {
			return g.structSchema(t)
		}
		name := g.nameOf(t)
		if _, done := g.defs[name]; !done {
			g.defs[name] = map[string]any{} // placeholder: a type that refers to itself stops here
			g.defs[name] = g.structSchema(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	if g.err == nil {
		g.err = fmt.Errorf("openapi: cannot describe Go type %s", t)
	}
	return map[string]any{}
}

// nameOf is the component name of a named struct type: its Go name,
// capitalised, prefixed with its package when two packages share it.
func (g *schemaGen) nameOf(t reflect.Type) string {
	if n, ok := g.names[t]; ok {
		return n
	}
	n := strings.ToUpper(t.Name()[:1]) + t.Name()[1:]
	if other, taken := g.owners[n]; taken && other != t {
		pkg := path.Base(t.PkgPath())
		n = strings.ToUpper(pkg[:1]) + pkg[1:] + n
	}
	g.names[t], g.owners[n] = n, t
	return n
}

// structSchema describes a struct's JSON object: its fields (embedded
// structs' inlined), required unless omitempty.
func (g *schemaGen) structSchema(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	g.fields(t, props, &required)
	out := map[string]any{"type": "object", "properties": props}
	if r, ok := g.required[t]; ok {
		required = r
	}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}

func (g *schemaGen) fields(t reflect.Type, props map[string]any, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" && opts == "" {
			continue
		}
		ft := f.Type
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			g.fields(ft, props, required)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		omit := strings.Contains(","+opts+",", ",omitempty,") || strings.Contains(","+opts+",", ",omitzero,")
		var s map[string]any
		if o, ok := g.override[t.Name()+"."+name]; ok {
			s = o
		} else {
			s = g.schema(ft)
			if ft.Kind() == reflect.Pointer && !omit {
				s = map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
			}
		}
		props[name] = s
		if !omit && !slices.Contains(*required, name) {
			*required = append(*required, name)
		}
	}
}
