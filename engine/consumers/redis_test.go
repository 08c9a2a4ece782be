package consumers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/engine/consumers"
	"github.com/hookflow/hookflow/nodes/redistest"
)

// TestRedisStreamRunsAFlow: entries added to a stream run the flow, which
// writes to Redis; a repeated entry is a duplicate, an entry whose body is
// not what its content type says is refused, and neither runs.
func TestRedisStreamRunsAFlow(t *testing.T) {
	t.Parallel()
	for _, dialect := range dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			client, prefix := redistest.Prefix(t)
			ctx := context.Background()
			s := newStack(t, dialect)
			s.credential("cache", "redis", `{"url": "redis://127.0.0.1:6379/0"}`)
			flowID := s.activate(`{"name": "orders", "nodes": [
				{"id": "stream", "type": "trigger.redis", "params": {"credential": "cache", "stream": "` + prefix + `orders", "dedupe": "trigger.body.id"}},
				{"id": "total", "type": "transform", "params": {"fields": {"id": "trigger.body.id", "cents": "trigger.body.amount * 100", "source": "trigger.headers.source"}}},
				{"id": "save", "type": "redis.command", "params": {"credential": "cache", "command": "SET", "key": "` + prefix + `order:{{ input.id }}", "value": "{{ input }}"}}],
				"edges": [{"from": "stream", "to": "total"}, {"from": "total", "to": "save"}]}`)

			add := func(values map[string]any) {
				require.NoError(t, client.XAdd(ctx, &redis.XAddArgs{Stream: prefix + "orders", Values: values}).Err())
			}
			add(map[string]any{"body": `{"id": "A-1", "amount": 12.5}`, "source": "shop"})
			add(map[string]any{"body": `{"id": "A-1", "amount": 12.5}`, "source": "shop"}) // the same order again
			add(map[string]any{"body": `{"id": `, "content_type": "application/json"})     // cut short
			add(map[string]any{"body": `{"id": "A-2", "amount": 3}`, "source": "pos"})

			runs := s.finishedRuns(flowID, 2)
			assert.Equal(t, `trigger: redis
status: succeeded
  stream   1 succeeded
  total    1 succeeded output={"cents":1250,"id":"A-1","source":"shop"}
  save     1 succeeded output={"ok":true}
`, s.trace(runs[0]))
			stored, err := client.Get(ctx, prefix+"order:A-2").Result()
			require.NoError(t, err)
			assert.JSONEq(t, `{"cents": 300, "id": "A-2", "source": "pos"}`, stored)

			// The entries of one read are recorded together, in any order.
			s.checkGolden(flowID, "REDIS", prefix+"orders", "expression:A-1", "body is not valid JSON")

			pending, err := client.XPending(ctx, prefix+"orders", "hookflow").Result()
			require.NoError(t, err)
			assert.Zero(t, pending.Count, "every entry is acknowledged")
		})
	}
}

// TestRedisConsumerReconnects: a Redis that goes away puts the consumer in
// retrying with the error; once it is back, the consumer connects again
// and entries added meanwhile run.
func TestRedisConsumerReconnects(t *testing.T) {
	t.Parallel()
	client, prefix := redistest.Prefix(t)
	ctx := context.Background()
	p := newProxy(t, "127.0.0.1:6379")
	s := newStack(t, dialects()[0])
	s.credential("cache", "redis", `{"url": "redis://`+p.addr+`/0"}`)
	flowID := s.activate(`{"name": "orders", "nodes": [
		{"id": "stream", "type": "trigger.redis", "params": {"credential": "cache", "stream": "` + prefix + `orders"}}], "edges": []}`)
	require.NoError(t, client.XAdd(ctx, &redis.XAddArgs{Stream: prefix + "orders", Values: map[string]any{"n": "1"}}).Err())
	s.finishedRuns(flowID, 1)

	s.checkOutage(p, flowID, func(n int) {
		require.NoError(t, client.XAdd(ctx, &redis.XAddArgs{Stream: prefix + "orders", Values: map[string]any{"n": fmt.Sprint(n)}}).Err())
	})
}

// TestDeactivatingStopsTheConsumer: a flow deactivated has no consumer,
// and entries added meanwhile wait in the stream for its reactivation.
func TestDeactivatingStopsTheConsumer(t *testing.T) {
	t.Parallel()
	client, prefix := redistest.Prefix(t)
	ctx := context.Background()
	s := newStack(t, dialects()[0])
	s.credential("cache", "redis", `{"url": "redis://127.0.0.1:6379/0"}`)
	flowID := s.activate(`{"name": "orders", "nodes": [
		{"id": "stream", "type": "trigger.redis", "params": {"credential": "cache", "stream": "` + prefix + `orders"}}], "edges": []}`)
	_, err := s.flows.SetActive(ctx, flowID, false)
	require.NoError(t, err)
	_, running := s.consumers.State(flowID)
	assert.False(t, running, "deactivating stops the consumer at once")
	require.NoError(t, client.XAdd(ctx, &redis.XAddArgs{Stream: prefix + "orders", Values: map[string]any{"n": "1"}}).Err())
	time.Sleep(300 * time.Millisecond)
	assert.Empty(t, s.deliveries(flowID))

	_, err = s.flows.SetActive(ctx, flowID, true)
	require.NoError(t, err)
	s.waitStatus(flowID, consumers.StatusConnected)
	s.finishedRuns(flowID, 1)
}
