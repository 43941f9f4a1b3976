package placeholder

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/engine"
)

func testEnv() map[string]any {
	c := &engine.Contact{
		ID: "ct_1", Email: "john.doe@example.org", Firstname: "John", Lastname: "Doe",
		Fields: map[string]any{"c3": "pro", "score": 42, "ratio": 0.5, "big": 1e21, "tags": []any{"a", "b"}},
		Dates:  map[string]string{"birthday": "1990-05-01"},
		Groups: []string{"vip"},
	}
	ev := &engine.Event{ID: "evt_1", Type: "signup", Data: map[string]any{"plan": "gold", "seats": 3.0,
		"meta": map[string]any{"a": "<b>"}}}
	now := time.Date(2026, 11, 23, 12, 56, 40, 0, time.UTC)
	return engine.ExprEnv(c, ev, &engine.Run{ID: "run_1", Version: 2}, &engine.Scenario{ID: "sc_1", Name: "Welcome"}, now)
}

func TestRender(t *testing.T) {
	t.Parallel()
	env := testEnv()
	tests := []struct {
		text string
		want string
	}{
		{"", ""},
		{"plain text", "plain text"},
		{"only }} closing", "only }} closing"},
		{"Hello {{ contact.firstname }}", "Hello John"},
		{"{{contact.firstname}} {{ contact.lastname }}!", "John Doe!"},
		{"{{ contact.c3 }}", "pro"},
		{"{{ contact.missing }}", ""},
		{"n={{ contact.score }}", "n=42"},
		{"{{ contact.ratio }}", "0.5"},
		{"{{ contact.big }}", "1000000000000000000000"},
		{"{{ event.data.seats }}", "3"},
		{"{{ event.data.seats / 2 }}", "1.5"},
		{"{{ contact.score > 10 }}", "true"},
		{"{{ contact.tags }}", `["a","b"]`},
		{"{{ event.data.meta }}", `{"a":"<b>"}`},
		{"{{ contact.groups }}", `["vip"]`},
		{"{{ now }}", "2026-11-23T12:56:40Z"},
		{"{{ scenario.name }}/{{ run.version }}", "Welcome/2"},
		{"{{ contact.dates.birthday }}", "1990-05-01"},
		{`{{ "}}" + contact.c3 }}`, "}}pro"},
		{`{{ {"a": {"b": 1}}.a.b }}`, "1"},
		{"{{ upper(contact.firstname) }} é {{ lower('X') }}", "JOHN é x"},
		{"{{ contact.c3 ?? 'none' }}-{{ contact.nope ?? 'none' }}", "pro-none"},
	}
	for _, tt := range tests {
		tpl, err := Compile(tt.text)
		if err != nil {
			t.Errorf("Compile(%q): %v", tt.text, err)
			continue
		}
		got, err := tpl.Render(env)
		if err != nil {
			t.Errorf("Render(%q): %v", tt.text, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Render(%q) = %q, want %q", tt.text, got, tt.want)
		}
		if tpl.Text() != tt.text {
			t.Errorf("Text() = %q, want %q", tpl.Text(), tt.text)
		}
	}
}

func TestRenderValue(t *testing.T) {
	t.Parallel()
	env := testEnv()
	tests := []struct {
		text string
		want any
	}{
		{"{{ contact.score }}", 42},
		{"{{ event.data.seats }}", 3.0},
		{"{{ contact.score > 10 }}", true},
		{"{{ contact.missing }}", nil},
		{"{{ contact.tags }}", []any{"a", "b"}},
		{" {{ contact.score }}", " 42"},
		{"{{ contact.score }}{{ contact.score }}", "4242"},
		{"literal", "literal"},
	}
	for _, tt := range tests {
		got, err := MustCompile(tt.text).RenderValue(env)
		if err != nil {
			t.Errorf("RenderValue(%q): %v", tt.text, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("RenderValue(%q) (-want +got):\n%s", tt.text, diff)
		}
	}
}

func TestStatic(t *testing.T) {
	t.Parallel()
	if !MustCompile("no placeholders }}").Static() {
		t.Error("literal template not static")
	}
	if MustCompile("{{ now }}").Static() {
		t.Error("placeholder template static")
	}
	// A literal template never evaluates anything, even with a nil env.
	got, err := MustCompile("Hello").Render(nil)
	if err != nil || got != "Hello" {
		t.Errorf("Render = %q, %v", got, err)
	}
}

func TestFill(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]string{
		"https://{{ contact.c3 }}.example.org/a?e={{ contact.email }}": "https://x.example.org/a?e=x",
		"plain":     "plain",
		"{{ now }}": "x",
	} {
		if got := MustCompile(text).Fill("x"); got != want {
			t.Errorf("Fill(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text   string
		offset int
		line   int
		column int
		expr   string
		msg    string // substring of Error()
	}{
		{"Hi {{ contcat.x }}", 6, 1, 7, "contcat.x", "column 7: unknown name contcat in {{ contcat.x }}"},
		{"{{ contact.firstname", 0, 1, 1, "", "unclosed {{"},
		{"ok {{ a }} then {{ b", 6, 1, 7, "a", "unknown name a"},
		{"x {{ }}", 2, 1, 3, "", "empty placeholder"},
		{"{{ 1 + }}", 5, 1, 6, "1 +", "unexpected token EOF"},
		{"é{{ now.x }}", 9, 1, 9, "now.x", "type string has no field x"},
		{"line1\nline2 {{ nope }}", 15, 2, 10, "nope", "line 2, column 10: unknown name nope"},
		{"{{ it's }}", 7, 1, 8, "it's", "column 8: literal not terminated"},
		{"{{ contact.c3 == }}", 15, 1, 16, "contact.c3 ==", "unexpected token EOF"},
	}
	for _, tt := range tests {
		_, err := Compile(tt.text)
		var pe *Error
		if !errors.As(err, &pe) {
			t.Errorf("Compile(%q) error = %v, want *Error", tt.text, err)
			continue
		}
		type pos struct {
			Offset, Line, Column int
			Expr                 string
		}
		got := pos{pe.Offset, pe.Line, pe.Column, pe.Expr}
		want := pos{tt.offset, tt.line, tt.column, tt.expr}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Compile(%q) position (-want +got):\n%s", tt.text, diff)
		}
		if !strings.Contains(pe.Error(), tt.msg) {
			t.Errorf("Compile(%q) error %q does not contain %q", tt.text, pe.Error(), tt.msg)
		}
	}
}

func TestDynamicMembersCompile(t *testing.T) {
	t.Parallel()
	for _, text := range []string{"{{ contact.c3 }}", "{{ event.data.plan }}", "{{ event.data.a.b.c }}",
		"{{ contact.dates.birthday }}", "{{ run.id }}{{ scenario.id }}"} {
		if _, err := Compile(text); err != nil {
			t.Errorf("Compile(%q): %v", text, err)
		}
	}
}

func TestRenderRunError(t *testing.T) {
	t.Parallel()
	tpl := MustCompile("plan: {{ event.data.plan.x }}")
	_, err := tpl.Render(map[string]any{"event": map[string]any{"data": map[string]any{}}})
	var re *RunError
	if !errors.As(err, &re) {
		t.Fatalf("Render error = %v, want *RunError", err)
	}
	if re.Expr != "event.data.plan.x" || !strings.Contains(err.Error(), `expression "event.data.plan.x": cannot fetch x`) {
		t.Errorf("Render error = %q", err)
	}
	if _, err := tpl.RenderValue(testEnv()); err == nil {
		t.Error("RenderValue: want error")
	}
}

func TestCompileExpr(t *testing.T) {
	t.Parallel()
	env := testEnv()
	tests := []struct {
		code    string
		want    bool
		runErr  bool
		compErr string
	}{
		{code: `contact.c3 == "pro"`, want: true},
		{code: `contact.c3 == "free"`, want: false},
		{code: `contact.score >= 40 and "vip" in contact.groups`, want: true},
		{code: `event.type == "signup" && event.data.plan != "gold"`, want: false},
		{code: `contact.missing`, want: false}, // nil casts to false
		{code: `contact.tags`, runErr: true},
		{code: `contact.c3`, runErr: true},
		{code: `1 + 1`, compErr: "expected bool"},
		{code: `contcat.c3 == "x"`, compErr: "column 1: unknown name contcat"},
		{code: `contact.c3 ==`, compErr: `column 13: unexpected token EOF in "contact.c3 =="`},
		{code: "  ", compErr: "expression is empty"},
	}
	for _, tt := range tests {
		prog, err := CompileExpr(tt.code)
		if tt.compErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.compErr) {
				t.Errorf("CompileExpr(%q) error = %v, want %q", tt.code, err, tt.compErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("CompileExpr(%q): %v", tt.code, err)
			continue
		}
		got, err := EvalBool(prog, env)
		if tt.runErr {
			if err == nil || !strings.Contains(err.Error(), tt.code) {
				t.Errorf("EvalBool(%q) error = %v, want one naming the expression", tt.code, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("EvalBool(%q) = %v, %v; want %v", tt.code, got, err, tt.want)
		}
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   any
		want string
	}{
		{nil, ""},
		{"s", "s"},
		{false, "false"},
		{int64(-7), "-7"},
		{uint8(7), "7"},
		{1e-7, "0.0000001"},
		{float32(0.1), "0.1"},
		{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "2026-01-02T03:04:05Z"},
		{90 * time.Second, "1m30s"},
		{map[string]any{"b": 1, "a": "&"}, `{"a":"&","b":1}`},
		{[]int{1, 2}, "[1,2]"},
	}
	for _, tt := range tests {
		if got := Format(tt.in); got != tt.want {
			t.Errorf("Format(%#v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func BenchmarkRenderPlaceholder(b *testing.B) {
	tpl := MustCompile("Hello {{ contact.firstname }}")
	env := testEnv()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tpl.Render(env); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderLiteral(b *testing.B) {
	tpl := MustCompile("Hello world, no placeholders here")
	env := testEnv()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tpl.Render(env); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCondition(b *testing.B) {
	prog, err := CompileExpr(`contact.c3 == "pro" && contact.score > 10`)
	if err != nil {
		b.Fatal(err)
	}
	env := testEnv()
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := EvalBool(prog, env); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}
