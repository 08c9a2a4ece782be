package store

import (
	"context"
	"fmt"
	"time"

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
