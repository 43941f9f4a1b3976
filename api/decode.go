package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/sluicehq/sluice/engine"
)

// decode reads a JSON body into v strictly: an empty body, malformed JSON,
// an unknown field, a value of the wrong type and data after the value are
// 400s naming the field when there is one (graph.nodes[1].id).
func decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("", "the request needs a JSON body")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(body, reflect.TypeOf(v), err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("", "unexpected data after the JSON value (byte %d)", dec.InputOffset())
	}
	return nil
}

// decodeError turns a json decoding error into a 400 naming the field.
func decodeError(body []byte, t reflect.Type, err error) error {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
		bug    *json.InvalidUnmarshalError
	)
	switch {
	case errors.As(err, &bug):
		return err // a programming error: 500
	case errors.As(err, &syntax):
		return badRequest("", "malformed JSON at byte %d: %s", syntax.Offset, syntax.Error())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "malformed JSON: the body ends in the middle of a value")
	}
	// The value is well-formed JSON that does not fit t: find where.
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if dec.Decode(&v) == nil {
		if field, msg, ok := misfit(v, t, ""); ok {
			if field == "" {
				return badRequest("", "the body %s", msg)
			}
			return badRequest(field, "%s %s", field, msg)
		}
	}
	if errors.As(err, &typ) {
		return badRequest(typ.Field, "%s must be %s, not %s", typ.Field, engine.JSONKindOf(typ.Type), typ.Value)
	}
	return badRequest("", "%s", strings.TrimPrefix(err.Error(), "json: "))
}

// misfit walks v (JSON decoded with UseNumber) alongside the Go type t the
// way encoding/json does, and reports the first place (keys in sorted
// order) where v does not fit: an unknown field, a wrong type, a number out
// of range, a time that does not parse.
func misfit(v any, t reflect.Type, path string) (field, msg string, ok bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		return "", "", false // null leaves any Go value alone
	}
	switch {
	case t == reflect.TypeFor[json.RawMessage](), t.Kind() == reflect.Interface:
		return "", "", false
	case t == reflect.TypeFor[time.Time]():
		s, isStr := v.(string)
		if !isStr {
			return path, "must be a time (an RFC 3339 string), not " + jsonKind(v), true
		}
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			return path, fmt.Sprintf("%q is not an RFC 3339 time such as 2026-11-23T12:56:40Z", s), true
		}
		return "", "", false
	case reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()):
		return "", "", false // its own rules; the fallback reports them
	}
	mismatch := func(want string) (string, string, bool) {
		return path, "must be " + want + ", not " + jsonKind(v), true
	}
	switch t.Kind() {
	case reflect.Struct:
		m, isObj := v.(map[string]any)
		if !isObj {
			return mismatch("an object")
		}
		fields := jsonFields(t)
		for _, k := range sortedKeys(m) {
			ft, known := lookupField(fields, k)
			if !known {
				return join(path, k), "is not a known field", true
			}
			if f, msg, bad := misfit(m[k], ft, join(path, k)); bad {
				return f, msg, true
			}
		}
	case reflect.Map:
		m, isObj := v.(map[string]any)
		if !isObj {
			return mismatch("an object")
		}
		for _, k := range sortedKeys(m) {
			if f, msg, bad := misfit(m[k], t.Elem(), join(path, k)); bad {
				return f, msg, true
			}
		}
	case reflect.Slice, reflect.Array:
		a, isArr := v.([]any)
		if !isArr {
			return mismatch("an array")
		}
		for i, x := range a {
			if f, msg, bad := misfit(x, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); bad {
				return f, msg, true
			}
		}
	case reflect.String:
		if _, isStr := v.(string); !isStr {
			return mismatch("a string")
		}
	case reflect.Bool:
		if _, isBool := v.(bool); !isBool {
			return mismatch("true or false")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, isNum := v.(json.Number)
		if !isNum {
			return mismatch("an integer")
		}
		i, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil || reflect.Zero(t).OverflowInt(i) {
			return path, fmt.Sprintf("must be an integer in range, not %s", n), true
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, isNum := v.(json.Number)
		if !isNum {
			return mismatch("a non-negative integer")
		}
		u, err := strconv.ParseUint(n.String(), 10, 64)
		if err != nil || reflect.Zero(t).OverflowUint(u) {
			return path, fmt.Sprintf("must be a non-negative integer in range, not %s", n), true
		}
	case reflect.Float32, reflect.Float64:
		n, isNum := v.(json.Number)
		if !isNum {
			return mismatch("a number")
		}
		f, err := n.Float64()
		if err != nil || math.IsInf(f, 0) || reflect.Zero(t).OverflowFloat(f) {
			return path, fmt.Sprintf("must be a number in range, not %s", n), true
		}
	}
	return "", "", false
}

// jsonFields maps the JSON names of t's fields (embedded structs' included)
// to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			for k, v := range jsonFields(ft) {
				if _, dup := out[k]; !dup {
					out[k] = v
				}
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// lookupField finds key among fields, exactly or case-insensitively (as
// encoding/json does).
func lookupField(fields map[string]reflect.Type, key string) (reflect.Type, bool) {
	if t, ok := fields[key]; ok {
		return t, true
	}
	for name, t := range fields {
		if strings.EqualFold(name, key) {
			return t, true
		}
	}
	return nil, false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// jsonKind names the JSON type of a value decoded with UseNumber.
func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "null"
}

// Query parameter bounds.
const (
	defaultLimit = 50
	maxLimit     = 500
	maxVersion   = math.MaxInt32
)

// intQuery reads an optional integer query parameter in [lo, hi]; def when
// absent. Not an integer: 400; out of range: 422; both naming the parameter.
func intQuery(c *fiber.Ctx, name string, def, lo, hi int) (int, error) {
	raw := c.Query(name)
	if raw == "" {
		return def, nil
	}
	return parseInt(name, raw, lo, hi)
}

// intParam reads an integer path parameter in [lo, hi].
func intParam(c *fiber.Ctx, name string, lo, hi int) (int, error) {
	return parseInt(name, c.Params(name), lo, hi)
}

func parseInt(name, raw string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(raw)
	if err != nil {
		return 0, badRequest(name, "%s must be an integer, not %q", name, raw)
	}
	if n < lo || n > hi {
		return 0, invalid(name, "%s must be between %d and %d, not %d", name, lo, hi, n)
	}
	return n, nil
}

// enumQuery reads an optional query parameter that takes one of allowed
// ("" when absent); another value is a 422 naming the parameter.
func enumQuery(c *fiber.Ctx, name string, allowed []string) (string, error) {
	raw := c.Query(name)
	if raw == "" || slices.Contains(allowed, raw) {
		return raw, nil
	}
	return "", invalid(name, "%s must be one of %s, not %q", name, strings.Join(allowed, ", "), raw)
}
