package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
)

// How leadership is sought and kept on Postgres.
const (
	// leaderRetry is how often a process that does not lead asks again:
	// about how soon it takes over once the leader is gone.
	leaderRetry = time.Second
	// leaderCheck is how often the leader checks that the connection
	// holding its lock is still there.
	leaderCheck = time.Second
)

// ErrLeadershipLost ends a leadership whose database connection broke:
// another process may lead now.
var ErrLeadershipLost = errors.New("leadership lost: the connection holding the lock broke")

// Lead blocks until this process leads for name among the processes that
// share the database, or ctx ends. The returned context ends when the
// leadership does: release was called, ctx ended, or (Postgres) the
// connection holding it broke, with ErrLeadershipLost as its cause.
//
// On Postgres the leader holds a session advisory lock on a connection of
// its own; a leader that dies closes it, and another process takes over
// within about leaderRetry. SQLite serves one process, which always leads.
func (db *DB) Lead(ctx context.Context, name string) (lead context.Context, release func(), err error) {
	if db.dialect != DialectPostgres {
		lead, cancel := context.WithCancel(ctx)
		return lead, cancel, nil
	}
	var (
		conn *pgx.Conn
		key  int64
	)
	for {
		if conn == nil {
			conn, key, err = connectLeader(ctx, db.dsn, name)
		}
		if err == nil {
			var held bool
			err = conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&held)
			if err == nil && held {
				lead, release := holdLead(ctx, conn)
				return lead, release, nil
			}
		}
		if err != nil && conn != nil {
			conn.Close(context.Background()) // connect again next time
			conn = nil
		}
		select {
		case <-ctx.Done():
			if conn != nil {
				conn.Close(context.Background())
			}
			return nil, nil, ctx.Err()
		case <-time.After(leaderRetry):
		}
	}
}

// connectLeader opens the connection a leader holds its lock on, named so
// operators can tell the leader in pg_stat_activity, and returns the key of
// name's advisory lock. The key covers the schema too, so separate schemas
// (tests, tenants) elect separately.
func connectLeader(ctx context.Context, dsn, name string) (*pgx.Conn, int64, error) {
	config, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, 0, fmt.Errorf("lead %s: %w", name, err)
	}
	config.RuntimeParams["application_name"] = LeaderApplicationName(name)
	conn, err := pgx.ConnectConfig(ctx, config)
	if err != nil {
		return nil, 0, fmt.Errorf("lead %s: %w", name, err)
	}
	var schema string
	if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		conn.Close(context.Background())
		return nil, 0, fmt.Errorf("lead %s: %w", name, err)
	}
	h := fnv.New64a()
	h.Write([]byte("hookflow leader\x00" + schema + "\x00" + name))
	return conn, int64(h.Sum64() >> 1), nil
}

// LeaderApplicationName is the application_name of the connection that
// holds the leadership of name, as pg_stat_activity shows it.
func LeaderApplicationName(name string) string { return "hookflow leader: " + name }

// holdLead watches the connection holding a leader's lock until the
// leadership ends; closing the connection gives the lock up.
func holdLead(ctx context.Context, conn *pgx.Conn) (context.Context, func()) {
	lead, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer conn.Close(context.Background())
		ticker := time.NewTicker(leaderCheck)
		defer ticker.Stop()
		for {
			select {
			case <-lead.Done():
				return
			case <-ticker.C:
			}
			pingCtx, stop := context.WithTimeout(lead, leaderCheck)
			err := conn.Ping(pingCtx)
			stop()
			if err != nil && lead.Err() == nil {
				cancel(ErrLeadershipLost)
				return
			}
		}
	}()
	return lead, func() {
		cancel(nil)
		<-done
	}
}

// FlowsFingerprint changes whenever a flow is created, saved, activated,
// deactivated or deleted: other processes poll it to follow such changes
// made through one of them.
func (db *DB) FlowsFingerprint(ctx context.Context) (string, error) {
	// The newest updated_at is read as whatever the driver gives: it only
	// has to differ when a flow changed.
	var deleted, count int64
	var updated any
	row := db.read.WithContext(ctx).Raw(`SELECT COUNT(deleted_at), COUNT(*), MAX(updated_at) FROM flows`).Row()
	if err := row.Scan(&deleted, &count, &updated); err != nil {
		return "", fmt.Errorf("flows fingerprint: %w", err)
	}
	return fmt.Sprintf("%d-%d@%v", count, deleted, updated), nil
}
