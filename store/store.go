// Package store keeps Hookflow's records in SQLite or Postgres. gorm stays
// inside this package; the rest of the program sees the Store interface and
// plain record types.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned when a record does not exist.
var ErrNotFound = errors.New("not found")

// Store is every operation Hookflow performs on its database. One
// implementation serves both dialects; one conformance suite tests it on each.
type Store interface {
	// Dialect is "sqlite" or "postgres".
	Dialect() string
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the connections.
	Close() error
	// SchemaVersion returns the newest applied migration and whether any
	// embedded migration is still pending.
	SchemaVersion(ctx context.Context) (version int64, pending bool, err error)

	// CreateFlow saves a new flow as version 1, inactive, with a new hook key.
	CreateFlow(ctx context.Context, name string, definition []byte) (*Flow, error)
	// UpdateFlow saves a new version of a flow and makes it current.
	UpdateFlow(ctx context.Context, id, name string, definition []byte) (*Flow, error)
	// GetFlow returns a flow with its current version's definition.
	GetFlow(ctx context.Context, id string) (*Flow, error)
	// ListFlows returns every flow with its current definition, most
	// recently updated first.
	ListFlows(ctx context.Context) ([]*Flow, error)
	// DeleteFlow removes a flow and its versions.
	DeleteFlow(ctx context.Context, id string) error
	// SetFlowActive turns a flow's triggers on or off.
	SetFlowActive(ctx context.Context, id string, active bool) (*Flow, error)
	// ListFlowVersions returns a flow's versions, newest first, without
	// definitions.
	ListFlowVersions(ctx context.Context, id string) ([]*FlowVersion, error)
	// GetFlowVersion returns one version with its definition.
	GetFlowVersion(ctx context.Context, id string, version int) (*FlowVersion, error)

	// PutToken stores the hash of an API token under a name, replacing any
	// token of that name.
	PutToken(ctx context.Context, name string, hash []byte) error
	// HasToken reports whether a token of that name exists.
	HasToken(ctx context.Context, name string) (bool, error)
	// TokenHashes returns the hashes of every API token.
	TokenHashes(ctx context.Context) ([][]byte, error)
}

// Flow is a flow with its current version.
type Flow struct {
	ID      string
	Name    string
	Version int
	Active  bool
	// HookKey is the random part of the webhook trigger URL.
	HookKey string
	// Definition is the current version's flow document.
	Definition []byte
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// FlowVersion is one saved version of a flow.
type FlowVersion struct {
	FlowID  string
	Version int
	Name    string
	// Definition is the flow document; nil in lists.
	Definition []byte
	CreatedAt  time.Time
}
