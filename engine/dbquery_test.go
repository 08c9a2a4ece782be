package engine

import (
	"database/sql"
	"path/filepath"
	"testing"

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
