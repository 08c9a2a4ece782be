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

// ErrFlowChanged is a flow saved or activated by someone else between the
// check of a change and its write; checking again decides.
var ErrFlowChanged = errors.New("the flow changed meanwhile")

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
	CreateFlow(ctx context.Context, doc FlowDocument) (*Flow, error)
	// UpdateFlow saves a new version of a flow and makes it current. A
	// document checked only as a draft (checkedActive false) is saved only
	// while the flow is still inactive; else ErrFlowChanged.
	UpdateFlow(ctx context.Context, id string, doc FlowDocument, checkedActive bool) (*Flow, error)
	// GetFlow returns a flow with its current version's definition.
	GetFlow(ctx context.Context, id string) (*Flow, error)
	// ListFlows returns every flow with its current definition, most
	// recently updated first.
	ListFlows(ctx context.Context) ([]*Flow, error)
	// FlowStats returns, for each flow with runs, its latest run and how
	// many runs it has had since the given time.
	FlowStats(ctx context.Context, since time.Time) (map[string]FlowStats, error)
	// DeleteFlow removes a flow and its versions.
	DeleteFlow(ctx context.Context, id string) error
	// SetTestPayload keeps the payload and headers (JSON) of the flow's
	// last test run.
	SetTestPayload(ctx context.Context, id string, payload []byte) error
	// SetFlowActive turns a flow's triggers on or off. Activation names the
	// version that was checked, and is refused with ErrFlowChanged when
	// another is current by then.
	SetFlowActive(ctx context.Context, id string, active bool, checkedVersion int) (*Flow, error)
	// ListFlowVersions returns a flow's versions, newest first, without
	// definitions.
	ListFlowVersions(ctx context.Context, id string) ([]*FlowVersion, error)
	// GetFlowVersion returns one version with its definition.
	GetFlowVersion(ctx context.Context, id string, version int) (*FlowVersion, error)

	// EnqueueRuns adds runs in one transaction: queued and available now,
	// or claimed already by the worker a run names as its Owner.
	EnqueueRuns(ctx context.Context, runs []NewRun) ([]*Run, error)
	// ClaimRuns gives up to limit due queued runs to the worker owner,
	// sharing the claim fairly between the flows with runs waiting and
	// keeping each flow within its concurrency limit, counted across every
	// worker. A run is claimed by one worker at a time.
	ClaimRuns(ctx context.Context, owner string, limit int) ([]*Run, error)

	// RegisterWorker records a worker (a process executing runs), alive
	// until expires.
	RegisterWorker(ctx context.Context, id string, expires time.Time) error
	// RenewWorker keeps a worker alive until expires. ErrLeaseLost means it
	// was given up for dead meanwhile, and its runs went back to the queue.
	RenewWorker(ctx context.Context, id string, expires time.Time) error
	// ReclaimRuns puts back in the queue the runs of workers that stopped
	// renewing (their process died) and forgets those workers; it returns
	// how many runs it put back.
	ReclaimRuns(ctx context.Context) (int, error)
	// RetireWorker puts a stopping worker's runs that are still running
	// back in the queue, at once, and forgets the worker.
	RetireWorker(ctx context.Context, id string) (int, error)
	// CancelRequested lists the running runs of the worker whose
	// cancellation someone asked for.
	CancelRequested(ctx context.Context, owner string) ([]string, error)

	// SaveSteps writes step records of a run the writer holds (a
	// checkpoint) and waits until they are durable; ErrLeaseLost if it
	// holds the run no more.
	SaveSteps(ctx context.Context, w Write) error
	// SaveStepsAsync is SaveSteps without the wait: the channel gets the
	// outcome.
	SaveStepsAsync(w Write) <-chan error
	// FinishRun writes the last step records and ends a run the writer
	// holds. It does not wait: the returned channel gets the outcome,
	// ErrLeaseLost if the writer no longer held the run.
	FinishRun(w Write, status, message string) <-chan error
	// ReleaseRun writes step records and puts a run the writer holds back
	// in the queue until availableAt: a long wait, or a shutdown.
	ReleaseRun(ctx context.Context, w Write, availableAt time.Time) error
	// RequestCancel cancels a queued run at once, or marks a running one for
	// its worker to stop. A finished run gives ErrRunFinished.
	RequestCancel(ctx context.Context, id string) (*Run, error)
	// AddSignal ends a waiting step of a run (SignalCallback, SignalTimeout)
	// unless it has a signal already, and wakes the run. It returns the
	// step's signal, this one or the one that came first, and whether it
	// is this one; ErrNotFound for an unknown run, ErrRunFinished for one
	// that has ended.
	AddSignal(ctx context.Context, s Signal) (held *Signal, added bool, err error)
	// GetSignal returns the signal of a step; ErrNotFound when none came.
	GetSignal(ctx context.Context, runID, nodeID, iteration string, attempt int) (*Signal, error)
	// GetRun returns one run.
	GetRun(ctx context.Context, id string) (*Run, error)
	// ListRuns returns runs, newest first.
	ListRuns(ctx context.Context, f RunFilter) ([]*Run, error)
	// ListSteps returns a run's steps in the order they started.
	ListSteps(ctx context.Context, runID string) ([]*Step, error)
	// QueueStats counts the queued runs that are due (their available_at
	// has passed) and returns when the one due longest became available;
	// oldest is zero when none is due. It backs the queue metrics.
	QueueStats(ctx context.Context) (depth int, oldest time.Time, err error)

	// FlowByHookKey finds the flow whose trigger URL holds key, with its
	// current definition.
	FlowByHookKey(ctx context.Context, key string) (*Flow, error)
	// SetFlowListening sets, or clears with nil, the flow's ListenUntil.
	SetFlowListening(ctx context.Context, id string, until *time.Time) error
	// RecordDelivery records a request to a trigger and, when accepted,
	// enqueues its run in the same transaction, or finds it a duplicate.
	// It returns once both are durable.
	RecordDelivery(ctx context.Context, d *NewDelivery) (*DeliveryResult, error)
	// GetDelivery returns one delivery with its body.
	GetDelivery(ctx context.Context, id string) (*Delivery, error)
	// ListDeliveries returns deliveries, newest first.
	ListDeliveries(ctx context.Context, f DeliveryFilter) ([]*Delivery, error)

	// CreateCredential stores a new credential; ErrExists if the name is
	// taken.
	CreateCredential(ctx context.Context, c *Credential) (*Credential, error)
	// UpdateCredential replaces a credential's type and data.
	UpdateCredential(ctx context.Context, c *Credential) (*Credential, error)
	// GetCredential returns a credential with its sealed data.
	GetCredential(ctx context.Context, name string) (*Credential, error)
	// ListCredentials returns every credential without its data.
	ListCredentials(ctx context.Context) ([]*Credential, error)
	// DeleteCredential removes a credential.
	DeleteCredential(ctx context.Context, name string) error

	// PutToken stores the hash of an API token under a name, replacing any
	// token of that name.
	PutToken(ctx context.Context, name string, hash []byte) error
	// HasToken reports whether a token of that name exists.
	HasToken(ctx context.Context, name string) (bool, error)
	// TokenHashes returns the hashes of every API token.
	TokenHashes(ctx context.Context) ([][]byte, error)
	// CreateSession stores an editor session by the hash of its id.
	CreateSession(ctx context.Context, s *Session) error
	// GetSession returns a live session; ErrNotFound for an unknown or
	// expired one.
	GetSession(ctx context.Context, idHash []byte) (*Session, error)
	// ListSessions returns a user's live sessions, newest first.
	ListSessions(ctx context.Context, userID string) ([]*Session, error)
	// DeleteSession ends a session.
	DeleteSession(ctx context.Context, idHash []byte) error
	// DeleteUserSessions ends every session of a user but the one whose
	// hash is keep (nil keeps none), and says how many it ended.
	DeleteUserSessions(ctx context.Context, userID string, keep []byte) (int, error)

	// CreateUserToken stores a user's API token under a new id; ErrExists
	// if the user has a token of that name.
	CreateUserToken(ctx context.Context, t *UserToken) (*UserToken, error)
	// GetUserTokenByHash returns the token with that hash, expired or not;
	// ErrNotFound if none.
	GetUserTokenByHash(ctx context.Context, hash []byte) (*UserToken, error)
	// ListUserTokens returns a user's tokens ("" for everyone's), newest
	// first.
	ListUserTokens(ctx context.Context, userID string) ([]*UserToken, error)
	// DeleteUserToken removes a token; ErrNotFound if none.
	DeleteUserToken(ctx context.Context, id string) error
	// TouchUserToken records a token's last use.
	TouchUserToken(ctx context.Context, id string, at time.Time) error

	// CreateInvitation stores an invitation under a new id.
	CreateInvitation(ctx context.Context, inv *Invitation) (*Invitation, error)
	// GetInvitationByHash returns the invitation with that token hash,
	// used or expired or not; ErrNotFound if none.
	GetInvitationByHash(ctx context.Context, hash []byte) (*Invitation, error)
	// ListInvitations returns the invitations not yet accepted, expired or
	// not, newest first.
	ListInvitations(ctx context.Context) ([]*Invitation, error)
	// DeleteInvitation removes an invitation; ErrNotFound if none.
	DeleteInvitation(ctx context.Context, id string) error
	// AcceptInvitation creates the user and marks the invitation accepted
	// by them, in one transaction: ErrUsed if it was accepted already
	// (also by a concurrent call), ErrExpired if it has expired, ErrExists
	// if the email is taken.
	AcceptInvitation(ctx context.Context, id string, u *User) (*User, error)

	// AppendAudit adds events to the audit log, which nothing changes
	// afterwards: only PruneAudit removes old events.
	AppendAudit(ctx context.Context, events ...*AuditEvent) error
	// ListAudit returns the events the filter selects, newest first.
	ListAudit(ctx context.Context, f AuditFilter) ([]*AuditEvent, error)
	// PruneAudit removes up to batch events older than before, and says
	// how many.
	PruneAudit(ctx context.Context, before time.Time, batch int) (int, error)

	// CreateUser stores a new user under a new id, the email lower-cased;
	// ErrExists if the email is taken.
	CreateUser(ctx context.Context, u *User) (*User, error)
	// GetUser returns a user by id; ErrNotFound if none.
	GetUser(ctx context.Context, id string) (*User, error)
	// GetUserByEmail returns a user by email, in any case; ErrNotFound if
	// none.
	GetUserByEmail(ctx context.Context, email string) (*User, error)
	// ListUsers returns every user, by email.
	ListUsers(ctx context.Context) ([]*User, error)
	// UpdateUser replaces a user's name, password hash and role.
	UpdateUser(ctx context.Context, u *User) (*User, error)
	// DeleteUser removes a user with their sessions and tokens.
	DeleteUser(ctx context.Context, id string) error

	// Lead blocks until this process leads for name among those sharing the
	// database, and returns a context that ends with the leadership.
	Lead(ctx context.Context, name string) (lead context.Context, release func(), err error)
	// FlowsFingerprint changes whenever any flow is created, saved,
	// activated, deactivated or deleted.
	FlowsFingerprint(ctx context.Context) (string, error)
	// FireSchedule enqueues a cron firing's run, once per flow and
	// scheduled time, while the flow is active at that version; nil when
	// it was not enqueued.
	FireSchedule(ctx context.Context, r NewRun, scheduledAt time.Time) (*Run, error)
	// Prune removes one batch of old runs, deliveries and expired records.
	Prune(ctx context.Context, p PrunePolicy) (Pruned, error)
	// ReclaimSpace gives the space pruning freed back to the file system
	// where the database does not do so by itself (SQLite).
	ReclaimSpace(ctx context.Context) error
}

// FlowDocument is a version of a flow to save.
type FlowDocument struct {
	Name string
	// Definition is the flow document.
	Definition []byte
	// Concurrency limits the flow's runs in flight at once, across every
	// worker; 0 is no limit. It is the flow's as long as this version is
	// current.
	Concurrency int
}

// Flow is a flow with its current version.
type Flow struct {
	ID      string
	Name    string
	Version int
	Active  bool
	// Concurrency is the current version's limit on runs in flight.
	Concurrency int
	// HookKey is the random part of the webhook trigger URL.
	HookKey string
	// ListenUntil, while in the future, has the trigger capture requests
	// for someone waiting for a test event.
	ListenUntil *time.Time
	// Definition is the current version's flow document.
	Definition []byte
	// TestPayload is the JSON {"payload", "headers"} of the flow's last
	// test run; nil before the first.
	TestPayload []byte
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// FlowStats sums up a flow's recent runs for the flows list.
type FlowStats struct {
	LastRunID     string
	LastRunStatus string
	LastRunAt     time.Time
	// RunsSince counts the runs created since the time asked for.
	RunsSince int
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
