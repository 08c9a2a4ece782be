package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/engine/expression"
	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
)

// calls counts how often each test.effect node ran, by node id, across every
// run of a test: the resume test needs to know a step never ran twice.
type calls struct {
	mu    sync.Mutex
	count map[string]int
}

func (c *calls) add(node string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count[node]++
}

func (c *calls) get(node string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count[node]
}

// barriers let test.barrier nodes prove they run at the same time.
type barriers struct {
	mu      sync.Mutex
	arrived map[string]int
	open    map[string]chan struct{}
}

// harness is a registry of the builtin kinds plus test kinds whose behaviour
// is set by their params.
type harness struct {
	registry *nodes.Registry
	calls    *calls
	barriers *barriers
	// block holds test.effect nodes with "block": true until it is closed.
	block chan struct{}
	// gate holds test.effect nodes with "gate": true until it gives them
	// a token: one at a time.
	gate chan struct{}
	// inside counts test.effect attempts under way by counter id, and the
	// most there ever were at once.
	inside *concurrency
}

// concurrency tracks attempts under way at once.
type concurrency struct {
	mu   sync.Mutex
	now  map[string]int
	most map[string]int
}

func (c *concurrency) enter(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now[id]++
	c.most[id] = max(c.most[id], c.now[id])
}

func (c *concurrency) leave(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now[id]--
}

func (c *concurrency) max(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.most[id]
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	h := &harness{
		registry: testRegistry(t),
		calls:    &calls{count: map[string]int{}},
		barriers: &barriers{arrived: map[string]int{}, open: map[string]chan struct{}{}},
		block:    make(chan struct{}),
		gate:     make(chan struct{}),
		inside:   &concurrency{now: map[string]int{}, most: map[string]int{}},
	}
	require.NoError(t, h.registry.Register(nodes.Define(nodes.Spec{
		Kind: "test.effect", Category: nodes.CategoryAction, Icon: "flask-conical", Title: "Effect", Summary: "A step with side effects for tests.",
		Fields: []nodes.Field{
			{Name: "id", Type: nodes.TypeString, Label: "Counter id"},
			{Name: "output", Type: nodes.TypeJSON, Label: "Output"},
			{Name: "fail_times", Type: nodes.TypeInteger, Label: "Fail the first attempts"},
			{Name: "permanent", Type: nodes.TypeBoolean, Label: "Fail permanently"},
			{Name: "retry_after_ms", Type: nodes.TypeInteger, Label: "Ask to retry after"},
			{Name: "sleep_ms", Type: nodes.TypeInteger, Label: "Sleep"},
			{Name: "panic", Type: nodes.TypeBoolean, Label: "Panic"},
			{Name: "block", Type: nodes.TypeBoolean, Label: "Block until released"},
			{Name: "gate", Type: nodes.TypeBoolean, Label: "Wait for a token of the gate"},
			{Name: "log", Type: nodes.TypeString, Label: "Log line"},
		},
	}, func(b *nodes.Builder, p *effectParams) nodes.Node {
		return &effect{h: h, params: p, output: b.Value("output", p.Output)}
	})))
	require.NoError(t, h.registry.Register(nodes.Define(nodes.Spec{
		Kind: "test.barrier", Category: nodes.CategoryAction, Icon: "fence", Title: "Barrier", Summary: "Waits until all its parties arrive.",
		Fields: []nodes.Field{
			{Name: "name", Type: nodes.TypeString, Label: "Name", Required: true},
			{Name: "parties", Type: nodes.TypeInteger, Label: "Parties", Required: true},
		},
	}, func(_ *nodes.Builder, p *barrierParams) nodes.Node { return &barrier{h: h, params: p} })))
	return h
}

type effectParams struct {
	ID           string `json:"id"`
	Output       any    `json:"output"`
	FailTimes    int    `json:"fail_times"`
	Permanent    bool   `json:"permanent"`
	RetryAfterMS int    `json:"retry_after_ms"`
	SleepMS      int    `json:"sleep_ms"`
	Panic        bool   `json:"panic"`
	Block        bool   `json:"block"`
	Gate         bool   `json:"gate"`
	Log          string `json:"log"`
}

type effect struct {
	h      *harness
	params *effectParams
	output *expression.Value
}

func (e *effect) Run(ctx context.Context, in *nodes.Input) (nodes.Result, error) {
	p := e.params
	if p.ID != "" {
		e.h.calls.add(p.ID)
		e.h.inside.enter(p.ID)
		defer e.h.inside.leave(p.ID)
	}
	if p.Log != "" {
		in.Logger.Info(p.Log, "attempt", in.Scope.Run.Attempt)
	}
	if p.Panic {
		panic("the node broke")
	}
	if p.Block {
		select {
		case <-e.h.block:
		case <-ctx.Done():
			return nodes.Result{}, ctx.Err()
		}
	}
	if p.Gate {
		select {
		case <-e.h.gate:
		case <-ctx.Done():
			return nodes.Result{}, ctx.Err()
		}
	}
	if p.SleepMS > 0 {
		select {
		case <-time.After(time.Duration(p.SleepMS) * time.Millisecond):
		case <-ctx.Done():
			return nodes.Result{}, ctx.Err()
		}
	}
	if in.Scope.Run.Attempt <= p.FailTimes {
		err := fmt.Errorf("failure %d of %d", in.Scope.Run.Attempt, p.FailTimes)
		switch {
		case p.Permanent:
			return nodes.Result{}, nodes.Permanent(err)
		case p.RetryAfterMS > 0:
			return nodes.Result{}, nodes.RetryAfter(time.Duration(p.RetryAfterMS)*time.Millisecond, err)
		}
		return nodes.Result{}, err
	}
	out, err := e.output.Eval(ctx, in.Scope)
	if err != nil {
		return nodes.Result{}, err
	}
	if out == nil {
		out = map[string]any{"ok": true}
	}
	return nodes.Result{Output: out}, nil
}

type barrierParams struct {
	Name    string `json:"name"`
	Parties int    `json:"parties"`
}

type barrier struct {
	h      *harness
	params *barrierParams
}

func (b *barrier) Run(ctx context.Context, _ *nodes.Input) (nodes.Result, error) {
	bs := b.h.barriers
	bs.mu.Lock()
	open, ok := bs.open[b.params.Name]
	if !ok {
		open = make(chan struct{})
		bs.open[b.params.Name] = open
	}
	bs.arrived[b.params.Name]++
	if bs.arrived[b.params.Name] == b.params.Parties {
		close(open)
	}
	bs.mu.Unlock()
	select {
	case <-open:
		return nodes.Result{Output: map[string]any{"met": b.params.Name}}, nil
	case <-ctx.Done():
		return nodes.Result{}, errors.New("the other parties never arrived: the nodes did not run in parallel")
	}
}

// engineFor starts an engine over db with the harness's kinds, stopped when
// the test ends.
func (h *harness) engineFor(t testing.TB, db store.Store, opts Options) *Engine {
	t.Helper()
	opts.Store, opts.Registry = db, h.registry
	if opts.PollInterval == 0 {
		opts.PollInterval = 50 * time.Millisecond
	}
	e := New(opts)
	require.NoError(t, e.Start())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Stop(ctx)
	})
	return e
}

// startRun saves a flow and enqueues a manual run of it with the payload.
func startRun(t testing.TB, e *Engine, doc, payload string) *store.Run {
	t.Helper()
	ctx := context.Background()
	f, err := NewFlows(e.store, e.registry).Create(ctx, []byte(doc))
	require.NoError(t, err)
	var body any
	if payload != "" {
		require.NoError(t, json.Unmarshal([]byte(payload), &body))
	}
	trigger, err := json.Marshal(TestTrigger(body, map[string]string{"Content-Type": "application/json"}, time.Now()))
	require.NoError(t, err)
	runs, err := e.Enqueue(ctx, store.NewRun{FlowID: f.ID, FlowVersion: f.Version, TriggerType: store.TriggerManual, Trigger: trigger})
	require.NoError(t, err)
	return runs[0]
}

func waitRun(t testing.TB, e *Engine, id string) *store.Run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	run, err := e.Wait(ctx, id)
	require.NoError(t, err, "run %s did not finish", id)
	return run
}

// trace renders a finished run deterministically: steps in plan order, then
// iteration, then attempt, without times or ids.
func trace(t testing.TB, e *Engine, run *store.Run) string {
	t.Helper()
	ctx := context.Background()
	plan, err := e.Plan(ctx, run.FlowID, run.FlowVersion)
	require.NoError(t, err)
	steps, err := e.store.ListSteps(ctx, run.ID)
	require.NoError(t, err)
	sort.SliceStable(steps, func(i, j int) bool {
		a, b := steps[i], steps[j]
		na, _ := plan.Node(a.NodeID)
		nb, _ := plan.Node(b.NodeID)
		if na.Index != nb.Index {
			return na.Index < nb.Index
		}
		if a.Iteration != b.Iteration {
			return iterationLess(a.Iteration, b.Iteration)
		}
		return a.Attempt < b.Attempt
	})
	var b strings.Builder
	fmt.Fprintf(&b, "status: %s\n", run.Status)
	if run.Error != "" {
		fmt.Fprintf(&b, "error: %s\n", runID.ReplaceAllString(firstLine(run.Error), "<id>"))
	}
	if run.ReplayOf != "" {
		fmt.Fprintf(&b, "replay of an earlier run\n")
	}
	b.WriteString("steps:\n")
	for _, s := range steps {
		name := s.NodeID
		if s.Iteration != "" {
			name += "[" + s.Iteration + "]"
		}
		fmt.Fprintf(&b, "  %-16s %d %s", name, s.Attempt, s.Status)
		if s.Port != nil {
			fmt.Fprintf(&b, " port=%q", *s.Port)
		}
		if s.Interrupted {
			b.WriteString(" interrupted")
		}
		if s.ResumeAt != nil && s.Status == store.StepFailed {
			b.WriteString(" retried")
		}
		if s.NodeID != plan.Trigger.Def.ID && s.Output != nil {
			output := receivedAt.ReplaceAll(s.Output, []byte(`"received_at":"…"`))
			output = resumeToken.ReplaceAll(runID.ReplaceAll(output, []byte("<id>")), []byte("/resume/<token>"))
			fmt.Fprintf(&b, " output=%s", output)
		}
		if s.Error != "" {
			fmt.Fprintf(&b, " error=%q", runID.ReplaceAllString(firstLine(s.Error), "<id>"))
		}
		if s.ChildRunID != "" {
			b.WriteString(" child")
		}
		if s.Logs != nil {
			var lines []logLine
			require.NoError(t, json.Unmarshal(s.Logs, &lines))
			for _, l := range lines {
				fmt.Fprintf(&b, " log=%q", l.Message)
			}
		}
		b.WriteByte('\n')
	}
	// The runs its flow.call steps started, each traced under its step.
	for _, s := range steps {
		if s.ChildRunID == "" {
			continue
		}
		child, err := e.store.GetRun(ctx, s.ChildRunID)
		require.NoError(t, err)
		require.Equal(t, run.ID, child.ParentRunID, "a called run names its caller")
		if !child.Finished() {
			child = waitRun(t, e, child.ID)
		}
		fmt.Fprintf(&b, "called by %s, attempt %d (%s):\n", s.NodeID, s.Attempt, child.TriggerType)
		for _, line := range strings.SplitAfter(trace(t, e, child), "\n") {
			if line != "" {
				b.WriteString("  | " + line)
			}
		}
	}
	return b.String()
}

// receivedAt matches the trigger's arrival time, which differs every run.
var receivedAt = regexp.MustCompile(`"received_at":"[^"]*"`)

// runID and resumeToken match what differs between runs of one flow: the
// ids of runs, and the tokens of resume URLs.
var (
	runID       = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}`)
	resumeToken = regexp.MustCompile(`/resume/[A-Za-z0-9_.-]+`)
)

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// iterationLess orders iteration paths by their numbers: 2 before 10.
func iterationLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		ai, _ := strconv.Atoi(as[i])
		bi, _ := strconv.Atoi(bs[i])
		if ai != bi {
			return ai < bi
		}
	}
	return len(as) < len(bs)
}
