package consumers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/nodes/natstest"
	"github.com/hookflow/hookflow/store"
)

// TestNATSStreamRunsAFlow: messages stored in a JetStream stream run the
// flow, which publishes to another stream; a repeated message is a
// duplicate, a message whose body is not what its content type says is
// refused, and neither runs.
func TestNATSStreamRunsAFlow(t *testing.T) {
	t.Parallel()
	for _, dialect := range dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			_, js, prefix := natstest.Prefix(t)
			natstest.Stream(t, js, prefix+"_ORDERS", prefix+".orders")
			natstest.Stream(t, js, prefix+"_SAVED", prefix+".saved.>")
			ctx := context.Background()
			s := newStack(t, dialect)
			s.credential("bus", "nats", `{"url": "`+natstest.URL+`"}`)
			flowID := s.activate(`{"name": "orders", "nodes": [
				{"id": "stream", "type": "trigger.nats", "params": {"credential": "bus", "subject": "` + prefix + `.orders", "dedupe": "trigger.body.id"}},
				{"id": "total", "type": "transform", "params": {"fields": {"id": "trigger.body.id", "cents": "trigger.body.amount * 100", "source": "trigger.headers.source"}}},
				{"id": "save", "type": "nats.publish", "params": {"credential": "bus", "subject": "` + prefix + `.saved.{{ input.id }}", "body": "{{ input }}"}}],
				"edges": [{"from": "stream", "to": "total"}, {"from": "total", "to": "save"}]}`)

			publish := func(body string, header nats.Header) {
				_, err := js.PublishMsg(ctx, &nats.Msg{Subject: prefix + ".orders", Data: []byte(body), Header: header})
				require.NoError(t, err)
			}
			publish(`{"id": "A-1", "amount": 12.5}`, nats.Header{"Source": {"shop"}})
			runs := s.finishedRuns(flowID, 1)
			assert.Equal(t, `trigger: nats
status: succeeded
  stream   1 succeeded
  total    1 succeeded output={"cents":1250,"id":"A-1","source":"shop"}
  save     1 succeeded output={"duplicate":false,"sequence":1,"stream":"`+prefix+`_SAVED","subject":"`+prefix+`.saved.A-1"}
`, s.trace(runs[0]))

			publish(`{"id": "A-1", "amount": 12.5}`, nats.Header{"Source": {"shop"}}) // the same order again
			publish(`{"id": `, nats.Header{"Content-Type": {"application/json"}})     // cut short
			publish(`{"id": "A-2", "amount": 3}`, nats.Header{"Source": {"pos"}})
			s.finishedRuns(flowID, 2)
			saved, err := js.Stream(ctx, prefix+"_SAVED")
			require.NoError(t, err)
			stored, err := saved.GetLastMsgForSubject(ctx, prefix+".saved.A-2")
			require.NoError(t, err)
			assert.JSONEq(t, `{"cents": 300, "id": "A-2", "source": "pos"}`, string(stored.Data))
			assert.NotEmpty(t, stored.Header.Get(jetstream.MsgIDHeader), "the step's id dedupes a retried publish")

			s.checkGolden(flowID, "NATS", prefix+".orders", "expression:A-1", "body is not valid JSON")

			consumer, err := js.Consumer(ctx, prefix+"_ORDERS", "hookflow_"+flowID+"_stream")
			require.NoError(t, err, "the durable consumer is named after the flow and node")
			require.Eventually(t, func() bool {
				info, err := consumer.Info(ctx)
				return err == nil && info.NumAckPending == 0 && info.NumPending == 0 && info.NumRedelivered == 0
			}, 5*time.Second, 20*time.Millisecond, "every message is settled, none delivered twice")
		})
	}
}

// TestNATSConsumerReconnects: a NATS server that goes away puts the
// consumer in retrying with the error; once it is back, the consumer
// connects again and the messages the stream stored meanwhile run.
func TestNATSConsumerReconnects(t *testing.T) {
	t.Parallel()
	_, js, prefix := natstest.Prefix(t)
	natstest.Stream(t, js, prefix+"_ORDERS", prefix+".orders")
	ctx := context.Background()
	p := newProxy(t, natstest.Addr)
	s := newStack(t, dialects()[0])
	s.credential("bus", "nats", `{"url": "nats://`+p.addr+`"}`)
	flowID := s.activate(`{"name": "orders", "nodes": [
		{"id": "stream", "type": "trigger.nats", "params": {"credential": "bus", "subject": "` + prefix + `.orders"}}], "edges": []}`)
	publish := func(n int) {
		_, err := js.Publish(ctx, prefix+".orders", fmt.Appendf(nil, `{"n": %d}`, n))
		require.NoError(t, err)
	}
	publish(1)
	s.finishedRuns(flowID, 1)

	s.checkOutage(p, flowID, publish)
}

// TestNATSCoreSubjectRunsAFlow: on a subject no stream captures, the
// trigger subscribes in a queue group (core NATS) and each message runs;
// the Nats-Msg-Id header dedupes.
func TestNATSCoreSubjectRunsAFlow(t *testing.T) {
	t.Parallel()
	nc, _, prefix := natstest.Prefix(t)
	s := newStack(t, dialects()[0])
	s.credential("bus", "nats", `{"url": "`+natstest.URL+`"}`)
	flowID := s.activate(`{"name": "events", "nodes": [
		{"id": "events", "type": "trigger.nats", "params": {"credential": "bus", "subject": "` + prefix + `.events.*"}}], "edges": []}`)
	for n, id := range []string{"e-1", "e-2", "e-1"} {
		msg := nats.NewMsg(prefix + ".events.created")
		msg.Header.Set("Nats-Msg-Id", id)
		msg.Data = fmt.Appendf(nil, `{"n": %d}`, n)
		require.NoError(t, nc.PublishMsg(msg))
	}
	require.NoError(t, nc.Flush())
	s.finishedRuns(flowID, 2)
	require.Eventually(t, func() bool { return len(s.deliveries(flowID)) == 3 }, 10*time.Second, 20*time.Millisecond)
	statuses := map[string]int{}
	for _, d := range s.deliveries(flowID) {
		statuses[d.Status]++
		assert.Equal(t, prefix+".events.created", d.Path)
	}
	assert.Equal(t, map[string]int{store.DeliveryAccepted: 2, store.DeliveryDuplicate: 1}, statuses, "the repeated Nats-Msg-Id is a duplicate")
}
