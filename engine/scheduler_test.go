package engine

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/engine/expression"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

const everySecond = `{"name": "tick", "nodes": [
	{"id": "tick", "type": "trigger.cron", "params": {"schedule": "* * * * * *"}},
	{"id": "when", "type": "transform", "params": {"fields": {"at": "trigger.scheduled_at"}}}],
	"edges": [{"from": "tick", "to": "when"}]}`

func TestSchedulerFollowsActivation(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			h := newHarness(t)
			db := storetest.Open(t, dialect)
			e := h.engineFor(t, db, Options{})
			flows := NewFlows(db, h.registry)
			scheduler := NewScheduler(db, e, nil)
			flows.OnChange(scheduler.Sync)
			scheduler.Start()
			t.Cleanup(scheduler.Stop)

			f, err := flows.Create(ctx, []byte(everySecond))
			require.NoError(t, err)
			time.Sleep(1500 * time.Millisecond)
			runs, err := db.ListRuns(ctx, store.RunFilter{FlowID: f.ID})
			require.NoError(t, err)
			assert.Empty(t, runs, "an inactive flow does not fire")

			_, err = flows.SetActive(ctx, f.ID, true)
			require.NoError(t, err)
			var list []*store.Run
			require.Eventually(t, func() bool {
				list, err = db.ListRuns(ctx, store.RunFilter{FlowID: f.ID, Status: store.RunSucceeded})
				return err == nil && len(list) >= 2
			}, 10*time.Second, 50*time.Millisecond, "activation takes effect at once: a run a second")
			run := list[0]
			assert.Equal(t, store.TriggerCron, run.TriggerType)
			trigger, err := expression.DecodeJSON(run.Trigger)
			require.NoError(t, err)
			at, err := time.Parse(time.RFC3339Nano, trigger.(map[string]any)["scheduled_at"].(string))
			require.NoError(t, err)
			assert.Equal(t, at.Truncate(time.Second), at, "firings are due on whole seconds")
			assert.WithinDuration(t, time.Now(), at, 10*time.Second)

			_, err = flows.SetActive(ctx, f.ID, false)
			require.NoError(t, err)
			time.Sleep(200 * time.Millisecond) // a firing under way may still land
			before, err := db.ListRuns(ctx, store.RunFilter{FlowID: f.ID, Limit: 500})
			require.NoError(t, err)
			time.Sleep(2 * time.Second)
			after, err := db.ListRuns(ctx, store.RunFilter{FlowID: f.ID, Limit: 500})
			require.NoError(t, err)
			assert.Len(t, after, len(before), "deactivation stops the firing at once")
		})
	}
}
