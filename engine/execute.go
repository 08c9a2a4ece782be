package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/hookflow/hookflow/engine/expression"
	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
)

// Retry defaults of a node whose retry policy leaves them out.
const (
	DefaultBackoff    = time.Second
	DefaultMaxBackoff = time.Minute
	// MaxRetryAfter caps a wait a sender asks for (Retry-After).
	MaxRetryAfter = time.Hour
	// maxParallel bounds the nodes with side effects one run executes at
	// once; pure nodes run one after another on the run's own goroutine.
	maxParallel = 8
)

// execution is one claim of one run: it walks the plan from where the run's
// records say it stands.
type execution struct {
	e      *Engine
	run    *store.Run
	ctx    context.Context
	cancel context.CancelCauseFunc

	plan    *Plan
	trigger map[string]any
	// triggerJSON is the trigger data as recorded: the trigger step's output.
	triggerJSON []byte
	// history holds the records of earlier claims, by node and iteration.
	history map[stepKey][]*store.Step
	// pending are records not yet written: pure steps wait for the next
	// checkpoint.
	pending []*store.Step
	// secrets are the credential values the run's steps have opened; no
	// record is written with them.
	secrets nodes.Secrets
	seq     int
}

type stepKey struct{ node, iteration string }

func newExecution(e *Engine, run *store.Run) *execution {
	ctx, cancel := context.WithCancelCause(context.Background())
	return &execution{e: e, run: run, ctx: ctx, cancel: cancel}
}

// outcome is how a scope, and so a run, ended.
type outcome struct {
	kind  outcomeKind
	until time.Time // suspended: when to go on
	err   error     // failed: why
}

type outcomeKind int

const (
	completed outcomeKind = iota
	suspended
	failed
	canceled
	interrupted
	leaseLost
)

// execute runs the run to its end, or until it must wait, and writes the
// result.
func (x *execution) execute() {
	defer x.cancel(nil)
	if x.run.Claims == 1 {
		// Later claims go on with a run already counted: it waited for a
		// retry or a delay, or its worker died.
		x.e.metrics.RunStarted(x.run.FlowID)
	}
	o := x.prepare()
	if o.kind == completed {
		o = x.runScope(x.topScope())
	}
	x.settleRun(o)
}

// prepare loads the plan, the trigger data and, for a run claimed before,
// its records.
func (x *execution) prepare() outcome {
	plan, err := x.e.plans.get(x.ctx, x.run.FlowID, x.run.FlowVersion)
	if err != nil {
		return outcome{kind: failed, err: fmt.Errorf("load flow version %d: %w", x.run.FlowVersion, err)}
	}
	x.plan = plan
	if o := x.loadTrigger(); o.kind != completed {
		return o
	}
	x.history = map[stepKey][]*store.Step{}
	if x.run.Claims > 1 {
		steps, err := x.e.store.ListSteps(x.ctx, x.run.ID)
		if err != nil {
			return x.stopped(fmt.Errorf("load steps: %w", err))
		}
		for _, s := range steps {
			k := stepKey{s.NodeID, s.Iteration}
			x.history[k] = append(x.history[k], s)
			x.seq = max(x.seq, s.Seq)
		}
	}
	return outcome{kind: completed}
}

// loadTrigger reads the trigger data: stored with the run, or for a
// webhook run built from its delivery.
func (x *execution) loadTrigger() outcome {
	if len(x.run.Trigger) > 0 || x.run.DeliveryID == "" {
		trigger, err := expression.DecodeJSON(x.run.Trigger)
		if err != nil {
			return outcome{kind: failed, err: fmt.Errorf("decode trigger data: %w", err)}
		}
		x.trigger, _ = trigger.(map[string]any)
		x.triggerJSON = x.run.Trigger
		return outcome{kind: completed}
	}
	d, err := x.e.store.GetDelivery(x.ctx, x.run.DeliveryID)
	if err != nil {
		return x.stopped(fmt.Errorf("load delivery %s: %w", x.run.DeliveryID, err))
	}
	if x.trigger, err = DeliveryTrigger(d); err != nil {
		return outcome{kind: failed, err: err}
	}
	if x.triggerJSON, err = json.Marshal(x.trigger); err != nil {
		return outcome{kind: failed, err: fmt.Errorf("encode trigger data: %w", err)}
	}
	return outcome{kind: completed}
}

// stopped turns an error met while the run's context was canceled into the
// outcome its cause calls for.
func (x *execution) stopped(err error) outcome {
	if errors.Is(err, store.ErrLeaseLost) {
		return outcome{kind: leaseLost}
	}
	switch cause := context.Cause(x.ctx); {
	case errors.Is(cause, errCanceled):
		return outcome{kind: canceled}
	case errors.Is(cause, errShutdown):
		return outcome{kind: interrupted}
	case errors.Is(cause, errLeaseLost):
		return outcome{kind: leaseLost}
	}
	return outcome{kind: failed, err: err}
}

// settleRun writes how the run ended.
func (x *execution) settleRun(o outcome) {
	e := x.e
	switch o.kind {
	case completed, failed, canceled:
		status, message := store.RunSucceeded, ""
		if o.kind == failed {
			status, message = store.RunFailed, o.err.Error()
		} else if o.kind == canceled {
			status, message = store.RunCanceled, "canceled"
		}
		done := e.store.FinishRun(e.owner, x.run.ID, status, x.secrets.Redact(message), x.redacted())
		// The worker moves on; the outcome is reported when it is durable.
		go func() {
			if err := <-done; err != nil {
				e.log.Error("finish run", "run_id", x.run.ID, "error", err)
			} else {
				// Counted once durable: a worker that lost the lease did not
				// finish the run; the one that holds it will.
				e.metrics.RunFinished(x.run.FlowID, status)
			}
			e.finished(x.run.ID)
		}()
	case suspended, interrupted:
		until := o.until
		if o.kind == interrupted {
			until = time.Now()
		}
		// The release must land even though the run's context is canceled.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := e.store.ReleaseRun(ctx, e.owner, x.run.ID, until, x.redacted()); err != nil {
			e.log.Error("release run", "run_id", x.run.ID, "error", err)
			return
		}
		if o.kind == suspended {
			e.wakeAt(until)
		}
	case leaseLost:
		// Another worker has the run; nothing here may write to it.
	}
}

// checkpoint makes the pending records durable: after a step with side
// effects, before anything downstream runs.
func (x *execution) checkpoint() error {
	if len(x.pending) == 0 {
		return nil
	}
	if err := x.e.store.SaveSteps(x.ctx, x.e.owner, x.run.ID, x.redacted()); err != nil {
		return err
	}
	x.pending = x.pending[:0]
	return nil
}

// redacted removes, from the pending records, every credential secret the
// run has used so far, just before they are written: a record may show a
// secret that a later step of the same batch was the first to open.
func (x *execution) redacted() []*store.Step {
	for _, s := range x.pending {
		s.Input = x.secrets.RedactJSON(s.Input)
		s.Output = x.secrets.RedactJSON(s.Output)
		s.Logs = x.secrets.RedactJSON(s.Logs)
		s.Error = x.secrets.Redact(s.Error)
	}
	return x.pending
}

// scope is the part of the plan being walked: the nodes outside every loop,
// or one iteration of a loop's body.
type scope struct {
	nodes     []*PlanNode
	loop      *PlanNode
	iteration string
	item      any
	index     int
	// steps are the outputs visible to expressions: the enclosing scope's
	// and this one's.
	steps map[string]any
	state map[*PlanNode]*nodeState
}

type nodeState struct {
	started bool
	done    bool
	// port is the port the node activated; nil for none.
	port   *string
	output any
	// outputJSON is the output as recorded, reused as the input of the
	// nodes downstream.
	outputJSON []byte
}

func (x *execution) topScope() *scope {
	var top []*PlanNode
	for _, n := range x.plan.Nodes {
		if n.Loop == nil {
			top = append(top, n)
		}
	}
	return newScope(top, nil, "", nil, 0, map[string]any{})
}

func newScope(ns []*PlanNode, loop *PlanNode, iteration string, item any, index int, steps map[string]any) *scope {
	sc := &scope{nodes: ns, loop: loop, iteration: iteration, item: item, index: index, steps: steps,
		state: make(map[*PlanNode]*nodeState, len(ns))}
	for _, n := range ns {
		sc.state[n] = &nodeState{}
	}
	return sc
}

// ready reports whether every node upstream of n has finished.
func (sc *scope) ready(n *PlanNode) bool {
	for _, e := range n.In {
		if e.From == sc.loop {
			continue
		}
		if st := sc.state[e.From]; st == nil || !st.done {
			return false
		}
	}
	return true
}

// activeEdge returns the first incoming edge that was activated, or nil; the
// trigger needs none.
func (sc *scope) activeEdge(n *PlanNode) (*PlanEdge, bool) {
	if len(n.In) == 0 {
		return nil, n.Kind.Spec.IsTrigger()
	}
	for _, e := range n.In {
		if e.From == sc.loop && e.Port == nodes.IteratePort {
			return e, true
		}
		if st := sc.state[e.From]; st != nil && st.port != nil && *st.port == e.Port {
			return e, true
		}
	}
	return nil, false
}

// inputOf is the output of the node directly upstream: the source of the
// first active edge, or the element for a loop's first nodes.
func (sc *scope) inputOf(e *PlanEdge) (any, []byte) {
	if e == nil {
		return nil, nil
	}
	if e.From == sc.loop {
		data, _ := json.Marshal(sc.item)
		return sc.item, data
	}
	st := sc.state[e.From]
	return st.output, st.outputJSON
}

// attemptResult is what one attempt of a node came back with.
type attemptResult struct {
	node    *PlanNode
	attempt int
	step    *store.Step
	result  nodes.Result
	err     error
	log     *stepLog
}

// runScope walks a scope until every node has finished, or nothing more can
// run because the rest waits on suspended nodes, or a node failed the run.
func (x *execution) runScope(sc *scope) outcome {
	results := make(chan attemptResult, maxParallel)
	inflight := 0
	var waitUntil time.Time
	var stop *outcome
	// note takes in how a visit or an attempt of a node ended.
	note := func(o outcome, dispatched bool) {
		switch {
		case dispatched:
			inflight++
		case o.kind == suspended:
			if waitUntil.IsZero() || o.until.Before(waitUntil) {
				waitUntil = o.until
			}
		case o.kind != completed && stop == nil:
			stop = &o
		}
	}
	for {
		progressed := false
		if stop == nil && x.ctx.Err() != nil {
			note(x.stopped(context.Cause(x.ctx)), false)
		}
		for _, n := range sc.nodes {
			if stop != nil || inflight >= maxParallel {
				break
			}
			st := sc.state[n]
			if st.started || !sc.ready(n) {
				continue
			}
			st.started = true
			progressed = true
			edge, active := sc.activeEdge(n)
			if !active {
				x.skip(sc, n)
				continue
			}
			note(x.visit(sc, n, edge, results))
		}
		if inflight == 0 {
			if progressed && stop == nil {
				continue
			}
			break
		}
		r := <-results
		inflight--
		note(x.settle(sc, r, results))
	}
	if stop != nil {
		return *stop
	}
	if !waitUntil.IsZero() {
		return outcome{kind: suspended, until: waitUntil}
	}
	return outcome{kind: completed}
}

// record adds a step row to the pending records.
func (x *execution) record(s *store.Step) {
	x.pending = append(x.pending, s)
}

func (x *execution) nextSeq() int {
	x.seq++
	return x.seq
}

// skip records that a node did not run: none of its incoming edges was
// activated. Its own edges stay inactive, so the skip propagates.
func (x *execution) skip(sc *scope, n *PlanNode) {
	st := sc.state[n]
	st.done = true
	if x.restored(n, sc) != nil {
		return
	}
	x.record(&store.Step{
		RunID: x.run.ID, NodeID: n.Def.ID, Iteration: sc.iteration, Attempt: 0, Seq: x.nextSeq(),
		Status: store.StepSkipped, StartedAt: time.Now().UTC(),
	})
}

// restored returns the final record an earlier claim left for the node in
// this scope, if any.
func (x *execution) restored(n *PlanNode, sc *scope) *store.Step {
	hist := x.history[stepKey{n.Def.ID, sc.iteration}]
	if len(hist) == 0 {
		return nil
	}
	last := hist[len(hist)-1]
	switch {
	case last.Status == store.StepSucceeded, last.Status == store.StepSkipped:
		return last
	case last.Status == store.StepFailed && last.ResumeAt == nil && !last.Interrupted:
		// A final failure that the node's on_error let the run go past.
		return last
	}
	return nil
}

// attempts counts a node's earlier attempts in this scope, and those that
// count against max_attempts.
func (x *execution) attempts(n *PlanNode, sc *scope) (made, counted int, last *store.Step) {
	hist := x.history[stepKey{n.Def.ID, sc.iteration}]
	for _, s := range hist {
		if s.Status == store.StepFailed && !s.Interrupted {
			counted++
		}
	}
	if len(hist) > 0 {
		last = hist[len(hist)-1]
	}
	return len(hist), counted, last
}

// visit starts a node: restores it from an earlier claim's record, runs it
// inline (pure kinds) or dispatches it to a goroutine (kinds with side
// effects, which may wait on the network).
func (x *execution) visit(sc *scope, n *PlanNode, edge *PlanEdge, results chan<- attemptResult) (outcome, bool) {
	if rec := x.restored(n, sc); rec != nil {
		return x.restore(sc, n, rec), false
	}
	if x.e.draining.Load() {
		// The engine is stopping: the steps under way finish, no other
		// starts (not even a retry), and the run goes back to the queue.
		return outcome{kind: interrupted}, false
	}
	made, _, last := x.attempts(n, sc)
	attempt := made + 1
	now := time.Now()
	if last != nil {
		switch {
		case last.Status == store.StepRunning && last.ResumeAt != nil:
			// A suspended node (delay): go on once its time has come.
			if now.Before(*last.ResumeAt) {
				return outcome{kind: suspended, until: *last.ResumeAt}, false
			}
			return x.finishSuspended(sc, n, edge, last), false
		case last.Status == store.StepRunning:
			// The worker running this attempt died: the attempt is
			// recorded as interrupted and does not count.
			interruptedStep := *last
			interruptedStep.Status, interruptedStep.Interrupted = store.StepFailed, true
			interruptedStep.Error = "interrupted: the worker running it stopped"
			x.record(&interruptedStep)
			last.Status, last.Interrupted = store.StepFailed, true
		case last.Status == store.StepFailed && last.ResumeAt != nil && now.Before(*last.ResumeAt):
			// A retry's backoff has not run out.
			return outcome{kind: suspended, until: *last.ResumeAt}, false
		}
	}
	if _, ok := n.Node.(nodes.Iterator); ok {
		return x.iterate(sc, n, edge, attempt), false
	}
	if s, ok := n.Node.(nodes.Suspender); ok {
		if o, waiting := x.suspend(sc, n, edge, s, attempt); waiting {
			return o, false
		}
	}
	return x.start(sc, n, edge, attempt, results)
}

// start makes one attempt of a node.
func (x *execution) start(sc *scope, n *PlanNode, edge *PlanEdge, attempt int, results chan<- attemptResult) (outcome, bool) {
	input, inputJSON := sc.inputOf(edge)
	step := &store.Step{
		RunID: x.run.ID, NodeID: n.Def.ID, Iteration: sc.iteration, Attempt: attempt, Seq: x.nextSeq(),
		Status: store.StepRunning, Input: CapJSON(inputJSON, MaxInputBytes), StartedAt: time.Now().UTC(),
	}
	in, log := x.input(sc, n, input, attempt)
	if n.Kind.Spec.Pure {
		result, err := x.call(n, in)
		o, _ := x.settle(sc, attemptResult{node: n, attempt: attempt, step: step, result: result, err: err, log: log}, results)
		return o, false
	}
	// A step with side effects is recorded as running, durably, before it
	// starts: if the worker dies, the next claim knows the attempt was made.
	x.record(step)
	if err := x.checkpoint(); err != nil {
		return x.stopped(err), false
	}
	// The goroutine gets its own copy of steps: this one keeps changing.
	in.Scope.Steps = clone(sc.steps)
	go func() {
		result, err := x.call(n, in)
		results <- attemptResult{node: n, attempt: attempt, step: step, result: result, err: err, log: log}
	}()
	return outcome{}, true
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// input builds what a node sees when it runs.
func (x *execution) input(sc *scope, n *PlanNode, input any, attempt int) (*nodes.Input, *stepLog) {
	log := &stepLog{}
	return &nodes.Input{
		Scope: &expression.Scope{
			Trigger: x.trigger,
			Steps:   sc.steps,
			Input:   input,
			Run:     expression.RunInfo{ID: x.run.ID, FlowID: x.run.FlowID, Attempt: attempt},
			Env:     x.e.env,
			Item:    sc.item,
			Index:   sc.index,
		},
		Logger:         log.logger(),
		Services:       x.e.services,
		Secrets:        &x.secrets,
		IdempotencyKey: idempotencyKey(x.run.ID, n.Def.ID, sc.iteration),
	}, log
}

// idempotencyKey is the same for every attempt of one step of one run, and
// differs for every other step, iteration and run (a replay is a new run, and
// sends anew).
func idempotencyKey(runID, nodeID, iteration string) string {
	sum := sha256.Sum256([]byte(runID + "\x00" + nodeID + "\x00" + iteration))
	return "hf-" + hex.EncodeToString(sum[:16])
}

// call runs a node under its timeout, turning a panic into a failure.
func (x *execution) call(n *PlanNode, in *nodes.Input) (result nodes.Result, err error) {
	timeout := x.e.timeout
	if n.Def.TimeoutMS > 0 {
		timeout = time.Duration(n.Def.TimeoutMS) * time.Millisecond
	}
	// The node kind rides along for the metrics of its outbound requests.
	ctx, cancel := context.WithTimeoutCause(x.e.metrics.WithNodeKind(x.ctx, n.Kind.Spec.Kind), timeout,
		fmt.Errorf("timed out after %s", timeout))
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			err = nodes.Permanent(fmt.Errorf("panic: %v\n%s", r, debug.Stack()))
		}
	}()
	result, err = n.Node.Run(ctx, in)
	if err != nil && ctx.Err() != nil {
		// Say why the context ended: the timeout, or the run stopping.
		err = fmt.Errorf("%w (%v)", context.Cause(ctx), err)
	}
	return result, err
}

// settle applies the end of an attempt: records it, and either completes the
// node, retries it, or applies its on_error.
func (x *execution) settle(sc *scope, r attemptResult, results chan<- attemptResult) (outcome, bool) {
	n, step := r.node, r.step
	step.Duration = time.Since(step.StartedAt)
	step.Logs = r.log.encode()
	err := r.err
	var outputJSON []byte
	if err == nil {
		if n == x.plan.Trigger {
			outputJSON = x.triggerJSON
		} else if outputJSON, err = encode(r.result.Output); err == nil && len(outputJSON) > MaxOutputBytes {
			err = nodes.Permanent(fmt.Errorf("output is %d bytes; the limit is %d", len(outputJSON), MaxOutputBytes))
		}
	}
	if err == nil {
		step.Status, step.Output = store.StepSucceeded, outputJSON
		x.e.metrics.StepSettled(n.Kind.Spec.Kind, store.StepSucceeded, step.Duration)
		var port *string
		if !r.result.Stop {
			p := r.result.Port
			port = &p
		}
		step.Port = port
		x.record(step)
		x.complete(sc, n, r.result.Output, outputJSON, port)
		if !n.Kind.Spec.Pure {
			if err := x.checkpoint(); err != nil {
				return x.stopped(err), false
			}
		}
		return outcome{kind: completed}, false
	}

	step.Status, step.Error = store.StepFailed, err.Error()
	if x.ctx.Err() != nil {
		// The run is stopping: the attempt did not fail on its own.
		step.Interrupted = true
		x.record(step)
		return x.stopped(err), false
	}
	// An interrupted attempt (above) is left out: it did not fail on its
	// own, and its time says nothing of the node.
	x.e.metrics.StepSettled(n.Kind.Spec.Kind, store.StepFailed, step.Duration)
	_, counted, _ := x.attempts(n, sc)
	counted++ // this attempt
	if delay, retry := x.retryDelay(n, err, counted); retry {
		x.e.metrics.StepRetried(n.Kind.Spec.Kind)
		// A failed attempt that will be retried carries when: a record
		// without it is a final failure.
		resume := time.Now().Add(delay).UTC()
		step.ResumeAt = &resume
		x.record(step)
		x.remember(sc, step)
		if delay > 0 {
			return outcome{kind: suspended, until: resume}, false
		}
		edge, _ := sc.activeEdge(n)
		return x.visit(sc, n, edge, results)
	}
	x.record(step)
	return x.onError(sc, n, err), false
}

// remember adds a record of this claim to the node's history, where the
// next attempt counts it.
func (x *execution) remember(sc *scope, step *store.Step) {
	k := stepKey{step.NodeID, sc.iteration}
	x.history[k] = append(x.history[k], step)
}

// retryDelay says whether a failed node is tried again, and after how long:
// exponential backoff with jitter, or the wait the failure asked for.
func (x *execution) retryDelay(n *PlanNode, err error, failures int) (time.Duration, bool) {
	policy := n.Def.Retry
	if policy == nil && n.Kind.Spec.Attempts > 1 {
		policy = &Retry{MaxAttempts: n.Kind.Spec.Attempts}
	}
	if policy == nil || failures >= policy.MaxAttempts || nodes.IsPermanent(err) {
		return 0, false
	}
	if after, ok := nodes.RetryDelay(err); ok {
		return min(after, MaxRetryAfter), true
	}
	backoff, ceiling := DefaultBackoff, DefaultMaxBackoff
	if policy.BackoffMS > 0 || (policy.BackoffMS == 0 && policy.MaxBackoffMS > 0) {
		backoff = time.Duration(policy.BackoffMS) * time.Millisecond
	}
	if policy.MaxBackoffMS > 0 {
		ceiling = time.Duration(policy.MaxBackoffMS) * time.Millisecond
	}
	delay := backoff
	for i := 1; i < failures && delay < ceiling; i++ {
		delay *= 2
	}
	delay = min(delay, ceiling)
	// Equal jitter: between half the delay and all of it.
	if delay > 0 {
		delay = delay/2 + rand.N(delay/2+1)
	}
	return delay, true
}

// onError applies a node's on_error once it has failed for good.
func (x *execution) onError(sc *scope, n *PlanNode, err error) outcome {
	output := map[string]any{"error": err.Error()}
	data, _ := encode(output)
	switch n.Def.OnError {
	case OnErrorContinue:
		// The flow goes on as if it succeeded, through the unnamed output;
		// a kind with named ports made no choice, so none is activated.
		var port *string
		if len(n.Ports) == 0 || (len(n.Ports) == 1 && n.Ports[0] == ErrorPort) {
			p := ""
			port = &p
		}
		x.markFinal(sc, n, port)
		x.complete(sc, n, output, data, port)
		return outcome{kind: completed}
	case OnErrorRoute:
		p := ErrorPort
		x.markFinal(sc, n, &p)
		x.complete(sc, n, output, data, &p)
		return outcome{kind: completed}
	}
	return outcome{kind: failed, err: fmt.Errorf("node %s failed: %w", n.Def.ID, err)}
}

// markFinal gives the node's last recorded (failed) attempt the port the
// flow went on through, so a resumed run takes the same path.
func (x *execution) markFinal(sc *scope, n *PlanNode, port *string) {
	for i := len(x.pending) - 1; i >= 0; i-- {
		s := x.pending[i]
		if s.NodeID == n.Def.ID && s.Iteration == sc.iteration {
			s.Port = port
			s.Output, _ = encode(map[string]any{"error": s.Error})
			return
		}
	}
}

// complete marks a node finished with an output.
func (x *execution) complete(sc *scope, n *PlanNode, output any, outputJSON []byte, port *string) {
	st := sc.state[n]
	st.done, st.output, st.outputJSON, st.port = true, output, outputJSON, port
	sc.steps[n.Def.ID] = output
}

// restore completes a node from the final record of an earlier claim.
func (x *execution) restore(sc *scope, n *PlanNode, rec *store.Step) outcome {
	st := sc.state[n]
	if rec.Status == store.StepSkipped {
		st.done = true
		return outcome{kind: completed}
	}
	var output any
	if len(rec.Output) > 0 {
		var err error
		if output, err = expression.DecodeJSON(rec.Output); err != nil {
			return outcome{kind: failed, err: fmt.Errorf("node %s: read its recorded output: %w", n.Def.ID, err)}
		}
	}
	x.complete(sc, n, output, rec.Output, rec.Port)
	return outcome{kind: completed}
}

// suspend asks a Suspender how long it waits. A wait puts the run back in
// the queue, holding no worker, with the attempt recorded as running.
func (x *execution) suspend(sc *scope, n *PlanNode, edge *PlanEdge, s nodes.Suspender, attempt int) (outcome, bool) {
	input, inputJSON := sc.inputOf(edge)
	in, _ := x.input(sc, n, input, attempt)
	wait, err := s.Suspend(x.ctx, in)
	if err != nil {
		step := &store.Step{
			RunID: x.run.ID, NodeID: n.Def.ID, Iteration: sc.iteration, Attempt: attempt, Seq: x.nextSeq(),
			Status: store.StepFailed, Error: err.Error(), Input: CapJSON(inputJSON, MaxInputBytes), StartedAt: time.Now().UTC(),
		}
		x.record(step)
		return x.onError(sc, n, err), true
	}
	if wait <= 0 {
		return outcome{}, false
	}
	resume := time.Now().Add(wait).UTC()
	step := &store.Step{
		RunID: x.run.ID, NodeID: n.Def.ID, Iteration: sc.iteration, Attempt: attempt, Seq: x.nextSeq(),
		Status: store.StepRunning, Input: CapJSON(inputJSON, MaxInputBytes), ResumeAt: &resume, StartedAt: time.Now().UTC(),
	}
	x.record(step)
	x.remember(sc, step)
	return outcome{kind: suspended, until: resume}, true
}

// finishSuspended completes a suspended node whose time has come, in the
// same attempt (its record turns from running to succeeded).
func (x *execution) finishSuspended(sc *scope, n *PlanNode, edge *PlanEdge, rec *store.Step) outcome {
	input, _ := sc.inputOf(edge)
	in, log := x.input(sc, n, input, rec.Attempt)
	result, err := x.call(n, in)
	step := *rec
	step.ResumeAt = nil
	o, _ := x.settle(sc, attemptResult{node: n, attempt: rec.Attempt, step: &step, result: result, err: err, log: log}, nil)
	return o
}

// iterate runs a foreach: its body once per element, one element after
// another, then the done port with the list of each iteration's last output.
func (x *execution) iterate(sc *scope, n *PlanNode, edge *PlanEdge, attempt int) outcome {
	input, inputJSON := sc.inputOf(edge)
	in, log := x.input(sc, n, input, attempt)
	step := &store.Step{
		RunID: x.run.ID, NodeID: n.Def.ID, Iteration: sc.iteration, Attempt: attempt, Seq: x.nextSeq(),
		Status: store.StepRunning, Input: CapJSON(inputJSON, MaxInputBytes), StartedAt: time.Now().UTC(),
	}
	items, err := n.Node.(nodes.Iterator).Items(x.ctx, in)
	if err != nil {
		o, _ := x.settle(sc, attemptResult{node: n, attempt: attempt, step: step, err: err, log: log}, nil)
		return o
	}
	outputs := make([]any, len(items))
	for i, item := range items {
		iteration := strconv.Itoa(i)
		if sc.iteration != "" {
			iteration = sc.iteration + "." + iteration
		}
		body := newScope(n.Body, n, iteration, item, i, clone(sc.steps))
		if o := x.runScope(body); o.kind != completed {
			return o
		}
		outputs[i] = body.lastOutput()
	}
	done := nodes.DonePort
	o, _ := x.settle(sc, attemptResult{node: n, attempt: attempt, step: step, result: nodes.Result{Output: outputs, Port: done}, log: log}, nil)
	return o
}

// lastOutput is the output of the last node of an iteration that ran.
func (sc *scope) lastOutput() any {
	for i := len(sc.nodes) - 1; i >= 0; i-- {
		if st := sc.state[sc.nodes[i]]; st.port != nil || (st.done && st.output != nil) {
			return st.output
		}
	}
	return nil
}
