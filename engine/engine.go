package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookflow/hookflow/engine/metrics"
	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
)

// Why an execution's context was canceled; the executor acts on the cause.
var (
	errCanceled  = errors.New("run canceled")
	errShutdown  = errors.New("server is shutting down")
	errLeaseLost = errors.New("lease on the run was lost")
)

// Options configure an Engine.
type Options struct {
	Store    store.Store
	Registry *nodes.Registry
	Logger   *slog.Logger
	// Workers is how many runs this engine executes at once.
	Workers int
	// LeaseTTL is how long a claimed run stays this engine's without a
	// renewal; a run whose lease lapses is claimed again elsewhere.
	LeaseTTL time.Duration
	// PollInterval is how often the queue is checked for runs enqueued by
	// other processes. Runs enqueued through this engine start at once.
	PollInterval time.Duration
	// NodeTimeout bounds an attempt of a node without timeout_ms.
	NodeTimeout time.Duration
	// Env is what expressions see as env: only allow-listed variables.
	Env map[string]string
	// Services are what action nodes reach the world through.
	Services *nodes.Services
	// Metrics counts runs and steps; nil counts nothing.
	Metrics *metrics.Metrics
}

// Engine executes runs: it claims them from the queue, walks their plan and
// records every step.
type Engine struct {
	store    store.Store
	registry *nodes.Registry
	log      *slog.Logger
	plans    *planCache
	owner    string
	workers  int
	leaseTTL time.Duration
	poll     time.Duration
	timeout  time.Duration
	env      map[string]any
	services *nodes.Services
	metrics  *metrics.Metrics

	wake chan struct{}
	// slots admits Workers executions at a time. The dispatcher holds up to
	// twice as many claimed runs, so a worker coming free finds the next run
	// at hand and claims happen in batches rather than one run at a time.
	slots chan struct{}

	// draining is set when the engine stops: runs start no further step,
	// and once their steps under way end they go back to the queue.
	draining atomic.Bool

	mu      sync.Mutex
	running map[string]*execution
	waiters map[string][]chan struct{}

	stopDispatch context.CancelFunc
	stopLeases   context.CancelFunc
	dispatching  sync.WaitGroup
	renewing     sync.WaitGroup
	executions   sync.WaitGroup
}

// New returns an engine; Start sets it working.
func New(opts Options) *Engine {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = 30 * time.Second
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	if opts.NodeTimeout <= 0 {
		opts.NodeTimeout = 5 * time.Minute
	}
	env := make(map[string]any, len(opts.Env))
	for k, v := range opts.Env {
		env[k] = v
	}
	return &Engine{
		store:    opts.Store,
		registry: opts.Registry,
		log:      opts.Logger,
		plans:    newPlanCache(opts.Store, opts.Registry, 1024),
		owner:    "hookflow-" + rand.Text()[:10],
		workers:  opts.Workers,
		leaseTTL: opts.LeaseTTL,
		poll:     opts.PollInterval,
		timeout:  opts.NodeTimeout,
		env:      env,
		services: opts.Services,
		metrics:  opts.Metrics,
		wake:     make(chan struct{}, 1),
		slots:    make(chan struct{}, opts.Workers),
		running:  map[string]*execution{},
		waiters:  map[string][]chan struct{}{},
	}
}

// Plan returns the compiled plan of a flow version, from the engine's cache.
func (e *Engine) Plan(ctx context.Context, flowID string, version int) (*Plan, error) {
	return e.plans.get(ctx, flowID, version)
}

// Start begins claiming and executing runs, until Stop.
func (e *Engine) Start() {
	dispatchCtx, stopDispatch := context.WithCancel(context.Background())
	leaseCtx, stopLeases := context.WithCancel(context.Background())
	e.stopDispatch, e.stopLeases = stopDispatch, stopLeases
	e.dispatching.Go(func() { e.dispatch(dispatchCtx) })
	e.renewing.Go(func() { e.renewLeases(leaseCtx) })
}

// Stop shuts the engine down in two phases: it stops claiming runs and lets
// the steps under way finish until ctx ends, starting no further step, and
// puts each run back in the queue once its steps are done (a run with no
// step left finishes); then it
// interrupts what is left, which goes back to the queue too. The next start
// goes on from there.
func (e *Engine) Stop(ctx context.Context) {
	if e.stopDispatch == nil {
		return // never started
	}
	e.draining.Store(true)
	e.stopDispatch()
	// Only once the dispatcher is gone can no execution start.
	e.dispatching.Wait()
	done := make(chan struct{})
	go func() {
		e.executions.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		e.mu.Lock()
		for _, x := range e.running {
			x.cancel(errShutdown)
		}
		e.mu.Unlock()
		<-done
	}
	e.stopLeases()
	e.renewing.Wait()
}

// Nudge wakes the dispatcher: a run was enqueued (by the ingress, say) or
// a worker came free.
func (e *Engine) Nudge() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Enqueue adds runs to the queue; this engine starts on them at once.
func (e *Engine) Enqueue(ctx context.Context, runs ...store.NewRun) ([]*store.Run, error) {
	out, err := e.store.EnqueueRuns(ctx, runs)
	if err != nil {
		return nil, err
	}
	e.Nudge()
	return out, nil
}

// Replay enqueues a new run of a finished or running run's flow with the
// same trigger data. version 0 uses the flow's current version, so a flow
// fixed since can be replayed; any other picks that version.
func (e *Engine) Replay(ctx context.Context, id string, version int) (*store.Run, error) {
	original, err := e.store.GetRun(ctx, id)
	if err != nil {
		return nil, err
	}
	if version == 0 {
		f, err := e.store.GetFlow(ctx, original.FlowID)
		if err != nil {
			return nil, fmt.Errorf("replay run %s: %w", id, err)
		}
		version = f.Version
	} else if _, err := e.store.GetFlowVersion(ctx, original.FlowID, version); err != nil {
		return nil, fmt.Errorf("replay run %s: %w", id, err)
	}
	runs, err := e.Enqueue(ctx, store.NewRun{
		FlowID: original.FlowID, FlowVersion: version, TriggerType: store.TriggerReplay,
		Trigger: original.Trigger, DeliveryID: original.DeliveryID, ReplayOf: original.ID,
	})
	if err != nil {
		return nil, err
	}
	return runs[0], nil
}

// Cancel stops a run: a queued one at once, a running one as soon as its
// worker hears of it (at once when that is this engine).
func (e *Engine) Cancel(ctx context.Context, id string) (*store.Run, error) {
	run, err := e.store.RequestCancel(ctx, id)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	x := e.running[id]
	e.mu.Unlock()
	if x != nil {
		x.cancel(errCanceled)
	}
	return run, nil
}

// Wait blocks until the run has finished, or ctx ends, and returns it.
func (e *Engine) Wait(ctx context.Context, id string) (*store.Run, error) {
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
			if err == nil && !run.Finished() {
				return run, context.Cause(ctx)
			}
		}
		if err != nil {
			return nil, err
		}
		if run.Finished() {
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

// finished tells those waiting for a run that it ended.
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

// dispatch claims runs while fewer than twice Workers are held.
func (e *Engine) dispatch(ctx context.Context) {
	timer := time.NewTimer(e.poll)
	defer timer.Stop()
	for {
		e.mu.Lock()
		free := 2*e.workers - len(e.running)
		if free < e.workers/2 {
			free = 0 // wait until a batch is worth claiming
		}
		e.mu.Unlock()
		claimed := 0
		if free > 0 {
			runs, err := e.store.ClaimRuns(ctx, e.owner, free, time.Now().Add(e.leaseTTL))
			if err != nil && ctx.Err() == nil {
				e.log.Error("claim runs", "error", err)
			}
			for _, run := range runs {
				e.execute(run)
			}
			claimed = len(runs)
		}
		if claimed > 0 && claimed == free {
			continue // there may be more
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(e.poll)
		select {
		case <-ctx.Done():
			return
		case <-e.wake:
		case <-timer.C:
		}
	}
}

// execute starts a claimed run on its own goroutine.
func (e *Engine) execute(run *store.Run) {
	x := newExecution(e, run)
	e.mu.Lock()
	e.running[run.ID] = x
	e.mu.Unlock()
	e.executions.Go(func() {
		defer func() {
			e.mu.Lock()
			delete(e.running, run.ID)
			e.mu.Unlock()
			e.Nudge()
		}()
		select {
		case e.slots <- struct{}{}:
		case <-x.ctx.Done():
			// Canceled, shut down or lost while waiting for a worker.
			x.settleRun(x.stopped(context.Cause(x.ctx)))
			return
		}
		defer func() { <-e.slots }()
		x.execute()
	})
}

// wakeAt nudges the dispatcher when a run released until t comes due.
func (e *Engine) wakeAt(t time.Time) {
	time.AfterFunc(time.Until(t)+time.Millisecond, e.Nudge)
}

// renewLeases keeps the leases of running runs, and stops those canceled or
// lost meanwhile.
func (e *Engine) renewLeases(ctx context.Context) {
	ticker := time.NewTicker(e.leaseTTL / 3)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		e.mu.Lock()
		ids := make([]string, 0, len(e.running))
		for id := range e.running {
			ids = append(ids, id)
		}
		e.mu.Unlock()
		if len(ids) == 0 {
			continue
		}
		lost, cancel, err := e.store.RenewLeases(ctx, e.owner, ids, time.Now().Add(e.leaseTTL))
		if err != nil {
			if ctx.Err() == nil {
				e.log.Error("renew leases", "error", err)
			}
			continue
		}
		e.mu.Lock()
		for _, id := range lost {
			if x := e.running[id]; x != nil {
				e.log.Warn("lost the lease on a run; another worker has it", "run_id", id)
				x.cancel(errLeaseLost)
			}
		}
		for _, id := range cancel {
			if x := e.running[id]; x != nil {
				x.cancel(errCanceled)
			}
		}
		e.mu.Unlock()
	}
}

// String names the engine in logs.
func (e *Engine) String() string { return fmt.Sprintf("engine %s", e.owner) }
