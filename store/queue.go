package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// QueueStats implements Store. Both queries walk the runs_queue index
// (status, available_at), the one that claims use; they read, so they never
// wait for the committer.
func (db *DB) QueueStats(ctx context.Context) (depth int, oldest time.Time, err error) {
	t := now()
	// A fresh statement each time: gorm's Count leaves its own on the one
	// it runs.
	due := func() *gorm.DB {
		return db.read.WithContext(ctx).Model(&runRow{}).Where("status = ? AND available_at <= ?", RunQueued, t)
	}
	var n int64
	if err := due().Count(&n).Error; err != nil {
		return 0, time.Time{}, fmt.Errorf("count queued runs: %w", err)
	}
	if n == 0 {
		return 0, time.Time{}, nil
	}
	var first runRow
	err = due().Select("available_at").Order("available_at").Take(&first).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		// Claimed between the two queries.
		return int(n), time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("oldest queued run: %w", err)
	}
	return int(n), first.AvailableAt.UTC(), nil
}
