package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// Delivery statuses.
const (
	DeliveryAccepted  = "accepted"
	DeliveryRejected  = "rejected"
	DeliveryDuplicate = "duplicate"
	DeliveryCaptured  = "captured"
)

// Delivery is one request to a trigger.
type Delivery struct {
	ID          string
	FlowID      string
	Status      string
	Reason      string
	HTTPStatus  int
	Method      string
	Path        string
	Query       string
	Headers     []byte
	ContentType string
	Body        []byte
	BodySize    int
	DedupeKey   string
	RunID       string
	ReceivedAt  time.Time
}

// NewDelivery is a delivery to record. An accepted one also enqueues a run
// of FlowVersion, unless DedupeKey was seen within its window: then it is
// recorded as a duplicate of the first.
type NewDelivery struct {
	Delivery
	FlowVersion int
	// DedupeUntil is when DedupeKey may be accepted again.
	DedupeUntil time.Time
}

// DeliveryResult says what became of a recorded delivery.
type DeliveryResult struct {
	DeliveryID string
	// RunID is the run it started, or for a duplicate the first run.
	RunID     string
	Duplicate bool
}

// DeliveryFilter selects deliveries, newest first.
type DeliveryFilter struct {
	FlowID string
	Status string
	// Since keeps deliveries received at or after it.
	Since  time.Time
	Before string
	Limit  int
}

type deliveryRow struct {
	ID          string `gorm:"primaryKey"`
	FlowID      string
	Status      string
	Reason      string
	HTTPStatus  int
	Method      string
	Path        string
	Query       string
	Headers     string
	ContentType string
	Body        []byte
	BodySize    int
	DedupeKey   *string
	RunID       *string
	ReceivedAt  time.Time
}

func (deliveryRow) TableName() string { return "deliveries" }

func (r *deliveryRow) record() *Delivery {
	return &Delivery{
		ID: r.ID, FlowID: r.FlowID, Status: r.Status, Reason: r.Reason, HTTPStatus: r.HTTPStatus,
		Method: r.Method, Path: r.Path, Query: r.Query, Headers: []byte(r.Headers), ContentType: r.ContentType,
		Body: r.Body, BodySize: r.BodySize, DedupeKey: deref(r.DedupeKey), RunID: deref(r.RunID), ReceivedAt: r.ReceivedAt.UTC(),
	}
}

// RecordDelivery implements Store. It is group-committed and returns once
// the delivery, and its run, are durable.
func (db *DB) RecordDelivery(ctx context.Context, d *NewDelivery) (*DeliveryResult, error) {
	deliveryID, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("record delivery: %w", err)
	}
	runID, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("record delivery: %w", err)
	}
	received := d.ReceivedAt.UTC()
	if received.IsZero() {
		received = now()
	}
	var result DeliveryResult
	err = db.commits.write(ctx, func(tx *gorm.DB) error {
		result = DeliveryResult{DeliveryID: deliveryID.String()}
		status, runRef := d.Status, nonEmpty(d.RunID)
		if status == DeliveryAccepted {
			first, err := claimDedupeKey(tx, d, runID.String(), received)
			if err != nil {
				return err
			}
			if first != "" {
				status, runRef = DeliveryDuplicate, &first
				result.Duplicate, result.RunID = true, first
			} else {
				result.RunID = runID.String()
				runRef = &result.RunID
				if err := tx.Exec(`INSERT INTO runs (id, flow_id, flow_version, status, trigger_type, trigger_data, delivery_id,
					created_at, available_at) VALUES (?, ?, ?, 'queued', ?, '', ?, ?, ?)`,
					result.RunID, d.FlowID, d.FlowVersion, TriggerWebhook, result.DeliveryID, received, received).Error; err != nil {
					return err
				}
			}
		}
		return tx.Exec(`INSERT INTO deliveries (id, flow_id, status, reason, http_status, method, path, query, headers,
			content_type, body, body_size, dedupe_key, run_id, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			result.DeliveryID, d.FlowID, status, d.Reason, d.HTTPStatus, d.Method, d.Path, d.Query, string(d.Headers),
			d.ContentType, d.Body, d.BodySize, nonEmpty(d.DedupeKey), runRef, received).Error
	})
	if err != nil {
		return nil, fmt.Errorf("record delivery: %w", err)
	}
	return &result, nil
}

// claimDedupeKey takes a delivery's dedupe key for its run, unless the key
// is held by an earlier delivery whose window has not passed: then it
// returns that delivery's run. On Postgres the upsert locks the key's row,
// so two deliveries with one key in concurrent transactions cannot both win.
func claimDedupeKey(tx *gorm.DB, d *NewDelivery, runID string, received time.Time) (string, error) {
	if d.DedupeKey == "" {
		return "", nil
	}
	var claimed []string
	err := tx.Raw(`INSERT INTO dedupe_keys (flow_id, key, run_id, expires_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (flow_id, key) DO UPDATE SET run_id = excluded.run_id, expires_at = excluded.expires_at
		WHERE dedupe_keys.expires_at <= ? RETURNING run_id`,
		d.FlowID, d.DedupeKey, runID, d.DedupeUntil.UTC(), received).Scan(&claimed).Error
	if err != nil || len(claimed) > 0 {
		return "", err
	}
	var first string
	if err := tx.Raw(`SELECT run_id FROM dedupe_keys WHERE flow_id = ? AND key = ?`, d.FlowID, d.DedupeKey).Scan(&first).Error; err != nil {
		return "", err
	}
	return first, nil
}

// GetDelivery implements Store.
func (db *DB) GetDelivery(ctx context.Context, id string) (*Delivery, error) {
	var row deliveryRow
	err := db.read.WithContext(ctx).Where("id = ?", id).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("get delivery %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get delivery %s: %w", id, err)
	}
	return row.record(), nil
}

// ListDeliveries implements Store.
func (db *DB) ListDeliveries(ctx context.Context, f DeliveryFilter) ([]*Delivery, error) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
	}
	if f.FlowID != "" {
		add("flow_id = ?", f.FlowID)
	}
	if f.Status != "" {
		add("status = ?", f.Status)
	}
	if !f.Since.IsZero() {
		add("received_at >= ?", f.Since.UTC())
	}
	if f.Before != "" {
		add("id < ?", f.Before)
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	q := db.read.WithContext(ctx).Model(&deliveryRow{})
	if len(where) > 0 {
		q = q.Where(strings.Join(where, " AND "), args...)
	}
	var rows []deliveryRow
	if err := q.Order("id DESC").Limit(f.Limit).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	out := make([]*Delivery, len(rows))
	for i := range rows {
		out[i] = rows[i].record()
	}
	return out, nil
}

// FlowByHookKey implements Store.
func (db *DB) FlowByHookKey(ctx context.Context, key string) (*Flow, error) {
	var row flowWithDefinition
	res := db.currentFlows(ctx).Where("flows.hook_key = ?", key).Limit(1).Scan(&row)
	if res.Error != nil {
		return nil, fmt.Errorf("find trigger %s: %w", key, res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, fmt.Errorf("find trigger: %w", ErrNotFound)
	}
	return row.FlowRow.record(row.Definition), nil
}

// SetFlowListening implements Store.
func (db *DB) SetFlowListening(ctx context.Context, id string, until *time.Time) error {
	var value any
	if until != nil {
		value = until.UTC()
	}
	res := db.write.WithContext(ctx).Model(&flowRow{}).Where("id = ?", id).Update("listen_until", value)
	if res.Error != nil {
		return fmt.Errorf("set flow %s listening: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("set flow %s listening: %w", id, ErrNotFound)
	}
	return nil
}
