package store_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// finish claims and finishes every queued run of the database.
func finish(t *testing.T, db *store.DB) {
	t.Helper()
	claimed, err := db.ClaimRuns(context.Background(), "w", 1000)
	require.NoError(t, err)
	for _, r := range claimed {
		require.NoError(t, <-db.FinishRun(store.Write{Owner: "w", RunID: r.ID, N: store.WriteNumber(1, 9)}, store.RunSucceeded, ""))
	}
}

// pruneAll prunes until nothing more is left, and sums what went.
func pruneAll(t *testing.T, db *store.DB, p store.PrunePolicy) store.Pruned {
	t.Helper()
	var total store.Pruned
	for range 100 {
		got, err := db.Prune(context.Background(), p)
		require.NoError(t, err)
		total.Runs += got.Runs
		total.Deliveries += got.Deliveries
		if !got.More {
			return total
		}
	}
	t.Fatal("pruning did not end")
	return total
}

func runIDs(t *testing.T, db *store.DB, flowID string) []string {
	t.Helper()
	runs, err := db.ListRuns(context.Background(), store.RunFilter{FlowID: flowID, Limit: 1000})
	require.NoError(t, err)
	ids := make([]string, len(runs))
	for i, r := range runs {
		ids[i] = r.ID
	}
	return ids
}

func TestPruneByAge(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		flowID := newFlow(t, db)
		old := enqueue(t, db, flowID, 7)
		res, err := db.RecordDelivery(ctx, delivery(flowID, store.DeliveryAccepted, ""))
		require.NoError(t, err)
		rejected := delivery(flowID, store.DeliveryRejected, "")
		rejected.HTTPStatus, rejected.Reason = 401, "bad signature"
		rejectedRes, err := db.RecordDelivery(ctx, rejected)
		require.NoError(t, err)
		finish(t, db)
		stuck := enqueue(t, db, flowID, 1)[0] // queued, old too
		time.Sleep(5 * time.Millisecond)
		cutoff := time.Now()
		time.Sleep(5 * time.Millisecond)
		recent := enqueue(t, db, flowID, 1)[0]

		got := pruneAll(t, db, store.PrunePolicy{Before: cutoff, Batch: 3})
		assert.Equal(t, 8, got.Runs, "the old finished runs, the webhook's included, in batches of 3")
		assert.Equal(t, 2, got.Deliveries, "the old deliveries whose runs are gone")
		assert.ElementsMatch(t, []string{stuck.ID, recent.ID}, runIDs(t, db, flowID), "a queued run is never pruned, nor a recent one")
		for _, id := range []string{old[0].ID, res.RunID} {
			_, err := db.GetRun(ctx, id)
			assert.ErrorIs(t, err, store.ErrNotFound)
		}
		_, err = db.GetDelivery(ctx, rejectedRes.DeliveryID)
		assert.ErrorIs(t, err, store.ErrNotFound)
		steps, err := db.ListSteps(ctx, old[0].ID)
		require.NoError(t, err)
		assert.Empty(t, steps)
	})
}

func TestPruneKeepsNewestPerFlow(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		busy, quiet := newFlow(t, db), newFlow(t, db)
		var kept []string
		for i := range 6 {
			res, err := db.RecordDelivery(ctx, delivery(busy, store.DeliveryAccepted, ""))
			require.NoError(t, err)
			if i >= 4 {
				kept = append(kept, res.RunID)
			}
		}
		// A delivery whose run is kept stays, however many there are.
		enqueue(t, db, quiet, 2)
		finish(t, db)

		got := pruneAll(t, db, store.PrunePolicy{KeepPerFlow: 2, Batch: 1})
		assert.Equal(t, 4, got.Runs)
		assert.Equal(t, 4, got.Deliveries)
		assert.ElementsMatch(t, kept, runIDs(t, db, busy), "the newest two")
		assert.Len(t, runIDs(t, db, quiet), 2, "a flow within the cap keeps all")
		list, err := db.ListDeliveries(ctx, store.DeliveryFilter{FlowID: busy, Limit: 100})
		require.NoError(t, err)
		require.Len(t, list, 2)
		for _, d := range list {
			assert.Contains(t, kept, d.RunID)
		}
	})
}

// TestPruningShrinksTheSQLiteFile fills a database with runs whose steps
// hold large outputs, prunes them all, and checks that the database file
// ends smaller than a tenth of what it (with its WAL) grew to; the WAL is
// cut back to its 64 MiB limit at most.
func TestPruningShrinksTheSQLiteFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	opts := storetest.Options(t, store.DialectSQLite)
	db, err := store.Open(ctx, opts)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Migrate(ctx)
	require.NoError(t, err)
	path := strings.TrimPrefix(opts.URL, "sqlite:")
	size := func() int64 {
		var total int64
		for _, suffix := range []string{"", "-wal"} {
			if fi, err := os.Stat(path + suffix); err == nil {
				total += fi.Size()
			}
		}
		return total
	}

	flowID := newFlow(t, db)
	// Outputs that do not compress: random text.
	output := func() []byte {
		b := make([]byte, 48<<10)
		rand.Read(b)
		return []byte(`"` + hex.EncodeToString(b) + `"`)
	}
	for range 4 {
		runs := enqueue(t, db, flowID, 50)
		claimed, err := db.ClaimRuns(ctx, "w", 100)
		require.NoError(t, err)
		require.Len(t, claimed, len(runs))
		for _, r := range claimed {
			step := &store.Step{RunID: r.ID, NodeID: "big", Attempt: 1, Seq: 1, Status: store.StepSucceeded, Output: output(), StartedAt: time.Now()}
			require.NoError(t, <-db.FinishRun(store.Write{Owner: "w", RunID: r.ID, N: store.WriteNumber(1, 9), Steps: []*store.Step{step}}, store.RunSucceeded, ""))
		}
	}
	grown := size()
	require.Greater(t, grown, int64(15<<20), "the runs take room")

	pruneAll(t, db, store.PrunePolicy{Before: time.Now().Add(time.Hour)})
	assert.Empty(t, runIDs(t, db, flowID))
	require.NoError(t, db.ReclaimSpace(ctx))
	file, err := os.Stat(path)
	require.NoError(t, err)
	t.Logf("database and WAL: %d bytes with the runs; after pruning, %d in all, %d in the database file", grown, size(), file.Size())
	assert.Less(t, file.Size(), grown/10, "the database file gives the space back (%d bytes before)", grown)
	assert.LessOrEqual(t, size()-file.Size(), int64(64<<20), "the WAL stays within its limit")
}

// TestADeletedFlowGoesWithItsLastRun: a deleted flow stays while its runs
// and deliveries are kept, and goes, with its versions, once retention has
// pruned them.
func TestADeletedFlowGoesWithItsLastRun(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		flowID := newFlow(t, db)
		runs := enqueue(t, db, flowID, 2)
		_, err := db.RecordDelivery(ctx, delivery(flowID, store.DeliveryRejected, ""))
		require.NoError(t, err)
		finish(t, db)
		require.NoError(t, db.DeleteFlow(ctx, flowID))

		got, err := db.GetRun(ctx, runs[0].ID)
		require.NoError(t, err, "a deleted flow's run stays readable")
		assert.True(t, got.FlowDeleted)
		deliveries, err := db.ListDeliveries(ctx, store.DeliveryFilter{FlowID: flowID})
		require.NoError(t, err)
		require.Len(t, deliveries, 1, "and so do its deliveries")
		assert.True(t, deliveries[0].FlowDeleted)
		assert.Equal(t, "f", deliveries[0].FlowName)

		pruneAll(t, db, store.PrunePolicy{KeepPerFlow: 1})
		_, err = db.GetFlowVersion(ctx, flowID, 1)
		require.NoError(t, err, "kept while one of its runs is")

		pruneAll(t, db, store.PrunePolicy{Before: time.Now().Add(time.Hour)})
		_, err = db.GetFlowVersion(ctx, flowID, 1)
		assert.ErrorIs(t, err, store.ErrNotFound, "gone, with its versions, once nothing of it is left")
	})
}
