package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// TestMigrationMovesRunStepsToRecords upgrades a database holding runs
// recorded one row per attempt (run_steps, before migration 7) and reads
// the same steps back, then goes on writing the run.
func TestMigrationMovesRunStepsToRecords(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			opts := storetest.Options(t, dialect)
			db, err := store.Open(ctx, opts)
			require.NoError(t, err)
			defer db.Close()
			_, err = db.MigrateTo(ctx, 6)
			require.NoError(t, err)

			raw := rawDB(t, dialect, opts.URL)
			// The flow as version 6 stored it.
			const flowID = "01a23cf0-0000-7000-8000-000000000001"
			now := time.Now().UTC()
			_, err = raw.Exec(rebind(dialect, `INSERT INTO flows (id, name, version, active, hook_key, created_at, updated_at, concurrency)
				VALUES (?, 'old', 1, FALSE, 'key-old', ?, ?, 0)`), flowID, now, now)
			require.NoError(t, err)
			_, err = raw.Exec(rebind(dialect, `INSERT INTO flow_versions (flow_id, version, name, definition, created_at) VALUES (?, 1, 'old', '{}', ?)`),
				flowID, now)
			require.NoError(t, err)
			// The run as version 6 stored it.
			const id = "01a23cf0-0000-7000-8000-000000000002"
			_, err = raw.Exec(rebind(dialect, `INSERT INTO runs (id, flow_id, flow_version, status, trigger_type, trigger_data, created_at, available_at)
				VALUES (?, ?, 1, 'queued', 'test', '{}', ?, ?)`), id, flowID, now, now)
			require.NoError(t, err)
			started := time.Date(2026, 11, 30, 12, 0, 0, 123456000, time.UTC)
			insert := rebind(dialect, `INSERT INTO run_steps (run_id, node_id, iteration, attempt, seq, status, port, input, output, error, logs,
				interrupted, resume_at, started_at, duration_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
			empty := ""
			_, err = raw.Exec(insert, id, "hook", "", 1, 1, "succeeded", &empty, nil, `{"body":{"n":1}}`, "", nil, false, nil, started, 10)
			require.NoError(t, err)
			_, err = raw.Exec(insert, id, "call", "", 1, 2, "failed", nil, `{"n":1}`, nil, "boom", `[{"msg":"x"}]`, false, started, started, 2500)
			require.NoError(t, err)

			applied, err := db.Migrate(ctx)
			require.NoError(t, err)
			assert.Contains(t, applied, int64(7))
			steps, err := db.ListSteps(ctx, id)
			require.NoError(t, err)
			require.Len(t, steps, 2)
			assert.Equal(t, "hook", steps[0].NodeID)
			assert.Equal(t, "", *steps[0].Port)
			assert.JSONEq(t, `{"body":{"n":1}}`, string(steps[0].Output))
			assert.Equal(t, started, steps[0].StartedAt)
			assert.Equal(t, "call", steps[1].NodeID)
			assert.Nil(t, steps[1].Port)
			assert.JSONEq(t, `{"n":1}`, string(steps[1].Input))
			assert.Equal(t, "boom", steps[1].Error)
			assert.JSONEq(t, `[{"msg":"x"}]`, string(steps[1].Logs))
			require.NotNil(t, steps[1].ResumeAt)
			assert.Equal(t, started, *steps[1].ResumeAt)
			assert.Equal(t, 2500*time.Microsecond, steps[1].Duration)

			// The run's next claim writes after the moved records.
			claimed, err := db.ClaimRuns(ctx, "w", 1)
			require.NoError(t, err)
			require.Len(t, claimed, 1)
			retry := &store.Step{RunID: id, NodeID: "call", Attempt: 2, Seq: 3, Status: store.StepSucceeded, StartedAt: time.Now()}
			require.NoError(t, <-db.FinishRun(store.Write{Owner: "w", RunID: id, N: store.WriteNumber(claimed[0].Claims, 1),
				Steps: []*store.Step{retry}}, store.RunSucceeded, ""))
			steps, err = db.ListSteps(ctx, id)
			require.NoError(t, err)
			assert.Len(t, steps, 3)
		})
	}
}

// rebind writes a statement's ? placeholders as the dialect wants them.
func rebind(dialect, query string) string {
	if dialect == store.DialectSQLite {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// rawDB opens a plain connection to a test database, to write what an
// older version would have.
func rawDB(t *testing.T, dialect, url string) *sql.DB {
	t.Helper()
	driver, dsn := "pgx", url
	if dialect == store.DialectSQLite {
		driver, dsn = "sqlite", strings.TrimPrefix(url, "sqlite:")
	}
	db, err := sql.Open(driver, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// TestAccountsMigrationGoesDownAndUp rolls migration 13 back and applies it
// again: the sessions keep their users, and the store works as before.
func TestAccountsMigrationGoesDownAndUp(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			opts := storetest.Options(t, dialect)
			db, err := store.Open(ctx, opts)
			require.NoError(t, err)
			defer db.Close()
			_, err = db.Migrate(ctx)
			require.NoError(t, err)
			ada, err := db.CreateUser(ctx, &store.User{Email: "ada@example.com", PasswordHash: []byte("h"), Role: "owner"})
			require.NoError(t, err)
			session := []byte("ada-session")
			require.NoError(t, db.CreateSession(ctx, &store.Session{IDHash: session, UserID: ada.ID, IP: "10.0.0.1",
				UserAgent: "curl", ExpiresAt: time.Now().Add(time.Hour)}))
			_, err = db.CreateUserToken(ctx, &store.UserToken{UserID: ada.ID, Name: "ci", Hash: []byte("token")})
			require.NoError(t, err)
			require.NoError(t, db.AppendAudit(ctx, &store.AuditEvent{ActorKind: "system", Action: "user.created"}))

			require.NoError(t, db.MigrateDownTo(ctx, 12))
			version, pending, err := db.SchemaVersion(ctx)
			require.NoError(t, err)
			assert.Equal(t, int64(12), version)
			assert.True(t, pending)
			raw := rawDB(t, dialect, opts.URL)
			var userID string
			require.NoError(t, raw.QueryRow(`SELECT user_id FROM sessions`).Scan(&userID))
			assert.Equal(t, ada.ID, userID, "the session keeps its user")
			for _, table := range []string{"user_tokens", "invitations", "audit_events"} {
				_, err := raw.Exec(`SELECT 1 FROM ` + table)
				assert.Error(t, err, "%s is gone", table)
			}

			applied, err := db.Migrate(ctx)
			require.NoError(t, err)
			assert.Equal(t, []int64{13, 14}, applied, "13 and what came after it")
			got, err := db.GetSession(ctx, session)
			require.NoError(t, err)
			assert.Equal(t, ada.ID, got.UserID)
			assert.Empty(t, got.IP, "what migration 13 added is gone")
			_, err = db.CreateUserToken(ctx, &store.UserToken{UserID: ada.ID, Name: "ci", Hash: []byte("token")})
			require.NoError(t, err)
			require.NoError(t, db.DeleteUser(ctx, ada.ID), "the rebuilt sessions table still refers to users")
		})
	}
}
