package nodes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/engine/expression"
)

// Kinds of Redis.
const (
	KindRedisCommand = "redis.command"
	KindRedisTrigger = "trigger.redis"
)

// CredentialRedis is the credential type of a Redis server.
const CredentialRedis = "redis"

// The commands redis.command runs: a safe subset, none of which can read or
// remove more than the one key it names.
const (
	RedisGet     = "GET"
	RedisSet     = "SET"
	RedisIncr    = "INCR"
	RedisLPush   = "LPUSH"
	RedisPublish = "PUBLISH"
	RedisXAdd    = "XADD"
)

// Where a new consumer group of trigger.redis starts reading its stream.
const (
	RedisStartNew = "new"
	RedisStartAll = "all"
)

// redisDialTimeout bounds connecting to Redis.
const redisDialTimeout = 10 * time.Second

// redisBodyField is the stream entry field that, when present, holds the
// message body; the entry's other fields become its headers.
const redisBodyField = "body"

var redisCredentialType = CredentialType{
	Name: CredentialRedis, Title: "Redis", Summary: "A Redis server that redis.command and trigger.redis connect to.",
	Fields: append([]Field{
		{Name: "url", Type: TypeString, Label: "URL", Required: true, Min: Bound(1), Placeholder: "redis://redis.internal:6379/0",
			Help: "redis://host:port/db, or rediss:// for TLS. A server on a private network must be allowed by the operator (HOOKFLOW_ALLOWED_HOSTS)."},
		{Name: "username", Type: TypeString, Label: "Username", Help: "An ACL user (Redis 6 and later); empty for the default user."},
		{Name: "password", Type: TypeString, Label: "Password", Secret: true},
	}, brokerCredentialTLSFields...),
	Validate: func(data map[string]any) FieldErrors {
		raw, _ := data["url"].(string)
		if _, err := redisURL(raw); err != nil {
			return FieldErrors{{Field: "url", Message: err.Error()}}
		}
		return checkCACertificate(data)
	},
}

// redisURL checks a Redis URL: its scheme, host, and database number.
func redisURL(raw string) (*redis.Options, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, errors.New("is not a URL such as redis://host:6379/0")
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, fmt.Errorf("must start with redis:// or rediss:// (TLS), not %q", u.Scheme+"://")
	}
	if u.Hostname() == "" {
		return nil, errors.New("names no host: redis://host:6379/0")
	}
	opts, err := redis.ParseURL(u.String())
	if err != nil {
		// The parser's message may quote the URL, password and all.
		return nil, errors.New("is not a Redis URL: give redis://host:port/db with a database number")
	}
	return opts, nil
}

// redisClient returns the shared client of a Redis credential.
func redisClient(ctx context.Context, s *Services, cred *Credential) (*redis.Client, error) {
	if s == nil {
		return nil, Permanent(errors.New("message brokers are not available here"))
	}
	c, err := s.Brokers.shared(ctx, BrokerRedis, cred, func(context.Context) (io.Closer, error) {
		opts, err := redisURL(cred.String("url"))
		if err != nil {
			return nil, Permanent(fmt.Errorf("credential %q: url %w", cred.Name, err))
		}
		if user := cred.String("username"); user != "" {
			opts.Username = user
		}
		if password := cred.String("password"); password != "" {
			opts.Password = password
		}
		if opts.TLSConfig != nil {
			opts.TLSConfig = credentialTLS(cred, opts.TLSConfig.ServerName)
		}
		dial := s.DialContext
		opts.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
			ctx, cancel := context.WithTimeout(ctx, redisDialTimeout)
			defer cancel()
			conn, err := dial(ctx, network, addr)
			if err != nil || opts.TLSConfig == nil {
				return conn, err
			}
			return tlsClient(ctx, conn, opts.TLSConfig)
		}
		// Commands fail fast on a broken connection; the executor's
		// retries and the trigger's backoff do the waiting.
		opts.MaxRetries = 1
		opts.DialerRetries = 1
		return redis.NewClient(opts), nil
	}, func(io.Closer) bool { return false })
	if err != nil {
		return nil, err
	}
	return c.(*redis.Client), nil
}

// redisError says what went wrong with Redis in the user's terms and
// whether another attempt could help. Final: the guard refusing the
// address, refused credentials or permissions, a key of the wrong type, a
// command the server does not take. Retried: a server that does not
// answer, is loading, or is busy.
func (s *Services) redisError(ctx context.Context, what string, err error, secrets ...string) error {
	err = hideSecret(fmt.Errorf("%s: %w", what, err), secrets...)
	var reply redis.Error
	switch {
	case s.refused(err):
		return Permanent(err)
	case errors.As(err, &reply):
		msg := reply.Error()
		switch {
		case strings.HasPrefix(msg, "WRONGPASS"), strings.HasPrefix(msg, "NOAUTH"), strings.HasPrefix(msg, "ERR AUTH"),
			strings.Contains(msg, "invalid username-password"), strings.Contains(msg, "invalid password"):
			return Permanent(fmt.Errorf("%s: Redis refused the credentials: %s", what, msg))
		case strings.HasPrefix(msg, "NOPERM"):
			return Permanent(fmt.Errorf("%s: the Redis user may not do this: %s", what, msg))
		case strings.HasPrefix(msg, "LOADING"), strings.HasPrefix(msg, "BUSY"), strings.HasPrefix(msg, "TRYAGAIN"),
			strings.HasPrefix(msg, "MASTERDOWN"), strings.HasPrefix(msg, "CLUSTERDOWN"), strings.HasPrefix(msg, "READONLY"):
			return err
		}
		return Permanent(err)
	case ctx.Err() != nil:
		return err
	}
	return err
}

var redisCommandSpec = Spec{
	Kind:     KindRedisCommand,
	Icon:     "layers",
	Category: CategoryAction,
	Title:    "Redis command",
	Summary:  "Runs one Redis command (GET, SET with a TTL, INCR, LPUSH, PUBLISH or XADD) and outputs its reply.",
	Attempts: 3,
	Fields: []Field{
		{Name: "credential", Type: TypeCredential, Label: "Redis credential", Required: true, CredentialTypes: []string{CredentialRedis}},
		{Name: "command", Type: TypeSelect, Label: "Command", Required: true, Options: []Option{
			{Value: RedisGet, Label: "GET", Help: "Read a string key: output value (null when missing) and found."},
			{Value: RedisSet, Label: "SET", Help: "Write a string key, with a TTL if given: output ok."},
			{Value: RedisIncr, Label: "INCR", Help: "Add one to a counter: output value."},
			{Value: RedisLPush, Label: "LPUSH", Help: "Push onto the head of a list: output length."},
			{Value: RedisPublish, Label: "PUBLISH", Help: "Publish to a channel (the key): output receivers."},
			{Value: RedisXAdd, Label: "XADD", Help: "Append an entry of fields to a stream: output id."},
		}},
		{Name: "key", Type: TypeTemplate, Label: "Key", Required: true, Min: Bound(1), Placeholder: "orders:{{ trigger.body.id }}",
			Help: "The key; for PUBLISH the channel, for XADD the stream. May hold {{ templates }}."},
		{Name: "value", Type: TypeTemplate, Label: "Value", Multiline: true, Placeholder: "{{ input }}",
			Help: "SET, LPUSH and PUBLISH: the value; one that is not text is written as JSON."},
		{Name: "ttl_ms", Type: TypeDuration, Label: "Expires after", Min: Bound(0),
			Help: "SET only: the key expires this long after it is written; 0 keeps it."},
		{Name: "fields", Type: TypeMap, Label: "Fields", Items: &Field{Name: "value", Type: TypeTemplate, Label: "Value"},
			Help: "XADD only: the entry's fields. A field named body is what trigger.redis reads as the message body."},
		{Name: "max_length", Type: TypeInteger, Label: "Stream length", Advanced: true, Min: Bound(0),
			Help: "XADD only: trim the stream to about this many entries (MAXLEN ~); 0 keeps every entry."},
	},
}

type redisCommandParams struct {
	Credential string            `json:"credential"`
	Command    string            `json:"command"`
	Key        string            `json:"key"`
	Value      string            `json:"value"`
	TTLMS      int64             `json:"ttl_ms"`
	Fields     map[string]string `json:"fields"`
	MaxLength  int64             `json:"max_length"`
}

type redisCommandNode struct {
	credential string
	command    string
	key        *expression.Template
	value      *expression.Template
	ttl        time.Duration
	fields     map[string]*expression.Template
	maxLength  int64
}

var _ Node = (*redisCommandNode)(nil)

func buildRedisCommand(b *Builder, p *redisCommandParams) Node {
	n := &redisCommandNode{
		credential: p.Credential, command: p.Command, key: b.Template("key", p.Key),
		ttl: time.Duration(p.TTLMS) * time.Millisecond, maxLength: p.MaxLength,
	}
	if p.Value != "" {
		n.value = b.Template("value", p.Value)
	}
	if len(p.Fields) > 0 {
		n.fields = b.Templates("fields", p.Fields)
	}
	switch p.Command {
	case RedisSet, RedisLPush, RedisPublish:
		if p.Value == "" {
			b.Fail("value", "is required for %s", p.Command)
		}
	case RedisXAdd:
		if len(p.Fields) == 0 {
			b.Fail("fields", "XADD needs at least one field")
		}
	}
	if p.TTLMS > 0 && p.Command != RedisSet {
		b.Fail("ttl_ms", "only SET takes an expiry")
	}
	if p.Value != "" && p.Command != RedisSet && p.Command != RedisLPush && p.Command != RedisPublish {
		b.Fail("value", "%s takes no value", p.Command)
	}
	if len(p.Fields) > 0 && p.Command != RedisXAdd {
		b.Fail("fields", "only XADD takes fields")
	}
	return n
}

// Run runs the command.
func (n *redisCommandNode) Run(ctx context.Context, in *Input) (Result, error) {
	cred, err := in.Credential(ctx, n.credential, CredentialRedis)
	if err != nil {
		return Result{}, err
	}
	key, err := renderText(ctx, in, "key", n.key)
	if err != nil {
		return Result{}, err
	}
	if key == "" {
		return Result{}, Permanent(errors.New("key: the key is empty"))
	}
	var value string
	if n.value != nil {
		if value, err = renderText(ctx, in, "value", n.value); err != nil {
			return Result{}, err
		}
	}
	client, err := redisClient(ctx, in.Services, cred)
	if err != nil {
		return Result{}, err
	}
	out, err := n.do(ctx, in, client, key, value)
	if err != nil {
		return Result{}, in.Services.redisError(ctx, "Redis "+n.command+" "+key, err, cred.Secrets...)
	}
	return Result{Output: out}, nil
}

func (n *redisCommandNode) do(ctx context.Context, in *Input, client *redis.Client, key, value string) (map[string]any, error) {
	switch n.command {
	case RedisGet:
		v, err := client.Get(ctx, key).Result()
		if errors.Is(err, redis.Nil) {
			return map[string]any{"value": nil, "found": false}, nil
		}
		if err != nil {
			return nil, err
		}
		return map[string]any{"value": v, "found": true}, nil
	case RedisSet:
		if err := client.Set(ctx, key, value, n.ttl).Err(); err != nil {
			return nil, err
		}
		return map[string]any{"ok": true}, nil
	case RedisIncr:
		v, err := client.Incr(ctx, key).Result()
		if err != nil {
			return nil, err
		}
		return map[string]any{"value": v}, nil
	case RedisLPush:
		v, err := client.LPush(ctx, key, value).Result()
		if err != nil {
			return nil, err
		}
		return map[string]any{"length": v}, nil
	case RedisPublish:
		v, err := client.Publish(ctx, key, value).Result()
		if err != nil {
			return nil, err
		}
		return map[string]any{"receivers": v}, nil
	case RedisXAdd:
		fields := make(map[string]any, len(n.fields))
		for name, t := range n.fields {
			v, err := renderText(ctx, in, "fields."+name, t)
			if err != nil {
				return nil, err
			}
			fields[name] = v
		}
		id, err := client.XAdd(ctx, &redis.XAddArgs{Stream: key, Values: fields, MaxLen: n.maxLength, Approx: n.maxLength > 0}).Result()
		if err != nil {
			return nil, err
		}
		return map[string]any{"id": id}, nil
	}
	return nil, Permanent(fmt.Errorf("command %q is not one redis.command runs", n.command))
}

var redisTriggerSpec = Spec{
	Kind:     KindRedisTrigger,
	Icon:     "layers",
	Category: CategoryTrigger,
	Title:    "Redis stream",
	Summary:  "Starts the flow for each entry added to a Redis stream, read by a consumer group: every instance shares the entries, and each is acknowledged once its run is stored.",
	Pure:     true,
	Fields: append([]Field{
		{Name: "credential", Type: TypeCredential, Label: "Redis credential", Required: true, CredentialTypes: []string{CredentialRedis}},
		{Name: "stream", Type: TypeString, Label: "Stream", Required: true, Min: Bound(1), Placeholder: "orders"},
		{Name: "group", Type: TypeString, Label: "Consumer group", Default: "hookflow", Min: Bound(1),
			Help: "Flows reading one stream in the same group share its entries; in different groups each gets every entry. Made if missing."},
		{Name: "start", Type: TypeSelect, Label: "Start with", Default: RedisStartNew, Options: []Option{
			{Value: RedisStartNew, Label: "New entries", Help: "A group made now reads entries added from now on."},
			{Value: RedisStartAll, Label: "All entries", Help: "A group made now reads the stream from its first entry."},
		}, Help: "Where a new consumer group begins; an existing group goes on where it was."},
		{Name: "batch", Type: TypeInteger, Label: "Batch", Default: 100, Min: Bound(1), Max: Bound(1000), Advanced: true,
			Help: "How many entries one read takes; they are recorded together."},
		{Name: "claim_idle_ms", Type: TypeDuration, Label: "Claim after", Default: 60000, Min: Bound(1000), Advanced: true,
			Help: "Entries another consumer read but did not acknowledge for this long (it died) are taken over."},
	}, brokerTriggerFields...),
}

type redisTriggerParams struct {
	Credential  string `json:"credential"`
	Stream      string `json:"stream"`
	Group       string `json:"group"`
	Start       string `json:"start"`
	Batch       int64  `json:"batch"`
	ClaimIdleMS int64  `json:"claim_idle_ms"`
	brokerTriggerParams
}

// RedisTrigger is a compiled trigger.redis node.
type RedisTrigger struct {
	brokerTrigger
	stream    string
	group     string
	start     string
	batch     int64
	claimIdle time.Duration
}

var _ BrokerTrigger = (*RedisTrigger)(nil)

func buildRedisTrigger(b *Builder, p *redisTriggerParams) Node {
	return &RedisTrigger{
		brokerTrigger: newBrokerTrigger(b, p.Credential, &p.brokerTriggerParams),
		stream:        p.Stream, group: p.Group, start: p.Start, batch: p.Batch,
		claimIdle: time.Duration(p.ClaimIdleMS) * time.Millisecond,
	}
}

// Broker implements BrokerTrigger.
func (r *RedisTrigger) Broker() string { return BrokerRedis }

// redisReadBlock is how long one read waits for entries: about how long a
// stop waits for Consume to return.
const redisReadBlock = time.Second

// Consume reads the stream as a member of the group named after this
// instance, and acknowledges (XACK) each entry once it is recorded. Entries
// a member read but did not acknowledge (it died, or its records failed)
// are claimed back once idle for claim_idle_ms, by whichever member looks
// first.
func (r *RedisTrigger) Consume(ctx context.Context, c *Consumption) error {
	cred, err := r.openCredential(ctx, c, CredentialRedis)
	if err != nil {
		return err
	}
	client, err := redisClient(ctx, c.Services, cred)
	if err != nil {
		return err
	}
	start := "$"
	if r.start == RedisStartAll {
		start = "0"
	}
	err = client.XGroupCreateMkStream(ctx, r.stream, r.group, start).Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return c.Services.redisError(ctx, "create consumer group "+r.group+" of "+r.stream, err, cred.Secrets...)
	}
	c.Subscribed()
	// First the entries this member read before and did not acknowledge
	// (its records failed): "0" reads them again; then new ones, ">".
	from := "0"
	lastClaim := time.Time{}
	for ctx.Err() == nil {
		var entries []redis.XMessage
		if from == ">" && time.Since(lastClaim) >= r.claimIdle/2 {
			lastClaim = time.Now()
			entries, err = r.claim(ctx, client, c.Instance)
			if err != nil {
				return r.readError(ctx, c, err, cred)
			}
		}
		if len(entries) == 0 {
			streams, err := client.XReadGroup(ctx, &redis.XReadGroupArgs{
				Group: r.group, Consumer: c.Instance, Streams: []string{r.stream, from}, Count: r.batch, Block: redisReadBlock,
			}).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				return r.readError(ctx, c, err, cred)
			}
			for _, s := range streams {
				entries = append(entries, s.Messages...)
			}
			if from == "0" && len(entries) == 0 {
				from = ">"
			}
		}
		if err := r.handle(ctx, c, client, entries); err != nil {
			return err
		}
	}
	return nil
}

// claim takes over the entries other members read and left pending for
// longer than claim_idle_ms, and acknowledges those deleted since.
func (r *RedisTrigger) claim(ctx context.Context, client *redis.Client, consumer string) ([]redis.XMessage, error) {
	var out []redis.XMessage
	next := "0-0"
	for {
		cmd := client.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream: r.stream, Group: r.group, Consumer: consumer, MinIdle: r.claimIdle, Start: next, Count: r.batch,
		})
		entries, cursor, err := cmd.Result()
		if err != nil {
			return nil, err
		}
		out = append(out, entries...)
		if cursor == "0-0" || len(out) >= int(r.batch) {
			return out, nil
		}
		next = cursor
	}
}

func (r *RedisTrigger) readError(ctx context.Context, c *Consumption, err error, cred *Credential) error {
	if ctx.Err() != nil {
		return nil
	}
	return c.Services.redisError(ctx, "read stream "+r.stream, err, cred.Secrets...)
}

// handle records a batch of entries together, so they share commits, and
// acknowledges those recorded. An entry not recorded stays pending; the
// consumer then stops, to read it again after a backoff.
func (r *RedisTrigger) handle(ctx context.Context, c *Consumption, client *redis.Client, entries []redis.XMessage) error {
	if len(entries) == 0 {
		return nil
	}
	recorded := make([]string, 0, len(entries))
	live := make([]redis.XMessage, 0, len(entries))
	msgs := make([]*Message, 0, len(entries))
	for _, e := range entries {
		if e.Values == nil {
			// Deleted from the stream while pending: nothing to run.
			recorded = append(recorded, e.ID)
			continue
		}
		live = append(live, e)
		msgs = append(msgs, r.message(e))
	}
	_, errs := handleAll(ctx, c, msgs)
	var failed error
	for i, e := range live {
		if errs[i] != nil {
			failed = errs[i]
			continue
		}
		recorded = append(recorded, e.ID)
	}
	if len(recorded) > 0 {
		// Acknowledged even when the stop has begun: the entries are
		// recorded, and must not run again.
		ack, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := client.XAck(ack, r.stream, r.group, recorded...).Err(); err != nil {
			// Their records are durable: read again, they are deduped.
			return fmt.Errorf("acknowledge %d entries of %s: %w", len(recorded), r.stream, err)
		}
	}
	if failed != nil && ctx.Err() == nil {
		return fmt.Errorf("record an entry of %s: %w", r.stream, failed)
	}
	return nil
}

// message is a stream entry as a delivery records it: the body field, or
// else every field as a JSON object, as its body; the other fields, the
// stream and the id as headers.
func (r *RedisTrigger) message(e redis.XMessage) *Message {
	m := &Message{Topic: r.stream, ID: e.ID, Headers: map[string]string{"stream": r.stream, "id": e.ID}}
	if body, ok := e.Values[redisBodyField]; ok {
		m.Body = []byte(fmt.Sprint(body))
		for name, v := range e.Values {
			switch name {
			case redisBodyField:
			case "content_type", "content-type":
				m.ContentType = fmt.Sprint(v)
			default:
				m.Headers[strings.ToLower(name)] = fmt.Sprint(v)
			}
		}
		return m
	}
	names := make([]string, 0, len(e.Values))
	for name := range e.Values {
		names = append(names, name)
	}
	sort.Strings(names)
	fields := make(map[string]string, len(names))
	for _, name := range names {
		fields[name] = fmt.Sprint(e.Values[name])
	}
	m.Body, _ = json.Marshal(fields)
	m.ContentType = "application/json"
	return m
}
