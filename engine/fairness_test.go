package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// TestRunsWaitingOnASlowEndpointDoNotDelayOtherFlows: 20 runs of one flow
// are stuck in a step that waits on the network; a run of another flow
// still goes through, while all 20 are still waiting. (With a pool of 8
// workers, it waited until they ended.)
func TestRunsWaitingOnASlowEndpointDoNotDelayOtherFlows(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			e := h.engineFor(t, storetest.Open(t, dialect), Options{})
			t.Cleanup(func() { close(h.block) }) // before the engine stops
			slow := `{"name": "slow", "nodes": [{"id": "hook", "type": "trigger.manual"},
				{"id": "call", "type": "test.effect", "params": {"id": "slow", "block": true}}], "edges": [{"from": "hook", "to": "call"}]}`
			for range 20 {
				startRun(t, e, slow, `{}`)
			}
			require.Eventually(t, func() bool { return h.calls.get("slow") == 20 }, 20*time.Second, 5*time.Millisecond,
				"all 20 runs wait on the endpoint at once")

			other := startRun(t, e, `{"name": "other", "nodes": [{"id": "hook", "type": "trigger.manual"},
				{"id": "shape", "type": "transform", "params": {"fields": {"ok": "true"}}},
				{"id": "call", "type": "test.effect", "params": {"output": {"done": true}}}],
				"edges": [{"from": "hook", "to": "shape"}, {"from": "shape", "to": "call"}]}`, `{}`)
			finished := waitRun(t, e, other.ID)
			assert.Equal(t, store.RunSucceeded, finished.Status, finished.Error)
			assert.Equal(t, 20, h.inside.max("slow"))
			running, err := e.store.ListRuns(context.Background(), store.RunFilter{Status: store.RunRunning, Limit: 100})
			require.NoError(t, err)
			assert.Len(t, running, 20, "the slow runs are all still waiting")
			require.Eventually(t, func() bool { n, _ := e.InFlight(); return n == 20 }, 10*time.Second, 5*time.Millisecond,
				"in flight: the 20 waiting runs, once the other's finish is done")
			_, memory := e.InFlight()
			assert.GreaterOrEqual(t, memory, int64(20*runMemory))
		})
	}
}

// TestAFlowsConcurrencyLimitHolds: a flow limited to 2 runs in flight has
// 2, however many are queued, and the rest follow as those end.
func TestAFlowsConcurrencyLimitHolds(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			e := h.engineFor(t, storetest.Open(t, dialect), Options{PollInterval: 20 * time.Millisecond})
			limited := `{"name": "limited", "settings": {"concurrency": 2}, "nodes": [{"id": "hook", "type": "trigger.manual"},
				{"id": "call", "type": "test.effect", "params": {"id": "limited", "gate": true}}], "edges": [{"from": "hook", "to": "call"}]}`
			f, err := NewFlows(e.store, e.registry).Create(context.Background(), []byte(limited))
			require.NoError(t, err)
			assert.Equal(t, 2, f.Concurrency)
			var ids []string
			for i := range 8 {
				runs, err := e.Enqueue(context.Background(), store.NewRun{FlowID: f.ID, FlowVersion: f.Version,
					TriggerType: store.TriggerTest, Trigger: []byte(fmt.Sprintf(`{"body": {"n": %d}}`, i))})
				require.NoError(t, err)
				ids = append(ids, runs[0].ID)
			}
			require.Eventually(t, func() bool { return h.calls.get("limited") == 2 }, 20*time.Second, 5*time.Millisecond)
			running, err := e.store.ListRuns(context.Background(), store.RunFilter{FlowID: f.ID, Status: store.RunRunning, Limit: 100})
			require.NoError(t, err)
			assert.Len(t, running, 2, "two in flight")
			for range 8 {
				h.gate <- struct{}{} // one attempt ends; the next run starts
			}
			for _, id := range ids {
				assert.Equal(t, store.RunSucceeded, waitRun(t, e, id).Status)
			}
			assert.Equal(t, 2, h.inside.max("limited"), "never more than 2 at once")
			assert.Equal(t, 8, h.calls.get("limited"))
		})
	}
}
