package nodes

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/nodes/mqtttest"
	"github.com/hookflow/hookflow/nodes/smtptest"
)

func mqttCreds(data map[string]any) dbCreds {
	return brokerCreds("broker", CredentialMQTT, map[string]any{"url": "mqtt://" + mqtttest.Addr}, data)
}

func mqttTrigger(t *testing.T, params string) *MQTTTrigger {
	t.Helper()
	return build(t, KindMQTTTrigger, `{"credential": "broker", `+params[1:]).(*MQTTTrigger)
}

// mqttInstance is an instance name of the test's own, so its trigger's
// session is too; the session is ended when the test ends.
func mqttInstance(t *testing.T, prefix, name string) string {
	t.Helper()
	instance := strings.ReplaceAll(prefix, "/", "-") + name
	t.Cleanup(func() { mqtttest.ForgetSession(mqtttest.Addr, MQTTClientID("flow-"+instance, "trigger")) })
	return instance
}

// mqttQueueCase is a trigger on a topic of the test's own, "<prefix>orders",
// consumed under a session of the test's own.
type mqttQueueCase struct {
	services *Services
	trigger  *MQTTTrigger
	instance string
}

func mqttQueue(t *testing.T) (mqtt.Client, string, *mqttQueueCase) {
	t.Helper()
	client, prefix := mqtttest.Prefix(t, mqtttest.Addr)
	return client, prefix, &mqttQueueCase{
		services: brokerServices(t, mqttCreds(nil)),
		trigger:  mqttTrigger(t, `{"topics": ["`+prefix+`orders"]}`),
		instance: mqttInstance(t, prefix, "a"),
	}
}

func (q *mqttQueueCase) consume(t *testing.T, setup func(*consumer)) *consumer {
	t.Helper()
	return consume(t, q.trigger, q.services, q.instance, setup)
}

// requireAcknowledged stops c and consumes the session again: nothing
// comes, every message was acknowledged.
func (q *mqttQueueCase) requireAcknowledged(t *testing.T, c *consumer) {
	t.Helper()
	require.NoError(t, c.halt(t))
	again := q.consume(t, nil)
	time.Sleep(500 * time.Millisecond)
	assert.Zero(t, again.count(), "every message was acknowledged")
}

func TestMQTTRoundTrip(t *testing.T) {
	t.Parallel()
	client, prefix := mqtttest.Prefix(t, mqtttest.Addr)
	services := brokerServices(t, mqttCreds(nil))
	c := consume(t, mqttTrigger(t, `{"topics": ["`+prefix+`orders/#", "`+prefix+`+/refunds"]}`), services, mqttInstance(t, prefix, "a"), nil)

	publish := build(t, KindMQTTPublish, `{"credential": "broker", "topic": "`+prefix+`orders/{{ input.id }}", "payload": "{{ input }}"}`)
	res, err := publish.Run(context.Background(), brokerInput(services, map[string]any{"id": 7, "total": 12.5}))
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"published": true, "topic": prefix + "orders/7"}, res.Output)
	mqtttest.Publish(t, client, prefix+"shop/refunds", "plain text")
	mqtttest.Publish(t, client, prefix+"elsewhere", "not subscribed")

	got := c.wait(t, 2)
	// Recorded concurrently: in any order.
	if got[0].Topic != prefix+"orders/7" {
		got[0], got[1] = got[1], got[0]
	}
	assert.Equal(t, &Message{Topic: prefix + "orders/7", Body: []byte(`{"id":7,"total":12.5}`), Headers: map[string]string{
		"topic": prefix + "orders/7", "qos": "1", "retained": "false", "duplicate": "false"}}, got[0],
		"no id, no content type: MQTT 3.1.1 has neither")
	assert.Equal(t, prefix+"shop/refunds", got[1].Topic)
	assert.Equal(t, "plain text", string(got[1].Body))
	time.Sleep(200 * time.Millisecond)
	assert.Equal(t, 2, c.count(), "a topic matching no filter is not received")
}

func TestMQTTPublishQoS0AndRetain(t *testing.T) {
	t.Parallel()
	_, prefix := mqtttest.Prefix(t, mqtttest.Addr)
	services := brokerServices(t, mqttCreds(nil))
	publish := build(t, KindMQTTPublish, `{"credential": "broker", "topic": "`+prefix+`status", "payload": "up {{ input.n }}", "qos": 0, "retain": true}`)
	_, err := publish.Run(context.Background(), brokerInput(services, map[string]any{"n": 1}))
	require.NoError(t, err)

	// The broker keeps a retained message for new subscribers: skipped
	// unless the trigger asks for it.
	instance := mqttInstance(t, prefix, "r")
	skips := consume(t, mqttTrigger(t, `{"topics": ["`+prefix+`status"]}`), services, instance, nil)
	time.Sleep(300 * time.Millisecond)
	assert.Zero(t, skips.count(), "the retained message is skipped")
	// One published with retain while subscribed comes without the flag,
	// and runs.
	_, err = publish.Run(context.Background(), brokerInput(services, map[string]any{"n": 2}))
	require.NoError(t, err)
	live := skips.wait(t, 1)
	assert.Equal(t, "up 2", string(live[0].Body))
	assert.Equal(t, map[string]string{"topic": prefix + "status", "qos": "0", "retained": "false", "duplicate": "false"}, live[0].Headers)
	require.NoError(t, skips.halt(t))
	takes := consume(t, mqttTrigger(t, `{"topics": ["`+prefix+`status"], "retained": true}`), services, instance, nil)
	got := takes.wait(t, 1)
	assert.Equal(t, "up 2", string(got[0].Body))
	assert.Equal(t, "true", got[0].Headers["retained"])
	// Clear it.
	_, err = build(t, KindMQTTPublish, `{"credential": "broker", "topic": "`+prefix+`status", "payload": "", "retain": true}`).
		Run(context.Background(), brokerInput(services, nil))
	require.NoError(t, err)
}

// TestMQTTSessionKeepsMessages: messages published while the trigger is
// not consuming wait in its persistent session.
func TestMQTTSessionKeepsMessages(t *testing.T) {
	t.Parallel()
	client, prefix, q := mqttQueue(t)
	first := q.consume(t, nil)
	require.NoError(t, first.halt(t))
	for n := range 5 {
		mqtttest.Publish(t, client, prefix+"orders", fmt.Sprintf(`{"n": %d}`, n))
	}
	again := q.consume(t, nil)
	var bodies []string
	for _, m := range again.wait(t, 5) {
		bodies = append(bodies, string(m.Body))
	}
	assert.ElementsMatch(t, []string{`{"n": 0}`, `{"n": 1}`, `{"n": 2}`, `{"n": 3}`, `{"n": 4}`}, bodies)
}

func TestMQTTTriggerAcksOnlyRecordedMessages(t *testing.T) {
	t.Parallel()
	client, prefix, q := mqttQueue(t)
	failing := q.consume(t, func(c *consumer) { c.failNext = 1 })
	mqtttest.Publish(t, client, prefix+"orders", `{"n": 1}`)

	// The record failed: Consume ends with the error, the message not
	// acknowledged.
	failing.requireRecordFailed(t)

	// The session's next connect gets it again, marked as a duplicate.
	again := q.consume(t, nil)
	got := again.wait(t, 1)
	assert.JSONEq(t, `{"n": 1}`, string(got[0].Body))
	assert.Equal(t, "true", got[0].Headers["duplicate"])

	// Recorded and acknowledged: a third session gets nothing.
	q.requireAcknowledged(t, again)
}

func TestMQTTRefusedMessagesAreAcknowledged(t *testing.T) {
	t.Parallel()
	client, prefix, q := mqttQueue(t)
	refusing := q.consume(t, func(c *consumer) { c.refuse = true })
	mqtttest.Publish(t, client, prefix+"orders", `{"id": `)
	refusing.wait(t, 1)
	q.requireAcknowledged(t, refusing)
}

// TestMQTTManyMessagesConcurrently: messages are recorded concurrently and
// each acknowledged once.
func TestMQTTManyMessagesConcurrently(t *testing.T) {
	t.Parallel()
	client, prefix, q := mqttQueue(t)
	c := q.consume(t, nil)
	const total = 300
	payloads := make([]string, total)
	for n := range payloads {
		payloads[n] = fmt.Sprintf(`{"n": %d}`, n)
	}
	mqtttest.Publish(t, client, prefix+"orders", payloads...)
	got := c.wait(t, total)
	seen := map[string]bool{}
	for _, m := range got {
		seen[string(m.Body)] = true
	}
	assert.Len(t, seen, total)
	q.requireAcknowledged(t, c)
}

func TestMQTTTriggerStopsPromptly(t *testing.T) {
	t.Parallel()
	_, prefix := mqtttest.Prefix(t, mqtttest.Addr)
	services := brokerServices(t, mqttCreds(nil))
	c := consume(t, mqttTrigger(t, `{"topics": ["`+prefix+`idle"]}`), services, mqttInstance(t, prefix, "a"), nil)
	start := time.Now()
	require.NoError(t, c.halt(t), "Consume returns nil when its context ends")
	assert.Less(t, time.Since(start), 3*time.Second)
}

func TestMQTTClientID(t *testing.T) {
	t.Parallel()
	id := MQTTClientID("0193b7d2-7c4e-7a2b-9f00-123456789abc", "orders")
	assert.Len(t, id, 23, "MQTT 3.1.1 brokers must take 23 characters")
	assert.Equal(t, id, MQTTClientID("0193b7d2-7c4e-7a2b-9f00-123456789abc", "orders"), "stable across restarts")
	assert.NotEqual(t, id, MQTTClientID("0193b7d2-7c4e-7a2b-9f00-123456789abc", "refunds"))
	assert.True(t, new(MQTTTrigger).SingleConsumer())
}

func TestMQTTTopics(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"a", "a/b", "a/+/c", "+", "#", "a/#", "+/+/#", "/a"} {
		assert.NoError(t, checkMQTTFilter(f), f)
	}
	for _, f := range []string{"", "a#", "a/#/b", "a/b+", "+a/b", "a/\x00"} {
		assert.Error(t, checkMQTTFilter(f), f)
	}
	matches := []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true}, {"a/+", "a/b", true}, {"a/+", "a/b/c", false}, {"a/#", "a", true},
		{"a/#", "a/b/c", true}, {"+/b", "a/b", true}, {"#", "$SYS/x", false}, {"a/b", "a/c", false},
	}
	for _, tt := range matches {
		assert.Equal(t, tt.want, mqttMatch(tt.filter, tt.topic), "%s ~ %s", tt.filter, tt.topic)
	}
}

func TestMQTTParams(t *testing.T) {
	t.Parallel()
	publishTests := []struct{ params, field string }{
		{`{"credential": "c", "topic": "orders/#"}`, "topic"},
		{`{"credential": "c", "topic": "orders/+/x"}`, "topic"},
		{`{"credential": "c", "topic": ""}`, "topic"},
		{`{"credential": "c", "topic": "a", "qos": 2}`, "qos"},
		{`{"credential": "c", "topic": "{{ input. }}"}`, "topic"},
	}
	for _, tt := range publishTests {
		errs := buildErrors(t, KindMQTTPublish, tt.params)
		require.NotEmpty(t, errs, tt.params)
		assert.Equal(t, tt.field, errs[0].Field, tt.params)
	}
	triggerTests := []struct{ params, field, message string }{
		{`{"credential": "c"}`, "topics", ""},
		{`{"credential": "c", "topics": []}`, "topics", ""},
		{`{"credential": "c", "topics": ["a/#/b"]}`, "topics", "# must be a whole level, and the last"},
		{`{"credential": "c", "topics": ["a/b+"]}`, "topics", "+ must be a whole level"},
		{`{"credential": "c", "topics": ["a", "a"]}`, "topics", "given twice"},
		{`{"credential": "c", "topics": ["a"], "dedupe": "trigger.body."}`, "dedupe", ""},
	}
	for _, tt := range triggerTests {
		errs := buildErrors(t, KindMQTTTrigger, tt.params)
		require.NotEmpty(t, errs, tt.params)
		assert.Equal(t, tt.field, errs[0].Field, tt.params)
		assert.Contains(t, errs[0].Message, tt.message, tt.params)
	}

	// A topic made by a template is checked when it is rendered.
	services := brokerServices(t, mqttCreds(nil))
	_, err := build(t, KindMQTTPublish, `{"credential": "broker", "topic": "orders/{{ input.id }}"}`).
		Run(context.Background(), brokerInput(services, map[string]any{"id": "#"}))
	require.ErrorContains(t, err, "holds a wildcard")
	assert.True(t, IsPermanent(err))
}

func TestMQTTCredential(t *testing.T) {
	t.Parallel()
	ct, ok := builtins(t).CredentialType(CredentialMQTT)
	require.True(t, ok)
	checkCredentialCases(t, ct, []credentialCase{
		{data: map[string]any{"url": "mqtt://127.0.0.1:1883"}},
		{data: map[string]any{"url": "mqtts://broker.example.com", "username": "u", "password": "pw"}},
		{data: map[string]any{"url": "tcp://127.0.0.1"}},
		{data: map[string]any{"url": "http://127.0.0.1:1883"}, field: "url"},
		{data: map[string]any{"url": "mqtt://:1883"}, field: "url"},
		{data: map[string]any{"url": "mqtt://u:pw@127.0.0.1:1883"}, field: "url"},
		{data: map[string]any{"url": "mqtt://127.0.0.1:99999"}, field: "url"},
		{data: map[string]any{"url": "mqtt://127.0.0.1/topic"}, field: "url"},
		{data: map[string]any{"url": "mqtt://127.0.0.1", "password": "pw"}, field: "username"},
		{data: map[string]any{"url": "mqtt://127.0.0.1", "ca_certificate": "not a PEM"}, field: "ca_certificate"},
		{data: map[string]any{}, field: "url"},
	})
}

// connackServer answers every CONNECT with a CONNACK of code, as a broker
// refusing the client does.
func connackServer(t *testing.T, code byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				buf := make([]byte, 1024)
				_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := conn.Read(buf); err != nil {
					return
				}
				_, _ = conn.Write([]byte{0x20, 0x02, 0x00, code})
				_, _ = conn.Read(buf)
			}()
		}
	}()
	return ln.Addr().String()
}

func TestMQTTErrors(t *testing.T) {
	t.Parallel()
	_, prefix := mqtttest.Prefix(t, mqtttest.Addr)
	tlsServer := smtptest.Start(t, smtptest.Options{Security: smtptest.ImplicitTLS})
	tlsURL := fmt.Sprintf("mqtts://%s:%d", tlsServer.Host, tlsServer.Port)
	login := map[string]any{"username": "hookflow", "password": "s3cret-pass"}
	withURL := func(u string) map[string]any {
		return map[string]any{"url": u, "username": "hookflow", "password": "s3cret-pass"}
	}
	tests := []struct {
		name     string
		cred     map[string]any
		services func(*Services)
		wantErr  string
		final    bool
	}{
		{name: "bad username or password (CONNACK 4)", cred: withURL("mqtt://" + connackServer(t, 4)),
			wantErr: "the broker refused the username or password", final: true},
		{name: "not authorised (CONNACK 5)", cred: withURL("mqtt://" + connackServer(t, 5)),
			wantErr: "does not authorise this client", final: true},
		{name: "client id rejected (CONNACK 2)", cred: withURL("mqtt://" + connackServer(t, 2)),
			wantErr: "rejected the client id", final: true},
		{name: "server unavailable (CONNACK 3)", cred: withURL("mqtt://" + connackServer(t, 3)),
			wantErr: "unavailable for now"},
		{name: "nothing listening", cred: withURL("mqtt://127.0.0.1:1"), wantErr: "connection refused"},
		{name: "a certificate no CA given signs", cred: withURL(tlsURL),
			wantErr: "certificate", final: true},
		{name: "a loopback address, refused by the guard", cred: login, services: guarded(t),
			wantErr: "is a loopback address, which flows may not reach", final: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			services := brokerServices(t, mqttCreds(tt.cred))
			if tt.services != nil {
				tt.services(services)
			}
			in := brokerInput(services, nil)
			_, err := build(t, KindMQTTPublish, `{"credential": "broker", "topic": "`+prefix+`x", "payload": "hi"}`).Run(context.Background(), in)
			require.Error(t, err)
			t.Log(err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Equal(t, tt.final, IsPermanent(err), "%v", err)
			assert.NotContains(t, err.Error(), "s3cret-pass")

			// The trigger fails to connect the same way.
			err = mqttTrigger(t, `{"topics": ["`+prefix+`x"]}`).Consume(context.Background(), &Consumption{
				Services: services, FlowID: "f", NodeID: "n", Log: in.Logger, Subscribed: func() {},
				Handle: func(context.Context, *Message) (MessageOutcome, error) { return MessageAccepted, nil },
			})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Equal(t, tt.final, IsPermanent(err), "%v", err)
			assert.NotContains(t, err.Error(), "s3cret-pass")
		})
	}

	// With the certificate as the CA, TLS is accepted (the server then
	// does not speak MQTT).
	cred := withURL(tlsURL)
	cred["ca_certificate"] = tlsServer.CertPEM
	_, err := build(t, KindMQTTPublish, `{"credential": "broker", "topic": "x", "payload": "hi"}`).
		Run(context.Background(), brokerInput(brokerServices(t, mqttCreds(cred)), nil))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "certificate")
	assert.False(t, IsPermanent(err), "%v", err)
}

// TestMQTTPublisherReconnects: the shared publisher, once its connection
// broke, is replaced.
func TestMQTTPublisherReconnects(t *testing.T) {
	t.Parallel()
	_, prefix := mqtttest.Prefix(t, mqtttest.Addr)
	services := brokerServices(t, mqttCreds(nil))
	cred := mqttCreds(nil)["broker"]
	first, err := mqttPublishClient(context.Background(), services, cred)
	require.NoError(t, err)
	first.Disconnect(0)
	require.Eventually(t, func() bool { return !first.IsConnectionOpen() }, 5*time.Second, 10*time.Millisecond)
	publish := build(t, KindMQTTPublish, `{"credential": "broker", "topic": "`+prefix+`x", "payload": "hi"}`)
	_, err = publish.Run(context.Background(), brokerInput(services, nil))
	require.NoError(t, err)
	second, err := mqttPublishClient(context.Background(), services, cred)
	require.NoError(t, err)
	assert.NotSame(t, first, second)
	var _ mqtt.Client = second
}

// TestMQTTRecordsConcurrently: Handle is called for several messages at
// once (they share commits), and every one is acknowledged, in order,
// once all before it are.
func TestMQTTRecordsConcurrently(t *testing.T) {
	t.Parallel()
	client, prefix, q := mqttQueue(t)
	var (
		mu                sync.Mutex
		inFlight, highest int
		handled           int
	)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- q.trigger.Consume(ctx, &Consumption{
			Services: q.services, FlowID: "flow-" + q.instance, NodeID: "trigger", Log: slog.New(slog.DiscardHandler),
			Subscribed: func() {},
			Handle: func(context.Context, *Message) (MessageOutcome, error) {
				mu.Lock()
				inFlight++
				highest = max(highest, inFlight)
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
				mu.Lock()
				inFlight--
				handled++
				mu.Unlock()
				return MessageAccepted, nil
			},
		})
	}()
	payloads := make([]string, 60)
	for n := range payloads {
		payloads[n] = fmt.Sprintf(`{"n": %d}`, n)
	}
	time.Sleep(300 * time.Millisecond) // subscribed
	mqtttest.Publish(t, client, prefix+"orders", payloads...)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return handled == len(payloads)
	}, 15*time.Second, 10*time.Millisecond)
	stop()
	require.NoError(t, <-done)
	t.Logf("at most %d messages were recorded at once", highest)
	assert.Greater(t, highest, 1, "messages are recorded concurrently")
	q.requireAcknowledged(t, q.consume(t, nil))
}
