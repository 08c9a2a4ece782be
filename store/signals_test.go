package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// claimOne claims the one due run and fails the test if there is none.
func claimOne(t *testing.T, db *store.DB, owner string) *store.Run {
	t.Helper()
	runs, err := db.ClaimRuns(context.Background(), owner, 10)
	require.NoError(t, err)
	require.Len(t, runs, 1)
	return runs[0]
}

func TestSignalsEndAWaitOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		flowID := newFlow(t, db)
		run := enqueue(t, db, flowID, 1)[0]
		claimOne(t, db, "w1")
		// The run waits in the queue for a day.
		require.NoError(t, db.ReleaseRun(ctx, store.Write{Owner: "w1", RunID: run.ID, N: store.WriteNumber(1, 1)}, time.Now().Add(24*time.Hour)))
		none, err := db.ClaimRuns(ctx, "w1", 10)
		require.NoError(t, err)
		assert.Empty(t, none, "not due yet")
		_, err = db.GetSignal(ctx, run.ID, "approve", "", 0)
		assert.ErrorIs(t, err, store.ErrNotFound)

		held, added, err := db.AddSignal(ctx, store.Signal{RunID: run.ID, NodeID: "approve", Kind: store.SignalCallback, Payload: []byte(`{"ok":true}`)})
		require.NoError(t, err)
		assert.True(t, added)
		assert.JSONEq(t, `{"ok":true}`, string(held.Payload))

		held, added, err = db.AddSignal(ctx, store.Signal{RunID: run.ID, NodeID: "approve", Kind: store.SignalTimeout})
		require.NoError(t, err)
		assert.False(t, added, "a step takes one signal")
		assert.Equal(t, store.SignalCallback, held.Kind, "the first one holds")

		woken := claimOne(t, db, "w1")
		assert.Equal(t, run.ID, woken.ID, "the signal made the waiting run due")
		got, err := db.GetSignal(ctx, run.ID, "approve", "", 0)
		require.NoError(t, err)
		assert.Equal(t, store.SignalCallback, got.Kind)

		require.NoError(t, <-db.FinishRun(store.Write{Owner: "w1", RunID: run.ID, N: store.WriteNumber(2, 1)}, store.RunSucceeded, ""))
		_, _, err = db.AddSignal(ctx, store.Signal{RunID: run.ID, NodeID: "other", Kind: store.SignalCallback})
		assert.ErrorIs(t, err, store.ErrRunFinished)
		_, _, err = db.AddSignal(ctx, store.Signal{RunID: "0190a000-0000-7000-8000-000000000000", NodeID: "x", Kind: store.SignalCallback})
		assert.ErrorIs(t, err, store.ErrNotFound)
	})
}

func TestASignalWhileRunningMakesTheReleaseDue(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		run := enqueue(t, db, newFlow(t, db), 1)[0]
		claimOne(t, db, "w1")
		// The signal comes while the run still runs, before it goes to wait.
		_, added, err := db.AddSignal(ctx, store.Signal{RunID: run.ID, NodeID: "approve", Kind: store.SignalCallback})
		require.NoError(t, err)
		require.True(t, added)
		require.NoError(t, db.ReleaseRun(ctx, store.Write{Owner: "w1", RunID: run.ID, N: store.WriteNumber(1, 1)}, time.Now().Add(24*time.Hour)))
		assert.Equal(t, run.ID, claimOne(t, db, "w1").ID, "due at once: the signal may be what it waits for")
		// The claim took the wake in: the next wait is a wait again.
		require.NoError(t, db.ReleaseRun(ctx, store.Write{Owner: "w1", RunID: run.ID, N: store.WriteNumber(2, 1)}, time.Now().Add(24*time.Hour)))
		none, err := db.ClaimRuns(ctx, "w1", 10)
		require.NoError(t, err)
		assert.Empty(t, none)
	})
}

func TestAWriteStartsRunsAndSignalsOnlyIfItLands(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		flowID := newFlow(t, db)
		parent := enqueue(t, db, flowID, 1)[0]
		claimOne(t, db, "w1")
		childID, err := store.NewRunID()
		require.NoError(t, err)
		spawn := store.NewRun{ID: childID, FlowID: flowID, FlowVersion: 1, TriggerType: store.TriggerCall, Trigger: []byte(`{"input":{}}`),
			Parent: store.Parent{ParentRunID: parent.ID, ParentNode: "call", ParentAttempt: 1, CallDepth: 1}}

		// A write by a worker that does not hold the run starts nothing.
		lost := db.SaveSteps(ctx, store.Write{Owner: "w2", RunID: parent.ID, N: store.WriteNumber(1, 1), Spawn: []store.NewRun{spawn}})
		assert.ErrorIs(t, lost, store.ErrLeaseLost)
		_, err = db.GetRun(ctx, childID)
		assert.ErrorIs(t, err, store.ErrNotFound)

		step := &store.Step{RunID: parent.ID, NodeID: "call", Attempt: 1, Seq: 1, Status: store.StepRunning, StartedAt: time.Now(), ChildRunID: childID}
		require.NoError(t, db.ReleaseRun(ctx, store.Write{Owner: "w1", RunID: parent.ID, N: store.WriteNumber(1, 1),
			Steps: []*store.Step{step}, Spawn: []store.NewRun{spawn}}, time.Now().Add(time.Hour)))
		child, err := db.GetRun(ctx, childID)
		require.NoError(t, err)
		assert.Equal(t, store.RunQueued, child.Status)
		assert.Equal(t, store.Parent{ParentRunID: parent.ID, ParentNode: "call", ParentAttempt: 1, CallDepth: 1}, child.Parent)
		children, err := db.ListRuns(ctx, store.RunFilter{ParentRunID: parent.ID, Unfinished: true})
		require.NoError(t, err)
		require.Len(t, children, 1)
		assert.Equal(t, childID, children[0].ID)
		steps, err := db.ListSteps(ctx, parent.ID)
		require.NoError(t, err)
		assert.Equal(t, childID, steps[0].ChildRunID)

		// The child's finish signals the waiting parent, which wakes.
		assert.Equal(t, childID, claimOne(t, db, "w1").ID)
		require.NoError(t, <-db.FinishRun(store.Write{Owner: "w1", RunID: childID, N: store.WriteNumber(1, 1),
			Signals: []store.Signal{{RunID: parent.ID, NodeID: "call", Attempt: 1, Kind: store.SignalChild, Payload: []byte(`{"status":"succeeded"}`)}}},
			store.RunSucceeded, ""))
		assert.Equal(t, parent.ID, claimOne(t, db, "w1").ID)
		sig, err := db.GetSignal(ctx, parent.ID, "call", "", 1)
		require.NoError(t, err)
		assert.Equal(t, store.SignalChild, sig.Kind)
	})
}

func TestACancelRequestedWhileRunningMakesTheReleaseDue(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		run := enqueue(t, db, newFlow(t, db), 1)[0]
		claimOne(t, db, "w1")
		_, err := db.RequestCancel(ctx, run.ID)
		require.NoError(t, err)
		// Its worker had not heard of it: the run goes back to wait a day.
		require.NoError(t, db.ReleaseRun(ctx, store.Write{Owner: "w1", RunID: run.ID, N: store.WriteNumber(1, 1)}, time.Now().Add(24*time.Hour)))
		again := claimOne(t, db, "w2")
		assert.Equal(t, run.ID, again.ID, "due at once, to be canceled")
		assert.True(t, again.CancelRequested)
	})
}
