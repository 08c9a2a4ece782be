package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookflow/hookflow/engine/expression"
	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
)

// execution is one claim of one run, the engine's side of its walk: it
// loads what the walk starts from (plan, trigger data, the records of
// earlier claims), makes the walk's records durable (it is the walk's
// journal), waits out short waits in memory, and writes how the run ended.
type execution struct {
	e      *Engine
	run    *store.Run
	owner  string
	ctx    context.Context
	cancel context.CancelCauseFunc
	// delivery is the request of a run handed over by the ingress: its
	// trigger data need not be read back from the store.
	delivery *store.Delivery
	// memory is what the run is counted as holding of the in-flight budget.
	memory atomic.Int64
	// deadline is when the run fails for going past its flow's
	// settings.timeout_ms; zero for no limit.
	deadline time.Time

	plan    *Plan
	trigger map[string]any
	// test narrows a test run from the editor; nil for other runs.
	test *testRun
	// history holds the records of earlier claims, by node and iteration,
	// and, after a wait in memory, this claim's.
	history map[stepKey][]*store.Step
	seq     int
	// secrets are the credential values the run's steps have opened; no
	// record is written with them.
	secrets nodes.Secrets

	mu sync.Mutex
	// pending are records not yet written.
	pending []*store.Step
	// records are every record of this claim, in order.
	records []*store.Step
	// writing serializes the run's writes, so they land in the order they
	// were made; writes counts them.
	writing sync.Mutex
	writes  int
	// answered is set once a respond node ran; its output waits in
	// heldAnswer for the run's next durable write.
	answered   bool
	heldAnswer []byte
}

var _ journal = (*execution)(nil)

func newExecution(e *Engine, run *store.Run, owner string, delivery *store.Delivery) *execution {
	ctx, cancel := context.WithCancelCause(context.Background())
	return &execution{e: e, run: run, owner: owner, ctx: ctx, cancel: cancel, delivery: delivery}
}

// execute runs the run to its end, or until it must wait in the queue or
// stop, and writes the result.
func (x *execution) execute() {
	defer x.cancel(nil)
	if x.run.Claims == 1 {
		// Later claims go on with a run already counted: it waited in the
		// queue, or its worker died.
		x.e.metrics.RunStarted(x.run.FlowID)
	}
	o := x.prepare()
	if o.kind == completed && !x.deadline.IsZero() {
		timer := x.e.clock.AfterFunc(x.deadline.Sub(x.e.clock.Now()), func() { x.cancel(x.timedOut()) })
		defer timer.Stop()
	}
	for o.kind == completed {
		w := x.walker()
		o = w.walk()
		x.seq = w.seq
		if o.kind != suspended {
			break
		}
		if !x.deadline.IsZero() && o.until.After(x.deadline) {
			o.until = x.deadline // to fail then, if still waiting
		}
		if o.external {
			// A signal may end the wait early: it wakes the run in the
			// queue, not here.
			break
		}
		var resume bool
		if o, resume = x.waitInMemory(o.until); !resume {
			break
		}
	}
	x.settleRun(o)
}

func (x *execution) walker() *walker {
	e := x.e
	return &walker{
		ctx: x.ctx, plan: x.plan, run: x.run, trigger: x.trigger, history: x.history, seq: x.seq,
		journal: x, clock: e.clock, cpu: e.cpu, env: e.env, services: e.services, secrets: &x.secrets,
		timeout: e.timeout, metrics: e.metrics, links: e.links, stopping: e.draining.Load, test: x.test,
	}
}

// prepare loads the plan, the trigger data and, for a run claimed before,
// its records.
func (x *execution) prepare() outcome {
	plan, err := x.e.plans.get(x.ctx, x.run.FlowID, x.run.FlowVersion)
	if err != nil {
		if !errors.Is(err, errPlanCompile) {
			return x.readFailed(fmt.Errorf("load flow version %d: %w", x.run.FlowVersion, err))
		}
		return outcome{kind: failed, err: fmt.Errorf("load flow version %d: %w", x.run.FlowVersion, err)}
	}
	x.plan = plan
	// Only test runs use the options a test kept with them: a replay of
	// one, or a run of any other kind, runs every node.
	if x.run.TriggerType == store.TriggerTest && len(x.run.TestOptions) > 0 {
		if x.test, err = plan.testRun(x.run.TestOptions); err != nil {
			return outcome{kind: failed, err: err}
		}
	}
	if o := x.loadTrigger(); o.kind != completed {
		return o
	}
	x.history = map[stepKey][]*store.Step{}
	if x.run.Claims > 1 {
		steps, err := x.e.store.ListSteps(x.ctx, x.run.ID)
		if err != nil {
			return x.readFailed(fmt.Errorf("load steps: %w", err))
		}
		for _, s := range steps {
			k := stepKey{s.NodeID, s.Iteration}
			x.history[k] = append(x.history[k], s)
			x.seq = max(x.seq, s.Seq)
		}
	}
	if x.run.CancelRequested {
		// Canceled while it went back to the queue.
		return outcome{kind: canceled}
	}
	if limit := plan.Settings().TimeoutMS; limit > 0 && x.run.StartedAt != nil {
		x.deadline = x.run.StartedAt.Add(time.Duration(limit) * time.Millisecond)
		if !x.e.clock.Now().Before(x.deadline) {
			return outcome{kind: failed, err: x.timedOut()}
		}
	}
	return outcome{kind: completed}
}

// errRunTimedOut fails a run that went past its flow's settings.timeout_ms.
var errRunTimedOut = errors.New("the run went past its time limit (settings.timeout_ms)")

func (x *execution) timedOut() error {
	return fmt.Errorf("%w of %s", errRunTimedOut, time.Duration(x.plan.Settings().TimeoutMS)*time.Millisecond)
}

// closeWaiting records the steps left waiting (a delay, a callback, a
// called run) as failed, for a run that ends without going on.
func (x *execution) closeWaiting(reason string) {
	latest := map[stepKey]*store.Step{}
	for k, hist := range x.history {
		latest[k] = hist[len(hist)-1]
	}
	x.mu.Lock()
	for _, s := range x.records {
		k := stepKey{s.NodeID, s.Iteration}
		if l := latest[k]; l == nil || s.Attempt >= l.Attempt {
			latest[k] = s
		}
	}
	x.mu.Unlock()
	for _, last := range latest {
		if last.Status != store.StepRunning || last.ResumeAt == nil {
			continue
		}
		closed := *last
		closed.Status, closed.Error, closed.ResumeAt = store.StepFailed, reason, nil
		closed.Duration = x.e.clock.Now().Sub(closed.StartedAt)
		x.record(&closed)
	}
}

// readRetryDelay is how long a run whose records could not be read waits
// in the queue before it is tried again.
const readRetryDelay = 2 * time.Second

// readFailed is the outcome for a run whose records the store could not
// give (a database restarting, out of connections): the store failed, not
// the run, so the run goes back to the queue to be tried again shortly,
// rather than failing a delivery that was accepted. Records that are not
// there fail the run: waiting would not bring them.
func (x *execution) readFailed(err error) outcome {
	if x.ctx.Err() != nil || errors.Is(err, store.ErrLeaseLost) {
		return stoppedOutcome(x.ctx, err)
	}
	if errors.Is(err, store.ErrNotFound) {
		return outcome{kind: failed, err: err}
	}
	x.e.log.Warn("a run goes back to the queue: its records could not be read", "run_id", x.run.ID, "error", err)
	return outcome{kind: suspended, until: x.e.clock.Now().Add(readRetryDelay)}
}

// loadTrigger reads the trigger data, the one way a run's trigger data is
// had (see RunTrigger), from the delivery in hand when there is one.
func (x *execution) loadTrigger() outcome {
	var (
		trigger map[string]any
		err     error
	)
	if x.delivery != nil {
		trigger, err = DeliveryTrigger(x.delivery)
	} else {
		trigger, err = runTriggerData(x.ctx, x.e.store, x.run)
	}
	if err != nil {
		if !errors.Is(err, errBadTrigger) {
			return x.readFailed(err)
		}
		return outcome{kind: failed, err: err}
	}
	x.trigger = trigger
	// The trigger data is held for the whole run: count it against the
	// in-flight memory budget, as decoded values take several times
	// their JSON's size.
	x.e.charge(x, int64(triggerSize(x.run, x.delivery))*decodedFactor)
	return outcome{kind: completed}
}

// waitInMemory spends a short wait (a retry's backoff, a delay) holding the
// run, rather than putting it back in the queue and claiming it again: it
// costs no write. It reports whether the run goes on; if not, the outcome
// says why: a long wait, or the run stopping meanwhile.
func (x *execution) waitInMemory(until time.Time) (outcome, bool) {
	e := x.e
	wait := until.Sub(e.clock.Now())
	if wait > e.maxMemoryWait || e.draining.Load() {
		return outcome{kind: suspended, until: until}, false
	}
	if wait > 0 {
		done := make(chan struct{})
		timer := e.clock.AfterFunc(wait, func() { close(done) })
		select {
		case <-done:
		case <-x.ctx.Done():
			timer.Stop()
			return stoppedOutcome(x.ctx, context.Cause(x.ctx)), false
		case <-e.drain:
			// Stopping: the wait goes on in the queue.
			timer.Stop()
			return outcome{kind: suspended, until: until}, false
		}
	}
	// The walk starts again from every record so far, this claim's too.
	x.mu.Lock()
	records := x.records
	x.mu.Unlock()
	for _, s := range records {
		k := stepKey{s.NodeID, s.Iteration}
		hist := x.history[k]
		replaced := false
		for i, h := range hist {
			if h.Attempt == s.Attempt {
				hist[i], replaced = s, true
			}
		}
		if !replaced {
			x.history[k] = append(hist, s)
		}
	}
	return outcome{kind: completed}, true
}

// record implements journal.
func (x *execution) record(s *store.Step) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.pending = append(x.pending, s)
	x.records = append(x.records, s)
}

// takePending returns the pending records, redacted of every credential
// secret the run has used so far (a record may show a secret that a later
// step was the first to open), and clears them.
func (x *execution) takePending() []*store.Step {
	x.mu.Lock()
	defer x.mu.Unlock()
	steps := x.pending
	x.pending = nil
	for _, s := range steps {
		x.redact(s)
	}
	return steps
}

// putBack returns records whose write failed to the pending ones, so the
// run's last write still carries them.
func (x *execution) putBack(steps []*store.Step) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.pending = append(steps, x.pending...)
}

// nextWrite is the run's next write of steps; the caller holds writing.
func (x *execution) nextWrite(steps []*store.Step) store.Write {
	x.writes++
	return store.Write{Owner: x.owner, RunID: x.run.ID, N: store.WriteNumber(x.run.Claims, x.writes), Steps: steps}
}

func (x *execution) redact(s *store.Step) {
	s.Input = x.secrets.RedactJSON(s.Input)
	s.Output = x.secrets.RedactJSON(s.Output)
	s.Logs = x.secrets.RedactJSON(s.Logs)
	s.Error = x.secrets.Redact(s.Error)
}

// checkpoint implements journal.
func (x *execution) checkpoint(ctx context.Context) error {
	x.writing.Lock()
	defer x.writing.Unlock()
	steps := x.takePending()
	if len(steps) == 0 {
		return nil
	}
	if err := x.e.store.SaveSteps(ctx, x.nextWrite(steps)); err != nil {
		x.putBack(steps)
		return err
	}
	x.sendHeldAnswer()
	return nil
}

// started implements journal: an attempt still running after
// runningRecordAfter gets its running record written, so the run's history
// shows it under way, and a crash meanwhile leaves it recorded as
// interrupted. Shorter attempts cost no write of their own.
func (x *execution) started(s *store.Step) (ended func()) {
	running := *s
	x.mu.Lock()
	x.redact(&running)
	x.mu.Unlock()
	var over atomic.Bool
	timer := x.e.clock.AfterFunc(x.e.runningRecordAfter, func() {
		x.writing.Lock()
		defer x.writing.Unlock()
		if over.Load() {
			return // its end is recorded, or about to be
		}
		if err := <-x.e.store.SaveStepsAsync(x.nextWrite([]*store.Step{&running})); err != nil && x.ctx.Err() == nil {
			x.e.log.Warn("record a running step", "run_id", x.run.ID, "node_id", running.NodeID, "error", err)
		}
	})
	return func() {
		over.Store(true)
		timer.Stop()
	}
}

// signal implements journal.
func (x *execution) signal(ctx context.Context, key signalKey) (*store.Signal, error) {
	sig, err := x.e.store.GetSignal(ctx, x.run.ID, key.node, key.iteration, key.attempt)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return sig, err
}

// expire implements journal.
func (x *execution) expire(ctx context.Context, key signalKey) (*store.Signal, error) {
	held, _, err := x.e.store.AddSignal(ctx, store.Signal{RunID: x.run.ID, NodeID: key.node, Iteration: key.iteration,
		Attempt: key.attempt, Kind: store.SignalTimeout})
	return held, err
}

// target implements journal.
func (x *execution) target(ctx context.Context, flowID string, version int) (*Plan, int, error) {
	version, err := callable(ctx, x.e.store, x.e.registry, flowID, version)
	if err != nil {
		return nil, 0, err
	}
	plan, err := x.e.plans.get(ctx, flowID, version)
	if err != nil {
		return nil, 0, fmt.Errorf("load flow %s version %d: %w", flowID, version, err)
	}
	return plan, version, nil
}

// spawn implements journal: the run is written with the pending records,
// and the dispatcher, woken, takes it on.
func (x *execution) spawn(ctx context.Context, run store.NewRun) error {
	x.writing.Lock()
	defer x.writing.Unlock()
	steps := x.takePending()
	w := x.nextWrite(steps)
	w.Spawn = []store.NewRun{run}
	if err := x.e.store.SaveSteps(ctx, w); err != nil {
		x.putBack(steps)
		return err
	}
	x.sendHeldAnswer()
	x.e.Nudge()
	return nil
}

// cancelRun implements journal.
func (x *execution) cancelRun(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := x.e.Cancel(ctx, id); err != nil && !errors.Is(err, store.ErrRunFinished) {
		x.e.log.Warn("cancel a called run no longer waited for", "run_id", id, "error", err)
	}
}

// answer implements journal.
func (x *execution) answer(output []byte, now bool) {
	x.mu.Lock()
	if x.answered {
		x.mu.Unlock()
		return
	}
	x.answered = true
	output = x.secrets.RedactJSON(output)
	if !now {
		x.heldAnswer = output
		x.mu.Unlock()
		return
	}
	x.mu.Unlock()
	x.e.publish(x.run.ID, &Answer{Respond: output})
}

// sendHeldAnswer sends a respond node's output held for a durable write,
// once the write is done.
func (x *execution) sendHeldAnswer() {
	x.mu.Lock()
	held := x.heldAnswer
	x.heldAnswer = nil
	x.mu.Unlock()
	if held != nil {
		x.e.publish(x.run.ID, &Answer{Respond: held})
	}
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
		message = x.secrets.Redact(message)
		if o.kind != completed {
			x.closeWaiting(message)
		}
		x.writing.Lock()
		w := x.nextWrite(x.takePending())
		w.Signals = x.parentSignal(status, message)
		if o.kind == failed {
			w.Spawn = x.errorFlowRun(o)
		}
		err := <-e.store.FinishRun(w, status, message)
		x.writing.Unlock()
		if err != nil {
			if !errors.Is(err, store.ErrLeaseLost) {
				// It goes back to the queue once the store answers, and
				// its next claim goes on from its records.
				e.log.Error("finish run", "run_id", x.run.ID, "error", err)
				e.abandon(x.run.ID, x.owner)
			}
			e.finished(x.run.ID)
			return
		}
		// Counted once durable: a worker that lost the run did not finish
		// it; the one that holds it will.
		e.metrics.RunFinished(x.run.FlowID, status)
		if len(w.Signals) > 0 || len(w.Spawn) > 0 {
			e.Nudge() // the caller is due, or an error flow's run queued
		}
		if x.answered {
			x.sendHeldAnswer()
		} else {
			e.publish(x.run.ID, &Answer{Status: status, Last: x.lastOutput()})
		}
		e.finished(x.run.ID)
	case suspended, interrupted:
		until := o.until
		if o.kind == interrupted {
			until = e.clock.Now()
		}
		// The release must land even though the run's context is canceled.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		x.writing.Lock()
		err := e.store.ReleaseRun(ctx, x.nextWrite(x.takePending()), until)
		x.writing.Unlock()
		if err != nil {
			if !errors.Is(err, store.ErrLeaseLost) {
				e.log.Error("release run", "run_id", x.run.ID, "error", err)
				e.abandon(x.run.ID, x.owner)
			}
			return
		}
		x.sendHeldAnswer()
		if o.kind == suspended {
			e.wakeAt(until)
			e.finished(x.run.ID) // for WaitSettled
		}
		if o.external {
			// A signal that came while the run ran made it due at once.
			e.Nudge()
		}
	case leaseLost:
		// Another worker has the run; nothing here may write to it.
	}
}

// lastOutput is the output of the run's last step that succeeded, other
// than the trigger's: what a webhook waiting for a run without a respond
// node is answered with.
func (x *execution) lastOutput() []byte {
	return x.lastStepOutput(func(s *store.Step) bool { return s.NodeID != x.plan.Trigger.Def.ID })
}

// result is what a called run gives its caller: the output of its last
// flow.return step, or else of its last step.
func (x *execution) result() []byte {
	returned := x.lastStepOutput(func(s *store.Step) bool {
		n, ok := x.plan.Node(s.NodeID)
		return ok && n.Kind.Spec.Kind == nodes.KindReturn
	})
	if returned != nil {
		return returned
	}
	return x.lastOutput()
}

// lastStepOutput is the output of the last step that succeeded among those
// that pick chooses.
func (x *execution) lastStepOutput(pick func(*store.Step) bool) []byte {
	var last *store.Step
	consider := func(s *store.Step) {
		if s.Status == store.StepSucceeded && pick(s) && (last == nil || s.Seq > last.Seq) {
			last = s
		}
	}
	for _, hist := range x.history {
		for _, s := range hist {
			consider(s)
		}
	}
	x.mu.Lock()
	for _, s := range x.records {
		consider(s)
	}
	x.mu.Unlock()
	if last == nil {
		return nil
	}
	return last.Output
}

// errBadTrigger marks trigger data that cannot be read: the run fails.
var errBadTrigger = errors.New("the run's trigger data cannot be read")

// runTriggerData returns a run's trigger data: stored with the run, or for
// a webhook run built from its delivery. It is the one way the engine and
// the API get a run's trigger data.
func runTriggerData(ctx context.Context, st store.Store, run *store.Run) (map[string]any, error) {
	if len(run.Trigger) > 0 || run.DeliveryID == "" {
		trigger, err := expression.DecodeJSON(run.Trigger)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errBadTrigger, err)
		}
		m, _ := trigger.(map[string]any)
		return m, nil
	}
	d, err := st.GetDelivery(ctx, run.DeliveryID)
	if err != nil {
		return nil, fmt.Errorf("load delivery %s: %w", run.DeliveryID, err)
	}
	trigger, err := DeliveryTrigger(d)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadTrigger, err)
	}
	return trigger, nil
}

// RunTrigger returns a run's trigger data as JSON: what expressions saw as
// trigger, and the output of the run's trigger step.
func RunTrigger(ctx context.Context, st store.Store, run *store.Run) ([]byte, error) {
	if len(run.Trigger) > 0 || run.DeliveryID == "" {
		return run.Trigger, nil
	}
	trigger, err := runTriggerData(ctx, st, run)
	if err != nil {
		return nil, err
	}
	return json.Marshal(trigger)
}

// triggerSize is the size of a run's trigger data as received.
func triggerSize(run *store.Run, d *store.Delivery) int {
	if d != nil {
		return len(d.Body) + len(d.Headers)
	}
	return len(run.Trigger)
}

// parentSignal is the signal a run that its caller waits for sends it as
// it ends: its status, and its result or error.
func (x *execution) parentSignal(status, message string) []store.Signal {
	p := x.run.Parent
	if p.ParentNode == "" {
		return nil
	}
	res := childResult{RunID: x.run.ID, Status: status, Error: message}
	if status == store.RunSucceeded {
		res.Output = x.secrets.RedactJSON(x.result())
	}
	payload, err := json.Marshal(res)
	if err != nil {
		payload, _ = json.Marshal(childResult{RunID: x.run.ID, Status: store.RunFailed, Error: "encode the result: " + err.Error()})
	}
	return []store.Signal{{RunID: p.ParentRunID, NodeID: p.ParentNode, Iteration: p.ParentIteration, Attempt: p.ParentAttempt,
		Kind: store.SignalChild, Payload: payload}}
}

// errorFlowRun is the run of the flow's error flow that a failed run
// starts, with what failed. Runs of error flows start none, so an error
// flow that fails never starts itself; nor do test runs, which the editor
// shows at once.
func (x *execution) errorFlowRun(o outcome) []store.NewRun {
	errorFlow := ""
	if x.plan != nil {
		errorFlow = x.plan.Settings().ErrorFlow
	}
	if errorFlow == "" || x.run.TriggerType == store.TriggerError || x.run.TriggerType == store.TriggerTest {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	version, err := callable(ctx, x.e.store, x.e.registry, errorFlow, 0)
	if err != nil {
		x.e.log.Warn("the failed run's error flow cannot be started", "run_id", x.run.ID, "error_flow", errorFlow, "error", err)
		return nil
	}
	input := map[string]any{
		"run_id": x.run.ID, "flow_id": x.run.FlowID, "flow_name": x.plan.Flow.Name, "flow_version": x.run.FlowVersion,
		"node_id": o.node, "error": x.secrets.Redact(o.err.Error()), "trigger": x.triggerSummary(),
	}
	trigger, err := json.Marshal(CallTrigger(input, map[string]any{"run_id": x.run.ID, "flow_id": x.run.FlowID}, x.e.clock.Now()))
	if err != nil {
		x.e.log.Error("encode an error flow's input", "run_id", x.run.ID, "error", err)
		return nil
	}
	return []store.NewRun{{FlowID: errorFlow, FlowVersion: version, TriggerType: store.TriggerError, Trigger: trigger}}
}

// triggerSummary says what started the run, without its data: the error
// flow learns where to look, not the payload, which may hold anything.
func (x *execution) triggerSummary() map[string]any {
	summary := map[string]any{"type": x.run.TriggerType}
	if x.run.DeliveryID != "" {
		summary["delivery_id"] = x.run.DeliveryID
	}
	for _, k := range []string{"method", "path", "received_at", "scheduled_at"} {
		if v, ok := x.trigger[k]; ok {
			summary[k] = v
		}
	}
	return summary
}
