package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

type signalRow struct {
	RunID     string `gorm:"primaryKey"`
	NodeID    string `gorm:"primaryKey"`
	Iteration string `gorm:"primaryKey"`
	Attempt   int    `gorm:"primaryKey"`
	Kind      string
	Payload   *string
	CreatedAt time.Time
}

func (signalRow) TableName() string { return "run_signals" }

func (r *signalRow) record() *Signal {
	return &Signal{RunID: r.RunID, NodeID: r.NodeID, Iteration: r.Iteration, Attempt: r.Attempt, Kind: r.Kind,
		Payload: bytesOf(r.Payload), CreatedAt: r.CreatedAt.UTC()}
}

// addSignal stores a signal unless its step has one already or its run has
// finished, and wakes the run: a queued run is due at once, and a running
// one will be once it goes back to the queue. It reports whether the
// signal was stored.
func addSignal(tx *gorm.DB, s *Signal) (bool, error) {
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now()
	}
	res := tx.Exec(`INSERT INTO run_signals (run_id, node_id, iteration, attempt, kind, payload, created_at)
		SELECT ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM runs WHERE id = ? AND status IN ('queued', 'running'))
		ON CONFLICT DO NOTHING`,
		s.RunID, s.NodeID, s.Iteration, s.Attempt, s.Kind, text(s.Payload), s.CreatedAt.UTC(), s.RunID)
	if res.Error != nil {
		return false, fmt.Errorf("signal run %s step %s: %w", s.RunID, s.NodeID, res.Error)
	}
	if res.RowsAffected == 0 {
		return false, nil
	}
	t := s.CreatedAt.UTC()
	err := tx.Exec(`UPDATE runs SET wake = TRUE,
		available_at = CASE WHEN status = 'queued' AND available_at > ? THEN ? ELSE available_at END WHERE id = ?`,
		t, t, s.RunID).Error
	if err != nil {
		return false, fmt.Errorf("wake run %s: %w", s.RunID, err)
	}
	return true, nil
}

// AddSignal implements Store.
func (db *DB) AddSignal(ctx context.Context, s Signal) (*Signal, bool, error) {
	var (
		held  *Signal
		added bool
	)
	err := db.commits.write(ctx, func(tx *gorm.DB) error {
		held, added = nil, false
		var status string
		err := tx.Raw(`SELECT status FROM runs WHERE id = ?`, s.RunID).Row().Scan(&status)
		if err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		if status != RunQueued && status != RunRunning {
			return ErrRunFinished
		}
		if added, err = addSignal(tx, &s); err != nil || added {
			held = &s
			return err
		}
		var row signalRow
		if err := tx.Where("run_id = ? AND node_id = ? AND iteration = ? AND attempt = ?", s.RunID, s.NodeID, s.Iteration, s.Attempt).
			Take(&row).Error; err != nil {
			return err
		}
		held = row.record()
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("signal run %s: %w", s.RunID, err)
	}
	return held, added, nil
}

// GetSignal implements Store.
func (db *DB) GetSignal(ctx context.Context, runID, nodeID, iteration string, attempt int) (*Signal, error) {
	var row signalRow
	err := db.read.WithContext(ctx).Where("run_id = ? AND node_id = ? AND iteration = ? AND attempt = ?", runID, nodeID, iteration, attempt).
		Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("signal of run %s step %s: %w", runID, nodeID, err)
	}
	return row.record(), nil
}
