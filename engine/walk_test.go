package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
)

// journalLog is a journal that keeps, in order, what a walk asked of it.
type journalLog struct {
	events  []string
	pending []string
}

func (j *journalLog) record(s *store.Step) {
	j.pending = append(j.pending, s.NodeID+" "+s.Status)
}

func (j *journalLog) checkpoint(context.Context) error {
	j.events = append(j.events, "checkpoint ["+strings.Join(j.pending, ", ")+"]")
	j.pending = nil
	return nil
}

func (j *journalLog) started(s *store.Step) func() {
	j.events = append(j.events, "start "+s.NodeID)
	return func() {}
}

func (j *journalLog) answer(output []byte, now bool) {
	when := "after the next write"
	if now {
		when = "now"
	}
	j.events = append(j.events, "answer "+when)
}

func (j *journalLog) signal(context.Context, signalKey) (*store.Signal, error) { return nil, nil }

func (j *journalLog) expire(_ context.Context, key signalKey) (*store.Signal, error) {
	return &store.Signal{NodeID: key.node, Kind: store.SignalTimeout}, nil
}

func (j *journalLog) target(context.Context, string, int) (*Plan, int, error) {
	return nil, 0, fmt.Errorf("no flows to call here")
}

func (j *journalLog) spawn(_ context.Context, run store.NewRun) error {
	j.events = append(j.events, "spawn ["+strings.Join(j.pending, ", ")+"]")
	j.pending = nil
	return nil
}

func (j *journalLog) cancelRun(id string) { j.events = append(j.events, "cancel "+id) }

// walkOnce walks a flow document with no history through a journalLog.
func walkOnce(t *testing.T, h *harness, doc string) (outcome, *journalLog) {
	t.Helper()
	plan, err := Compile(h.registry, []byte(doc))
	require.NoError(t, err)
	j := &journalLog{}
	w := &walker{
		ctx: context.Background(), plan: plan, run: &store.Run{ID: "run", FlowID: "flow"},
		trigger: map[string]any{"body": map[string]any{}}, history: map[stepKey][]*store.Step{},
		journal: j, clock: systemClock{}, env: map[string]any{}, secrets: &nodes.Secrets{},
		timeout: DefaultMaxMemoryWait, stopping: func() bool { return false },
	}
	return w.walk(), j
}

// TestWalkWritesBeforeWhatDependsOnIt holds the walker to its rule of
// durability, without a store: an ended side effect is written before the
// next side effect starts and before an answer goes out; pure steps wait
// for whatever write comes next.
func TestWalkWritesBeforeWhatDependsOnIt(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	chain := func(nodes ...string) string {
		var ns, es []string
		prev := "hook"
		ns = append(ns, `{"id": "hook", "type": "trigger.manual"}`)
		for i, n := range nodes {
			id := fmt.Sprintf("n%d", i+1)
			ns = append(ns, fmt.Sprintf(`{"id": %q, %s}`, id, n))
			es = append(es, fmt.Sprintf(`{"from": %q, "to": %q}`, prev, id))
			prev = id
		}
		return `{"name": "w", "nodes": [` + strings.Join(ns, ",") + `], "edges": [` + strings.Join(es, ",") + `]}`
	}
	const (
		shape   = `"type": "transform", "params": {"fields": {"a": "1"}}`
		effect  = `"type": "test.effect"`
		respond = `"type": "respond", "params": {"body": "done"}`
	)
	for name, tc := range map[string]struct {
		doc  string
		want []string
	}{
		"one side effect, answered at the end": {chain(shape, effect, respond), []string{
			"start n2", "answer after the next write"}},
		"two side effects": {chain(shape, effect, effect, shape), []string{
			"start n2", "checkpoint [hook succeeded, n1 succeeded, n2 succeeded]", "start n3"}},
		"answered before the side effect": {chain(shape, respond, effect), []string{
			"answer now", "start n3"}},
		"answered between two side effects": {chain(effect, respond, effect), []string{
			"start n1", "answer after the next write", "checkpoint [hook succeeded, n1 succeeded, n2 succeeded]", "start n3"}},
		"pure steps only": {chain(shape, shape), nil},
	} {
		t.Run(name, func(t *testing.T) {
			o, j := walkOnce(t, h, tc.doc)
			require.Equal(t, completed, o.kind, "%v", o.err)
			assert.Equal(t, tc.want, j.events)
		})
	}
}
