// Package placeholder compiles texts holding {{ expr }} placeholders (webhook
// URLs, header and extra values, field values) and the boolean expressions of
// conditions. Everything is compiled once, against engine.SampleEnv, so that a
// misspelt root name is caught when a scenario version is activated; rendering
// only runs the compiled programs.
package placeholder

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/sluicehq/sluice/engine"
)

// The placeholder delimiters.
const (
	openDelim  = "{{"
	closeDelim = "}}"
)

// Error is a placeholder or expression that does not compile.
type Error struct {
	// Offset is the byte offset in the compiled text where the problem is.
	Offset int
	// Line and Column (both from 1, Column counted in characters) locate
	// Offset for people.
	Line, Column int
	// Expr is the source of the faulty expression ("" for an unclosed {{).
	Expr string
	// Message is why it does not compile (expr's own message).
	Message string
	// condition is set for CompileExpr errors (no braces around Expr).
	condition bool
}

// Error returns a message such as
// `column 7: unknown name contcat in {{ contcat.x }}` (for a condition:
// `column 1: unknown name contcat in "contcat.x == 1"`).
func (e *Error) Error() string {
	pos := "column " + strconv.Itoa(e.Column)
	if e.Line > 1 {
		pos = "line " + strconv.Itoa(e.Line) + ", " + pos
	}
	if e.Expr == "" {
		return pos + ": " + e.Message
	}
	if e.condition {
		return pos + ": " + e.Message + " in " + strconv.Quote(e.Expr)
	}
	return pos + ": " + e.Message + " in {{ " + e.Expr + " }}"
}

// part is a piece of a template: literal text, or a compiled expression
// when prog is set.
type part struct {
	lit  string
	code string
	prog *vm.Program
}

// Template is a compiled text with placeholders. It is immutable and safe for
// concurrent use.
type Template struct {
	text  string
	parts []part // nil when text has no placeholder
	// single is the only part when the text is exactly one placeholder.
	single *part
}

// options are the expr options every expression is compiled with; the
// environment is built per call so no mutable state is shared.
func options(extra ...expr.Option) []expr.Option {
	return append([]expr.Option{expr.Env(engine.SampleEnv())}, extra...)
}

// Compile parses text into literal parts and {{ … }} expressions and compiles
// each expression once. Errors are *Error values giving the position in text.
func Compile(text string) (*Template, error) {
	t := &Template{text: text}
	if !strings.Contains(text, openDelim) {
		return t, nil
	}
	env := options()
	i := 0
	for i < len(text) {
		j := strings.Index(text[i:], openDelim)
		if j < 0 {
			t.parts = append(t.parts, part{lit: text[i:]})
			break
		}
		if j > 0 {
			t.parts = append(t.parts, part{lit: text[i : i+j]})
		}
		start := i + j                             // at "{{"
		end := closing(text, start+len(openDelim)) // at "}}"
		if end < 0 {
			// An unbalanced quote or brace: let expr explain it.
			if k := strings.Index(text[start+len(openDelim):], closeDelim); k >= 0 {
				end = start + len(openDelim) + k
			}
		}
		if end < 0 {
			return nil, newError(text, start, "", "unclosed {{ (missing }})")
		}
		raw := text[start+len(openDelim) : end]
		code := strings.TrimSpace(raw)
		codeAt := start + len(openDelim) + strings.Index(raw, code)
		if code == "" {
			return nil, newError(text, start, "", "empty placeholder {{ }}")
		}
		prog, err := expr.Compile(code, env...)
		if err != nil {
			return nil, compileError(text, codeAt, code, err)
		}
		t.parts = append(t.parts, part{code: code, prog: prog})
		i = end + len(closeDelim)
	}
	if len(t.parts) == 1 && t.parts[0].prog != nil {
		t.single = &t.parts[0]
	}
	return t, nil
}

// MustCompile is Compile for texts known to be valid; it panics on error.
func MustCompile(text string) *Template {
	t, err := Compile(text)
	if err != nil {
		panic(fmt.Sprintf("placeholder: compile %q: %v", text, err))
	}
	return t
}

// closing returns the index of the "}}" that closes a placeholder whose
// expression starts at from, skipping string literals and balanced braces
// (map literals), or -1.
func closing(text string, from int) int {
	depth := 0
	for i := from; i < len(text); i++ {
		switch c := text[i]; c {
		case '"', '\'', '`':
			k := i + 1
			for k < len(text) && text[k] != c {
				if text[k] == '\\' && c != '`' {
					k++
				}
				k++
			}
			if k >= len(text) {
				return -1
			}
			i = k
		case '{':
			depth++
		case '}':
			if depth > 0 {
				depth--
			} else if strings.HasPrefix(text[i:], closeDelim) {
				return i
			}
		}
	}
	return -1
}

// compileError turns an expr compile error for code (found at byte codeAt of
// text) into an *Error positioned in text.
func compileError(text string, codeAt int, code string, err error) *Error {
	msg := err.Error()
	at := codeAt
	var fe *file.Error
	if errors.As(err, &fe) {
		msg = fe.Message
		at = codeAt + runeToByte(code, fe.From)
	}
	return newError(text, at, code, msg)
}

// runeToByte converts a rune index of s into a byte index.
func runeToByte(s string, runes int) int {
	n := 0
	for i := range s {
		if n == runes {
			return i
		}
		n++
	}
	return len(s)
}

func newError(text string, offset int, code, msg string) *Error {
	line, lineStart := 1, 0
	for i := 0; i < offset && i < len(text); i++ {
		if text[i] == '\n' {
			line++
			lineStart = i + 1
		}
	}
	col := utf8.RuneCountInString(text[lineStart:min(offset, len(text))]) + 1
	return &Error{Offset: offset, Line: line, Column: col, Expr: code, Message: msg}
}

// Text returns the source the template was compiled from.
func (t *Template) Text() string { return t.text }

// Fill returns the text with every placeholder replaced by s: the static
// shape of the text, e.g. to check that a URL parses whatever its
// placeholders render to.
func (t *Template) Fill(s string) string {
	if t.parts == nil {
		return t.text
	}
	var b strings.Builder
	for i := range t.parts {
		if t.parts[i].prog == nil {
			b.WriteString(t.parts[i].lit)
		} else {
			b.WriteString(s)
		}
	}
	return b.String()
}

// Static reports whether the template holds no placeholder, i.e. always
// renders to Text().
func (t *Template) Static() bool { return t.parts == nil }

// Render evaluates the placeholders against env (see engine.ExprEnv) and
// returns the text with each replaced by its formatted value: nil as "",
// numbers without exponent, maps and slices as JSON.
func (t *Template) Render(env map[string]any) (string, error) {
	if t.parts == nil {
		return t.text, nil
	}
	if t.single != nil {
		v, err := t.single.run(env)
		if err != nil {
			return "", err
		}
		return Format(v), nil
	}
	var b strings.Builder
	b.Grow(len(t.text) + 16)
	for i := range t.parts {
		p := &t.parts[i]
		if p.prog == nil {
			b.WriteString(p.lit)
			continue
		}
		v, err := p.run(env)
		if err != nil {
			return "", err
		}
		b.WriteString(Format(v))
	}
	return b.String(), nil
}

// RenderValue is Render, except that a template made of exactly one
// placeholder and nothing else returns the expression's native value (a
// number stays a number), as wanted for JSON values.
func (t *Template) RenderValue(env map[string]any) (any, error) {
	if t.single != nil {
		return t.single.run(env)
	}
	return t.Render(env)
}

func (p *part) run(env map[string]any) (any, error) {
	v, err := expr.Run(p.prog, env)
	if err != nil {
		return nil, &RunError{Expr: p.code, Message: runMessage(err)}
	}
	return v, nil
}

// RunError is an expression that failed while being evaluated.
type RunError struct {
	Expr    string // the expression's source
	Message string // expr's message
}

// Error returns a message such as
// `expression "event.data.plan.x": cannot fetch x from <nil>`.
func (e *RunError) Error() string { return "expression " + strconv.Quote(e.Expr) + ": " + e.Message }

func runMessage(err error) string {
	var fe *file.Error
	if errors.As(err, &fe) {
		return fe.Message
	}
	return err.Error()
}

// Format writes a value as placeholders render it: nil as "", strings as is,
// numbers in plain decimal notation, times in RFC 3339, maps and slices as
// JSON, anything else with fmt.
func Format(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case int32:
		return strconv.FormatInt(int64(v), 10)
	case int16:
		return strconv.FormatInt(int64(v), 10)
	case int8:
		return strconv.FormatInt(int64(v), 10)
	case uint:
		return strconv.FormatUint(uint64(v), 10)
	case uint64:
		return strconv.FormatUint(v, 10)
	case uint32:
		return strconv.FormatUint(uint64(v), 10)
	case uint16:
		return strconv.FormatUint(uint64(v), 10)
	case uint8:
		return strconv.FormatUint(uint64(v), 10)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32)
	case json.Number:
		return v.String()
	case time.Time:
		return v.Format(time.RFC3339Nano)
	case time.Duration:
		return v.String()
	case error:
		return v.Error()
	case fmt.Stringer:
		return v.String()
	}
	switch reflect.ValueOf(v).Kind() {
	case reflect.Map, reflect.Slice, reflect.Array, reflect.Struct:
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err == nil {
			return strings.TrimSuffix(buf.String(), "\n")
		}
	}
	return fmt.Sprint(v)
}

// CompileExpr compiles a boolean expression (a condition) over the same
// environment as placeholders. Errors are *Error values positioned in code.
func CompileExpr(code string) (*vm.Program, error) {
	trimmed := strings.TrimSpace(code)
	if trimmed == "" {
		return nil, newError(code, 0, "", "expression is empty")
	}
	prog, err := expr.Compile(code, options(expr.AsBool())...)
	if err != nil {
		e := compileError(code, 0, code, err)
		e.condition = true
		return nil, e
	}
	return prog, nil
}

// EvalBool runs a program made by CompileExpr against env.
func EvalBool(prog *vm.Program, env map[string]any) (bool, error) {
	v, err := expr.Run(prog, env)
	if err != nil {
		return false, &RunError{Expr: prog.Source().String(), Message: runMessage(err)}
	}
	b, ok := v.(bool)
	if !ok {
		return false, &RunError{Expr: prog.Source().String(),
			Message: fmt.Sprintf("expected true or false, got %T", v)}
	}
	return b, nil
}
