package nodes

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/engine/expression"
	"github.com/hookflow/hookflow/engine/netguard"
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
// the credential URL that reaches it. MySQL is skipped when no server
// answers on 127.0.0.1:3306.
func testDatabase(t *testing.T, dialect string) (*sql.DB, string) {
	t.Helper()
	var credURL, ddl string
	switch dialect {
	case DialectSQLite:
		credURL = "sqlite://" + filepath.Join(t.TempDir(), "shop.db")
		ddl = `CREATE TABLE orders (id INTEGER PRIMARY KEY, shop TEXT NOT NULL, number INTEGER NOT NULL, email TEXT NOT NULL UNIQUE,
			total REAL, items TEXT, status TEXT DEFAULT 'new', UNIQUE (shop, number))`
	case DialectMySQL:
		credURL = mysqlDatabase(t)
		ddl = `CREATE TABLE orders (id INTEGER AUTO_INCREMENT PRIMARY KEY, shop VARCHAR(100) NOT NULL, number INTEGER NOT NULL,
			email VARCHAR(200) NOT NULL UNIQUE, total DOUBLE, items TEXT, status VARCHAR(20) DEFAULT 'new', UNIQUE (shop, number))`
	default:
		credURL = storetest.Options(t, "postgres").URL
		ddl = `CREATE TABLE orders (id SERIAL PRIMARY KEY, shop TEXT NOT NULL, number INTEGER NOT NULL, email TEXT NOT NULL UNIQUE,
			total DOUBLE PRECISION, items TEXT, status TEXT DEFAULT 'new', UNIQUE (shop, number))`
	}
	d, dsn, err := DatabaseDSN(credURL)
	require.NoError(t, err)
	require.Equal(t, dialect, d)
	db, err := sql.Open(drivers[dialect], dsn)
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

// storedOrder reads an order's columns as the database holds them.
func storedOrder(t *testing.T, db *sql.DB, number int) (id int64, shop, status, items string, total sql.NullFloat64) {
	t.Helper()
	var itemsText sql.NullString
	require.NoError(t, db.QueryRow(fmt.Sprintf(`SELECT id, shop, status, items, total FROM orders WHERE number = %d`, number)).
		Scan(&id, &shop, &status, &itemsText, &total))
	return id, shop, status, itemsText.String, total
}

func TestDBWrite(t *testing.T) {
	t.Parallel()
	for _, dialect := range allDialects() {
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
			assert.EqualValues(t, 1, out["rows_affected"])
			if dialect == DialectMySQL {
				assert.EqualValues(t, 1, out["last_insert_id"], "MySQL returns no row, but the new AUTO_INCREMENT id")
				assert.NotContains(t, out, "row")
			} else {
				row := out["row"].(map[string]any)
				assert.EqualValues(t, 1, row["id"], "the database's default id comes back")
				assert.Equal(t, "new", row["status"], "column defaults come back")
			}
			id, _, status, items, _ := storedOrder(t, db, 1001)
			assert.EqualValues(t, 1, id)
			assert.Equal(t, "new", status)
			assert.JSONEq(t, `[{"sku": "A1", "qty": 2}]`, items, "lists are stored as JSON text")

			// The same email again violates a unique constraint: final.
			_, err = insert.Run(ctx, dbInput(t, credURL, map[string]any{"shop": "acme", "number": 1002, "email": "ada@example.com"}))
			require.Error(t, err)
			assert.True(t, IsPermanent(err), "a constraint violation is final: %v", err)

			// Upsert on a composite key: the second write updates the row.
			upsert := build(t, "db.write", `{"credential": "shop", "table": "orders", "operation": "upsert", "conflict": ["shop", "number"],
				"values": {"shop": "input.shop", "number": "input.number", "email": "input.email", "total": "input.total"}}`)
			res, err = upsert.Run(ctx, dbInput(t, credURL, map[string]any{"shop": "acme", "number": 1001, "email": "ada@example.com", "total": 30}))
			require.NoError(t, err)
			out = res.Output.(map[string]any)
			assert.EqualValues(t, 1, out["rows_affected"])
			if dialect == DialectMySQL {
				assert.Equal(t, false, out["inserted"], "the existing row was updated")
			} else {
				assert.EqualValues(t, 1, out["row"].(map[string]any)["id"], "the existing row was updated")
			}
			id, _, _, _, total := storedOrder(t, db, 1001)
			assert.EqualValues(t, 1, id)
			assert.InDelta(t, 30, total.Float64, 0)
			res, err = upsert.Run(ctx, dbInput(t, credURL, map[string]any{"shop": "acme", "number": 1003, "email": "bob@example.com", "total": 5}))
			require.NoError(t, err)
			if dialect == DialectMySQL {
				assert.Equal(t, true, res.Output.(map[string]any)["inserted"], "a new key inserts a new row")
			}
			id, _, _, _, _ = storedOrder(t, db, 1003)
			assert.NotEqualValues(t, 1, id, "a new key inserts a new row")

			// An injection attempt is only ever a value.
			for i, evil := range []string{"'); DROP TABLE orders; --", "Robert'); DROP TABLE students;--", `\'; DROP TABLE orders; -- `, "` ; DROP TABLE orders; --"} {
				_, err := insert.Run(ctx, dbInput(t, credURL, map[string]any{"shop": evil, "number": 2000 + i, "email": fmt.Sprintf("evil%d@x", i)}))
				require.NoError(t, err)
				_, stored, _, _, _ := storedOrder(t, db, 2000+i)
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

			// Delete removes only the matching rows, and says how many.
			remove := build(t, "db.write", `{"credential": "shop", "table": "orders", "operation": "delete",
				"where": {"shop": "input.shop", "status": "input.status"}}`)
			res, err = remove.Run(ctx, dbInput(t, credURL, map[string]any{"shop": "acme", "status": "paid"}))
			require.NoError(t, err)
			assert.EqualValues(t, 1, res.Output.(map[string]any)["rows_affected"])
			res, err = remove.Run(ctx, dbInput(t, credURL, map[string]any{"shop": "acme", "status": "paid"}))
			require.NoError(t, err)
			assert.EqualValues(t, 0, res.Output.(map[string]any)["rows_affected"], "deleting again finds nothing")
			var left int
			require.NoError(t, db.QueryRow(`SELECT count(*) FROM orders`).Scan(&left))
			assert.Equal(t, 5, left, "the other orders stay")

			// A missing table is final; nil is stored as NULL.
			missing := build(t, "db.write", `{"credential": "shop", "table": "nope", "values": {"a": "1"}}`)
			_, err = missing.Run(ctx, in)
			require.Error(t, err)
			assert.True(t, IsPermanent(err), "%v", err)
			_, err = insert.Run(ctx, dbInput(t, credURL, map[string]any{"shop": "acme", "number": 3000, "email": "nil@example.com", "total": nil}))
			require.NoError(t, err)
			_, _, _, _, total = storedOrder(t, db, 3000)
			assert.False(t, total.Valid, "nil is NULL")
		})
	}
}

// TestDBWriteStatements pins the SQL each dialect is sent.
func TestDBWriteStatements(t *testing.T) {
	t.Parallel()
	values := []column{{"email", "a@x"}, {"number", 7}, {"shop", "acme"}}
	where := []column{{"id", 3}, {"note", nil}}
	tests := []struct{ params, dialect, want string }{
		{`{"operation": "insert"}`, DialectPostgres, `INSERT INTO "app"."orders" ("email", "number", "shop") VALUES ($1, $2, $3) RETURNING *`},
		{`{"operation": "insert"}`, DialectMySQL, "INSERT INTO `app`.`orders` (`email`, `number`, `shop`) VALUES (?, ?, ?)"},
		{`{"operation": "upsert", "conflict": ["shop", "number"]}`, DialectSQLite,
			`INSERT INTO "app"."orders" ("email", "number", "shop") VALUES ($1, $2, $3) ON CONFLICT ("shop", "number") DO UPDATE SET "email" = excluded."email" RETURNING *`},
		{`{"operation": "upsert", "conflict": ["shop", "number"]}`, DialectMySQL,
			"INSERT INTO `app`.`orders` (`email`, `number`, `shop`) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE `email` = VALUES(`email`)"},
		{`{"operation": "upsert", "conflict": ["email", "number", "shop"]}`, DialectMySQL,
			"INSERT INTO `app`.`orders` (`email`, `number`, `shop`) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE `email` = `email`"},
		{`{"operation": "update"}`, DialectMySQL, "UPDATE `app`.`orders` SET `email` = ?, `number` = ?, `shop` = ? WHERE `id` = ? AND `note` IS NULL"},
		{`{"operation": "delete"}`, DialectPostgres, `DELETE FROM "app"."orders" WHERE "id" = $1 AND "note" IS NULL`},
		{`{"operation": "delete"}`, DialectMySQL, "DELETE FROM `app`.`orders` WHERE `id` = ? AND `note` IS NULL"},
	}
	for _, tt := range tests {
		var p dbWriteParams
		require.NoError(t, json.Unmarshal([]byte(tt.params), &p))
		n := &dbWriteNode{table: []string{"app", "orders"}, operation: p.Operation, conflict: p.Conflict}
		got, args := n.statement(tt.dialect, values, where)
		assert.Equal(t, tt.want, got, "%s on %s", tt.params, tt.dialect)
		assert.Equal(t, strings.Count(got, "?")+strings.Count(got, "$"), len(args), "one argument per placeholder")
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
		{`{"credential": "c", "table": "t", "operation": "update", "values": {"a": "1"}}`, "where", "updating every row"},
		{`{"credential": "c", "table": "t", "values": {"a": "1"}, "where": {"a": "1"}}`, "where", "only for update and delete"},
		{`{"credential": "c", "table": "t", "operation": "delete", "values": {"a": "1"}, "where": {"a": "1"}}`, "values", "delete takes no values"},
		{`{"credential": "c", "table": "t", "operation": "delete"}`, "where", "deleting every row at once is refused"},
		{`{"credential": "c", "table": "t", "operation": "update", "where": {"a": "1"}}`, "values", "update needs at least one column"},
		{`{"credential": "c", "table": "t"}`, "values", "insert needs at least one column"},
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
	a, dialect, err := dbs.Pool(context.Background(), cred)
	require.NoError(t, err)
	assert.Equal(t, DialectSQLite, dialect)
	again, _, err := dbs.Pool(context.Background(), cred)
	require.NoError(t, err)
	assert.Same(t, a, again)
	changed := &Credential{Name: "shop", Type: CredentialDatabase, Data: map[string]any{"url": "sqlite://" + filepath.Join(dir, "b.db")}}
	b, _, err := dbs.Pool(context.Background(), changed)
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

// TestDatabasesDialThroughTheGuard holds database connections to the SSRF
// guard: a loopback database is refused for good, with the guard's reason,
// until the operator allows its address or its host name.
func TestDatabasesDialThroughTheGuard(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, pgURL := testDatabase(t, DialectPostgres)
	byName, err := url.Parse(pgURL)
	require.NoError(t, err)
	byName.Host = net.JoinHostPort("localhost", byName.Port())

	guarded := func(allowed ...string) *Input {
		guard, err := netguard.New(false, allowed)
		require.NoError(t, err)
		in := dbInput(t, pgURL, map[string]any{})
		in.Services.Databases = NewDatabases(guard.DialContext)
		t.Cleanup(func() { _ = in.Services.Databases.Close() })
		in.Services.Refused = func(err error) bool {
			var blocked *netguard.BlockedError
			return errors.As(err, &blocked)
		}
		return in
	}
	query := build(t, "db.query", `{"credential": "shop", "query": "SELECT count(*) AS n FROM orders", "output": "one"}`)
	write := build(t, "db.write", `{"credential": "shop", "table": "orders", "values": {"shop": "'acme'", "number": "1", "email": "'a@x'"}}`)
	for _, credURL := range []string{pgURL, mysqlTestURL + "shop", "postgres://app@10.1.2.3:5432/shop"} {
		in := guarded()
		in.Services.Credentials.(dbCreds)["shop"].Data["url"] = credURL
		for _, n := range []Node{query, write} {
			_, err := n.Run(ctx, in)
			require.Error(t, err, credURL)
			assert.True(t, IsPermanent(err), "a refused address is final: %v", err)
			assert.Contains(t, err.Error(), "which flows may not reach", credURL)
		}
	}

	for _, allowed := range []string{"127.0.0.1", "localhost"} {
		in := guarded(allowed)
		if allowed == "localhost" {
			in.Services.Credentials.(dbCreds)["shop"].Data["url"] = byName.String()
		}
		res, err := query.Run(ctx, in)
		require.NoError(t, err, "allowed %s", allowed)
		assert.NotNil(t, res.Output)
	}
}
