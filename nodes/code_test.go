package nodes

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/engine/expression"
)

// The sandbox itself (environment, limits, guards, exporter, error places)
// is tested in engine/script; these tests cover what makes it a node kind.

// buildCodeNode compiles a script through the registry, as saving a flow
// does.
func buildCodeNode(t testing.TB, source string) Node {
	t.Helper()
	k, ok := builtins(t).Lookup("code")
	require.True(t, ok)
	params, err := json.Marshal(map[string]string{"code": source})
	require.NoError(t, err)
	node, err := k.Build(params)
	require.NoError(t, err, source)
	return node
}

// codeScope is a step's scope with data in the names the tests read.
func codeScope() *expression.Scope {
	return &expression.Scope{
		Trigger: map[string]any{"body": map[string]any{"amount": 1250}},
		Input:   map[string]any{"name": "Ada"},
	}
}

func TestCodeOutputIsWhatTheScriptReturns(t *testing.T) {
	t.Parallel()
	n := buildCodeNode(t, `return {usd: trigger.body.amount / 100, who: input.name}`)
	res, err := n.Run(context.Background(), &Input{Scope: codeScope()})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"usd": 12.5, "who": "Ada"}, res.Output)
}

func TestCodeCompileErrorsNameTheirPlace(t *testing.T) {
	t.Parallel()
	errs := buildErrors(t, "code", mustJSONText(t, map[string]string{"code": "const a = 1\nconst b = (a +\nreturn b"}))
	assert.Equal(t, FieldErrors{{Field: "code", Message: "SyntaxError: Unexpected token return (line 3, column 1)"}}, errs)
	errs = buildErrors(t, "code", `{}`)
	assert.Equal(t, FieldErrors{{Field: "code", Message: "is required"}}, errs)
	errs = buildErrors(t, "code", mustJSONText(t, map[string]string{"code": strings.Repeat("x", MaxCodeLength+1)}))
	assert.Equal(t, "code", errs[0].Field)
	assert.Contains(t, errs[0].Message, "must be at most 65536 characters long")
}

func mustJSONText(t *testing.T, v any) string {
	t.Helper()
	return string(mustJSON(t, v))
}

// TestCodeFailuresArePermanent: whatever way a script fails, the same code
// on the same data fails the same way, so the step is not retried.
func TestCodeFailuresArePermanent(t *testing.T) {
	t.Parallel()
	tests := []struct{ code, want string }{
		{"const a = 1\n  throw new Error('no ' + a)", "Error: no 1 (line 2, column 9)"},
		{"return 'x'.repeat(1e10)", "RangeError: repeat would make a text longer than the limit"},
		{"return () => 1", "output is a function: return data"},
		{"return 'x'.repeat(5 << 20)", "output is over the limit of 4 MiB as JSON"},
	}
	for _, tt := range tests {
		_, err := buildCodeNode(t, tt.code).Run(context.Background(), &Input{Scope: codeScope()})
		require.Error(t, err, tt.code)
		assert.Contains(t, err.Error(), tt.want, tt.code)
		assert.True(t, IsPermanent(err), tt.code)
	}
}

func TestCodeStopsWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	n := buildCodeNode(t, `while (true) {}`)
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
