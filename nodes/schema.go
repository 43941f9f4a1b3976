package nodes

import (
	"bytes"
	"encoding/json"
)

// schemaDialect is the JSON Schema version of every config schema.
const schemaDialect = "https://json-schema.org/draft/2020-12/schema"

// prop is one property of a config schema.
type prop struct {
	name   string
	schema map[string]any
}

// stringProp is a string property.
func stringProp(name, title, description string) prop {
	return prop{name: name, schema: map[string]any{"type": "string", "title": title, "description": description}}
}

// with returns p with extra keywords (key, value, key, value…).
func (p prop) with(kv ...any) prop {
	for i := 0; i+1 < len(kv); i += 2 {
		p.schema[kv[i].(string)] = kv[i+1]
	}
	return p
}

// schema describes a config object: its properties in form order, the
// required ones, and optional extra keywords (e.g. "oneOf").
type schema struct {
	props    []prop
	required []string
	extra    []keyword
}

// keyword is a schema keyword beside the properties, e.g. "oneOf".
type keyword struct {
	key   string
	value any
}

// names returns the property names, the fields a config may have.
func (s schema) names() []string {
	out := make([]string, len(s.props))
	for i, p := range s.props {
		out[i] = p.name
	}
	return out
}

// document renders s as a JSON Schema document, keeping the properties in
// form order (a Go map would sort them).
func (s schema) document() json.RawMessage {
	var b bytes.Buffer
	b.WriteString(`{"$schema":`)
	writeJSON(&b, schemaDialect)
	b.WriteString(`,"type":"object","properties":{`)
	for i, p := range s.props {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSON(&b, p.name)
		b.WriteByte(':')
		writeJSON(&b, p.schema)
	}
	b.WriteString(`},"required":`)
	required := s.required
	if required == nil {
		required = []string{}
	}
	writeJSON(&b, required)
	b.WriteString(`,"additionalProperties":false`)
	for _, k := range s.extra {
		b.WriteByte(',')
		writeJSON(&b, k.key)
		b.WriteByte(':')
		writeJSON(&b, k.value)
	}
	b.WriteByte('}')
	return b.Bytes()
}

func writeJSON(b *bytes.Buffer, v any) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("nodes: schema: " + err.Error()) // the schemas are literals: a bug
	}
	b.Truncate(b.Len() - 1) // Encode's newline
}
