package nodes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/engine/netguard"
	"github.com/hookflow/hookflow/nodes/rabbitmqtest"
)

func rabbitCreds(data map[string]any) dbCreds {
	return brokerCreds("mq", CredentialRabbitMQ, map[string]any{"url": rabbitmqtest.URL}, data)
}

func rabbitPublish(t *testing.T, params string) Node {
	t.Helper()
	return build(t, KindRabbitMQPublish, `{"credential": "mq", `+params[1:])
}

func rabbitTrigger(t *testing.T, params string) *RabbitMQTrigger {
	t.Helper()
	return build(t, KindRabbitMQTrigger, `{"credential": "mq", `+params[1:]).(*RabbitMQTrigger)
}

func TestRabbitMQPublish(t *testing.T) {
	t.Parallel()
	mq := rabbitmqtest.New(t)
	ctx := context.Background()
	services := brokerServices(t, rabbitCreds(nil))
	queue := mq.DeclareQueue(t, "orders", nil, "")

	n := rabbitPublish(t, `{"routing_key": "`+queue+`", "body": "{{ input }}", "headers": {"source": "shop", "order": "{{ input.id }}"}}`)
	res, err := n.Run(ctx, brokerInput(services, map[string]any{"id": 7}))
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"confirmed": true}, res.Output)
	d, ok := mq.Get(t, queue)
	require.True(t, ok, "the message is on the queue")
	assert.Equal(t, `{"id":7}`, string(d.Body))
	assert.Equal(t, "application/json", d.ContentType, "a JSON body says so")
	assert.Equal(t, "run-1:publish", d.MessageId, "the step's idempotency key is the message id")
	assert.Equal(t, amqp.Persistent, d.DeliveryMode)
	assert.Equal(t, amqp.Table{"source": "shop", "order": "7"}, d.Headers)

	n = rabbitPublish(t, `{"routing_key": "`+queue+`", "body": "hello {{ input.id }}", "persistent": false}`)
	_, err = n.Run(ctx, brokerInput(services, map[string]any{"id": 8}))
	require.NoError(t, err)
	d, ok = mq.Get(t, queue)
	require.True(t, ok)
	assert.Equal(t, "hello 8", string(d.Body))
	assert.Equal(t, "text/plain", d.ContentType)
	assert.Equal(t, amqp.Transient, d.DeliveryMode)

	// Through a topic exchange, by routing key.
	exchange := mq.Exchange(t, "events", amqp.ExchangeTopic)
	bound := mq.DeclareQueue(t, "events", nil, exchange)
	n = rabbitPublish(t, `{"exchange": "`+exchange+`", "routing_key": "order.{{ input.id }}", "body": "{{ input }}", "content_type": "application/vnd.shop+json"}`)
	_, err = n.Run(ctx, brokerInput(services, map[string]any{"id": 9}))
	require.NoError(t, err)
	d, ok = mq.Get(t, bound)
	require.True(t, ok)
	assert.Equal(t, "order.9", d.RoutingKey)
	assert.Equal(t, "application/vnd.shop+json", d.ContentType)

	// Unconfirmed: the step does not wait.
	n = rabbitPublish(t, `{"routing_key": "`+queue+`", "body": "x", "confirm": false}`)
	res, err = n.Run(ctx, brokerInput(services, nil))
	require.NoError(t, err)
	assert.Equal(t, false, res.Output.(map[string]any)["confirmed"])
	require.Eventually(t, func() bool { ready, _ := mq.Counts(t, queue); return ready == 1 }, 5*time.Second, 10*time.Millisecond)
}

func TestRabbitMQPublishFailures(t *testing.T) {
	t.Parallel()
	mq := rabbitmqtest.New(t)
	services := brokerServices(t, rabbitCreds(nil))
	tests := []struct {
		name, params, wantErr string
	}{
		{"a queue that does not exist, with mandatory", `{"routing_key": "` + mq.Prefix + `nowhere", "body": "x"}`,
			"no queue is bound to take it (312 NO_ROUTE)"},
		{"an exchange that does not exist", `{"exchange": "` + mq.Prefix + `missing", "routing_key": "k", "body": "x"}`,
			"it does not exist: NOT_FOUND - no exchange '" + mq.Prefix + "missing'"},
		{"an empty routing key", `{"routing_key": "{{ input }}", "body": "x"}`, "routing_key: the routing key is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := rabbitPublish(t, tt.params).Run(context.Background(), brokerInput(services, ""))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.True(t, IsPermanent(err), "%v", err)
		})
	}
	// The connection is still good for the next publish.
	queue := mq.DeclareQueue(t, "after", nil, "")
	_, err := rabbitPublish(t, `{"routing_key": "`+queue+`", "body": "x"}`).Run(context.Background(), brokerInput(services, nil))
	require.NoError(t, err)
}

func TestRabbitMQParams(t *testing.T) {
	t.Parallel()
	tests := []struct{ kind, params, field, message string }{
		{KindRabbitMQPublish, `{"credential": "c", "body": "x"}`, "routing_key", "is required with the default exchange"},
		{KindRabbitMQPublish, `{"credential": "c", "routing_key": "q"}`, "body", ""},
		{KindRabbitMQPublish, `{"credential": "c", "routing_key": "{{ input. }}", "body": "x"}`, "routing_key", ""},
		{KindRabbitMQPublish, `{"credential": "c", "routing_key": "q", "body": "x", "headers": {"a": "{{ ( }}"}}`, "headers.a", ""},
		{KindRabbitMQTrigger, `{"credential": "c"}`, "queue", ""},
		{KindRabbitMQTrigger, `{"credential": "c", "queue": ""}`, "queue", ""},
		{KindRabbitMQTrigger, `{"credential": "c", "queue": "q", "prefetch": 0}`, "prefetch", ""},
		{KindRabbitMQTrigger, `{"credential": "c", "queue": "q", "refusal_requeues": 11}`, "refusal_requeues", ""},
		{KindRabbitMQTrigger, `{"credential": "c", "queue": "q", "declare": false, "dead_letter_exchange": "dlx"}`, "dead_letter_exchange", "turn declare on"},
		{KindRabbitMQTrigger, `{"credential": "c", "queue": "q", "dedupe": "trigger.body."}`, "dedupe", ""},
	}
	for _, tt := range tests {
		errs := buildErrors(t, tt.kind, tt.params)
		require.NotEmpty(t, errs, tt.params)
		assert.Equal(t, tt.field, errs[0].Field, tt.params)
		assert.Contains(t, errs[0].Message, tt.message, tt.params)
	}
}

func TestRabbitMQCredential(t *testing.T) {
	t.Parallel()
	ct, ok := builtins(t).CredentialType(CredentialRabbitMQ)
	require.True(t, ok)
	checkCredentialCases(t, ct, []credentialCase{
		{data: map[string]any{"url": "amqp://127.0.0.1:5672/"}},
		{data: map[string]any{"url": "amqps://mq.example.com/orders", "username": "app", "password": "pw"}},
		{data: map[string]any{"url": "amqp://app@mq.example.com:5672/%2F"}},
		{data: map[string]any{"url": "amqp://app:pw@mq.example.com:5672/"}, field: "url"},
		{data: map[string]any{"url": "http://127.0.0.1:5672"}, field: "url"},
		{data: map[string]any{"url": "amqp:///vhost"}, field: "url"},
		{data: map[string]any{"url": "amqp://127.0.0.1:5672", "ca_certificate": "not a PEM"}, field: "ca_certificate"},
		{data: map[string]any{}, field: "url"},
	})
}

func TestRabbitMQErrors(t *testing.T) {
	t.Parallel()
	mq := rabbitmqtest.New(t)
	guard, err := netguard.New(false, nil)
	require.NoError(t, err)
	guarded := func(s *Services) {
		s.Dial = guard.DialContext
		s.Refused = func(err error) bool {
			var blocked *netguard.BlockedError
			return errors.As(err, &blocked)
		}
	}
	queue := mq.DeclareQueue(t, "orders", nil, "")
	// A TLS server whose certificate no CA of ours signed.
	untrusted := httptest.NewUnstartedServer(http.NotFoundHandler())
	untrusted.Config.ErrorLog = log.New(io.Discard, "", 0)
	untrusted.StartTLS()
	t.Cleanup(untrusted.Close)
	tests := []struct {
		name     string
		cred     map[string]any
		services func(*Services)
		wantErr  string
		final    bool
	}{
		{name: "a certificate no CA of ours signed", cred: map[string]any{"url": "amqps://" + untrusted.Listener.Addr().String() + "/"},
			wantErr: "certificate signed by unknown authority", final: true},
		{name: "a wrong password", cred: map[string]any{"username": "guest", "password": "s3cret-pass"},
			wantErr: "RabbitMQ refused the username or password", final: true},
		{name: "a vhost that does not exist", cred: map[string]any{"url": "amqp://127.0.0.1:5672/" + mq.Prefix + "nowhere"},
			wantErr: "vhost", final: true},
		{name: "nothing listening", cred: map[string]any{"url": "amqp://127.0.0.1:1/"},
			wantErr: "connection refused"},
		{name: "a loopback address, refused by the guard", services: guarded,
			wantErr: "is a loopback address, which flows may not reach", final: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			services := brokerServices(t, rabbitCreds(tt.cred))
			if tt.services != nil {
				tt.services(services)
			}
			in := brokerInput(services, nil)
			_, err := rabbitPublish(t, `{"routing_key": "`+queue+`", "body": "x"}`).Run(context.Background(), in)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Equal(t, tt.final, IsPermanent(err), "%v", err)
			assert.NotContains(t, err.Error(), "s3cret-pass")

			// The trigger fails the same way.
			trigger := rabbitTrigger(t, `{"queue": "`+queue+`"}`)
			err = trigger.Consume(context.Background(), &Consumption{Services: services, Subscribed: func() {}})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Equal(t, tt.final, IsPermanent(err), "%v", err)
			assert.NotContains(t, err.Error(), "s3cret-pass")
		})
	}
}

func TestRabbitMQTriggerQueueErrors(t *testing.T) {
	t.Parallel()
	mq := rabbitmqtest.New(t)
	services := brokerServices(t, rabbitCreds(nil))
	other := mq.DeclareQueue(t, "plain", nil, "")
	tests := []struct{ name, params, wantErr string }{
		{"a queue that does not exist, not declared", `{"queue": "` + mq.Prefix + `missing", "declare": false}`,
			"consume queue " + mq.Prefix + "missing: it does not exist: NOT_FOUND - no queue"},
		{"a queue declared with other arguments", `{"queue": "` + other + `", "dead_letter_exchange": "dlx"}`,
			"the queue exists with other settings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := rabbitTrigger(t, tt.params).Consume(context.Background(), &Consumption{Services: services, Subscribed: func() {}})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.True(t, IsPermanent(err), "%v", err)
		})
	}
}

func TestRabbitMQTrigger(t *testing.T) {
	t.Parallel()
	mq := rabbitmqtest.New(t)
	ctx := context.Background()
	queue := mq.Queue("orders")
	services := brokerServices(t, rabbitCreds(nil))
	c := consume(t, rabbitTrigger(t, `{"queue": "`+queue+`"}`), services, "a", nil)

	publish := rabbitPublish(t, `{"routing_key": "`+queue+`", "body": "{{ input }}", "headers": {"Source": "shop"}}`)
	_, err := publish.Run(ctx, brokerInput(services, map[string]any{"order": 1}))
	require.NoError(t, err)
	stamp := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	mq.Publish(t, queue, amqp.Publishing{Body: []byte("plain"), CorrelationId: "c-1", ReplyTo: "answers", Type: "order.created",
		AppId: "shop", Timestamp: stamp, Headers: amqp.Table{"attempt": int32(2), "flag": true}})

	got := c.wait(t, 2)
	first := got[0]
	assert.Equal(t, queue, first.Topic)
	assert.Equal(t, "run-1:publish", first.ID, "message_id is the message's id")
	assert.Equal(t, "application/json", first.ContentType)
	assert.Equal(t, `{"order":1}`, string(first.Body))
	assert.Equal(t, "shop", first.Headers["source"], "header names are lower-case")
	assert.Equal(t, queue, first.Headers["routing_key"])
	assert.Equal(t, "", first.Headers["exchange"])
	assert.Equal(t, "false", first.Headers["redelivered"])
	assert.Equal(t, "2", first.Headers["delivery_mode"])
	assert.Equal(t, "run-1:publish", first.Headers["message_id"])
	assert.Equal(t, &Message{Topic: queue, Body: []byte("plain"), Headers: map[string]string{
		"attempt": "2", "flag": "true", "correlation_id": "c-1", "reply_to": "answers", "type": "order.created",
		"app_id": "shop", "timestamp": "2026-12-05T08:00:00Z", "routing_key": queue, "exchange": "",
		"redelivered": "false", "delivery_mode": "2",
	}}, got[1], "without a message_id the message has no id; properties are headers")

	require.NoError(t, c.halt(t))
	ready, _ := mq.Counts(t, queue)
	assert.Zero(t, ready, "every message was acknowledged")
}

func TestRabbitMQTriggerAcksOnlyRecordedMessages(t *testing.T) {
	t.Parallel()
	mq := rabbitmqtest.New(t)
	queue := mq.Queue("orders")
	services := brokerServices(t, rabbitCreds(nil))
	trigger := rabbitTrigger(t, `{"queue": "`+queue+`"}`)
	failing := consume(t, trigger, services, "a", func(c *consumer) { c.failNext = 1 })
	mq.Publish(t, queue, amqp.Publishing{Body: []byte(`{"n": 1}`), MessageId: "m-1"})

	// The record failed: Consume ends with the error, the message requeued.
	failing.requireRecordFailed(t)
	ready, _ := mq.Counts(t, queue)
	assert.Equal(t, 1, ready, "the message whose record failed is back on the queue")

	again := consume(t, trigger, services, "a", nil)
	got := again.wait(t, 1)
	assert.Equal(t, "m-1", got[0].ID)
	assert.Equal(t, "true", got[0].Headers["redelivered"])
	require.NoError(t, again.halt(t))
	ready, _ = mq.Counts(t, queue)
	assert.Zero(t, ready)
}

// TestRabbitMQTriggerFailureAmongMessagesInFlight: one record failing
// among many in flight requeues it and what was not handled, and
// acknowledges the others: consumed again, each message is handled once.
func TestRabbitMQTriggerFailureAmongMessagesInFlight(t *testing.T) {
	t.Parallel()
	mq := rabbitmqtest.New(t)
	queue := mq.Queue("orders")
	services := brokerServices(t, rabbitCreds(nil))
	trigger := rabbitTrigger(t, `{"queue": "`+queue+`", "prefetch": 20}`)
	mq.DeclareQueue(t, "orders", nil, "")
	const total = 200
	msgs := make([]amqp.Publishing, total)
	for n := range msgs {
		msgs[n] = amqp.Publishing{Body: fmt.Appendf(nil, `{"n": %d}`, n), MessageId: fmt.Sprint(n)}
	}
	mq.Publish(t, queue, msgs...)
	failing := consume(t, trigger, services, "a", func(c *consumer) { c.failNext = 3 })
	failing.requireRecordFailed(t)
	first := failing.wait(t, 0)
	again := consume(t, trigger, services, "a", nil)
	rest := again.wait(t, total-len(first))
	time.Sleep(200 * time.Millisecond) // no more come
	seen := map[string]int{}
	for _, m := range append(first, again.wait(t, 0)...) {
		seen[m.ID]++
	}
	t.Logf("%d messages recorded before the failure, %d after", len(first), len(rest))
	assert.Len(t, seen, total)
	for id, n := range seen {
		assert.Equal(t, 1, n, "message %s was handled once", id)
	}
	require.NoError(t, again.halt(t))
	ready, _ := mq.Counts(t, queue)
	assert.Zero(t, ready)
}

func TestRabbitMQTriggerDeadLettersRefusedMessages(t *testing.T) {
	t.Parallel()
	mq := rabbitmqtest.New(t)
	dlx := mq.Exchange(t, "dead", amqp.ExchangeFanout)
	dead := mq.DeclareQueue(t, "dead", nil, dlx)
	services := brokerServices(t, rabbitCreds(nil))

	for _, requeues := range []int{0, 2} {
		t.Run(fmt.Sprintf("requeued %d times", requeues), func(t *testing.T) {
			queue := mq.Queue(fmt.Sprintf("orders%d", requeues))
			trigger := rabbitTrigger(t, fmt.Sprintf(`{"queue": %q, "dead_letter_exchange": %q, "refusal_requeues": %d}`, queue, dlx, requeues))
			c := consume(t, trigger, services, "a", func(c *consumer) { c.refuse = true })
			mq.Publish(t, queue, amqp.Publishing{Body: []byte(`{"n": `), MessageId: fmt.Sprint("bad-", requeues)})

			var d amqp.Delivery
			require.Eventually(t, func() bool {
				var ok bool
				d, ok = mq.Get(t, dead)
				return ok
			}, 10*time.Second, 20*time.Millisecond, "the refused message reaches the dead-letter queue")
			assert.Equal(t, fmt.Sprint("bad-", requeues), d.MessageId)
			assert.Equal(t, `{"n": `, string(d.Body))
			assert.Equal(t, requeues+1, c.count(), "handled once, and again after each requeue")
			require.NoError(t, c.halt(t))
			ready, _ := mq.Counts(t, queue)
			assert.Zero(t, ready)
		})
	}
}

func TestRabbitMQTriggerHandlesMessagesInFlightTogether(t *testing.T) {
	t.Parallel()
	mq := rabbitmqtest.New(t)
	queue := mq.Queue("orders")
	services := brokerServices(t, rabbitCreds(nil))
	c := consume(t, rabbitTrigger(t, `{"queue": "`+queue+`", "prefetch": 50}`), services, "a", nil)
	const total = 1000
	msgs := make([]amqp.Publishing, total)
	for n := range msgs {
		msgs[n] = amqp.Publishing{Body: fmt.Appendf(nil, `{"n": %d}`, n), MessageId: fmt.Sprint(n)}
	}
	mq.Publish(t, queue, msgs...)
	got := c.wait(t, total)
	seen := map[string]bool{}
	for _, m := range got {
		seen[m.ID] = true
	}
	assert.Len(t, seen, total)
	require.NoError(t, c.halt(t))
	ready, _ := mq.Counts(t, queue)
	assert.Zero(t, ready, "every message was acknowledged before the stop")
}

func TestRabbitMQTriggerConsumersShareTheQueue(t *testing.T) {
	t.Parallel()
	mq := rabbitmqtest.New(t)
	queue := mq.Queue("orders")
	trigger := rabbitTrigger(t, `{"queue": "`+queue+`", "prefetch": 10}`)
	a := consume(t, trigger, brokerServices(t, rabbitCreds(nil)), "a", nil)
	b := consume(t, trigger, brokerServices(t, rabbitCreds(nil)), "b", nil)
	const total = 300
	msgs := make([]amqp.Publishing, total)
	for n := range msgs {
		msgs[n] = amqp.Publishing{Body: fmt.Appendf(nil, `{"n": %d}`, n), MessageId: fmt.Sprint(n)}
	}
	mq.Publish(t, queue, msgs...)
	requireShared(t, a, b, total)
}

func TestRabbitMQTriggerNoticesTheConnectionClosing(t *testing.T) {
	t.Parallel()
	mq := rabbitmqtest.New(t)
	services := brokerServices(t, rabbitCreds(nil))
	queue := mq.Queue("orders")
	c := consume(t, rabbitTrigger(t, `{"queue": "`+queue+`"}`), services, "a", nil)
	cred, err := services.Credentials.Open(context.Background(), "mq")
	require.NoError(t, err)
	conn, err := rabbitConnection(context.Background(), services, cred)
	require.NoError(t, err)
	require.NoError(t, conn.Close())
	select {
	case err := <-c.done:
		c.done <- err
		require.Error(t, err, "Consume returns an error for the consumer to connect again")
	case <-time.After(5 * time.Second):
		t.Fatal("Consume did not notice its connection closed")
	}
	again, err := rabbitConnection(context.Background(), services, cred)
	require.NoError(t, err)
	assert.NotSame(t, conn, again, "a closed connection is replaced")
}

func TestRabbitMQTriggerStopsPromptly(t *testing.T) {
	t.Parallel()
	mq := rabbitmqtest.New(t)
	services := brokerServices(t, rabbitCreds(nil))
	c := consume(t, rabbitTrigger(t, `{"queue": "`+mq.Queue("idle")+`"}`), services, "a", nil)
	start := time.Now()
	require.NoError(t, c.halt(t), "Consume returns nil when its context ends")
	assert.Less(t, time.Since(start), 3*time.Second)
}

func TestRabbitMQTriggerConsumesAQuorumQueueNotDeclared(t *testing.T) {
	t.Parallel()
	mq := rabbitmqtest.New(t)
	queue := mq.DeclareQueue(t, "quorum", amqp.Table{"x-queue-type": "quorum"}, "")
	services := brokerServices(t, rabbitCreds(nil))
	c := consume(t, rabbitTrigger(t, `{"queue": "`+queue+`", "declare": false}`), services, "a", nil)
	mq.Publish(t, queue, amqp.Publishing{Body: []byte(`{"n": 1}`), MessageId: "q-1"})
	got := c.wait(t, 1)
	assert.Equal(t, "q-1", got[0].ID)
	require.NoError(t, c.halt(t))
	ready, _ := mq.Counts(t, queue)
	assert.Zero(t, ready)
}
