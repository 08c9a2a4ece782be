package consumers_test

import (
	"fmt"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/engine/consumers"
	"github.com/hookflow/hookflow/nodes/rabbitmqtest"
	"github.com/hookflow/hookflow/store"
)

// TestRabbitMQQueueRunsAFlow: messages on a queue run the flow, which
// publishes to another queue; a message published again with the same
// message_id is a duplicate, one whose body is not what its content type
// says is refused and dead-lettered, and neither runs.
func TestRabbitMQQueueRunsAFlow(t *testing.T) {
	t.Parallel()
	for _, dialect := range dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			mq := rabbitmqtest.New(t)
			queue, out := mq.Queue("orders"), mq.DeclareQueue(t, "totals", nil, "")
			dlx := mq.Exchange(t, "dead", amqp.ExchangeFanout)
			dead := mq.DeclareQueue(t, "dead", nil, dlx)
			s := newStack(t, dialect)
			s.credential("mq", "rabbitmq", `{"url": "`+rabbitmqtest.URL+`"}`)
			flowID := s.activate(`{"name": "orders", "nodes": [
				{"id": "queue", "type": "trigger.rabbitmq", "params": {"credential": "mq", "queue": "` + queue + `", "dead_letter_exchange": "` + dlx + `"}},
				{"id": "total", "type": "transform", "params": {"fields": {"id": "trigger.body.id", "cents": "trigger.body.amount * 100", "source": "trigger.headers.source"}}},
				{"id": "send", "type": "rabbitmq.publish", "params": {"credential": "mq", "routing_key": "` + out + `", "body": "{{ input }}"}}],
				"edges": [{"from": "queue", "to": "total"}, {"from": "total", "to": "send"}]}`)

			order := func(id, body string, source string) amqp.Publishing {
				return amqp.Publishing{MessageId: id, ContentType: "application/json", Body: []byte(body), Headers: amqp.Table{"Source": source}}
			}
			mq.Publish(t, queue, order("m-1", `{"id": "A-1", "amount": 12.5}`, "shop"))
			mq.Publish(t, queue, order("m-1", `{"id": "A-1", "amount": 12.5}`, "shop")) // the same message again
			mq.Publish(t, queue, order("m-2", `{"id": `, "shop"))                       // cut short
			mq.Publish(t, queue, order("m-3", `{"id": "A-2", "amount": 3}`, "pos"))

			runs := s.finishedRuns(flowID, 2)
			assert.Equal(t, `trigger: rabbitmq
status: succeeded
  queue    1 succeeded
  total    1 succeeded output={"cents":1250,"id":"A-1","source":"shop"}
  send     1 succeeded output={"confirmed":true}
`, s.trace(runs[0]))

			var byStatus map[string][]*store.Delivery
			require.Eventually(t, func() bool {
				byStatus = map[string][]*store.Delivery{}
				list := s.deliveries(flowID)
				for _, d := range list {
					byStatus[d.Status] = append(byStatus[d.Status], d)
				}
				return len(list) == 4
			}, 10*time.Second, 20*time.Millisecond)
			require.Len(t, byStatus[store.DeliveryAccepted], 2)
			require.Len(t, byStatus[store.DeliveryDuplicate], 1)
			require.Len(t, byStatus[store.DeliveryRejected], 1)
			first := byStatus[store.DeliveryAccepted][0]
			if first.DedupeKey != "message:m-1" {
				first = byStatus[store.DeliveryAccepted][1]
			}
			assert.Equal(t, "RABBITMQ", first.Method)
			assert.Equal(t, queue, first.Path)
			assert.Equal(t, first.RunID, byStatus[store.DeliveryDuplicate][0].RunID, "the duplicate names the first run")
			assert.Equal(t, "body is not valid JSON", byStatus[store.DeliveryRejected][0].Reason)
			time.Sleep(300 * time.Millisecond)
			assert.Len(t, s.finishedRuns(flowID, 2), 2, "the duplicate and the refused message run nothing")

			// The flow published a message per run; the refused one was
			// dead-lettered; the queue is empty.
			var totals []string
			for {
				d, ok := mq.Get(t, out)
				if !ok {
					break
				}
				totals = append(totals, string(d.Body))
			}
			assert.ElementsMatch(t, []string{`{"cents":1250,"id":"A-1","source":"shop"}`, `{"cents":300,"id":"A-2","source":"pos"}`}, totals)
			d, ok := mq.Get(t, dead)
			require.True(t, ok, "the refused message is dead-lettered")
			assert.Equal(t, "m-2", d.MessageId)
			ready, _ := mq.Counts(t, queue)
			assert.Zero(t, ready, "every message is acknowledged")
		})
	}
}

// TestRabbitMQConsumerReconnects: a RabbitMQ that goes away puts the
// consumer in retrying with the error; once it is back, the consumer
// connects again and messages published meanwhile run.
func TestRabbitMQConsumerReconnects(t *testing.T) {
	t.Parallel()
	mq := rabbitmqtest.New(t)
	queue := mq.DeclareQueue(t, "orders", nil, "")
	p := newProxy(t, rabbitmqtest.Addr)
	s := newStack(t, dialects()[0])
	s.credential("mq", "rabbitmq", `{"url": "amqp://`+p.addr+`/"}`)
	flowID := s.activate(`{"name": "orders", "nodes": [
		{"id": "queue", "type": "trigger.rabbitmq", "params": {"credential": "mq", "queue": "` + queue + `"}}], "edges": []}`)
	mq.Publish(t, queue, amqp.Publishing{Body: []byte(`{"n": 1}`)})
	s.finishedRuns(flowID, 1)

	p.cut()
	state := s.waitStatus(flowID, consumers.StatusRetrying)
	assert.NotEmpty(t, state.Error)
	assert.NotNil(t, state.RetryAt)
	for n := 2; n <= 4; n++ {
		mq.Publish(t, queue, amqp.Publishing{Body: fmt.Appendf(nil, `{"n": %d}`, n)})
	}
	p.restore()
	s.waitStatus(flowID, consumers.StatusConnected)
	runs := s.finishedRuns(flowID, 4)
	assert.Len(t, runs, 4, "the messages published while RabbitMQ was away run once it is back")
}
