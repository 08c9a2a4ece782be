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

// User is a person who signs in. The store keeps what it is given: the
// email already checked, the password already hashed, the role already a
// valid one (package access decides those).
type User struct {
	ID           string
	Email        string
	Name         string
	PasswordHash []byte
	Role         string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

type userRow struct {
	ID           string `gorm:"primaryKey"`
	Email        string
	Name         string
	PasswordHash []byte
	Role         string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

func (userRow) TableName() string { return "users" }

func (r *userRow) record() *User {
	return &User{ID: r.ID, Email: r.Email, Name: r.Name, PasswordHash: r.PasswordHash, Role: r.Role,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

// CreateUser implements Store.
func (db *DB) CreateUser(ctx context.Context, u *User) (*User, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	return insertUser(db.write.WithContext(ctx), id.String(), u)
}

// insertUser stores u under id, the email lower-cased; ErrExists if the
// email is taken. It is the one way users are made: by CreateUser, and by
// AcceptInvitation inside its transaction.
func insertUser(tx *gorm.DB, id string, u *User) (*User, error) {
	t := now()
	row := userRow{ID: id, Email: strings.ToLower(u.Email), Name: u.Name, PasswordHash: u.PasswordHash, Role: u.Role, CreatedAt: t, UpdatedAt: t}
	if err := tx.Create(&row).Error; err != nil {
		if isUniqueViolation(err) {
			return nil, fmt.Errorf("create user %s: %w", row.Email, ErrExists)
		}
		return nil, fmt.Errorf("create user %s: %w", row.Email, err)
	}
	return row.record(), nil
}

// GetUser implements Store.
func (db *DB) GetUser(ctx context.Context, id string) (*User, error) {
	return db.findUser(ctx, "id = ?", id)
}

// GetUserByEmail implements Store.
func (db *DB) GetUserByEmail(ctx context.Context, email string) (*User, error) {
	return db.findUser(ctx, "email = ?", strings.ToLower(email))
}

func (db *DB) findUser(ctx context.Context, where string, arg string) (*User, error) {
	var row userRow
	err := db.read.WithContext(ctx).Where(where, arg).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("user %s: %w", arg, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("look up user %s: %w", arg, err)
	}
	return row.record(), nil
}

// ListUsers implements Store.
func (db *DB) ListUsers(ctx context.Context) ([]*User, error) {
	var rows []userRow
	if err := db.read.WithContext(ctx).Order("email").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return records(rows, (*userRow).record), nil
}

// UpdateUser implements Store.
func (db *DB) UpdateUser(ctx context.Context, u *User) (*User, error) {
	var out *User
	err := db.write.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&userRow{}).Where("id = ?", u.ID).Updates(map[string]any{
			"name": u.Name, "password_hash": u.PasswordHash, "role": u.Role, "updated_at": now(),
		})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		var row userRow
		if err := tx.Where("id = ?", u.ID).Take(&row).Error; err != nil {
			return err
		}
		out = row.record()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("update user %s: %w", u.ID, err)
	}
	return out, nil
}

// DeleteUser implements Store. The user's sessions end and their tokens go
// with them, by statement rather than by foreign key: SQLite may run with
// foreign keys off.
func (db *DB) DeleteUser(ctx context.Context, id string) error {
	return db.commits.write(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("user_id = ?", id).Delete(&sessionRow{}).Error; err != nil {
			return fmt.Errorf("end the sessions of user %s: %w", id, err)
		}
		if err := tx.Where("user_id = ?", id).Delete(&userTokenRow{}).Error; err != nil {
			return fmt.Errorf("delete the tokens of user %s: %w", id, err)
		}
		res := tx.Where("id = ?", id).Delete(&userRow{})
		if res.Error != nil {
			return fmt.Errorf("delete user %s: %w", id, res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("delete user %s: %w", id, ErrNotFound)
		}
		return nil
	})
}
