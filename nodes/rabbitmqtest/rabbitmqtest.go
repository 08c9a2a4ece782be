// Package rabbitmqtest gives tests the local RabbitMQ, with queues and
// exchanges of their own.
package rabbitmqtest

import (
	"context"
	"crypto/rand"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Addr is where the tests' RabbitMQ answers (user guest, password guest);
// make test starts one there when none does (.ci/with-brokers).
const Addr = "127.0.0.1:5672"

// URL is the URL of a credential of the local RabbitMQ: guest is the
// default user and password.
const URL = "amqp://" + Addr + "/"

// Broker is a connection to the local RabbitMQ, and a name prefix of the
// test's own: the queues and exchanges it names are deleted when the test
// ends.
type Broker struct {
	Conn   *amqp.Connection
	Prefix string

	mu        sync.Mutex
	queues    []string
	exchanges []string
}

// New connects to the local RabbitMQ; the test is skipped when none
// answers.
func New(t testing.TB) *Broker {
	t.Helper()
	conn, err := amqp.DialConfig("amqp://guest:guest@"+Addr+"/", amqp.Config{Dial: amqp.DefaultDial(2 * time.Second)})
	if err != nil {
		t.Skipf("no RabbitMQ at %s (make test starts one): %v", Addr, err)
	}
	b := &Broker{Conn: conn, Prefix: "hftest." + strings.ToLower(rand.Text()[:10]) + "."}
	t.Cleanup(func() {
		ch, err := conn.Channel()
		if err == nil {
			b.mu.Lock()
			for _, q := range b.queues {
				_, _ = ch.QueueDelete(q, false, false, false)
			}
			for _, x := range b.exchanges {
				_ = ch.ExchangeDelete(x, false, false)
			}
			b.mu.Unlock()
		}
		_ = conn.Close()
	})
	return b
}

// Queue is a queue name of the test's own, deleted when it ends.
func (b *Broker) Queue(name string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.queues = append(b.queues, b.Prefix+name)
	return b.Prefix + name
}

// Exchange declares a durable exchange of the test's own, of kind
// (amqp.ExchangeFanout …), deleted when the test ends.
func (b *Broker) Exchange(t testing.TB, name, kind string) string {
	t.Helper()
	b.mu.Lock()
	b.exchanges = append(b.exchanges, b.Prefix+name)
	b.mu.Unlock()
	ch := b.Channel(t)
	defer ch.Close()
	if err := ch.ExchangeDeclare(b.Prefix+name, kind, true, false, false, false, nil); err != nil {
		t.Fatalf("declare exchange %s: %v", b.Prefix+name, err)
	}
	return b.Prefix + name
}

// DeclareQueue declares a durable queue of the test's own with args, bound
// to exchange if one is given, and returns its name.
func (b *Broker) DeclareQueue(t testing.TB, name string, args amqp.Table, exchange string) string {
	t.Helper()
	q := b.Queue(name)
	ch := b.Channel(t)
	defer ch.Close()
	if _, err := ch.QueueDeclare(q, true, false, false, false, args); err != nil {
		t.Fatalf("declare queue %s: %v", q, err)
	}
	if exchange != "" {
		if err := ch.QueueBind(q, "#", exchange, false, nil); err != nil {
			t.Fatalf("bind queue %s: %v", q, err)
		}
	}
	return q
}

// Channel opens a channel.
func (b *Broker) Channel(t testing.TB) *amqp.Channel {
	t.Helper()
	ch, err := b.Conn.Channel()
	if err != nil {
		t.Fatalf("open a channel: %v", err)
	}
	return ch
}

// Publish publishes messages to the default exchange with the queue as
// routing key, and waits until the broker confirmed each.
func (b *Broker) Publish(t testing.TB, queue string, msgs ...amqp.Publishing) {
	t.Helper()
	ch := b.Channel(t)
	defer ch.Close()
	if err := ch.Confirm(false); err != nil {
		t.Fatalf("confirm mode: %v", err)
	}
	confirms := make([]*amqp.DeferredConfirmation, 0, len(msgs))
	for _, m := range msgs {
		if m.DeliveryMode == 0 {
			m.DeliveryMode = amqp.Persistent
		}
		dc, err := ch.PublishWithDeferredConfirm("", queue, true, false, m)
		if err != nil {
			t.Errorf("publish to %s: %v", queue, err)
			return
		}
		confirms = append(confirms, dc)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, dc := range confirms {
		if ok, err := dc.WaitContext(ctx); !ok || err != nil {
			t.Errorf("RabbitMQ did not confirm a message to %s: %v", queue, err)
			return
		}
	}
}

// Get takes the next message of a queue, acknowledged; ok is false when
// there is none.
func (b *Broker) Get(t testing.TB, queue string) (amqp.Delivery, bool) {
	t.Helper()
	ch := b.Channel(t)
	defer ch.Close()
	d, ok, err := ch.Get(queue, true)
	if err != nil {
		t.Fatalf("get from %s: %v", queue, err)
	}
	return d, ok
}

// Counts are how many messages of a queue are ready and how many consumers
// it has.
func (b *Broker) Counts(t testing.TB, queue string) (ready, consumers int) {
	t.Helper()
	ch := b.Channel(t)
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		t.Fatalf("inspect queue %s: %v", queue, err)
	}
	return q.Messages, q.Consumers
}
