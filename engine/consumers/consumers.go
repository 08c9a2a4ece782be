// Package consumers runs the broker triggers of active flows. Each has a
// consumer that subscribes, hands every message to the ingress (which
// records it as a delivery with its run, as it does a webhook request) and
// lets the trigger acknowledge it once that is durable; that connects again
// with a backoff when its connection fails; and whose state /readyz and the
// flow show. Every instance sharing a database consumes, competing for the
// messages, except for triggers only one may consume at a time (MQTT),
// which the leader of each consumes.
package consumers

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/engine/ingress"
	"github.com/hookflow/hookflow/engine/metrics"
	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
)

// Defaults of the options.
const (
	DefaultMinBackoff = 500 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
	// followInterval is how often flows changed by another instance are
	// looked for.
	followInterval = time.Second
	// steadyAfter is how long a consumer stays subscribed before its
	// backoff starts again from the shortest.
	steadyAfter = 10 * time.Second
)

// Statuses of a consumer.
const (
	// StatusConnecting: connecting and subscribing.
	StatusConnecting = "connecting"
	// StatusConnected: subscribed; messages flow.
	StatusConnected = "connected"
	// StatusRetrying: the connection failed (Error says why); it is tried
	// again at RetryAt.
	StatusRetrying = "retrying"
	// StatusStandby: another instance consumes this trigger, which only
	// one may consume at a time; this one takes over if it goes.
	StatusStandby = "standby"
)

// Options configure the consumers.
type Options struct {
	Store    store.Store
	Engine   *engine.Engine
	Ingress  *ingress.Ingress
	Services *nodes.Services
	Metrics  *metrics.Metrics
	Logger   *slog.Logger
	// MaxBodyBytes bounds a message's body, as HOOKFLOW_MAX_BODY_BYTES
	// does a request's.
	MaxBodyBytes int
	// Instance names this process among those sharing the database; empty
	// makes one up.
	Instance string
	// MinBackoff and MaxBackoff bound the wait before connecting again.
	MinBackoff, MaxBackoff time.Duration
}

// State is what a consumer is doing, on this instance.
type State struct {
	FlowID     string `json:"flow_id"`
	NodeID     string `json:"node_id"`
	Broker     string `json:"broker"`
	Credential string `json:"credential"`
	Status     string `json:"status"`
	// Error is why the last connection failed, while retrying.
	Error string `json:"error,omitempty"`
	// Since is when the status began.
	Since time.Time `json:"since"`
	// RetryAt is when a retrying consumer connects again.
	RetryAt *time.Time `json:"retry_at,omitempty"`
	// Failures counts the failed connections since the last steady one.
	Failures int `json:"failures,omitempty"`
}

// Consumers runs a consumer per active flow with a broker trigger.
type Consumers struct {
	opts Options
	log  *slog.Logger

	// syncing serializes following flows (Sync from this instance's
	// saves, the loop for other instances'), so a flow never gets two
	// consumers.
	syncing sync.Mutex

	mu      sync.Mutex
	running map[string]*consumer // by flow id
	stopped bool
	ctx     context.Context
	stop    context.CancelFunc
	done    chan struct{}
}

type consumer struct {
	version int
	cancel  context.CancelFunc
	done    chan struct{}

	mu    sync.Mutex
	state State
}

func (c *consumer) set(status string, err error, retryAt *time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state.Status, c.state.Since, c.state.RetryAt = status, time.Now().UTC(), retryAt
	c.state.Error = ""
	if err != nil {
		c.state.Error = err.Error()
	}
}

func (c *consumer) snapshot() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// New returns the consumers; Start sets them consuming.
func New(opts Options) *Consumers {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(DefaultMaxBackoff, opts.MinBackoff)
	}
	if opts.Instance == "" {
		opts.Instance = "hookflow-" + strings.ToLower(rand.Text()[:10])
	}
	ctx, stop := context.WithCancel(context.Background())
	return &Consumers{opts: opts, log: opts.Logger, running: map[string]*consumer{}, ctx: ctx, stop: stop}
}

// Start consumes the broker triggers of every active flow, and follows
// their changes, made here (Sync) or on another instance. It returns at
// once.
func (c *Consumers) Start() {
	c.done = make(chan struct{})
	go func() {
		defer close(c.done)
		fingerprint := ""
		ticker := time.NewTicker(followInterval)
		defer ticker.Stop()
		for {
			if fp, err := c.opts.Store.FlowsFingerprint(c.ctx); err != nil {
				if c.ctx.Err() == nil {
					c.log.Error("check flows for changes", "error", err)
				}
			} else if fp != fingerprint {
				c.syncAll(c.ctx)
				fingerprint = fp
			}
			select {
			case <-c.ctx.Done():
				return
			case <-ticker.C:
			}
		}
	}()
}

// Stop stops every consumer: messages being recorded are recorded and
// acknowledged, or left to the broker to deliver again.
func (c *Consumers) Stop() {
	c.mu.Lock()
	c.stopped = true
	ids := make([]string, 0, len(c.running))
	for id := range c.running {
		ids = append(ids, id)
	}
	c.mu.Unlock()
	c.stop()
	if c.done != nil {
		<-c.done
	}
	c.syncing.Lock()
	defer c.syncing.Unlock()
	for _, id := range ids {
		c.halt(id)
	}
}

// Sync follows one flow's change: it was saved, activated, deactivated or
// deleted.
func (c *Consumers) Sync(flowID string) {
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	c.syncing.Lock()
	defer c.syncing.Unlock()
	f, err := c.opts.Store.GetFlow(ctx, flowID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			c.halt(flowID)
		}
		return
	}
	c.sync(ctx, f)
}

// States lists the consumers of this instance, by flow.
func (c *Consumers) States() []State {
	c.mu.Lock()
	list := make([]State, 0, len(c.running))
	for _, x := range c.running {
		list = append(list, x.snapshot())
	}
	c.mu.Unlock()
	slices.SortFunc(list, func(a, b State) int { return strings.Compare(a.FlowID, b.FlowID) })
	return list
}

// State is the state of a flow's consumer on this instance; false when it
// has none.
func (c *Consumers) State(flowID string) (State, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	x, ok := c.running[flowID]
	if !ok {
		return State{}, false
	}
	return x.snapshot(), true
}

func (c *Consumers) syncAll(ctx context.Context) {
	c.syncing.Lock()
	defer c.syncing.Unlock()
	flows, err := c.opts.Store.ListFlows(ctx)
	if err != nil {
		c.log.ErrorContext(ctx, "read flows for broker triggers", "error", err)
		return
	}
	seen := make(map[string]bool, len(flows))
	for _, f := range flows {
		seen[f.ID] = true
		c.sync(ctx, f)
	}
	c.mu.Lock()
	var gone []string
	for id := range c.running {
		if !seen[id] {
			gone = append(gone, id)
		}
	}
	c.mu.Unlock()
	for _, id := range gone {
		c.halt(id)
	}
}

// sync runs a consumer for a flow that is active with a broker trigger, of
// its current version, and none otherwise.
func (c *Consumers) sync(ctx context.Context, f *store.Flow) {
	if !f.Active {
		c.halt(f.ID)
		return
	}
	c.mu.Lock()
	current, ok := c.running[f.ID]
	c.mu.Unlock()
	if ok && current.version == f.Version {
		return
	}
	plan, err := c.opts.Engine.Plan(ctx, f.ID, f.Version)
	if err != nil {
		if ctx.Err() == nil {
			c.log.ErrorContext(ctx, "compile flow for its broker trigger", "flow_id", f.ID, "error", err)
		}
		return
	}
	trigger, isBroker := plan.Trigger.Node.(nodes.BrokerTrigger)
	c.halt(f.ID)
	if !isBroker {
		return
	}
	c.start(&ingress.BrokerTarget{
		FlowID: f.ID, FlowVersion: f.Version, Plan: plan, Trigger: trigger, MaxBodyBytes: c.opts.MaxBodyBytes,
	}, plan.Trigger.Def.ID)
}

// halt stops a flow's consumer and waits for it to end.
func (c *Consumers) halt(flowID string) {
	c.mu.Lock()
	x, ok := c.running[flowID]
	delete(c.running, flowID)
	c.mu.Unlock()
	if ok {
		x.cancel()
		<-x.done
	}
}

func (c *Consumers) start(t *ingress.BrokerTarget, nodeID string) {
	ctx, cancel := context.WithCancel(c.ctx)
	x := &consumer{version: t.FlowVersion, cancel: cancel, done: make(chan struct{})}
	x.state = State{FlowID: t.FlowID, NodeID: nodeID, Broker: t.Trigger.Broker(), Credential: t.Trigger.Credential(),
		Status: StatusConnecting, Since: time.Now().UTC()}
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		cancel()
		return
	}
	c.running[t.FlowID] = x
	c.mu.Unlock()
	go func() {
		defer close(x.done)
		c.consume(ctx, x, t, nodeID)
	}()
}

// consume runs a trigger's Consume until ctx ends, connecting again after
// a growing backoff each time it fails.
func (c *Consumers) consume(ctx context.Context, x *consumer, t *ingress.BrokerTarget, nodeID string) {
	log := c.log.With("flow_id", t.FlowID, "broker", t.Trigger.Broker())
	single := false
	if s, ok := t.Trigger.(nodes.SingleConsumer); ok {
		single = s.SingleConsumer()
	}
	backoff := c.opts.MinBackoff
	failures := 0
	for ctx.Err() == nil {
		lead, release := ctx, func() {}
		if single {
			x.set(StatusStandby, nil, nil)
			var err error
			lead, release, err = c.opts.Store.Lead(ctx, "broker:"+t.FlowID+":"+nodeID)
			if err != nil {
				return // stopped while waiting
			}
		}
		x.set(StatusConnecting, nil, nil)
		var subscribedAt time.Time
		err := t.Trigger.Consume(lead, &nodes.Consumption{
			Services: c.opts.Services, FlowID: t.FlowID, NodeID: nodeID, Instance: c.opts.Instance, Log: log,
			Subscribed: func() {
				subscribedAt = time.Now()
				x.set(StatusConnected, nil, nil)
				log.Info("broker trigger subscribed")
			},
			Handle: func(hctx context.Context, m *nodes.Message) (nodes.MessageOutcome, error) {
				outcome, err := c.opts.Ingress.TakeMessage(hctx, t, m, time.Now())
				if err == nil {
					c.opts.Metrics.BrokerMessage(t.Trigger.Broker(), outcomeName(outcome))
				}
				return outcome, err
			},
		})
		leadEnded := lead.Err() != nil
		release()
		if ctx.Err() != nil {
			return
		}
		if single && leadEnded && err == nil {
			continue // lost the leadership: stand by again
		}
		if err == nil {
			err = errors.New("the subscription ended")
		}
		if !subscribedAt.IsZero() && time.Since(subscribedAt) >= steadyAfter {
			backoff, failures = c.opts.MinBackoff, 0
		}
		failures++
		wait := jitter(backoff)
		retryAt := time.Now().Add(wait).UTC()
		x.set(StatusRetrying, err, &retryAt)
		x.mu.Lock()
		x.state.Failures = failures
		x.mu.Unlock()
		log.Warn("broker trigger disconnected; connecting again", "error", err, "wait", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		backoff = min(2*backoff, c.opts.MaxBackoff)
	}
}

// jitter spreads d over [d/2, d), so consumers that failed together do not
// all connect again together.
func jitter(d time.Duration) time.Duration {
	half := int64(d / 2)
	if half <= 0 {
		return d
	}
	n, err := rand.Int(rand.Reader, big.NewInt(half))
	if err != nil {
		return d
	}
	return time.Duration(half + n.Int64())
}

func outcomeName(o nodes.MessageOutcome) string {
	switch o {
	case nodes.MessageAccepted:
		return "accepted"
	case nodes.MessageDuplicate:
		return "duplicate"
	}
	return "refused"
}
