package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// FireSchedule enqueues the run of one cron firing, due at scheduledAt, if
// the flow is still active at that version and the firing is new: in the
// same transaction it records the firing, so processes that both fire a
// tick (while leadership changes hands) enqueue one run. It returns nil
// when the firing was not enqueued.
func (db *DB) FireSchedule(ctx context.Context, r NewRun, scheduledAt time.Time) (*Run, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("fire schedule: %w", err)
	}
	t := now()
	row := runRow{
		ID: id.String(), FlowID: r.FlowID, FlowVersion: r.FlowVersion, Status: RunQueued, TriggerType: r.TriggerType,
		TriggerData: string(r.Trigger), CreatedAt: t, AvailableAt: t,
	}
	var fired bool
	err = db.commits.write(ctx, func(tx *gorm.DB) error {
		// Set afresh: a batch that fails is retried op by op.
		fired = false
		res := tx.Exec(`INSERT INTO cron_firings (flow_id, scheduled_at, run_id)
			SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM flows WHERE id = ? AND active AND version = ?)
			ON CONFLICT DO NOTHING`, r.FlowID, scheduledAt.UTC(), row.ID, r.FlowID, r.FlowVersion)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return nil
		}
		fired = true
		return tx.Create(&row).Error
	})
	if err != nil {
		return nil, fmt.Errorf("fire schedule of flow %s at %s: %w", r.FlowID, scheduledAt.Format(time.RFC3339), err)
	}
	if !fired {
		return nil, nil
	}
	return row.record(), nil
}
