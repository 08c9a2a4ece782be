package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

func TestUserTokens(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ada := newUser(t, db, "ada@example.com")
		bob := newUser(t, db, "bob@example.com")
		expires := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
		create := func(userID, name string, scopes []string, expires *time.Time) *store.UserToken {
			t.Helper()
			tok, err := db.CreateUserToken(ctx, &store.UserToken{UserID: userID, Name: name, Hash: []byte(userID + "/" + name),
				Scopes: scopes, ExpiresAt: expires})
			require.NoError(t, err)
			return tok
		}
		ci := create(ada.ID, "ci", []string{"flows:read", "runs:write"}, &expires)
		laptop := create(ada.ID, "laptop", nil, nil)
		past := time.Now().Add(-time.Hour)
		old := create(ada.ID, "old", []string{"flows:read"}, &past)
		bobs := create(bob.ID, "ci", nil, nil)

		_, err := db.CreateUserToken(ctx, &store.UserToken{UserID: ada.ID, Name: "ci", Hash: []byte("another")})
		assert.ErrorIs(t, err, store.ErrExists, "a name is one token's per user")

		got, err := db.GetUserTokenByHash(ctx, []byte(ada.ID+"/ci"))
		require.NoError(t, err)
		assert.Equal(t, ci, got)
		assert.NotEmpty(t, got.ID)
		assert.Equal(t, ada.ID, got.UserID)
		assert.Equal(t, "ci", got.Name)
		assert.Equal(t, []string{"flows:read", "runs:write"}, got.Scopes)
		require.NotNil(t, got.ExpiresAt)
		assert.Equal(t, expires, *got.ExpiresAt)
		assert.Nil(t, got.LastUsedAt)
		assert.WithinDuration(t, time.Now(), got.CreatedAt, time.Minute)
		got, err = db.GetUserTokenByHash(ctx, []byte(ada.ID+"/laptop"))
		require.NoError(t, err)
		assert.Empty(t, got.Scopes, "no scopes: all of the user's permissions")
		assert.Nil(t, got.ExpiresAt)
		got, err = db.GetUserTokenByHash(ctx, []byte(ada.ID+"/old"))
		require.NoError(t, err, "an expired token is found: the caller tells it is expired")
		assert.Equal(t, old.ID, got.ID)
		_, err = db.GetUserTokenByHash(ctx, []byte("unknown"))
		assert.ErrorIs(t, err, store.ErrNotFound)

		list, err := db.ListUserTokens(ctx, ada.ID)
		require.NoError(t, err)
		assert.Equal(t, []string{old.ID, laptop.ID, ci.ID}, tokenIDs(list), "newest first")
		list, err = db.ListUserTokens(ctx, "")
		require.NoError(t, err)
		assert.Equal(t, []string{bobs.ID, old.ID, laptop.ID, ci.ID}, tokenIDs(list), "everyone's")

		used := time.Now().Add(-time.Second)
		require.NoError(t, db.TouchUserToken(ctx, ci.ID, used))
		got, err = db.GetUserTokenByHash(ctx, ci.Hash)
		require.NoError(t, err)
		require.NotNil(t, got.LastUsedAt)
		assert.Equal(t, used.UTC().Truncate(time.Microsecond), *got.LastUsedAt)
		assert.ErrorIs(t, db.TouchUserToken(ctx, "no-such-id", used), store.ErrNotFound)

		require.NoError(t, db.DeleteUserToken(ctx, laptop.ID))
		_, err = db.GetUserTokenByHash(ctx, laptop.Hash)
		assert.ErrorIs(t, err, store.ErrNotFound)
		assert.ErrorIs(t, db.DeleteUserToken(ctx, laptop.ID), store.ErrNotFound)

		require.NoError(t, db.ForeignKeysOff(ctx), "the tokens must go by statement, not by cascade")
		require.NoError(t, db.DeleteUser(ctx, ada.ID))
		list, err = db.ListUserTokens(ctx, "")
		require.NoError(t, err)
		assert.Equal(t, []string{bobs.ID}, tokenIDs(list), "a user's tokens go with them")
		_, err = db.GetUserTokenByHash(ctx, ci.Hash)
		assert.ErrorIs(t, err, store.ErrNotFound)
	})
}

func tokenIDs(tokens []*store.UserToken) []string {
	ids := make([]string, len(tokens))
	for i, tok := range tokens {
		ids[i] = tok.ID
	}
	return ids
}
