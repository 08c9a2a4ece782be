package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// ErrExists is returned when creating a record whose name is taken.
var ErrExists = errors.New("already exists")

// Credential is a stored credential. Data is sealed: the store never sees
// the secret in the clear.
type Credential struct {
	Name      string
	Type      string
	Data      []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

type credentialRow struct {
	Name      string `gorm:"primaryKey"`
	Type      string
	Data      []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

func (credentialRow) TableName() string { return "credentials" }

func (r *credentialRow) record() *Credential {
	return &Credential{Name: r.Name, Type: r.Type, Data: r.Data, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

// isUniqueViolation recognises a duplicate key on either database.
func isUniqueViolation(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "duplicate key value") || strings.Contains(msg, "SQLSTATE 23505")
}

// CreateCredential implements Store.
func (db *DB) CreateCredential(ctx context.Context, c *Credential) (*Credential, error) {
	t := now()
	row := credentialRow{Name: c.Name, Type: c.Type, Data: c.Data, CreatedAt: t, UpdatedAt: t}
	if err := db.write.WithContext(ctx).Create(&row).Error; err != nil {
		if isUniqueViolation(err) {
			return nil, fmt.Errorf("create credential %s: %w", c.Name, ErrExists)
		}
		return nil, fmt.Errorf("create credential %s: %w", c.Name, err)
	}
	return row.record(), nil
}

// UpdateCredential implements Store.
func (db *DB) UpdateCredential(ctx context.Context, c *Credential) (*Credential, error) {
	res := db.write.WithContext(ctx).Model(&credentialRow{}).Where("name = ?", c.Name).
		Updates(map[string]any{"type": c.Type, "data": c.Data, "updated_at": now()})
	if res.Error != nil {
		return nil, fmt.Errorf("update credential %s: %w", c.Name, res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, fmt.Errorf("update credential %s: %w", c.Name, ErrNotFound)
	}
	return db.GetCredential(ctx, c.Name)
}

// GetCredential implements Store.
func (db *DB) GetCredential(ctx context.Context, name string) (*Credential, error) {
	var row credentialRow
	err := db.read.WithContext(ctx).Where("name = ?", name).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("get credential %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get credential %s: %w", name, err)
	}
	return row.record(), nil
}

// ListCredentials implements Store.
func (db *DB) ListCredentials(ctx context.Context) ([]*Credential, error) {
	var rows []credentialRow
	if err := db.read.WithContext(ctx).Select("name", "type", "created_at", "updated_at").Order("name").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list credentials: %w", err)
	}
	out := make([]*Credential, len(rows))
	for i := range rows {
		out[i] = rows[i].record()
	}
	return out, nil
}

// DeleteCredential implements Store.
func (db *DB) DeleteCredential(ctx context.Context, name string) error {
	res := db.write.WithContext(ctx).Delete(&credentialRow{}, "name = ?", name)
	if res.Error != nil {
		return fmt.Errorf("delete credential %s: %w", name, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete credential %s: %w", name, ErrNotFound)
	}
	return nil
}
