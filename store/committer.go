package store

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"gorm.io/gorm"
)

// maxBatch bounds how many writes share one transaction.
const maxBatch = 256

// ErrClosed is returned for writes submitted after Close.
var ErrClosed = errors.New("store is closed")

// writeOp is one caller's part of a batch. apply may run more than once: if
// the batch fails, each op is retried alone to find the one at fault, so apply
// must only issue SQL and set its results afresh.
type writeOp struct {
	apply func(tx *gorm.DB) error
	// kind, when set, makes the op one of many of its kind written by a
	// single call of kind.apply with all of them, as multi-row statements:
	// per-statement costs are paid once per batch.
	kind    *opKind
	payload any
	done    chan error
}

// opKind is a kind of write that batches.
type opKind struct {
	apply func(tx *gorm.DB, payloads []any) error
}

// committer group-commits: concurrent writes wait in a queue while the
// previous transaction commits, then all go into the next one, so many
// writes share one fsync. There is no batching window: an idle store
// commits a lone write at once.
type committer struct {
	db   *gorm.DB
	ops  chan *writeOp
	stop chan struct{}
	wg   sync.WaitGroup
	// observe, if set, is told the size of each committed transaction
	// (Options.OnCommitBatch).
	observe func(size int)

	mu     sync.RWMutex
	closed bool
}

func newCommitter(db *gorm.DB, workers int, observe func(size int)) *committer {
	c := &committer{db: db, ops: make(chan *writeOp, 4*maxBatch), stop: make(chan struct{}), observe: observe}
	for range workers {
		c.wg.Go(c.loop)
	}
	return c
}

// write runs apply in the next batch and waits for that batch to commit.
func (c *committer) write(ctx context.Context, apply func(tx *gorm.DB) error) error {
	select {
	case err := <-c.writeAsync(apply):
		return err
	case <-ctx.Done():
		// The write may still commit; the caller only stops waiting.
		return context.Cause(ctx)
	}
}

// writeAsync queues apply and returns the channel its outcome arrives on.
func (c *committer) writeAsync(apply func(tx *gorm.DB) error) <-chan error {
	return c.submit(&writeOp{apply: apply, done: make(chan error, 1)})
}

// writeBatched writes payload with the others of its kind in the next
// batch and waits for that batch to commit.
func (c *committer) writeBatched(ctx context.Context, kind *opKind, payload any) error {
	select {
	case err := <-c.submit(&writeOp{kind: kind, payload: payload, done: make(chan error, 1)}):
		return err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (c *committer) submit(op *writeOp) <-chan error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		op.done <- ErrClosed
		return op.done
	}
	c.ops <- op
	return op.done
}

func (c *committer) loop() {
	batch := make([]*writeOp, 0, maxBatch)
	for {
		var first *writeOp
		select {
		case first = <-c.ops:
		case <-c.stop:
			// Drain what was queued before Close.
			select {
			case first = <-c.ops:
			default:
				return
			}
		}
		batch = append(batch[:0], first)
	gather:
		for len(batch) < maxBatch {
			select {
			case op := <-c.ops:
				batch = append(batch, op)
			default:
				break gather
			}
		}
		c.commit(batch)
	}
}

// commit runs a batch in one transaction. If it fails, each op is retried in
// a transaction of its own, so one bad write fails alone.
func (c *committer) commit(batch []*writeOp) {
	err := c.db.Transaction(func(tx *gorm.DB) error {
		var kinds []*opKind
		payloads := map[*opKind][]any{}
		for _, op := range batch {
			if op.kind != nil {
				if payloads[op.kind] == nil {
					kinds = append(kinds, op.kind)
				}
				payloads[op.kind] = append(payloads[op.kind], op.payload)
				continue
			}
			if err := op.apply(tx); err != nil {
				return err
			}
		}
		for _, kind := range kinds {
			if err := kind.apply(tx, payloads[kind]); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		c.observed(len(batch))
		for _, op := range batch {
			op.done <- op.outcome()
		}
		return
	}
	if len(batch) == 1 {
		batch[0].done <- fmt.Errorf("write: %w", err)
		return
	}
	// Retried alone below, a batched op's results are set afresh.
	for _, op := range batch {
		err := c.db.Transaction(op.applyAlone)
		if err == nil {
			c.observed(1)
			err = op.outcome()
		}
		op.done <- err
	}
}

// observed reports a committed transaction of size writes.
func (c *committer) observed(size int) {
	if c.observe != nil {
		c.observe(size)
	}
}

// outcomer is a batched payload whose write may succeed with the batch yet
// be refused on its own (a run whose owner lost it).
type outcomer interface{ outcome() error }

// outcome is what the op's caller hears once its batch committed.
func (op *writeOp) outcome() error {
	if o, ok := op.payload.(outcomer); ok {
		return o.outcome()
	}
	return nil
}

// applyAlone writes one op by itself.
func (op *writeOp) applyAlone(tx *gorm.DB) error {
	if op.kind != nil {
		return op.kind.apply(tx, []any{op.payload})
	}
	return op.apply(tx)
}

// close stops taking writes, commits those already queued and waits.
func (c *committer) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	close(c.stop)
	c.wg.Wait()
}
