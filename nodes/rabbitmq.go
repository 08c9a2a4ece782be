package nodes

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/hookflow/hookflow/engine/expression"
)

// Kinds of RabbitMQ.
const (
	KindRabbitMQPublish = "rabbitmq.publish"
	KindRabbitMQTrigger = "trigger.rabbitmq"
)

// CredentialRabbitMQ is the credential type of a RabbitMQ server (AMQP
// 0-9-1).
const CredentialRabbitMQ = "rabbitmq"

// rabbitDialTimeout bounds connecting to RabbitMQ: the TCP connection, TLS
// and the AMQP handshake.
const rabbitDialTimeout = 10 * time.Second

// rabbitDeadLetterArg is the queue argument naming its dead-letter exchange.
const rabbitDeadLetterArg = "x-dead-letter-exchange"

var rabbitCredentialType = CredentialType{
	Name: CredentialRabbitMQ, Title: "RabbitMQ", Summary: "A RabbitMQ server (AMQP 0-9-1) that rabbitmq.publish and trigger.rabbitmq connect to.",
	Fields: append([]Field{
		{Name: "url", Type: TypeString, Label: "URL", Required: true, Min: Bound(1), Placeholder: "amqp://rabbitmq.internal:5672/vhost",
			Help: "amqp://host:port/vhost, or amqps:// for TLS; no path is the vhost /. A server on a private network must be allowed by the operator (HOOKFLOW_ALLOWED_HOSTS)."},
		{Name: "username", Type: TypeString, Label: "Username", Help: "Empty uses the URL's user, else guest."},
		{Name: "password", Type: TypeString, Label: "Password", Secret: true, Help: "Empty uses guest when the user is guest."},
	}, brokerCredentialTLSFields...),
	Validate: func(data map[string]any) FieldErrors {
		raw, _ := data["url"].(string)
		if _, err := rabbitURL(raw); err != nil {
			return FieldErrors{{Field: "url", Message: err.Error()}}
		}
		return checkCACertificate(data)
	},
}

// rabbitURL checks an AMQP URL: its scheme and host, and that it holds no
// password, which belongs in the secret field.
func rabbitURL(raw string) (amqp.URI, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return amqp.URI{}, errors.New("is not a URL such as amqp://host:5672/vhost")
	}
	if u.Scheme != "amqp" && u.Scheme != "amqps" {
		return amqp.URI{}, fmt.Errorf("must start with amqp:// or amqps:// (TLS), not %q", u.Scheme+"://")
	}
	if u.Hostname() == "" {
		return amqp.URI{}, errors.New("names no host: amqp://host:5672/vhost")
	}
	if _, ok := u.User.Password(); ok {
		return amqp.URI{}, errors.New("holds a password: give it in the password field, which is kept secret")
	}
	uri, err := amqp.ParseURI(u.String())
	if err != nil {
		return amqp.URI{}, errors.New("is not an AMQP URL: give amqp://host:port/vhost")
	}
	return uri, nil
}

// rabbitConn is the shared connection of a RabbitMQ credential, with the
// idle channels of publish actions, each in confirm mode.
type rabbitConn struct {
	*amqp.Connection
	mu   sync.Mutex
	idle []*rabbitPublisher
}

// rabbitConnection returns the shared connection of a RabbitMQ credential,
// dialled through the guard; a closed one is replaced.
func rabbitConnection(ctx context.Context, s *Services, cred *Credential) (*rabbitConn, error) {
	if s == nil {
		return nil, Permanent(errors.New("message brokers are not available here"))
	}
	c, err := s.Brokers.shared(ctx, BrokerRabbitMQ, cred, func(ctx context.Context) (io.Closer, error) {
		uri, err := rabbitURL(cred.String("url"))
		if err != nil {
			return nil, Permanent(fmt.Errorf("credential %q: url %w", cred.Name, err))
		}
		if user := cred.String("username"); user != "" {
			uri.Username = user
		}
		if password := cred.String("password"); password != "" {
			uri.Password = password
		}
		config := amqp.Config{
			SASL:       []amqp.Authentication{uri.PlainAuth()},
			Vhost:      uri.Vhost,
			Properties: amqp.NewConnectionProperties(),
			Dial: func(network, addr string) (net.Conn, error) {
				ctx, cancel := context.WithTimeout(ctx, rabbitDialTimeout)
				defer cancel()
				conn, err := s.DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				// TLS and the AMQP handshake must not stall on a broker
				// that does not answer; the library clears it after.
				_ = conn.SetDeadline(time.Now().Add(rabbitDialTimeout))
				return conn, nil
			},
		}
		config.Properties.SetClientConnectionName("hookflow")
		if uri.Scheme == "amqps" {
			config.TLSClientConfig = credentialTLS(cred, uri.Host)
		}
		// The URL without the password: the SASL above carries it.
		uri.Password = ""
		conn, err := amqp.DialConfig(uri.String(), config)
		if err != nil {
			return nil, s.rabbitError(ctx, "connect to RabbitMQ", err, cred.Secrets...)
		}
		return &rabbitConn{Connection: conn}, nil
	}, func(c io.Closer) bool { return c.(*rabbitConn).IsClosed() })
	if err != nil {
		return nil, err
	}
	return c.(*rabbitConn), nil
}

// rabbitError says what went wrong with RabbitMQ in the user's terms and
// whether another attempt could help. Final: the guard refusing the
// address, a certificate that does not check, refused credentials or
// permissions, a missing exchange or queue, a queue declared with other
// settings. Retried: a broker that does not answer or is closing.
func (s *Services) rabbitError(ctx context.Context, what string, err error, secrets ...string) error {
	err = hideSecret(fmt.Errorf("%s: %w", what, err), secrets...)
	var reply *amqp.Error
	switch {
	case s.refused(err):
		return Permanent(err)
	case certificateRefused(err):
		return Permanent(fmt.Errorf("%w (give the broker's CA in the credential's CA certificate)", err))
	case errors.As(err, &reply):
		switch reply.Code {
		case amqp.AccessRefused:
			if reply == amqp.ErrCredentials || strings.Contains(reply.Reason, "Login was refused") {
				return Permanent(fmt.Errorf("%s: RabbitMQ refused the username or password (%s)", what, reply.Reason))
			}
			return Permanent(fmt.Errorf("%s: the RabbitMQ user may not do this: %s", what, reply.Reason))
		case amqp.NotAllowed:
			return Permanent(fmt.Errorf("%s: RabbitMQ does not allow this connection (is the vhost right?): %s", what, reply.Reason))
		case amqp.NotFound:
			return Permanent(fmt.Errorf("%s: it does not exist: %s", what, reply.Reason))
		case amqp.PreconditionFailed:
			if strings.Contains(reply.Reason, "inequivalent arg") {
				return Permanent(fmt.Errorf("%s: the queue exists with other settings (durable, dead-letter exchange or other arguments); "+
					"give the same settings, delete the queue, or turn declare off: %s", what, reply.Reason))
			}
			return Permanent(fmt.Errorf("%s: RabbitMQ refused it: %s", what, reply.Reason))
		case amqp.ResourceLocked, amqp.ConnectionForced, amqp.ResourceError, amqp.InternalError, amqp.ChannelError:
			return err
		}
		if reply.Server && !reply.Recover {
			return Permanent(err)
		}
		return err
	case ctx.Err() != nil:
		return err
	}
	return err
}

var rabbitPublishSpec = Spec{
	Kind:     KindRabbitMQPublish,
	Icon:     "rabbit",
	Category: CategoryAction,
	Title:    "RabbitMQ publish",
	Summary:  "Publishes a message to a RabbitMQ exchange, and waits for the broker to confirm it took it.",
	Attempts: 3,
	Fields: []Field{
		{Name: "credential", Type: TypeCredential, Label: "RabbitMQ credential", Required: true, CredentialTypes: []string{CredentialRabbitMQ}},
		{Name: "exchange", Type: TypeString, Label: "Exchange", Placeholder: "orders",
			Help: "The exchange to publish to; empty is the default exchange, which routes to the queue the routing key names. It must exist."},
		{Name: "routing_key", Type: TypeTemplate, Label: "Routing key", Placeholder: "orders.{{ trigger.body.country }}",
			Help: "How the exchange routes the message; with the default exchange, the queue's name. May hold {{ templates }}."},
		{Name: "body", Type: TypeTemplate, Label: "Body", Required: true, Multiline: true, Placeholder: "{{ input }}",
			Help: "The message; one that is not text is written as JSON."},
		{Name: "content_type", Type: TypeString, Label: "Content type", Placeholder: "application/json",
			Help: "The content_type property; empty is application/json when the body is JSON, else text/plain."},
		{Name: "headers", Type: TypeMap, Label: "Headers", Items: &Field{Name: "value", Type: TypeTemplate, Label: "Value"},
			Help: "The message's headers table, each value text."},
		{Name: "persistent", Type: TypeBoolean, Label: "Persistent", Default: true,
			Help: "Delivery mode 2: a durable queue keeps the message across a broker restart."},
		{Name: "confirm", Type: TypeBoolean, Label: "Wait for confirmation", Default: true, Advanced: true,
			Help: "Wait until the broker confirms it took the message (publisher confirms); a refusal fails the step. Off, the step ends once the message is sent, and a message lost on the way goes unnoticed."},
		{Name: "mandatory", Type: TypeBoolean, Label: "Must reach a queue", Default: true, Advanced: true,
			Help: "With confirmation: a message the exchange routes to no queue fails the step instead of being dropped."},
	},
}

type rabbitPublishParams struct {
	Credential  string            `json:"credential"`
	Exchange    string            `json:"exchange"`
	RoutingKey  string            `json:"routing_key"`
	Body        string            `json:"body"`
	ContentType string            `json:"content_type"`
	Headers     map[string]string `json:"headers"`
	Persistent  bool              `json:"persistent"`
	Confirm     bool              `json:"confirm"`
	Mandatory   bool              `json:"mandatory"`
}

type rabbitPublishNode struct {
	credential  string
	exchange    string
	routingKey  *expression.Template
	body        *expression.Template
	contentType string
	headers     map[string]*expression.Template
	persistent  bool
	confirm     bool
	mandatory   bool
}

var _ Node = (*rabbitPublishNode)(nil)

func buildRabbitPublish(b *Builder, p *rabbitPublishParams) Node {
	n := &rabbitPublishNode{
		credential: p.Credential, exchange: p.Exchange, routingKey: b.Template("routing_key", p.RoutingKey),
		body: b.Template("body", p.Body), contentType: p.ContentType,
		persistent: p.Persistent, confirm: p.Confirm, mandatory: p.Mandatory,
	}
	if len(p.Headers) > 0 {
		n.headers = b.Templates("headers", p.Headers)
	}
	if p.Exchange == "" && p.RoutingKey == "" {
		b.Fail("routing_key", "is required with the default exchange: it names the queue")
	}
	return n
}

// Run publishes the message. Its message_id is the step's idempotency key,
// the same on every attempt, so a trigger.rabbitmq downstream dedupes a
// message published twice by a retry.
func (n *rabbitPublishNode) Run(ctx context.Context, in *Input) (Result, error) {
	cred, err := in.Credential(ctx, n.credential, CredentialRabbitMQ)
	if err != nil {
		return Result{}, err
	}
	msg, key, err := n.message(ctx, in)
	if err != nil {
		return Result{}, err
	}
	conn, err := rabbitConnection(ctx, in.Services, cred)
	if err != nil {
		return Result{}, err
	}
	where := "exchange " + strconv.Quote(n.exchange)
	if n.exchange == "" {
		where = "the default exchange"
	}
	if n.exchange == "" && key == "" {
		return Result{}, Permanent(errors.New("routing_key: the routing key is empty; with the default exchange it names the queue"))
	}
	what := "publish to " + where + " with routing key " + strconv.Quote(key)
	confirmed, err := conn.publish(ctx, n.exchange, key, n.confirm, n.confirm && n.mandatory, msg)
	if err != nil {
		return Result{}, in.Services.rabbitError(ctx, what, err, cred.Secrets...)
	}
	return Result{Output: map[string]any{"confirmed": confirmed}}, nil
}

// message renders the routing key and the message.
func (n *rabbitPublishNode) message(ctx context.Context, in *Input) (amqp.Publishing, string, error) {
	key, err := renderText(ctx, in, "routing_key", n.routingKey)
	if err != nil {
		return amqp.Publishing{}, "", err
	}
	body, err := renderText(ctx, in, "body", n.body)
	if err != nil {
		return amqp.Publishing{}, "", err
	}
	msg := amqp.Publishing{
		ContentType: n.contentType, Body: []byte(body), MessageId: in.IdempotencyKey,
		Timestamp: time.Now().UTC().Truncate(time.Second), DeliveryMode: amqp.Transient,
	}
	if msg.ContentType == "" {
		msg.ContentType = "text/plain"
		if json.Valid(msg.Body) {
			msg.ContentType = "application/json"
		}
	}
	if n.persistent {
		msg.DeliveryMode = amqp.Persistent
	}
	if len(n.headers) > 0 {
		msg.Headers = amqp.Table{}
		for name, t := range n.headers {
			v, err := renderText(ctx, in, "headers."+name, t)
			if err != nil {
				return amqp.Publishing{}, "", err
			}
			msg.Headers[name] = v
		}
	}
	return msg, key, nil
}

// rabbitPublisher is a channel publish actions take turns on, one publish
// at a time, so a returned message is the one just published.
type rabbitPublisher struct {
	ch      *amqp.Channel
	returns chan amqp.Return
	closed  chan *amqp.Error
}

// publisher takes an idle publishing channel, or opens one.
func (c *rabbitConn) publisher() (*rabbitPublisher, error) {
	c.mu.Lock()
	for len(c.idle) > 0 {
		p := c.idle[len(c.idle)-1]
		c.idle = c.idle[:len(c.idle)-1]
		if !p.ch.IsClosed() {
			c.mu.Unlock()
			return p, nil
		}
	}
	c.mu.Unlock()
	ch, err := c.Channel()
	if err != nil {
		return nil, err
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, err
	}
	return &rabbitPublisher{
		ch:      ch,
		returns: ch.NotifyReturn(make(chan amqp.Return, 1)),
		closed:  ch.NotifyClose(make(chan *amqp.Error, 1)),
	}, nil
}

// rabbitIdlePublishers is how many idle publishing channels a connection
// keeps.
const rabbitIdlePublishers = 16

// release gives a channel back, or closes it after a failure that may
// leave a confirmation or a return behind.
func (c *rabbitConn) release(p *rabbitPublisher, ok bool) {
	c.mu.Lock()
	if ok && len(c.idle) < rabbitIdlePublishers {
		c.idle = append(c.idle, p)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	_ = p.ch.Close()
}

// publish sends msg and, with confirm, waits for the broker's ack; a nack,
// a return (with mandatory) or the channel closing on an error fails it.
func (c *rabbitConn) publish(ctx context.Context, exchange, key string, confirm, mandatory bool, msg amqp.Publishing) (bool, error) {
	p, err := c.publisher()
	if err != nil {
		return false, err
	}
	dc, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, mandatory, false, msg)
	if err != nil {
		c.release(p, false)
		return false, err
	}
	if !confirm {
		c.release(p, true)
		return false, nil
	}
	acked, err := dc.WaitContext(ctx)
	if err != nil {
		c.release(p, false)
		return false, err
	}
	select {
	case r, ok := <-p.returns:
		if ok {
			c.release(p, false)
			return false, Permanent(fmt.Errorf("no queue is bound to take it (%d %s)", r.ReplyCode, r.ReplyText))
		}
	default:
	}
	if !acked {
		c.release(p, false)
		select {
		case e := <-p.closed:
			// The broker closed the channel (a missing exchange …),
			// which nacks what it did not confirm.
			if e != nil {
				return false, e
			}
		default:
		}
		return false, errors.New("RabbitMQ did not take the message (nack)")
	}
	c.release(p, true)
	return true, nil
}

var rabbitTriggerSpec = Spec{
	Kind:     KindRabbitMQTrigger,
	Icon:     "rabbit",
	Category: CategoryTrigger,
	Title:    "RabbitMQ queue",
	Summary:  "Starts the flow for each message of a RabbitMQ queue: every instance consumes it, and each message is acknowledged once its run is stored.",
	Pure:     true,
	Fields: append([]Field{
		{Name: "credential", Type: TypeCredential, Label: "RabbitMQ credential", Required: true, CredentialTypes: []string{CredentialRabbitMQ}},
		{Name: "queue", Type: TypeString, Label: "Queue", Required: true, Min: Bound(1), Placeholder: "orders"},
		{Name: "declare", Type: TypeBoolean, Label: "Declare the queue", Default: true,
			Help: "Declare the queue durable if it is missing. An existing queue must have the same settings. Off, the queue must exist."},
		{Name: "dead_letter_exchange", Type: TypeString, Label: "Dead-letter exchange", Advanced: true, Placeholder: "orders.dead",
			Help: "With declare: the queue's x-dead-letter-exchange, where the broker sends the messages Hookflow refuses."},
		{Name: "prefetch", Type: TypeInteger, Label: "Prefetch", Default: 100, Min: Bound(1), Max: Bound(10000), Advanced: true,
			Help: "How many unacknowledged messages an instance holds at a time (QoS); they are recorded together."},
		{Name: "refusal_requeues", Type: TypeInteger, Label: "Requeue refused", Default: 0, Min: Bound(0), Max: Bound(10), Advanced: true,
			Help: "How many times a refused message (a body that does not parse …) is put back on the queue before it is rejected for good, to the dead-letter exchange if the queue has one."},
	}, brokerTriggerFields...),
}

type rabbitTriggerParams struct {
	Credential         string `json:"credential"`
	Queue              string `json:"queue"`
	Declare            bool   `json:"declare"`
	DeadLetterExchange string `json:"dead_letter_exchange"`
	Prefetch           int    `json:"prefetch"`
	RefusalRequeues    int    `json:"refusal_requeues"`
	brokerTriggerParams
}

// RabbitMQTrigger is a compiled trigger.rabbitmq node.
type RabbitMQTrigger struct {
	brokerTrigger
	queue           string
	declare         bool
	deadLetter      string
	prefetch        int
	refusalRequeues int

	mu       sync.Mutex
	refusals map[string]int // times a message was refused and requeued, by id
}

var _ BrokerTrigger = (*RabbitMQTrigger)(nil)

func buildRabbitTrigger(b *Builder, p *rabbitTriggerParams) Node {
	if p.DeadLetterExchange != "" && !p.Declare {
		b.Fail("dead_letter_exchange", "is set when the queue is declared; turn declare on, or give the queue its dead-letter exchange where it is declared")
	}
	return &RabbitMQTrigger{
		brokerTrigger: newBrokerTrigger(b, p.Credential, &p.brokerTriggerParams),
		queue:         p.Queue, declare: p.Declare, deadLetter: p.DeadLetterExchange,
		prefetch: p.Prefetch, refusalRequeues: p.RefusalRequeues,
	}
}

// Broker implements BrokerTrigger.
func (r *RabbitMQTrigger) Broker() string { return BrokerRabbitMQ }

// rabbitResult is what became of a message handed to Handle.
type rabbitResult struct {
	d       amqp.Delivery
	outcome MessageOutcome
	err     error
}

// Consume consumes the queue on a channel of its own, with prefetch as its
// QoS, handing the messages in flight to Handle concurrently. A message is
// acknowledged once recorded; a refused one is rejected (requeued up to
// refusal_requeues times first); one whose record failed is requeued, and
// Consume returns the error.
func (r *RabbitMQTrigger) Consume(ctx context.Context, c *Consumption) error {
	cred, err := r.openCredential(ctx, c, CredentialRabbitMQ)
	if err != nil {
		return err
	}
	conn, err := rabbitConnection(ctx, c.Services, cred)
	if err != nil {
		return err
	}
	fail := func(what string, err error) error {
		return c.Services.rabbitError(ctx, what, err, cred.Secrets...)
	}
	ch, err := conn.Channel()
	if err != nil {
		return fail("open a channel", err)
	}
	defer func() { _ = ch.Close() }()
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	if r.declare {
		var args amqp.Table
		if r.deadLetter != "" {
			args = amqp.Table{rabbitDeadLetterArg: r.deadLetter}
		}
		if _, err := ch.QueueDeclare(r.queue, true, false, false, false, args); err != nil {
			return fail("declare queue "+r.queue, err)
		}
	}
	if err := ch.Qos(r.prefetch, 0, false); err != nil {
		return fail("set the prefetch of queue "+r.queue, err)
	}
	// Not ConsumeWithContext: its cancel races the channel's close. Closing
	// the channel ends the consumer, and requeues what it did not settle.
	// The tag shows in the management UI which instance and flow consume.
	tag := fmt.Sprintf("hookflow.%s.%s.%s.%s", c.Instance, c.FlowID, c.NodeID, strings.ToLower(rand.Text()[:6]))
	deliveries, err := ch.Consume(r.queue, tag, false, false, false, false, nil)
	if err != nil {
		return fail("consume queue "+r.queue, err)
	}
	c.Subscribed()

	acks := rabbitAcks{ch: ch}
	results := make(chan rabbitResult, r.prefetch)
	inFlight := 0
	var failed error
	// finish waits for the messages in flight, settles them, and says why
	// consuming ended.
	finish := func(why error) error {
		for ; inFlight > 0; inFlight-- {
			if err := r.settle(&acks, <-results, &failed); err != nil && why == nil {
				why = fail("acknowledge messages of "+r.queue, err)
			}
		}
		if err := acks.flush(); err != nil && why == nil {
			why = fail("acknowledge messages of "+r.queue, err)
		}
		if why == nil && failed != nil && ctx.Err() == nil {
			why = fmt.Errorf("record a message of %s: %w", r.queue, failed)
		}
		return why
	}
	for {
		select {
		case <-ctx.Done():
			return finish(nil)
		case e := <-closed:
			return finish(r.closedError(ctx, fail, e))
		case res := <-results:
			inFlight--
			if err := r.settle(&acks, res, &failed); err != nil {
				return finish(fail("acknowledge messages of "+r.queue, err))
			}
			if failed != nil {
				return finish(nil)
			}
		case d, ok := <-deliveries:
			if !ok {
				if ctx.Err() != nil {
					return finish(nil)
				}
				select {
				case e := <-closed:
					return finish(r.closedError(ctx, fail, e))
				case <-time.After(time.Second):
				}
				return finish(fmt.Errorf("consume queue %s: RabbitMQ cancelled the consumer (was the queue deleted?)", r.queue))
			}
			acks.received(d.DeliveryTag)
			inFlight++
			go func() {
				outcome, err := c.Handle(ctx, r.message(&d))
				results <- rabbitResult{d: d, outcome: outcome, err: err}
			}()
		}
	}
}

// closedError says why the channel closed.
func (r *RabbitMQTrigger) closedError(ctx context.Context, fail func(string, error) error, e *amqp.Error) error {
	if ctx.Err() != nil {
		return nil
	}
	if e == nil {
		return fmt.Errorf("consume queue %s: the connection to RabbitMQ closed", r.queue)
	}
	return fail("consume queue "+r.queue, e)
}

// settle acknowledges a handled message, or rejects a refused one, or
// requeues one whose record failed (and keeps the failure in failed).
func (r *RabbitMQTrigger) settle(acks *rabbitAcks, res rabbitResult, failed *error) error {
	tag := res.d.DeliveryTag
	switch {
	case res.err != nil:
		if *failed == nil {
			*failed = res.err
		}
		return acks.nack(tag, true)
	case res.outcome == MessageRefused:
		return acks.nack(tag, r.requeueRefused(&res.d))
	}
	return acks.ack(tag)
}

// requeueRefused says whether a refused message goes back on the queue:
// until this instance refused it refusal_requeues times. The count is kept
// in memory, by message_id (else routing key and body), so each instance
// of a cluster counts on its own.
func (r *RabbitMQTrigger) requeueRefused(d *amqp.Delivery) bool {
	if r.refusalRequeues == 0 {
		return false
	}
	key := d.MessageId
	if key == "" {
		key = d.RoutingKey + "\x00" + fingerprint(map[string]any{"body": string(d.Body)})
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refusals == nil || len(r.refusals) > 10000 {
		r.refusals = map[string]int{}
	}
	if r.refusals[key] >= r.refusalRequeues {
		delete(r.refusals, key)
		return false
	}
	r.refusals[key]++
	return true
}

// rabbitAcks acknowledges the deliveries of one channel. Handled out of
// order, they are acknowledged together (multiple) only over a contiguous
// run of settled tags, so one still in flight is never acknowledged.
type rabbitAcks struct {
	ch *amqp.Channel
	// next is the lowest tag not settled yet.
	next uint64
	// settled are tags from next on that are handled: true to be
	// acknowledged, false already rejected.
	settled map[uint64]bool
}

func (a *rabbitAcks) received(tag uint64) {
	if a.settled == nil {
		a.settled = map[uint64]bool{}
		a.next = tag
	}
}

func (a *rabbitAcks) ack(tag uint64) error {
	a.settled[tag] = true
	return a.advance()
}

// nack rejects a message at once, requeued or not.
func (a *rabbitAcks) nack(tag uint64, requeue bool) error {
	if err := a.ch.Nack(tag, false, requeue); err != nil {
		return err
	}
	a.settled[tag] = false
	return a.advance()
}

// advance acknowledges the run of settled tags from next.
func (a *rabbitAcks) advance() error {
	var upto uint64
	for {
		ack, ok := a.settled[a.next]
		if !ok {
			break
		}
		if ack {
			upto = a.next
		}
		delete(a.settled, a.next)
		a.next++
	}
	if upto == 0 {
		return nil
	}
	return a.ch.Ack(upto, true)
}

// flush acknowledges, one by one, the handled messages a gap (a message
// whose record failed, requeued) kept from being acknowledged together.
func (a *rabbitAcks) flush() error {
	for tag, ack := range a.settled {
		if ack {
			if err := a.ch.Ack(tag, false); err != nil {
				return err
			}
		}
		delete(a.settled, tag)
	}
	return nil
}

// message is a delivery as a delivery records it: the headers table and
// the properties as headers, by lower-case name, with routing_key,
// exchange and redelivered.
func (r *RabbitMQTrigger) message(d *amqp.Delivery) *Message {
	m := &Message{Topic: d.RoutingKey, ID: d.MessageId, ContentType: d.ContentType, Body: d.Body, Headers: map[string]string{}}
	for name, v := range d.Headers {
		m.Headers[strings.ToLower(name)] = rabbitHeaderText(v)
	}
	props := map[string]string{
		"content_type": d.ContentType, "content_encoding": d.ContentEncoding, "correlation_id": d.CorrelationId,
		"reply_to": d.ReplyTo, "expiration": d.Expiration, "message_id": d.MessageId, "type": d.Type,
		"user_id": d.UserId, "app_id": d.AppId, "routing_key": d.RoutingKey, "exchange": d.Exchange,
		"redelivered": strconv.FormatBool(d.Redelivered),
	}
	if d.DeliveryMode != 0 {
		props["delivery_mode"] = strconv.Itoa(int(d.DeliveryMode))
	}
	if d.Priority != 0 {
		props["priority"] = strconv.Itoa(int(d.Priority))
	}
	if !d.Timestamp.IsZero() {
		props["timestamp"] = d.Timestamp.UTC().Format(time.RFC3339)
	}
	for name, v := range props {
		if v != "" || name == "exchange" {
			m.Headers[name] = v
		}
	}
	return m
}

// rabbitHeaderText is a header table value as text: strings as they are,
// byte strings as text, anything else as JSON.
func rabbitHeaderText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	case time.Time:
		return v.UTC().Format(time.RFC3339)
	}
	return expression.Stringify(v)
}
