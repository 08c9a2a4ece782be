package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/engine/expression"
)

func TestPreview(t *testing.T) {
	t.Parallel()
	e := engine.New(engine.Options{Env: map[string]string{"REGION": "eu-1"}})
	sample := engine.Sample{Trigger: map[string]any{"body": map[string]any{"n": 3}}}
	ctx := context.Background()

	got, err := e.Preview(ctx, engine.PreviewSource{Source: `env.REGION + "/" + string(trigger.body.n)`}, sample)
	require.NoError(t, err)
	assert.Equal(t, "eu-1/3", got.Value, "env holds the allow-listed variables")
	got, err = e.Preview(ctx, engine.PreviewSource{Source: `env.HOME`}, sample)
	require.NoError(t, err)
	assert.Nil(t, got.Value, "and nothing else")

	// A large value is cut to the limit, at a character boundary.
	got, err = e.Preview(ctx, engine.PreviewSource{Source: `repeat("é", 40000)`}, sample)
	require.NoError(t, err)
	assert.True(t, got.Truncated)
	text := got.Value.(string)
	assert.LessOrEqual(t, len(text), engine.PreviewValueLimit)
	assert.Greater(t, len(text), engine.PreviewValueLimit-4)
	assert.True(t, strings.HasPrefix(text, `"éé`))
	assert.True(t, strings.HasSuffix(text, "é"), "cut between characters")

	// The expression limits hold: a preview cannot exhaust the server.
	_, err = e.Preview(ctx, engine.PreviewSource{Source: `repeat("x", 5000000)`}, sample)
	var pe *engine.PreviewError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, expression.ErrTooMuchText.Error(), pe.Problem.Message)

	// A value JSON cannot hold is the user's problem, not a server fault.
	_, err = e.Preview(ctx, engine.PreviewSource{Source: `0.0 / 0.0`}, sample)
	require.ErrorAs(t, err, &pe)
	assert.Contains(t, pe.Problem.Message, "cannot be written as JSON")

	// A canceled request is not the user's mistake.
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = e.Preview(canceled, engine.PreviewSource{Source: `1`}, sample)
	require.Error(t, err)
	assert.False(t, errors.As(err, &pe))
}
