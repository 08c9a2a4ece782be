// Package accounts keeps the people who use Hookflow and what they do: users
// and their passwords, logins and their limits, sessions, invitations, API
// tokens, and the audit log that records all of it with every change to
// flows and credentials. Package access decides what a role may do; this
// package applies it to changes of users. The API calls it and turns its
// errors into answers.
package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/hookflow/hookflow/access"
	"github.com/hookflow/hookflow/store"
)

// Kind classifies an Error as the API answers it.
type Kind int

// The kinds of Error.
const (
	// Invalid: a field's value is refused (422).
	Invalid Kind = iota
	// Unauthorized: wrong credentials (401).
	Unauthorized
	// Forbidden: the actor may not do this (403).
	Forbidden
	// NotFound: no such user, token, session or invitation (404).
	NotFound
	// Conflict: it clashes with what exists (409).
	Conflict
	// Gone: an invitation used or expired (410).
	Gone
	// TooMany: too many failed logins (429).
	TooMany
)

// Error is a refusal to show the person who asked, with its kind.
type Error struct {
	Kind    Kind
	Message string
	// RetryAfter says, for TooMany, when to try again.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Message }

func refuse(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Actor is who does something, and from where, as the audit log records
// them.
type Actor struct {
	// Principal is nil for someone not logged in (a login, an invitation
	// accepted) and for the server itself.
	Principal *access.Principal
	IP        string
	// Name is who someone not logged in says they are: the email a login
	// gave.
	Name string
}

// Options tune the service; zero values take the defaults.
type Options struct {
	// PublicURL is where people open the editor: invitation links start
	// with it.
	PublicURL string
	Logger    *slog.Logger
	// Now is the clock, for tests.
	Now func() time.Time
	// PasswordCost is bcrypt's work factor for new passwords; zero is
	// access.PasswordCost. Tests lower it.
	PasswordCost int
}

// Service applies the rules of accounts over the store.
type Service struct {
	store     store.Store
	publicURL string
	log       *slog.Logger
	now       func() time.Time
	cost      int

	// dummyHash is checked when no user has the email given to a login,
	// so an unknown email takes as long as a wrong password and does not
	// reveal who has an account. Made at the first login.
	dummyOnce sync.Once
	dummyHash []byte
}

// New returns the service.
func New(st store.Store, opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PasswordCost == 0 {
		opts.PasswordCost = access.PasswordCost
	}
	return &Service{store: st, publicURL: strings.TrimRight(opts.PublicURL, "/"), log: opts.Logger, now: opts.Now, cost: opts.PasswordCost}
}

// checkEmail returns the address a person typed, checked and lower-cased.
func checkEmail(field, email string) (string, error) {
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != strings.TrimSpace(email) || !strings.Contains(addr.Address, "@") {
		return "", refuse(Invalid, "%s: %q is not an email address such as ada@example.com", field, email)
	}
	return strings.ToLower(addr.Address), nil
}

// checkNewPassword checks and hashes a password being set.
func (s *Service) checkNewPassword(field, password, email string) ([]byte, error) {
	if err := access.CheckPassword(password, email); err != nil {
		return nil, refuse(Invalid, "%s: %v", field, err)
	}
	return access.HashPassword(password, s.cost)
}

// AddUser makes a user directly, for `hookflow user add`: the person at the
// server's console needs no invitation.
func (s *Service) AddUser(ctx context.Context, email, name, role, password string) (*store.User, error) {
	email, err := checkEmail("email", email)
	if err != nil {
		return nil, err
	}
	r, err := access.ParseRole(role)
	if err != nil {
		return nil, refuse(Invalid, "role: %v", err)
	}
	hash, err := s.checkNewPassword("password", password, email)
	if err != nil {
		return nil, err
	}
	u, err := s.store.CreateUser(ctx, &store.User{Email: email, Name: strings.TrimSpace(name), PasswordHash: hash, Role: string(r)})
	if errors.Is(err, store.ErrExists) {
		return nil, refuse(Conflict, "email: a user with the email %s exists", email)
	}
	if err != nil {
		return nil, err
	}
	s.Record(ctx, Actor{}, "user.created", userTarget(u), map[string]any{"role": u.Role, "via": "command line"})
	return u, nil
}

// ownerCount counts the users with the owner role.
func (s *Service) ownerCount(ctx context.Context) (int, error) {
	users, err := s.store.ListUsers(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, u := range users {
		if u.Role == string(access.Owner) {
			n++
		}
	}
	return n, nil
}

// manageable loads a user the actor changes or removes, refusing one whose
// role the actor's role does not manage.
func (s *Service) manageable(ctx context.Context, a Actor, id string) (*store.User, error) {
	u, err := s.store.GetUser(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, refuse(NotFound, "user %q not found", id)
	}
	if err != nil {
		return nil, err
	}
	if role := a.Principal.Role; !role.Manages(access.Role(u.Role)) {
		return nil, refuse(Forbidden, "forbidden: the role %s does not manage users whose role is %s", role, u.Role)
	}
	return u, nil
}

// UserChange is what UpdateUser changes: nil fields stay as they are.
type UserChange struct {
	Role *string
	Name *string
}

// UpdateUser changes a user's role or name. A role is given only by one
// who manages it, and the last owner keeps theirs.
func (s *Service) UpdateUser(ctx context.Context, a Actor, id string, change UserChange) (*store.User, error) {
	u, err := s.manageable(ctx, a, id)
	if err != nil {
		return nil, err
	}
	detail := map[string]any{}
	if change.Role != nil && *change.Role != u.Role {
		role, err := access.ParseRole(*change.Role)
		if err != nil {
			return nil, refuse(Invalid, "role: %v", err)
		}
		if !a.Principal.Role.Manages(role) {
			return nil, refuse(Forbidden, "forbidden: the role %s cannot give the role %s", a.Principal.Role, role)
		}
		if u.Role == string(access.Owner) {
			if err := s.keepAnOwner(ctx, "take the role owner from"); err != nil {
				return nil, err
			}
		}
		detail["role"] = map[string]any{"from": u.Role, "to": string(role)}
		u.Role = string(role)
	}
	if change.Name != nil && strings.TrimSpace(*change.Name) != u.Name {
		detail["name"] = map[string]any{"from": u.Name, "to": strings.TrimSpace(*change.Name)}
		u.Name = strings.TrimSpace(*change.Name)
	}
	if len(detail) == 0 {
		return u, nil
	}
	updated, err := s.store.UpdateUser(ctx, u)
	if err != nil {
		return nil, err
	}
	s.Record(ctx, a, "user.updated", userTarget(updated), detail)
	return updated, nil
}

// keepAnOwner refuses to act on the only owner.
func (s *Service) keepAnOwner(ctx context.Context, what string) error {
	owners, err := s.ownerCount(ctx)
	if err != nil {
		return err
	}
	if owners <= 1 {
		return refuse(Conflict, "cannot %s the only owner: make another user owner first", what)
	}
	return nil
}

// RemoveUser removes a user, their sessions and their tokens. No one
// removes themselves (a slip would lock them out), nor the last owner.
func (s *Service) RemoveUser(ctx context.Context, a Actor, id string) error {
	if a.Principal.UserID == id {
		return refuse(Conflict, "you cannot remove yourself: ask another owner or admin")
	}
	u, err := s.manageable(ctx, a, id)
	if err != nil {
		return err
	}
	if u.Role == string(access.Owner) {
		if err := s.keepAnOwner(ctx, "remove"); err != nil {
			return err
		}
	}
	if err := s.store.DeleteUser(ctx, id); err != nil {
		return err
	}
	s.Record(ctx, a, "user.removed", userTarget(u), map[string]any{"role": u.Role})
	return nil
}

// ChangePassword sets the actor's own password, given the current one, and
// ends their other sessions: whoever else held one must log in with the new
// password.
func (s *Service) ChangePassword(ctx context.Context, a Actor, keepSession []byte, current, next string) error {
	u, err := s.self(ctx, a, "has no password")
	if err != nil {
		return err
	}
	// Guessing the current password from a stolen session counts against
	// the account's login limit.
	if err := s.checkLimits(ctx, a.IP, u.Email); err != nil {
		return err
	}
	if !access.PasswordMatches(u.PasswordHash, current) {
		s.Record(ctx, a, "login.failed", userTarget(u), map[string]any{"reason": "wrong current password"})
		return refuse(Invalid, "current_password: this is not your current password")
	}
	if u.PasswordHash, err = s.checkNewPassword("new_password", next, u.Email); err != nil {
		return err
	}
	if _, err := s.store.UpdateUser(ctx, u); err != nil {
		return err
	}
	ended, err := s.store.DeleteUserSessions(ctx, u.ID, keepSession)
	if err != nil {
		return err
	}
	s.Record(ctx, a, "user.password_changed", userTarget(u), map[string]any{"sessions_ended": ended})
	return nil
}

// self is the actor's own user; the admin token is none, and cannot do
// what only users do.
func (s *Service) self(ctx context.Context, a Actor, what string) (*store.User, error) {
	if a.Principal == nil || a.Principal.UserID == "" {
		return nil, refuse(Conflict, "the admin token belongs to no user, so it %s: log in as a user", what)
	}
	u, err := s.store.GetUser(ctx, a.Principal.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, refuse(NotFound, "your user was removed")
	}
	return u, err
}

func userTarget(u *store.User) Target {
	return Target{Kind: "user", ID: u.ID, Name: u.Email}
}
