package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// The Postgres pool is as large as the setting says, 32 by default, and
// too small a pool is refused.
func TestPostgresPoolSize(t *testing.T) {
	t.Parallel()
	opts := storetest.Options(t, store.DialectPostgres)
	for _, tt := range []struct{ setting, want int }{{0, store.DefaultMaxConns}, {5, 5}} {
		opts.MaxConns = tt.setting
		db, err := store.Open(context.Background(), opts)
		require.NoError(t, err)
		assert.Equal(t, tt.want, db.MaxOpenConns(), "setting %d", tt.setting)
		db.Close()
	}
	opts.MaxConns = store.MinMaxConns - 1
	_, err := store.Open(context.Background(), opts)
	assert.ErrorContains(t, err, "too small")
}
