package engine

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// TestACallWhoseWorkerDiesResumesElsewhere kills the worker of a called run
// while its step runs, with its caller waiting in the queue: another worker
// takes the called run on, and its end wakes the caller, which finishes
// with its result. Nothing recorded as done runs twice.
func TestACallWhoseWorkerDiesResumesElsewhere(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			db := storetest.Open(t, dialect)
			first := newHarness(t)
			cut := &severable{Store: db}
			dying := first.engineFor(t, cut, Options{LeaseTTL: 300 * time.Millisecond, RunningRecordAfter: time.Millisecond})
			t.Cleanup(func() { close(first.block) })

			child, err := NewFlows(db, first.registry).Create(context.Background(), []byte(`{"name": "child", "nodes": [
				{"id": "called", "type": "trigger.call"},
				{"id": "charge", "type": "test.effect", "params": {"id": "charge", "output": {"charged": "{{ trigger.input.n }}"}}},
				{"id": "wait", "type": "test.effect", "params": {"id": "wait", "block": true}},
				{"id": "give", "type": "flow.return", "params": {"value": "steps.charge"}}],
				"edges": [{"from": "called", "to": "charge"}, {"from": "charge", "to": "wait"}, {"from": "wait", "to": "give"}]}`))
			require.NoError(t, err)
			parent := startRun(t, dying, `{"name": "parent", "nodes": [
				{"id": "hook", "type": "trigger.manual"},
				{"id": "call", "type": "flow.call", "params": {"flow": "`+child.ID+`", "input": {"n": "trigger.body.n"}}},
				{"id": "after", "type": "transform", "params": {"fields": {"charged": "input.charged"}}}],
				"edges": [{"from": "hook", "to": "call"}, {"from": "call", "to": "after"}]}`, `{"n": 5}`)
			require.Eventually(t, func() bool { return first.calls.get("wait") == 1 }, 10*time.Second, 5*time.Millisecond,
				"the called run reaches its blocking step")
			waitQueuedAt(t, db, parent.ID, "call")
			// The blocking step's attempt is on record as running before
			// the worker dies, as a step running longer than
			// RunningRecordAfter is; else there would be nothing to show
			// as interrupted.
			require.Eventually(t, func() bool {
				children, err := db.ListRuns(context.Background(), store.RunFilter{ParentRunID: parent.ID})
				require.NoError(t, err)
				return len(children) == 1 && hasStep(t, db, children[0].ID, "wait", store.StepRunning)
			}, 10*time.Second, 5*time.Millisecond, "the called run records its running step")
			cut.dead.Store(true)

			second := newHarness(t)
			second.calls = first.calls
			close(second.block)
			survivor := second.engineFor(t, db, Options{LeaseTTL: 300 * time.Millisecond})
			finished := waitRun(t, survivor, parent.ID)
			assert.Equal(t, store.RunSucceeded, finished.Status, finished.Error)
			assert.Equal(t, 1, first.calls.get("charge"), "a succeeded step never runs twice")
			assert.Equal(t, 2, first.calls.get("wait"), "the interrupted step runs again")
			assert.Equal(t, `status: succeeded
steps:
  hook             1 succeeded port=""
  call             1 succeeded port="" output={"charged":5} child
  after            1 succeeded port="" output={"charged":5}
called by call, attempt 1 (call):
  | status: succeeded
  | steps:
  |   called           1 succeeded port=""
  |   charge           1 succeeded port="" output={"charged":5}
  |   wait             1 failed interrupted error="interrupted: the worker running it stopped"
  |   wait             2 succeeded port="" output={"ok":true}
  |   give             1 succeeded port="" output={"charged":5}
`, trace(t, survivor, finished))
		})
	}
}

// TestACallbackBeforeTheWaitIsKept requests a resume URL before the run
// reaches its wait: the wait ends as soon as it starts.
func TestACallbackBeforeTheWaitIsKept(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	e := h.engineFor(t, storetest.Open(t, store.DialectSQLite), Options{})
	run := startRun(t, e, `{"name": "early", "nodes": [
		{"id": "hook", "type": "trigger.manual"},
		{"id": "slow", "type": "test.effect", "params": {"block": true}},
		{"id": "approve", "type": "wait.callback"}],
		"edges": [{"from": "hook", "to": "slow"}, {"from": "slow", "to": "approve"}]}`, `{}`)
	token := e.links.Token(ResumeTarget{RunID: run.ID, NodeID: "approve"})
	_, err := e.Resume(context.Background(), token, map[string]any{"early": true})
	require.NoError(t, err)
	close(h.block)
	finished := waitRun(t, e, run.ID)
	assert.Equal(t, `status: succeeded
steps:
  hook             1 succeeded port=""
  slow             1 succeeded port="" output={"ok":true}
  approve          1 succeeded port="resumed" output={"early":true}
`, trace(t, e, finished))
	_, err = e.Resume(context.Background(), token, nil)
	assert.ErrorIs(t, err, ErrResumeGone)
}

func TestResumeTokens(t *testing.T) {
	t.Parallel()
	links := NewResumeLinks([]byte("secret"))
	links.SetBase("https://hooks.example.com/")
	target := ResumeTarget{RunID: "01a24181-cff6-7939-a8f2-dfd25c0d4e86", NodeID: "approve", Iteration: "2.0"}
	url := links.URL(target)
	assert.Regexp(t, `^https://hooks\.example\.com/resume/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{27}$`, url)
	token := url[len("https://hooks.example.com/resume/"):]
	got, ok := links.Parse(token)
	require.True(t, ok)
	assert.Equal(t, target, got)

	other := NewResumeLinks([]byte("another secret"))
	_, ok = other.Parse(token)
	assert.False(t, ok, "a token from a server with another key")
	for _, bad := range []string{"", ".", "x.y", token + "x", token[:len(token)-1], "AAAA." + token[len(token)-27:]} {
		_, ok := links.Parse(bad)
		assert.False(t, ok, bad)
	}
}

func FuzzResumeToken(f *testing.F) {
	links := NewResumeLinks([]byte("secret"))
	f.Add(links.Token(ResumeTarget{RunID: "r", NodeID: "n"}))
	f.Add("a.b")
	f.Fuzz(func(t *testing.T, token string) {
		target, ok := links.Parse(token)
		if ok && links.Token(target) != token {
			t.Fatalf("token %q parsed but does not sign its own target %+v", token, target)
		}
	})
}
