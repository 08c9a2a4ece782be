package nodes

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/engine/netguard"
	"github.com/hookflow/hookflow/nodes/natstest"
)

func natsCreds(data map[string]any) dbCreds {
	return brokerCreds("bus", CredentialNATS, map[string]any{"url": natstest.URL}, data)
}

func natsTrigger(t *testing.T, params string) *NATSTrigger {
	t.Helper()
	return build(t, KindNATSTrigger, `{"credential": "bus", `+params[1:]).(*NATSTrigger)
}

func natsPublish(t *testing.T, params string) Node {
	t.Helper()
	return build(t, KindNATSPublish, `{"credential": "bus", `+params[1:])
}

// natsConsumerInfo is the durable consumer of the trigger the test helpers
// run as instance (flow "flow-" + instance).
func natsConsumerInfo(t *testing.T, js jetstream.JetStream, stream, instance string) *jetstream.ConsumerInfo {
	t.Helper()
	c, err := js.Consumer(context.Background(), stream, natsConsumerName("flow-"+instance, "trigger"))
	require.NoError(t, err)
	info, err := c.Info(context.Background())
	require.NoError(t, err)
	return info
}

// requireNATSSettled waits until the durable consumer has no message
// waiting for its acknowledgement.
func requireNATSSettled(t *testing.T, js jetstream.JetStream, stream, instance string) {
	t.Helper()
	require.Eventually(t, func() bool {
		info := natsConsumerInfo(t, js, stream, instance)
		return info.NumAckPending == 0 && info.NumPending == 0
	}, 5*time.Second, 10*time.Millisecond, "every message of %s is settled", stream)
}

func TestNATSJetStreamRoundTrip(t *testing.T) {
	t.Parallel()
	_, js, prefix := natstest.Prefix(t)
	stream := prefix + "_ORDERS"
	natstest.Stream(t, js, stream, prefix+".orders.>")
	services := brokerServices(t, natsCreds(nil))
	ctx := context.Background()
	c := consume(t, natsTrigger(t, `{"subject": "`+prefix+`.orders.>"}`), services, "a", nil)

	publish := natsPublish(t, `{"subject": "`+prefix+`.orders.{{ input.region }}", "body": "{{ input }}",
		"headers": {"Content-Type": "application/json", "Source": "shop-{{ input.region }}"}}`)
	in := brokerInput(services, map[string]any{"order": 1, "region": "eu"})
	res, err := publish.Run(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"subject": prefix + ".orders.eu", "stream": stream, "sequence": uint64(1), "duplicate": false}, res.Output)
	res, err = publish.Run(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"subject": prefix + ".orders.eu", "stream": stream, "sequence": uint64(1), "duplicate": true}, res.Output,
		"a retried step carries the same Nats-Msg-Id: the stream stores it once")

	_, err = js.Publish(ctx, prefix+".orders.us", []byte("plain text"))
	require.NoError(t, err)

	got := c.wait(t, 2)
	// A batch's messages are handled concurrently, in any order.
	sort.Slice(got, func(i, j int) bool { return got[i].Headers["sequence"] < got[j].Headers["sequence"] })
	assert.Equal(t, &Message{Topic: prefix + ".orders.eu", ID: "run-1:publish", ContentType: "application/json",
		Body: []byte(`{"order":1,"region":"eu"}`), Headers: map[string]string{
			"subject": prefix + ".orders.eu", "content-type": "application/json", "source": "shop-eu", "nats-msg-id": "run-1:publish",
			"stream": stream, "sequence": "1", "delivered": "1",
		}}, got[0], "the headers, lower-case, with the subject, stream, sequence and delivery count")
	assert.Equal(t, stream+":2", got[1].ID, "without Nats-Msg-Id the stream sequence is the id")
	assert.Empty(t, got[1].ContentType)
	requireNATSSettled(t, js, stream, "a")
	assert.Len(t, c.wait(t, 2), 2, "the duplicate publish was not stored")
}

func TestNATSTriggerAcksOnlyRecordedMessages(t *testing.T) {
	t.Parallel()
	_, js, prefix := natstest.Prefix(t)
	stream := prefix + "_ORDERS"
	natstest.Stream(t, js, stream, prefix+".orders")
	services := brokerServices(t, natsCreds(nil))
	trigger := natsTrigger(t, `{"subject": "`+prefix+`.orders", "stream": "`+stream+`"}`)
	failing := consume(t, trigger, services, "a", func(c *consumer) { c.failNext = 1 })
	_, err := js.Publish(context.Background(), prefix+".orders", []byte(`{"n": 1}`))
	require.NoError(t, err)

	failing.requireRecordFailed(t)

	// Consuming again, the message comes again at once (it was nacked).
	again := consume(t, trigger, services, "a", nil)
	got := again.wait(t, 1)
	assert.JSONEq(t, `{"n": 1}`, string(got[0].Body))
	assert.Equal(t, "2", got[0].Headers["delivered"])
	assert.Equal(t, stream+":1", got[0].ID, "the same id on every delivery")
	requireNATSSettled(t, js, stream, "a")
}

func TestNATSTriggerTerminatesRefusedMessages(t *testing.T) {
	t.Parallel()
	_, js, prefix := natstest.Prefix(t)
	stream := prefix + "_ORDERS"
	natstest.Stream(t, js, stream, prefix+".orders")
	services := brokerServices(t, natsCreds(nil))
	c := consume(t, natsTrigger(t, `{"subject": "`+prefix+`.orders", "ack_wait_ms": 1000}`), services, "a",
		func(c *consumer) { c.refuse = true })
	_, err := js.Publish(context.Background(), prefix+".orders", []byte(`{"n": `))
	require.NoError(t, err)
	c.wait(t, 1)
	requireNATSSettled(t, js, stream, "a")
	time.Sleep(1500 * time.Millisecond) // past ack_wait
	assert.Equal(t, 1, c.count(), "a refused message is terminated, not delivered again")
	assert.Zero(t, natsConsumerInfo(t, js, stream, "a").NumRedelivered)
}

func TestNATSTriggerInstancesShareTheStream(t *testing.T) {
	t.Parallel()
	_, js, prefix := natstest.Prefix(t)
	stream := prefix + "_ORDERS"
	natstest.Stream(t, js, stream, prefix+".orders")
	trigger := natsTrigger(t, `{"subject": "`+prefix+`.orders", "batch": 10}`)
	a := consumeFlow(t, trigger, brokerServices(t, natsCreds(nil)), "flow", "a", nil)
	b := consumeFlow(t, trigger, brokerServices(t, natsCreds(nil)), "flow", "b", nil)
	const total = 300
	for n := range total {
		_, err := js.PublishAsync(prefix+".orders", fmt.Appendf(nil, `{"n": %d}`, n))
		require.NoError(t, err)
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(10 * time.Second):
		t.Fatal("publishing took over 10 s")
	}
	requireShared(t, a, b, total)
}

func TestNATSCoreRoundTrip(t *testing.T) {
	t.Parallel()
	nc, _, prefix := natstest.Prefix(t)
	services := brokerServices(t, natsCreds(nil))
	ctx := context.Background()
	subject := prefix + ".events"
	trigger := natsTrigger(t, `{"subject": "`+prefix+`.*"}`)
	a := consumeFlow(t, trigger, services, "flow", "a", nil)
	b := consumeFlow(t, trigger, brokerServices(t, natsCreds(nil)), "flow", "b", nil)

	publish := natsPublish(t, `{"subject": "`+subject+`", "body": "{{ input }}", "headers": {"Nats-Msg-Id": "order-{{ input.n }}"}}`)
	const total = 100
	for n := range total {
		res, err := publish.Run(ctx, brokerInput(services, map[string]any{"n": n}))
		require.NoError(t, err)
		assert.Equal(t, map[string]any{"published": true, "subject": subject}, res.Output, "no stream: a core publish")
	}
	requireShared(t, a, b, total)
	m := append(a.wait(t, 0), b.wait(t, 0)...)[0]
	assert.Equal(t, subject, m.Topic)
	assert.Regexp(t, `^order-\d+$`, m.ID, "Nats-Msg-Id is the id")
	assert.Equal(t, map[string]string{"subject": subject, "nats-msg-id": m.ID}, m.Headers)

	// Without the header a core message has no id.
	require.NoError(t, nc.Publish(subject, []byte("x")))
	require.NoError(t, nc.Flush())
	require.Eventually(t, func() bool { return a.count()+b.count() == total+1 }, 5*time.Second, 10*time.Millisecond)
	for _, c := range []*consumer{a, b} {
		for _, m := range c.wait(t, 0) {
			if string(m.Body) == "x" {
				assert.Empty(t, m.ID)
			}
		}
	}
}

func TestNATSPublishJetStreamModes(t *testing.T) {
	t.Parallel()
	_, js, prefix := natstest.Prefix(t)
	services := brokerServices(t, natsCreds(nil))
	ctx := context.Background()
	natstest.Stream(t, js, prefix+"_S", prefix+".stored")

	res, err := natsPublish(t, `{"subject": "`+prefix+`.stored", "body": "x", "jetstream": "off"}`).Run(ctx, brokerInput(services, nil))
	require.NoError(t, err)
	assert.Equal(t, true, res.Output.(map[string]any)["published"], "off: a core publish, which the stream stores too")
	res, err = natsPublish(t, `{"subject": "`+prefix+`.stored", "body": "y", "jetstream": "on"}`).Run(ctx, brokerInput(services, nil))
	require.NoError(t, err)
	assert.Equal(t, uint64(2), res.Output.(map[string]any)["sequence"])

	_, err = natsPublish(t, `{"subject": "`+prefix+`.nowhere", "body": "x", "jetstream": "on"}`).Run(ctx, brokerInput(services, nil))
	require.ErrorContains(t, err, "no JetStream stream captures the subject")
	assert.False(t, IsPermanent(err), "a stream may be made yet: retried")

	_, err = natsPublish(t, `{"subject": "`+prefix+`.{{ input }}", "body": "x"}`).Run(ctx, brokerInput(services, "a.*"))
	require.ErrorContains(t, err, "holds a wildcard")
	assert.True(t, IsPermanent(err))
}

func TestNATSParams(t *testing.T) {
	t.Parallel()
	tests := []struct{ kind, params, field string }{
		{KindNATSPublish, `{"credential": "c"}`, "subject"},
		{KindNATSPublish, `{"credential": "c", "subject": "a b"}`, "subject"},
		{KindNATSPublish, `{"credential": "c", "subject": "{{ input. }}"}`, "subject"},
		{KindNATSPublish, `{"credential": "c", "subject": "s", "jetstream": "maybe"}`, "jetstream"},
		{KindNATSPublish, `{"credential": "c", "subject": "s", "headers": {"x": "{{ len( }}"}}`, "headers.x"},
		{KindNATSTrigger, `{"credential": "c"}`, "subject"},
		{KindNATSTrigger, `{"credential": "c", "subject": "orders..x"}`, "subject"},
		{KindNATSTrigger, `{"credential": "c", "subject": "orders.>.x"}`, "subject"},
		{KindNATSTrigger, `{"credential": "c", "subject": "orders.a*"}`, "subject"},
		{KindNATSTrigger, `{"credential": "c", "subject": "s", "stream": "A.B"}`, "stream"},
		{KindNATSTrigger, `{"credential": "c", "subject": "s", "batch": 0}`, "batch"},
		{KindNATSTrigger, `{"credential": "c", "subject": "s", "ack_wait_ms": 10}`, "ack_wait_ms"},
		{KindNATSTrigger, `{"credential": "c", "subject": "s", "max_deliver": -1}`, "max_deliver"},
		{KindNATSTrigger, `{"credential": "c", "subject": "s", "start": "middle"}`, "start"},
		{KindNATSTrigger, `{"credential": "c", "subject": "s", "dedupe": "trigger.body."}`, "dedupe"},
	}
	for _, tt := range tests {
		errs := buildErrors(t, tt.kind, tt.params)
		require.NotEmpty(t, errs, tt.params)
		assert.Equal(t, tt.field, errs[0].Field, tt.params)
	}
	build(t, KindNATSTrigger, `{"credential": "c", "subject": "orders.*.created.>"}`)
}

func TestNATSCredential(t *testing.T) {
	t.Parallel()
	ct, ok := builtins(t).CredentialType(CredentialNATS)
	require.True(t, ok)
	checkCredentialCases(t, ct, []credentialCase{
		{data: map[string]any{"url": "nats://127.0.0.1:4222"}},
		{data: map[string]any{"url": "tls://nats.example.com:4222", "username": "u", "password": "pw"}},
		{data: map[string]any{"url": "nats://a:4222, nats://b:4222", "token": "t"}},
		{data: map[string]any{"url": "http://127.0.0.1:4222"}, field: "url"},
		{data: map[string]any{"url": "nats://:4222"}, field: "url"},
		{data: map[string]any{"url": "nats://u:pw@127.0.0.1:4222"}, field: "url"},
		{data: map[string]any{"url": "nats://a:4222,tls://b:4222"}, field: "url"},
		{data: map[string]any{"url": "nats://a:4222", "password": "pw"}, field: "username"},
		{data: map[string]any{"url": "nats://a:4222", "username": "u", "token": "t"}, field: "token"},
		{data: map[string]any{"url": "nats://a:4222", "ca_certificate": "not a PEM"}, field: "ca_certificate"},
		{data: map[string]any{}, field: "url"},
	})
}

// natsUsersConfig is a server whose user alice may not touch forbidden.>.
const natsUsersConfig = `
jetstream {store_dir: "$DIR"}
authorization {
  users = [
    {user: alice, password: "s3cret-pass", permissions: {
      publish: {allow: [">"], deny: ["forbidden.>"]},
      subscribe: {allow: [">"], deny: ["forbidden.>"]}}}
  ]
}`

func TestNATSErrors(t *testing.T) {
	t.Parallel()
	_, _, prefix := natstest.Prefix(t)
	users := natstest.Server(t, natsUsersConfig)
	guard, err := netguard.New(false, nil)
	require.NoError(t, err)
	guarded := func(s *Services) {
		s.Dial = guard.DialContext
		s.Refused = func(err error) bool {
			var blocked *netguard.BlockedError
			return errors.As(err, &blocked)
		}
	}
	alice := map[string]any{"url": users, "username": "alice", "password": "s3cret-pass"}
	tests := []struct {
		name     string
		cred     map[string]any
		services func(*Services)
		subject  string
		wantErr  string
		final    bool
	}{
		{name: "a wrong password", cred: map[string]any{"url": users, "username": "alice", "password": "wrong-s3cret-pass"},
			wantErr: "NATS refused the credentials", final: true},
		{name: "a subject the user may not publish to", cred: alice, subject: "forbidden.orders",
			wantErr: "the NATS user may not publish to forbidden.orders", final: true},
		{name: "nothing listening", cred: map[string]any{"url": "nats://127.0.0.1:1"},
			wantErr: "connection refused"},
		{name: "a loopback address, refused by the guard", services: guarded,
			wantErr: "is a loopback address, which flows may not reach", final: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			services := brokerServices(t, natsCreds(tt.cred))
			if tt.services != nil {
				tt.services(services)
			}
			subject := tt.subject
			if subject == "" {
				subject = prefix + ".x"
			}
			in := brokerInput(services, nil)
			_, err := natsPublish(t, `{"subject": "`+subject+`", "body": "x"}`).Run(context.Background(), in)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Equal(t, tt.final, IsPermanent(err), "%v", err)
			assert.NotContains(t, err.Error(), "s3cret-pass")
		})
	}

	t.Run("a trigger on a subject the user may not subscribe to", func(t *testing.T) {
		services := brokerServices(t, natsCreds(alice))
		err := natsTrigger(t, `{"subject": "forbidden.>"}`).Consume(context.Background(), &Consumption{
			Services: services, FlowID: "f", NodeID: "n", Instance: "a", Log: slog.New(slog.DiscardHandler),
			Subscribed: func() {}, Handle: func(context.Context, *Message) (MessageOutcome, error) { return MessageAccepted, nil },
		})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "may not subscribe to forbidden.>")
		assert.True(t, IsPermanent(err), "%v", err)
	})
	t.Run("a named stream that does not exist", func(t *testing.T) {
		services := brokerServices(t, natsCreds(nil))
		err := natsTrigger(t, `{"subject": "`+prefix+`.x", "stream": "`+prefix+`_MISSING"}`).Consume(context.Background(), &Consumption{
			Services: services, FlowID: "f", NodeID: "n", Instance: "a", Log: slog.New(slog.DiscardHandler),
			Subscribed: func() {}, Handle: func(context.Context, *Message) (MessageOutcome, error) { return MessageAccepted, nil },
		})
		require.Error(t, err)
		assert.Contains(t, err.Error(), `JetStream has no stream "`+prefix+`_MISSING"`)
		assert.True(t, IsPermanent(err), "%v", err)
	})
}

func TestNATSTriggerNoticesADroppedConnection(t *testing.T) {
	t.Parallel()
	_, js, prefix := natstest.Prefix(t)
	natstest.Stream(t, js, prefix+"_S", prefix+".orders")
	services := brokerServices(t, natsCreds(nil))
	c := consume(t, natsTrigger(t, `{"subject": "`+prefix+`.orders"}`), services, "a", nil)
	services.Brokers.Close() // as a connection the server dropped
	select {
	case err := <-c.done:
		c.done <- err
		require.Error(t, err)
		assert.False(t, IsPermanent(err), "%v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("Consume went on without a connection")
	}
}

func TestNATSTriggerStopsPromptly(t *testing.T) {
	t.Parallel()
	_, js, prefix := natstest.Prefix(t)
	natstest.Stream(t, js, prefix+"_S", prefix+".orders")
	for _, subject := range []string{prefix + ".orders", prefix + ".core"} {
		c := consume(t, natsTrigger(t, `{"subject": "`+subject+`"}`), brokerServices(t, natsCreds(nil)), "a", nil)
		start := time.Now()
		require.NoError(t, c.halt(t), "Consume returns nil when its context ends")
		assert.Less(t, time.Since(start), 3*time.Second)
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key
// into dir, and returns the certificate's PEM.
func selfSigned(t *testing.T, dir string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "nats test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	return string(certPEM)
}

func TestNATSTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := selfSigned(t, dir)
	server := natstest.Server(t, fmt.Sprintf("tls {cert_file: %q, key_file: %q}", filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")))
	addr := strings.TrimPrefix(server, "nats://")
	tests := []struct {
		name    string
		cred    map[string]any
		wantErr string
	}{
		{name: "tls:// with the server's CA", cred: map[string]any{"url": "tls://" + addr, "ca_certificate": ca}},
		{name: "tls:// without it", cred: map[string]any{"url": "tls://" + addr}, wantErr: "the server's TLS certificate does not check"},
		{name: "nats:// to a server that asks for TLS", cred: map[string]any{"url": "nats://" + addr}, wantErr: "the server's TLS certificate does not check"},
		{name: "nats:// with a CA certificate: TLS", cred: map[string]any{"url": "nats://" + addr, "ca_certificate": ca}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			services := brokerServices(t, natsCreds(tt.cred))
			res, err := natsPublish(t, `{"subject": "tls.test", "body": "x"}`).Run(context.Background(), brokerInput(services, nil))
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, true, res.Output.(map[string]any)["published"])
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			assert.True(t, IsPermanent(err), "%v", err)
		})
	}
}
