package consumers_test

import (
	"fmt"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/nodes/rabbitmqtest"
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

			s.checkGolden(flowID, "RABBITMQ", queue, "message:m-1", "body is not valid JSON")

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

	s.checkOutage(p, flowID, func(n int) {
		mq.Publish(t, queue, amqp.Publishing{Body: fmt.Appendf(nil, `{"n": %d}`, n)})
	})
}
