package expression

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testScope() *Scope {
	return &Scope{
		Trigger: map[string]any{"body": map[string]any{"name": "Ada", "amount": 1250, "tags": []any{"a", "b"}}},
		Steps:   map[string]any{"amount": map[string]any{"usd": 12.5}},
		Run:     RunInfo{ID: "r1", FlowID: "f1", Attempt: 2},
		Env:     map[string]any{"REGION": "eu"},
	}
}

func TestCompile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		source  string
		want    any
		wantErr string
	}{
		{source: "trigger.body.amount / 100", want: 12.5},
		{source: "steps.amount.usd >= 10", want: true},
		{source: "run.attempt + 1", want: 3},
		{source: `env.REGION + "-1"`, want: "eu-1"},
		{source: "len(trigger.body.tags)", want: 2},
		{source: "", wantErr: "expression is empty"},
		{source: "nobody.home", wantErr: "unknown name nobody (line 1, column 1)"},
		{source: "1 +", wantErr: "unexpected token EOF"},
		{source: strings.Repeat("1", MaxSourceLength+1), wantErr: "the limit is 16384"},
		{source: strings.TrimSuffix(strings.Repeat("1+", MaxNodes), "+") + "1", wantErr: "exceeds maximum allowed nodes"},
	}
	for _, tt := range tests {
		p, err := Compile(tt.source)
		if tt.wantErr != "" {
			assert.ErrorContains(t, err, tt.wantErr, tt.source)
			continue
		}
		require.NoError(t, err, tt.source)
		got, err := p.Eval(context.Background(), testScope())
		require.NoError(t, err, tt.source)
		assert.Equal(t, tt.want, got, tt.source)
	}
}

func TestEvalStopsOnCanceledContext(t *testing.T) {
	t.Parallel()
	p, err := Compile("1")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = p.Eval(ctx, testScope())
	assert.ErrorIs(t, err, context.Canceled)
}

func TestTemplate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		source  string
		want    any
		wantErr string
	}{
		{source: "plain text", want: "plain text"},
		{source: "", want: ""},
		{source: "Hello {{ trigger.body.name }}!", want: "Hello Ada!"},
		{source: "{{ steps.amount.usd }}", want: 12.5},
		{source: "  {{ steps.amount.usd }}", want: "  12.5"},
		{source: "{{trigger.body.tags}}", want: []any{"a", "b"}},
		{source: "tags: {{ trigger.body.tags }}", want: `tags: ["a","b"]`},
		{source: `{{ {"a": {"b": 1}}.a.b }}`, want: 1},
		{source: `{{ "}}" + "x" }}`, want: "}}x"},
		{source: `{{ '\'}}' }}`, want: "'}}"},
		{source: "a {{ 1 }} b {{ 2 }} c", want: "a 1 b 2 c"},
		{source: "{{ nil }}", want: nil},
		{source: "x{{ nil }}y", want: "xy"},
		{source: "{{ trigger.body.name", wantErr: `"{{" is not closed`},
		{source: "a {{ }} b", wantErr: "empty {{ }}"},
		{source: "{{ 1 + }}", wantErr: "placeholder {{ 1 + }}"},
		{source: "{{ ghost }}", wantErr: "unknown name ghost"},
	}
	for _, tt := range tests {
		tmpl, err := CompileTemplate(tt.source)
		if tt.wantErr != "" {
			assert.ErrorContains(t, err, tt.wantErr, tt.source)
			continue
		}
		require.NoError(t, err, tt.source)
		assert.Equal(t, !strings.Contains(tt.source, "{{"), tmpl.IsStatic(), tt.source)
		got, err := tmpl.Eval(context.Background(), testScope())
		require.NoError(t, err, tt.source)
		assert.Equal(t, tt.want, got, tt.source)
	}
}

func TestStringify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   any
		want string
	}{
		{nil, ""}, {"s", "s"}, {true, "true"}, {42, "42"}, {int64(-3), "-3"},
		{100.0, "100"}, {0.25, "0.25"}, {map[string]any{"a": 1}, `{"a":1}`}, {[]any{1, "x"}, `[1,"x"]`},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Stringify(tt.in))
	}
}

// FuzzTemplate checks that any text either compiles or is refused with an
// error, never a panic, and that text without placeholders renders as itself.
func FuzzTemplate(f *testing.F) {
	for _, seed := range []string{"", "plain", "{{ 1 }}", "a {{ trigger.body.x }} b", `{{ "}}" }}`, "{{ {'a': 1}.a }}", "{{", "}}", "{{ `x` }}"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, source string) {
		tmpl, err := CompileTemplate(source)
		if err != nil {
			return
		}
		if tmpl.IsStatic() {
			got, err := tmpl.Eval(context.Background(), testScope())
			if err != nil {
				t.Fatalf("static template %q: %v", source, err)
			}
			if source != "" && got != source {
				t.Fatalf("static template %q rendered %q", source, got)
			}
		}
	})
}

// FuzzCompile checks that the compiler refuses bad source with an error, never
// a panic.
func FuzzCompile(f *testing.F) {
	for _, seed := range []string{"1 + 1", "trigger.body.a.b", "steps['x'] ?? 0", "map(trigger.body.tags, # + 1)", "((", "let x = 1; x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, source string) {
		_, _ = Compile(source)
	})
}

func TestValue(t *testing.T) {
	t.Parallel()
	v, err := CompileValue(map[string]any{
		"text":   "Hi {{ trigger.body.name }}",
		"amount": "{{ steps.amount.usd }}",
		"fixed":  []any{1.0, "two", map[string]any{"x": true}},
		"items":  []any{"{{ trigger.body.tags }}", "static"},
	})
	require.NoError(t, err)
	assert.False(t, v.IsStatic())
	got, err := v.Eval(context.Background(), testScope())
	require.NoError(t, err)
	assert.Equal(t, map[string]any{
		"text":   "Hi Ada",
		"amount": 12.5,
		"fixed":  []any{1.0, "two", map[string]any{"x": true}},
		"items":  []any{[]any{"a", "b"}, "static"},
	}, got)

	static, err := CompileValue(map[string]any{"a": []any{1.0}})
	require.NoError(t, err)
	assert.True(t, static.IsStatic())

	_, err = CompileValue(map[string]any{"list": []any{"ok", map[string]any{"bad": "{{ nope( }}"}}})
	assert.ErrorContains(t, err, "list[1].bad: placeholder")
}

// FuzzEval compiles and runs arbitrary expressions against a scope holding
// values of every JSON type. Whatever the source, evaluation must end, within
// its limits, with a value or an error: never a panic or a hang.
func FuzzEval(f *testing.F) {
	for _, seed := range []string{
		`trigger.body.name + "!"`, `replace(trigger.body.name, "a", trigger.body.name)`, `join(trigger.body.tags, trigger.body.name)`,
		`repeat(trigger.body.name, trigger.body.amount)`, `toJSON(trigger)`, `string(steps)`, `map(trigger.body.tags, # + #)`,
		`reduce(1..10, #acc + string(#), "")`, `all(trigger.body.tags, len(#) > 0)`, `trigger.body.amount / 0`, `1..3 | map(# * 2)`,
		`trigger.body.amout * 2`, `trigger.body.tags.x[1]`, `steps.amount.usd.x ?? trigger.body?.nope`, `trigger["body"]["tags"][9]`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, source string) {
		p, err := Compile(source)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = p.Eval(ctx, testScope())
	})
}

func TestDecodeJSONKeepsLargeIntegers(t *testing.T) {
	t.Parallel()
	v, err := DecodeJSON([]byte(`{"id": 820982911946154508, "price": 19.99, "qty": 2, "tags": [1, -3], "exp": 1e3}`))
	require.NoError(t, err)
	m := v.(map[string]any)
	assert.Equal(t, 820982911946154508, m["id"], "an id above 2^53 survives")
	assert.Equal(t, 19.99, m["price"])
	assert.Equal(t, 2, m["qty"])
	assert.Equal(t, []any{1, -3}, m["tags"])
	assert.Equal(t, 1000.0, m["exp"])
	_, err = DecodeJSON([]byte(`{} {}`))
	assert.Error(t, err)
	_, err = DecodeJSON([]byte(`{`))
	assert.Error(t, err)
}
