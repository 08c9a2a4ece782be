package expression

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// allocated returns the bytes fn allocates on the heap.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// The attack the engine issue names: each level concatenates the previous
// ten times, so eight levels would build 10⁹ bytes. It must fail with a clear
// error, having built only about the budget.
func TestNestedConcatenationIsStopped(t *testing.T) {
	t.Parallel()
	source := `let a = "xxxxxxxxxx"; let b = a+a+a+a+a+a+a+a+a+a; let c = b+b+b+b+b+b+b+b+b+b;
		let d = c+c+c+c+c+c+c+c+c+c; let e = d+d+d+d+d+d+d+d+d+d; let f = e+e+e+e+e+e+e+e+e+e;
		let g = f+f+f+f+f+f+f+f+f+f; let h = g+g+g+g+g+g+g+g+g+g; let i = h+h+h+h+h+h+h+h+h+h; len(i)`
	p, err := Compile(source)
	require.NoError(t, err)
	var evalErr error
	bytes := allocated(func() { _, evalErr = p.Eval(context.Background(), testScope()) })
	require.ErrorIs(t, evalErr, ErrTooMuchText)
	assert.Equal(t, "expression built more than 4194304 bytes of text", evalErr.Error())
	assert.Less(t, bytes, uint64(64<<20), "memory stays bounded: %d bytes allocated", bytes)
}

func TestTextBuildingBuiltinsAreBounded(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("y", 100_000)
	scope := testScope()
	scope.Trigger["big"] = big
	scope.Trigger["count"] = 1000.0 // as JSON numbers arrive
	for _, source := range []string{
		`join(map(1..1000, trigger.big), ",")`,
		`replace(trigger.big, "y", trigger.big)`,
		`toJSON(map(1..1000, trigger.big))`,
		`string(map(1..1000, trigger.big))`,
		`text(map(1..1000, trigger.big))`,
		`reduce(1..1000, #acc + trigger.big, "")`,
		`repeat(trigger.big, 1000)`,
		`repeat(trigger.big, trigger.count)`,
	} {
		p, err := Compile(source)
		require.NoError(t, err, source)
		var evalErr error
		bytes := allocated(func() { _, evalErr = p.Eval(context.Background(), scope) })
		assert.Error(t, evalErr, source)
		assert.Less(t, bytes, uint64(64<<20), "%s allocated %d bytes", source, bytes)
	}
}

func TestTextWithinBudgetIsBuilt(t *testing.T) {
	t.Parallel()
	for source, want := range map[string]any{
		`join(["a", "b"], "-")`:          "a-b",
		`join(["a", "b"])`:               "ab",
		`replace("aXbX", "X", "--")`:     "a--b--",
		`replace("aXbX", "X", "--", 1)`:  "a--bX",
		`toJSON({"a": 1})`:               "{\n  \"a\": 1\n}",
		`string(12)`:                     "12",
		`text({"a": [1, nil]})`:          `{"a":[1,null]}`,
		`"x" + text(nil) + text(2.5)`:    "x2.5",
		`text()`:                         nil, // one argument: refused
		`"a" + "b" + string(1 + 2)`:      "ab3",
		`1 + 2.5`:                        3.5,
		`[1] + [2]`:                      nil, // expr has no array +: an error
		`len(map(1..3, # + 1))`:          3,
		`sum(filter(1..10, # % 2 == 0))`: 30,
		`reduce(1..4, #acc + #, 0)`:      10,
		`date("2026-01-02") + duration("24h") > date("2026-01-02")`: true,
	} {
		p, err := Compile(source)
		if err != nil {
			assert.Nil(t, want, "%s: %v", source, err)
			continue
		}
		got, err := p.Eval(context.Background(), testScope())
		if want == nil {
			assert.Error(t, err, source)
			continue
		}
		require.NoError(t, err, source)
		assert.Equal(t, want, got, source)
	}
}

// Loops over input allocate nothing new, so expr's memory budget does not
// stop them; the guard's clock does.
func TestLongLoopsAreStopped(t *testing.T) {
	t.Parallel()
	items := make([]any, 2000)
	for i := range items {
		items[i] = i
	}
	scope := testScope()
	scope.Trigger["items"] = items
	p, err := Compile(`all(trigger.items, all(trigger.items, all(trigger.items, # >= 0)))`)
	require.NoError(t, err)
	_, err = p.Eval(context.Background(), scope)
	assert.ErrorIs(t, err, ErrTooSlow)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = p.Eval(ctx, scope)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "a shorter step deadline wins: %v", err)
}

func TestMemoryBudgetStopsLargeRanges(t *testing.T) {
	t.Parallel()
	p, err := Compile(`len(1..100000000)`)
	require.NoError(t, err)
	_, err = p.Eval(context.Background(), testScope())
	assert.ErrorContains(t, err, "memory budget exceeded")
}
