package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Bounds of ListAudit's page.
const (
	defaultAuditLimit = 100
	maxAuditLimit     = 1000
)

type auditRow struct {
	ID         int64 `gorm:"primaryKey"`
	At         time.Time
	ActorKind  string
	ActorID    string
	ActorName  string
	IP         string
	Action     string
	TargetKind string
	TargetID   string
	TargetName string
	// Detail is a JSON object; "{}" for none.
	Detail string
}

func (auditRow) TableName() string { return "audit_events" }

func (r *auditRow) record() (*AuditEvent, error) {
	e := &AuditEvent{ID: r.ID, At: r.At.UTC(), ActorKind: r.ActorKind, ActorID: r.ActorID, ActorName: r.ActorName,
		IP: r.IP, Action: r.Action, TargetKind: r.TargetKind, TargetID: r.TargetID, TargetName: r.TargetName}
	if err := json.Unmarshal([]byte(r.Detail), &e.Detail); err != nil {
		return nil, fmt.Errorf("audit event %d: detail: %w", r.ID, err)
	}
	if len(e.Detail) == 0 {
		e.Detail = nil
	}
	return e, nil
}

// AppendAudit implements Store. The events ride the group commit with the
// writes around them; an event without At happened now.
func (db *DB) AppendAudit(ctx context.Context, events ...*AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	rows := make([]auditRow, len(events))
	for i, e := range events {
		detail := []byte("{}")
		if len(e.Detail) > 0 {
			var err error
			if detail, err = json.Marshal(e.Detail); err != nil {
				return fmt.Errorf("append audit event %s: detail: %w", e.Action, err)
			}
		}
		at := now()
		if !e.At.IsZero() {
			at = e.At.UTC().Truncate(time.Microsecond)
		}
		rows[i] = auditRow{At: at, ActorKind: e.ActorKind, ActorID: e.ActorID, ActorName: e.ActorName, IP: e.IP,
			Action: e.Action, TargetKind: e.TargetKind, TargetID: e.TargetID, TargetName: e.TargetName, Detail: string(detail)}
	}
	err := db.commits.write(ctx, func(tx *gorm.DB) error {
		// A retried write inserts afresh: the ids of a rolled-back try
		// are not kept.
		for i := range rows {
			rows[i].ID = 0
		}
		return tx.Create(&rows).Error
	})
	if err != nil {
		return fmt.Errorf("append %d audit events: %w", len(rows), err)
	}
	return nil
}

// auditWhere is the condition of a filter, Before and Limit aside.
func auditWhere(f AuditFilter) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, arg ...any) {
		where = append(where, cond)
		args = append(args, arg...)
	}
	if f.Actor != "" {
		add("(actor_id = ? OR actor_name = ?)", f.Actor, f.Actor)
	}
	switch {
	case strings.HasSuffix(f.Action, "."):
		// Not LIKE: SQLite's ignores case, and the prefix may hold _.
		add("substr(action, 1, ?) = ?", len(f.Action), f.Action)
	case f.Action != "":
		add("action = ?", f.Action)
	}
	if f.TargetKind != "" {
		add("target_kind = ?", f.TargetKind)
	}
	if f.TargetID != "" {
		add("target_id = ?", f.TargetID)
	}
	if f.IP != "" {
		add("ip = ?", f.IP)
	}
	if !f.Since.IsZero() {
		add("at >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		add("at < ?", f.Until.UTC())
	}
	return strings.Join(where, " AND "), args
}

// filterAudit narrows q to the events f selects, Before and Limit aside.
func filterAudit(q *gorm.DB, f AuditFilter) *gorm.DB {
	q = q.Model(&auditRow{})
	if where, args := auditWhere(f); where != "" {
		q = q.Where(where, args...)
	}
	return q
}

// ListAudit implements Store.
func (db *DB) ListAudit(ctx context.Context, f AuditFilter) ([]*AuditEvent, error) {
	q := filterAudit(db.read.WithContext(ctx), f)
	if f.Before > 0 {
		q = q.Where("id < ?", f.Before)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	var rows []auditRow
	if err := q.Order("id DESC").Limit(min(limit, maxAuditLimit)).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	events := make([]*AuditEvent, len(rows))
	for i := range rows {
		e, err := rows[i].record()
		if err != nil {
			return nil, fmt.Errorf("list audit events: %w", err)
		}
		events[i] = e
	}
	return events, nil
}

// CountAudit implements Store.
func (db *DB) CountAudit(ctx context.Context, f AuditFilter) (int, error) {
	var n int64
	if err := filterAudit(db.read.WithContext(ctx), f).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count audit events: %w", err)
	}
	return int(n), nil
}

// PruneAudit implements Store. Prune leaves the audit log alone: it has a
// retention of its own. batch zero means 500.
func (db *DB) PruneAudit(ctx context.Context, before time.Time, batch int) (int, error) {
	if batch <= 0 {
		batch = 500
	}
	var deleted int64
	err := db.commits.write(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE at < ? ORDER BY id LIMIT ?)`,
			before.UTC(), batch)
		deleted = res.RowsAffected
		return res.Error
	})
	if err != nil {
		return 0, fmt.Errorf("prune audit events: %w", err)
	}
	return int(deleted), nil
}
