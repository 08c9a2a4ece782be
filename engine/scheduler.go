package engine

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
)

// followInterval is how often the scheduler checks whether any flow changed
// through another instance: activations made anywhere take effect within
// about this long.
const followInterval = time.Second

// leaderName names the scheduler's leadership among processes sharing a
// database.
const leaderName = "scheduler"

// Scheduler fires the cron triggers of active flows: each firing enqueues a
// run whose trigger data holds scheduled_at. Among processes sharing a
// database one leads and fires (a Postgres advisory lock elects it); each
// tick is recorded as it fires, so even two leaders for a moment fire it
// once. Firings missed while no process led are not made up.
type Scheduler struct {
	store  store.Store
	engine *Engine
	log    *slog.Logger
	cron   *cron.Cron

	mu      sync.Mutex
	leading bool
	entries map[string]scheduled // by flow id
	stop    context.CancelFunc
	done    chan struct{}
}

type scheduled struct {
	entry   cron.EntryID
	version int
}

// NewScheduler returns a scheduler; Start sets it firing.
func NewScheduler(st store.Store, e *Engine, log *slog.Logger) *Scheduler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{
		store: st, engine: e, log: log, entries: map[string]scheduled{},
		cron: cron.New(cron.WithLocation(time.UTC)),
	}
}

// Start seeks the leadership, and while this process leads schedules every
// active flow with a cron trigger and follows their changes. It returns at
// once.
func (s *Scheduler) Start() {
	loopCtx, stop := context.WithCancel(context.Background())
	s.stop, s.done = stop, make(chan struct{})
	go func() {
		defer close(s.done)
		for loopCtx.Err() == nil {
			lead, release, err := s.store.Lead(loopCtx, leaderName)
			if err != nil {
				return // stopped while waiting
			}
			s.log.Info("leading the cluster's cron schedule")
			s.lead(lead)
			release()
			if loopCtx.Err() == nil {
				s.log.Warn("no longer leading the cron schedule; another instance may take over", "cause", context.Cause(lead))
			}
		}
	}()
}

// lead fires schedules until the leadership ends.
func (s *Scheduler) lead(lead context.Context) {
	s.mu.Lock()
	s.leading = true
	s.mu.Unlock()
	s.cron.Start()
	fingerprint := ""
	ticker := time.NewTicker(followInterval)
	defer ticker.Stop()
	for {
		// Another instance changed a flow: read them all again.
		if fp, err := s.store.FlowsFingerprint(lead); err != nil {
			if lead.Err() == nil {
				s.log.Error("check flows for changes", "error", err)
			}
		} else if fp != fingerprint {
			s.syncAll(lead)
			fingerprint = fp
		}
		select {
		case <-lead.Done():
			s.mu.Lock()
			s.leading = false
			ids := make([]string, 0, len(s.entries))
			for id := range s.entries {
				ids = append(ids, id)
			}
			s.mu.Unlock()
			for _, id := range ids {
				s.unschedule(id)
			}
			// Firings under way finish; none starts after this.
			<-s.cron.Stop().Done()
			return
		case <-ticker.C:
		}
	}
}

// Stop stops firing, waits for firings under way to enqueue their runs, and
// gives up the leadership.
func (s *Scheduler) Stop() {
	if s.stop == nil {
		return
	}
	s.stop()
	<-s.done
}

// Sync follows one flow's change: it was saved, activated, deactivated or
// deleted.
func (s *Scheduler) Sync(flowID string) {
	s.mu.Lock()
	leading := s.leading
	s.mu.Unlock()
	if !leading {
		return // the leader follows the change
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := s.store.GetFlow(ctx, flowID)
	if err != nil {
		s.unschedule(flowID)
		return
	}
	s.sync(ctx, f)
}

func (s *Scheduler) syncAll(ctx context.Context) {
	flows, err := s.store.ListFlows(ctx)
	if err != nil {
		s.log.ErrorContext(ctx, "read flows for the schedule", "error", err)
		return
	}
	seen := make(map[string]bool, len(flows))
	for _, f := range flows {
		seen[f.ID] = true
		s.sync(ctx, f)
	}
	s.mu.Lock()
	var gone []string
	for id := range s.entries {
		if !seen[id] {
			gone = append(gone, id)
		}
	}
	s.mu.Unlock()
	for _, id := range gone {
		s.unschedule(id)
	}
}

// sync schedules a flow if it is active with a cron trigger, and no longer
// schedules it otherwise.
func (s *Scheduler) sync(ctx context.Context, f *store.Flow) {
	if !f.Active {
		s.unschedule(f.ID)
		return
	}
	s.mu.Lock()
	current, ok := s.entries[f.ID]
	leading := s.leading
	s.mu.Unlock()
	if !leading || (ok && current.version == f.Version) {
		return
	}
	plan, err := s.engine.Plan(ctx, f.ID, f.Version)
	if err != nil {
		s.log.ErrorContext(ctx, "compile flow for the schedule", "flow_id", f.ID, "error", err)
		s.unschedule(f.ID)
		return
	}
	trigger, isCron := plan.Trigger.Node.(*nodes.CronTrigger)
	if !isCron {
		s.unschedule(f.ID)
		return
	}
	flowID, version := f.ID, f.Version
	// The job learns its own entry id once Schedule returns.
	var entry atomic.Int64
	id := s.cron.Schedule(trigger.Schedule, cron.FuncJob(func() { s.fire(flowID, version, cron.EntryID(entry.Load())) }))
	entry.Store(int64(id))
	s.mu.Lock()
	previous, had := s.entries[flowID]
	s.entries[flowID] = scheduled{entry: id, version: version}
	s.mu.Unlock()
	if had {
		s.cron.Remove(previous.entry)
	}
	s.log.InfoContext(ctx, "scheduled", "flow_id", flowID, "version", version, "next", s.cron.Entry(id).Next)
}

func (s *Scheduler) unschedule(flowID string) {
	s.mu.Lock()
	current, ok := s.entries[flowID]
	delete(s.entries, flowID)
	s.mu.Unlock()
	if ok {
		s.cron.Remove(current.entry)
	}
}

// fire enqueues a run for a firing that was due at the entry's Prev: the
// same time on every instance, which is what makes the tick fire once.
func (s *Scheduler) fire(flowID string, version int, id cron.EntryID) {
	due := time.Now().Truncate(time.Second)
	if id != 0 {
		if prev := s.cron.Entry(id).Prev; !prev.IsZero() {
			due = prev
		}
	}
	trigger, _ := json.Marshal(map[string]any{
		"scheduled_at": due.UTC().Format(time.RFC3339Nano),
		"fired_at":     time.Now().UTC().Format(time.RFC3339Nano),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run, err := s.store.FireSchedule(ctx, store.NewRun{FlowID: flowID, FlowVersion: version, TriggerType: store.TriggerCron, Trigger: trigger}, due)
	switch {
	case err != nil:
		s.log.Error("enqueue a scheduled run", "flow_id", flowID, "error", err)
	case run == nil:
		// Fired already (by an instance that led a moment ago), or the
		// flow changed meanwhile: follow it.
		s.Sync(flowID)
	default:
		s.engine.Nudge()
	}
}
