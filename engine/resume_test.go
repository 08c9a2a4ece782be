package engine

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// severable is a store a test can cut an engine off from, as if its process
// died: after sever, every write and lease renewal fails.
type severable struct {
	store.Store
	dead atomic.Bool
}

var errSevered = errors.New("severed from the database")

func (s *severable) ClaimRuns(ctx context.Context, owner string, limit int) ([]*store.Run, error) {
	if s.dead.Load() {
		return nil, errSevered
	}
	return s.Store.ClaimRuns(ctx, owner, limit)
}

func (s *severable) RenewWorker(ctx context.Context, id string, until time.Time) error {
	if s.dead.Load() {
		return errSevered
	}
	return s.Store.RenewWorker(ctx, id, until)
}

func (s *severable) ReclaimRuns(ctx context.Context) (int, error) {
	if s.dead.Load() {
		return 0, errSevered
	}
	return s.Store.ReclaimRuns(ctx)
}

func (s *severable) RetireWorker(ctx context.Context, id string) (int, error) {
	if s.dead.Load() {
		return 0, errSevered
	}
	return s.Store.RetireWorker(ctx, id)
}

func (s *severable) SaveSteps(ctx context.Context, w store.Write) error {
	if s.dead.Load() {
		return errSevered
	}
	return s.Store.SaveSteps(ctx, w)
}

func (s *severable) SaveStepsAsync(w store.Write) <-chan error {
	if s.dead.Load() {
		return severed()
	}
	return s.Store.SaveStepsAsync(w)
}

func (s *severable) FinishRun(w store.Write, status, message string) <-chan error {
	if s.dead.Load() {
		return severed()
	}
	return s.Store.FinishRun(w, status, message)
}

func (s *severable) ReleaseRun(ctx context.Context, w store.Write, at time.Time) error {
	if s.dead.Load() {
		return errSevered
	}
	return s.Store.ReleaseRun(ctx, w, at)
}

func severed() <-chan error {
	ch := make(chan error, 1)
	ch <- errSevered
	return ch
}

// The flow: a pure step, a step with side effects, then one that blocks on
// the first worker (and not on the second), then a last pure step.
const resumeFlow = `{"name": "resume", "nodes": [
	{"id": "hook", "type": "trigger.manual"},
	{"id": "shape", "type": "transform", "params": {"fields": {"n": "trigger.body.n"}}},
	{"id": "charge", "type": "test.effect", "params": {"id": "charge", "output": {"charged": "{{ steps.shape.n }}"}}},
	{"id": "wait", "type": "test.effect", "params": {"id": "wait", "block": true}},
	{"id": "done", "type": "transform", "params": {"fields": {"charged": "steps.charge.charged"}}}],
	"edges": [{"from": "hook", "to": "shape"}, {"from": "shape", "to": "charge"}, {"from": "charge", "to": "wait"}, {"from": "wait", "to": "done"}]}`

func TestARunWhoseWorkerDiesResumesElsewhere(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			db := storetest.Open(t, dialect)
			first := newHarness(t)
			cut := &severable{Store: db}
			dying := first.engineFor(t, cut, Options{LeaseTTL: 300 * time.Millisecond, RunningRecordAfter: time.Millisecond})
			// At the end the dead worker's step returns; it can write nothing.
			t.Cleanup(func() { close(first.block) })

			run := startRun(t, dying, resumeFlow, `{"n": 5}`)
			require.Eventually(t, func() bool { return first.calls.get("wait") == 1 }, 10*time.Second, 5*time.Millisecond,
				"the first worker reaches the blocking step")
			require.Eventually(t, func() bool { return hasStep(t, db, run.ID, "wait", store.StepRunning) }, 10*time.Second,
				5*time.Millisecond, "the step under way is recorded as running")
			cut.dead.Store(true)

			// A second worker, sharing the count of side effects.
			second := newHarness(t)
			second.calls = first.calls
			close(second.block)
			survivor := second.engineFor(t, db, Options{LeaseTTL: 300 * time.Millisecond})

			finished := waitRun(t, survivor, run.ID)
			assert.Equal(t, store.RunSucceeded, finished.Status, finished.Error)
			assert.Equal(t, 2, finished.Claims, "claimed again once the lease lapsed")
			assert.Equal(t, 1, first.calls.get("charge"), "a succeeded step never runs twice")
			assert.Equal(t, 2, first.calls.get("wait"), "the interrupted step runs again")
			assert.Equal(t, `status: succeeded
steps:
  hook             1 succeeded port=""
  shape            1 succeeded port="" output={"n":5}
  charge           1 succeeded port="" output={"charged":5}
  wait             1 failed interrupted error="interrupted: the worker running it stopped"
  wait             2 succeeded port="" output={"ok":true}
  done             1 succeeded port="" output={"charged":5}
`, trace(t, survivor, finished))
		})
	}
}

func hasStep(t *testing.T, db store.Store, runID, node, status string) bool {
	steps, err := db.ListSteps(context.Background(), runID)
	require.NoError(t, err)
	for _, s := range steps {
		if s.NodeID == node && s.Status == status {
			return true
		}
	}
	return false
}

// TestShutdownLeavesRunsForTheNextStart stops an engine while a step runs:
// the run goes back to the queue and the next engine finishes it. The
// interrupted attempt does not count against max_attempts (1 here).
func TestShutdownLeavesRunsForTheNextStart(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			db := storetest.Open(t, dialect)
			first := newHarness(t)
			stopping := New(Options{Store: db, Registry: first.registry, PollInterval: 50 * time.Millisecond})
			stopping.Start()
			run := startRun(t, stopping, resumeFlow, `{"n": 7}`)
			require.Eventually(t, func() bool { return first.calls.get("wait") == 1 }, 10*time.Second, 5*time.Millisecond)

			grace, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			stopping.Stop(grace)
			queued, err := db.GetRun(context.Background(), run.ID)
			require.NoError(t, err)
			assert.Equal(t, store.RunQueued, queued.Status, "an interrupted run waits in the queue")

			second := newHarness(t)
			second.calls = first.calls
			close(second.block)
			next := second.engineFor(t, db, Options{})
			next.Nudge()
			finished := waitRun(t, next, run.ID)
			assert.Equal(t, store.RunSucceeded, finished.Status, finished.Error)
			assert.Equal(t, 1, first.calls.get("charge"))
			assert.Contains(t, trace(t, next, finished), `wait             1 failed interrupted error="server is shutting down (context canceled)"`)
		})
	}
}

// TestStopWaitsForRunningSteps gives the steps under way their grace
// period: the step finishes and is recorded, no further step starts, and the
// run goes back to the queue, where the next engine takes it on from there.
func TestStopWaitsForRunningSteps(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			db := storetest.Open(t, dialect)
			e := New(Options{Store: db, Registry: h.registry, PollInterval: 50 * time.Millisecond})
			e.Start()
			run := startRun(t, e, resumeFlow, `{"n": 1}`)
			require.Eventually(t, func() bool { return h.calls.get("wait") == 1 }, 10*time.Second, 5*time.Millisecond)
			go func() {
				time.Sleep(100 * time.Millisecond)
				close(h.block) // the step finishes within the grace period
			}()
			grace, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			e.Stop(grace)

			queued, err := db.GetRun(context.Background(), run.ID)
			require.NoError(t, err)
			assert.Equal(t, store.RunQueued, queued.Status, "the rest of the run waits for the next start")
			steps, err := db.ListSteps(context.Background(), run.ID)
			require.NoError(t, err)
			last := steps[len(steps)-1]
			assert.Equal(t, "wait", last.NodeID, "no step started after the one under way")
			assert.Equal(t, store.StepSucceeded, last.Status, "the step under way finished and was recorded")

			next := h.engineFor(t, db, Options{})
			next.Nudge()
			finished := waitRun(t, next, run.ID)
			assert.Equal(t, store.RunSucceeded, finished.Status, finished.Error)
			assert.Equal(t, 1, h.calls.get("wait"), "the finished step is not run again")
			assert.Equal(t, 1, h.calls.get("charge"))
		})
	}
}

// unreadable is a store whose reads of flow versions fail a number of
// times, as a database does while it restarts or is out of connections.
type unreadable struct {
	store.Store
	failures atomic.Int32
}

func (s *unreadable) GetFlowVersion(ctx context.Context, flowID string, version int) (*store.FlowVersion, error) {
	if s.failures.Add(-1) >= 0 {
		return nil, errors.New("too many clients already")
	}
	return s.Store.GetFlowVersion(ctx, flowID, version)
}

// A run whose records cannot be read goes back to the queue and runs once
// the store answers: the store failed, not the run.
func TestARunWhoseRecordsCannotBeReadWaitsAndRuns(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			db := &unreadable{Store: storetest.Open(t, dialect)}
			// The first failure is Enqueue's, which then leaves the run to
			// the queue; the second is the worker's, when it claims it.
			db.failures.Store(2)
			e := h.engineFor(t, db, Options{})
			close(h.block)
			run := startRun(t, e, resumeFlow, `{"n": 5}`)
			finished := waitRun(t, e, run.ID)
			assert.Equal(t, store.RunSucceeded, finished.Status, finished.Error)
			assert.Equal(t, 2, finished.Claims, "claimed again once the store answered")
			assert.Equal(t, 1, h.calls.get("charge"))
		})
	}
}
