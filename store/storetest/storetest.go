// Package storetest opens throwaway, migrated databases for tests: a SQLite
// file always, and a fresh Postgres schema when TEST_DATABASE_URL is set.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/store"
)

// PostgresURLEnv names the variable holding the Postgres test server's URL.
const PostgresURLEnv = "TEST_DATABASE_URL"

// Dialects lists the dialects to test on here: SQLite always, Postgres when
// TEST_DATABASE_URL is set.
func Dialects() []string {
	if os.Getenv(PostgresURLEnv) == "" {
		return []string{store.DialectSQLite}
	}
	return []string{store.DialectSQLite, store.DialectPostgres}
}

// Each runs fn as a parallel subtest on every dialect in Dialects, with a
// fresh database each.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	for _, dialect := range Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			fn(t, Open(t, dialect))
		})
	}
}

// Open returns a migrated, empty database of the dialect, removed when the
// test ends.
func Open(t testing.TB, dialect string) *store.DB {
	t.Helper()
	opts := Options(t, dialect)
	db, err := store.Open(context.Background(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.Migrate(context.Background())
	require.NoError(t, err)
	return db
}

// Options returns connection options for a new, empty database of the
// dialect, without opening it: for tests that start a server process
// themselves. The database is removed when the test ends.
func Options(t testing.TB, dialect string) store.Options {
	t.Helper()
	if dialect == store.DialectSQLite {
		return store.Options{URL: "sqlite:" + filepath.Join(t.TempDir(), "hookflow.db")}
	}
	return store.Options{URL: postgresSchema(t)}
}

// postgresSchema creates a schema with a random name and returns a URL whose
// connections use it, so parallel tests never see each other's tables.
func postgresSchema(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresURLEnv)
	if base == "" {
		t.Skip(PostgresURLEnv + " is not set")
	}
	admin, err := sql.Open("pgx", base)
	require.NoError(t, err)
	defer admin.Close()

	suffix := make([]byte, 8)
	_, _ = rand.Read(suffix)
	name := "test_" + hex.EncodeToString(suffix)
	_, err = admin.Exec("CREATE SCHEMA " + name)
	require.NoError(t, err, "create schema in %s", base)
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer admin.Close()
		_, _ = admin.Exec("DROP SCHEMA " + name + " CASCADE")
	})

	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}
