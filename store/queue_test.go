package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

func TestQueueStats(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		depth, oldest, err := db.QueueStats(ctx)
		require.NoError(t, err)
		assert.Zero(t, depth, "an empty queue")
		assert.True(t, oldest.IsZero(), "an empty queue has no oldest run")

		flowID := newFlow(t, db)
		first := enqueue(t, db, flowID, 1)[0]
		time.Sleep(2 * time.Millisecond) // the next runs become available later
		enqueue(t, db, flowID, 3)
		depth, oldest, err = db.QueueStats(ctx)
		require.NoError(t, err)
		assert.Equal(t, 4, depth)
		assert.Equal(t, first.AvailableAt, oldest, "the oldest is the run available first")

		claimed, err := db.ClaimRuns(ctx, "w1", 2)
		require.NoError(t, err)
		require.Len(t, claimed, 2)
		assert.Contains(t, []string{claimed[0].ID, claimed[1].ID}, first.ID, "claims take the oldest first")
		depth, oldest, err = db.QueueStats(ctx)
		require.NoError(t, err)
		assert.Equal(t, 2, depth, "running runs are not queued")
		assert.True(t, oldest.After(first.AvailableAt))

		// A run put back until later (a retry's backoff) is queued but not
		// due: no worker could take it now.
		require.NoError(t, db.ReleaseRun(ctx, store.Write{Owner: "w1", RunID: claimed[0].ID, N: store.WriteNumber(1, 5)}, time.Now().Add(time.Hour)))
		// One finished is not queued either.
		require.NoError(t, <-db.FinishRun(store.Write{Owner: "w1", RunID: claimed[1].ID, N: store.WriteNumber(1, 9)}, store.RunSucceeded, ""))
		depth, _, err = db.QueueStats(ctx)
		require.NoError(t, err)
		assert.Equal(t, 2, depth)

		canceled, cancel := context.WithCancel(ctx)
		cancel()
		_, _, err = db.QueueStats(canceled)
		assert.Error(t, err, "a query that cannot run says so")
	})
}

// TestCommitBatchObserver checks that Options.OnCommitBatch hears of every
// committed transaction with its number of writes.
func TestCommitBatchObserver(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			var mu sync.Mutex
			var sizes []int
			opts := storetest.Options(t, dialect)
			opts.OnCommitBatch = func(size int) {
				mu.Lock()
				defer mu.Unlock()
				sizes = append(sizes, size)
			}
			db, err := store.Open(ctx, opts)
			require.NoError(t, err)
			defer db.Close()
			_, err = db.Migrate(ctx)
			require.NoError(t, err)
			flowID := newFlow(t, db)

			mu.Lock()
			before := len(sizes)
			mu.Unlock()
			const writers = 40
			var wg sync.WaitGroup
			for range writers {
				wg.Go(func() {
					_, err := db.EnqueueRuns(ctx, []store.NewRun{{FlowID: flowID, FlowVersion: 1, TriggerType: store.TriggerTest}})
					assert.NoError(t, err)
				})
			}
			wg.Wait()

			mu.Lock()
			defer mu.Unlock()
			observed := sizes[before:]
			require.NotEmpty(t, observed)
			total := 0
			for _, size := range observed {
				assert.GreaterOrEqual(t, size, 1)
				total += size
			}
			assert.Equal(t, writers, total, "each write is in exactly one committed transaction")
		})
	}
}
