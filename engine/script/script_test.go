package script_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/engine/expression"
	"github.com/hookflow/hookflow/engine/script"
)

// compile compiles a script that must compile, bounded by limits (zero
// fields keep their defaults).
func compile(t testing.TB, source string, limits script.Limits) *script.Program {
	t.Helper()
	p, err := script.Compile(source)
	require.NoError(t, err, source)
	return p.WithLimits(limits)
}

// testScope is a foreach iteration's scope with data in every name.
func testScope() *expression.Scope {
	return &expression.Scope{
		Trigger: map[string]any{"body": map[string]any{"amount": 1250, "items": []any{
			map[string]any{"sku": "a", "price": 2.5, "qty": 2},
			map[string]any{"sku": "b", "price": 10, "qty": 1},
		}}},
		Steps: map[string]any{"shape": map[string]any{"cents": 2500, "__proto__": "data"}},
		Input: map[string]any{"name": "Ada", "tags": []any{"x", "y"}},
		Item:  map[string]any{"sku": "b"},
		Index: 1,
		Run:   expression.RunInfo{ID: "run-1", FlowID: "flow-1", Attempt: 2},
		Env:   map[string]any{"REGION": "eu"},
	}
}

func run(t testing.TB, p *script.Program, logger *slog.Logger) (any, error) {
	t.Helper()
	return p.Run(context.Background(), testScope(), logger)
}

func TestRunOutputs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, code string
		want       any
	}{
		{"object", `return {usd: trigger.body.amount / 100, who: input.name}`, map[string]any{"usd": 12.5, "who": "Ada"}},
		{"array", `return input.tags.map((t, i) => t + i)`, []any{"x0", "y1"}},
		{"text", `return "hi " + input.name`, "hi Ada"},
		{"whole number", `return 10 / 2`, 5},
		{"fraction", `return 0.1 + 0.2`, 0.30000000000000004},
		{"boolean", `return steps.shape.cents > 100`, true},
		{"null", `return null`, nil},
		{"nothing", `const x = 1`, nil},
		{"undefined fields left out, in arrays null", `return {a: undefined, b: [undefined, 1]}`, map[string]any{"b": []any{nil, 1}}},
		{"NaN is null", `return [NaN, Infinity]`, []any{nil, nil}},
		{"sum over trigger", `
			let total = 0
			for (const i of trigger.body.items) {
				total += i.price * i.qty
			}
			return {total}`, map[string]any{"total": 15}},
		{"item, index, run, env", `return [item.sku, index, run.id, run.flow_id, run.attempt, env.REGION]`,
			[]any{"b", 1, "run-1", "flow-1", 2, "eu"}},
		{"a __proto__ key is data", `return steps.shape.__proto__`, "data"},
		{"dates are RFC 3339", `return {at: new Date(Date.UTC(2024, 0, 2, 3, 4, 5))}`, map[string]any{"at": "2024-01-02T03:04:05.000Z"}},
		{"an invalid date is null", `return new Date(NaN)`, nil},
		{"boxed text", `return new String("x")`, "x"},
		{"errors keep name and message", `return new TypeError("bad")`, map[string]any{"name": "TypeError", "message": "bad"}},
		{"settled promise", `return Promise.resolve(3)`, 3},
		{"async function", `return (async () => { const v = await Promise.resolve(2); return v * 2 })()`, 4},
		{"JSON round trip", `return JSON.parse(JSON.stringify({a: [1, {b: "c"}]}))`, map[string]any{"a": []any{1, map[string]any{"b": "c"}}}},
		{"keys in sorted order", `return Object.keys(trigger.body)`, []any{"amount", "items"}},
		{"strict mode works", `"use strict"; return typeof this`, "undefined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := run(t, compile(t, tt.code, script.Limits{}), nil)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestRunDoesNotChangeItsInput(t *testing.T) {
	t.Parallel()
	scope := testScope()
	p := compile(t, `input.name = "Bob"; input.tags.push("z"); steps.shape.cents = 0; return input`, script.Limits{})
	out, err := p.Run(context.Background(), scope, nil)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"name": "Bob", "tags": []any{"x", "y", "z"}}, out)
	assert.Equal(t, map[string]any{"name": "Ada", "tags": []any{"x", "y"}}, scope.Input, "the script changed a copy")
	assert.Equal(t, 2500, scope.Steps["shape"].(map[string]any)["cents"])
}

func TestRunWithoutAScope(t *testing.T) {
	t.Parallel()
	out, err := compile(t, `return [input, typeof steps, index]`, script.Limits{}).Run(context.Background(), nil, nil)
	require.NoError(t, err)
	assert.Equal(t, []any{nil, "object", 0}, out)
}

// logRecorder keeps what a run logs.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, r.Level.String()+" "+r.Message)
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

func TestConsoleWritesTheLog(t *testing.T) {
	t.Parallel()
	rec := &logRecorder{}
	p := compile(t, `
		console.log("total", 3, {a: [1, "<b>"]}, null, undefined)
		console.warn("careful")
		console.error(new Error("bad"))
		console.info(() => 1)
		const loop = {}; loop.self = loop
		console.debug(loop)
		return 1`, script.Limits{})
	_, err := run(t, p, slog.New(rec))
	require.NoError(t, err)
	assert.Equal(t, []string{
		`INFO total 3 {"a":[1,"<b>"]} null undefined`,
		"WARN careful",
		`ERROR {"message":"bad","name":"Error"}`,
		"INFO [Function]",
		"DEBUG [Object: value.self refers back to an object that holds it: JSON cannot hold a cycle]",
	}, rec.lines)

	rec = &logRecorder{}
	_, err = run(t, compile(t, `input.name = "x"`, script.Limits{}), slog.New(rec))
	require.NoError(t, err)
	assert.Equal(t, []string{"WARN the code returned nothing (undefined), so the output is null"}, rec.lines)
}

// failCase is a script and the error it must give.
type failCase struct{ code, want string }

func TestCompileErrorsNameTheirPlace(t *testing.T) {
	t.Parallel()
	tests := []failCase{
		{"const a = 1\nconst b = (a +\nreturn b", "SyntaxError: Unexpected token return (line 3, column 1)"},
		{"let x = 1\nlet x = 2", "SyntaxError: Identifier 'x' has already been declared (line 2, column 5)"},
		{"if (true) {\n  return 1", "(line 2, column 11)"},
		{"return 1\n}); (function () {", "SyntaxError: the code closes a brace it did not open"},
		{"const r = await fetch('x')\nreturn r", "await is not available"},
		{strings.Repeat("x", script.MaxLength+1), "the code is 65537 characters long; the limit is 65536"},
	}
	for _, tt := range tests {
		_, err := script.Compile(tt.code)
		require.Error(t, err, tt.code)
		assert.Contains(t, err.Error(), tt.want, tt.code)
	}
	_, err := script.Compile("// " + strings.Repeat("é", script.MaxLength-3))
	assert.NoError(t, err, "the limit counts characters, not bytes")
}

func TestErrorsNameTheirPlace(t *testing.T) {
	t.Parallel()
	requireFailures(t, []failCase{
		{"const a = 1\n  throw new Error('no ' + a)", "Error: no 1 (line 2, column 9)"},
		{"return input.missing.deeper", "TypeError: Cannot read property 'deeper' of undefined (line 1, column 22)"},
		{"\n\nnope()", "ReferenceError: nope is not defined (line 3, column 5)"},
		{"throw 'boom'", `the code threw "boom" (line 1, column 1)`},
		{"throw {code: 42}", `the code threw {"code":42} (line 1, column 1)`},
		{"function f() { return [1].map(g) }\nfunction g() { return null.x }\nreturn f()", "(line 2, column 28)"},
		{"return Promise.reject(new RangeError('late'))", "the returned promise was rejected: RangeError: late (line 1, column 23)"},
		{"return new Promise(() => {})", "the code returned a promise that never settles"},
		{"return {get total() { throw new Error('no total') }}", "Error: no total (line 1, column 29)"},
		{"return {get total() { return 'x'.repeat(2 ** 40) }}", "RangeError: repeat would make a text longer than the limit"},
		{"function f(n) { return f(n + 1) }\nreturn f(0)", "RangeError: calls nest more than 2000 deep (line 1, column 25)"},
	})
}

// requireFailures runs each script, which must fail as its case says.
func requireFailures(t *testing.T, cases []failCase) {
	t.Helper()
	for _, c := range cases {
		requireFails(t, c, script.Limits{})
	}
}

// requireFails runs a script that must fail with want, as an *script.Error:
// the script's own failure, which the same code on the same data repeats.
func requireFails(t *testing.T, c failCase, limits script.Limits) {
	t.Helper()
	_, err := run(t, compile(t, c.code, limits), nil)
	require.Error(t, err, c.code)
	assert.Contains(t, err.Error(), c.want, c.code)
	var failed *script.Error
	assert.ErrorAs(t, err, &failed, c.code)
}

func TestOutputMustBeJSON(t *testing.T) {
	t.Parallel()
	requireFailures(t, []failCase{
		{"return () => 1", "output is a function: return data"},
		{"return {a: {handler() {}}}", "output.a.handler is a function"},
		{"return [1, Symbol('s')]", "output[1] is a symbol"},
		{"return {n: 10n}", "output.n is a BigInt"},
		{"return {'odd key': new Map()}", `output["odd key"] is a Map, which JSON cannot hold: convert it with Object.fromEntries(map)`},
		{"return {s: new Set([1])}", "convert it with [...set]"},
		{"const a = {}; a.b = {a}; return a", "output.b.a refers back to an object that holds it"},
		{"return 'x'.repeat(5 << 20)", "output is over the limit of 4 MiB as JSON"},
		{"return new Array(1e9)", "output is over the limit of 4 MiB as JSON"},
		{"let o = {}; for (let i = 0; i < 2000; i++) o = {o}; return o", "nests more than 1000 levels deep"},
	})
}

func TestHasNoWayOut(t *testing.T) {
	t.Parallel()
	p := compile(t, `return [typeof require, typeof setTimeout, typeof setInterval, typeof setImmediate,
		typeof queueMicrotask, typeof process, typeof module, typeof exports, typeof fetch, typeof XMLHttpRequest,
		typeof ArrayBuffer, typeof Uint8Array, typeof SharedArrayBuffer]`, script.Limits{})
	got, err := run(t, p, nil)
	require.NoError(t, err)
	for i, v := range got.([]any) {
		assert.Equal(t, "undefined", v, "name %d", i)
	}
	_, err = run(t, compile(t, `require('fs')`, script.Limits{}), nil)
	assert.ErrorContains(t, err, "ReferenceError: require is not defined")
	_, err = run(t, compile(t, `setTimeout(() => {}, 10)`, script.Limits{}), nil)
	assert.ErrorContains(t, err, "ReferenceError: setTimeout is not defined")
}

func TestStopsWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	p := compile(t, `while (true) {}`, script.Limits{})
	cause := errors.New("run canceled")
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() {
		time.Sleep(50 * time.Millisecond)
		cancel(cause)
	}()
	_, err := p.Run(ctx, testScope(), nil)
	assert.ErrorIs(t, err, cause)
	var failed *script.Error
	assert.False(t, errors.As(err, &failed), "the context ended, the script did not fail")

	ctx, cancel2 := context.WithTimeoutCause(context.Background(), 50*time.Millisecond, errors.New("timed out after 50ms"))
	defer cancel2()
	_, err = p.Run(ctx, testScope(), nil)
	assert.EqualError(t, err, "timed out after 50ms", "the context's deadline is shorter than the code's limit")

	_, err = p.Run(ctx, testScope(), nil)
	assert.EqualError(t, err, "timed out after 50ms", "a context already ended runs nothing")
}

func TestRunsConcurrently(t *testing.T) {
	t.Parallel()
	p := compile(t, `return input.name + index`, script.Limits{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			scope := testScope()
			scope.Index = i
			out, err := p.Run(context.Background(), scope, nil)
			assert.NoError(t, err)
			assert.Equal(t, "Ada"+string(rune('0'+i)), out)
		})
	}
	wg.Wait()
}
