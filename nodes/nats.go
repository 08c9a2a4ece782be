package nodes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookflow/hookflow/engine/expression"
)

// Kinds of NATS.
const (
	KindNATSPublish = "nats.publish"
	KindNATSTrigger = "trigger.nats"
)

// CredentialNATS is the credential type of a NATS server.
const CredentialNATS = "nats"

// How nats.publish publishes.
const (
	NATSJetStreamAuto = "auto"
	NATSJetStreamOn   = "on"
	NATSJetStreamOff  = "off"
)

// Where a new durable consumer of trigger.nats starts in its stream.
const (
	NATSStartNew = "new"
	NATSStartAll = "all"
)

const (
	// natsDialTimeout bounds connecting to NATS.
	natsDialTimeout = 10 * time.Second
	// natsRequestTimeout bounds a JetStream request (a publish's PubAck,
	// a stream lookup) and a flush.
	natsRequestTimeout = 10 * time.Second
	// natsFetchWait is how long one fetch waits for messages: about how
	// long a stop waits for Consume to return.
	natsFetchWait = time.Second
	// natsStreamCacheTTL is how long nats.publish in auto mode remembers
	// which stream captures a subject, or that none does.
	natsStreamCacheTTL = 10 * time.Second
)

var natsCredentialType = CredentialType{
	Name: CredentialNATS, Title: "NATS", Summary: "A NATS server (with or without JetStream) that nats.publish and trigger.nats connect to.",
	Fields: append([]Field{
		{Name: "url", Type: TypeString, Label: "URL", Required: true, Min: Bound(1), Placeholder: "nats://nats.internal:4222",
			Help: "nats://host:port, or tls://host:port for TLS; several servers of one cluster separated by commas. A server on a private network must be allowed by the operator (HOOKFLOW_ALLOWED_HOSTS)."},
		{Name: "username", Type: TypeString, Label: "Username", Help: "With a password; empty when the server takes a token or no authentication."},
		{Name: "password", Type: TypeString, Label: "Password", Secret: true},
		{Name: "token", Type: TypeString, Label: "Token", Secret: true, Help: "An authentication token, instead of a username and password."},
	}, brokerCredentialTLSFields...),
	Validate: func(data map[string]any) FieldErrors {
		raw, _ := data["url"].(string)
		if _, err := natsURLs(raw); err != nil {
			return FieldErrors{{Field: "url", Message: err.Error()}}
		}
		var errs FieldErrors
		user, _ := data["username"].(string)
		password, _ := data["password"].(string)
		token, _ := data["token"].(string)
		if password != "" && user == "" {
			errs = append(errs, FieldError{Field: "username", Message: "is required with a password"})
		}
		if token != "" && user != "" {
			errs = append(errs, FieldError{Field: "token", Message: "give a token or a username and password, not both"})
		}
		return append(errs, checkCACertificate(data)...)
	},
}

// natsURLs checks a credential's URL, a comma-separated list of servers,
// and reports whether it asks for TLS.
func natsURLs(raw string) (tlsWanted bool, err error) {
	parts := strings.Split(raw, ",")
	for i, part := range parts {
		u, err := url.Parse(strings.TrimSpace(part))
		if err != nil || u.Scheme == "" {
			return false, errors.New("is not a URL such as nats://host:4222")
		}
		if u.Scheme != "nats" && u.Scheme != "tls" {
			return false, fmt.Errorf("must start with nats:// or tls:// (TLS), not %q", u.Scheme+"://")
		}
		if i > 0 && tlsWanted != (u.Scheme == "tls") {
			return false, errors.New("mixes nats:// and tls:// servers")
		}
		tlsWanted = u.Scheme == "tls"
		if u.Hostname() == "" {
			return false, errors.New("names no host: nats://host:4222")
		}
		if u.User != nil {
			return false, errors.New("must not hold a user or token: give them in their own fields")
		}
		if u.Path != "" && u.Path != "/" {
			return false, errors.New("takes no path: nats://host:4222")
		}
	}
	return tlsWanted, nil
}

// natsConn is a NATS connection shared by the nodes naming one credential.
// It does not reconnect by itself: once the connection drops it is closed,
// so the next user opens a new one through the guard, and consumers return
// and show retrying while the engine backs off.
type natsConn struct {
	nc *nats.Conn
	js jetstream.JetStream

	mu      sync.Mutex
	streams map[string]natsStreamLookup // by subject, for nats.publish auto
}

type natsStreamLookup struct {
	stream string // empty: none captures the subject
	at     time.Time
}

// Close implements io.Closer.
func (c *natsConn) Close() error {
	c.nc.Close()
	return nil
}

// natsDialer dials NATS servers through the services' guard; nats.go only
// knows Dial(network, addr).
type natsDialer struct {
	dial DialFunc

	mu      sync.Mutex
	lastErr error
}

// Dial implements nats.CustomDialer.
func (d *natsDialer) Dial(network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), natsDialTimeout)
	defer cancel()
	conn, err := d.dial(ctx, network, addr)
	if err != nil {
		d.mu.Lock()
		d.lastErr = err
		d.mu.Unlock()
	}
	return conn, err
}

// explain replaces nats.go's "no servers available", which it answers for
// any server that refused the connection, with why the last dial failed.
func (d *natsDialer) explain(err error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if errors.Is(err, nats.ErrNoServers) && d.lastErr != nil {
		return d.lastErr
	}
	return err
}

// natsClient returns the shared connection of a NATS credential.
func natsClient(ctx context.Context, s *Services, cred *Credential) (*natsConn, error) {
	if s == nil {
		return nil, Permanent(errors.New("message brokers are not available here"))
	}
	c, err := s.Brokers.shared(ctx, BrokerNATS, cred, func(context.Context) (io.Closer, error) {
		raw := strings.TrimSpace(cred.String("url"))
		tlsWanted, err := natsURLs(raw)
		if err != nil {
			return nil, Permanent(fmt.Errorf("credential %q: url %w", cred.Name, err))
		}
		dialer := &natsDialer{dial: s.DialContext}
		opts := []nats.Option{
			nats.Name("hookflow"),
			nats.SetCustomDialer(dialer),
			nats.NoReconnect(),
			nats.Timeout(natsDialTimeout),
			// A core subscriber that falls behind loses messages
			// rather than the connection.
			nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}),
		}
		// A CA certificate or skip_verify asks for TLS too: nats.go then
		// insists on it, and a server that asks for it gets our settings.
		if skip, _ := cred.Data["skip_verify"].(bool); tlsWanted || skip || cred.String("ca_certificate") != "" {
			host := ""
			if u, err := url.Parse(strings.TrimSpace(strings.Split(raw, ",")[0])); err == nil {
				host = u.Hostname()
			}
			opts = append(opts, nats.Secure(credentialTLS(cred, host)))
		}
		if user := cred.String("username"); user != "" {
			opts = append(opts, nats.UserInfo(user, cred.String("password")))
		}
		if token := cred.String("token"); token != "" {
			opts = append(opts, nats.Token(token))
		}
		nc, err := nats.Connect(raw, opts...)
		if err != nil {
			return nil, dialer.explain(err)
		}
		js, err := jetstream.New(nc)
		if err != nil {
			nc.Close()
			return nil, err
		}
		return &natsConn{nc: nc, js: js, streams: map[string]natsStreamLookup{}}, nil
	}, func(c io.Closer) bool { return c.(*natsConn).nc.IsClosed() })
	if err != nil {
		return nil, s.natsError("connect to NATS", err, cred.Secrets...)
	}
	return c.(*natsConn), nil
}

// natsPermission is a server's permissions violation, which names the
// subject refused.
var natsPermission = regexp.MustCompile(`(?i)permissions violation for (publish|subscription) to "?([^"\s]+)"?`)

// natsError says what went wrong with NATS in the user's terms and whether
// another attempt could help. Final: the guard refusing the address,
// refused credentials or permissions, a certificate that does not check, a
// named stream that does not exist, a request JetStream calls bad. Retried:
// a server that does not answer or is not there, no responders, timeouts.
func (s *Services) natsError(what string, err error, secrets ...string) error {
	if IsPermanent(err) {
		return err
	}
	final := func(format string, args ...any) error {
		return Permanent(hideSecret(fmt.Errorf(format, args...), secrets...))
	}
	var api *jetstream.APIError
	switch {
	case s.refused(err):
		return final("%s: %w", what, err)
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked):
		return final("%s: NATS refused the credentials: %w", what, err)
	case errors.Is(err, nats.ErrPermissionViolation):
		if m := natsPermission.FindStringSubmatch(err.Error()); m != nil {
			return final("%s: the NATS user may not %s %s: %w", what, natsVerb(m[1]), m[2], err)
		}
		return final("%s: the NATS user may not do this: %w", what, err)
	case certificateRefused(err):
		return final("%s: the server's TLS certificate does not check (give its CA certificate): %w", what, err)
	case errors.Is(err, nats.ErrMaxPayload), errors.Is(err, nats.ErrBadSubject), errors.Is(err, jetstream.ErrInvalidSubject),
		errors.As(err, &api) && (api.Code == 400 || api.ErrorCode == jetstream.JSErrCodeStreamNotFound):
		return final("%s: %w", what, err)
	}
	return hideSecret(fmt.Errorf("%s: %w", what, err), secrets...)
}

func natsVerb(op string) string {
	if strings.EqualFold(op, "publish") {
		return "publish to"
	}
	return "subscribe to"
}

// permission reports a permissions violation the server answered to a
// core publish to subject: the server says so asynchronously, before the
// flush's answer.
func (c *natsConn) permission(subject string) error {
	err := c.nc.LastError()
	if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), `"`+subject+`"`) {
		return err
	}
	return nil
}

// streamFor is the stream capturing subject, or "" when none does (or
// the server has no JetStream), remembered for natsStreamCacheTTL.
func (c *natsConn) streamFor(ctx context.Context, subject string) (string, error) {
	c.mu.Lock()
	l, ok := c.streams[subject]
	c.mu.Unlock()
	if ok && time.Since(l.at) < natsStreamCacheTTL {
		return l.stream, nil
	}
	name, err := c.js.StreamNameBySubject(ctx, subject)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound), errors.Is(err, jetstream.ErrJetStreamNotEnabled),
		errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount), errors.Is(err, nats.ErrNoResponders):
		name = ""
	case err != nil:
		return "", err
	}
	c.mu.Lock()
	if len(c.streams) > 10000 {
		clear(c.streams)
	}
	c.streams[subject] = natsStreamLookup{stream: name, at: time.Now()}
	c.mu.Unlock()
	return name, nil
}

var natsPublishSpec = Spec{
	Kind:     KindNATSPublish,
	Icon:     "radio",
	Category: CategoryAction,
	Title:    "NATS publish",
	Summary:  "Publishes a message to a NATS subject; through JetStream, stored and deduped by the step, when a stream captures the subject.",
	Attempts: 3,
	Fields: []Field{
		{Name: "credential", Type: TypeCredential, Label: "NATS credential", Required: true, CredentialTypes: []string{CredentialNATS}},
		{Name: "subject", Type: TypeTemplate, Label: "Subject", Required: true, Min: Bound(1), Placeholder: "orders.{{ trigger.body.region }}",
			Help: "The subject, without wildcards. May hold {{ templates }}."},
		{Name: "body", Type: TypeTemplate, Label: "Body", Multiline: true, Placeholder: "{{ input }}",
			Help: "The message; a value that is not text is sent as JSON. Empty sends an empty message."},
		{Name: "headers", Type: TypeMap, Label: "Headers", Items: &Field{Name: "value", Type: TypeTemplate, Label: "Value"},
			Help: "NATS headers of the message (Content-Type, …); values may hold {{ templates }}."},
		{Name: "jetstream", Type: TypeSelect, Label: "JetStream", Default: NATSJetStreamAuto, Advanced: true, Options: []Option{
			{Value: NATSJetStreamAuto, Label: "When a stream captures the subject", Help: "Publish through JetStream when a stream captures the subject (looked up, and remembered for 10 s), else a core publish."},
			{Value: NATSJetStreamOn, Label: "Always", Help: "Publish through JetStream; with no stream capturing the subject the step fails, and is retried."},
			{Value: NATSJetStreamOff, Label: "Never", Help: "A core publish: the server has taken it and whoever listens gets it; nothing waits for a stream to store it."},
		}, Help: "A JetStream publish waits until the stream has stored the message, and carries the step's id as Nats-Msg-Id, so a retried step is stored once."},
	},
}

type natsPublishParams struct {
	Credential string            `json:"credential"`
	Subject    string            `json:"subject"`
	Body       string            `json:"body"`
	Headers    map[string]string `json:"headers"`
	JetStream  string            `json:"jetstream"`
}

type natsPublishNode struct {
	credential string
	subject    *expression.Template
	body       *expression.Template
	headers    map[string]*expression.Template
	jetstream  string
}

var _ Node = (*natsPublishNode)(nil)

func buildNATSPublish(b *Builder, p *natsPublishParams) Node {
	n := &natsPublishNode{credential: p.Credential, subject: b.Template("subject", p.Subject), jetstream: p.JetStream}
	if p.Body != "" {
		n.body = b.Template("body", p.Body)
	}
	if len(p.Headers) > 0 {
		n.headers = b.Templates("headers", p.Headers)
	}
	if strings.ContainsAny(p.Subject, " \t\r\n") && !strings.Contains(p.Subject, "{{") {
		b.Fail("subject", "holds white space, which subjects may not")
	}
	return n
}

// Run publishes the message.
func (n *natsPublishNode) Run(ctx context.Context, in *Input) (Result, error) {
	cred, err := in.Credential(ctx, n.credential, CredentialNATS)
	if err != nil {
		return Result{}, err
	}
	subject, err := renderText(ctx, in, "subject", n.subject)
	if err != nil {
		return Result{}, err
	}
	if err := natsCheckSubject(subject); err != nil {
		return Result{}, Permanent(fmt.Errorf("subject: %w", err))
	}
	msg := nats.NewMsg(subject)
	body, err := renderText(ctx, in, "body", n.body)
	if err != nil {
		return Result{}, err
	}
	msg.Data = []byte(body)
	for name, t := range n.headers {
		v, err := renderText(ctx, in, "headers."+name, t)
		if err != nil {
			return Result{}, err
		}
		msg.Header.Set(name, v)
	}
	conn, err := natsClient(ctx, in.Services, cred)
	if err != nil {
		return Result{}, err
	}
	out, err := n.publish(ctx, in, conn, msg)
	if err != nil {
		return Result{}, in.Services.natsError("NATS publish to "+subject, err, cred.Secrets...)
	}
	return Result{Output: out}, nil
}

func (n *natsPublishNode) publish(ctx context.Context, in *Input, conn *natsConn, msg *nats.Msg) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(ctx, natsRequestTimeout)
	defer cancel()
	useJS := n.jetstream == NATSJetStreamOn
	if n.jetstream == NATSJetStreamAuto {
		stream, err := conn.streamFor(ctx, msg.Subject)
		if err != nil {
			return nil, fmt.Errorf("look up the stream of the subject: %w", err)
		}
		useJS = stream != ""
	}
	if !useJS {
		if err := conn.nc.PublishMsg(msg); err != nil {
			return nil, err
		}
		if err := conn.nc.FlushWithContext(ctx); err != nil {
			return nil, err
		}
		if err := conn.permission(msg.Subject); err != nil {
			return nil, err
		}
		return map[string]any{"published": true, "subject": msg.Subject}, nil
	}
	var opts []jetstream.PublishOpt
	if in.IdempotencyKey != "" && msg.Header.Get(jetstream.MsgIDHeader) == "" {
		opts = append(opts, jetstream.WithMsgID(in.IdempotencyKey))
	}
	ack, err := conn.js.PublishMsg(ctx, msg, opts...)
	if err != nil {
		if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
			if perm := conn.permission(msg.Subject); perm != nil {
				return nil, perm
			}
			return nil, fmt.Errorf("no JetStream stream captures the subject (or it is not available): %w", err)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			if perm := conn.permission(msg.Subject); perm != nil {
				return nil, perm
			}
		}
		return nil, err
	}
	return map[string]any{"subject": msg.Subject, "stream": ack.Stream, "sequence": ack.Sequence, "duplicate": ack.Duplicate}, nil
}

// natsCheckSubject checks a subject to publish to.
func natsCheckSubject(subject string) error {
	switch {
	case subject == "":
		return errors.New("the subject is empty")
	case strings.ContainsAny(subject, " \t\r\n"):
		return fmt.Errorf("%q holds white space", subject)
	case strings.ContainsAny(subject, "*>"):
		return fmt.Errorf("%q holds a wildcard; one publishes to a single subject", subject)
	case strings.HasPrefix(subject, ".") || strings.HasSuffix(subject, ".") || strings.Contains(subject, ".."):
		return fmt.Errorf("%q has an empty token", subject)
	}
	return nil
}

var natsTriggerSpec = Spec{
	Kind:     KindNATSTrigger,
	Icon:     "radio",
	Category: CategoryTrigger,
	Title:    "NATS",
	Summary:  "Starts the flow for each message on a NATS subject: through a durable JetStream consumer when a stream captures it (at least once), else a core queue subscription (at most once).",
	Pure:     true,
	Fields: append([]Field{
		{Name: "credential", Type: TypeCredential, Label: "NATS credential", Required: true, CredentialTypes: []string{CredentialNATS}},
		{Name: "subject", Type: TypeString, Label: "Subject", Required: true, Min: Bound(1), Placeholder: "orders.>",
			Help: "The subject; * matches one token, > the rest."},
		{Name: "stream", Type: TypeString, Label: "Stream", Placeholder: "ORDERS",
			Help: "The JetStream stream to consume, which must exist. Empty: the stream capturing the subject, if one does; else a core subscription, which loses messages published while no instance listens."},
		{Name: "start", Type: TypeSelect, Label: "Start with", Default: NATSStartNew, Options: []Option{
			{Value: NATSStartNew, Label: "New messages", Help: "A consumer made now takes messages stored from now on."},
			{Value: NATSStartAll, Label: "All messages", Help: "A consumer made now takes the stream from its first message."},
		}, Help: "JetStream: where the durable consumer begins when it is made; an existing one goes on where it was."},
		{Name: "batch", Type: TypeInteger, Label: "Batch", Default: 100, Min: Bound(1), Max: Bound(1000), Advanced: true,
			Help: "How many messages one fetch takes; they are recorded together."},
		{Name: "ack_wait_ms", Type: TypeDuration, Label: "Redeliver after", Default: 30000, Min: Bound(1000), Max: Bound(3600000), Advanced: true,
			Help: "JetStream: a message taken and not acknowledged for this long (its instance died) is delivered again."},
		{Name: "max_deliver", Type: TypeInteger, Label: "Deliveries", Default: 0, Min: Bound(0), Max: Bound(1000), Advanced: true,
			Help: "JetStream: how often a message is delivered before JetStream gives up on it; 0 never gives up. A message is delivered again only when it could not be recorded."},
	}, brokerTriggerFields...),
}

type natsTriggerParams struct {
	Credential string `json:"credential"`
	Subject    string `json:"subject"`
	Stream     string `json:"stream"`
	Start      string `json:"start"`
	Batch      int    `json:"batch"`
	AckWaitMS  int64  `json:"ack_wait_ms"`
	MaxDeliver int    `json:"max_deliver"`
	brokerTriggerParams
}

// NATSTrigger is a compiled trigger.nats node.
type NATSTrigger struct {
	brokerTrigger
	subject    string
	stream     string
	start      string
	batch      int
	ackWait    time.Duration
	maxDeliver int
}

var _ BrokerTrigger = (*NATSTrigger)(nil)

func buildNATSTrigger(b *Builder, p *natsTriggerParams) Node {
	if err := natsCheckFilter(p.Subject); err != nil {
		b.Fail("subject", "%s", err)
	}
	if strings.ContainsAny(p.Stream, ".*> \t\r\n/\\") {
		b.Fail("stream", "a stream's name holds no dots, wildcards, slashes or white space")
	}
	return &NATSTrigger{
		brokerTrigger: newBrokerTrigger(b, p.Credential, &p.brokerTriggerParams),
		subject:       p.Subject, stream: p.Stream, start: p.Start, batch: p.Batch,
		ackWait: time.Duration(p.AckWaitMS) * time.Millisecond, maxDeliver: p.MaxDeliver,
	}
}

// natsCheckFilter checks a subject to subscribe to.
func natsCheckFilter(subject string) error {
	if strings.ContainsAny(subject, " \t\r\n") {
		return errors.New("holds white space, which subjects may not")
	}
	tokens := strings.Split(subject, ".")
	for i, t := range tokens {
		switch {
		case t == "":
			return errors.New("has an empty token (two dots, or a dot at an end)")
		case t == ">" && i != len(tokens)-1:
			return errors.New("> may only be the last token")
		case len(t) > 1 && strings.ContainsAny(t, "*>"):
			return errors.New("a wildcard (* or >) must be a whole token, as in orders.*.created")
		}
	}
	return nil
}

// Broker implements BrokerTrigger.
func (t *NATSTrigger) Broker() string { return BrokerNATS }

// natsConsumerName names the trigger's durable consumer and queue group after
// its flow and node, so they outlive restarts and every instance shares
// them.
func natsConsumerName(flowID, nodeID string) string {
	name := "hookflow_" + flowID + "_" + nodeID
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, name)
}

// Consume consumes through a durable JetStream consumer when the stream
// is named or one captures the subject, else through a core queue
// subscription.
func (t *NATSTrigger) Consume(ctx context.Context, c *Consumption) error {
	cred, err := t.openCredential(ctx, c, CredentialNATS)
	if err != nil {
		return err
	}
	conn, err := natsClient(ctx, c.Services, cred)
	if err != nil {
		return err
	}
	stream, err := t.findStream(ctx, conn)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return c.Services.natsError("find the stream of "+t.subject, err, cred.Secrets...)
	}
	if stream == nil {
		err = t.consumeCore(ctx, c, conn)
	} else {
		err = t.consumeStream(ctx, c, conn, stream)
	}
	if err != nil && ctx.Err() == nil {
		return c.Services.natsError("consume "+t.subject, err, cred.Secrets...)
	}
	return nil
}

// findStream is the named stream, or the one capturing the subject; nil
// when none is named and none captures it.
func (t *NATSTrigger) findStream(ctx context.Context, conn *natsConn) (jetstream.Stream, error) {
	ctx, cancel := context.WithTimeout(ctx, natsRequestTimeout)
	defer cancel()
	name := t.stream
	if name == "" {
		var err error
		if name, err = conn.streamFor(ctx, t.subject); err != nil || name == "" {
			return nil, err
		}
	}
	s, err := conn.js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, Permanent(fmt.Errorf("JetStream has no stream %q", name))
	}
	return s, err
}

// consumeStream fetches batches from the durable consumer and acknowledges
// each message once recorded: a refused one is terminated (never delivered
// again); one whose record failed is negatively acknowledged, to be
// delivered again, and Consume returns.
func (t *NATSTrigger) consumeStream(ctx context.Context, c *Consumption, conn *natsConn, stream jetstream.Stream) error {
	name := natsConsumerName(c.FlowID, c.NodeID)
	cfg := jetstream.ConsumerConfig{
		Durable: name, Name: name, AckPolicy: jetstream.AckExplicitPolicy, AckWait: t.ackWait,
		MaxDeliver: t.maxDeliver, FilterSubject: t.subject, DeliverPolicy: jetstream.DeliverNewPolicy,
		MaxAckPending: max(1000, 2*t.batch),
	}
	if cfg.MaxDeliver == 0 {
		cfg.MaxDeliver = -1
	}
	if t.start == NATSStartAll {
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
	}
	setup, cancel := context.WithTimeout(ctx, natsRequestTimeout)
	defer cancel()
	if existing, err := stream.Consumer(setup, name); err == nil {
		// Where it starts cannot change once it exists.
		cfg.DeliverPolicy = existing.CachedInfo().Config.DeliverPolicy
		cfg.OptStartSeq = existing.CachedInfo().Config.OptStartSeq
		cfg.OptStartTime = existing.CachedInfo().Config.OptStartTime
	}
	consumer, err := stream.CreateOrUpdateConsumer(setup, cfg)
	if err != nil {
		return fmt.Errorf("create durable consumer %s of stream %s: %w", name, stream.CachedInfo().Config.Name, err)
	}
	c.Subscribed()
	// Take what is there, up to a batch; when nothing is, wait for the
	// first message to come, so none waits for a batch to fill.
	wait := false
	for ctx.Err() == nil {
		if conn.nc.IsClosed() {
			return fmt.Errorf("the connection closed: %w", natsClosedError(conn))
		}
		var batch jetstream.MessageBatch
		if wait {
			batch, err = consumer.Fetch(1, jetstream.FetchMaxWait(natsFetchWait))
		} else {
			batch, err = consumer.FetchNoWait(t.batch)
		}
		if err != nil {
			return err
		}
		var msgs []jetstream.Msg
		for m := range batch.Messages() {
			msgs = append(msgs, m)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && len(msgs) == 0 {
			if conn.nc.IsClosed() {
				return fmt.Errorf("the connection closed: %w", natsClosedError(conn))
			}
			return err
		}
		wait = len(msgs) == 0
		if err := t.handleStream(ctx, c, conn, msgs); err != nil {
			return err
		}
	}
	return nil
}

// natsClosedError is why a connection closed.
func natsClosedError(conn *natsConn) error {
	if err := conn.nc.LastError(); err != nil {
		return err
	}
	return nats.ErrConnectionClosed
}

// handleStream records a batch together, so the messages share commits,
// then settles each with JetStream.
func (t *NATSTrigger) handleStream(ctx context.Context, c *Consumption, conn *natsConn, msgs []jetstream.Msg) error {
	if len(msgs) == 0 {
		return nil
	}
	records := make([]*Message, len(msgs))
	for i, m := range msgs {
		records[i] = t.streamMessage(m)
	}
	outcomes, errs := handleAll(ctx, c, records)
	var failed, settle error
	for i, m := range msgs {
		var err error
		switch {
		case errs[i] != nil:
			failed = errs[i]
			err = m.Nak()
		case outcomes[i] == MessageRefused:
			err = m.Term()
		default:
			err = m.Ack()
		}
		if err != nil && settle == nil {
			settle = err
		}
	}
	// Settled even when the stop has begun: the messages are recorded, and
	// must not run again. One flush makes sure the server has every ack.
	flush, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if settle == nil {
		settle = conn.nc.FlushWithContext(flush)
	}
	if settle != nil {
		// Their records are durable: delivered again, they are deduped.
		return fmt.Errorf("acknowledge %d messages of %s: %w", len(msgs), t.subject, settle)
	}
	if failed != nil && ctx.Err() == nil {
		return fmt.Errorf("record a message of %s: %w", t.subject, failed)
	}
	return nil
}

// streamMessage is a JetStream message as a delivery records it.
func (t *NATSTrigger) streamMessage(m jetstream.Msg) *Message {
	msg := natsMessage(m.Subject(), m.Headers(), m.Data())
	if meta, err := m.Metadata(); err == nil {
		msg.Headers["stream"] = meta.Stream
		msg.Headers["sequence"] = strconv.FormatUint(meta.Sequence.Stream, 10)
		msg.Headers["delivered"] = strconv.FormatUint(meta.NumDelivered, 10)
		if msg.ID == "" {
			msg.ID = meta.Stream + ":" + strconv.FormatUint(meta.Sequence.Stream, 10)
		}
	}
	return msg
}

// natsMessage is a NATS message as a delivery records it: its headers by
// lower-case name, with the subject; its Nats-Msg-Id as its id.
func natsMessage(subject string, header nats.Header, data []byte) *Message {
	m := &Message{Topic: subject, Body: data, Headers: map[string]string{"subject": subject}}
	for name, values := range header {
		m.Headers[strings.ToLower(name)] = strings.Join(values, ", ")
	}
	m.ID = header.Get(jetstream.MsgIDHeader)
	m.ContentType = header.Get("Content-Type")
	return m
}

// natsCoreBuffer is how many core messages wait for the consumer; past it
// the client drops them (a slow consumer).
const natsCoreBuffer = 8192

// consumeCore subscribes in a queue group named after the flow and node,
// so instances compete for the messages. At most once: core NATS keeps
// nothing for a subscriber that is not there, and a message taken is gone
// whether its record succeeded or not.
func (t *NATSTrigger) consumeCore(ctx context.Context, c *Consumption, conn *natsConn) error {
	ch := make(chan *nats.Msg, natsCoreBuffer)
	sub, err := conn.nc.ChanQueueSubscribe(t.subject, natsConsumerName(c.FlowID, c.NodeID), ch)
	if err != nil {
		return err
	}
	defer func() { _ = sub.Unsubscribe() }()
	flush, cancel := context.WithTimeout(ctx, natsRequestTimeout)
	defer cancel()
	if err := conn.nc.FlushWithContext(flush); err != nil {
		return err
	}
	if err := conn.permission(t.subject); err != nil {
		return err
	}
	c.Subscribed()
	check := time.NewTicker(natsFetchWait)
	defer check.Stop()
	for {
		var first *nats.Msg
		select {
		case <-ctx.Done():
			return nil
		case first = <-ch:
		case <-check.C:
			if conn.nc.IsClosed() {
				return fmt.Errorf("the connection closed: %w", natsClosedError(conn))
			}
			if err := conn.permission(t.subject); err != nil {
				return err
			}
			continue
		}
		msgs := []*nats.Msg{first}
	drain:
		for len(msgs) < t.batch {
			select {
			case m := <-ch:
				msgs = append(msgs, m)
			default:
				break drain
			}
		}
		records := make([]*Message, len(msgs))
		for i, m := range msgs {
			records[i] = natsMessage(m.Subject, m.Header, m.Data)
		}
		_, errs := handleAll(ctx, c, records)
		for _, err := range errs {
			if err != nil && ctx.Err() == nil {
				return fmt.Errorf("record a message of %s (core NATS: it is lost): %w", t.subject, err)
			}
		}
	}
}
