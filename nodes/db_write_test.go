package nodes

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/engine/expression"
	"github.com/hookflow/hookflow/store/storetest"
)

// dbCreds opens database credentials from a map.
type dbCreds map[string]*Credential

func (c dbCreds) Open(_ context.Context, name string) (*Credential, error) {
	if cred, ok := c[name]; ok {
		return cred, nil
	}
	return nil, fmt.Errorf("open %s: %w", name, ErrNoCredential)
}

// testDatabase is a fresh database of a dialect with an orders table, and
// the credential URL that reaches it.
func testDatabase(t *testing.T, dialect string) (*sql.DB, string) {
	t.Helper()
	var credURL, ddl string
	switch dialect {
	case DialectSQLite:
		credURL = "sqlite://" + filepath.Join(t.TempDir(), "shop.db")
		ddl = `CREATE TABLE orders (id INTEGER PRIMARY KEY, shop TEXT NOT NULL, number INTEGER NOT NULL, email TEXT NOT NULL UNIQUE,
			total REAL, items TEXT, status TEXT DEFAULT 'new', UNIQUE (shop, number))`
	default:
		credURL = storetest.Options(t, "postgres").URL
		ddl = `CREATE TABLE orders (id SERIAL PRIMARY KEY, shop TEXT NOT NULL, number INTEGER NOT NULL, email TEXT NOT NULL UNIQUE,
			total DOUBLE PRECISION, items TEXT, status TEXT DEFAULT 'new', UNIQUE (shop, number))`
	}
	d, dsn, err := DatabaseDSN(credURL)
	require.NoError(t, err)
	require.Equal(t, dialect, d)
	driver := map[string]string{DialectSQLite: "sqlite", DialectPostgres: "pgx"}[dialect]
	db, err := sql.Open(driver, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.Exec(ddl)
	require.NoError(t, err)
	return db, credURL
}

func dbInput(t *testing.T, credURL string, input any) *Input {
	t.Helper()
	dbs := NewDatabases(nil)
	t.Cleanup(func() { _ = dbs.Close() })
	creds := dbCreds{
		"shop":  {Name: "shop", Type: CredentialDatabase, Data: map[string]any{"url": credURL}, Secrets: []string{credURL}},
		"slack": {Name: "slack", Type: CredentialSlack, Data: map[string]any{"token": "xoxb-1"}},
		"down":  {Name: "down", Type: CredentialDatabase, Data: map[string]any{"url": "postgres://nobody@127.0.0.1:1/none?connect_timeout=2"}},
	}
	return &Input{
		Scope:    &expression.Scope{Trigger: map[string]any{}, Steps: map[string]any{}, Input: input},
		Logger:   slog.New(slog.DiscardHandler),
		Services: &Services{Credentials: creds, Databases: dbs},
		Secrets:  &Secrets{},
	}
}

func dialects() []string {
	return []string{DialectSQLite, DialectPostgres}
}

func TestDBWrite(t *testing.T) {
	t.Parallel()
	for _, dialect := range dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			db, credURL := testDatabase(t, dialect)
			ctx := context.Background()
			order := map[string]any{"shop": "acme", "number": 1001, "email": "ada@example.com", "total": 25.5,
				"items": []any{map[string]any{"sku": "A1", "qty": 2}}}
			in := dbInput(t, credURL, order)

			insert := build(t, "db.write", `{"credential": "shop", "table": "orders", "values": {
				"shop": "input.shop", "number": "input.number", "email": "input.email", "total": "input.total", "items": "input.items"}}`)
			res, err := insert.Run(ctx, in)
			require.NoError(t, err)
			out := res.Output.(map[string]any)
			assert.Equal(t, 1, out["rows_affected"])
			row := out["row"].(map[string]any)
			assert.EqualValues(t, 1, row["id"], "the database's default id comes back")
			assert.Equal(t, "new", row["status"], "column defaults come back")
			assert.JSONEq(t, `[{"sku": "A1", "qty": 2}]`, row["items"].(string), "lists are stored as JSON text")

			// The same email again violates a unique constraint: final.
			_, err = insert.Run(ctx, dbInput(t, credURL, map[string]any{"shop": "acme", "number": 1002, "email": "ada@example.com"}))
			require.Error(t, err)
			assert.True(t, IsPermanent(err), "a constraint violation is final: %v", err)

			// Upsert on a composite key: the second write updates the row.
			upsert := build(t, "db.write", `{"credential": "shop", "table": "orders", "operation": "upsert", "conflict": ["shop", "number"],
				"values": {"shop": "input.shop", "number": "input.number", "email": "input.email", "total": "input.total"}}`)
			res, err = upsert.Run(ctx, dbInput(t, credURL, map[string]any{"shop": "acme", "number": 1001, "email": "ada@example.com", "total": 30}))
			require.NoError(t, err)
			row = res.Output.(map[string]any)["row"].(map[string]any)
			assert.EqualValues(t, 1, row["id"], "the existing row was updated")
			assert.EqualValues(t, 30, row["total"])
			res, err = upsert.Run(ctx, dbInput(t, credURL, map[string]any{"shop": "acme", "number": 1003, "email": "bob@example.com", "total": 5}))
			require.NoError(t, err)
			assert.NotEqualValues(t, 1, res.Output.(map[string]any)["row"].(map[string]any)["id"], "a new key inserts a new row")

			// An injection attempt is only ever a value.
			for i, evil := range []string{"'); DROP TABLE orders; --", "Robert'); DROP TABLE students;--"} {
				_, err := insert.Run(ctx, dbInput(t, credURL, map[string]any{"shop": evil, "number": 2000 + i, "email": evil + "@x"}))
				require.NoError(t, err)
				var stored string
				require.NoError(t, db.QueryRow(`SELECT shop FROM orders WHERE number = $1`, 2000+i).Scan(&stored))
				assert.Equal(t, evil, stored, "stored literally")
			}

			// Update changes only the matching rows.
			update := build(t, "db.write", `{"credential": "shop", "table": "orders", "operation": "update",
				"values": {"status": "'paid'"}, "where": {"shop": "input.shop", "number": "input.number"}}`)
			res, err = update.Run(ctx, dbInput(t, credURL, map[string]any{"shop": "acme", "number": 1003}))
			require.NoError(t, err)
			assert.EqualValues(t, 1, res.Output.(map[string]any)["rows_affected"])
			var paid int
			require.NoError(t, db.QueryRow(`SELECT count(*) FROM orders WHERE status = 'paid'`).Scan(&paid))
			assert.Equal(t, 1, paid)

			// A missing table is final; nil is stored as NULL.
			missing := build(t, "db.write", `{"credential": "shop", "table": "nope", "values": {"a": "1"}}`)
			_, err = missing.Run(ctx, in)
			require.Error(t, err)
			assert.True(t, IsPermanent(err), "%v", err)
			res, err = insert.Run(ctx, dbInput(t, credURL, map[string]any{"shop": "acme", "number": 3000, "email": "nil@example.com", "total": nil}))
			require.NoError(t, err)
			assert.Nil(t, res.Output.(map[string]any)["row"].(map[string]any)["total"])
		})
	}
}

func TestDBWriteFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	in := dbInput(t, "sqlite://"+filepath.Join(t.TempDir(), "x.db"), map[string]any{})

	_, err := build(t, "db.write", `{"credential": "down", "table": "t", "values": {"a": "1"}}`).Run(ctx, in)
	require.Error(t, err)
	assert.False(t, IsPermanent(err), "a database that does not answer may answer later: %v", err)

	_, err = build(t, "db.write", `{"credential": "slack", "table": "t", "values": {"a": "1"}}`).Run(ctx, in)
	require.Error(t, err)
	assert.True(t, IsPermanent(err))
	assert.Contains(t, err.Error(), "is of type slack")

	_, err = build(t, "db.write", `{"credential": "gone", "table": "t", "values": {"a": "1"}}`).Run(ctx, in)
	assert.True(t, IsPermanent(err))
}

func TestDBWriteChecksAtSave(t *testing.T) {
	t.Parallel()
	tests := []struct{ params, field, message string }{
		{`{"credential": "c", "table": "orders; drop", "values": {"a": "1"}}`, "table", "not a table name"},
		{`{"credential": "c", "table": "1abc", "values": {"a": "1"}}`, "table", "not a table name"},
		{`{"credential": "c", "table": "a.b.c", "values": {"a": "1"}}`, "table", "schema.table"},
		{`{"credential": "c", "table": "t", "values": {"a b": "1"}}`, "values", "not a column name"},
		{`{"credential": "c", "table": "t", "values": {"a\"": "1"}}`, "values", "not a column name"},
		{`{"credential": "c", "table": "t", "operation": "upsert", "values": {"a": "1"}}`, "conflict", "unique key"},
		{`{"credential": "c", "table": "t", "operation": "upsert", "conflict": ["b"], "values": {"a": "1"}}`, "conflict", "not among the values"},
		{`{"credential": "c", "table": "t", "operation": "update", "values": {"a": "1"}}`, "where", "every row"},
		{`{"credential": "c", "table": "t", "values": {"a": "1"}, "where": {"a": "1"}}`, "where", "only for update"},
		{`{"credential": "c", "table": "t", "values": {"a": "1"}, "conflict": ["a"]}`, "conflict", "only for upsert"},
	}
	for _, tt := range tests {
		errs := buildErrors(t, "db.write", tt.params)
		found := false
		for _, fe := range errs {
			if fe.Field == tt.field && strings.Contains(fe.Message, tt.message) {
				found = true
			}
		}
		assert.True(t, found, "%s: want %s: %s, got %v", tt.params, tt.field, tt.message, errs)
	}
	// schema.table is a table name.
	build(t, "db.write", `{"credential": "c", "table": "public.orders", "values": {"a": "1"}}`)
}

func TestDatabasesKeepOnePoolPerCredential(t *testing.T) {
	t.Parallel()
	dbs := NewDatabases(nil)
	defer dbs.Close()
	dir := t.TempDir()
	cred := &Credential{Name: "shop", Type: CredentialDatabase, Data: map[string]any{"url": "sqlite://" + filepath.Join(dir, "a.db")}}
	a, dialect, err := dbs.Open(context.Background(), cred)
	require.NoError(t, err)
	assert.Equal(t, DialectSQLite, dialect)
	again, _, err := dbs.Open(context.Background(), cred)
	require.NoError(t, err)
	assert.Same(t, a, again)
	changed := &Credential{Name: "shop", Type: CredentialDatabase, Data: map[string]any{"url": "sqlite://" + filepath.Join(dir, "b.db")}}
	b, _, err := dbs.Open(context.Background(), changed)
	require.NoError(t, err)
	assert.NotSame(t, a, b, "a changed URL opens a new pool")
	assert.Error(t, a.Ping(), "and closes the old one")
}

func TestDatabaseDSN(t *testing.T) {
	t.Parallel()
	tests := []struct{ url, dialect string }{
		{"postgres://u:p@db:5432/app", DialectPostgres},
		{"postgresql://u@db/app?sslmode=disable", DialectPostgres},
		{"sqlite:///var/lib/app.db", DialectSQLite},
		{"sqlite:app.db", DialectSQLite},
		{"mysql://root@db/app", DialectMySQL},
		{"mysql://root@db/app?multiStatements=true", ""},
		{"sqlite:", ""},
		{"postgres://", ""},
		{"", ""},
	}
	for _, tt := range tests {
		dialect, dsn, err := DatabaseDSN(tt.url)
		if tt.dialect == "" {
			assert.Error(t, err, tt.url)
			continue
		}
		require.NoError(t, err, tt.url)
		assert.Equal(t, tt.dialect, dialect)
		assert.NotEmpty(t, dsn)
	}
}
