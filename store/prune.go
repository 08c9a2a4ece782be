package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"
)

// PrunePolicy says which records Prune removes. Queued and running runs are
// never removed, nor a delivery whose run is still kept.
type PrunePolicy struct {
	// Before removes finished runs created, and deliveries received,
	// before it; zero removes nothing by age.
	Before time.Time
	// KeepPerFlow keeps only each flow's newest finished runs, and newest
	// deliveries, this many of each; zero keeps any number.
	KeepPerFlow int
	// Batch bounds the rows one statement removes, so pruning never holds
	// locks long; zero means 500.
	Batch int
}

// Pruned counts what one Prune call removed.
type Pruned struct {
	Runs       int
	Deliveries int
	// More is set when a kind of record removed a whole batch: there may
	// be more to remove.
	More bool
}

// finishedRun is the condition on runs Prune may remove.
const finishedRun = `status IN ('succeeded', 'failed', 'canceled')`

// unreferencedDelivery is the condition on deliveries Prune may remove: no
// run that is kept reads its body.
const unreferencedDelivery = `(run_id IS NULL OR NOT EXISTS (SELECT 1 FROM runs WHERE runs.id = deliveries.run_id))`

// Prune removes one batch of old records of each kind: runs (with their
// steps), then deliveries, cron firings, deleted flows of which nothing is
// left, and expired dedupe keys and sessions. Callers repeat it while More
// is set. The audit log is not touched: its retention is PruneAudit's.
func (db *DB) Prune(ctx context.Context, p PrunePolicy) (Pruned, error) {
	if p.Batch <= 0 {
		p.Batch = 500
	}
	var out Pruned
	count := func(n int64, into *int) {
		*into += int(n)
		if n >= int64(p.Batch) {
			out.More = true
		}
	}
	if !p.Before.IsZero() {
		// Ids are UUIDv7, ordered by creation time: the primary key finds
		// the old ones.
		floor := uuidV7Floor(p.Before)
		n, err := db.pruneBatch(ctx, "runs", "id", `id < ? AND `+finishedRun, p.Batch, floor)
		if err != nil {
			return out, err
		}
		count(n, &out.Runs)
		if n, err = db.pruneBatch(ctx, "deliveries", "id", `id < ? AND `+unreferencedDelivery, p.Batch, floor); err != nil {
			return out, err
		}
		count(n, &out.Deliveries)
		if n, err = db.pruneBatch(ctx, "cron_firings", "run_id", `scheduled_at < ?`, p.Batch, p.Before.UTC()); err != nil {
			return out, err
		}
		out.More = out.More || n >= int64(p.Batch)
	}
	if p.KeepPerFlow > 0 {
		runs, deliveries, more, err := db.prunePerFlow(ctx, p)
		if err != nil {
			return out, err
		}
		out.Runs += runs
		out.Deliveries += deliveries
		out.More = out.More || more
	}
	// A deleted flow goes, with its versions, once nothing of it is kept.
	n, err := db.pruneBatch(ctx, "flows", "id", `deleted_at IS NOT NULL
		AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.flow_id = flows.id)
		AND NOT EXISTS (SELECT 1 FROM deliveries WHERE deliveries.flow_id = flows.id)`, p.Batch)
	if err != nil {
		return out, err
	}
	out.More = out.More || n >= int64(p.Batch)
	t := now()
	n, err = db.pruneBatch(ctx, "dedupe_keys", "hash", `expires_at < ?`, p.Batch, t)
	if err != nil {
		return out, err
	}
	out.More = out.More || n >= int64(p.Batch)
	if _, err := db.pruneBatch(ctx, "sessions", "id_hash", `expires_at < ?`, p.Batch, t); err != nil {
		return out, err
	}
	return out, nil
}

// ReclaimSpace implements Store. On SQLite it gives the pages that pruning
// freed back to the file system (incremental auto-vacuum, migration 8), a
// thousand pages per write so the writer is never held long, then
// checkpoints the WAL without waiting for readers: the file is cut to its
// new size then. Postgres's autovacuum reuses freed space by itself.
func (db *DB) ReclaimSpace(ctx context.Context) error {
	if db.dialect != DialectSQLite {
		return nil
	}
	const pages = 1024
	for {
		freed := 0
		err := db.commits.write(ctx, func(tx *gorm.DB) error {
			// The pragma frees one page per row it steps through.
			rows, err := tx.Raw(`PRAGMA incremental_vacuum(` + strconv.Itoa(pages) + `)`).Rows()
			if err != nil {
				return err
			}
			defer rows.Close()
			for freed = 0; rows.Next(); freed++ {
			}
			return rows.Err()
		})
		if err != nil {
			return fmt.Errorf("reclaim freed space: %w", err)
		}
		if freed < pages {
			break
		}
	}
	if err := db.write.WithContext(ctx).Exec(`PRAGMA wal_checkpoint(PASSIVE)`).Error; err != nil {
		return fmt.Errorf("checkpoint after pruning: %w", err)
	}
	return nil
}

// prunePerFlow removes, for each flow, a batch of the finished runs and the
// deliveries beyond its newest KeepPerFlow.
func (db *DB) prunePerFlow(ctx context.Context, p PrunePolicy) (runs, deliveries int, more bool, err error) {
	var flowIDs []string
	if err := db.read.WithContext(ctx).Raw(`SELECT id FROM flows`).Scan(&flowIDs).Error; err != nil {
		return 0, 0, false, fmt.Errorf("prune: list flows: %w", err)
	}
	for _, flowID := range flowIDs {
		for _, kind := range []struct {
			table, cond string
			into        *int
		}{
			{"runs", finishedRun, &runs},
			{"deliveries", unreferencedDelivery, &deliveries},
		} {
			// The id of the oldest record kept: the KeepPerFlow-th newest.
			var oldestKept []string
			err := db.read.WithContext(ctx).Raw(`SELECT id FROM `+kind.table+` WHERE flow_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?`,
				flowID, p.KeepPerFlow-1).Scan(&oldestKept).Error
			if err != nil {
				return runs, deliveries, more, fmt.Errorf("prune %s of flow %s: %w", kind.table, flowID, err)
			}
			if len(oldestKept) == 0 {
				continue // no more than KeepPerFlow
			}
			n, err := db.pruneBatch(ctx, kind.table, "id", `flow_id = ? AND id < ? AND `+kind.cond, p.Batch, flowID, oldestKept[0])
			if err != nil {
				return runs, deliveries, more, err
			}
			*kind.into += int(n)
			more = more || n >= int64(p.Batch)
		}
	}
	return runs, deliveries, more, nil
}

// pruneBatch deletes up to limit rows of table matching cond, in one short
// write, and returns how many it deleted.
func (db *DB) pruneBatch(ctx context.Context, table, key, cond string, limit int, args ...any) (int64, error) {
	var deleted int64
	err := db.commits.write(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`DELETE FROM `+table+` WHERE `+key+` IN (SELECT `+key+` FROM `+table+` WHERE `+cond+` LIMIT ?)`,
			append(args, limit)...)
		deleted = res.RowsAffected
		return res.Error
	})
	if err != nil {
		return 0, fmt.Errorf("prune %s: %w", table, err)
	}
	return deleted, nil
}
