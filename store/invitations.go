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

type invitationRow struct {
	ID         string `gorm:"primaryKey"`
	TokenHash  []byte
	Email      string
	Role       string
	InvitedBy  string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	AcceptedAt *time.Time
	UserID     *string
}

func (invitationRow) TableName() string { return "invitations" }

func (r *invitationRow) record() *Invitation {
	return &Invitation{ID: r.ID, TokenHash: r.TokenHash, Email: r.Email, Role: r.Role, InvitedBy: r.InvitedBy,
		CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(), AcceptedAt: utc(r.AcceptedAt), UserID: deref(r.UserID)}
}

// CreateInvitation implements Store. The email is kept lower-case, as a
// user's is.
func (db *DB) CreateInvitation(ctx context.Context, inv *Invitation) (*Invitation, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("create invitation: %w", err)
	}
	row := invitationRow{ID: id.String(), TokenHash: inv.TokenHash, Email: strings.ToLower(inv.Email), Role: inv.Role,
		InvitedBy: inv.InvitedBy, CreatedAt: now(), ExpiresAt: inv.ExpiresAt.UTC().Truncate(time.Microsecond)}
	if err := db.write.WithContext(ctx).Create(&row).Error; err != nil {
		return nil, fmt.Errorf("create invitation of %q: %w", row.Email, err)
	}
	return row.record(), nil
}

// GetInvitationByHash implements Store.
func (db *DB) GetInvitationByHash(ctx context.Context, hash []byte) (*Invitation, error) {
	row, err := findInvitation(db.read.WithContext(ctx), "token_hash = ?", hash)
	if err != nil {
		return nil, err
	}
	return row.record(), nil
}

func findInvitation(tx *gorm.DB, where string, arg any) (*invitationRow, error) {
	var row invitationRow
	err := tx.Where(where, arg).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("invitation: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("look up invitation: %w", err)
	}
	return &row, nil
}

// ListInvitations implements Store. Ids are UUIDv7: the newest is the
// greatest.
func (db *DB) ListInvitations(ctx context.Context) ([]*Invitation, error) {
	var rows []invitationRow
	if err := db.read.WithContext(ctx).Where("accepted_at IS NULL").Order("id DESC").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list invitations: %w", err)
	}
	return records(rows, (*invitationRow).record), nil
}

// DeleteInvitation implements Store.
func (db *DB) DeleteInvitation(ctx context.Context, id string) error {
	return db.writeOne(ctx, "delete invitation "+id, func(tx *gorm.DB) *gorm.DB {
		return tx.Where("id = ?", id).Delete(&invitationRow{})
	})
}

// AcceptInvitation implements Store. The invitation is claimed by a
// conditional update before the user is made: of two concurrent accepts,
// the second waits for the first's row lock (Postgres) or the one writer
// (SQLite) and then finds it accepted. A user that cannot be made (email
// taken) rolls the claim back, so the invitation stays usable.
func (db *DB) AcceptInvitation(ctx context.Context, id string, u *User) (*User, error) {
	userID, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("accept invitation %s: %w", id, err)
	}
	var user *User
	err = db.write.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		t := now()
		res := tx.Model(&invitationRow{}).Where("id = ? AND accepted_at IS NULL AND expires_at > ?", id, t).
			Updates(map[string]any{"accepted_at": t, "user_id": userID.String()})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			row, err := findInvitation(tx, "id = ?", id)
			switch {
			case err != nil:
				return err
			case row.AcceptedAt != nil:
				return ErrUsed
			default:
				return ErrExpired
			}
		}
		made, err := insertUser(tx, userID.String(), u)
		user = made
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("accept invitation %s: %w", id, err)
	}
	return user, nil
}
