package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

func TestCapJSON(t *testing.T) {
	t.Parallel()
	small := []byte(`{"a":1}`)
	assert.Equal(t, small, CapJSON(small, 100))
	assert.Nil(t, CapJSON(nil, 100))

	big := []byte(`"` + strings.Repeat("é", 100) + `"`)
	capped := CapJSON(big, 51)
	var marker Truncated
	require.NoError(t, json.Unmarshal(capped, &marker))
	assert.True(t, marker.Truncated)
	assert.Equal(t, len(big), marker.Bytes)
	assert.LessOrEqual(t, len(marker.Preview), 51)
	assert.True(t, strings.HasPrefix(string(big), marker.Preview), "the preview is a prefix, cut on a character boundary")
}

func TestStepLogIsCapped(t *testing.T) {
	t.Parallel()
	var l stepLog
	log := l.logger().With("node", "a").WithGroup("req")
	for i := range MaxLogLines + 5 {
		log.Info(fmt.Sprintf("line %d", i), "size", i, "body", strings.Repeat("b", MaxLogLineBytes+10))
	}
	var lines []logLine
	require.NoError(t, json.Unmarshal(l.encode(), &lines))
	require.Len(t, lines, MaxLogLines+1)
	assert.Equal(t, "line 0", lines[0].Message)
	assert.Equal(t, "a", lines[0].Attrs["req.node"])
	assert.Equal(t, float64(0), lines[0].Attrs["req.size"])
	assert.LessOrEqual(t, len(lines[0].Attrs["req.body"].(string)), MaxLogLineBytes+len("…"))
	assert.Equal(t, "5 more lines were dropped: a step keeps 100", lines[MaxLogLines].Message)

	var empty stepLog
	assert.Nil(t, empty.encode())
}

func TestExpressionsSeeOnlyAllowListedEnv(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	e := h.engineFor(t, storetest.Open(t, store.DialectSQLite), Options{Env: map[string]string{"REGION": "eu-west"}})
	run := waitRun(t, e, startRun(t, e, `{"name": "env", "nodes": [{"id": "hook", "type": "trigger.manual"},
		{"id": "a", "type": "transform", "params": {"fields": {"region": "env.REGION", "home": "env.HOME ?? 'hidden'"}}}],
		"edges": [{"from": "hook", "to": "a"}]}`, "").ID)
	assert.Contains(t, trace(t, e, run), `output={"home":"hidden","region":"eu-west"}`)
}

func TestStepRecordsCarryInputTimingAndLogs(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	e := h.engineFor(t, storetest.Open(t, store.DialectSQLite), Options{})
	run := waitRun(t, e, startRun(t, e, `{"name": "records", "nodes": [{"id": "hook", "type": "trigger.manual"},
		{"id": "a", "type": "transform", "params": {"fields": {"n": "trigger.body.n + 1"}}},
		{"id": "b", "type": "test.effect", "params": {"log": "sending", "sleep_ms": 20, "output": {"got": "{{ input.n }}"}}}],
		"edges": [{"from": "hook", "to": "a"}, {"from": "a", "to": "b"}]}`, `{"n": 1}`).ID)
	trigger, steps, err := e.RunSteps(context.Background(), run)
	require.NoError(t, err)
	require.Len(t, steps, 3)
	assert.Equal(t, "a", steps[2].InputFrom, "the input is stored as a reference to the step whose output it was")
	assert.JSONEq(t, string(trigger), string(steps[0].Output), "the trigger step's output is the run's trigger data")
	assert.Contains(t, string(trigger), `"body":{"n":1}`)
	b := steps[2]
	assert.Equal(t, "b", b.NodeID)
	assert.JSONEq(t, `{"n": 2}`, string(b.Input), "the input is the upstream output")
	assert.JSONEq(t, `{"got": 2}`, string(b.Output))
	assert.GreaterOrEqual(t, b.Duration, 20*time.Millisecond)
	assert.WithinDuration(t, time.Now(), b.StartedAt, time.Minute)
	assert.Contains(t, string(b.Logs), `"msg":"sending"`)
	assert.Equal(t, []int{1, 2, 3}, []int{steps[0].Seq, steps[1].Seq, steps[2].Seq}, "steps are numbered as they start")
}

// TestANonFiniteOutputSaysWhere: 1/0 in an expression is +Inf, which JSON
// cannot hold; the step's error names the field.
func TestANonFiniteOutputSaysWhere(t *testing.T) {
	t.Parallel()
	tests := []struct {
		output any
		want   string
	}{
		{map[string]any{"ok": 1.0, "ratio": math.Inf(1)}, "output.ratio is +Inf, which JSON cannot hold: a division by zero?"},
		{map[string]any{"rows": []any{map[string]any{"avg": math.NaN()}}}, "output.rows[0].avg is NaN, which JSON cannot hold: a division by zero?"},
		{math.Inf(-1), "output is -Inf, which JSON cannot hold: a division by zero?"},
	}
	for _, tt := range tests {
		_, err := encode(tt.output)
		require.Error(t, err)
		assert.Equal(t, tt.want, err.Error())
	}
}
