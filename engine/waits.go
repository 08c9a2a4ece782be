package engine

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hookflow/hookflow/engine/expression"
	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
)

// waits reports whether a node's running record with a resume time waits
// for a signal (a callback, a called run), rather than for its time alone
// (a delay).
func waits(n *PlanNode) bool {
	switch n.Node.(type) {
	case nodes.Caller, nodes.Waiter:
		return true
	}
	return false
}

// keyOf is the signal key of an attempt of a waiting node.
func keyOf(n *PlanNode, sc *scope, attempt int) signalKey {
	if _, ok := n.Node.(nodes.Waiter); ok {
		attempt = 0
	}
	return signalKey{node: n.Def.ID, iteration: sc.iteration, attempt: attempt}
}

// resumeURLs are the resume URLs of the flow's wait.callback nodes that an
// expression in scope sc may send: those outside every loop, and those of
// sc's own loop body, for its iteration.
func (w *walker) resumeURLs(sc *scope) map[string]any {
	if len(w.plan.waitNodes) == 0 {
		return nil
	}
	urls := make(map[string]any, len(w.plan.waitNodes))
	for _, n := range w.plan.waitNodes {
		switch {
		case n.Loop == nil:
			urls[n.Def.ID] = w.links.URL(ResumeTarget{RunID: w.run.ID, NodeID: n.Def.ID})
		case n.Loop == sc.loop:
			urls[n.Def.ID] = w.links.URL(ResumeTarget{RunID: w.run.ID, NodeID: n.Def.ID, Iteration: sc.iteration})
		}
	}
	return urls
}

// startWait starts a wait.callback: a request to its resume URL that came
// already ends it at once; otherwise the run waits for one, in the queue,
// until the timeout.
func (w *walker) startWait(sc *scope, n *PlanNode, edge *PlanEdge, wt nodes.Waiter, attempt int) outcome {
	step := w.newStep(sc, n, attempt, store.StepRunning)
	sc.inputRecord(edge, step)
	sig, err := w.journal.signal(w.ctx, keyOf(n, sc, attempt))
	if err != nil {
		return w.stopped(err)
	}
	if sig != nil {
		return w.endWait(sc, n, edge, step, sig, 0)
	}
	resume := w.clock.Now().Add(wt.Timeout()).UTC()
	step.ResumeAt = &resume
	w.journal.record(step)
	w.remember(sc, step)
	return outcome{kind: suspended, until: resume, external: true}
}

// awaitSignal goes on with a waiting node, from its running record: its
// signal ends it; with none, it waits on until its time is up, then times
// out (unless a signal beats the timeout to it).
func (w *walker) awaitSignal(sc *scope, n *PlanNode, edge *PlanEdge, rec *store.Step) outcome {
	key := keyOf(n, sc, rec.Attempt)
	sig, err := w.journal.signal(w.ctx, key)
	if err != nil {
		return w.stopped(err)
	}
	if sig == nil {
		if w.clock.Now().Before(*rec.ResumeAt) {
			return outcome{kind: suspended, until: *rec.ResumeAt, external: true}
		}
		if sig, err = w.journal.expire(w.ctx, key); err != nil {
			return w.stopped(err)
		}
	}
	step := *rec
	step.ResumeAt = nil
	return w.endWait(sc, n, edge, &step, sig, rec.ResumeAt.Sub(rec.StartedAt))
}

// childResult is the payload of a called run's end, as its parent's signal.
type childResult struct {
	RunID  string          `json:"run_id"`
	Status string          `json:"status"`
	Output json.RawMessage `json:"output,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// endWait settles a waiting node's attempt with the signal that ended it;
// limit is how long it was to wait at most.
func (w *walker) endWait(sc *scope, n *PlanNode, edge *PlanEdge, step *store.Step, sig *store.Signal, limit time.Duration) outcome {
	r := attemptResult{node: n, attempt: step.Attempt, step: step, log: &stepLog{}}
	switch sig.Kind {
	case store.SignalCallback:
		output, err := expression.DecodeJSON(sig.Payload)
		r.result, r.err = nodes.Result{Output: output, Port: nodes.ResumedPort}, err
	case store.SignalTimeout:
		if _, ok := n.Node.(nodes.Waiter); ok {
			r.result = nodes.Result{Output: sc.inputOf(edge), Port: nodes.TimeoutPort}
			break
		}
		w.journal.cancelRun(step.ChildRunID)
		r.err = fmt.Errorf("the called run %s did not end within %s; it was canceled", step.ChildRunID, limit.Round(time.Second))
	case store.SignalChild:
		var res childResult
		if err := json.Unmarshal(sig.Payload, &res); err != nil {
			r.err = nodes.Permanent(fmt.Errorf("read the called run's result: %w", err))
			break
		}
		switch res.Status {
		case store.RunSucceeded:
			output, err := expression.DecodeJSON(res.Output)
			r.result, r.err = nodes.Result{Output: output}, err
		case store.RunCanceled:
			r.err = nodes.Permanent(fmt.Errorf("the called run %s was canceled", res.RunID))
		default:
			r.err = fmt.Errorf("the called run %s failed: %s", res.RunID, res.Error)
		}
	default:
		r.err = nodes.Permanent(fmt.Errorf("unknown signal %q", sig.Kind))
	}
	o, _ := w.settle(sc, r, nil)
	return o
}

// startCall starts the run a flow.call step asks for. The step's record,
// naming the run, and the run itself are written together, before the
// walk goes on: a resumed walk never starts it twice. A call that waits
// suspends until the run's end signals it.
func (w *walker) startCall(sc *scope, n *PlanNode, edge *PlanEdge, c nodes.Caller, attempt int) outcome {
	in, log := w.input(sc, n, sc.inputOf(edge), attempt)
	step := w.newStep(sc, n, attempt, store.StepRunning)
	sc.inputRecord(edge, step)
	fail := func(err error) outcome {
		o, _ := w.settle(sc, attemptResult{node: n, attempt: attempt, step: step, err: err, log: log}, nil)
		return o
	}
	req, err := c.Call(w.ctx, in)
	if err != nil {
		return fail(err)
	}
	if w.run.CallDepth >= MaxCallDepth {
		return fail(nodes.Permanent(fmt.Errorf("calls are nested %d deep, the limit: does a flow call itself with no end?", MaxCallDepth)))
	}
	target, version, err := w.journal.target(w.ctx, req.FlowID, req.Version)
	if err != nil {
		if w.ctx.Err() != nil {
			return w.stopped(err)
		}
		return fail(nodes.Permanent(err))
	}
	if check, ok := target.Trigger.Node.(nodes.InputChecker); ok {
		if err := check.CheckInput(req.Input); err != nil {
			return fail(err)
		}
	}
	childID, err := store.NewRunID()
	if err != nil {
		return fail(err)
	}
	caller := map[string]any{"run_id": w.run.ID, "flow_id": w.run.FlowID, "node_id": n.Def.ID}
	trigger, err := json.Marshal(CallTrigger(req.Input, caller, w.clock.Now()))
	if err != nil {
		return fail(nodes.Permanent(fmt.Errorf("encode the input: %w", err)))
	}
	child := store.NewRun{ID: childID, FlowID: req.FlowID, FlowVersion: version, TriggerType: store.TriggerCall, Trigger: trigger,
		Parent: store.Parent{ParentRunID: w.run.ID, CallDepth: w.run.CallDepth + 1}}
	step.ChildRunID = childID
	var o outcome
	if req.Wait {
		child.ParentNode, child.ParentIteration, child.ParentAttempt = n.Def.ID, sc.iteration, attempt
		resume := w.clock.Now().Add(req.Timeout).UTC()
		step.ResumeAt = &resume
		step.Logs = log.encode()
		w.journal.record(step)
		w.remember(sc, step)
		o = outcome{kind: suspended, until: resume, external: true}
	} else {
		o, _ = w.settle(sc, attemptResult{node: n, attempt: attempt, step: step, log: log,
			result: nodes.Result{Output: map[string]any{"run_id": childID}}}, nil)
	}
	if err := w.journal.spawn(w.ctx, child); err != nil {
		return w.stopped(err)
	}
	w.unsaved = false
	return o
}
