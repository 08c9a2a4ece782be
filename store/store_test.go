package store_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// The conformance suite: every test runs on SQLite, and on Postgres when
// TEST_DATABASE_URL is set.

func TestFlowLifecycle(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		v1 := []byte(`{"name":"one","nodes":[],"edges":[]}`)
		created, err := db.CreateFlow(ctx, store.FlowDocument{Name: "one", Definition: v1})
		require.NoError(t, err)
		assert.Equal(t, 1, created.Version)
		assert.False(t, created.Active)
		assert.Len(t, created.HookKey, 26, "hook key carries at least 128 bits")

		got, err := db.GetFlow(ctx, created.ID)
		require.NoError(t, err)
		assert.Equal(t, created, got, "a flow reads back as it was written")

		v2 := []byte(`{"name":"two","nodes":[],"edges":[]}`)
		updated, err := db.UpdateFlow(ctx, created.ID, store.FlowDocument{Name: "two", Definition: v2}, true)
		require.NoError(t, err)
		assert.Equal(t, 2, updated.Version)
		assert.Equal(t, "two", updated.Name)
		assert.Equal(t, created.HookKey, updated.HookKey, "the hook key survives edits")
		assert.Equal(t, created.CreatedAt, updated.CreatedAt)

		got, err = db.GetFlow(ctx, created.ID)
		require.NoError(t, err)
		assert.JSONEq(t, string(v2), string(got.Definition))

		versions, err := db.ListFlowVersions(ctx, created.ID)
		require.NoError(t, err)
		require.Len(t, versions, 2)
		assert.Equal(t, []int{2, 1}, []int{versions[0].Version, versions[1].Version})
		assert.Nil(t, versions[0].Definition, "lists leave definitions out")

		old, err := db.GetFlowVersion(ctx, created.ID, 1)
		require.NoError(t, err)
		assert.JSONEq(t, string(v1), string(old.Definition))
		assert.Equal(t, "one", old.Name)

		active, err := db.SetFlowActive(ctx, created.ID, true, 2)
		require.NoError(t, err)
		assert.True(t, active.Active)
		assert.Equal(t, 2, active.Version)

		require.NoError(t, db.DeleteFlow(ctx, created.ID))
		_, err = db.GetFlow(ctx, created.ID)
		assert.ErrorIs(t, err, store.ErrNotFound, "a deleted flow is out of sight")
		assert.ErrorIs(t, db.DeleteFlow(ctx, created.ID), store.ErrNotFound, "and cannot be deleted twice")
		_, err = db.SetFlowActive(ctx, created.ID, true, 2)
		assert.ErrorIs(t, err, store.ErrNotFound)
		_, err = db.UpdateFlow(ctx, created.ID, store.FlowDocument{Name: "back", Definition: v2}, true)
		assert.ErrorIs(t, err, store.ErrNotFound)
		flows, err := db.ListFlows(ctx)
		require.NoError(t, err)
		assert.Empty(t, flows)
		_, err = db.FlowByHookKey(ctx, created.HookKey)
		assert.ErrorIs(t, err, store.ErrNotFound, "its trigger URL answers no more")
		kept, err := db.GetFlowVersion(ctx, created.ID, 1)
		require.NoError(t, err, "its versions stay for the runs that ran them")
		assert.JSONEq(t, string(v1), string(kept.Definition))
	})
}

func TestUnknownFlow(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const id = "0190a4c8-0000-7000-8000-000000000000"
		calls := map[string]func() error{
			"get": func() error { _, err := db.GetFlow(ctx, id); return err },
			"update": func() error {
				_, err := db.UpdateFlow(ctx, id, store.FlowDocument{Name: "x", Definition: []byte(`{}`)}, true)
				return err
			},
			"delete":  func() error { return db.DeleteFlow(ctx, id) },
			"active":  func() error { _, err := db.SetFlowActive(ctx, id, true, 1); return err },
			"version": func() error { _, err := db.GetFlowVersion(ctx, id, 1); return err },
			"list":    func() error { _, err := db.ListFlowVersions(ctx, id); return err },
		}
		for name, call := range calls {
			assert.ErrorIs(t, call(), store.ErrNotFound, name)
		}
	})
}

// TestFlowWritesKeepToWhatWasChecked: a draft's save does not land on a
// flow activated meanwhile, nor an activation on a version saved
// meanwhile; each answers ErrFlowChanged for the caller to check again.
func TestFlowWritesKeepToWhatWasChecked(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		id := newFlow(t, db)
		doc := store.FlowDocument{Name: "f", Definition: []byte(`{}`)}

		saved, err := db.UpdateFlow(ctx, id, doc, false)
		require.NoError(t, err, "a draft saves while the flow is inactive")
		require.Equal(t, 2, saved.Version)
		_, err = db.SetFlowActive(ctx, id, true, 1)
		assert.ErrorIs(t, err, store.ErrFlowChanged, "version 1 was checked, version 2 is current")
		active, err := db.SetFlowActive(ctx, id, true, 2)
		require.NoError(t, err)
		assert.True(t, active.Active)

		_, err = db.UpdateFlow(ctx, id, doc, false)
		assert.ErrorIs(t, err, store.ErrFlowChanged, "a draft's check does not hold for an active flow")
		got, err := db.GetFlow(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, 2, got.Version, "nothing was saved")
		saved, err = db.UpdateFlow(ctx, id, doc, true)
		require.NoError(t, err, "checked as active, it saves")
		assert.Equal(t, 3, saved.Version)
		assert.True(t, saved.Active)

		inactive, err := db.SetFlowActive(ctx, id, false, 0)
		require.NoError(t, err, "deactivation checks nothing")
		assert.False(t, inactive.Active)
	})
}

func TestListFlowsNewestFirst(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var ids []string
		for i := range 3 {
			f, err := db.CreateFlow(ctx, store.FlowDocument{Name: fmt.Sprintf("flow %d", i), Definition: []byte(`{}`)})
			require.NoError(t, err)
			ids = append(ids, f.ID)
		}
		// Editing the oldest makes it the most recently updated.
		_, err := db.UpdateFlow(ctx, ids[0], store.FlowDocument{Name: "flow 0 edited", Definition: []byte(`{}`)}, true)
		require.NoError(t, err)

		flows, err := db.ListFlows(ctx)
		require.NoError(t, err)
		require.Len(t, flows, 3)
		assert.Equal(t, []string{ids[0], ids[2], ids[1]}, []string{flows[0].ID, flows[1].ID, flows[2].ID})
		assert.JSONEq(t, `{}`, string(flows[0].Definition))
		assert.Equal(t, "flow 0 edited", flows[0].Name)
	})
}

func TestConcurrentUpdatesGetConsecutiveVersions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f, err := db.CreateFlow(ctx, store.FlowDocument{Name: "busy", Definition: []byte(`{}`)})
		require.NoError(t, err)

		const writers = 8
		versions := make([]int, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				updated, err := db.UpdateFlow(ctx, f.ID, store.FlowDocument{Name: fmt.Sprintf("v%d", i), Definition: []byte(`{}`)}, true)
				if assert.NoError(t, err) {
					versions[i] = updated.Version
				}
			})
		}
		wg.Wait()
		sort.Ints(versions)
		assert.Equal(t, []int{2, 3, 4, 5, 6, 7, 8, 9}, versions)
	})
}

func TestHookKeysAreUnique(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seen := map[string]bool{}
		for range 50 {
			f, err := db.CreateFlow(context.Background(), store.FlowDocument{Name: "f", Definition: []byte(`{}`)})
			require.NoError(t, err)
			assert.False(t, seen[f.HookKey])
			seen[f.HookKey] = true
		}
	})
}

func TestTokens(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		has, err := db.HasToken(ctx, "admin")
		require.NoError(t, err)
		assert.False(t, has)

		require.NoError(t, db.PutToken(ctx, "admin", []byte("hash-1")))
		require.NoError(t, db.PutToken(ctx, "ci", []byte("hash-2")))
		require.NoError(t, db.PutToken(ctx, "admin", []byte("hash-3")), "putting a name again replaces it")

		has, err = db.HasToken(ctx, "admin")
		require.NoError(t, err)
		assert.True(t, has)
		hashes, err := db.TokenHashes(ctx)
		require.NoError(t, err)
		assert.ElementsMatch(t, [][]byte{[]byte("hash-3"), []byte("hash-2")}, hashes)
	})
}

func TestMigrationsAreCurrentAndIdempotent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		applied, err := db.Migrate(ctx)
		require.NoError(t, err)
		assert.Empty(t, applied, "a second migrate applies nothing")
		version, pending, err := db.SchemaVersion(ctx)
		require.NoError(t, err)
		assert.False(t, pending)
		assert.Positive(t, version)
	})
}

func TestSurvivesReopen(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			opts := storetest.Options(t, dialect)
			db, err := store.Open(ctx, opts)
			require.NoError(t, err)
			_, err = db.Migrate(ctx)
			require.NoError(t, err)
			f, err := db.CreateFlow(ctx, store.FlowDocument{Name: "kept", Definition: []byte(`{"name":"kept"}`)})
			require.NoError(t, err)
			require.NoError(t, db.Close())

			db, err = store.Open(ctx, opts)
			require.NoError(t, err)
			defer db.Close()
			_, pending, err := db.SchemaVersion(ctx)
			require.NoError(t, err)
			assert.False(t, pending)
			got, err := db.GetFlow(ctx, f.ID)
			require.NoError(t, err)
			assert.Equal(t, "kept", got.Name)
		})
	}
}

func TestSessions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ada := newUser(t, db, "ada@example.com")
		bob := newUser(t, db, "bob@example.com")
		until := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
		create := func(hash, userID string, expires time.Time) []byte {
			t.Helper()
			s := &store.Session{IDHash: []byte(hash), UserID: userID, IP: "10.0.0.1", UserAgent: "curl/8 " + hash, ExpiresAt: expires}
			require.NoError(t, db.CreateSession(ctx, s))
			return s.IDHash
		}
		expired := create("ada-expired", ada.ID, time.Now().Add(-time.Minute))
		first := create("ada-first", ada.ID, until)
		second := create("ada-second", ada.ID, until)
		admin := create("admin", "", until)
		bobs := create("bob", bob.ID, until)

		got, err := db.GetSession(ctx, first)
		require.NoError(t, err)
		assert.Equal(t, ada.ID, got.UserID)
		assert.Equal(t, "10.0.0.1", got.IP)
		assert.Equal(t, "curl/8 ada-first", got.UserAgent)
		assert.Equal(t, until, got.ExpiresAt)
		assert.WithinDuration(t, time.Now(), got.CreatedAt, time.Minute)
		got, err = db.GetSession(ctx, admin)
		require.NoError(t, err)
		assert.Empty(t, got.UserID, "a session of the admin token has no user")
		_, err = db.GetSession(ctx, expired)
		assert.ErrorIs(t, err, store.ErrNotFound, "an expired session is no session")
		_, err = db.GetSession(ctx, []byte("unknown"))
		assert.ErrorIs(t, err, store.ErrNotFound)

		list, err := db.ListSessions(ctx, ada.ID)
		require.NoError(t, err)
		assert.Equal(t, [][]byte{second, first}, sessionHashes(list), "live ones, newest first")
		list, err = db.ListSessions(ctx, "")
		require.NoError(t, err)
		assert.Equal(t, [][]byte{admin}, sessionHashes(list), "\"\" lists the admin token's")

		third := create("ada-third", ada.ID, until)
		n, err := db.DeleteUserSessions(ctx, ada.ID, second)
		require.NoError(t, err)
		assert.Equal(t, 2, n, "all live ones but the one kept")
		list, err = db.ListSessions(ctx, ada.ID)
		require.NoError(t, err)
		assert.Equal(t, [][]byte{second}, sessionHashes(list))
		for _, other := range [][]byte{admin, bobs} {
			_, err = db.GetSession(ctx, other)
			assert.NoError(t, err, "another user's sessions stay")
		}
		_, err = db.GetSession(ctx, third)
		assert.ErrorIs(t, err, store.ErrNotFound)
		n, err = db.DeleteUserSessions(ctx, ada.ID, nil)
		require.NoError(t, err)
		assert.Equal(t, 1, n, "nil keeps none")

		require.NoError(t, db.DeleteSession(ctx, admin))
		_, err = db.GetSession(ctx, admin)
		assert.ErrorIs(t, err, store.ErrNotFound, "a deleted session is gone")

		require.NoError(t, db.ForeignKeysOff(ctx), "the sessions must end by statement, not by cascade")
		require.NoError(t, db.DeleteUser(ctx, bob.ID))
		_, err = db.GetSession(ctx, bobs)
		assert.ErrorIs(t, err, store.ErrNotFound, "a user's sessions end with them")
	})
}

// newUser makes a viewer with the email.
func newUser(t *testing.T, db *store.DB, email string) *store.User {
	t.Helper()
	u, err := db.CreateUser(context.Background(), &store.User{Email: email, PasswordHash: []byte("hash"), Role: "viewer"})
	require.NoError(t, err)
	return u
}

func sessionHashes(sessions []*store.Session) [][]byte {
	hashes := make([][]byte, len(sessions))
	for i, s := range sessions {
		hashes[i] = s.IDHash
	}
	return hashes
}

func TestUsers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ada, err := db.CreateUser(ctx, &store.User{Email: "Ada@Example.com", Name: "Ada", PasswordHash: []byte("hash-a"), Role: "owner"})
		require.NoError(t, err)
		assert.NotEmpty(t, ada.ID)
		assert.Equal(t, "ada@example.com", ada.Email, "emails are kept lower-case")
		_, err = db.CreateUser(ctx, &store.User{Email: "ADA@example.com", PasswordHash: []byte("h"), Role: "viewer"})
		assert.ErrorIs(t, err, store.ErrExists, "an email is one user's, in any case")
		bob, err := db.CreateUser(ctx, &store.User{Email: "bob@example.com", PasswordHash: []byte("hash-b"), Role: "editor"})
		require.NoError(t, err)

		got, err := db.GetUserByEmail(ctx, "ADA@EXAMPLE.COM")
		require.NoError(t, err)
		assert.Equal(t, ada.ID, got.ID)
		assert.Equal(t, []byte("hash-a"), got.PasswordHash)
		_, err = db.GetUserByEmail(ctx, "nobody@example.com")
		assert.ErrorIs(t, err, store.ErrNotFound)
		_, err = db.GetUser(ctx, "no-such-id")
		assert.ErrorIs(t, err, store.ErrNotFound)

		bob.Role, bob.Name, bob.PasswordHash = "viewer", "Bob", []byte("hash-b2")
		updated, err := db.UpdateUser(ctx, bob)
		require.NoError(t, err)
		assert.Equal(t, "viewer", updated.Role)
		assert.Equal(t, "Bob", updated.Name)
		assert.Equal(t, []byte("hash-b2"), updated.PasswordHash)
		assert.Equal(t, "bob@example.com", updated.Email)
		_, err = db.UpdateUser(ctx, &store.User{ID: "no-such-id", Role: "viewer"})
		assert.ErrorIs(t, err, store.ErrNotFound)

		list, err := db.ListUsers(ctx)
		require.NoError(t, err)
		require.Len(t, list, 2)
		assert.Equal(t, []string{"ada@example.com", "bob@example.com"}, []string{list[0].Email, list[1].Email})

		require.NoError(t, db.DeleteUser(ctx, bob.ID))
		_, err = db.GetUser(ctx, bob.ID)
		assert.ErrorIs(t, err, store.ErrNotFound)
		assert.ErrorIs(t, db.DeleteUser(ctx, bob.ID), store.ErrNotFound)
	})
}
