package nodes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/nodes/placeholder"
)

// identifier is the shape of contact field names.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// maxText bounds every string of a node config.
const maxText = 4096

// config reads a node's JSON config field by field, collecting every problem
// instead of stopping at the first one. Field names in problems are relative
// to the node ("config.url").
type config struct {
	fields   map[string]json.RawMessage
	problems []engine.Problem
	broken   bool // not a JSON object: nothing else is worth checking
}

// parseConfig splits raw into its fields and records a problem for each
// field not in allowed. A missing or null config is an empty object.
func parseConfig(raw json.RawMessage, allowed []string) *config {
	c := &config{fields: map[string]json.RawMessage{}}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return c
	}
	if raw[0] != '{' {
		c.add("config", "must be a JSON object")
		c.broken = true
		return c
	}
	if err := json.Unmarshal(raw, &c.fields); err != nil {
		c.add("config", "is not valid JSON: %v", err)
		c.broken = true
		return c
	}
	var unknown []string
	for name := range c.fields {
		if !contains(allowed, name) {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		if len(allowed) == 0 {
			c.add(path(name), "unknown field %q (this step has no settings)", name)
		} else {
			c.add(path(name), "unknown field %q (allowed: %s)", name, strings.Join(allowed, ", "))
		}
		delete(c.fields, name)
	}
	return c
}

// path returns the problem field of a config field.
func path(name string) string { return "config." + name }

// indexPath returns the problem field of item i of a list field.
func indexPath(name string, i int) string { return path(name) + "[" + strconv.Itoa(i) + "]" }

// add records a problem about field (a full path such as "config.url").
func (c *config) add(field, format string, args ...any) {
	c.problems = append(c.problems, engine.Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

// has reports whether name is present and not null.
func (c *config) has(name string) bool {
	v, ok := c.fields[name]
	return ok && string(v) != "null"
}

// str returns the string field name, trimmed; ok is false when it is absent
// (or null) or not a string (a problem then).
func (c *config) str(name string) (s string, ok bool) {
	s, ok = c.text(name)
	return strings.TrimSpace(s), ok
}

// text is str without trimming, for values whose spaces matter.
func (c *config) text(name string) (s string, ok bool) {
	if !c.has(name) {
		return "", false
	}
	if err := json.Unmarshal(c.fields[name], &s); err != nil {
		c.add(path(name), "must be a string")
		return "", false
	}
	if len(s) > maxText {
		c.add(path(name), "is too long (at most %d characters)", maxText)
		return "", false
	}
	return s, true
}

// required returns the string field name, with a problem when it is absent
// or blank.
func (c *config) required(name string) string {
	if !c.has(name) {
		c.add(path(name), "is required")
		return ""
	}
	s, ok := c.str(name)
	if ok && s == "" {
		c.add(path(name), "must not be empty")
	}
	return s
}

// integer returns the integer field name; ok is false when it is absent or
// not an integer in [lo, hi] (a problem then).
func (c *config) integer(name string, lo, hi int) (n int, ok bool) {
	if !c.has(name) {
		return 0, false
	}
	var f float64
	if err := json.Unmarshal(c.fields[name], &f); err != nil || f != math.Trunc(f) {
		c.add(path(name), "must be a whole number")
		return 0, false
	}
	if f < float64(lo) || f > float64(hi) {
		c.add(path(name), "must be between %d and %d", lo, hi)
		return 0, false
	}
	return int(f), true
}

// item is one string of a JSON array, with its index in the array.
type item struct {
	index int
	value string
}

// strList returns the strings of the array name, trimmed (nil when absent).
// Elements that are not strings are problems naming their index, and are
// left out.
func (c *config) strList(name string, maxItems int) (list []item, present bool) {
	if !c.has(name) {
		return nil, false
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(c.fields[name], &raws); err != nil {
		c.add(path(name), "must be a list of strings")
		return nil, true
	}
	if len(raws) > maxItems {
		c.add(path(name), "has too many items (at most %d)", maxItems)
		return nil, true
	}
	list = make([]item, 0, len(raws))
	for i, raw := range raws {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			c.add(indexPath(name, i), "must be a string")
			continue
		}
		list = append(list, item{index: i, value: strings.TrimSpace(s)})
	}
	return list, true
}

// fieldNames checks that every item of list is a contact field name and
// returns the names.
func (c *config) fieldNames(name string, list []item) []string {
	names := make([]string, 0, len(list))
	for _, it := range list {
		if !identifier.MatchString(it.value) {
			c.add(indexPath(name, it.index), "%q is not a field name (letters, digits and _ only)", it.value)
		}
		names = append(names, it.value)
	}
	return names
}

// entry is one key of a JSON object of strings.
type entry struct {
	key   string
	value string
	field string // problem path, e.g. "config.headers.X-Token"
}

// strMap returns the object of strings name as entries sorted by key (nil
// when absent). Values that are not strings are problems naming their key.
func (c *config) strMap(name string, maxItems int) []entry {
	if !c.has(name) {
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(c.fields[name], &obj); err != nil {
		c.add(path(name), "must be an object whose values are strings")
		return nil
	}
	if len(obj) > maxItems {
		c.add(path(name), "has too many keys (at most %d)", maxItems)
		return nil
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]entry, 0, len(obj))
	for _, k := range keys {
		e := entry{key: k, field: path(name) + "." + k}
		if err := json.Unmarshal(obj[k], &e.value); err != nil {
			c.add(e.field, "must be a string")
			continue
		}
		if len(e.value) > maxText {
			c.add(e.field, "is too long (at most %d characters)", maxText)
			continue
		}
		out = append(out, e)
	}
	return out
}

// template compiles text found at field, with a problem when a placeholder
// does not compile.
func (c *config) template(field, text string) *placeholder.Template {
	t, err := placeholder.Compile(text)
	if err != nil {
		c.add(field, "placeholder error at %v", err)
		return nil
	}
	return t
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
