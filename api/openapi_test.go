package api

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/google/go-cmp/cmp"
)

// openAPIDoc fetches the document without a key (it is public).
func openAPIDoc(t *testing.T, b *bundle) map[string]any {
	t.Helper()
	res := b.do(t, request{method: "GET", path: "/api/v1/openapi.json", key: ptr("")})
	if res.status != 200 {
		t.Fatalf("GET openapi.json: %d %s", res.status, res.body)
	}
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	var doc map[string]any
	if err := json.Unmarshal(res.body, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestOpenAPIMatchesRoutes fails when the app serves a route the document
// does not describe, or the document describes one the app does not serve.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		frontend bool
	}{{"without front end", false}, {"with front end", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *Config) {
				if tc.frontend {
					c.Frontend = func(c *fiber.Ctx) error { return c.SendString("spa") }
				}
			})
			served := map[string]bool{}
			for _, r := range b.app.GetRoutes(true) { // true: without middleware (recover, the front end catch-all)
				if r.Method == "HEAD" {
					continue
				}
				p, _ := openAPIPath(r.Path)
				served[r.Method+" "+p] = true
			}
			described := map[string]bool{}
			for p, item := range openAPIDoc(t, b)["paths"].(map[string]any) {
				for method := range item.(map[string]any) {
					described[strings.ToUpper(method)+" "+p] = true
				}
			}
			if diff := cmp.Diff(described, served); diff != "" {
				t.Errorf("routes (-described +served):\n%s", diff)
			}
			if len(served) < 25 {
				t.Errorf("only %d routes served", len(served))
			}
		})
	}
}

// TestOpenAPIDocument checks the document's shape: OpenAPI 3.1, unique
// operation ids, every $ref resolving, every path parameter declared, the
// bearer key required everywhere but on the public routes.
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	b := setup(t)
	doc := openAPIDoc(t, b)
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v", doc["openapi"])
	}
	var refs []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["$ref"].(string); ok {
				refs = append(refs, r)
			}
			for _, y := range x {
				walk(y)
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	walk(doc)
	if len(refs) == 0 {
		t.Fatal("no $ref in the document")
	}
	for _, r := range refs {
		node := any(doc)
		for _, part := range strings.Split(strings.TrimPrefix(r, "#/"), "/") {
			m, _ := node.(map[string]any)
			node = m[part]
		}
		if node == nil {
			t.Errorf("$ref %s does not resolve", r)
		}
	}

	ids := map[string]string{}
	var public []string
	for p, item := range doc["paths"].(map[string]any) {
		for method, o := range item.(map[string]any) {
			op := o.(map[string]any)
			where := strings.ToUpper(method) + " " + p
			id, _ := op["operationId"].(string)
			if id == "" || ids[id] != "" {
				t.Errorf("%s: operationId %q missing or also used by %s", where, id, ids[id])
			}
			ids[id] = where
			if sec, ok := op["security"].([]any); ok && len(sec) == 0 {
				public = append(public, where)
			} else if _, ok := op["responses"].(map[string]any)["401"]; !ok {
				t.Errorf("%s needs the key but does not list 401", where)
			}
			declared := map[string]bool{}
			params, _ := op["parameters"].([]any)
			for _, prm := range params {
				pm := prm.(map[string]any)
				if pm["in"] == "path" {
					declared[pm["name"].(string)] = true
				}
			}
			for _, seg := range strings.Split(p, "/") {
				if strings.HasPrefix(seg, "{") && !declared[strings.Trim(seg, "{}")] {
					t.Errorf("%s: path parameter %s not declared", where, seg)
				}
			}
		}
	}
	slices.Sort(public)
	want := []string{"GET /", "GET /api/v1/openapi.json", "GET /healthz", "GET /hooks/{id}", "POST /hooks/{id}"}
	if diff := cmp.Diff(want, public); diff != "" {
		t.Errorf("public routes (-want +got):\n%s", diff)
	}

	// A few schemas the front end's typed client relies on.
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	for name, props := range map[string][]string{
		"ScenarioView": {"id", "name", "status", "version", "active_version", "signing_secret", "graph"},
		"DeliveryView": {"id", "status", "attempts", "attempt_log", "body"},
		"Spec":         {"type", "kind", "label", "schema", "outputs"},
		"ErrorBody":    {"error"},
		"ProblemsBody": {"valid", "problems", "error"},
	} {
		s, ok := schemas[name].(map[string]any)
		if !ok {
			t.Errorf("no schema %s", name)
			continue
		}
		for _, p := range props {
			if _, ok := s["properties"].(map[string]any)[p]; !ok {
				t.Errorf("schema %s lacks %s", name, p)
			}
		}
	}
}

// conform checks an answer against the OpenAPI document: when the document
// describes the route and the status, the body must fit the schema. Every
// call the tests make goes through it (bundle.do), so the document is
// checked against real answers, not only against the route table.
func conform(t *testing.T, doc map[string]any, method, rawPath string, res response) {
	t.Helper()
	p, _, _ := strings.Cut(rawPath, "?")
	op := findOperation(doc, method, p)
	if op == nil {
		return // not a described route (unknown route, 405, a test-only route)
	}
	r, ok := op["responses"].(map[string]any)[fmt.Sprint(res.status)]
	if !ok {
		t.Errorf("%s %s answered %d, which the document does not list: %s", method, rawPath, res.status, res.body)
		return
	}
	resp := resolve(doc, r.(map[string]any))
	content, _ := resp["content"].(map[string]any)
	if content == nil {
		if len(res.body) != 0 {
			t.Errorf("%s %s %d: the document says no body; got %s", method, rawPath, res.status, res.body)
		}
		return
	}
	var v any
	if err := json.Unmarshal(res.body, &v); err != nil {
		t.Errorf("%s %s %d: not JSON: %s", method, rawPath, res.status, res.body)
		return
	}
	schema := content["application/json"].(map[string]any)["schema"].(map[string]any)
	for _, problem := range fits(doc, schema, v, "body") {
		t.Errorf("%s %s %d does not fit the document: %s", method, rawPath, res.status, problem)
	}
}

// findOperation finds the operation of method on a concrete path,
// preferring literal segments to parameters.
func findOperation(doc map[string]any, method, p string) map[string]any {
	segs := strings.Split(p, "/")
	var best map[string]any
	bestLiterals := -1
	for tmpl, item := range doc["paths"].(map[string]any) {
		ts := strings.Split(tmpl, "/")
		if len(ts) != len(segs) {
			continue
		}
		literals, match := 0, true
		for i := range ts {
			switch {
			case strings.HasPrefix(ts[i], "{"):
			case ts[i] == segs[i]:
				literals++
			default:
				match = false
			}
		}
		op, ok := item.(map[string]any)[strings.ToLower(method)].(map[string]any)
		if match && ok && literals > bestLiterals {
			best, bestLiterals = op, literals
		}
	}
	return best
}

// resolve follows a $ref.
func resolve(doc, node map[string]any) map[string]any {
	for {
		ref, ok := node["$ref"].(string)
		if !ok {
			return node
		}
		var cur any = doc
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			cur = cur.(map[string]any)[part]
		}
		node = cur.(map[string]any)
	}
}

// fits checks v against the subset of JSON Schema the document uses:
// $ref, anyOf, type, enum, properties, required, additionalProperties, items.
func fits(doc, schema map[string]any, v any, at string) []string {
	schema = resolve(doc, schema)
	if anyOf, ok := schema["anyOf"].([]any); ok {
		for _, alt := range anyOf {
			if len(fits(doc, alt.(map[string]any), v, at)) == 0 {
				return nil
			}
		}
		return []string{fmt.Sprintf("%s: %v fits none of anyOf", at, v)}
	}
	if typ, ok := schema["type"]; ok {
		var types []string
		switch x := typ.(type) {
		case string:
			types = []string{x}
		case []any:
			for _, y := range x {
				types = append(types, y.(string))
			}
		}
		if !slices.Contains(types, kindOf(v)) && !(kindOf(v) == "integer" && slices.Contains(types, "number")) {
			return []string{fmt.Sprintf("%s: %s, want %v", at, kindOf(v), types)}
		}
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return cmp.Equal(e, v) }) {
		return []string{fmt.Sprintf("%s: %v is not one of %v", at, v, enum)}
	}
	var problems []string
	switch x := v.(type) {
	case map[string]any:
		props, _ := schema["properties"].(map[string]any)
		for _, r := range asStrings(schema["required"]) {
			if _, ok := x[r]; !ok {
				problems = append(problems, fmt.Sprintf("%s: required %q missing", at, r))
			}
		}
		for k, val := range x {
			if ps, ok := props[k].(map[string]any); ok {
				problems = append(problems, fits(doc, ps, val, at+"."+k)...)
			} else if ap, ok := schema["additionalProperties"].(map[string]any); ok {
				problems = append(problems, fits(doc, ap, val, at+"."+k)...)
			} else if props != nil {
				problems = append(problems, fmt.Sprintf("%s: %q is not described", at, k))
			}
		}
	case []any:
		if items, ok := schema["items"].(map[string]any); ok {
			for i, val := range x {
				problems = append(problems, fits(doc, items, val, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	}
	return problems
}

func kindOf(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		if x == float64(int64(x)) {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func asStrings(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		out = append(out, x.(string))
	}
	return out
}

// TestConformCatchesDrift: the schema check used on every answer does
// catch answers that differ from the document.
func TestConformCatchesDrift(t *testing.T) {
	t.Parallel()
	b := setup(t)
	doc := b.document(t)
	view := map[string]any{"$ref": "#/components/schemas/ScenarioView"}
	for _, tc := range []struct {
		name string
		v    string
		want int // problems
	}{
		{"a real scenario", `{"id":"scn_1","name":"S","status":"draft","allow_reentry":false,"version":1,"active_version":0,
			"signing_secret":"whsec_x","created_at":"2026-11-23T12:56:40Z","updated_at":"2026-11-23T12:56:40Z",
			"graph":{"nodes":[{"id":"t1","type":"signup","config":{}}],"edges":[]}}`, 0},
		{"wrong types, bad enum, missing and unknown fields", `{"id":5,"name":"S","status":"running","allow_reentry":false,"version":1.5,
			"active_version":0,"created_at":"x","updated_at":"x","graph":{"nodes":null,"edges":[{"from":"a"}]},"extra":1}`, 7},
	} {
		var v any
		if err := json.Unmarshal([]byte(tc.v), &v); err != nil {
			t.Fatal(err)
		}
		if got := fits(doc, view, v, "body"); len(got) != tc.want {
			t.Errorf("%s: %d problems, want %d: %q", tc.name, len(got), tc.want, got)
		}
	}
}
