package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

type flowRow struct {
	ID          string `gorm:"primaryKey"`
	Name        string
	Version     int
	Active      bool
	Concurrency int
	HookKey     string
	ListenUntil *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// DeletedAt is set on a deleted flow, kept while its runs are.
	DeletedAt *time.Time
	// TestPayload is the JSON of the flow's last test run's payload and
	// headers.
	TestPayload *string
}

func (flowRow) TableName() string { return "flows" }

type flowVersionRow struct {
	FlowID     string `gorm:"primaryKey"`
	Version    int    `gorm:"primaryKey"`
	Name       string
	Definition string
	CreatedAt  time.Time
}

func (flowVersionRow) TableName() string { return "flow_versions" }

// flowWithDefinition is a flow joined with its current version.
type flowWithDefinition struct {
	FlowRow    flowRow `gorm:"embedded"`
	Definition string
}

func (r *flowRow) record(definition string) *Flow {
	f := &Flow{
		ID: r.ID, Name: r.Name, Version: r.Version, Active: r.Active, Concurrency: r.Concurrency, HookKey: r.HookKey,
		ListenUntil: utc(r.ListenUntil), TestPayload: bytesOf(r.TestPayload),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	if definition != "" {
		f.Definition = []byte(definition)
	}
	return f
}

// newHookKey returns the random part of a trigger URL: 26 base32 characters,
// 130 bits.
func newHookKey() string { return strings.ToLower(rand.Text()) }

// CreateFlow implements Store.
func (db *DB) CreateFlow(ctx context.Context, doc FlowDocument) (*Flow, error) {
	name, definition := doc.Name, doc.Definition
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("create flow: %w", err)
	}
	t := now()
	row := flowRow{ID: id.String(), Name: name, Version: 1, Concurrency: doc.Concurrency, HookKey: newHookKey(), CreatedAt: t, UpdatedAt: t}
	err = db.write.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		return tx.Create(&flowVersionRow{FlowID: row.ID, Version: 1, Name: name, Definition: string(definition), CreatedAt: t}).Error
	})
	if err != nil {
		return nil, fmt.Errorf("create flow: %w", err)
	}
	return row.record(string(definition)), nil
}

// UpdateFlow implements Store.
func (db *DB) UpdateFlow(ctx context.Context, id string, doc FlowDocument, checkedActive bool) (*Flow, error) {
	name, definition := doc.Name, doc.Definition
	var row flowRow
	err := db.write.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// Bumping the version first locks the row, so concurrent saves get
		// consecutive versions instead of colliding.
		t := now()
		res := tx.Raw(`UPDATE flows SET version = version + 1, name = ?, concurrency = ?, updated_at = ?
			WHERE id = ? AND deleted_at IS NULL AND (? OR NOT active)
			RETURNING id, name, version, active, concurrency, hook_key, listen_until, created_at, updated_at`,
			name, doc.Concurrency, t, id, checkedActive).Scan(&row)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return db.missingOrChanged(tx, id)
		}
		return tx.Create(&flowVersionRow{FlowID: id, Version: row.Version, Name: name, Definition: string(definition), CreatedAt: t}).Error
	})
	if err != nil {
		return nil, fmt.Errorf("update flow %s: %w", id, err)
	}
	return row.record(string(definition)), nil
}

// currentFlows selects the flows not deleted, joined with their current
// version.
func (db *DB) currentFlows(ctx context.Context) *gorm.DB {
	return db.read.WithContext(ctx).Table("flows").
		Select("flows.*, flow_versions.definition").
		Joins("JOIN flow_versions ON flow_versions.flow_id = flows.id AND flow_versions.version = flows.version").
		Where("flows.deleted_at IS NULL")
}

// GetFlow implements Store.
func (db *DB) GetFlow(ctx context.Context, id string) (*Flow, error) {
	var row flowWithDefinition
	res := db.currentFlows(ctx).Where("flows.id = ?", id).Limit(1).Scan(&row)
	if res.Error != nil {
		return nil, fmt.Errorf("get flow %s: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, fmt.Errorf("get flow %s: %w", id, ErrNotFound)
	}
	return row.FlowRow.record(row.Definition), nil
}

// ListFlows implements Store.
func (db *DB) ListFlows(ctx context.Context) ([]*Flow, error) {
	var rows []flowWithDefinition
	err := db.currentFlows(ctx).Order("flows.updated_at DESC, flows.id DESC").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("list flows: %w", err)
	}
	out := make([]*Flow, len(rows))
	for i := range rows {
		out[i] = rows[i].FlowRow.record(rows[i].Definition)
	}
	return out, nil
}

// DeleteFlow implements Store. The flow is marked deleted and deactivated,
// not removed: its runs and deliveries stay readable until retention prunes
// them, and the pruner then removes it.
func (db *DB) DeleteFlow(ctx context.Context, id string) error {
	t := now()
	res := db.write.WithContext(ctx).Model(&flowRow{}).Where("id = ? AND deleted_at IS NULL", id).
		Updates(map[string]any{"deleted_at": t, "active": false, "listen_until": nil, "updated_at": t})
	if res.Error != nil {
		return fmt.Errorf("delete flow %s: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete flow %s: %w", id, ErrNotFound)
	}
	return nil
}

// SetTestPayload implements Store.
func (db *DB) SetTestPayload(ctx context.Context, id string, payload []byte) error {
	res := db.write.WithContext(ctx).Model(&flowRow{}).Where("id = ? AND deleted_at IS NULL", id).Update("test_payload", string(payload))
	if res.Error != nil {
		return fmt.Errorf("keep the test payload of flow %s: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("keep the test payload of flow %s: %w", id, ErrNotFound)
	}
	return nil
}

// SetFlowActive implements Store.
func (db *DB) SetFlowActive(ctx context.Context, id string, active bool, checkedVersion int) (*Flow, error) {
	q := db.write.WithContext(ctx).Model(&flowRow{}).Where("id = ? AND deleted_at IS NULL", id)
	if active {
		q = q.Where("version = ?", checkedVersion)
	}
	res := q.Updates(map[string]any{"active": active, "updated_at": now()})
	if res.Error != nil {
		return nil, fmt.Errorf("set flow %s active: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, fmt.Errorf("set flow %s active: %w", id, db.missingOrChanged(db.write.WithContext(ctx), id))
	}
	return db.GetFlow(ctx, id)
}

// missingOrChanged tells why a conditional write to a flow touched no row:
// the flow is gone, or it no longer is as the condition said.
func (db *DB) missingOrChanged(tx *gorm.DB, id string) error {
	var n int64
	if err := tx.Model(&flowRow{}).Where("id = ? AND deleted_at IS NULL", id).Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return ErrFlowChanged
}

// ListFlowVersions implements Store.
func (db *DB) ListFlowVersions(ctx context.Context, id string) ([]*FlowVersion, error) {
	var rows []flowVersionRow
	err := db.read.WithContext(ctx).Select("flow_id", "version", "name", "created_at").
		Where("flow_id = ?", id).Order("version DESC").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("list versions of flow %s: %w", id, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("list versions of flow %s: %w", id, ErrNotFound)
	}
	out := make([]*FlowVersion, len(rows))
	for i, r := range rows {
		out[i] = &FlowVersion{FlowID: r.FlowID, Version: r.Version, Name: r.Name, CreatedAt: r.CreatedAt.UTC()}
	}
	return out, nil
}

// GetFlowVersion implements Store.
func (db *DB) GetFlowVersion(ctx context.Context, id string, version int) (*FlowVersion, error) {
	var r flowVersionRow
	err := db.read.WithContext(ctx).Where("flow_id = ? AND version = ?", id, version).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("get flow %s version %d: %w", id, version, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get flow %s version %d: %w", id, version, err)
	}
	return &FlowVersion{FlowID: r.FlowID, Version: r.Version, Name: r.Name, Definition: []byte(r.Definition), CreatedAt: r.CreatedAt.UTC()}, nil
}
