package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
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
	errLeaseLost = errors.New("this process was given up for dead; another has the run")
)

// Defaults of the engine's limits.
const (
	// DefaultMaxInFlight is how many runs one engine holds at once.
	DefaultMaxInFlight = 10000
	// DefaultInFlightMemory is the memory those runs may hold, estimated.
	DefaultInFlightMemory = 512 << 20
	// runMemory is what a run is counted as holding besides its trigger
	// data: goroutines, scope, records, and the connection of a call it
	// waits on. Measured: 9,131 runs waiting on a slow API held 570 MB.
	runMemory = 64 << 10
	// decodedFactor is how many times its JSON's size trigger data takes
	// once decoded.
	decodedFactor = 4
	// claimBatch bounds the runs one claim takes.
	claimBatch = 256
	// DefaultMaxMemoryWait is the longest wait (a retry's backoff, a
	// delay) a run spends in memory; longer ones go back to the queue.
	DefaultMaxMemoryWait = 30 * time.Second
	// DefaultRunningRecordAfter is how long an attempt with side effects
	// runs before its running record is written.
	DefaultRunningRecordAfter = time.Second
)

// Options configure an Engine.
type Options struct {
	Store    store.Store
	Registry *nodes.Registry
	Logger   *slog.Logger
	// MaxInFlight bounds the runs this engine executes at once, those
	// waiting on the network or in a short wait included.
	MaxInFlight int
	// InFlightMemory bounds, in bytes, the memory the runs in flight are
	// estimated to hold, mostly their trigger data: the engine takes on no
	// further run while it is used up.
	InFlightMemory int64
	// LeaseTTL is how long this engine's runs stay its own if it stops
	// renewing its registration (its process died); then they go back to
	// the queue.
	LeaseTTL time.Duration
	// PollInterval is how often the queue is checked for runs enqueued by
	// other processes. Runs enqueued through this engine start at once.
	PollInterval time.Duration
	// NodeTimeout bounds an attempt of a node without timeout_ms.
	NodeTimeout time.Duration
	// MaxMemoryWait is the longest wait a run spends in memory.
	MaxMemoryWait time.Duration
	// RunningRecordAfter is how long an attempt with side effects runs
	// before its running record is written; shorter ones write none.
	RunningRecordAfter time.Duration
	// Env is what expressions see as env: only allow-listed variables.
	Env map[string]string
	// Services are what action nodes reach the world through.
	Services *nodes.Services
	// Metrics counts runs and steps; nil counts nothing.
	Metrics *metrics.Metrics
	// Clock is the engine's time; nil is the system's.
	Clock Clock
	// Links make the resume URLs of wait.callback steps; nil makes links
	// with a key of this process only.
	Links *ResumeLinks
}

// Engine executes runs. Each run in flight has its own goroutine and holds
// nothing scarce while it waits (on the network, a commit, a short
// backoff): how many are in flight is bounded by memory, not by a pool of
// workers. Runs come from the ingress, which hands over a run it has just
// stored as this engine's (Reserve, Adopt), and from the queue, which the
// engine claims from fairly across flows.
type Engine struct {
	store              store.Store
	registry           *nodes.Registry
	log                *slog.Logger
	plans              *planCache
	clock              Clock
	maxInFlight        int
	memoryBudget       int64
	leaseTTL           time.Duration
	poll               time.Duration
	timeout            time.Duration
	maxMemoryWait      time.Duration
	runningRecordAfter time.Duration
	env                map[string]any
	services           *nodes.Services
	metrics            *metrics.Metrics
	links              *ResumeLinks
	// cpu admits pure steps a core's worth at a time: computing is bounded
	// by the cores, waiting is not.
	cpu chan struct{}

	wake chan struct{}
	// drain is closed, and draining set, when the engine stops: runs start
	// no further step, and once their steps under way end they go back to
	// the queue.
	drain    chan struct{}
	draining atomic.Bool
	// started is set by Start: an engine not started takes on no run.
	started atomic.Bool
	// backlog is set while claims find more queued runs than they take:
	// the ingress then queues new runs too, so they wait their turn.
	backlog atomic.Bool

	mu sync.Mutex
	// stopping is set, under mu, once Stop waits for the executions.
	stopping bool
	owner    string
	running  map[string]*execution
	inFlight int
	memory   int64
	waiters  map[string][]chan struct{}
	answers  map[string][]chan *Answer
	// abandoned are runs whose end could not be written: they are put back
	// in the queue once the store answers again.
	abandoned map[string]string // run id → owner

	stopDispatch context.CancelFunc
	stopKeeping  context.CancelFunc
	stopOnce     sync.Once
	dispatching  sync.WaitGroup
	keeping      sync.WaitGroup
	executions   sync.WaitGroup
}

// New returns an engine; Start sets it working.
func New(opts Options) *Engine {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	if opts.InFlightMemory <= 0 {
		opts.InFlightMemory = DefaultInFlightMemory
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
	if opts.MaxMemoryWait <= 0 {
		opts.MaxMemoryWait = DefaultMaxMemoryWait
	}
	if opts.RunningRecordAfter <= 0 {
		opts.RunningRecordAfter = DefaultRunningRecordAfter
	}
	if opts.Clock == nil {
		opts.Clock = systemClock{}
	}
	if opts.Links == nil {
		opts.Links = NewResumeLinks(nil)
	}
	env := make(map[string]any, len(opts.Env))
	for k, v := range opts.Env {
		env[k] = v
	}
	return &Engine{
		store:              opts.Store,
		registry:           opts.Registry,
		log:                opts.Logger,
		plans:              newPlanCache(opts.Store, opts.Registry, 1024),
		clock:              opts.Clock,
		maxInFlight:        opts.MaxInFlight,
		memoryBudget:       opts.InFlightMemory,
		leaseTTL:           opts.LeaseTTL,
		poll:               opts.PollInterval,
		timeout:            opts.NodeTimeout,
		maxMemoryWait:      opts.MaxMemoryWait,
		runningRecordAfter: opts.RunningRecordAfter,
		env:                env,
		services:           opts.Services,
		metrics:            opts.Metrics,
		links:              opts.Links,
		cpu:                make(chan struct{}, runtime.GOMAXPROCS(0)),
		wake:               make(chan struct{}, 1),
		drain:              make(chan struct{}),
		owner:              newOwner(),
		running:            map[string]*execution{},
		waiters:            map[string][]chan struct{}{},
		answers:            map[string][]chan *Answer{},
		abandoned:          map[string]string{},
	}
}

func newOwner() string { return "hookflow-" + rand.Text()[:12] }

// Plan returns the compiled plan of a flow version, from the engine's cache.
func (e *Engine) Plan(ctx context.Context, flowID string, version int) (*Plan, error) {
	return e.plans.get(ctx, flowID, version)
}

// Start registers the engine as a worker and begins claiming and executing
// runs, until Stop. Runs of workers that died are put back in the queue.
func (e *Engine) Start() error {
	if err := e.store.RegisterWorker(context.Background(), e.currentOwner(), e.clock.Now().Add(e.leaseTTL)); err != nil {
		return err
	}
	if _, err := e.store.ReclaimRuns(context.Background()); err != nil {
		e.log.Error("reclaim runs of dead workers", "error", err)
	}
	dispatchCtx, stopDispatch := context.WithCancel(context.Background())
	keepCtx, stopKeeping := context.WithCancel(context.Background())
	e.stopDispatch, e.stopKeeping = stopDispatch, stopKeeping
	e.dispatching.Go(func() { e.dispatch(dispatchCtx) })
	e.keeping.Go(func() { e.keepAlive(keepCtx) })
	e.started.Store(true)
	return nil
}

// Stop shuts the engine down in two phases: it stops claiming runs and lets
// the steps under way finish until ctx ends, starting no further step, and
// puts each run back in the queue once its steps are done (a run with no
// step left finishes); then it interrupts what is left, which goes back to
// the queue too. Whatever this worker still holds goes back to the queue at
// once, for the next start or another process to go on with.
func (e *Engine) Stop(ctx context.Context) {
	if e.stopDispatch == nil {
		return // never started
	}
	e.stopOnce.Do(func() { e.stop(ctx) })
}

func (e *Engine) stop(ctx context.Context) {
	e.Drain()
	e.stopDispatch()
	// Only once the dispatcher is gone can no claimed run start.
	e.dispatching.Wait()
	e.mu.Lock()
	e.stopping = true
	e.mu.Unlock()
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
	e.stopKeeping()
	e.keeping.Wait()
	retire, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if n, err := e.store.RetireWorker(retire, e.currentOwner()); err != nil {
		e.log.Error("retire worker", "error", err)
	} else if n > 0 {
		e.log.Info("runs put back in the queue", "runs", n)
	}
}

// Drain starts the stop without waiting for it: no further step starts,
// and the runs go back to the queue as their steps under way end. Stop
// drains too; a server calls Drain first, as soon as it is told to stop.
func (e *Engine) Drain() {
	if e.draining.CompareAndSwap(false, true) {
		close(e.drain)
	}
}

func (e *Engine) currentOwner() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.owner
}

// Nudge wakes the dispatcher: a run was queued (by a schedule, say) or a
// run in flight ended.
func (e *Engine) Nudge() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Reservation is room an engine keeps for a run it is about to take on at
// once: the run is stored as claimed by Owner, then handed over with Adopt,
// or the room given back with Cancel.
type Reservation struct {
	e      *Engine
	owner  string
	memory int64
	done   bool
}

// Owner is the worker the run is to be stored as claimed by.
func (r *Reservation) Owner() string {
	if r == nil {
		return ""
	}
	return r.owner
}

// Cancel gives the room back: the run was not stored, or not as this
// engine's. Cancel on nil, or after Adopt, does nothing.
func (r *Reservation) Cancel() {
	if r == nil || r.done {
		return
	}
	r.done = true
	r.e.release(r.memory)
}

// Reserve keeps room for a run of plan whose trigger data is about
// triggerBytes, for a caller about to store it (NewRun.Owner,
// NewDelivery.Owner) and hand it over with Adopt. It returns nil when the
// run must go through the queue: the engine is not started, full or
// stopping, runs
// already wait in the queue (they go first), or the flow limits its
// concurrency, which only claims count across processes.
func (e *Engine) Reserve(plan *Plan, triggerBytes int) *Reservation {
	if !e.started.Load() || e.draining.Load() || e.backlog.Load() || plan.Concurrency() > 0 {
		return nil
	}
	memory := int64(runMemory + triggerBytes*decodedFactor)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.inFlight >= e.maxInFlight || (e.inFlight > 0 && e.memory+memory > e.memoryBudget) {
		return nil
	}
	e.inFlight++
	e.memory += memory
	return &Reservation{e: e, owner: e.owner, memory: memory}
}

// Adopt starts executing a run stored as claimed by the reservation's
// owner. delivery, if not nil, is the webhook request it was stored with,
// so its trigger data need not be read back.
func (e *Engine) Adopt(r *Reservation, run *store.Run, delivery *store.Delivery) {
	r.done = true
	if !e.launch(run, r.owner, delivery, r.memory) {
		// Stopping: the run goes back to the queue at once.
		e.release(r.memory)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.store.ReleaseRun(ctx, store.Write{Owner: r.owner, RunID: run.ID}, e.clock.Now()); err != nil && !errors.Is(err, store.ErrLeaseLost) {
			e.log.Error("release a run taken while stopping", "run_id", run.ID, "error", err)
		}
	}
}

// launch starts a run this engine holds on its own goroutine; the run is
// already counted in flight with memory. It reports false, starting
// nothing, once the engine is stopping.
func (e *Engine) launch(run *store.Run, owner string, delivery *store.Delivery, memory int64) bool {
	x := newExecution(e, run, owner, delivery)
	x.memory.Store(memory)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopping {
		return false
	}
	e.running[run.ID] = x
	// Added under the lock Stop takes before it waits: no execution
	// starts once Stop waits for them.
	e.executions.Add(1)
	go func() {
		defer e.executions.Done()
		defer func() {
			e.mu.Lock()
			delete(e.running, run.ID)
			e.mu.Unlock()
			e.release(x.memory.Load())
			if x.plan != nil && x.plan.Concurrency() > 0 {
				// The flow has room for one more: its next queued run
				// need not wait for the poll.
				e.Nudge()
			}
		}()
		x.execute()
	}()
	return true
}

// charge counts more memory against a run in flight.
func (e *Engine) charge(x *execution, bytes int64) {
	x.memory.Add(bytes)
	e.mu.Lock()
	e.memory += bytes
	e.mu.Unlock()
}

// release gives back a run's room; with runs waiting in the queue, the
// dispatcher is woken to take more once there is room for a batch.
func (e *Engine) release(memory int64) {
	e.mu.Lock()
	e.inFlight--
	e.memory -= memory
	e.mu.Unlock()
	if e.backlog.Load() {
		e.Nudge()
	}
}

// InFlight reports the runs the engine holds now and the memory they are
// counted as holding.
func (e *Engine) InFlight() (runs int, memory int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.inFlight, e.memory
}

// room is how many more runs the engine may take on now.
func (e *Engine) room() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.inFlight > 0 && e.memory >= e.memoryBudget {
		return 0
	}
	return e.maxInFlight - e.inFlight
}

// Enqueue adds runs and starts them: at once on this engine when it has
// room, through the queue otherwise.
func (e *Engine) Enqueue(ctx context.Context, runs ...store.NewRun) ([]*store.Run, error) {
	reservations := make([]*Reservation, len(runs))
	for i := range runs {
		plan, err := e.plans.get(ctx, runs[i].FlowID, runs[i].FlowVersion)
		if err == nil {
			reservations[i] = e.Reserve(plan, len(runs[i].Trigger))
			runs[i].Owner = reservations[i].Owner()
		}
	}
	out, err := e.store.EnqueueRuns(ctx, runs)
	if err != nil {
		for _, r := range reservations {
			r.Cancel()
		}
		return nil, err
	}
	queued := false
	for i, run := range out {
		if reservations[i] != nil {
			e.Adopt(reservations[i], run, nil)
		} else {
			queued = true
		}
	}
	if queued {
		e.Nudge()
	}
	return out, nil
}

// ErrFlowDeleted refuses to replay a run whose flow was deleted.
var ErrFlowDeleted = errors.New("the run's flow was deleted")

// Replay enqueues a new run of a finished or running run's flow with the
// same trigger data. version 0 uses the flow's current version, so a flow
// fixed since can be replayed; any other picks that version.
func (e *Engine) Replay(ctx context.Context, id string, version int) (*store.Run, error) {
	original, err := e.store.GetRun(ctx, id)
	if err != nil {
		return nil, err
	}
	if original.FlowDeleted {
		return nil, fmt.Errorf("replay run %s: %w", id, ErrFlowDeleted)
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
	e.cancelChildren(ctx, id)
	return run, nil
}

// cancelChildren cancels the runs that a run's flow.call steps wait for,
// and theirs in turn.
func (e *Engine) cancelChildren(ctx context.Context, id string) {
	children, err := e.store.ListRuns(ctx, store.RunFilter{ParentRunID: id, Unfinished: true, Limit: 1000})
	if err != nil {
		e.log.Error("list the runs a canceled run called", "run_id", id, "error", err)
		return
	}
	for _, child := range children {
		if child.ParentNode == "" {
			continue // started without waiting: it goes on by itself
		}
		if _, err := e.Cancel(ctx, child.ID); err != nil && !errors.Is(err, store.ErrRunFinished) {
			e.log.Error("cancel a called run", "run_id", child.ID, "error", err)
		}
	}
}

// dispatch claims runs from the queue whenever there is room for a batch.
func (e *Engine) dispatch(ctx context.Context) {
	lowWater := min(claimBatch, max(1, e.maxInFlight/32))
	timer := time.NewTimer(e.poll)
	defer timer.Stop()
	for {
		if room := e.room(); room >= lowWater {
			want := min(room, claimBatch)
			runs, err := e.store.ClaimRuns(ctx, e.currentOwner(), want)
			if err != nil && ctx.Err() == nil {
				e.log.Error("claim runs", "error", err)
			}
			e.mu.Lock()
			e.inFlight += len(runs)
			e.memory += int64(len(runs)) * runMemory
			owner := e.owner
			e.mu.Unlock()
			for _, run := range runs {
				if !e.launch(run, owner, nil, runMemory) {
					e.release(runMemory) // stopping: RetireWorker requeues it
				}
			}
			e.backlog.Store(len(runs) == want)
			if len(runs) == want {
				continue // there may be more
			}
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

// wakeAt nudges the dispatcher when a run released until t comes due.
func (e *Engine) wakeAt(t time.Time) {
	time.AfterFunc(t.Sub(e.clock.Now())+time.Millisecond, e.Nudge)
}

// keepAlive renews the engine's registration, so its runs stay its own;
// stops the runs canceled through other processes; puts back in the queue
// the runs of dead workers; and retries the runs whose end could not be
// written.
func (e *Engine) keepAlive(ctx context.Context) {
	tick := min(time.Second, e.leaseTTL/3)
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	lastRenewal, lastReclaim := time.Now(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if time.Since(lastRenewal) >= e.leaseTTL/3 {
			lastRenewal = time.Now()
			e.renew(ctx)
		}
		if time.Since(lastReclaim) >= e.leaseTTL/2 {
			lastReclaim = time.Now()
			if n, err := e.store.ReclaimRuns(ctx); err != nil && ctx.Err() == nil {
				e.log.Error("reclaim runs of dead workers", "error", err)
			} else if n > 0 {
				e.log.Warn("runs of a worker that stopped went back to the queue", "runs", n)
				e.Nudge()
			}
		}
		ids, err := e.store.CancelRequested(ctx, e.currentOwner())
		if err != nil && ctx.Err() == nil {
			e.log.Error("look for canceled runs", "error", err)
		}
		e.mu.Lock()
		for _, id := range ids {
			if x := e.running[id]; x != nil {
				x.cancel(errCanceled)
			}
		}
		e.mu.Unlock()
		e.retryAbandoned(ctx)
	}
}

// renew extends the engine's registration. If it was given up for dead
// meanwhile (a long stall), its runs are in the queue again and may be
// someone else's: it stops them all and registers anew, under a new name,
// so that nothing it still writes lands.
func (e *Engine) renew(ctx context.Context) {
	owner := e.currentOwner()
	err := e.store.RenewWorker(ctx, owner, e.clock.Now().Add(e.leaseTTL))
	if err == nil || ctx.Err() != nil {
		return
	}
	if !errors.Is(err, store.ErrLeaseLost) {
		e.log.Error("renew worker", "error", err)
		return
	}
	e.log.Warn("this worker was given up for dead; its runs are being taken on again", "worker", owner)
	fresh := newOwner()
	if err := e.store.RegisterWorker(ctx, fresh, e.clock.Now().Add(e.leaseTTL)); err != nil {
		e.log.Error("register worker", "error", err)
		return
	}
	e.mu.Lock()
	e.owner = fresh
	for _, x := range e.running {
		if x.owner == owner {
			x.cancel(errLeaseLost)
		}
	}
	e.mu.Unlock()
	e.Nudge()
}

// abandon remembers a run whose end could not be written, to put it back
// in the queue later: its worker is alive, so it would not be reclaimed.
func (e *Engine) abandon(id, owner string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.abandoned[id] = owner
}

func (e *Engine) retryAbandoned(ctx context.Context) {
	e.mu.Lock()
	abandoned := make(map[string]string, len(e.abandoned))
	for id, owner := range e.abandoned {
		abandoned[id] = owner
	}
	e.mu.Unlock()
	for id, owner := range abandoned {
		err := e.store.ReleaseRun(ctx, store.Write{Owner: owner, RunID: id}, e.clock.Now())
		if err != nil && !errors.Is(err, store.ErrLeaseLost) {
			return // the store still fails; try again later
		}
		e.mu.Lock()
		delete(e.abandoned, id)
		e.mu.Unlock()
		e.Nudge()
	}
}

// String names the engine in logs.
func (e *Engine) String() string { return fmt.Sprintf("engine %s", e.currentOwner()) }
