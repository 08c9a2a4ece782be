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
	IDHash []byte `gorm:"primaryKey"`
	// UserID is nil for a session of the admin token.
	UserID    *string
	IP        string
	UserAgent string
	CreatedAt time.Time
	ExpiresAt time.Time
}

func (sessionRow) TableName() string { return "sessions" }

func (r *sessionRow) record() *Session {
	return &Session{IDHash: r.IDHash, UserID: deref(r.UserID), IP: r.IP, UserAgent: r.UserAgent,
		CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC()}
}

// sessionsOf selects the sessions of a user, or those of the admin token
// for "".
func sessionsOf(tx *gorm.DB, userID string) *gorm.DB {
	if userID == "" {
		return tx.Where("user_id IS NULL")
	}
	return tx.Where("user_id = ?", userID)
}

// CreateSession implements Store. Sessions that have expired are removed
// on the way, so the table holds only live ones.
func (db *DB) CreateSession(ctx context.Context, s *Session) error {
	row := sessionRow{IDHash: s.IDHash, UserID: nonEmpty(s.UserID), IP: s.IP, UserAgent: s.UserAgent,
		CreatedAt: now(), ExpiresAt: s.ExpiresAt.UTC().Truncate(time.Microsecond)}
	return db.commits.write(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("expires_at < ?", now()).Delete(&sessionRow{}).Error; err != nil {
			return fmt.Errorf("remove expired sessions: %w", err)
		}
		if err := tx.Create(&row).Error; err != nil {
			return fmt.Errorf("create session: %w", err)
		}
		return nil
	})
}

// GetSession implements Store.
func (db *DB) GetSession(ctx context.Context, idHash []byte) (*Session, error) {
	var row sessionRow
	err := db.read.WithContext(ctx).Where("id_hash = ? AND expires_at > ?", idHash, now()).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("session: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("look up session: %w", err)
	}
	return row.record(), nil
}

// ListSessions implements Store. "" lists the sessions of the admin token.
func (db *DB) ListSessions(ctx context.Context, userID string) ([]*Session, error) {
	var rows []sessionRow
	err := sessionsOf(db.read.WithContext(ctx), userID).Where("expires_at > ?", now()).
		Order("created_at DESC, id_hash").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("list the sessions of user %q: %w", userID, err)
	}
	return records(rows, (*sessionRow).record), nil
}

// DeleteSession implements Store.
func (db *DB) DeleteSession(ctx context.Context, idHash []byte) error {
	return db.commits.write(ctx, func(tx *gorm.DB) error {
		return tx.Where("id_hash = ?", idHash).Delete(&sessionRow{}).Error
	})
}

// DeleteUserSessions implements Store. It counts the live sessions it
// ended; expired ones are left to CreateSession and Prune. "" ends the
// sessions of the admin token.
func (db *DB) DeleteUserSessions(ctx context.Context, userID string, keep []byte) (int, error) {
	var ended int64
	err := db.commits.write(ctx, func(tx *gorm.DB) error {
		q := sessionsOf(tx, userID).Where("expires_at > ?", now())
		if keep != nil {
			q = q.Where("id_hash <> ?", keep)
		}
		res := q.Delete(&sessionRow{})
		ended = res.RowsAffected
		return res.Error
	})
	if err != nil {
		return 0, fmt.Errorf("end the sessions of user %q: %w", userID, err)
	}
	return int(ended), nil
}
