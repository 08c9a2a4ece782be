package engine

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// TestDBQueryRun reads rows from a customer database in a flow, on each
// store: a lookup by a value from the trigger, a list, and a write that the
// read-only transaction refuses.
func TestDBQueryRun(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			crm := "sqlite://" + filepath.Join(t.TempDir(), "crm.db")
			_, dsn, err := nodes.DatabaseDSN(crm)
			require.NoError(t, err)
			db, err := sql.Open("sqlite", dsn)
			require.NoError(t, err)
			defer db.Close()
			_, err = db.Exec(`CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, plan TEXT);
				INSERT INTO customers VALUES (1, 'ada@example.com', 'pro'), (2, 'bob@example.com', 'free'), (3, 'cy@example.com', 'pro')`)
			require.NoError(t, err)

			services := actionServices(fakeCredentials{
				"crm": {Name: "crm", Type: nodes.CredentialDatabase, Data: map[string]any{"url": crm}, Secrets: []string{crm}},
			})
			services.Databases = nodes.NewDatabases(nil)
			defer services.Databases.Close()
			e := newHarness(t).engineFor(t, storetest.Open(t, dialect), Options{Services: services})
			doc := `{"name": "lookup", "nodes": [
				{"id": "hook", "type": "trigger.webhook"},
				{"id": "who", "type": "db.query", "params": {"credential": "crm", "output": "one",
					"query": "SELECT id, plan FROM customers WHERE email = :email", "params": {"email": "trigger.body.email"}}},
				{"id": "pros", "type": "db.query", "params": {"credential": "crm", "limit": 1,
					"query": "SELECT email FROM customers WHERE plan = :plan ORDER BY id", "params": {"plan": "steps.who == nil ? 'none' : steps.who.plan"}}},
				{"id": "sneak", "type": "db.query", "params": {"credential": "crm",
					"query": "SELECT 1 AS one; -- then\n"}, "on_error": "continue"}],
				"edges": [{"from": "hook", "to": "who"}, {"from": "who", "to": "pros"}, {"from": "pros", "to": "sneak"}]}`
			run := waitRun(t, e, startRun(t, e, doc, `{"email": "ada@example.com"}`).ID)
			require.Equal(t, store.RunSucceeded, run.Status, run.Error)
			assert.Equal(t, `status: succeeded
steps:
  hook             1 succeeded port=""
  who              1 succeeded port="" output={"id":1,"plan":"pro"}
  pros             1 succeeded port="" output={"count":1,"rows":[{"email":"ada@example.com"}],"truncated":true}
  sneak            1 succeeded port="" output={"count":1,"rows":[{"one":1}],"truncated":false}
`, trace(t, e, run))

			// An unknown email gives null (no output), and the list is empty.
			run = waitRun(t, e, startRun(t, e, doc, `{"email": "'; DROP TABLE customers; --"}`).ID)
			require.Equal(t, store.RunSucceeded, run.Status, run.Error)
			assert.Equal(t, `status: succeeded
steps:
  hook             1 succeeded port=""
  who              1 succeeded port=""
  pros             1 succeeded port="" output={"count":0,"rows":[],"truncated":false}
  sneak            1 succeeded port="" output={"count":1,"rows":[{"one":1}],"truncated":false}
`, trace(t, e, run))
			var n int
			require.NoError(t, db.QueryRow(`SELECT count(*) FROM customers`).Scan(&n))
			assert.Equal(t, 3, n, "the value was only ever a value")

			// A missing table is final: one attempt, though actions retry.
			bad := `{"name": "bad", "nodes": [
				{"id": "hook", "type": "trigger.webhook"},
				{"id": "q", "type": "db.query", "params": {"credential": "crm", "query": "SELECT * FROM orders"}}],
				"edges": [{"from": "hook", "to": "q"}]}`
			run = waitRun(t, e, startRun(t, e, bad, `{}`).ID)
			assert.Equal(t, `status: failed
error: node q failed: query: SQL logic error: no such table: orders (1)
steps:
  hook             1 succeeded port=""
  q                1 failed error="query: SQL logic error: no such table: orders (1)"
`, trace(t, e, run))
		})
	}
}

// mysqlShop creates a database with an orders table on the local MariaDB
// or MySQL server, dropped when the test ends, and returns its credential
// URL and a connection to it. It skips when no server answers.
func mysqlShop(t *testing.T) (string, *sql.DB) {
	t.Helper()
	_, dsn, err := nodes.DatabaseDSN("mysql://root@127.0.0.1:3306/?timeout=2s")
	require.NoError(t, err)
	admin, err := sql.Open("mysql", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close() })
	if err := admin.Ping(); err != nil {
		t.Skipf("MySQL/MariaDB does not answer on 127.0.0.1:3306 (%v): start it to test db.write on MySQL", err)
	}
	name := "hf_engine_" + strings.ReplaceAll(uuid.NewString()[:13], "-", "")
	_, err = admin.Exec("CREATE DATABASE " + name)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.Exec("DROP DATABASE " + name) })
	credURL := "mysql://root@127.0.0.1:3306/" + name
	_, dsn, err = nodes.DatabaseDSN(credURL)
	require.NoError(t, err)
	db, err := sql.Open("mysql", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.Exec(`CREATE TABLE orders (id INTEGER AUTO_INCREMENT PRIMARY KEY, number INTEGER NOT NULL UNIQUE,
		status VARCHAR(20) NOT NULL, total DOUBLE)`)
	require.NoError(t, err)
	return credURL, db
}

// TestDBWriteMySQLRun keeps an order table on MariaDB in step with a
// shop's webhooks, on each store: an upsert inserts then updates, a
// cancellation deletes, and a duplicate key is final.
func TestDBWriteMySQLRun(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			shop, db := mysqlShop(t)
			services := actionServices(fakeCredentials{
				"shop": {Name: "shop", Type: nodes.CredentialDatabase, Data: map[string]any{"url": shop}, Secrets: []string{shop}},
			})
			services.Databases = nodes.NewDatabases(nil)
			defer services.Databases.Close()
			e := newHarness(t).engineFor(t, storetest.Open(t, dialect), Options{Services: services})
			doc := `{"name": "orders", "nodes": [
				{"id": "hook", "type": "trigger.webhook"},
				{"id": "route", "type": "switch", "params": {"cases": [{"port": "cancelled", "condition": "trigger.body.status == 'cancelled'"}]}},
				{"id": "save", "type": "db.write", "params": {"credential": "shop", "table": "orders", "operation": "upsert",
					"conflict": ["number"], "values": {"number": "trigger.body.number", "status": "trigger.body.status", "total": "trigger.body.total"}}},
				{"id": "drop", "type": "db.write", "params": {"credential": "shop", "table": "orders", "operation": "delete",
					"where": {"number": "trigger.body.number"}}}],
				"edges": [{"from": "hook", "to": "route"}, {"from": "route", "port": "default", "to": "save"}, {"from": "route", "port": "cancelled", "to": "drop"}]}`
			for _, tt := range []struct{ body, want string }{
				{`{"number": 1001, "status": "paid", "total": 25.5}`, `save             1 succeeded port="" output={"inserted":true,"last_insert_id":1,"rows_affected":1}`},
				{`{"number": 1001, "status": "shipped", "total": 25.5}`, `save             1 succeeded port="" output={"inserted":false,"last_insert_id":1,"rows_affected":1}`},
				{`{"number": 1001, "status": "cancelled"}`, `drop             1 succeeded port="" output={"rows_affected":1}`},
			} {
				run := waitRun(t, e, startRun(t, e, doc, tt.body).ID)
				require.Equal(t, store.RunSucceeded, run.Status, run.Error)
				assert.Contains(t, trace(t, e, run), "\n  "+tt.want+"\n", tt.body)
				if tt.body == `{"number": 1001, "status": "shipped", "total": 25.5}` {
					var status string
					require.NoError(t, db.QueryRow(`SELECT status FROM orders WHERE number = 1001`).Scan(&status))
					assert.Equal(t, "shipped", status)
				}
			}
			var n int
			require.NoError(t, db.QueryRow(`SELECT count(*) FROM orders`).Scan(&n))
			assert.Equal(t, 0, n, "the cancelled order is gone")

			insert := `{"name": "insert", "nodes": [
				{"id": "hook", "type": "trigger.webhook"},
				{"id": "add", "type": "db.write", "params": {"credential": "shop", "table": "orders",
					"values": {"number": "trigger.body.number", "status": "'new'"}}}],
				"edges": [{"from": "hook", "to": "add"}]}`
			require.Equal(t, store.RunSucceeded, waitRun(t, e, startRun(t, e, insert, `{"number": 7}`).ID).Status)
			run := waitRun(t, e, startRun(t, e, insert, `{"number": 7}`).ID)
			assert.Equal(t, `status: failed
error: node add failed: insert orders: Error 1062 (23000): Duplicate entry '7' for key 'number'
steps:
  hook             1 succeeded port=""
  add              1 failed error="insert orders: Error 1062 (23000): Duplicate entry '7' for key 'number'"
`, trace(t, e, run), "a duplicate key is final: one attempt")
		})
	}
}
