package nodes

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/engine/expression"
)

// buildCodeNode compiles a script through the registry, as saving a flow
// does, with shorter limits where a test needs them.
func buildCodeNode(t testing.TB, source string, shorten func(*codeLimits)) *codeNode {
	t.Helper()
	k, ok := builtins(t).Lookup("code")
	require.True(t, ok)
	params, err := json.Marshal(map[string]string{"code": source})
	require.NoError(t, err)
	node, err := k.Build(params)
	require.NoError(t, err, source)
	n := node.(*codeNode)
	if shorten != nil {
		shorten(&n.limits)
	}
	return n
}

// codeScope is a foreach iteration's scope with data in every name.
func codeScope() *expression.Scope {
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

func runCode(t testing.TB, n *codeNode, logger *slog.Logger) (any, error) {
	t.Helper()
	res, err := n.Run(context.Background(), &Input{Scope: codeScope(), Logger: logger})
	return res.Output, err
}

func TestCodeOutputs(t *testing.T) {
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
			got, err := runCode(t, buildCodeNode(t, tt.code, nil), nil)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestCodeDoesNotChangeItsInput(t *testing.T) {
	t.Parallel()
	scope := codeScope()
	n := buildCodeNode(t, `input.name = "Bob"; input.tags.push("z"); steps.shape.cents = 0; return input`, nil)
	res, err := n.Run(context.Background(), &Input{Scope: scope})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"name": "Bob", "tags": []any{"x", "y", "z"}}, res.Output)
	assert.Equal(t, map[string]any{"name": "Ada", "tags": []any{"x", "y"}}, scope.Input, "the script changed a copy")
	assert.Equal(t, 2500, scope.Steps["shape"].(map[string]any)["cents"])
}

// logRecorder keeps what a step logs.
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

func TestCodeConsoleWritesTheStepLog(t *testing.T) {
	t.Parallel()
	rec := &logRecorder{}
	n := buildCodeNode(t, `
		console.log("total", 3, {a: [1, "<b>"]}, null, undefined)
		console.warn("careful")
		console.error(new Error("bad"))
		console.info(() => 1)
		const loop = {}; loop.self = loop
		console.debug(loop)
		return 1`, nil)
	_, err := runCode(t, n, slog.New(rec))
	require.NoError(t, err)
	assert.Equal(t, []string{
		`INFO total 3 {"a":[1,"<b>"]} null undefined`,
		"WARN careful",
		`ERROR {"message":"bad","name":"Error"}`,
		"INFO [Function]",
		"DEBUG [Object: value.self refers back to an object that holds it: JSON cannot hold a cycle]",
	}, rec.lines)

	rec = &logRecorder{}
	_, err = runCode(t, buildCodeNode(t, `input.name = "x"`, nil), slog.New(rec))
	require.NoError(t, err)
	assert.Equal(t, []string{"WARN the code returned nothing (undefined), so the output is null"}, rec.lines)
}

// codeCase is a script and the error it must give.
type codeCase struct{ code, want string }

func TestCodeCompileErrorsNameTheirPlace(t *testing.T) {
	t.Parallel()
	tests := []codeCase{
		{"const a = 1\nconst b = (a +\nreturn b", "SyntaxError: Unexpected token return (line 3, column 1)"},
		{"let x = 1\nlet x = 2", "SyntaxError: Identifier 'x' has already been declared (line 2, column 5)"},
		{"if (true) {\n  return 1", "(line 2, column 11)"},
		{"return 1\n}); (function () {", "SyntaxError: the code closes a brace it did not open"},
		{"const r = await fetch('x')\nreturn r", "await is not available"},
	}
	for _, tt := range tests {
		errs := buildErrors(t, "code", mustJSONText(t, map[string]string{"code": tt.code}))
		require.Len(t, errs, 1, tt.code)
		assert.Equal(t, "code", errs[0].Field)
		assert.Contains(t, errs[0].Message, tt.want, tt.code)
	}
	errs := buildErrors(t, "code", `{}`)
	assert.Equal(t, FieldErrors{{Field: "code", Message: "is required"}}, errs)
	errs = buildErrors(t, "code", mustJSONText(t, map[string]string{"code": strings.Repeat("x", MaxCodeLength+1)}))
	assert.Equal(t, "code", errs[0].Field)
	assert.Contains(t, errs[0].Message, "must be at most 65536 characters long")
}

func mustJSONText(t *testing.T, v any) string {
	t.Helper()
	return string(mustJSON(t, v))
}

func TestCodeErrorsNameTheirPlace(t *testing.T) {
	t.Parallel()
	requireCodeFailures(t, []codeCase{
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

// requireCodeFailures runs each script, which must fail as its case says.
func requireCodeFailures(t *testing.T, cases []codeCase) {
	t.Helper()
	for _, c := range cases {
		requireCodeFails(t, buildCodeNode(t, c.code, nil), c.want)
	}
}

// requireCodeFails runs a script that must fail with want, permanently:
// the same code on the same data fails the same way.
func requireCodeFails(t *testing.T, n *codeNode, want string) {
	t.Helper()
	_, err := runCode(t, n, nil)
	require.Error(t, err, n.lines)
	assert.Contains(t, err.Error(), want, n.lines)
	assert.True(t, IsPermanent(err), n.lines)
}

func TestCodeOutputMustBeJSON(t *testing.T) {
	t.Parallel()
	requireCodeFailures(t, []codeCase{
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

func TestCodeHasNoWayOut(t *testing.T) {
	t.Parallel()
	n := buildCodeNode(t, `return [typeof require, typeof setTimeout, typeof setInterval, typeof setImmediate,
		typeof queueMicrotask, typeof process, typeof module, typeof exports, typeof fetch, typeof XMLHttpRequest,
		typeof ArrayBuffer, typeof Uint8Array, typeof SharedArrayBuffer]`, nil)
	got, err := runCode(t, n, nil)
	require.NoError(t, err)
	for i, v := range got.([]any) {
		assert.Equal(t, "undefined", v, "name %d", i)
	}
	_, err = runCode(t, buildCodeNode(t, `require('fs')`, nil), nil)
	assert.ErrorContains(t, err, "ReferenceError: require is not defined")
	_, err = runCode(t, buildCodeNode(t, `setTimeout(() => {}, 10)`, nil), nil)
	assert.ErrorContains(t, err, "ReferenceError: setTimeout is not defined")
}

// shortLimits keep the tests of runaway code fast.
func shortLimits(l *codeLimits) {
	l.time = 300 * time.Millisecond
	l.memory = 64 << 20
	l.sample = 2 * time.Millisecond
}

func TestCodeRunawaysAreStopped(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, code, want string
		// timed runs get 300 ms; the others a minute, so that the limit
		// under test comes first.
		timed bool
	}{
		{name: "loop", code: `while (true) {}`, want: "the code ran longer than its limit of 300ms", timed: true},
		{name: "loop in a callback", code: `[1].forEach(() => { for (;;) {} })`, want: "the code ran longer than its limit of 300ms", timed: true},
		// A 1 KB text repeated, since repeat goes character by character.
		{name: "allocation", code: `const kb = 'x'.repeat(1000); let a = []; while (true) a.push(kb.repeat(1000))`,
			want: "the code used more memory than its limit of 64 MiB"},
		{name: "allocation in a callback", code: `const a = []; [1].forEach(() => { for (;;) a.push([a.length, 'y'.repeat(100).repeat(1000)]) })`,
			want: "the code used more memory than its limit of 64 MiB"},
		{name: "doubling text", code: `let s = 'x'; while (true) s = s + s + '.'`, want: "than its limit of", timed: true},
		{name: "one huge repeat", code: `return 'x'.repeat(1e10).length`,
			want: "RangeError: repeat would make a text longer than the limit of 33554432 characters (line 1, column 18)"},
		{name: "padding", code: `return ''.padEnd(2 ** 40)`, want: "RangeError: padEnd would make a text"},
		{name: "spreading a sparse array", code: `return [...Array(1e9)].length`,
			want: "RangeError: values would go through 1000000000 elements, over the limit of 4194304"},
		{name: "joining one", code: `return Array(1e9).join('ab').length`, want: "RangeError: join would go through"},
		{name: "joining big texts", code: `const big = 'x'.repeat(1e6); return Array(100).fill(big).join('').length`, want: "RangeError: join would make a text"},
		{name: "filling one", code: `return Array(3e7).fill(0).length`, want: "RangeError: fill would go through"},
		{name: "array-like", code: `return Array.from({length: 1e9}).length`, want: "RangeError: from would go through"},
		{name: "walking an array-like", code: `return Array.prototype.indexOf.call({length: 2 ** 53 - 1}, 1)`, want: "RangeError: indexOf would go through"},
		{name: "apply", code: `return Math.max.apply(null, {length: 1e9})`, want: "RangeError: apply would go through"},
		{name: "spreading text", code: `return [...'x'.repeat(1000).repeat(5000)].length`, want: "RangeError: String.prototype[Symbol.iterator] would go through"},
		{name: "stringify", code: `const big = 'x'.repeat(1e6); return JSON.stringify(Array(100).fill(big)).length`, want: "RangeError: stringify would make a text"},
		{name: "replace", code: `const big = 'x'.repeat(1e6); return big.replaceAll('x', big).length`, want: "RangeError: replaceAll would make a text"},
		{name: "split", code: `return 'x'.repeat(1000).repeat(5000).split('').length`, want: "RangeError: split would go through"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := buildCodeNode(t, tt.code, shortLimits)
			if !tt.timed {
				n.limits.time = time.Minute
			}
			start := time.Now()
			requireCodeFails(t, n, tt.want)
			assert.Less(t, time.Since(start), 20*time.Second, "stopped, not run to the end")
		})
	}
}

// TestCodeBoundsBacktracking: a regular expression that backtracks for ever
// (lookarounds and backreferences run on regexp2) cannot be interrupted, so
// it has a match timeout just past the longest run.
func TestCodeBoundsBacktracking(t *testing.T) {
	t.Parallel()
	n := buildCodeNode(t, `return /^(a|a?)+\1$/.test('a'.repeat(40) + '!')`, shortLimits)
	_, err := runCode(t, n, nil)
	assert.ErrorContains(t, err, "the code ran longer than its limit of 300ms")
}

func TestCodeGuardsLetOrdinaryCallsThrough(t *testing.T) {
	t.Parallel()
	n := buildCodeNode(t, `return [
		'ab'.repeat(3), 'a'.padStart(3, '-'), [1, 2, 3].join('+'), String([1, [2, 3]]), [...'héllo'].length,
		Array.from({length: 3}, (_, i) => i * i), Math.max(...[1, 5, 3]), Math.max.apply(null, [4, 2]),
		'a-b-c'.split('-'), 'a.b'.replaceAll('.', '::'), 'aXbX'.replace(/X/g, '--'), Object.keys('ab'),
		JSON.stringify({a: 1}), [1, 2].concat([3], 4), Array(3).fill(7), [..."ab"].reverse().join(""),
		Reflect.apply(Math.min, null, [3, 1]), [3, 1, 2].sort(), [1, 2, 3].includes(2), /(a)\1/.test('aa'),
	]`, nil)
	got, err := runCode(t, n, nil)
	require.NoError(t, err)
	assert.Equal(t, []any{
		"ababab", "--a", "1+2+3", "1,2,3", 5,
		[]any{0, 1, 4}, 5, 4,
		[]any{"a", "b", "c"}, "a::b", "a--b--", []any{"0", "1"},
		`{"a":1}`, []any{1, 2, 3, 4}, []any{7, 7, 7}, "ba",
		1, []any{1, 2, 3}, true, true,
	}, got)
}

func TestCodeStopsWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	n := buildCodeNode(t, `while (true) {}`, nil)
	cause := errors.New("run canceled")
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() {
		time.Sleep(50 * time.Millisecond)
		cancel(cause)
	}()
	_, err := n.Run(ctx, &Input{Scope: codeScope()})
	assert.ErrorIs(t, err, cause)
	assert.False(t, IsPermanent(err), "a canceled run may be retried or resumed")

	ctx, cancel2 := context.WithTimeoutCause(context.Background(), 50*time.Millisecond, errors.New("timed out after 50ms"))
	defer cancel2()
	_, err = n.Run(ctx, &Input{Scope: codeScope()})
	assert.EqualError(t, err, "timed out after 50ms", "the step's own timeout is shorter than the code's limit")
}

func TestCodeRunsConcurrently(t *testing.T) {
	t.Parallel()
	n := buildCodeNode(t, `return input.name + index`, nil)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			scope := codeScope()
			scope.Index = i
			res, err := n.Run(context.Background(), &Input{Scope: scope})
			assert.NoError(t, err)
			assert.Equal(t, "Ada"+string(rune('0'+i)), res.Output)
		})
	}
	wg.Wait()
}

// FuzzCode builds and runs any source under short limits: it may fail, but
// not panic or hang.
func FuzzCode(f *testing.F) {
	for _, seed := range []string{
		`return input`, `return {a: [1, 2, {b: null}]}`, `throw new Error("x")`, `while (true) {}`,
		`return [...Array(1e9)]`, `}); (function () {`, `return (() => { return 1 })`, "let s = 'x'; for (;;) s += s",
		`return new Proxy({}, {ownKeys() { throw 1 }})`, `return {get a() { for (;;) {} }}`, `return Symbol()`,
		`console.log({toString() { throw 1 }}, Symbol('x'), 1n)`, `return Object.create(null)`, "/*", "`${",
	} {
		f.Add(seed)
	}
	k, ok := builtins(f).Lookup("code")
	require.True(f, ok)
	f.Fuzz(func(t *testing.T, source string) {
		params, err := json.Marshal(map[string]string{"code": source})
		if err != nil {
			return
		}
		node, err := k.Build(params)
		if err != nil {
			return
		}
		n := node.(*codeNode)
		n.limits.time = 100 * time.Millisecond
		n.limits.sample = 2 * time.Millisecond
		res, err := n.Run(context.Background(), &Input{Scope: codeScope(), Logger: slog.New(slog.DiscardHandler)})
		if err == nil {
			_, err = json.Marshal(res.Output)
			require.NoError(t, err, "the output is JSON")
		}
	})
}
