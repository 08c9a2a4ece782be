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

const pruneFlow = `{"name": "p", "nodes": [
	{"id": "hook", "type": "trigger.manual"},
	{"id": "shape", "type": "transform", "params": {"fields": {"n": "trigger.body.n"}}}],
	"edges": [{"from": "hook", "to": "shape"}]}`

// TestPrunerKeepsTheNewestRuns runs the pruner as serve does: it leads, and
// in the background, a batch at a time, removes the finished runs of a flow
// beyond its newest RunsPerFlow. (Pruning by age is the store's test: the
// ids that date runs come from the clock.)
func TestPrunerKeepsTheNewestRuns(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			h := newHarness(t)
			db := storetest.Open(t, dialect)
			e := h.engineFor(t, db, Options{})
			f, err := NewFlows(db, h.registry).Create(ctx, []byte(pruneFlow))
			require.NoError(t, err)
			var runs []*store.Run
			for range 5 {
				queued, err := e.Enqueue(ctx, store.NewRun{FlowID: f.ID, FlowVersion: 1, TriggerType: store.TriggerTest, Trigger: []byte(`{"body": {"n": 1}}`)})
				require.NoError(t, err)
				runs = append(runs, waitRun(t, e, queued[0].ID))
			}

			reclaiming := &reclaimCounter{Store: db}
			pruner := NewPruner(reclaiming, nil, Retention{RunsPerFlow: 2, Interval: 20 * time.Millisecond, Batch: 1})
			pruner.Start()
			t.Cleanup(pruner.Stop)
			require.Eventually(t, func() bool {
				for _, r := range runs[:3] {
					if _, err := db.GetRun(ctx, r.ID); !errors.Is(err, store.ErrNotFound) {
						return false
					}
				}
				return true
			}, 10*time.Second, 10*time.Millisecond, "the older runs are pruned")
			for _, r := range runs[3:] {
				_, err := db.GetRun(ctx, r.ID)
				assert.NoError(t, err, "the newest two stay")
			}
			require.Eventually(t, func() bool { return reclaiming.calls.Load() == 1 }, 10*time.Second, 10*time.Millisecond,
				"the pass that pruned gives the space back, once")
		})
	}
}

// reclaimCounter counts ReclaimSpace calls.
type reclaimCounter struct {
	store.Store
	calls atomic.Int32
}

func (r *reclaimCounter) ReclaimSpace(ctx context.Context) error {
	r.calls.Add(1)
	return r.Store.ReclaimSpace(ctx)
}

// TestPrunerKeepingEverythingDoesNothing gives the pruner no store: a
// retention that keeps everything must never touch one (a call on the nil
// store would panic and fail the test binary).
func TestPrunerKeepingEverythingDoesNothing(t *testing.T) {
	t.Parallel()
	p := NewPruner(nil, nil, Retention{})
	p.Start()
	time.Sleep(50 * time.Millisecond) // time enough for a leadership to be sought
	p.Stop()
}

// TestPrunerRemovesOldAuditEvents: the audit log is pruned by its own
// retention, in batches, and only what is older than it.
func TestPrunerRemovesOldAuditEvents(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := storetest.Open(t, dialect)
			old := time.Now().Add(-48 * time.Hour)
			for i := range 5 {
				require.NoError(t, db.AppendAudit(ctx, &store.AuditEvent{At: old.Add(time.Duration(i) * time.Minute), ActorKind: "system", Action: "flow.created"}))
			}
			require.NoError(t, db.AppendAudit(ctx, &store.AuditEvent{At: time.Now(), ActorKind: "system", Action: "flow.updated"}))

			pruner := NewPruner(db, nil, Retention{AuditMaxAge: 24 * time.Hour, Interval: 20 * time.Millisecond, Batch: 2})
			pruner.Start()
			t.Cleanup(pruner.Stop)
			require.Eventually(t, func() bool {
				left, err := db.ListAudit(ctx, store.AuditFilter{})
				return err == nil && len(left) == 1
			}, 10*time.Second, 10*time.Millisecond, "the events past the retention are pruned")
			left, err := db.ListAudit(ctx, store.AuditFilter{})
			require.NoError(t, err)
			assert.Equal(t, "flow.updated", left[0].Action, "the recent event stays")
		})
	}
}
