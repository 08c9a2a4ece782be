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
	"github.com/hookflow/hookflow/engine/metrics"
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

// journal takes the records a walk makes and makes them durable: the
// engine's side of a walk (execution). Its methods are called on the walk's
// goroutine.
type journal interface {
	// record adds a step record; it is written with the next checkpoint,
	// or when the run ends or goes back to the queue.
	record(s *store.Step)
	// checkpoint makes every record so far durable.
	checkpoint(ctx context.Context) error
	// started tells of an attempt with side effects that has begun, with
	// its running record; the journal may write that record if the attempt
	// goes on long. The returned function is called when it ends.
	started(s *store.Step) (ended func())
	// answer hands over a respond node's output for the webhook waiting
	// for the run: at once when now is set, otherwise after the run's next
	// durable write (a checkpoint, or the run's finish or release), which
	// makes the side effects it may report durable.
	answer(output []byte, now bool)
	// signal returns the signal that ended a waiting step (a callback, a
	// called run's end, a timeout); nil while none has come.
	signal(ctx context.Context, key signalKey) (*store.Signal, error)
	// expire ends a waiting step whose time is up with a timeout, unless
	// another signal came first; it returns the signal that holds.
	expire(ctx context.Context, key signalKey) (*store.Signal, error)
	// target returns the plan of the flow version a flow.call step runs,
	// and that version: the current one when version is 0.
	target(ctx context.Context, flowID string, version int) (*Plan, int, error)
	// spawn makes every record so far durable together with a run the
	// walk starts (a flow.call step's).
	spawn(ctx context.Context, run store.NewRun) error
	// cancelRun cancels a run the walk started and no longer waits for.
	cancelRun(id string)
}

// signalKey names the waiting step a signal ends: a wait.callback's
// attempt is always 0, as its resume URL is made before it starts.
type signalKey struct {
	node, iteration string
	attempt         int
}

// walker walks one claim of a run through its compiled plan: which node
// runs next, which are skipped, which ports are taken, retries, loops and
// waits. It never reads or writes the store: it starts from the records of
// earlier claims (history) and hands every record it makes to its journal.
//
// Records become durable by one rule, which keeps what docs/runs.md
// promises while waiting on as few commits as possible: before an attempt
// with side effects starts, and before a respond node's answer goes out,
// every attempt with side effects that has ended must be durable, so a
// recorded success is never repeated and nothing answered is undone. Pure
// steps are only computing; they are written whenever the next write goes.
type walker struct {
	// ctx is the run's: canceled, with a cause, when the run must stop.
	ctx     context.Context
	plan    *Plan
	run     *store.Run
	trigger map[string]any
	// history holds the records of earlier claims, by node and iteration.
	history map[stepKey][]*store.Step
	seq     int
	journal journal
	clock   Clock
	// cpu admits pure steps, which only compute, a core's worth at a time.
	cpu      chan struct{}
	env      map[string]any
	services *nodes.Services
	// secrets are the credential values the run's steps have opened.
	secrets *nodes.Secrets
	timeout time.Duration
	metrics *metrics.Metrics
	links   *ResumeLinks
	// stopping reports a draining engine: no further step starts.
	stopping func() bool
	// unsaved is set when an attempt with side effects ended after the last
	// checkpoint.
	unsaved bool
	// answered is set once a respond node's output went out.
	answered bool
	// test narrows a test run from the editor; nil for every other run.
	test *testRun
}

type stepKey struct{ node, iteration string }

// outcome is how a scope, and so a walk, ended.
type outcome struct {
	kind  outcomeKind
	until time.Time // suspended: when to go on
	// external is set for a suspension that a signal may end before
	// until: it is spent in the queue, where the signal wakes the run.
	external bool
	err      error  // failed: why
	node     string // failed: the node that failed, if one did
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

// walk runs the run's plan from where its history stands to its end, or
// until it must wait or stop.
func (w *walker) walk() outcome {
	var top []*PlanNode
	for _, n := range w.plan.Nodes {
		if n.Loop == nil {
			top = append(top, n)
		}
	}
	return w.runScope(newScope(top, nil, "", nil, 0, map[string]any{}))
}

// stopped turns an error met while the run's context was canceled into the
// outcome its cause calls for.
func (w *walker) stopped(err error) outcome {
	return stoppedOutcome(w.ctx, err)
}

func stoppedOutcome(ctx context.Context, err error) outcome {
	if errors.Is(err, store.ErrLeaseLost) {
		return outcome{kind: leaseLost}
	}
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errCanceled):
		return outcome{kind: canceled}
	case errors.Is(cause, errShutdown):
		return outcome{kind: interrupted}
	case errors.Is(cause, errLeaseLost):
		return outcome{kind: leaseLost}
	case errors.Is(cause, errRunTimedOut):
		return outcome{kind: failed, err: cause}
	}
	return outcome{kind: failed, err: err}
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
}

func newScope(ns []*PlanNode, loop *PlanNode, iteration string, item any, index int, steps map[string]any) *scope {
	sc := &scope{nodes: ns, loop: loop, iteration: iteration, item: item, index: index, steps: steps,
		state: make(map[*PlanNode]*nodeState, len(ns))}
	for _, n := range ns {
		sc.state[n] = &nodeState{}
	}
	return sc
}

// ready reports whether every node upstream of n has finished, or for a
// join that goes on with the first branch to arrive, whether one has.
func (sc *scope) ready(n *PlanNode) bool {
	if j, ok := n.Node.(nodes.Joiner); ok && j.FirstArrival() {
		if _, active := sc.activeEdge(n); active {
			return true
		}
	}
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
func (sc *scope) inputOf(e *PlanEdge) any {
	if e == nil {
		return nil
	}
	if e.From == sc.loop {
		return sc.item
	}
	return sc.state[e.From].output
}

// inputsOf are the outputs of n's incoming edges that were taken, by the
// id of the node each comes from; nil for a node with one incoming edge.
func (sc *scope) inputsOf(n *PlanNode) map[string]any {
	if len(n.In) < 2 {
		return nil
	}
	inputs := make(map[string]any, len(n.In))
	for _, e := range n.In {
		if e.From == sc.loop {
			continue
		}
		if st := sc.state[e.From]; st != nil && st.port != nil && *st.port == e.Port {
			inputs[e.From.Def.ID] = st.output
		}
	}
	return inputs
}

// inputRecord is what a step's record keeps of its input: the id of the
// node whose output it was (that output is recorded once, with its own
// step), or for a loop's element a copy, capped.
func (sc *scope) inputRecord(e *PlanEdge, s *store.Step) {
	switch {
	case e == nil:
	case e.From == sc.loop:
		data, _ := json.Marshal(sc.item)
		s.Input = CapJSON(data, MaxInputBytes)
	default:
		s.InputFrom = e.From.Def.ID
	}
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
func (w *walker) runScope(sc *scope) outcome {
	results := make(chan attemptResult, maxParallel)
	inflight := 0
	var waitUntil time.Time
	var external bool
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
			external = external || o.external
		case o.kind != completed && stop == nil:
			stop = &o
		}
	}
	for {
		progressed := false
		if stop == nil && w.ctx.Err() != nil {
			note(w.stopped(context.Cause(w.ctx)), false)
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
			if !active || w.test.excludes(n) {
				w.skip(sc, n)
				continue
			}
			note(w.visit(sc, n, edge, results))
		}
		if inflight == 0 {
			if progressed && stop == nil {
				continue
			}
			break
		}
		r := <-results
		inflight--
		note(w.settle(sc, r, results))
	}
	if stop != nil {
		return *stop
	}
	if !waitUntil.IsZero() {
		return outcome{kind: suspended, until: waitUntil, external: external}
	}
	return outcome{kind: completed}
}

func (w *walker) nextSeq() int {
	w.seq++
	return w.seq
}

// newStep is the record of an attempt of n starting now.
func (w *walker) newStep(sc *scope, n *PlanNode, attempt int, status string) *store.Step {
	return &store.Step{
		RunID: w.run.ID, NodeID: n.Def.ID, Iteration: sc.iteration, Attempt: attempt, Seq: w.nextSeq(),
		Status: status, StartedAt: w.clock.Now().UTC(),
	}
}

// skip records that a node did not run: none of its incoming edges was
// activated. Its own edges stay inactive, so the skip propagates.
func (w *walker) skip(sc *scope, n *PlanNode) {
	sc.state[n].done = true
	if w.restored(n, sc) != nil {
		return
	}
	w.journal.record(w.newStep(sc, n, 0, store.StepSkipped))
}

// restored returns the final record an earlier claim left for the node in
// this scope, if any.
func (w *walker) restored(n *PlanNode, sc *scope) *store.Step {
	hist := w.history[stepKey{n.Def.ID, sc.iteration}]
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
func (w *walker) attempts(n *PlanNode, sc *scope) (made, counted int, last *store.Step) {
	hist := w.history[stepKey{n.Def.ID, sc.iteration}]
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
func (w *walker) visit(sc *scope, n *PlanNode, edge *PlanEdge, results chan<- attemptResult) (outcome, bool) {
	if rec := w.restored(n, sc); rec != nil {
		return w.restore(sc, n, rec), false
	}
	if w.stopping() {
		// The engine is stopping: the steps under way finish, no other
		// starts (not even a retry), and the run goes back to the queue.
		return outcome{kind: interrupted}, false
	}
	made, _, last := w.attempts(n, sc)
	attempt := made + 1
	if pin, ok := w.test.pinned(n); ok {
		return w.usePin(sc, n, edge, pin, attempt), false
	}
	now := w.clock.Now()
	if last != nil {
		switch {
		case last.Status == store.StepRunning && last.ResumeAt != nil && waits(n):
			// A wait.callback, or a flow.call waiting for its run.
			return w.awaitSignal(sc, n, edge, last), false
		case last.Status == store.StepRunning && last.ResumeAt != nil:
			// A suspended node (delay): go on once its time has come.
			if now.Before(*last.ResumeAt) {
				return outcome{kind: suspended, until: *last.ResumeAt}, false
			}
			return w.finishSuspended(sc, n, edge, last), false
		case last.Status == store.StepRunning:
			// The worker running this attempt died: the attempt is
			// recorded as interrupted and does not count.
			interruptedStep := *last
			interruptedStep.Status, interruptedStep.Interrupted = store.StepFailed, true
			interruptedStep.Error = "interrupted: the worker running it stopped"
			w.journal.record(&interruptedStep)
			last.Status, last.Interrupted = store.StepFailed, true
		case last.Status == store.StepFailed && last.ResumeAt != nil && now.Before(*last.ResumeAt):
			// A retry's backoff has not run out.
			return outcome{kind: suspended, until: *last.ResumeAt}, false
		}
	}
	if _, ok := n.Node.(nodes.Iterator); ok {
		return w.iterate(sc, n, edge, attempt), false
	}
	if c, ok := n.Node.(nodes.Caller); ok {
		return w.startCall(sc, n, edge, c, attempt), false
	}
	if wt, ok := n.Node.(nodes.Waiter); ok {
		return w.startWait(sc, n, edge, wt, attempt), false
	}
	if s, ok := n.Node.(nodes.Suspender); ok {
		if o, waiting := w.suspend(sc, n, edge, s, attempt); waiting {
			return o, false
		}
	}
	return w.start(sc, n, edge, attempt, results)
}

// usePin completes a node of a test run with the output pinned for it in
// the editor, without running it: its record is a success like any other,
// and the nodes downstream go on from it.
func (w *walker) usePin(sc *scope, n *PlanNode, edge *PlanEdge, pin pinnedOutput, attempt int) outcome {
	step := w.newStep(sc, n, attempt, store.StepRunning)
	sc.inputRecord(edge, step)
	log := &stepLog{}
	log.logger().Info(pinnedMessage)
	o, _ := w.settle(sc, attemptResult{node: n, attempt: attempt, step: step,
		result: nodes.Result{Output: pin.output, Port: pin.port}, log: log}, nil)
	return o
}

// start makes one attempt of a node.
func (w *walker) start(sc *scope, n *PlanNode, edge *PlanEdge, attempt int, results chan<- attemptResult) (outcome, bool) {
	step := w.newStep(sc, n, attempt, store.StepRunning)
	sc.inputRecord(edge, step)
	in, log := w.input(sc, n, sc.inputOf(edge), attempt)
	if n.Kind.Spec.Pure {
		result, err := w.call(n, in)
		o, _ := w.settle(sc, attemptResult{node: n, attempt: attempt, step: step, result: result, err: err, log: log}, results)
		return o, false
	}
	// Every side effect that ended before this one is made durable first,
	// so a run resumed after a crash never repeats one recorded as done.
	if w.unsaved {
		if err := w.journal.checkpoint(w.ctx); err != nil {
			return w.stopped(err), false
		}
		w.unsaved = false
	}
	ended := w.journal.started(step)
	// The goroutine gets its own copy of steps: this one keeps changing.
	in.Scope.Steps = clone(sc.steps)
	go func() {
		result, err := w.call(n, in)
		ended()
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
func (w *walker) input(sc *scope, n *PlanNode, input any, attempt int) (*nodes.Input, *stepLog) {
	log := &stepLog{}
	return &nodes.Input{
		Scope: &expression.Scope{
			Trigger: w.trigger,
			Steps:   sc.steps,
			Input:   input,
			Run:     expression.RunInfo{ID: w.run.ID, FlowID: w.run.FlowID, Attempt: attempt, ResumeURLs: w.resumeURLs(sc)},
			Env:     w.env,
			Item:    sc.item,
			Index:   sc.index,
		},
		Logger:         log.logger(),
		Services:       w.services,
		Secrets:        w.secrets,
		IdempotencyKey: idempotencyKey(w.run.ID, n.Def.ID, sc.iteration),
		Inputs:         sc.inputsOf(n),
	}, log
}

// idempotencyKey is the same for every attempt of one step of one run, and
// differs for every other step, iteration and run (a replay is a new run, and
// sends anew).
func idempotencyKey(runID, nodeID, iteration string) string {
	sum := sha256.Sum256([]byte(runID + "\x00" + nodeID + "\x00" + iteration))
	return "hf-" + hex.EncodeToString(sum[:16])
}

// call runs a node under its timeout, turning a panic into a failure. Pure
// nodes, which only compute, wait for a core to be free first.
func (w *walker) call(n *PlanNode, in *nodes.Input) (result nodes.Result, err error) {
	timeout := w.timeout
	if n.Def.TimeoutMS > 0 {
		timeout = time.Duration(n.Def.TimeoutMS) * time.Millisecond
	}
	if n.Kind.Spec.Pure && w.cpu != nil {
		select {
		case w.cpu <- struct{}{}:
			defer func() { <-w.cpu }()
		case <-w.ctx.Done():
			return nodes.Result{}, context.Cause(w.ctx)
		}
	}
	// The node kind rides along for the metrics of its outbound requests.
	ctx, cancel := withClockTimeout(w.metrics.WithNodeKind(w.ctx, n.Kind.Spec.Kind), w.clock, timeout,
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
func (w *walker) settle(sc *scope, r attemptResult, results chan<- attemptResult) (outcome, bool) {
	n, step := r.node, r.step
	step.Duration = w.clock.Now().Sub(step.StartedAt)
	step.Logs = r.log.encode()
	err := r.err
	var outputJSON []byte
	if err == nil && n != w.plan.Trigger {
		// The trigger's output is the run's trigger data, kept once, with
		// the run (or its delivery); its record holds no copy.
		if outputJSON, err = encode(r.result.Output); err == nil && len(outputJSON) > MaxOutputBytes {
			err = nodes.Permanent(fmt.Errorf("output is %d bytes; the limit is %d", len(outputJSON), MaxOutputBytes))
		}
	}
	if !n.Kind.Spec.Pure {
		w.unsaved = true
	}
	if err == nil {
		step.Status, step.Output = store.StepSucceeded, outputJSON
		w.metrics.StepSettled(n.Kind.Spec.Kind, store.StepSucceeded, step.Duration)
		var port *string
		if !r.result.Stop {
			p := r.result.Port
			port = &p
		}
		step.Port = port
		w.journal.record(step)
		w.complete(sc, n, r.result.Output, port)
		if n.Kind.Spec.Kind == nodes.KindRespond {
			return w.answer(outputJSON), false
		}
		return outcome{kind: completed}, false
	}

	step.Status, step.Error = store.StepFailed, err.Error()
	if w.ctx.Err() != nil {
		// The run is stopping: the attempt did not fail on its own.
		step.Interrupted = true
		w.journal.record(step)
		return w.stopped(err), false
	}
	// An interrupted attempt (above) is left out: it did not fail on its
	// own, and its time says nothing of the node.
	w.metrics.StepSettled(n.Kind.Spec.Kind, store.StepFailed, step.Duration)
	_, counted, _ := w.attempts(n, sc)
	counted++ // this attempt
	if delay, retry := w.retryDelay(n, err, counted); retry {
		w.metrics.StepRetried(n.Kind.Spec.Kind)
		// A failed attempt that will be retried carries when: a record
		// without it is a final failure.
		resume := w.clock.Now().Add(delay).UTC()
		step.ResumeAt = &resume
		w.journal.record(step)
		w.remember(sc, step)
		if delay > 0 {
			return outcome{kind: suspended, until: resume}, false
		}
		edge, _ := sc.activeEdge(n)
		return w.visit(sc, n, edge, results)
	}
	w.journal.record(step)
	return w.onError(sc, n, step, err), false
}

// answer hands a respond node's output to the webhook waiting for it, once
// the side effects it may report are durable: at once when none is
// unsaved, otherwise with the run's next write, which comes before the next
// side effect starts or when the run ends (a respond node is usually the
// last, and its answer then rides on the run's finish). A run answers once.
func (w *walker) answer(output []byte) outcome {
	if !w.answered {
		w.answered = true
		w.journal.answer(output, !w.unsaved)
	}
	return outcome{kind: completed}
}

// remember adds a record of this claim to the node's history, where the
// next attempt counts it.
func (w *walker) remember(sc *scope, step *store.Step) {
	k := stepKey{step.NodeID, sc.iteration}
	w.history[k] = append(w.history[k], step)
}

// retryDelay says whether a failed node is tried again, and after how long:
// exponential backoff with jitter, or the wait the failure asked for.
func (w *walker) retryDelay(n *PlanNode, err error, failures int) (time.Duration, bool) {
	policy := n.Def.Retry
	if policy == nil && n.Kind.Spec.Attempts > 1 {
		policy = &Retry{MaxAttempts: n.Kind.Spec.Attempts}
	}
	if policy == nil || failures >= policy.MaxAttempts || nodes.IsPermanent(err) {
		return 0, false
	}
	if after, ok := nodes.RetryDelay(err); ok {
		if nodes.IsScheduled(err) {
			return min(after, nodes.MaxWait), true // the node's own schedule
		}
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

// onError applies a node's on_error once it has failed for good; step is
// its last attempt's record, which takes the port the flow goes on through,
// so a resumed run takes the same path.
func (w *walker) onError(sc *scope, n *PlanNode, step *store.Step, err error) outcome {
	output := map[string]any{"error": err.Error()}
	var port *string
	switch n.Def.OnError {
	case OnErrorContinue:
		// The flow goes on as if it succeeded, through the unnamed output;
		// a kind with named ports made no choice, so none is activated.
		if len(n.Ports) == 0 || (len(n.Ports) == 1 && n.Ports[0] == ErrorPort) {
			p := ""
			port = &p
		}
	case OnErrorRoute:
		p := ErrorPort
		port = &p
	default:
		return outcome{kind: failed, err: fmt.Errorf("node %s failed: %w", n.Def.ID, err), node: n.Def.ID}
	}
	step.Port = port
	step.Output, _ = encode(output)
	w.complete(sc, n, output, port)
	return outcome{kind: completed}
}

// complete marks a node finished with an output.
func (w *walker) complete(sc *scope, n *PlanNode, output any, port *string) {
	st := sc.state[n]
	st.done, st.output, st.port = true, output, port
	sc.steps[n.Def.ID] = output
}

// restore completes a node from the final record of an earlier claim.
func (w *walker) restore(sc *scope, n *PlanNode, rec *store.Step) outcome {
	st := sc.state[n]
	if rec.Status == store.StepSkipped {
		st.done = true
		return outcome{kind: completed}
	}
	var output any
	switch {
	case n == w.plan.Trigger:
		output = w.trigger
	case len(rec.Output) > 0:
		var err error
		if output, err = expression.DecodeJSON(rec.Output); err != nil {
			return outcome{kind: failed, err: fmt.Errorf("node %s: read its recorded output: %w", n.Def.ID, err)}
		}
	}
	w.complete(sc, n, output, rec.Port)
	return outcome{kind: completed}
}

// suspend asks a Suspender how long it waits. A wait is recorded as a
// running attempt with the time it ends.
func (w *walker) suspend(sc *scope, n *PlanNode, edge *PlanEdge, s nodes.Suspender, attempt int) (outcome, bool) {
	in, _ := w.input(sc, n, sc.inputOf(edge), attempt)
	wait, err := s.Suspend(w.ctx, in)
	if err != nil {
		step := w.newStep(sc, n, attempt, store.StepFailed)
		step.Error = err.Error()
		sc.inputRecord(edge, step)
		w.journal.record(step)
		return w.onError(sc, n, step, err), true
	}
	if wait <= 0 {
		return outcome{}, false
	}
	resume := w.clock.Now().Add(wait).UTC()
	step := w.newStep(sc, n, attempt, store.StepRunning)
	step.ResumeAt = &resume
	sc.inputRecord(edge, step)
	w.journal.record(step)
	w.remember(sc, step)
	return outcome{kind: suspended, until: resume}, true
}

// finishSuspended completes a suspended node whose time has come, in the
// same attempt (its record turns from running to succeeded).
func (w *walker) finishSuspended(sc *scope, n *PlanNode, edge *PlanEdge, rec *store.Step) outcome {
	in, log := w.input(sc, n, sc.inputOf(edge), rec.Attempt)
	result, err := w.call(n, in)
	step := *rec
	step.ResumeAt = nil
	o, _ := w.settle(sc, attemptResult{node: n, attempt: rec.Attempt, step: &step, result: result, err: err, log: log}, nil)
	return o
}

// iterate runs a foreach: its body once per element, one element after
// another, then the done port with the list of each iteration's last output.
func (w *walker) iterate(sc *scope, n *PlanNode, edge *PlanEdge, attempt int) outcome {
	in, log := w.input(sc, n, sc.inputOf(edge), attempt)
	step := w.newStep(sc, n, attempt, store.StepRunning)
	sc.inputRecord(edge, step)
	items, err := n.Node.(nodes.Iterator).Items(w.ctx, in)
	if err != nil {
		o, _ := w.settle(sc, attemptResult{node: n, attempt: attempt, step: step, err: err, log: log}, nil)
		return o
	}
	outputs := make([]any, len(items))
	for i, item := range items {
		iteration := strconv.Itoa(i)
		if sc.iteration != "" {
			iteration = sc.iteration + "." + iteration
		}
		body := newScope(n.Body, n, iteration, item, i, clone(sc.steps))
		if o := w.runScope(body); o.kind != completed {
			return o
		}
		outputs[i] = body.lastOutput()
	}
	done := nodes.DonePort
	o, _ := w.settle(sc, attemptResult{node: n, attempt: attempt, step: step, result: nodes.Result{Output: outputs, Port: done}, log: log}, nil)
	return o
}
