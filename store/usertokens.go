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

type userTokenRow struct {
	ID        string `gorm:"primaryKey"`
	UserID    string
	Name      string
	TokenHash []byte
	// Scopes is comma-separated; "" for all of the user's permissions.
	Scopes     string
	CreatedAt  time.Time
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
}

func (userTokenRow) TableName() string { return "user_tokens" }

func (r *userTokenRow) record() *UserToken {
	var scopes []string
	if r.Scopes != "" {
		scopes = strings.Split(r.Scopes, ",")
	}
	return &UserToken{ID: r.ID, UserID: r.UserID, Name: r.Name, Hash: r.TokenHash, Scopes: scopes,
		CreatedAt: r.CreatedAt.UTC(), ExpiresAt: utc(r.ExpiresAt), LastUsedAt: utc(r.LastUsedAt)}
}

// stamp is t as the store keeps times, nil staying nil: UTC, to the
// microsecond.
func stamp(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Microsecond)
	return &u
}

// CreateUserToken implements Store.
func (db *DB) CreateUserToken(ctx context.Context, t *UserToken) (*UserToken, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("create token %s: %w", t.Name, err)
	}
	row := userTokenRow{ID: id.String(), UserID: t.UserID, Name: t.Name, TokenHash: t.Hash,
		Scopes: strings.Join(t.Scopes, ","), CreatedAt: now(), ExpiresAt: stamp(t.ExpiresAt)}
	if err := db.write.WithContext(ctx).Create(&row).Error; err != nil {
		if isUniqueViolation(err) {
			return nil, fmt.Errorf("create token %s of user %s: %w", t.Name, t.UserID, ErrExists)
		}
		return nil, fmt.Errorf("create token %s of user %s: %w", t.Name, t.UserID, err)
	}
	return row.record(), nil
}

// GetUserTokenByHash implements Store.
func (db *DB) GetUserTokenByHash(ctx context.Context, hash []byte) (*UserToken, error) {
	var row userTokenRow
	err := db.read.WithContext(ctx).Where("token_hash = ?", hash).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("user token: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("look up user token: %w", err)
	}
	return row.record(), nil
}

// ListUserTokens implements Store. Ids are UUIDv7: the newest is the
// greatest.
func (db *DB) ListUserTokens(ctx context.Context, userID string) ([]*UserToken, error) {
	q := db.read.WithContext(ctx)
	if userID != "" {
		q = q.Where("user_id = ?", userID)
	}
	var rows []userTokenRow
	if err := q.Order("id DESC").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list the tokens of user %q: %w", userID, err)
	}
	return records(rows, (*userTokenRow).record), nil
}

// DeleteUserToken implements Store.
func (db *DB) DeleteUserToken(ctx context.Context, id string) error {
	return db.writeOne(ctx, "delete user token "+id, func(tx *gorm.DB) *gorm.DB {
		return tx.Where("id = ?", id).Delete(&userTokenRow{})
	})
}

// TouchUserToken implements Store. It rides the group commit: every
// request a token makes touches it.
func (db *DB) TouchUserToken(ctx context.Context, id string, at time.Time) error {
	return db.writeOne(ctx, "touch user token "+id, func(tx *gorm.DB) *gorm.DB {
		return tx.Model(&userTokenRow{}).Where("id = ?", id).Update("last_used_at", at.UTC().Truncate(time.Microsecond))
	})
}

// writeOne runs one statement through the group committer; ErrNotFound if
// it changed no row. A missing row is told after the commit, not as the
// statement's error, so it does not roll back the writes it shares a
// transaction with.
func (db *DB) writeOne(ctx context.Context, doing string, statement func(tx *gorm.DB) *gorm.DB) error {
	var changed int64
	err := db.commits.write(ctx, func(tx *gorm.DB) error {
		res := statement(tx)
		changed = res.RowsAffected
		return res.Error
	})
	if err != nil {
		return fmt.Errorf("%s: %w", doing, err)
	}
	if changed == 0 {
		return fmt.Errorf("%s: %w", doing, ErrNotFound)
	}
	return nil
}
