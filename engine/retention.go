package engine

import (
	"context"
	"log/slog"
	"time"

	"github.com/hookflow/hookflow/store"
)

// Retention says how long runs and deliveries are kept.
type Retention struct {
	// MaxAge removes finished runs, and deliveries, older than it; zero
	// keeps them by age.
	MaxAge time.Duration
	// RunsPerFlow keeps each flow's newest finished runs (and deliveries),
	// this many; zero keeps any number.
	RunsPerFlow int
	// AuditMaxAge removes audit events older than it; zero keeps them
	// for ever. The audit log has its own retention: it is kept longer
	// than runs, as a record of who did what.
	AuditMaxAge time.Duration
	// Interval is the pause between pruning passes; zero means a minute.
	Interval time.Duration
	// Batch bounds the rows one delete removes; zero means 500.
	Batch int
}

// pruneBreather is the pause between two batches of one pass, which leaves
// the database to the webhooks and runs in between.
const pruneBreather = 20 * time.Millisecond

// Pruner removes old runs (with their steps) and deliveries in the
// background, a small batch at a time. Among processes sharing a database
// only the one leading "pruner" prunes.
type Pruner struct {
	store     store.Store
	log       *slog.Logger
	retention Retention

	stop context.CancelFunc
	done chan struct{}
}

// NewPruner returns a pruner; Start sets it working. It prunes nothing
// when the retention keeps everything.
func NewPruner(st store.Store, log *slog.Logger, r Retention) *Pruner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if r.Interval <= 0 {
		r.Interval = time.Minute
	}
	return &Pruner{store: st, log: log, retention: r}
}

// Start seeks the leadership and prunes while this process leads.
func (p *Pruner) Start() {
	ctx, stop := context.WithCancel(context.Background())
	p.stop, p.done = stop, make(chan struct{})
	if p.retention.MaxAge <= 0 && p.retention.RunsPerFlow <= 0 && p.retention.AuditMaxAge <= 0 {
		close(p.done)
		return
	}
	go func() {
		defer close(p.done)
		for ctx.Err() == nil {
			lead, release, err := p.store.Lead(ctx, "pruner")
			if err != nil {
				return
			}
			p.prune(lead)
			release()
		}
	}()
}

// Stop ends pruning; a batch under way finishes.
func (p *Pruner) Stop() {
	if p.stop == nil {
		return
	}
	p.stop()
	<-p.done
}

// prune runs a pass every interval until the leadership ends.
func (p *Pruner) prune(lead context.Context) {
	for {
		p.pass(lead)
		select {
		case <-lead.Done():
			return
		case <-time.After(p.retention.Interval):
		}
	}
}

// pass prunes until nothing is left to prune, or ctx ends, and logs what it
// removed.
func (p *Pruner) pass(ctx context.Context) {
	p.pruneAudit(ctx)
	if p.retention.MaxAge <= 0 && p.retention.RunsPerFlow <= 0 {
		return
	}
	var total store.Pruned
	for ctx.Err() == nil {
		policy := store.PrunePolicy{KeepPerFlow: p.retention.RunsPerFlow, Batch: p.retention.Batch}
		if p.retention.MaxAge > 0 {
			policy.Before = time.Now().Add(-p.retention.MaxAge)
		}
		got, err := p.store.Prune(ctx, policy)
		total.Runs += got.Runs
		total.Deliveries += got.Deliveries
		if err != nil {
			if ctx.Err() == nil {
				p.log.Error("prune old runs", "error", err)
			}
			break
		}
		if !got.More {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(pruneBreather):
		}
	}
	if total.Runs > 0 || total.Deliveries > 0 {
		p.log.Info("pruned old records", "runs", total.Runs, "deliveries", total.Deliveries)
		// Once per pass, not per batch: the database file shrinks.
		if err := p.store.ReclaimSpace(ctx); err != nil && ctx.Err() == nil {
			p.log.Error("reclaim the space pruning freed", "error", err)
		}
	}
}

// pruneAudit removes audit events past their retention, a batch at a time.
func (p *Pruner) pruneAudit(ctx context.Context) {
	if p.retention.AuditMaxAge <= 0 {
		return
	}
	batch := p.retention.Batch
	if batch <= 0 {
		batch = 500
	}
	before, total := time.Now().Add(-p.retention.AuditMaxAge), 0
	for ctx.Err() == nil {
		n, err := p.store.PruneAudit(ctx, before, batch)
		total += n
		if err != nil {
			if ctx.Err() == nil {
				p.log.Error("prune old audit events", "error", err)
			}
			break
		}
		if n < batch {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(pruneBreather):
		}
	}
	if total > 0 {
		p.log.Info("pruned old audit events", "events", total)
	}
}
