package nodes

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"sync"

	"github.com/hookflow/hookflow/engine/expression"
)

// The message brokers whose messages start flows and which actions publish
// to.
const (
	BrokerRabbitMQ = "rabbitmq"
	BrokerNATS     = "nats"
	BrokerMQTT     = "mqtt"
	BrokerRedis    = "redis"
)

// Message is one message a broker trigger took, as its delivery records it.
type Message struct {
	// Topic is where it came from: the routing key, subject, MQTT topic or
	// stream.
	Topic string
	// ID is the broker's or the publisher's id of the message, the same on
	// every redelivery: the dedupe key when the trigger names none. Empty
	// when the message has none.
	ID string
	// Headers are the message's headers and properties, lower-case names.
	Headers map[string]string
	// ContentType is the type the publisher gave; empty is sniffed (JSON,
	// else text).
	ContentType string
	Body        []byte
}

// MessageOutcome is what became of a message handed to a MessageHandler.
type MessageOutcome int

// The outcomes of a message.
const (
	// MessageAccepted: recorded, with a run.
	MessageAccepted MessageOutcome = iota
	// MessageDuplicate: recorded as a repeat of an earlier message.
	MessageDuplicate
	// MessageRefused: recorded as rejected (its body does not parse, it
	// is too large …); no run. The broker may dead-letter it.
	MessageRefused
)

// MessageHandler records a message as a delivery. It returns once the
// delivery is durable, and the trigger then acknowledges the message. An
// error means it was not recorded (the server is stopping, or the database
// stayed unreachable until ctx ended): the message must stay unacknowledged,
// for the broker to deliver it again.
type MessageHandler func(ctx context.Context, m *Message) (MessageOutcome, error)

// Consumption is what a broker trigger consumes with.
type Consumption struct {
	Services *Services
	// FlowID and NodeID name the trigger: durable consumers, queues and
	// MQTT sessions are named after them, so they outlive a restart.
	FlowID, NodeID string
	// Instance names this process among those sharing the database, for
	// brokers that name each member of a consumer group.
	Instance string
	// Subscribed is called once the trigger is subscribed and messages
	// may flow.
	Subscribed func()
	// Handle records each message; acknowledge only after it returns nil.
	Handle MessageHandler
	Log    *slog.Logger
}

// BrokerTrigger is a trigger node fed by a message broker. While its flow is
// active, every instance of the server runs Consume (one at a time, for a
// trigger that is a SingleConsumer), again after a backoff whenever it
// returns with an error.
type BrokerTrigger interface {
	Node
	// Broker names the broker: BrokerRabbitMQ …
	Broker() string
	// Credential names the credential the trigger connects with.
	Credential() string
	// Deliveries are the trigger's dedupe settings.
	Deliveries() DeliverySettings
	// Consume subscribes and hands each message to c.Handle until ctx ends
	// (it returns nil) or the connection fails (it returns why).
	Consume(ctx context.Context, c *Consumption) error
}

// SingleConsumer is a broker trigger only one instance of a cluster may
// consume at a time: an MQTT subscription, which has no competing
// consumers, consumed by every instance would run each message on each.
type SingleConsumer interface {
	SingleConsumer() bool
}

// DeliverySettings are how a broker trigger names and dedupes its messages.
type DeliverySettings struct {
	// Dedupe names a message; nil uses the message's own id.
	Dedupe *expression.Program
	// DedupeWindowMS is how long a name is remembered; 0 turns dedupe off.
	DedupeWindowMS int
}

// brokerTriggerFields are the fields every broker trigger ends with.
var brokerTriggerFields = []Field{
	{
		Name: "dedupe", Type: TypeExpression, Label: "Message id", Advanced: true,
		Help:        "An expression naming a message, for dropping repeated ones. Empty uses the message's own id where the broker gives one (see the docs for each broker).",
		Placeholder: "trigger.body.id",
	},
	{
		Name: "dedupe_window_ms", Type: TypeDuration, Label: "Dedupe window", Advanced: true, Default: 86400000,
		Min: Bound(0), Max: Bound(30 * 86400000),
		Help: "How long a message id is remembered; 0 turns dedupe off.",
	},
}

// brokerTriggerParams are the params every broker trigger has; each kind's
// params embed them.
type brokerTriggerParams struct {
	Dedupe         string `json:"dedupe"`
	DedupeWindowMS int    `json:"dedupe_window_ms"`
}

func (p *brokerTriggerParams) settings(b *Builder) DeliverySettings {
	return DeliverySettings{Dedupe: b.Expression("dedupe", p.Dedupe), DedupeWindowMS: p.DedupeWindowMS}
}

// brokerTrigger is what every broker trigger node has: the credential it
// connects with and its dedupe settings. Each kind embeds it.
type brokerTrigger struct {
	credential string
	settings   DeliverySettings
}

func newBrokerTrigger(b *Builder, credential string, p *brokerTriggerParams) brokerTrigger {
	return brokerTrigger{credential: credential, settings: p.settings(b)}
}

// Run outputs the message the flow was triggered with.
func (t *brokerTrigger) Run(_ context.Context, in *Input) (Result, error) {
	return Result{Output: in.Scope.Trigger}, nil
}

// Credential implements BrokerTrigger.
func (t *brokerTrigger) Credential() string { return t.credential }

// Deliveries implements BrokerTrigger.
func (t *brokerTrigger) Deliveries() DeliverySettings { return t.settings }

// openCredential opens the trigger's credential, which must be of type
// want.
func (t *brokerTrigger) openCredential(ctx context.Context, c *Consumption, want string) (*Credential, error) {
	cred, err := c.Services.Credentials.Open(ctx, t.credential)
	if err != nil {
		return nil, fmt.Errorf("credential %q: %w", t.credential, err)
	}
	if cred.Type != want {
		return nil, fmt.Errorf("credential %q is of type %s, not %s", t.credential, cred.Type, want)
	}
	return cred, nil
}

// handleAll hands messages to c.Handle all at once, so their records share
// commits, and returns what became of each, in their order.
func handleAll(ctx context.Context, c *Consumption, msgs []*Message) ([]MessageOutcome, []error) {
	outcomes := make([]MessageOutcome, len(msgs))
	errs := make([]error, len(msgs))
	var wg sync.WaitGroup
	for i, m := range msgs {
		wg.Go(func() { outcomes[i], errs[i] = c.Handle(ctx, m) })
	}
	wg.Wait()
	return outcomes, errs
}

// BrokerConnections keeps one connection per broker credential, shared by
// the publish actions and triggers that name it. A credential whose data
// changed, or whose connection broke, gets a new one.
type BrokerConnections struct {
	mu    sync.Mutex
	conns map[string]*brokerConn // by broker and credential name
}

type brokerConn struct {
	mu          sync.Mutex
	fingerprint string
	client      io.Closer
}

// NewBrokerConnections returns an empty set of connections.
func NewBrokerConnections() *BrokerConnections {
	return &BrokerConnections{conns: map[string]*brokerConn{}}
}

// shared returns the open connection of a credential, opening one with open
// when there is none, the credential changed, or broken reports the last
// one unusable.
func (b *BrokerConnections) shared(ctx context.Context, broker string, cred *Credential,
	open func(ctx context.Context) (io.Closer, error), broken func(io.Closer) bool) (io.Closer, error) {
	if b == nil {
		return nil, Permanent(errors.New("message brokers are not available here"))
	}
	key := broker + "\x00" + cred.Name
	b.mu.Lock()
	e, ok := b.conns[key]
	if !ok {
		e = &brokerConn{}
		b.conns[key] = e
	}
	b.mu.Unlock()

	fp := fingerprint(cred.Data)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.client != nil && e.fingerprint == fp && !broken(e.client) {
		return e.client, nil
	}
	if e.client != nil {
		_ = e.client.Close()
		e.client = nil
	}
	c, err := open(ctx)
	if err != nil {
		return nil, err
	}
	e.client, e.fingerprint = c, fp
	return c, nil
}

// Close closes every connection.
func (b *BrokerConnections) Close() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for key, e := range b.conns {
		e.mu.Lock()
		if e.client != nil {
			_ = e.client.Close()
		}
		e.mu.Unlock()
		delete(b.conns, key)
	}
}

// fingerprint identifies a credential's data, to notice it changed.
func fingerprint(data map[string]any) string {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		v, _ := json.Marshal(data[k])
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write(v)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// brokerCredentialTLSFields are the TLS options of every broker credential.
var brokerCredentialTLSFields = []Field{
	{Name: "ca_certificate", Type: TypeString, Label: "CA certificate", Advanced: true, Multiline: true,
		Help: "PEM of the CA (or the self-signed certificate) the broker's certificate is checked against, instead of the system's CAs.", Placeholder: "-----BEGIN CERTIFICATE-----"},
	{Name: "skip_verify", Type: TypeBoolean, Label: "Skip certificate check", Advanced: true,
		Help: "Accept any certificate. Discouraged: whoever sits between Hookflow and the broker can then read the password and the messages; give a CA certificate instead."},
}

// credentialTLS is the TLS configuration for host of a credential with
// ca_certificate and skip_verify fields.
func credentialTLS(cred *Credential, host string) *tls.Config {
	c := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if pem := cred.String("ca_certificate"); pem != "" {
		c.RootCAs = x509.NewCertPool()
		c.RootCAs.AppendCertsFromPEM([]byte(pem))
	}
	if skip, _ := cred.Data["skip_verify"].(bool); skip {
		c.InsecureSkipVerify = true
	}
	return c
}

// certificateRefused reports whether err is the broker's (or server's)
// certificate not checking against the credential's CA or the host name:
// final, until the credential changes.
func certificateRefused(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		hostname x509.HostnameError
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
	)
	return errors.As(err, &verify) || errors.As(err, &hostname) || errors.As(err, &unknown) || errors.As(err, &invalid)
}

// tlsClient starts TLS over a connection a broker's client dialled through
// the guard.
func tlsClient(ctx context.Context, conn net.Conn, config *tls.Config) (net.Conn, error) {
	tc := tls.Client(conn, config)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return tc, nil
}

// checkCACertificate checks a credential's ca_certificate field.
func checkCACertificate(data map[string]any) FieldErrors {
	if pem, _ := data["ca_certificate"].(string); pem != "" && !x509.NewCertPool().AppendCertsFromPEM([]byte(pem)) {
		return FieldErrors{{Field: "ca_certificate", Message: "holds no PEM certificate (-----BEGIN CERTIFICATE-----)"}}
	}
	return nil
}
