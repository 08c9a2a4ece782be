package store

import (
	"errors"
	"time"
)

// ErrUsed is returned for an invitation that was accepted already.
var ErrUsed = errors.New("already used")

// ErrExpired is returned for an invitation past its expiry.
var ErrExpired = errors.New("expired")

// Session is a login to the editor, known by the hash of its id (the
// cookie's value).
type Session struct {
	IDHash []byte
	// UserID is who logged in; "" for a session opened with the admin
	// token.
	UserID    string
	IP        string
	UserAgent string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// UserToken is an API token of a user, known by its hash.
type UserToken struct {
	ID     string
	UserID string
	Name   string
	Hash   []byte
	// Scopes narrow the token to some of its user's permissions; empty is
	// all of them.
	Scopes    []string
	CreatedAt time.Time
	// ExpiresAt is nil for a token that does not expire.
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
}

// Invitation lets whoever holds its token become a user with its role.
type Invitation struct {
	ID        string
	TokenHash []byte
	// Email is who is invited; "" lets the holder choose it (the setup
	// invitation of the first owner).
	Email string
	Role  string
	// InvitedBy is the inviting user's id; "" for the server itself or the
	// admin token.
	InvitedBy  string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	AcceptedAt *time.Time
	// UserID is the user made by accepting it.
	UserID string
}

// AuditEvent is one entry of the audit log: who did what to what, when
// and from where. It never holds a secret value.
type AuditEvent struct {
	// ID orders events: a later event has a greater id.
	ID int64
	At time.Time
	// ActorKind is "user" (through a session), "token" (a user's API
	// token), "admin" (the admin token), "anonymous" (a failed login, an
	// invitation accepted) or "system".
	ActorKind string
	// ActorID is the user's id, if any.
	ActorID string
	// ActorName is the user's email, a token's name, or the email given
	// to a failed login.
	ActorName string
	IP        string
	// Action is what happened, such as "flow.updated" or "login.failed".
	Action     string
	TargetKind string
	TargetID   string
	TargetName string
	// Detail says more, as JSON-able values.
	Detail map[string]any
}

// AuditFilter selects audit events; zero fields select all.
type AuditFilter struct {
	// Actor matches the actor's id or name exactly.
	Actor string
	// Action matches exactly, or as a prefix when it ends with "." (such
	// as "flow.").
	Action string
	// TargetKind and TargetID match exactly.
	TargetKind string
	TargetID   string
	IP         string
	// Since and Until bound At: Since <= At < Until.
	Since, Until time.Time
	// Before is a keyset cursor: only events with an id below it.
	Before int64
	// Limit bounds the events returned; zero means 100.
	Limit int
}
