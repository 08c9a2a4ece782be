package n8njs

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEval(t *testing.T) {
	t.Parallel()
	d := Data{JSON: map[string]any{"n": 2, "o": map[string]any{"a": 1}}, Nodes: map[string]any{"Set": map[string]any{"x": "X"}},
		ExecutionID: "e1", Env: map[string]any{"K": "v"}}
	tests := []struct {
		value string
		want  any
	}{
		{`plain {{ $json.n }}`, `plain {{ $json.n }}`},
		{`={{ $json.n * 2 }}`, 4.0},
		{`={{ $json.o }}`, map[string]any{"a": 1.0}},
		{`=n={{ $json.n }} o={{ $json.o }} none={{ $json.gone }}`, `n=2 o={"a":1} none=`},
		{`={{ $('Set').item.json.x + $node["Set"].json.x + $items("Set")[0].json.x }}`, "XXX"},
		{`={{ $input.first().json.n }}`, 2.0},
		{`={{ $execution.id + $env.K }}`, "e1v"},
	}
	for _, tt := range tests {
		got, err := Eval(tt.value, d)
		require.NoError(t, err, tt.value)
		require.Equal(t, tt.want, got, tt.value)
	}
	for _, unknown := range []string{`={{ $('Other').item.json.x }}`, `={{ $now }}`, `={{ Date.now() }}`} {
		_, err := Eval(unknown, d)
		require.ErrorIs(t, err, ErrUnknown, unknown)
	}
	_, err := Eval(`={{ $json }}`, Data{})
	require.ErrorIs(t, err, ErrUnknown, "no input")
	_, err = Eval(`={{ $json.o.missing.deeper }}`, d)
	require.Error(t, err, "JavaScript's own errors come back")
}
