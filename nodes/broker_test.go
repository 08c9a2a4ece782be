package nodes

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/engine/expression"
	"github.com/hookflow/hookflow/engine/netguard"
)

// brokerServices are services with creds and fresh broker connections,
// closed when the test ends.
func brokerServices(t *testing.T, creds dbCreds) *Services {
	t.Helper()
	brokers := NewBrokerConnections()
	t.Cleanup(brokers.Close)
	return &Services{Credentials: creds, Brokers: brokers}
}

// brokerInput is the input of a publish step run with services.
func brokerInput(services *Services, input any) *Input {
	return &Input{
		Scope:          &expression.Scope{Trigger: map[string]any{}, Steps: map[string]any{}, Input: input},
		Logger:         slog.New(slog.DiscardHandler),
		Services:       services,
		Secrets:        &Secrets{},
		IdempotencyKey: "run-1:publish",
	}
}

// consumer runs a broker trigger's Consume in the background and keeps
// the messages its Handle is given.
type consumer struct {
	mu       sync.Mutex
	messages []*Message
	// failNext makes that many Handle calls fail, as when the database
	// does not answer.
	failNext int
	// refuse makes Handle answer MessageRefused.
	refuse     bool
	subscribed chan struct{}
	stop       context.CancelFunc
	done       chan error
}

// consume starts consuming as the instance of a flow of its own; the
// consumer is stopped when the test ends.
func consume(t *testing.T, trigger BrokerTrigger, services *Services, instance string, setup func(*consumer)) *consumer {
	t.Helper()
	return consumeFlow(t, trigger, services, "flow-"+instance, instance, setup)
}

// consumeFlow is consume with the flow named: instances of one flow share
// its durable consumer, queue group or session.
func consumeFlow(t *testing.T, trigger BrokerTrigger, services *Services, flowID, instance string, setup func(*consumer)) *consumer {
	t.Helper()
	c := &consumer{subscribed: make(chan struct{}), done: make(chan error, 1)}
	if setup != nil {
		setup(c)
	}
	ctx, stop := context.WithCancel(context.Background())
	c.stop = stop
	var once sync.Once
	go func() {
		c.done <- trigger.Consume(ctx, &Consumption{
			Services: services, FlowID: flowID, NodeID: "trigger", Instance: instance,
			Log:        slog.New(slog.DiscardHandler),
			Subscribed: func() { once.Do(func() { close(c.subscribed) }) },
			Handle:     c.handle,
		})
	}()
	t.Cleanup(func() { c.halt(t) })
	select {
	case <-c.subscribed:
	case err := <-c.done:
		c.done <- err
		t.Fatalf("Consume ended before it subscribed: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("Consume did not subscribe in 15 s")
	}
	return c
}

func (c *consumer) handle(_ context.Context, m *Message) (MessageOutcome, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failNext > 0 {
		c.failNext--
		return 0, errors.New("the database does not answer")
	}
	c.messages = append(c.messages, m)
	if c.refuse {
		return MessageRefused, nil
	}
	return MessageAccepted, nil
}

// halt stops Consume and returns what it returned; it must return within
// a few seconds of its context ending.
func (c *consumer) halt(t *testing.T) error {
	t.Helper()
	c.stop()
	select {
	case err := <-c.done:
		c.done <- err
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Consume did not return within 5 s of its context ending")
		return nil
	}
}

// requireRecordFailed checks that Consume ended, within 10 s, with the
// error of a Handle that could not record a message (failNext): one
// another attempt may mend.
func (c *consumer) requireRecordFailed(t *testing.T) {
	t.Helper()
	select {
	case err := <-c.done:
		c.done <- err
		require.ErrorContains(t, err, "the database does not answer")
		assert.False(t, IsPermanent(err))
	case <-time.After(10 * time.Second):
		t.Fatal("Consume went on after a message was not recorded")
	}
}

// wait waits until n messages were handled and returns them.
func (c *consumer) wait(t *testing.T, n int) []*Message {
	t.Helper()
	require.Eventually(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.messages) >= n
	}, 15*time.Second, 10*time.Millisecond, "%d messages handled", n)
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Message(nil), c.messages...)
}

// count is how many messages were handled so far.
func (c *consumer) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.messages)
}

// guarded sets services dialling through the SSRF guard as a server does
// by default, refusing loopback and private addresses.
func guarded(t *testing.T) func(*Services) {
	t.Helper()
	guard, err := netguard.New(false, nil)
	require.NoError(t, err)
	return func(s *Services) {
		s.Dial = guard.DialContext
		s.Refused = func(err error) bool {
			var blocked *netguard.BlockedError
			return errors.As(err, &blocked)
		}
	}
}

// brokerCreds is one credential, name, of type typ with data over
// defaults; its password and token are its secrets.
func brokerCreds(name, typ string, defaults, data map[string]any) dbCreds {
	cred := &Credential{Name: name, Type: typ, Data: map[string]any{}}
	for _, m := range []map[string]any{defaults, data} {
		for k, v := range m {
			cred.Data[k] = v
		}
	}
	for _, f := range []string{"password", "token"} {
		if p, _ := cred.Data[f].(string); p != "" {
			cred.Secrets = append(cred.Secrets, p)
		}
	}
	return dbCreds{name: cred}
}

// requireShared checks that total messages went each to one of a and b,
// and both took some.
func requireShared(t *testing.T, a, b *consumer, total int) {
	t.Helper()
	require.Eventually(t, func() bool { return a.count()+b.count() >= total }, 15*time.Second, 10*time.Millisecond)
	time.Sleep(300 * time.Millisecond) // no more come
	seen := map[string]int{}
	for _, c := range []*consumer{a, b} {
		for _, m := range c.wait(t, 0) {
			seen[string(m.Body)]++
		}
	}
	assert.Len(t, seen, total)
	for body, n := range seen {
		assert.Equal(t, 1, n, "message %s went to one instance", body)
	}
	t.Logf("instance a took %d messages, b %d", a.count(), b.count())
	assert.Positive(t, a.count())
	assert.Positive(t, b.count())
}
