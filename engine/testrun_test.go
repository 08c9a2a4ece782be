package engine

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// TestCompileChecksPinsAndNotes holds the editor's data that the server
// relies on to its shape: a node's pinned output, and the flow's notes.
func TestCompileChecksPinsAndNotes(t *testing.T) {
	t.Parallel()
	const hook = `{"id": "hook", "type": "trigger.webhook"}`
	tests := []struct {
		name string
		doc  string
		want []Problem // Message holds a fragment the real message must contain
	}{
		{
			name: "what cannot be pinned",
			doc: `{"name": "f", "nodes": [
				{"id": "hook", "type": "trigger.webhook", "ui": {"pin": {"output": {}}}},
				{"id": "each", "type": "foreach", "params": {"items": "[1]"}, "ui": {"pin": {"output": [], "port": "done"}}},
				{"id": "inside", "type": "transform", "ui": {"pin": {"output": 1}}}],
				"edges": [{"from": "hook", "to": "each"}, {"from": "each", "port": "each", "to": "inside"}]}`,
			want: []Problem{
				{Node: "hook", Field: "ui.pin", Message: "a trigger cannot be pinned"},
				{Node: "each", Field: "ui.pin", Message: "a foreach cannot be pinned"},
				{Node: "inside", Field: "ui.pin", Message: `a node inside the loop of "each" cannot be pinned`},
			},
		},
		{
			name: "ports of pins",
			doc: `{"name": "f", "nodes": [` + hook + `,
				{"id": "nameless", "type": "if", "params": {"condition": "true"}, "ui": {"pin": {"output": 1}}},
				{"id": "wrong", "type": "if", "params": {"condition": "true"}, "ui": {"pin": {"output": 1, "port": "maybe"}}},
				{"id": "routed", "type": "if", "params": {"condition": "true"}, "on_error": "route", "ui": {"pin": {"output": 1, "port": "error"}}},
				{"id": "plain", "type": "transform", "ui": {"pin": {"output": 1, "port": "true"}}},
				{"id": "fine", "type": "if", "params": {"condition": "true"}, "ui": {"pin": {"output": null, "port": "false"}}},
				{"id": "case", "type": "switch", "params": {"cases": [{"port": "big", "condition": "true"}]}, "ui": {"pin": {"output": 1, "port": "big"}}}],
				"edges": [{"from": "hook", "to": "nameless"}, {"from": "hook", "to": "wrong"}, {"from": "hook", "to": "routed"},
				{"from": "hook", "to": "plain"}, {"from": "hook", "to": "fine"}, {"from": "hook", "to": "case"}]}`,
			want: []Problem{
				{Node: "nameless", Field: "ui.pin", Message: "names the port it activates, one of: true, false"},
				{Node: "wrong", Field: "ui.pin", Message: `has no port "maybe"; its ports are: true, false`},
				{Node: "routed", Field: "ui.pin", Message: `has no port "error"`},
				{Node: "plain", Field: "ui.pin", Message: "single unnamed output: leave port out"},
			},
		},
		{
			name: "the shape of a pin",
			doc: `{"name": "f", "nodes": [` + hook + `,
				{"id": "a", "type": "transform", "ui": {"pin": {"port": "x"}}},
				{"id": "b", "type": "transform", "ui": {"pin": {"output": 1, "colour": "red"}}},
				{"id": "c", "type": "transform", "ui": {"pin": "yes", "x": 1}}],
				"edges": [{"from": "hook", "to": "a"}, {"from": "hook", "to": "b"}, {"from": "hook", "to": "c"}]}`,
			want: []Problem{
				{Node: "a", Field: "ui.pin.output", Message: "is required"},
				{Node: "b", Field: "ui.pin.colour", Message: "is not a known field"},
				{Node: "c", Field: "ui.pin", Message: "must be an object"},
			},
		},
		{
			name: "notes",
			doc: `{"name": "f", "nodes": [` + hook + `], "ui": {"zoom": 2, "notes": [
				{"id": "note_1", "text": "fine", "position": {"x": 0, "y": -10.5}, "width": 240, "height": 160, "color": "yellow", "extra": true},
				{"id": "note_2", "text": 7, "position": {"x": 0, "y": 0}},
				{"id": "note_3", "text": "", "position": {"x": 0, "y": 0}, "color": "purple"},
				{"id": "note_4", "text": "", "position": {"x": "left", "y": 0}},
				{"text": "", "position": [0, 0]}]}}`,
			want: []Problem{
				{Field: "ui.notes[1].text", Message: "must be a string"},
				{Field: "ui.notes[2].color", Message: "must be one of: yellow, blue, green, pink, gray"},
				{Field: "ui.notes[3].position.x", Message: "must be a number"},
				{Field: "ui.notes[4].id", Message: "is required"},
				{Field: "ui.notes[4].position", Message: "must be an object"},
			},
		},
		{
			name: "notes that are not a list",
			doc:  `{"name": "f", "nodes": [` + hook + `], "ui": {"notes": {"id": "note_1"}}}`,
			want: []Problem{{Field: "ui.notes", Message: "must be an array"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Compile(testRegistry(t), []byte(tt.doc))
			var invalid *InvalidFlowError
			require.ErrorAs(t, err, &invalid)
			got := invalid.Problems
			require.Len(t, got, len(tt.want), "problems: %+v", got)
			for i, want := range tt.want {
				assert.Equal(t, want.Node, got[i].Node, "problem %d node: %+v", i, got[i])
				assert.Equal(t, want.Field, got[i].Field, "problem %d field: %+v", i, got[i])
				assert.Contains(t, got[i].Message, want.Message, "problem %d message", i)
			}
		})
	}
}

// TestFlowUIIsKept: the editor's data, the flow's and each node's, comes
// back as it was saved.
func TestFlowUIIsKept(t *testing.T) {
	t.Parallel()
	doc := `{"name": "f", "nodes": [{"id": "hook", "type": "trigger.manual", "ui": {"position": {"x": 1, "y": 2}}},
		{"id": "a", "type": "transform", "ui": {"pin": {"output": {"n": 1}}}}],
		"edges": [{"from": "hook", "to": "a"}],
		"ui": {"notes": [{"id": "note_1", "text": "why", "position": {"x": 0, "y": 0}, "color": "blue"}], "viewport": {"zoom": 1.5}}}`
	plan, err := Compile(testRegistry(t), []byte(doc))
	require.NoError(t, err)
	stored, err := plan.Stored()
	require.NoError(t, err)
	assert.JSONEq(t, doc, string(stored.Definition))
}

// pinFlow branches on an if whose condition holds, so only a pin can send
// it down its false port; each branch has a side effect.
const pinFlow = `{"name": "pins", "nodes": [
	{"id": "hook", "type": "trigger.manual"},
	{"id": "fetch", "type": "test.effect", "params": {"id": "fetch", "output": {"n": 1}}},
	{"id": "check", "type": "if", "params": {"condition": "true"}},
	{"id": "yes", "type": "test.effect", "params": {"id": "yes", "output": "{{ steps.fetch.n }}"}},
	{"id": "no", "type": "test.effect", "params": {"id": "no", "output": "{{ steps.fetch.n }}"}}],
	"edges": [{"from": "hook", "to": "fetch"}, {"from": "fetch", "to": "check"},
	{"from": "check", "port": "true", "to": "yes"}, {"from": "check", "port": "false", "to": "no"}]}`

// startTest saves a flow and enqueues a test run of it with the options,
// as POST /flows/{id}/test does.
func startTest(t testing.TB, e *Engine, doc string, opts TestOptions) *store.Run {
	t.Helper()
	ctx := context.Background()
	f, err := NewFlows(e.store, e.registry).Create(ctx, []byte(doc))
	require.NoError(t, err)
	return enqueueTest(t, e, f.ID, f.Version, opts)
}

func enqueueTest(t testing.TB, e *Engine, flowID string, version int, opts TestOptions) *store.Run {
	t.Helper()
	ctx := context.Background()
	plan, err := e.Plan(ctx, flowID, version)
	require.NoError(t, err)
	options, err := plan.TestOptions(opts)
	require.NoError(t, err)
	trigger, err := json.Marshal(TestTrigger(map[string]any{}, nil, time.Now()))
	require.NoError(t, err)
	runs, err := e.Enqueue(ctx, store.NewRun{FlowID: flowID, FlowVersion: version, TriggerType: store.TriggerTest,
		Trigger: trigger, TestOptions: options})
	require.NoError(t, err)
	return runs[0]
}

func pins(t testing.TB, byNode map[string]string) map[string]Pin {
	t.Helper()
	out := map[string]Pin{}
	for id, pin := range byNode {
		var p Pin
		require.NoError(t, json.Unmarshal([]byte(pin), &p))
		out[id] = p
	}
	return out
}

func TestTestRunsUsePinsAndStopAtUntil(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		doc   string
		opts  func(t testing.TB) TestOptions
		calls map[string]int
		want  string
	}{
		{
			name: "a pinned if takes its pinned port; a pinned action does not run",
			doc:  pinFlow,
			opts: func(t testing.TB) TestOptions {
				return TestOptions{Pins: pins(t, map[string]string{
					"fetch": `{"output": {"n": 7}}`,
					"check": `{"output": {"why": "pinned"}, "port": "false"}`,
				})}
			},
			calls: map[string]int{"fetch": 0, "yes": 0, "no": 1},
			want: `status: succeeded
steps:
  hook             1 succeeded port=""
  fetch            1 succeeded port="" output={"n":7} log="output pinned in the editor; the node did not run"
  check            1 succeeded port="false" output={"why":"pinned"} log="output pinned in the editor; the node did not run"
  yes              0 skipped
  no               1 succeeded port="" output=7
`,
		},
		{
			name: "until runs only the node and what is upstream of it",
			doc: `{"name": "until", "nodes": [
				{"id": "hook", "type": "trigger.manual"},
				{"id": "a", "type": "test.effect", "params": {"id": "a"}},
				{"id": "b", "type": "test.effect", "params": {"id": "b"}},
				{"id": "c", "type": "test.effect", "params": {"id": "c"}},
				{"id": "side", "type": "test.effect", "params": {"id": "side"}}],
				"edges": [{"from": "hook", "to": "a"}, {"from": "a", "to": "b"}, {"from": "b", "to": "c"}, {"from": "hook", "to": "side"}]}`,
			opts:  func(testing.TB) TestOptions { return TestOptions{Until: "b"} },
			calls: map[string]int{"a": 1, "b": 1, "c": 0, "side": 0},
			want: `status: succeeded
steps:
  hook             1 succeeded port=""
  a                1 succeeded port="" output={"ok":true}
  side             0 skipped
  b                1 succeeded port="" output={"ok":true}
  c                0 skipped
`,
		},
		{
			name: "until inside a loop runs the loop",
			doc: `{"name": "loop", "nodes": [
				{"id": "hook", "type": "trigger.manual"},
				{"id": "each", "type": "foreach", "params": {"items": "[1, 2]"}},
				{"id": "double", "type": "transform", "params": {"fields": {"n": "item * 2"}}},
				{"id": "other", "type": "test.effect", "params": {"id": "other"}},
				{"id": "after", "type": "test.effect", "params": {"id": "after"}}],
				"edges": [{"from": "hook", "to": "each"}, {"from": "each", "port": "each", "to": "double"},
				{"from": "each", "port": "each", "to": "other"}, {"from": "each", "port": "done", "to": "after"}]}`,
			opts:  func(testing.TB) TestOptions { return TestOptions{Until: "double"} },
			calls: map[string]int{"other": 0, "after": 0},
			want: `status: succeeded
steps:
  hook             1 succeeded port=""
  each             1 succeeded port="done" output=[{"n":2},{"n":4}]
  double[0]        1 succeeded port="" output={"n":2}
  double[1]        1 succeeded port="" output={"n":4}
  other[0]         0 skipped
  other[1]         0 skipped
  after            0 skipped
`,
		},
		{
			name: "a pin upstream of until stands in for its node",
			doc:  pinFlow,
			opts: func(t testing.TB) TestOptions {
				return TestOptions{Until: "check", Pins: pins(t, map[string]string{"fetch": `{"output": {"n": 2}}`})}
			},
			calls: map[string]int{"fetch": 0, "yes": 0, "no": 0},
			want: `status: succeeded
steps:
  hook             1 succeeded port=""
  fetch            1 succeeded port="" output={"n":2} log="output pinned in the editor; the node did not run"
  check            1 succeeded port="true" output={"n":2}
  yes              0 skipped
  no               0 skipped
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			e := h.engineFor(t, storetest.Open(t, store.DialectSQLite), Options{})
			run := waitRun(t, e, startTest(t, e, tt.doc, tt.opts(t)).ID)
			assert.Equal(t, tt.want, trace(t, e, run))
			for id, n := range tt.calls {
				assert.Equal(t, n, h.calls.get(id), "runs of %s", id)
			}
		})
	}
}

// TestOnlyTestRunsUsePins: the pins saved in a flow are for its tests; a
// run of any other kind, a replay of a test among them, runs every node.
func TestOnlyTestRunsUsePins(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	e := h.engineFor(t, storetest.Open(t, store.DialectSQLite), Options{})
	doc := `{"name": "saved", "nodes": [
		{"id": "hook", "type": "trigger.manual"},
		{"id": "fetch", "type": "test.effect", "params": {"id": "fetch", "output": {"n": 1}}, "ui": {"pin": {"output": {"n": 5}}}}],
		"edges": [{"from": "hook", "to": "fetch"}]}`
	tested := waitRun(t, e, startTest(t, e, doc, TestOptions{}).ID)
	assert.Contains(t, trace(t, e, tested), `fetch            1 succeeded port="" output={"n":5} log="output pinned`,
		"a test uses the saved pin")
	assert.Zero(t, h.calls.get("fetch"))

	replay, err := e.Replay(context.Background(), tested.ID, 0)
	require.NoError(t, err)
	replayed := waitRun(t, e, replay.ID)
	assert.Contains(t, trace(t, e, replayed), `fetch            1 succeeded port="" output={"n":1}`+"\n", "a replay runs the node")
	assert.Equal(t, 1, h.calls.get("fetch"))

	manual := waitRun(t, e, startRun(t, e, doc, `{}`).ID)
	assert.Contains(t, trace(t, e, manual), `fetch            1 succeeded port="" output={"n":1}`+"\n", "a manual run runs the node")
	assert.Equal(t, 2, h.calls.get("fetch"))
}

func TestTestOptionsAreChecked(t *testing.T) {
	t.Parallel()
	doc := `{"name": "f", "nodes": [{"id": "hook", "type": "trigger.manual"},
		{"id": "each", "type": "foreach", "params": {"items": "[1]"}},
		{"id": "inside", "type": "transform"},
		{"id": "check", "type": "if", "params": {"condition": "true"}, "ui": {"pin": {"output": "saved", "port": "true"}}},
		{"id": "shape", "type": "transform", "ui": {"pin": {"output": "saved"}}}],
		"edges": [{"from": "hook", "to": "each"}, {"from": "each", "port": "each", "to": "inside"},
		{"from": "hook", "to": "check"}, {"from": "check", "port": "true", "to": "shape"}]}`
	plan, err := Compile(testRegistry(t), []byte(doc))
	require.NoError(t, err, "%+v", err)

	_, err = plan.TestOptions(TestOptions{Until: "ghost", Pins: pins(t, map[string]string{
		"phantom": `{"output": 1}`,
		"hook":    `{"output": 1}`,
		"each":    `{"output": 1, "port": "done"}`,
		"inside":  `{"output": 1}`,
		"check":   `{"output": 1, "port": "maybe"}`,
		"shape":   `{"port": ""}`,
	})})
	var invalid *InvalidTestError
	require.ErrorAs(t, err, &invalid)
	assert.Equal(t, "the test's options are invalid: 7 problems", invalid.Error())
	want := []Problem{
		{Field: "until", Message: `"ghost" is not a node of this flow`},
		{Node: "check", Field: "pins.check", Message: `"check" has no port "maybe"; its ports are: true, false`},
		{Node: "each", Field: "pins.each", Message: "a foreach cannot be pinned: it runs the nodes of its loop"},
		{Node: "hook", Field: "pins.hook", Message: "a trigger cannot be pinned: a test gives it its payload"},
		{Node: "inside", Field: "pins.inside", Message: `a node inside the loop of "each" cannot be pinned: it runs once per element`},
		{Field: "pins.phantom", Message: `"phantom" is not a node of this flow`},
		{Node: "shape", Field: "pins.shape", Message: "a pin needs an output"},
	}
	assert.Equal(t, want, invalid.Problems)

	options, err := plan.TestOptions(TestOptions{})
	require.NoError(t, err)
	assert.JSONEq(t, `{"pins": {"check": {"output": "saved", "port": "true"}, "shape": {"output": "saved"}}}`, string(options),
		"the saved pins")
	options, err = plan.TestOptions(TestOptions{Until: "shape", Pins: pins(t, map[string]string{"check": `{"output": "asked", "port": "false"}`})})
	require.NoError(t, err)
	assert.JSONEq(t, `{"until": "shape", "pins": {"check": {"output": "asked", "port": "false"}, "shape": {"output": "saved"}}}`,
		string(options), "the request's pins win over the saved ones")

	plain, err := Compile(newHarness(t).registry, []byte(pinFlow))
	require.NoError(t, err)
	options, err = plain.TestOptions(TestOptions{})
	require.NoError(t, err)
	assert.Nil(t, options, "no options: nothing kept with the run")
}

// TestATestRunTakenUpAgainKeepsItsOptions: a test run whose worker dies is
// claimed by another, which still uses its pins and stops at its until.
func TestATestRunTakenUpAgainKeepsItsOptions(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			db := storetest.Open(t, dialect)
			first := newHarness(t)
			cut := &severable{Store: db}
			dying := first.engineFor(t, cut, Options{LeaseTTL: 300 * time.Millisecond, RunningRecordAfter: time.Millisecond})
			t.Cleanup(func() { close(first.block) })

			doc := `{"name": "reclaim", "nodes": [
				{"id": "hook", "type": "trigger.manual"},
				{"id": "wait", "type": "test.effect", "params": {"id": "wait", "block": true}},
				{"id": "fetch", "type": "test.effect", "params": {"id": "fetch"}, "ui": {"pin": {"output": {"n": 3}}}},
				{"id": "last", "type": "transform", "params": {"fields": {"n": "steps.fetch.n"}}},
				{"id": "extra", "type": "test.effect", "params": {"id": "extra"}}],
				"edges": [{"from": "hook", "to": "wait"}, {"from": "wait", "to": "fetch"}, {"from": "fetch", "to": "last"},
				{"from": "wait", "to": "extra"}]}`
			run := startTest(t, dying, doc, TestOptions{Until: "last"})
			require.Eventually(t, func() bool { return hasStep(t, db, run.ID, "wait", store.StepRunning) }, 10*time.Second,
				5*time.Millisecond, "the first worker reaches the blocking step")
			cut.dead.Store(true)

			second := newHarness(t)
			second.calls = first.calls
			close(second.block)
			survivor := second.engineFor(t, db, Options{LeaseTTL: 300 * time.Millisecond})
			finished := waitRun(t, survivor, run.ID)
			assert.Equal(t, 2, finished.Claims, "claimed again once the lease lapsed")
			assert.Equal(t, `status: succeeded
steps:
  hook             1 succeeded port=""
  wait             1 failed interrupted error="interrupted: the worker running it stopped"
  wait             2 succeeded port="" output={"ok":true}
  fetch            1 succeeded port="" output={"n":3} log="output pinned in the editor; the node did not run"
  extra            0 skipped
  last             1 succeeded port="" output={"n":3}
`, trace(t, survivor, finished))
			assert.Zero(t, first.calls.get("fetch"), "the pinned node never ran")
			assert.Zero(t, first.calls.get("extra"), "nor did the node past until")
		})
	}
}
