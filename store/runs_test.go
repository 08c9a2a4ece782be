package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

func newFlow(t *testing.T, db *store.DB) string {
	t.Helper()
	f, err := db.CreateFlow(context.Background(), store.FlowDocument{Name: "f", Definition: []byte(`{}`)})
	require.NoError(t, err)
	return f.ID
}

func enqueue(t *testing.T, db *store.DB, flowID string, n int) []*store.Run {
	t.Helper()
	runs := make([]store.NewRun, n)
	for i := range runs {
		runs[i] = store.NewRun{FlowID: flowID, FlowVersion: 1, TriggerType: store.TriggerTest, Trigger: []byte(fmt.Sprintf(`{"n":%d}`, i))}
	}
	out, err := db.EnqueueRuns(context.Background(), runs)
	require.NoError(t, err)
	return out
}

func TestRunLifecycle(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		flowID := newFlow(t, db)
		queued := enqueue(t, db, flowID, 1)[0]
		assert.Equal(t, store.RunQueued, queued.Status)

		claimed, err := db.ClaimRuns(ctx, "w1", 10)
		require.NoError(t, err)
		require.Len(t, claimed, 1)
		run := claimed[0]
		assert.Equal(t, queued.ID, run.ID)
		assert.Equal(t, store.RunRunning, run.Status)
		assert.Equal(t, 1, run.Claims)
		assert.NotNil(t, run.StartedAt)
		assert.JSONEq(t, `{"n":0}`, string(run.Trigger))

		again, err := db.ClaimRuns(ctx, "w2", 10)
		require.NoError(t, err)
		assert.Empty(t, again, "a held run is not claimed twice")

		port := ""
		started := time.Now().UTC().Truncate(time.Microsecond)
		running := &store.Step{RunID: run.ID, NodeID: "a", Attempt: 1, Seq: 1, Status: store.StepRunning, StartedAt: started}
		require.NoError(t, db.SaveSteps(ctx, store.Write{Owner: "w1", RunID: run.ID, N: store.WriteNumber(1, 1), Steps: []*store.Step{running}}))
		assert.ErrorIs(t, db.SaveSteps(ctx, store.Write{Owner: "w2", RunID: run.ID, N: store.WriteNumber(1, 1), Steps: []*store.Step{running}}), store.ErrLeaseLost, "only the holder writes steps")
		done := *running
		done.Status, done.Port, done.Output, done.Duration = store.StepSucceeded, &port, []byte(`{"x":1}`), 1500*time.Microsecond
		skipped := &store.Step{RunID: run.ID, NodeID: "b", Seq: 2, Status: store.StepSkipped, StartedAt: started}
		require.NoError(t, <-db.FinishRun(store.Write{Owner: "w1", RunID: run.ID, N: store.WriteNumber(1, 9), Steps: []*store.Step{&done, skipped}}, store.RunSucceeded, ""))

		got, err := db.GetRun(ctx, run.ID)
		require.NoError(t, err)
		assert.Equal(t, store.RunSucceeded, got.Status)
		assert.NotNil(t, got.FinishedAt)
		assert.True(t, got.Finished())

		steps, err := db.ListSteps(ctx, run.ID)
		require.NoError(t, err)
		require.Len(t, steps, 2, "the running row was replaced by its end")
		assert.Equal(t, store.StepSucceeded, steps[0].Status)
		assert.Equal(t, "", *steps[0].Port)
		assert.JSONEq(t, `{"x":1}`, string(steps[0].Output))
		assert.Equal(t, 1500*time.Microsecond, steps[0].Duration)
		assert.Equal(t, started, steps[0].StartedAt)
		assert.Nil(t, steps[1].Port, "a skipped step activated no port")
		assert.Nil(t, steps[1].Output)

		assert.ErrorIs(t, <-db.FinishRun(store.Write{Owner: "w1", RunID: run.ID, N: store.WriteNumber(1, 9)}, store.RunFailed, "again"), store.ErrLeaseLost,
			"a finished run cannot be finished again")
	})
}

func TestClaimsAreExclusive(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		flowID := newFlow(t, db)
		const total = 120
		enqueue(t, db, flowID, total)

		var mu sync.Mutex
		seen := map[string]string{}
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Go(func() {
				owner := fmt.Sprintf("w%d", w)
				for {
					runs, err := db.ClaimRuns(ctx, owner, 7)
					if !assert.NoError(t, err) || len(runs) == 0 {
						return
					}
					mu.Lock()
					for _, r := range runs {
						assert.Empty(t, seen[r.ID], "run %s claimed by %s and %s", r.ID, seen[r.ID], owner)
						seen[r.ID] = owner
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		assert.Len(t, seen, total)
	})
}

func TestDeadWorkersRunsAreReclaimedAndFenced(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		flowID := newFlow(t, db)
		enqueue(t, db, flowID, 2)
		require.NoError(t, db.RegisterWorker(ctx, "dead", time.Now().Add(time.Minute)))
		require.NoError(t, db.RegisterWorker(ctx, "alive", time.Now().Add(time.Minute)))
		first, err := db.ClaimRuns(ctx, "dead", 2)
		require.NoError(t, err)
		require.Len(t, first, 2)

		n, err := db.ReclaimRuns(ctx)
		require.NoError(t, err)
		assert.Zero(t, n, "a live worker keeps its runs")
		require.NoError(t, db.RenewWorker(ctx, "dead", time.Now().Add(-time.Second)))
		n, err = db.ReclaimRuns(ctx)
		require.NoError(t, err)
		assert.Equal(t, 2, n, "a worker that stopped renewing loses its runs, all at once")
		assert.ErrorIs(t, db.RenewWorker(ctx, "dead", time.Now().Add(time.Minute)), store.ErrLeaseLost,
			"the dead worker learns it was given up")

		second, err := db.ClaimRuns(ctx, "alive", 1)
		require.NoError(t, err)
		require.Len(t, second, 1)
		assert.Equal(t, 2, second[0].Claims)

		step := []*store.Step{{RunID: second[0].ID, NodeID: "a", Attempt: 1, Seq: 1, Status: store.StepRunning, StartedAt: time.Now()}}
		assert.ErrorIs(t, db.SaveSteps(ctx, store.Write{Owner: "dead", RunID: second[0].ID, N: store.WriteNumber(1, 1), Steps: step}), store.ErrLeaseLost)
		assert.ErrorIs(t, <-db.FinishRun(store.Write{Owner: "dead", RunID: second[0].ID, N: store.WriteNumber(1, 9)}, store.RunSucceeded, ""), store.ErrLeaseLost)
		assert.ErrorIs(t, db.ReleaseRun(ctx, store.Write{Owner: "dead", RunID: second[0].ID, N: store.WriteNumber(1, 5)}, time.Now()), store.ErrLeaseLost)
		require.NoError(t, <-db.FinishRun(store.Write{Owner: "alive", RunID: second[0].ID, N: store.WriteNumber(1, 9), Steps: step}, store.RunSucceeded, ""))
		steps, err := db.ListSteps(ctx, second[0].ID)
		require.NoError(t, err)
		assert.Len(t, steps, 1, "only the holder's steps were written")
	})
}

// TestARunOfAnUnknownWorkerIsReclaimed: a run stored as claimed by a
// worker that never registered, or has retired, goes back to the queue.
func TestARunOfAnUnknownWorkerIsReclaimed(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		flowID := newFlow(t, db)
		runs, err := db.EnqueueRuns(ctx, []store.NewRun{{FlowID: flowID, FlowVersion: 1, TriggerType: store.TriggerTest,
			Trigger: []byte(`{}`), Owner: "gone"}})
		require.NoError(t, err)
		assert.Equal(t, store.RunRunning, runs[0].Status, "a run made for its worker is claimed already")
		assert.Equal(t, 1, runs[0].Claims)
		n, err := db.ReclaimRuns(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, n)
		got, err := db.GetRun(ctx, runs[0].ID)
		require.NoError(t, err)
		assert.Equal(t, store.RunQueued, got.Status)
	})
}

// TestTestOptionsStayWithTheRun: a test run's options are kept with it
// through every claim, so a run taken up again goes on as it began; other
// runs have none.
func TestTestOptionsStayWithTheRun(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		flowID := newFlow(t, db)
		const options = `{"until":"b","pins":{"a":{"output":{"x":1}}}}`
		made, err := db.EnqueueRuns(ctx, []store.NewRun{
			{FlowID: flowID, FlowVersion: 1, TriggerType: store.TriggerTest, Trigger: []byte(`{}`), TestOptions: []byte(options)},
			{FlowID: flowID, FlowVersion: 1, TriggerType: store.TriggerManual, Trigger: []byte(`{}`)},
		})
		require.NoError(t, err)
		require.NoError(t, db.RegisterWorker(ctx, "w1", time.Now().Add(time.Minute)))
		claimed, err := db.ClaimRuns(ctx, "w1", 2)
		require.NoError(t, err)
		require.Len(t, claimed, 2)
		byID := map[string]*store.Run{claimed[0].ID: claimed[0], claimed[1].ID: claimed[1]}
		assert.JSONEq(t, options, string(byID[made[0].ID].TestOptions), "a claim reads the options")
		assert.Nil(t, byID[made[1].ID].TestOptions, "a run other than a test has none")

		require.NoError(t, db.RenewWorker(ctx, "w1", time.Now().Add(-time.Second)))
		_, err = db.ReclaimRuns(ctx)
		require.NoError(t, err)
		again, err := db.ClaimRuns(ctx, "w2", 2)
		require.NoError(t, err)
		require.Len(t, again, 2)
		for _, r := range again {
			if r.ID == made[0].ID {
				assert.Equal(t, 2, r.Claims)
				assert.JSONEq(t, options, string(r.TestOptions), "the next claim reads them too")
			}
		}
		got, err := db.GetRun(ctx, made[0].ID)
		require.NoError(t, err)
		assert.JSONEq(t, options, string(got.TestOptions))
	})
}

// TestRetireWorkerRequeuesAtOnce: a stopping worker's runs go back to the
// queue at once, not when a lease would have lapsed.
func TestRetireWorkerRequeuesAtOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		flowID := newFlow(t, db)
		require.NoError(t, db.RegisterWorker(ctx, "stopping", time.Now().Add(time.Hour)))
		enqueue(t, db, flowID, 3)
		claimed, err := db.ClaimRuns(ctx, "stopping", 3)
		require.NoError(t, err)
		require.Len(t, claimed, 3)
		require.NoError(t, <-db.FinishRun(store.Write{Owner: "stopping", RunID: claimed[0].ID, N: store.WriteNumber(1, 9)}, store.RunSucceeded, ""))
		n, err := db.RetireWorker(ctx, "stopping")
		require.NoError(t, err)
		assert.Equal(t, 2, n)
		again, err := db.ClaimRuns(ctx, "next", 5)
		require.NoError(t, err)
		assert.Len(t, again, 2, "claimable at once")
	})
}

// TestClaimsShareTheEngineAcrossFlows: a flow with a long queue does not
// take a whole claim while another flow waits, and a flow's concurrency
// limit holds across workers.
func TestClaimsShareTheEngineAcrossFlows(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		busy, quiet := newFlow(t, db), newFlow(t, db)
		enqueue(t, db, busy, 50)
		enqueue(t, db, quiet, 2)
		claimed, err := db.ClaimRuns(ctx, "w1", 10)
		require.NoError(t, err)
		require.Len(t, claimed, 10)
		perFlow := map[string]int{}
		for _, r := range claimed {
			perFlow[r.FlowID]++
		}
		assert.Equal(t, 2, perFlow[quiet], "the quiet flow's runs are taken beside the busy one's")
		assert.Equal(t, 8, perFlow[busy], "the rest of the claim goes to the busy flow")

		limited, err := db.CreateFlow(ctx, store.FlowDocument{Name: "limited", Definition: []byte(`{}`), Concurrency: 2})
		require.NoError(t, err)
		assert.Equal(t, 2, limited.Concurrency)
		enqueue(t, db, limited.ID, 6)
		count := func(runs []*store.Run) (n int) {
			for _, r := range runs {
				if r.FlowID == limited.ID {
					n++
				}
			}
			return n
		}
		first, err := db.ClaimRuns(ctx, "w1", 100)
		require.NoError(t, err)
		assert.Equal(t, 2, count(first), "no more than the limit")
		second, err := db.ClaimRuns(ctx, "w2", 100)
		require.NoError(t, err)
		assert.Zero(t, count(second), "the limit counts every worker's runs")
		for _, r := range first {
			if r.FlowID == limited.ID {
				require.NoError(t, <-db.FinishRun(store.Write{Owner: "w1", RunID: r.ID, N: store.WriteNumber(1, 9)}, store.RunSucceeded, ""))
				break
			}
		}
		third, err := db.ClaimRuns(ctx, "w2", 100)
		require.NoError(t, err)
		assert.Equal(t, 1, count(third), "a finished run makes room for one")
	})
}

// TestConcurrentClaimsKeepTheLimit races workers claiming a limited flow.
func TestConcurrentClaimsKeepTheLimit(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f, err := db.CreateFlow(ctx, store.FlowDocument{Name: "limited", Definition: []byte(`{}`), Concurrency: 3})
		require.NoError(t, err)
		enqueue(t, db, f.ID, 40)
		var mu sync.Mutex
		total := 0
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				runs, err := db.ClaimRuns(ctx, fmt.Sprintf("w%d", w), 10)
				assert.NoError(t, err)
				mu.Lock()
				total += len(runs)
				mu.Unlock()
			})
		}
		wg.Wait()
		assert.Equal(t, 3, total)
	})
}

func TestReleaseMakesARunWait(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		flowID := newFlow(t, db)
		enqueue(t, db, flowID, 1)
		runs, err := db.ClaimRuns(ctx, "w", 1)
		require.NoError(t, err)
		require.Len(t, runs, 1)

		later := time.Now().Add(300 * time.Millisecond)
		require.NoError(t, db.ReleaseRun(ctx, store.Write{Owner: "w", RunID: runs[0].ID, N: store.WriteNumber(1, 5)}, later))
		none, err := db.ClaimRuns(ctx, "w", 1)
		require.NoError(t, err)
		assert.Empty(t, none, "not before its time")

		require.Eventually(t, func() bool {
			runs, err := db.ClaimRuns(ctx, "w", 1)
			return err == nil && len(runs) == 1 && runs[0].Claims == 2
		}, 5*time.Second, 20*time.Millisecond)
	})
}

func TestCancel(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		flowID := newFlow(t, db)
		runs := enqueue(t, db, flowID, 2)

		// The first run waits on a delay: claimed, then released with a
		// running step.
		held, err := db.ClaimRuns(ctx, "w", 1)
		require.NoError(t, err)
		require.Equal(t, runs[0].ID, held[0].ID)
		waiting := time.Now().Add(time.Hour)
		require.NoError(t, db.ReleaseRun(ctx, store.Write{Owner: "w", RunID: runs[0].ID, N: store.WriteNumber(1, 5), Steps: []*store.Step{{RunID: runs[0].ID, NodeID: "wait",
			Attempt: 1, Seq: 1, Status: store.StepRunning, ResumeAt: &waiting, StartedAt: time.Now()}}}, waiting))
		canceled, err := db.RequestCancel(ctx, runs[0].ID)
		require.NoError(t, err)
		assert.Equal(t, store.RunCanceled, canceled.Status, "a queued run is canceled at once")
		steps, err := db.ListSteps(ctx, runs[0].ID)
		require.NoError(t, err)
		assert.Equal(t, store.StepFailed, steps[0].Status, "its waiting step is closed")
		assert.Equal(t, "canceled", steps[0].Error)

		claimed, err := db.ClaimRuns(ctx, "w", 5)
		require.NoError(t, err)
		require.Len(t, claimed, 1, "a canceled run is not claimed")
		marked, err := db.RequestCancel(ctx, claimed[0].ID)
		require.NoError(t, err)
		assert.Equal(t, store.RunRunning, marked.Status)
		assert.True(t, marked.CancelRequested)
		cancel, err := db.CancelRequested(ctx, "w")
		require.NoError(t, err)
		assert.Equal(t, []string{claimed[0].ID}, cancel, "the worker hears of it")
		none, err := db.CancelRequested(ctx, "other")
		require.NoError(t, err)
		assert.Empty(t, none)

		_, err = db.RequestCancel(ctx, runs[0].ID)
		assert.ErrorIs(t, err, store.ErrRunFinished)
		_, err = db.RequestCancel(ctx, "nope")
		assert.ErrorIs(t, err, store.ErrNotFound)
	})
}

func TestListRunsNewestFirstWithCursor(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		flowA, flowB := newFlow(t, db), newFlow(t, db)
		var ids []string
		for i := range 5 {
			flow := flowA
			if i%2 == 1 {
				flow = flowB
			}
			ids = append(ids, enqueue(t, db, flow, 1)[0].ID)
		}
		page, err := db.ListRuns(ctx, store.RunFilter{Limit: 2})
		require.NoError(t, err)
		require.Len(t, page, 2)
		assert.Equal(t, []string{ids[4], ids[3]}, []string{page[0].ID, page[1].ID})
		page, err = db.ListRuns(ctx, store.RunFilter{Limit: 2, Before: page[1].ID})
		require.NoError(t, err)
		assert.Equal(t, []string{ids[2], ids[1]}, []string{page[0].ID, page[1].ID})

		onlyA, err := db.ListRuns(ctx, store.RunFilter{FlowID: flowA})
		require.NoError(t, err)
		assert.Len(t, onlyA, 3)
		queued, err := db.ListRuns(ctx, store.RunFilter{Status: store.RunQueued, Since: time.Now().Add(-time.Hour), Until: time.Now().Add(time.Hour)})
		require.NoError(t, err)
		assert.Len(t, queued, 5)
		future, err := db.ListRuns(ctx, store.RunFilter{Since: time.Now().Add(time.Hour)})
		require.NoError(t, err)
		assert.Empty(t, future)

		require.NoError(t, db.DeleteFlow(ctx, flowA))
		all, err := db.ListRuns(ctx, store.RunFilter{})
		require.NoError(t, err)
		assert.Len(t, all, 5, "a deleted flow's runs are kept")
		for _, r := range all {
			assert.Equal(t, "f", r.FlowName)
			assert.Equal(t, r.FlowID == flowA, r.FlowDeleted, "run %s says whether its flow was deleted", r.ID)
		}
		one, err := db.GetRun(ctx, onlyA[0].ID)
		require.NoError(t, err)
		assert.True(t, one.FlowDeleted)
	})
}

func TestGroupCommitUnderLoad(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		flowID := newFlow(t, db)
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				for range 10 {
					_, err := db.EnqueueRuns(ctx, []store.NewRun{{FlowID: flowID, FlowVersion: 1, TriggerType: store.TriggerTest, Trigger: []byte(`{}`)}})
					assert.NoError(t, err)
				}
			})
		}
		wg.Wait()
		runs, err := db.ListRuns(ctx, store.RunFilter{Limit: 1000})
		require.NoError(t, err)
		assert.Len(t, runs, 320)

		// A write that fails alone does not fail the others in its batch.
		errs := make(chan error, 20)
		for i := range 20 {
			flow := flowID
			if i == 7 {
				flow = "no-such-flow"
			}
			go func() {
				_, err := db.EnqueueRuns(ctx, []store.NewRun{{FlowID: flow, FlowVersion: 1, TriggerType: store.TriggerTest, Trigger: []byte(`{}`)}})
				errs <- err
			}()
		}
		failed := 0
		for range 20 {
			if <-errs != nil {
				failed++
			}
		}
		assert.Equal(t, 1, failed)
	})
}

func TestFlowStats(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		busy, quiet, idle := newFlow(t, db), newFlow(t, db), newFlow(t, db)
		enqueue(t, db, busy, 3)
		last := enqueue(t, db, busy, 1)[0]
		only := enqueue(t, db, quiet, 1)[0]
		_ = idle

		stats, err := db.FlowStats(ctx, time.Now().Add(-time.Hour))
		require.NoError(t, err)
		assert.Equal(t, store.FlowStats{LastRunID: last.ID, LastRunStatus: store.RunQueued, LastRunAt: stats[busy].LastRunAt, RunsSince: 4}, stats[busy])
		assert.WithinDuration(t, last.CreatedAt, stats[busy].LastRunAt, time.Second)
		assert.Equal(t, only.ID, stats[quiet].LastRunID)
		assert.Equal(t, 1, stats[quiet].RunsSince)
		assert.NotContains(t, stats, idle, "a flow without runs has no stats")

		later, err := db.FlowStats(ctx, time.Now().Add(time.Hour))
		require.NoError(t, err)
		assert.Equal(t, 0, later[busy].RunsSince, "no run is newer than the future")
		assert.Equal(t, last.ID, later[busy].LastRunID, "the latest run is known whatever the window")
	})
}
