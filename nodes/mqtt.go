package nodes

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/hookflow/hookflow/engine/expression"
)

// Kinds of MQTT.
const (
	KindMQTTPublish = "mqtt.publish"
	KindMQTTTrigger = "trigger.mqtt"
)

// CredentialMQTT is the credential type of an MQTT broker.
const CredentialMQTT = "mqtt"

// mqttConnectTimeout bounds dialling, TLS and the CONNECT/CONNACK
// exchange; mqttWaitTimeout bounds waiting for a SUBACK or PUBACK.
const (
	mqttConnectTimeout = 10 * time.Second
	mqttWaitTimeout    = 10 * time.Second
	mqttKeepAlive      = 30 * time.Second
)

// mqttSubscribeFailure is a SUBACK's return code for a filter the broker
// refused.
const mqttSubscribeFailure = 0x80

// mqttQuiesce is how long a disconnect waits, at most, for the
// acknowledgements already handed to the client to be written: the client
// then closes the connection, and what it had not written is redelivered.
// A disconnect that goes through returns sooner; a busy machine writes a
// few acknowledgements in more than 250 ms.
const mqttQuiesce = 2000

var mqttCredentialType = CredentialType{
	Name: CredentialMQTT, Title: "MQTT", Summary: "An MQTT 3.1.1 broker that mqtt.publish and trigger.mqtt connect to.",
	Fields: append([]Field{
		{Name: "url", Type: TypeString, Label: "URL", Required: true, Min: Bound(1), Placeholder: "mqtt://broker.internal:1883",
			Help: "mqtt://host:port (default port 1883), or mqtts://host:port for TLS (default 8883); tcp:// and ssl:// are taken too. A broker on a private network must be allowed by the operator (HOOKFLOW_ALLOWED_HOSTS)."},
		{Name: "username", Type: TypeString, Label: "Username", Help: "Empty for a broker that takes anonymous clients."},
		{Name: "password", Type: TypeString, Label: "Password", Secret: true},
	}, brokerCredentialTLSFields...),
	Validate: func(data map[string]any) FieldErrors {
		raw, _ := data["url"].(string)
		if _, _, err := mqttURL(raw); err != nil {
			return FieldErrors{{Field: "url", Message: err.Error()}}
		}
		errs := checkCACertificate(data)
		if p, _ := data["password"].(string); p != "" {
			if u, _ := data["username"].(string); u == "" {
				errs = append(errs, FieldError{Field: "username", Message: "is required with a password (MQTT 3.1.1 sends no password without a username)"})
			}
		}
		return errs
	},
}

// mqttURL checks an MQTT URL and returns it with its port, and whether it
// asks for TLS.
func mqttURL(raw string) (*url.URL, bool, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, false, errors.New("is not a URL such as mqtt://host:1883")
	}
	var secure bool
	port := "1883"
	switch u.Scheme {
	case "mqtt", "tcp":
	case "mqtts", "ssl", "tls":
		secure, port = true, "8883"
	default:
		return nil, false, fmt.Errorf("must start with mqtt:// or mqtts:// (TLS), not %q", u.Scheme+"://")
	}
	if u.Hostname() == "" {
		return nil, false, errors.New("names no host: mqtt://host:1883")
	}
	if u.User != nil {
		return nil, false, errors.New("must not hold a username or password: give them in their own fields")
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		return nil, false, errors.New("takes no path or query: mqtt://host:1883")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, false, fmt.Errorf("has port %q; give one from 1 to 65535", p)
		}
		port = p
	}
	return &url.URL{Scheme: u.Scheme, Host: net.JoinHostPort(u.Hostname(), port)}, secure, nil
}

// mqttOptions are the client options of a credential: every connection is
// dialled through the guard (ctx bounds dialling), MQTT 3.1.1 only, and
// never connects again by itself: the trigger's consumer does, with its
// backoff, and a shared publisher is replaced once broken.
func mqttOptions(ctx context.Context, s *Services, cred *Credential, clientID string) (*mqtt.ClientOptions, error) {
	u, secure, err := mqttURL(cred.String("url"))
	if err != nil {
		return nil, Permanent(fmt.Errorf("credential %q: url %w", cred.Name, err))
	}
	opts := mqtt.NewClientOptions().AddBroker(u.String()).SetClientID(clientID).
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectTimeout(mqttConnectTimeout).SetKeepAlive(mqttKeepAlive).SetPingTimeout(mqttWaitTimeout).
		SetWriteTimeout(mqttWaitTimeout)
	if user := cred.String("username"); user != "" {
		opts.SetUsername(user)
		opts.SetPassword(cred.String("password"))
	}
	var tlsConfig *tls.Config
	if secure {
		tlsConfig = credentialTLS(cred, u.Hostname())
	}
	opts.SetCustomOpenConnectionFn(func(uri *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(ctx, mqttConnectTimeout)
		defer cancel()
		conn, err := s.DialContext(ctx, "tcp", uri.Host)
		if err != nil || tlsConfig == nil {
			return conn, err
		}
		return tlsClient(ctx, conn, tlsConfig)
	})
	return opts, nil
}

// mqttWait waits for a token of the client, or for ctx to end.
func mqttWait(ctx context.Context, t mqtt.Token) error {
	timer := time.NewTimer(mqttWaitTimeout + mqttConnectTimeout)
	defer timer.Stop()
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-timer.C:
		return errors.New("the broker did not answer in time")
	}
}

// mqttConnect connects a client; the caller disconnects it. A client that
// connects after ctx ended is disconnected.
func mqttConnect(ctx context.Context, client mqtt.Client) error {
	token := client.Connect()
	err := mqttWait(ctx, token)
	if err != nil {
		go func() {
			<-token.Done()
			if client.IsConnectionOpen() {
				client.Disconnect(0)
			}
		}()
	}
	return err
}

// mqttError says what went wrong with MQTT in the user's terms and whether
// another attempt could help. Final: the guard refusing the address, a
// certificate not accepted, the CONNACK refusing the username or password,
// the authorisation, the client id or the protocol. Retried: a broker that
// does not answer or says it is unavailable.
func (s *Services) mqttError(what string, err error, secrets ...string) error {
	// The client says "network Error : <why>": why is enough.
	if multi, ok := err.(interface{ Unwrap() []error }); ok {
		if errs := multi.Unwrap(); len(errs) == 2 && errors.Is(errs[0], packets.ErrorNetworkError) {
			err = errs[1]
		}
	}
	err = hideSecret(fmt.Errorf("%s: %w", what, err), secrets...)
	var alert tls.AlertError
	switch {
	case s.refused(err):
		return Permanent(err)
	case errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword):
		return Permanent(fmt.Errorf("%s: the broker refused the username or password (CONNACK 4)", what))
	case errors.Is(err, packets.ErrorRefusedNotAuthorised):
		return Permanent(fmt.Errorf("%s: the broker does not authorise this client (CONNACK 5): check the username, password and the broker's ACL", what))
	case errors.Is(err, packets.ErrorRefusedIDRejected):
		return Permanent(fmt.Errorf("%s: the broker rejected the client id (CONNACK 2)", what))
	case errors.Is(err, packets.ErrorRefusedBadProtocolVersion):
		return Permanent(fmt.Errorf("%s: the broker does not speak MQTT 3.1.1 (CONNACK 1)", what))
	case errors.Is(err, packets.ErrorRefusedServerUnavailable):
		return fmt.Errorf("%s: the broker is unavailable for now (CONNACK 3)", what)
	case certificateRefused(err):
		return Permanent(fmt.Errorf("%w; give the broker's CA in the credential's ca_certificate", err))
	case errors.As(err, &alert):
		return Permanent(err)
	}
	return err
}

// mqttPublisher is the shared client of the publish actions of a
// credential.
type mqttPublisher struct{ client mqtt.Client }

func (p *mqttPublisher) Close() error {
	p.client.Disconnect(mqttQuiesce)
	return nil
}

// mqttPublishClient returns the connected client the publish actions of a
// credential share: a clean session under a client id of its own.
func mqttPublishClient(ctx context.Context, s *Services, cred *Credential) (mqtt.Client, error) {
	if s == nil {
		return nil, Permanent(errors.New("message brokers are not available here"))
	}
	c, err := s.Brokers.shared(ctx, BrokerMQTT, cred, func(ctx context.Context) (io.Closer, error) {
		// The connection outlives this run: dialling ends with the run,
		// not the connection.
		opts, err := mqttOptions(context.WithoutCancel(ctx), s, cred, "hf-pub-"+strings.ToLower(rand.Text()[:16]))
		if err != nil {
			return nil, err
		}
		client := mqtt.NewClient(opts.SetCleanSession(true))
		if err := mqttConnect(ctx, client); err != nil {
			return nil, s.mqttError("connect to MQTT broker "+opts.Servers[0].Host, err, cred.Secrets...)
		}
		return &mqttPublisher{client: client}, nil
	}, func(c io.Closer) bool { return !c.(*mqttPublisher).client.IsConnectionOpen() })
	if err != nil {
		return nil, err
	}
	return c.(*mqttPublisher).client, nil
}

// checkMQTTTopic checks a topic to publish to.
func checkMQTTTopic(topic string) error {
	switch {
	case topic == "":
		return errors.New("the topic is empty")
	case len(topic) > 65535:
		return errors.New("the topic is longer than 65535 bytes")
	case strings.ContainsAny(topic, "+#"):
		return fmt.Errorf("topic %q holds a wildcard (+ or #); a message is published to one topic", topic)
	case strings.ContainsRune(topic, 0):
		return errors.New("the topic holds a NUL character")
	}
	return nil
}

// checkMQTTFilter checks a topic filter to subscribe to: + stands for a
// whole level, # for the last levels.
func checkMQTTFilter(filter string) error {
	switch {
	case filter == "":
		return errors.New("a topic filter is empty")
	case len(filter) > 65535:
		return errors.New("a topic filter is longer than 65535 bytes")
	case strings.ContainsRune(filter, 0):
		return errors.New("a topic filter holds a NUL character")
	}
	levels := strings.Split(filter, "/")
	for i, level := range levels {
		if strings.Contains(level, "#") && (level != "#" || i != len(levels)-1) {
			return fmt.Errorf("%q: # must be a whole level, and the last (sensors/#)", filter)
		}
		if strings.Contains(level, "+") && level != "+" {
			return fmt.Errorf("%q: + must be a whole level (sensors/+/temperature)", filter)
		}
	}
	return nil
}

// mqttMatch reports whether a topic matches a filter.
func mqttMatch(filter, topic string) bool {
	fl, tl := strings.Split(filter, "/"), strings.Split(topic, "/")
	// Filters starting with a wildcard do not match topics starting with $.
	if strings.HasPrefix(topic, "$") && (fl[0] == "+" || fl[0] == "#") {
		return false
	}
	for i, f := range fl {
		switch {
		case f == "#":
			return true
		case i >= len(tl):
			return false
		case f != "+" && f != tl[i]:
			return false
		}
	}
	return len(fl) == len(tl)
}

var mqttPublishSpec = Spec{
	Kind:     KindMQTTPublish,
	Icon:     "antenna",
	Category: CategoryAction,
	Title:    "MQTT publish",
	Summary:  "Publishes a message to an MQTT topic; with QoS 1 it waits until the broker has taken it (PUBACK).",
	Attempts: 3,
	Fields: []Field{
		{Name: "credential", Type: TypeCredential, Label: "MQTT credential", Required: true, CredentialTypes: []string{CredentialMQTT}},
		{Name: "topic", Type: TypeTemplate, Label: "Topic", Required: true, Min: Bound(1), Placeholder: "orders/{{ trigger.body.id }}",
			Help: "The topic to publish to: no wildcards (+ or #). May hold {{ templates }}."},
		{Name: "payload", Type: TypeTemplate, Label: "Payload", Multiline: true, Placeholder: "{{ input }}",
			Help: "The message; a value that is not text is published as JSON. Empty publishes an empty message."},
		{Name: "qos", Type: TypeInteger, Label: "QoS", Default: 1, Min: Bound(0), Max: Bound(1),
			Help: "1 (default): wait until the broker has taken the message (PUBACK), so the step fails if it did not; a retried step may publish it twice. 0: send it and do not wait (at most once)."},
		{Name: "retain", Type: TypeBoolean, Label: "Retain", Default: false,
			Help: "The broker keeps the message as the topic's last one and hands it to every new subscriber."},
	},
}

type mqttPublishParams struct {
	Credential string `json:"credential"`
	Topic      string `json:"topic"`
	Payload    string `json:"payload"`
	QoS        int    `json:"qos"`
	Retain     bool   `json:"retain"`
}

type mqttPublishNode struct {
	credential string
	topic      *expression.Template
	payload    *expression.Template
	qos        byte
	retain     bool
}

var _ Node = (*mqttPublishNode)(nil)

func buildMQTTPublish(b *Builder, p *mqttPublishParams) Node {
	n := &mqttPublishNode{credential: p.Credential, topic: b.Template("topic", p.Topic), qos: byte(p.QoS), retain: p.Retain}
	if p.Payload != "" {
		n.payload = b.Template("payload", p.Payload)
	}
	if n.topic != nil && n.topic.IsStatic() {
		if err := checkMQTTTopic(p.Topic); err != nil {
			b.Fail("topic", "%v", err)
		}
	}
	return n
}

// Run publishes the message.
func (n *mqttPublishNode) Run(ctx context.Context, in *Input) (Result, error) {
	cred, err := in.Credential(ctx, n.credential, CredentialMQTT)
	if err != nil {
		return Result{}, err
	}
	topic, err := renderText(ctx, in, "topic", n.topic)
	if err != nil {
		return Result{}, err
	}
	if err := checkMQTTTopic(topic); err != nil {
		return Result{}, Permanent(fmt.Errorf("topic: %w", err))
	}
	payload, err := renderText(ctx, in, "payload", n.payload)
	if err != nil {
		return Result{}, err
	}
	client, err := mqttPublishClient(ctx, in.Services, cred)
	if err != nil {
		return Result{}, err
	}
	if err := mqttWait(ctx, client.Publish(topic, n.qos, n.retain, payload)); err != nil {
		return Result{}, in.Services.mqttError("MQTT publish to "+topic, err, cred.Secrets...)
	}
	return Result{Output: map[string]any{"published": true, "topic": topic}}, nil
}

var mqttTriggerSpec = Spec{
	Kind:     KindMQTTTrigger,
	Icon:     "antenna",
	Category: CategoryTrigger,
	Title:    "MQTT subscription",
	Summary:  "Starts the flow for each message published to the MQTT topics it subscribes to (QoS 1, a persistent session): messages published while Hookflow is away wait in the broker. One instance of a cluster consumes at a time.",
	Pure:     true,
	Fields: append([]Field{
		{Name: "credential", Type: TypeCredential, Label: "MQTT credential", Required: true, CredentialTypes: []string{CredentialMQTT}},
		{Name: "topics", Type: TypeList, Label: "Topic filters", Required: true, Min: Bound(1), Max: Bound(20),
			Help:  "The topics to subscribe to, at QoS 1. + stands for one level (sensors/+/temperature), # for all the levels after (orders/#).",
			Items: &Field{Name: "topic", Type: TypeString, Label: "Topic filter", Min: Bound(1), Placeholder: "orders/#"}},
		{Name: "retained", Type: TypeBoolean, Label: "Run for retained messages", Default: false, Advanced: true,
			Help: "Also run for the retained message the broker hands over on subscribing. It does so on every connect, so the flow runs for it again after each reconnect, unless Message id drops it. Off: such messages are acknowledged and skipped."},
	}, mqttTriggerFields()...),
}

// mqttTriggerFields are the fields every broker trigger ends with; MQTT
// 3.1.1 messages carry no id, so dedupe needs an expression.
func mqttTriggerFields() []Field {
	fields := append([]Field(nil), brokerTriggerFields...)
	fields[0].Help = "An expression naming a message, for dropping repeated ones (trigger.body.id). MQTT 3.1.1 messages carry no id of their own: without one, a message the broker delivers again (after a crash or a lost connection) runs again."
	return fields
}

type mqttTriggerParams struct {
	Credential string   `json:"credential"`
	Topics     []string `json:"topics"`
	Retained   bool     `json:"retained"`
	brokerTriggerParams
}

// MQTTTrigger is a compiled trigger.mqtt node.
type MQTTTrigger struct {
	brokerTrigger
	topics   []string
	retained bool
}

var (
	_ BrokerTrigger  = (*MQTTTrigger)(nil)
	_ SingleConsumer = (*MQTTTrigger)(nil)
)

func buildMQTTTrigger(b *Builder, p *mqttTriggerParams) Node {
	seen := map[string]bool{}
	for _, filter := range p.Topics {
		if err := checkMQTTFilter(filter); err != nil {
			b.Fail("topics", "%v", err)
		}
		if seen[filter] {
			b.Fail("topics", "%q is given twice", filter)
		}
		seen[filter] = true
	}
	return &MQTTTrigger{
		brokerTrigger: newBrokerTrigger(b, p.Credential, &p.brokerTriggerParams),
		topics:        p.Topics, retained: p.Retained,
	}
}

// Broker implements BrokerTrigger.
func (t *MQTTTrigger) Broker() string { return BrokerMQTT }

// SingleConsumer implements SingleConsumer: MQTT 3.1.1 subscriptions do
// not share messages out.
func (t *MQTTTrigger) SingleConsumer() bool { return true }

// MQTTClientID is the client id, and so the persistent session, of a
// trigger: the same across restarts and instances, 23 characters at most
// as MQTT 3.1.1 brokers must accept.
func MQTTClientID(flowID, nodeID string) string {
	sum := sha256.Sum256([]byte(flowID + "\x00" + nodeID))
	return "hf-" + hex.EncodeToString(sum[:])[:20]
}

// Consume connects with the trigger's persistent session (clean session
// off), subscribes at QoS 1, and hands the messages to c.Handle
// concurrently; each is acknowledged (PUBACK) once recorded, in the order
// they came, as MQTT requires. A message not recorded ends Consume with the
// error, unacknowledged, with those after it: the broker delivers them
// again on the next connect.
func (t *MQTTTrigger) Consume(ctx context.Context, c *Consumption) error {
	cred, err := t.openCredential(ctx, c, CredentialMQTT)
	if err != nil {
		return err
	}
	opts, err := mqttOptions(ctx, c.Services, cred, MQTTClientID(c.FlowID, c.NodeID))
	if err != nil {
		return err
	}
	broker := opts.Servers[0].Host
	run, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	s := &mqttSession{trigger: t, c: c, ctx: ctx, stop: stop}
	// The handler is in place before connecting: a persistent session's
	// queued messages come before the SUBACK, even before Subscribe
	// returns.
	opts.SetCleanSession(false).SetOrderMatters(true).SetAutoAckDisabled(true).
		SetDefaultPublishHandler(s.receive).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			stop(fmt.Errorf("connection to MQTT broker %s lost: %w", broker, err))
		})
	client := mqtt.NewClient(opts)
	if err := mqttConnect(ctx, client); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return c.Services.mqttError("connect to MQTT broker "+broker, err, cred.Secrets...)
	}
	defer func() {
		s.close()
		client.Disconnect(mqttQuiesce)
	}()
	filters := make(map[string]byte, len(t.topics))
	for _, f := range t.topics {
		filters[f] = 1
	}
	token := client.SubscribeMultiple(filters, nil)
	if err := mqttWait(run, token); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return c.Services.mqttError("subscribe to "+strings.Join(t.topics, ", "), err, cred.Secrets...)
	}
	for filter, qos := range token.(*mqtt.SubscribeToken).Result() {
		if qos == mqttSubscribeFailure {
			return Permanent(fmt.Errorf("subscribe to %s: the broker refused the subscription (is the user allowed to read it?)", filter))
		}
	}
	c.Subscribed()
	<-run.Done()
	if ctx.Err() != nil {
		return nil
	}
	return context.Cause(run)
}

// mqttSession hands a trigger's messages to Handle and acknowledges them
// in the order they came.
type mqttSession struct {
	trigger *MQTTTrigger
	c       *Consumption
	ctx     context.Context
	stop    context.CancelCauseFunc
	wg      sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	next    uint64 // the next message to acknowledge
	added   uint64 // the messages received
	handled map[uint64]mqtt.Message
	failed  bool
}

// receive is called by the client for each message, in the order they
// came, and must not block: it starts recording the message.
func (s *mqttSession) receive(_ mqtt.Client, m mqtt.Message) {
	s.mu.Lock()
	if s.closed || s.failed {
		// Stopping: left unacknowledged, to come again.
		s.mu.Unlock()
		return
	}
	seq := s.added
	s.added++
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		if !s.wanted(m) {
			s.done(seq, m, nil)
			return
		}
		_, err := s.c.Handle(s.ctx, s.trigger.message(m))
		s.done(seq, m, err)
	}()
}

// wanted reports a message the flow runs for: not a retained one handed
// over on subscribing (unless asked for), and one on a topic the trigger
// subscribes to (the session may hold subscriptions of an earlier version
// of the flow).
func (s *mqttSession) wanted(m mqtt.Message) bool {
	if m.Retained() && !s.trigger.retained {
		return false
	}
	for _, f := range s.trigger.topics {
		if mqttMatch(f, m.Topic()) {
			return true
		}
	}
	s.c.Log.Warn("MQTT message on a topic the trigger no longer subscribes to; skipped", "topic", m.Topic())
	return false
}

// done acknowledges a handled message once every message before it is
// acknowledged; a message not recorded stops the session, and no message
// after it is acknowledged.
func (s *mqttSession) done(seq uint64, m mqtt.Message, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed {
		return
	}
	if err != nil {
		s.failed = true
		if s.ctx.Err() == nil {
			s.stop(fmt.Errorf("record a message of %s: %w", m.Topic(), err))
		}
		return
	}
	if s.handled == nil {
		s.handled = map[uint64]mqtt.Message{}
	}
	s.handled[seq] = m
	for {
		next, ok := s.handled[s.next]
		if !ok {
			return
		}
		delete(s.handled, s.next)
		next.Ack()
		s.next++
	}
}

// close takes no more messages and waits for those being recorded, so
// they are acknowledged before the disconnect.
func (s *mqttSession) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.wg.Wait()
}

// message is an MQTT message as a delivery records it. MQTT 3.1.1 has no
// headers, content type or message id: the headers say the topic, QoS and
// flags.
func (t *MQTTTrigger) message(m mqtt.Message) *Message {
	return &Message{Topic: m.Topic(), Body: m.Payload(), Headers: map[string]string{
		"topic":     m.Topic(),
		"qos":       strconv.Itoa(int(m.Qos())),
		"retained":  strconv.FormatBool(m.Retained()),
		"duplicate": strconv.FormatBool(m.Duplicate()),
	}}
}
