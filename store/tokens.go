package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

type tokenRow struct {
	Name      string `gorm:"primaryKey"`
	TokenHash []byte
	CreatedAt time.Time
}

func (tokenRow) TableName() string { return "api_tokens" }

// PutToken implements Store.
func (db *DB) PutToken(ctx context.Context, name string, hash []byte) error {
	row := tokenRow{Name: name, TokenHash: hash, CreatedAt: now()}
	err := db.write.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "name"}},
		DoUpdates: clause.AssignmentColumns([]string{"token_hash", "created_at"}),
	}).Create(&row).Error
	if err != nil {
		return fmt.Errorf("put token %s: %w", name, err)
	}
	return nil
}

// HasToken implements Store.
func (db *DB) HasToken(ctx context.Context, name string) (bool, error) {
	var n int64
	if err := db.read.WithContext(ctx).Model(&tokenRow{}).Where("name = ?", name).Count(&n).Error; err != nil {
		return false, fmt.Errorf("look up token %s: %w", name, err)
	}
	return n > 0, nil
}

// TokenHashes implements Store.
func (db *DB) TokenHashes(ctx context.Context) ([][]byte, error) {
	var hashes [][]byte
	if err := db.read.WithContext(ctx).Model(&tokenRow{}).Pluck("token_hash", &hashes).Error; err != nil {
		return nil, fmt.Errorf("list token hashes: %w", err)
	}
	return hashes, nil
}

type sessionRow struct {
	IDHash    []byte `gorm:"primaryKey"`
	CreatedAt time.Time
	ExpiresAt time.Time
}

func (sessionRow) TableName() string { return "sessions" }

// CreateSession implements Store. Sessions that have expired are removed
// on the way, so the table holds only live ones.
func (db *DB) CreateSession(ctx context.Context, idHash []byte, expires time.Time) error {
	return db.commits.write(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("expires_at < ?", now()).Delete(&sessionRow{}).Error; err != nil {
			return fmt.Errorf("remove expired sessions: %w", err)
		}
		if err := tx.Create(&sessionRow{IDHash: idHash, CreatedAt: now(), ExpiresAt: expires.UTC()}).Error; err != nil {
			return fmt.Errorf("create session: %w", err)
		}
		return nil
	})
}

// SessionExpiry implements Store.
func (db *DB) SessionExpiry(ctx context.Context, idHash []byte) (time.Time, error) {
	var row sessionRow
	err := db.read.WithContext(ctx).Where("id_hash = ? AND expires_at > ?", idHash, now()).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return time.Time{}, ErrNotFound
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("look up session: %w", err)
	}
	return row.ExpiresAt, nil
}

// DeleteSession implements Store.
func (db *DB) DeleteSession(ctx context.Context, idHash []byte) error {
	return db.commits.write(ctx, func(tx *gorm.DB) error {
		return tx.Where("id_hash = ?", idHash).Delete(&sessionRow{}).Error
	})
}
