package engine

import (
	"context"
	"time"

	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
)

// Answer is what a run gives the webhook request waiting for it: a respond
// node's output as soon as the node has run, or, for a run without one,
// its status and last output once it has ended.
type Answer struct {
	// Respond is the respond node's output ({status, headers, body}) as
	// JSON; nil when the run had none.
	Respond []byte
	// Status is the run's status at its end, when Respond is nil.
	Status string
	// Last is the output of the run's last step that succeeded, other than
	// the trigger's; nil when there was none.
	Last []byte
}

// Subscription waits for a run's answer.
type Subscription struct {
	e     *Engine
	runID string
	ch    chan *Answer
}

// Subscribe starts listening for a run's answer. Subscribe before the run
// can start (before Adopt), so an answer given at once is not missed; Close
// when done.
func (e *Engine) Subscribe(runID string) *Subscription {
	s := &Subscription{e: e, runID: runID, ch: make(chan *Answer, 1)}
	e.mu.Lock()
	e.answers[runID] = append(e.answers[runID], s.ch)
	e.mu.Unlock()
	return s
}

// Close stops listening.
func (s *Subscription) Close() {
	e := s.e
	e.mu.Lock()
	defer e.mu.Unlock()
	list := e.answers[s.runID]
	for i, ch := range list {
		if ch == s.ch {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(e.answers, s.runID)
	} else {
		e.answers[s.runID] = list
	}
}

// Await returns the run's answer: handed over by this engine when it runs
// the run, or, when another process does, read from the store once the
// run has ended. It gives up when ctx ends.
func (s *Subscription) Await(ctx context.Context) (*Answer, error) {
	ticker := time.NewTicker(250 * time.Millisecond)
	defer ticker.Stop()
	for {
		select {
		case a := <-s.ch:
			return a, nil
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-ticker.C:
		}
		run, err := s.e.store.GetRun(ctx, s.runID)
		if err != nil {
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			return nil, err
		}
		if run.Finished() {
			return s.e.storedAnswer(ctx, run)
		}
	}
}

// publish hands a run's answer to those waiting for it.
func (e *Engine) publish(runID string, a *Answer) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ch := range e.answers[runID] {
		select {
		case ch <- a:
		default:
		}
	}
}

// storedAnswer builds a finished run's answer from its records.
func (e *Engine) storedAnswer(ctx context.Context, run *store.Run) (*Answer, error) {
	steps, err := e.store.ListSteps(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	plan, err := e.plans.get(ctx, run.FlowID, run.FlowVersion)
	if err != nil {
		return nil, err
	}
	a := &Answer{Status: run.Status}
	var last *store.Step
	for _, s := range steps {
		if s.Status != store.StepSucceeded {
			continue
		}
		if n, ok := plan.Node(s.NodeID); ok && n.Kind.Spec.Kind == nodes.KindRespond && a.Respond == nil {
			a.Respond = s.Output
		}
		if s.NodeID != plan.Trigger.Def.ID && (last == nil || s.Seq > last.Seq) {
			last = s
		}
	}
	if last != nil {
		a.Last = last.Output
	}
	return a, nil
}

// Wait blocks until the run has finished, or ctx ends, and returns it.
func (e *Engine) Wait(ctx context.Context, id string) (*store.Run, error) {
	return e.wait(ctx, id, func(_ context.Context, r *store.Run) bool { return r.Finished() })
}

// WaitSettled blocks until the run has finished or waits in the queue for
// something other than a run it called (a callback, a long delay or
// backoff), or ctx ends, and returns it: a test run that waits for someone
// is answered while it waits.
func (e *Engine) WaitSettled(ctx context.Context, id string) (*store.Run, error) {
	return e.wait(ctx, id, func(ctx context.Context, r *store.Run) bool {
		if r.Finished() {
			return true
		}
		if r.Status != store.RunQueued || r.Claims == 0 || !r.AvailableAt.After(e.clock.Now()) {
			return false // it runs, or is about to
		}
		children, err := e.store.ListRuns(ctx, store.RunFilter{ParentRunID: id, Unfinished: true})
		if err != nil {
			return false
		}
		for _, c := range children {
			if c.ParentNode != "" {
				return false // it waits for a run of its own, which goes on
			}
		}
		// A called run that ended since r was read woke it, in the same
		// write: read it again.
		again, err := e.store.GetRun(ctx, id)
		return err == nil && again.Status == store.RunQueued && again.AvailableAt.After(e.clock.Now())
	})
}

func (e *Engine) wait(ctx context.Context, id string, settled func(context.Context, *store.Run) bool) (*store.Run, error) {
	finished := make(chan struct{}, 1)
	e.mu.Lock()
	e.waiters[id] = append(e.waiters[id], finished)
	e.mu.Unlock()
	defer e.unwait(id, finished)

	// Runs executed by other processes are noticed by polling.
	ticker := time.NewTicker(250 * time.Millisecond)
	defer ticker.Stop()
	for {
		run, err := e.store.GetRun(ctx, id)
		if err != nil && ctx.Err() != nil {
			// The wait ran out while the run was being read: read it
			// once more, so the caller still gets the run as it stands.
			readCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			run, err = e.store.GetRun(readCtx, id)
			cancel()
			if err == nil && !settled(readCtx, run) {
				return run, context.Cause(ctx)
			}
		}
		if err != nil {
			return nil, err
		}
		if settled(ctx, run) {
			return run, nil
		}
		select {
		case <-finished:
		case <-ticker.C:
		case <-ctx.Done():
			return run, context.Cause(ctx)
		}
	}
}

func (e *Engine) unwait(id string, ch chan struct{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	list := e.waiters[id]
	for i, c := range list {
		if c == ch {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(e.waiters, id)
	} else {
		e.waiters[id] = list
	}
}

// finished tells those waiting for a run that it ended, or went back to
// the queue to wait.
func (e *Engine) finished(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ch := range e.waiters[id] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
