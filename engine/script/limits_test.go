package script_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/engine/script"
)

// shortLimits keep the tests of runaway code fast.
var shortLimits = script.Limits{Time: 300 * time.Millisecond, Memory: 64 << 20, Sample: 2 * time.Millisecond}

func TestRunawaysAreStopped(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, code, want string
		// timed runs get 300 ms; the others a minute, so that the limit
		// under test comes first. Likewise, of those, only runs that test
		// the memory limit get 64 MiB, the others 1 GiB: the heap the
		// sampler reads holds what parallel tests allocate too.
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
			limits := shortLimits
			if !tt.timed {
				limits.Time = time.Minute
				if !strings.Contains(tt.want, "memory") {
					limits.Memory = 1 << 30
				}
			}
			start := time.Now()
			requireFails(t, failCase{tt.code, tt.want}, limits)
			assert.Less(t, time.Since(start), 20*time.Second, "stopped, not run to the end")
		})
	}
}

// TestBoundsBacktracking: a regular expression that backtracks for ever
// (lookarounds and backreferences run on regexp2) cannot be interrupted, so
// it has a match timeout just past the longest run.
func TestBoundsBacktracking(t *testing.T) {
	t.Parallel()
	_, err := run(t, compile(t, `return /^(a|a?)+\1$/.test('a'.repeat(40) + '!')`, shortLimits), nil)
	assert.ErrorContains(t, err, "the code ran longer than its limit of 300ms")
}

func TestGuardsLetOrdinaryCallsThrough(t *testing.T) {
	t.Parallel()
	p := compile(t, `return [
		'ab'.repeat(3), 'a'.padStart(3, '-'), [1, 2, 3].join('+'), String([1, [2, 3]]), [...'héllo'].length,
		Array.from({length: 3}, (_, i) => i * i), Math.max(...[1, 5, 3]), Math.max.apply(null, [4, 2]),
		'a-b-c'.split('-'), 'a.b'.replaceAll('.', '::'), 'aXbX'.replace(/X/g, '--'), Object.keys('ab'),
		JSON.stringify({a: 1}), [1, 2].concat([3], 4), Array(3).fill(7), [..."ab"].reverse().join(""),
		Reflect.apply(Math.min, null, [3, 1]), [3, 1, 2].sort(), [1, 2, 3].includes(2), /(a)\1/.test('aa'),
	]`, script.Limits{})
	got, err := run(t, p, nil)
	require.NoError(t, err)
	assert.Equal(t, []any{
		"ababab", "--a", "1+2+3", "1,2,3", 5,
		[]any{0, 1, 4}, 5, 4,
		[]any{"a", "b", "c"}, "a::b", "a--b--", []any{"0", "1"},
		`{"a":1}`, []any{1, 2, 3, 4}, []any{7, 7, 7}, "ba",
		1, []any{1, 2, 3}, true, true,
	}, got)
}

// TestWithLimitsKeepsTheProgram: shortening one bound leaves the others at
// their defaults and the program it came from as it was.
func TestWithLimitsKeepsTheProgram(t *testing.T) {
	t.Parallel()
	p, err := script.Compile(`return 'x'.repeat(1000).length`)
	require.NoError(t, err)
	short := p.WithLimits(script.Limits{Text: 10})
	_, err = short.Run(t.Context(), nil, nil)
	assert.ErrorContains(t, err, "repeat would make a text longer than the limit of 10 characters")
	out, err := p.Run(t.Context(), nil, nil)
	require.NoError(t, err)
	assert.Equal(t, 1000, out)
}
