package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

func TestInvitations(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		owner := newUser(t, db, "owner@example.com")
		expires := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
		invite := func(hash, email string, expires time.Time) *store.Invitation {
			t.Helper()
			inv, err := db.CreateInvitation(ctx, &store.Invitation{TokenHash: []byte(hash), Email: email, Role: "editor",
				InvitedBy: owner.ID, ExpiresAt: expires})
			require.NoError(t, err)
			return inv
		}
		accept := func(inv *store.Invitation, email string) (*store.User, error) {
			return db.AcceptInvitation(ctx, inv.ID, &store.User{Email: email, Name: "New", PasswordHash: []byte("h"), Role: inv.Role})
		}

		inv := invite("first", "New@Example.com", expires)
		assert.NotEmpty(t, inv.ID)
		assert.Equal(t, "new@example.com", inv.Email, "emails are kept lower-case")
		assert.Equal(t, "editor", inv.Role)
		assert.Equal(t, owner.ID, inv.InvitedBy)
		assert.Equal(t, expires, inv.ExpiresAt)
		assert.Nil(t, inv.AcceptedAt)
		got, err := db.GetInvitationByHash(ctx, []byte("first"))
		require.NoError(t, err)
		assert.Equal(t, inv, got)
		_, err = db.GetInvitationByHash(ctx, []byte("unknown"))
		assert.ErrorIs(t, err, store.ErrNotFound)

		user, err := accept(inv, "New@Example.com")
		require.NoError(t, err)
		assert.Equal(t, "new@example.com", user.Email)
		assert.Equal(t, "editor", user.Role)
		got, err = db.GetInvitationByHash(ctx, inv.TokenHash)
		require.NoError(t, err)
		require.NotNil(t, got.AcceptedAt, "accepted")
		assert.Equal(t, user.ID, got.UserID, "by the user it made")
		found, err := db.GetUserByEmail(ctx, "new@example.com")
		require.NoError(t, err)
		assert.Equal(t, user, found)
		_, err = accept(inv, "again@example.com")
		assert.ErrorIs(t, err, store.ErrUsed, "an invitation is accepted once")
		_, err = db.GetUserByEmail(ctx, "again@example.com")
		assert.ErrorIs(t, err, store.ErrNotFound)

		expired := invite("expired", "late@example.com", time.Now().Add(-time.Minute))
		_, err = accept(expired, "late@example.com")
		assert.ErrorIs(t, err, store.ErrExpired)
		_, err = db.GetUserByEmail(ctx, "late@example.com")
		assert.ErrorIs(t, err, store.ErrNotFound)
		_, err = db.AcceptInvitation(ctx, "no-such-id", &store.User{Email: "x@example.com", Role: "viewer"})
		assert.ErrorIs(t, err, store.ErrNotFound)

		taken := invite("taken", "", expires)
		_, err = accept(taken, "OWNER@example.com")
		assert.ErrorIs(t, err, store.ErrExists, "the email is another user's")
		got, err = db.GetInvitationByHash(ctx, taken.TokenHash)
		require.NoError(t, err)
		assert.Nil(t, got.AcceptedAt, "the acceptance was rolled back")
		assert.Empty(t, got.UserID)
		_, err = accept(taken, "chosen@example.com")
		require.NoError(t, err, "and the invitation is still good")

		pending := invite("pending", "later@example.com", expires)
		list, err := db.ListInvitations(ctx)
		require.NoError(t, err)
		ids := make([]string, len(list))
		for i, l := range list {
			ids[i] = l.ID
		}
		assert.Equal(t, []string{pending.ID, expired.ID}, ids, "not accepted, expired or not, newest first")

		require.NoError(t, db.DeleteInvitation(ctx, pending.ID))
		_, err = db.GetInvitationByHash(ctx, pending.TokenHash)
		assert.ErrorIs(t, err, store.ErrNotFound)
		assert.ErrorIs(t, db.DeleteInvitation(ctx, pending.ID), store.ErrNotFound)
	})
}

func TestConcurrentAcceptsOfAnInvitationOneWins(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		inv, err := db.CreateInvitation(ctx, &store.Invitation{TokenHash: []byte("race"), Role: "admin", ExpiresAt: time.Now().Add(time.Hour)})
		require.NoError(t, err)
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				// Each tries its own email: only the invitation is contended.
				_, errs[i] = db.AcceptInvitation(ctx, inv.ID, &store.User{Email: "racer" + string(rune('a'+i)) + "@example.com",
					PasswordHash: []byte("h"), Role: "admin"})
			})
		}
		close(start)
		wg.Wait()
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
				continue
			}
			assert.ErrorIs(t, err, store.ErrUsed)
		}
		assert.Equal(t, 1, won, "exactly one accept wins")
		users, err := db.ListUsers(ctx)
		require.NoError(t, err)
		assert.Len(t, users, 1, "and only it made a user")
		got, err := db.GetInvitationByHash(ctx, inv.TokenHash)
		require.NoError(t, err)
		require.Len(t, users, 1)
		assert.Equal(t, users[0].ID, got.UserID)
	})
}
