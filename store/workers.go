package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// RegisterWorker implements Store.
func (db *DB) RegisterWorker(ctx context.Context, id string, expires time.Time) error {
	err := db.commits.write(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO workers (id, started_at, expires_at) VALUES (?, ?, ?)`, id, now(), expires.UTC()).Error
	})
	if err != nil {
		return fmt.Errorf("register worker %s: %w", id, err)
	}
	return nil
}

// RenewWorker implements Store.
func (db *DB) RenewWorker(ctx context.Context, id string, expires time.Time) error {
	err := db.commits.write(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE workers SET expires_at = ? WHERE id = ?`, expires.UTC(), id)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrLeaseLost
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("renew worker %s: %w", id, err)
	}
	return nil
}

// orphaned is the condition on running runs whose worker is gone: expired,
// or never known (a run a stopped worker stored after it retired, or one
// left by a version that leased runs one by one).
const orphaned = `status = 'running' AND NOT EXISTS
	(SELECT 1 FROM workers WHERE workers.id = runs.lease_owner AND workers.expires_at >= ?)`

// ReclaimRuns implements Store. It first looks, on a reader, for anything
// to do: most calls find nothing and cost the writer nothing.
func (db *DB) ReclaimRuns(ctx context.Context) (int, error) {
	t := now()
	var found []int
	err := db.read.WithContext(ctx).Raw(`SELECT 1 FROM workers WHERE expires_at < ? UNION ALL
		SELECT 1 FROM (SELECT 1 FROM runs WHERE `+orphaned+` LIMIT 1) AS o LIMIT 1`, t, t).Scan(&found).Error
	if err != nil {
		return 0, fmt.Errorf("look for dead workers: %w", err)
	}
	if len(found) == 0 {
		return 0, nil
	}
	var reclaimed int
	err = db.commits.write(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec(`DELETE FROM workers WHERE expires_at < ?`, t).Error; err != nil {
			return err
		}
		res := tx.Exec(`UPDATE runs SET status = 'queued', lease_owner = NULL, available_at = ? WHERE `+orphaned, t, t)
		reclaimed = int(res.RowsAffected)
		return res.Error
	})
	if err != nil {
		return 0, fmt.Errorf("reclaim runs of dead workers: %w", err)
	}
	return reclaimed, nil
}

// RetireWorker implements Store.
func (db *DB) RetireWorker(ctx context.Context, id string) (int, error) {
	var requeued int
	err := db.commits.write(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE runs SET status = 'queued', lease_owner = NULL, available_at = ?
			WHERE status = 'running' AND lease_owner = ?`, now(), id)
		if res.Error != nil {
			return res.Error
		}
		requeued = int(res.RowsAffected)
		return tx.Exec(`DELETE FROM workers WHERE id = ?`, id).Error
	})
	if err != nil {
		return 0, fmt.Errorf("retire worker %s: %w", id, err)
	}
	return requeued, nil
}

// CancelRequested implements Store.
func (db *DB) CancelRequested(ctx context.Context, owner string) ([]string, error) {
	var ids []string
	err := db.read.WithContext(ctx).Raw(`SELECT id FROM runs WHERE lease_owner = ? AND cancel_requested AND status = 'running'`, owner).
		Scan(&ids).Error
	if err != nil {
		return nil, fmt.Errorf("runs to cancel: %w", err)
	}
	return ids, nil
}
