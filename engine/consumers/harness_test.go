package consumers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/engine/consumers"
	"github.com/hookflow/hookflow/engine/ingress"
	"github.com/hookflow/hookflow/engine/metrics"
	"github.com/hookflow/hookflow/engine/vault"
	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// stack is a server's working parts on one database, without the HTTP
// API: the engine, the ingress and the consumers, running; flows saved
// through it are consumed at once.
type stack struct {
	t           *testing.T
	store       *store.DB
	flows       *engine.Flows
	credentials *engine.Credentials
	consumers   *consumers.Consumers
	metrics     *metrics.Metrics
}

// newStack starts a stack on a fresh database of dialect. Broker
// connections reach loopback: no SSRF guard.
func newStack(t *testing.T, dialect string) *stack {
	t.Helper()
	db := storetest.Open(t, dialect)
	reg := nodes.NewRegistry()
	nodes.RegisterBuiltins(reg)
	sealer, err := vault.New(bytes.Repeat([]byte{42}, vault.KeySize))
	require.NoError(t, err)
	credentials := engine.NewCredentials(db, reg, sealer)
	services := &nodes.Services{Credentials: credentials, HTTP: &http.Client{Timeout: 10 * time.Second},
		Databases: nodes.NewDatabases(nil), Brokers: nodes.NewBrokerConnections()}
	m := metrics.New()
	runner := engine.New(engine.Options{Store: db, Registry: reg, PollInterval: 50 * time.Millisecond, Services: services, Metrics: m})
	require.NoError(t, runner.Start())
	flows := engine.NewFlows(db, reg)
	hooks := ingress.New(ingress.Options{Store: db, Engine: runner, Credentials: credentials})
	flows.OnChange(hooks.Forget)
	c := consumers.New(consumers.Options{Store: db, Engine: runner, Ingress: hooks, Services: services, Metrics: m,
		MaxBodyBytes: 1 << 20, MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second})
	flows.OnChange(c.Sync)
	c.Start()
	t.Cleanup(func() {
		c.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		runner.Stop(ctx)
		services.Brokers.Close()
		_ = services.Databases.Close()
	})
	return &stack{t: t, store: db, flows: flows, credentials: credentials, consumers: c, metrics: m}
}

// credential stores a credential.
func (s *stack) credential(name, typ, data string) {
	s.t.Helper()
	_, err := s.credentials.Create(context.Background(), name, typ, json.RawMessage(data))
	require.NoError(s.t, err)
}

// activate saves a flow, activates it, and waits until its consumer is
// subscribed; it returns the flow's id.
func (s *stack) activate(document string) string {
	s.t.Helper()
	ctx := context.Background()
	f, err := s.flows.Create(ctx, []byte(document))
	require.NoError(s.t, err)
	_, err = s.flows.SetActive(ctx, f.ID, true)
	require.NoError(s.t, err)
	s.waitStatus(f.ID, consumers.StatusConnected)
	return f.ID
}

// waitStatus waits until the flow's consumer has the status, and returns
// its state.
func (s *stack) waitStatus(flowID, status string) consumers.State {
	s.t.Helper()
	var state consumers.State
	require.Eventually(s.t, func() bool {
		var ok bool
		state, ok = s.consumers.State(flowID)
		return ok && state.Status == status
	}, 20*time.Second, 10*time.Millisecond, "the consumer of flow %s is %s; it is %+v", flowID, status, &state)
	return state
}

// finishedRuns waits until the flow has n finished runs and returns them,
// oldest first.
func (s *stack) finishedRuns(flowID string, n int) []*store.Run {
	s.t.Helper()
	var finished []*store.Run
	require.Eventually(s.t, func() bool {
		runs, err := s.store.ListRuns(context.Background(), store.RunFilter{FlowID: flowID, Limit: 1000})
		require.NoError(s.t, err)
		finished = finished[:0]
		for i := len(runs) - 1; i >= 0; i-- {
			if r := runs[i]; r.Status != store.RunQueued && r.Status != store.RunRunning {
				finished = append(finished, r)
			}
		}
		return len(finished) >= n
	}, 30*time.Second, 20*time.Millisecond, "%d finished runs of flow %s", n, flowID)
	return finished
}

// deliveries lists the flow's deliveries, oldest first.
func (s *stack) deliveries(flowID string) []*store.Delivery {
	s.t.Helper()
	list, err := s.store.ListDeliveries(context.Background(), store.DeliveryFilter{FlowID: flowID, Limit: 1000})
	require.NoError(s.t, err)
	for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
		list[i], list[j] = list[j], list[i]
	}
	return list
}

// checkGolden checks the deliveries of a golden broker flow that was sent
// A-1 twice (dedupe key key), one message it refused for reason, and A-2:
// two accepted with their runs, the method and the path (topic) of A-1's,
// a duplicate naming its run, a rejected one; the duplicate and the refused
// message run nothing.
func (s *stack) checkGolden(flowID, method, path, key, reason string) {
	t := s.t
	t.Helper()
	var byStatus map[string][]*store.Delivery
	require.Eventually(t, func() bool {
		byStatus = map[string][]*store.Delivery{}
		list := s.deliveries(flowID)
		for _, d := range list {
			byStatus[d.Status] = append(byStatus[d.Status], d)
		}
		return len(list) == 4
	}, 10*time.Second, 20*time.Millisecond, "4 deliveries of flow %s", flowID)
	require.Len(t, byStatus[store.DeliveryAccepted], 2)
	require.Len(t, byStatus[store.DeliveryDuplicate], 1)
	require.Len(t, byStatus[store.DeliveryRejected], 1)
	first := byStatus[store.DeliveryAccepted][0]
	if first.DedupeKey != key {
		first = byStatus[store.DeliveryAccepted][1]
	}
	assert.Equal(t, method, first.Method)
	assert.Equal(t, path, first.Path)
	assert.Equal(t, key, first.DedupeKey)
	assert.Equal(t, first.RunID, byStatus[store.DeliveryDuplicate][0].RunID, "the duplicate names the first run")
	assert.Equal(t, reason, byStatus[store.DeliveryRejected][0].Reason)
	time.Sleep(300 * time.Millisecond)
	assert.Len(t, s.finishedRuns(flowID, 2), 2, "the duplicate and the refused message run nothing")
}

// checkOutage cuts the flow's broker connection (p): its consumer retries,
// with the error; publish(n) sends messages 2 to 4 meanwhile; once p is
// restored the consumer connects again, and the flow has 4 runs.
func (s *stack) checkOutage(p *proxy, flowID string, publish func(n int)) {
	t := s.t
	t.Helper()
	p.cut()
	state := s.waitStatus(flowID, consumers.StatusRetrying)
	assert.NotEmpty(t, state.Error)
	assert.NotNil(t, state.RetryAt)
	for n := 2; n <= 4; n++ {
		publish(n)
	}
	p.restore()
	s.waitStatus(flowID, consumers.StatusConnected)
	runs := s.finishedRuns(flowID, 4)
	assert.Len(t, runs, 4, "the messages published while the broker was away run once it is back")
}

// trace is a run as text: its trigger type and status, then a line per
// step with its output, for golden comparisons.
func (s *stack) trace(run *store.Run) string {
	s.t.Helper()
	steps, err := s.store.ListSteps(context.Background(), run.ID)
	require.NoError(s.t, err)
	var b strings.Builder
	fmt.Fprintf(&b, "trigger: %s\nstatus: %s\n", run.TriggerType, run.Status)
	if run.Error != "" {
		fmt.Fprintf(&b, "error: %s\n", run.Error)
	}
	for _, st := range steps {
		fmt.Fprintf(&b, "  %-8s %d %s", st.NodeID, st.Attempt, st.Status)
		if len(st.Output) > 0 {
			fmt.Fprintf(&b, " output=%s", st.Output)
		}
		if st.Error != "" {
			fmt.Fprintf(&b, " error=%q", st.Error)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// dialects are the databases each end-to-end test runs on.
func dialects() []string { return storetest.Dialects() }

// proxy forwards TCP connections to a broker; cutting it drops them all and
// refuses new ones, as a broker that restarts does, until it is restored.
type proxy struct {
	t      *testing.T
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	p := &proxy{t: t, target: target}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", p.target)
			if err != nil {
				_ = client.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, client, server)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(server, client); _ = server.Close() }()
			go func() { _, _ = io.Copy(client, server); _ = client.Close() }()
		}
	}()
}

// cut closes the listener and every connection.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// restore listens again on the same address.
func (p *proxy) restore() {
	p.t.Helper()
	var ln net.Listener
	require.Eventually(p.t, func() bool {
		var err error
		ln, err = net.Listen("tcp", p.addr)
		return err == nil
	}, 5*time.Second, 50*time.Millisecond, "listen on %s again", p.addr)
	p.serve(ln)
}
