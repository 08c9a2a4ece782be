package nodes

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/store/storetest"
)

// mysqlTestURL reaches the local MariaDB or MySQL server as root.
const mysqlTestURL = "mysql://root@127.0.0.1:3306/"

// queryDatabase is a fresh database of a dialect with a people table of
// three rows, and the credential URL that reaches it. MySQL is skipped when
// no server answers on 127.0.0.1:3306.
func queryDatabase(t *testing.T, dialect string) (*sql.DB, string) {
	t.Helper()
	var credURL string
	ddl := []string{`CREATE TABLE people (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, age INTEGER,
		score DECIMAL(10,2), born DATE, seen TIMESTAMP NULL, tags TEXT)`}
	switch dialect {
	case DialectSQLite:
		credURL = "sqlite://" + filepath.Join(t.TempDir(), "people.db")
	case DialectMySQL:
		credURL = mysqlDatabase(t)
		ddl[0] = strings.Replace(ddl[0], "tags TEXT", "tags JSON", 1)
		ddl = append(ddl, `CREATE FUNCTION sneaky() RETURNS INT MODIFIES SQL DATA
			BEGIN INSERT INTO people (id, name) VALUES (99, 'sneaky'); RETURN 1; END`)
	default:
		credURL = storetest.Options(t, "postgres").URL
		ddl[0] = strings.Replace(ddl[0], "tags TEXT", "tags JSONB", 1)
	}
	d, dsn, err := DatabaseDSN(credURL)
	require.NoError(t, err)
	require.Equal(t, dialect, d)
	db, err := sql.Open(drivers[dialect], dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	for _, stmt := range ddl {
		_, err = db.Exec(stmt)
		require.NoError(t, err, stmt)
	}
	_, err = db.Exec(`INSERT INTO people (id, name, age, score, born, seen, tags) VALUES
		(1, 'Ada', 36, 12.50, '1815-12-10', '2024-05-01 10:20:30', '{"langs": ["en"], "n": 1}'),
		(2, 'Grace', 85, 99.95, '1906-12-09', NULL, NULL),
		(3, 'Linus', 54, NULL, NULL, NULL, '[]')`)
	require.NoError(t, err)
	return db, credURL
}

// mysqlDatabase creates a database on the local MySQL server, dropped when
// the test ends, and returns its credential URL.
func mysqlDatabase(t *testing.T) string {
	t.Helper()
	_, dsn, err := DatabaseDSN(mysqlTestURL + "?timeout=2s")
	require.NoError(t, err)
	admin, err := sql.Open("mysql", dsn)
	require.NoError(t, err)
	defer admin.Close()
	if err := admin.Ping(); err != nil {
		t.Skipf("MySQL/MariaDB does not answer on 127.0.0.1:3306 (%v): start it to test db.query on MySQL", err)
	}
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	name := "hf_test_" + hex.EncodeToString(suffix)
	_, err = admin.Exec("CREATE DATABASE " + name)
	require.NoError(t, err)
	t.Cleanup(func() {
		admin, err := sql.Open("mysql", dsn)
		if err == nil {
			_, _ = admin.Exec("DROP DATABASE " + name)
			admin.Close()
		}
	})
	return mysqlTestURL + name
}

func allDialects() []string { return []string{DialectSQLite, DialectPostgres, DialectMySQL} }

func TestDBQuery(t *testing.T) {
	t.Parallel()
	for _, dialect := range allDialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			db, credURL := queryDatabase(t, dialect)
			ctx := context.Background()
			in := dbInput(t, credURL, map[string]any{"min": 40, "name": "Ada", "score": 50.5, "evil": "'; DROP TABLE people; --"})
			runQuery := func(params string) (any, error) {
				t.Helper()
				res, err := build(t, "db.query", params).Run(ctx, in)
				return res.Output, err
			}

			// Rows: a list of row objects, with the count.
			out, err := runQuery(`{"credential": "shop", "query": "SELECT id, name, age FROM people WHERE age >= :min ORDER BY id", "params": {"min": "input.min"}}`)
			require.NoError(t, err)
			assert.Equal(t, map[string]any{"count": 2, "truncated": false, "rows": []any{
				map[string]any{"id": 2, "name": "Grace", "age": 85},
				map[string]any{"id": 3, "name": "Linus", "age": 54},
			}}, out)

			// No rows is an empty list, not null.
			out, err = runQuery(`{"credential": "shop", "query": "SELECT id FROM people WHERE age > 1000"}`)
			require.NoError(t, err)
			assert.Equal(t, map[string]any{"count": 0, "truncated": false, "rows": []any{}}, out)

			// One: the first row, or nil.
			out, err = runQuery(`{"credential": "shop", "output": "one", "query": "SELECT name, age FROM people WHERE name = :name", "params": {"name": "input.name"}}`)
			require.NoError(t, err)
			assert.Equal(t, map[string]any{"name": "Ada", "age": 36}, out)
			out, err = runQuery(`{"credential": "shop", "output": "one", "query": "SELECT name FROM people WHERE name = :name", "params": {"name": "'nobody'"}}`)
			require.NoError(t, err)
			assert.Nil(t, out)

			// More rows than the limit: the first ones, marked truncated; the
			// pool still answers afterwards.
			for range 2 {
				out, err = runQuery(`{"credential": "shop", "limit": 2, "query": "SELECT id FROM people ORDER BY id"}`)
				require.NoError(t, err)
				assert.Equal(t, map[string]any{"count": 2, "truncated": true, "rows": []any{map[string]any{"id": 1}, map[string]any{"id": 2}}}, out)
			}
			out, err = runQuery(`{"credential": "shop", "limit": 3, "query": "SELECT id FROM people"}`)
			require.NoError(t, err)
			assert.Equal(t, false, out.(map[string]any)["truncated"], "exactly limit rows is not truncated")

			// Parameters of several types, one used twice, next to a cast,
			// a literal that looks like one and a comment.
			out, err = runQuery(`{"credential": "shop", "query": "SELECT id FROM people -- :ignored\n WHERE (name = :name OR age > :age OR score > :score OR name = :name) AND name <> ':name' ORDER BY id",
				"params": {"name": "input.name", "age": "80", "score": "input.score"}}`)
			require.NoError(t, err)
			assert.Equal(t, []any{map[string]any{"id": 1}, map[string]any{"id": 2}}, out.(map[string]any)["rows"])

			// An injection attempt is only ever a value.
			out, err = runQuery(`{"credential": "shop", "query": "SELECT id FROM people WHERE name = :evil", "params": {"evil": "input.evil"}}`)
			require.NoError(t, err)
			assert.Equal(t, 0, out.(map[string]any)["count"])
			out, err = runQuery(`{"credential": "shop", "output": "one", "query": "SELECT name, :evil AS evil FROM people WHERE id = 1", "params": {"evil": "input.evil"}}`)
			require.NoError(t, err)
			assert.Equal(t, "'; DROP TABLE people; --", out.(map[string]any)["evil"], "returned literally")
			var count int
			require.NoError(t, db.QueryRow(`SELECT count(*) FROM people`).Scan(&count))
			assert.Equal(t, 3, count, "the table is still there")

			// Values: decimals, dates, times, JSON and NULL.
			out, err = runQuery(`{"credential": "shop", "output": "one", "query": "SELECT score, born, seen, tags, age FROM people WHERE id = 1"}`)
			require.NoError(t, err)
			row := out.(map[string]any)
			assert.Contains(t, []any{"12.50", 12.5}, row["score"])
			assert.Contains(t, []any{"1815-12-10", "1815-12-10T00:00:00Z"}, row["born"])
			assert.Contains(t, []any{"2024-05-01T10:20:30Z", "2024-05-01 10:20:30"}, row["seen"])
			if text, ok := row["tags"].(string); ok && dialect != DialectPostgres {
				// SQLite has no JSON type, and MariaDB's is an alias of LONGTEXT.
				assert.JSONEq(t, `{"langs": ["en"], "n": 1}`, text)
			} else {
				assert.Equal(t, map[string]any{"langs": []any{"en"}, "n": 1}, row["tags"], "JSON columns are decoded")
			}
			out, err = runQuery(`{"credential": "shop", "output": "one", "query": "SELECT score, born, seen, tags FROM people WHERE id = 2"}`)
			require.NoError(t, err)
			assert.Nil(t, out.(map[string]any)["seen"])

			// A write is refused by the database, for good.
			var write string
			switch dialect {
			case DialectPostgres:
				write = `WITH gone AS (DELETE FROM people RETURNING id) SELECT id FROM gone`
			case DialectMySQL:
				write = `SELECT sneaky() AS s`
			}
			if write != "" {
				_, err = runQuery(`{"credential": "shop", "query": "` + write + `"}`)
				require.Error(t, err)
				assert.True(t, IsPermanent(err), "%v", err)
				assert.Contains(t, err.Error(), "only reads")
				require.NoError(t, db.QueryRow(`SELECT count(*) FROM people`).Scan(&count))
				assert.Equal(t, 3, count, "nothing was written")
			}
			pool, _, err := in.Services.Databases.Pool(ctx, &Credential{Name: "shop", Data: map[string]any{"url": credURL}})
			require.NoError(t, err)
			err = readOnly(ctx, pool, dialect, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO people (id, name) VALUES (50, 'x')`)
				return err
			})
			require.Error(t, err)
			err = (&Services{}).queryError(ctx, err)
			assert.True(t, IsPermanent(err), "%v", err)
			assert.Contains(t, err.Error(), "only reads")
			if dialect != DialectMySQL {
				// The connection writes again once the query is done (SQLite's
				// PRAGMA query_only is reset).
				res, err := build(t, "db.write", `{"credential": "shop", "table": "people", "values": {"id": "60", "name": "'Ken'"}}`).Run(ctx, in)
				require.NoError(t, err)
				assert.Equal(t, 1, res.Output.(map[string]any)["rows_affected"])
			}

			// Bad SQL is final, with the database's own message.
			for _, bad := range []string{"SELECT nope FROM people", "SELECT id FROM missing_table", "SELECT FROM WHERE people"} {
				_, err = runQuery(`{"credential": "shop", "query": "` + bad + `"}`)
				require.Error(t, err, bad)
				assert.True(t, IsPermanent(err), "%s: %v", bad, err)
			}
			_, err = runQuery(`{"credential": "shop", "query": "SELECT nope FROM people"}`)
			assert.Contains(t, err.Error(), "nope")
		})
	}
}

func TestDBQueryFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	in := dbInput(t, "sqlite://"+filepath.Join(t.TempDir(), "x.db"), map[string]any{})
	run := func(url string) error {
		t.Helper()
		in.Services.Credentials.(dbCreds)["other"] = &Credential{Name: "other", Type: CredentialDatabase, Data: map[string]any{"url": url}}
		_, err := build(t, "db.query", `{"credential": "other", "query": "SELECT 1 AS one"}`).Run(ctx, in)
		require.Error(t, err, url)
		return err
	}
	// Nothing listens on port 1: the database may answer later.
	for _, url := range []string{"postgres://nobody@127.0.0.1:1/none?connect_timeout=2", "mysql://root@127.0.0.1:1/none?timeout=2s"} {
		err := run(url)
		assert.False(t, IsPermanent(err), "%s: %v", url, err)
	}

	_, err := build(t, "db.query", `{"credential": "slack", "query": "SELECT 1"}`).Run(ctx, in)
	assert.True(t, IsPermanent(err))
	assert.Contains(t, err.Error(), "is of type slack")

	if base, ok := postgresBase(t); ok {
		// Trust authentication takes any password; an unknown role or
		// database is refused all the same.
		err := run(strings.Replace(base, "postgres@", "no_such_role_hf@", 1))
		assert.True(t, IsPermanent(err), "%v", err)
		assert.Contains(t, err.Error(), "refused the credentials")
		err = run(strings.Replace(base, "/test", "/no_such_db_hf", 1))
		assert.True(t, IsPermanent(err), "%v", err)
		assert.Contains(t, err.Error(), "does not exist")
	}
	mysqlDatabase(t) // skips when MySQL does not answer
	err = run("mysql://root:wrong-password@127.0.0.1:3306/?timeout=2s")
	assert.True(t, IsPermanent(err), "%v", err)
	assert.Contains(t, err.Error(), "refused the credentials")
}

// postgresBase is the Postgres test server's URL, if one is set.
func postgresBase(t *testing.T) (string, bool) {
	t.Helper()
	u := storetest.Options(t, "postgres").URL // skips when unset
	return u, u != ""
}

func TestDBQueryChecksAtSave(t *testing.T) {
	t.Parallel()
	tests := []struct{ params, field, message string }{
		{`{"credential": "c", "query": "DELETE FROM t"}`, "query", "not a SELECT"},
		{`{"credential": "c", "query": "insert into t values (1)"}`, "query", "not a SELECT"},
		{`{"credential": "c", "query": "-- SELECT\nUPDATE t SET a = 1"}`, "query", "not a SELECT"},
		{`{"credential": "c", "query": "SELECT 1; DROP TABLE t"}`, "query", "more than one statement"},
		{`{"credential": "c", "query": "SELECT * INTO copy FROM t"}`, "query", "INTO"},
		{`{"credential": "c", "query": "SELECT 1 INTO OUTFILE '/tmp/x'"}`, "query", "INTO"},
		{`{"credential": "c", "query": "SELECT 'open"}`, "query", "not closed"},
		{`{"credential": "c", "query": "SELECT * FROM t WHERE a = :a"}`, "params", "no entry for :a"},
		{`{"credential": "c", "query": "SELECT * FROM t WHERE a = :a", "params": {"a": "1", "b": "2"}}`, "params.b", "never uses :b"},
		{`{"credential": "c", "query": "SELECT ':b' FROM t WHERE a = :a", "params": {"a": "1", "b": "2"}}`, "params.b", "never uses :b"},
		{`{"credential": "c", "query": "SELECT * FROM t WHERE a = :a", "params": {"a": "1 +"}}`, "params.a", ""},
		{`{"credential": "c", "query": "SELECT 1", "limit": 10001}`, "limit", ""},
		{`{"credential": "c", "query": "SELECT 1", "output": "all"}`, "output", ""},
	}
	for _, tt := range tests {
		errs := buildErrors(t, "db.query", tt.params)
		assert.True(t, slices.ContainsFunc(errs, func(fe FieldError) bool {
			return fe.Field == tt.field && strings.Contains(fe.Message, tt.message)
		}), "%s: want %s: %s, got %v", tt.params, tt.field, tt.message, errs)
	}
	build(t, "db.query", `{"credential": "c", "query": "  /* report */ (SELECT 1) UNION (SELECT 2);  -- done"}`)
	build(t, "db.query", `{"credential": "c", "query": "with x as (select :a::int as a) select a from x", "params": {"a": "1"}}`)
}

func TestParseNamedSQL(t *testing.T) {
	t.Parallel()
	const pg, my, lite = DialectPostgres, DialectMySQL, DialectSQLite
	tests := []struct {
		name, dialect, query string
		text                 string   // "" when it is refused
		binds                []string // nil when none
		err                  string
	}{
		{"plain", pg, "SELECT 1", "SELECT 1", nil, ""},
		{"postgres numbers each name once", pg, "SELECT :a, :b, :a", "SELECT $1, $2, $1", []string{"a", "b"}, ""},
		{"mysql binds each use", my, "SELECT :a, :b, :a", "SELECT ?, ?, ?", []string{"a", "b", "a"}, ""},
		{"sqlite binds each use", lite, "SELECT :a,:b_2", "SELECT ?,?", []string{"a", "b_2"}, ""},
		{"casts are not names", pg, "SELECT :a::int, x::text", "SELECT $1::int, x::text", []string{"a"}, ""},
		{"array slices are not names", pg, "SELECT a[lo:hi], a[1:n]", "SELECT a[lo:hi], a[1:n]", nil, ""},
		{"a colon alone", my, "SELECT a := 1, ': x'", "SELECT a := 1, ': x'", nil, ""},
		{"string literal", pg, "SELECT ':a', :b", "SELECT ':a', $1", []string{"b"}, ""},
		{"doubled quote", pg, "SELECT 'it''s :a', :b", "SELECT 'it''s :a', $1", []string{"b"}, ""},
		{"postgres: backslash is text", pg, `SELECT 'a\', :b`, `SELECT 'a\', $1`, []string{"b"}, ""},
		{"postgres E string escapes", pg, `SELECT E'a\' :x', :b`, `SELECT E'a\' :x', $1`, []string{"b"}, ""},
		{"mysql: backslash escapes", my, `SELECT 'a\' :x', :b`, `SELECT 'a\' :x', ?`, []string{"b"}, ""},
		{"mysql: double quotes are strings", my, `SELECT "a\" :x", :b`, `SELECT "a\" :x", ?`, []string{"b"}, ""},
		{"quoted name", pg, `SELECT "a "":x" FROM t WHERE b = :b`, `SELECT "a "":x" FROM t WHERE b = $1`, []string{"b"}, ""},
		{"backticks", my, "SELECT `a``:x` FROM t WHERE b = :b", "SELECT `a``:x` FROM t WHERE b = ?", []string{"b"}, ""},
		{"sqlite backticks", lite, "SELECT `:x`, :b", "SELECT `:x`, ?", []string{"b"}, ""},
		{"sqlite brackets", lite, "SELECT [:x], :b", "SELECT [:x], ?", []string{"b"}, ""},
		{"line comment", pg, "SELECT :a -- :x\n, :b", "SELECT $1 -- :x\n, $2", []string{"a", "b"}, ""},
		{"line comment at the end", lite, "SELECT :a -- :x", "SELECT ? -- :x", []string{"a"}, ""},
		{"mysql needs a space after --", my, "SELECT 1--:a", "SELECT 1--?", []string{"a"}, ""},
		{"mysql hash comment", my, "SELECT 1 # :x\n, :a", "SELECT 1 # :x\n, ?", []string{"a"}, ""},
		{"postgres hash is an operator", pg, "SELECT 1 # :a", "SELECT 1 # $1", []string{"a"}, ""},
		{"block comment", my, "SELECT /* :x */ :a", "SELECT /* :x */ ?", []string{"a"}, ""},
		{"postgres nests comments", pg, "SELECT /* a /* :x */ :y */ :a", "SELECT /* a /* :x */ :y */ $1", []string{"a"}, ""},
		{"mysql does not nest", my, "SELECT /* a /* :x */ :a", "SELECT /* a /* :x */ ?", []string{"a"}, ""},
		{"dollar quoting", pg, "SELECT $$ :x ' $$, :a", "SELECT $$ :x ' $$, $1", []string{"a"}, ""},
		{"tagged dollar quoting", pg, "SELECT $fn$ $$ :x $fn$, :a", "SELECT $fn$ $$ :x $fn$, $1", []string{"a"}, ""},
		{"dollar inside a name", pg, "SELECT a$b, :a", "SELECT a$b, $1", []string{"a"}, ""},
		{"postgres question mark is an operator", pg, "SELECT j ? 'k' FROM t WHERE :a", "SELECT j ? 'k' FROM t WHERE $1", []string{"a"}, ""},
		{"name after a word is not a name", my, "SELECT a:b", "SELECT a:b", nil, ""},
		{"non-ASCII name stops", pg, "SELECT :a€", "SELECT $1€", []string{"a"}, ""},
		{"final semicolon dropped", pg, "SELECT :a; -- done\n", "SELECT $1", []string{"a"}, ""},
		{"unclosed literal", pg, "SELECT 'a", "", nil, "string literal is not closed"},
		{"unclosed quoted name", lite, `SELECT "a`, "", nil, "quoted name is not closed"},
		{"unclosed comment", pg, "SELECT /* a /* b */", "", nil, "comment */ is not closed"},
		{"unclosed dollar body", pg, "SELECT $t$ a", "", nil, "$t$ quoted body is not closed"},
		{"unclosed bracket", lite, "SELECT [a", "", nil, "[quoted] name is not closed"},
		{"positional parameter", pg, "SELECT $1", "", nil, "positional parameter"},
		{"driver placeholder", my, "SELECT ?", "", nil, "uses ?"},
		{"two statements", lite, "SELECT 1; SELECT 2", "", nil, "more than one statement"},
		{"a name after the end", pg, "SELECT 1; :a", "", nil, "more than one statement"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, err := parseNamedSQL(tt.query, tt.dialect)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.text, q.text)
			assert.Equal(t, tt.binds, q.binds)
			assert.Equal(t, "SELECT", q.keyword)
		})
	}
}

// FuzzNamedParams checks that reading parameters never panics, that each
// one found is a :name in the query, and that text inside a literal or a
// comment is never taken for one or changed.
func FuzzNamedParams(f *testing.F) {
	for _, seed := range []string{"SELECT :a, ':b'", "SELECT $$:x$$, :y::int", "SELECT `:a` -- :b\n", `SELECT E'\':a', "x"`,
		"SELECT /* /* :a */ */ :b; ", "SELECT [x] # :c", "SELECT 1--:a", "WITH x AS (SELECT :a) SELECT * FROM x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, dialect := range queryDialects {
			q, err := parseNamedSQL(s, dialect)
			if err == nil {
				var unique []string
				seen := map[string]bool{}
				for i, span := range q.spans {
					name := s[span[0]+1 : span[1]]
					require.Equal(t, byte(':'), s[span[0]], "each parameter found is :name")
					require.NotEmpty(t, name)
					if dialect != DialectPostgres {
						require.Equal(t, q.binds[i], name, "? binds each use in order")
					}
					if !seen[name] {
						seen[name] = true
						unique = append(unique, name)
					}
				}
				if dialect == DialectPostgres {
					require.Equal(t, unique, q.binds, "$n binds each name once, in order")
				} else {
					require.Len(t, q.binds, len(q.spans))
				}
			}
			// Inside a literal or a comment, nothing is a parameter, and
			// nothing changes.
			quote := "'" + strings.ReplaceAll(s, "'", "''") + "'"
			if dialect == DialectMySQL {
				quote = "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", "''") + "'"
			}
			wrapped := []string{"SELECT " + quote}
			if !strings.Contains(s, "*/") && !strings.Contains(s, "/*") {
				wrapped = append(wrapped, "SELECT 1 /* "+s+" */")
			}
			if !strings.ContainsAny(s, "\n") {
				wrapped = append(wrapped, "SELECT 1 -- "+s)
			}
			for _, w := range wrapped {
				q, err := parseNamedSQL(w, dialect)
				require.NoError(t, err, "%s: %q", dialect, w)
				assert.Equal(t, w, q.text, dialect)
				assert.Empty(t, q.binds, dialect)
			}
		}
	})
}

func TestMySQLDSN(t *testing.T) {
	t.Parallel()
	dialect, dsn, err := DatabaseDSN("mysql://app:p%40ss%3Aw%2Frd@db.internal/shop?tls=skip-verify&timeout=3")
	require.NoError(t, err)
	assert.Equal(t, DialectMySQL, dialect)
	cfg, err := mysql.ParseDSN(dsn)
	require.NoError(t, err)
	assert.Equal(t, "app", cfg.User)
	assert.Equal(t, "p@ss:w/rd", cfg.Passwd, "the password reaches the driver as it is")
	assert.Equal(t, "db.internal:3306", cfg.Addr)
	assert.Equal(t, "shop", cfg.DBName)
	assert.True(t, cfg.ParseTime)
	assert.Equal(t, 3*time.Second, cfg.Timeout)
	assert.False(t, cfg.MultiStatements)
	assert.Equal(t, map[string]string{"sql_mode": mysqlSQLMode}, cfg.Params, "literals are read as db.query reads them")

	for _, bad := range []string{"mysql://", "mysql://h/db?tls=maybe", "mysql://h/db?multiStatements=true", "mysql://h/a/b", "mysql://h/db?timeout=soon"} {
		_, _, err := DatabaseDSN(bad)
		assert.Error(t, err, bad)
	}
	_, _, err = DatabaseDSN("mariadb://root@127.0.0.1:3307/x")
	assert.NoError(t, err)
}

// TestDBQueryOnAnANSIModeServer: a MySQL server set to read "…" as a name
// and \ as a plain character would read a query otherwise than db.query's
// tokenizer does; each connection takes those modes off.
func TestDBQueryOnAnANSIModeServer(t *testing.T) {
	credURL := mysqlDatabase(t) // skips when MySQL does not answer
	_, dsn, err := DatabaseDSN(mysqlTestURL)
	require.NoError(t, err)
	admin, err := sql.Open("mysql", dsn)
	require.NoError(t, err)
	var was string
	require.NoError(t, admin.QueryRow(`SELECT @@GLOBAL.sql_mode`).Scan(&was))
	_, err = admin.Exec(`SET GLOBAL sql_mode = CONCAT(@@GLOBAL.sql_mode, ',ANSI_QUOTES,NO_BACKSLASH_ESCAPES')`)
	require.NoError(t, err)
	defer func() {
		_, err := admin.Exec(`SET GLOBAL sql_mode = ?`, was)
		assert.NoError(t, err, "the server's sql_mode is put back")
		admin.Close()
	}()

	q := build(t, "db.query", `{"credential": "shop", "output": "one",
		"query": "SELECT 'it\\'s :x' AS a, \"b :y\" AS b, :v AS v, @@SESSION.sql_mode AS mode", "params": {"v": "input.v"}}`)
	res, err := q.Run(context.Background(), dbInput(t, credURL, map[string]any{"v": "' OR 1=1 --"}))
	require.NoError(t, err)
	row := res.Output.(map[string]any)
	assert.Equal(t, "it's :x", row["a"])
	assert.Equal(t, "b :y", row["b"])
	assert.Equal(t, "' OR 1=1 --", row["v"])
	assert.NotContains(t, row["mode"], "ANSI_QUOTES")
	assert.NotContains(t, row["mode"], "NO_BACKSLASH_ESCAPES")
}
