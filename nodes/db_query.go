package nodes

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookflow/hookflow/engine/expression"
	"github.com/hookflow/hookflow/engine/schema"
)

// KindDBQuery is the kind that reads rows from a database.
const KindDBQuery = "db.query"

// Outputs of db.query.
const (
	QueryRows = "rows"
	QueryOne  = "one"
)

// The number of rows db.query returns by default, and at most.
const (
	DefaultQueryLimit = 100
	MaxQueryLimit     = 10000
)

var dbQuerySpec = Spec{
	Kind:     KindDBQuery,
	Icon:     "table",
	Category: CategoryAction,
	Title:    "Database query",
	Summary:  "Runs a SELECT on a Postgres, MySQL/MariaDB or SQLite database, read-only, with :name parameters always bound.",
	Attempts: 3,
	Fields: []Field{
		{Name: "credential", Type: TypeCredential, Label: "Database", Required: true, CredentialTypes: []string{CredentialDatabase}},
		{Name: "query", Type: TypeString, Label: "Query", Required: true, Min: Bound(1), Multiline: true,
			Help:        "One SELECT (or WITH … SELECT). Write :name where a value goes; each is bound, never pasted into the SQL.",
			Placeholder: "SELECT id, email FROM customers WHERE email = :email"},
		{Name: "params", Type: TypeMap, Label: "Parameters",
			Help:  "Name → expression giving the value of :name. Objects and lists are bound as JSON text.",
			Items: &Field{Name: "value", Type: TypeExpression, Label: "Value"}},
		{Name: "output", Type: TypeSelect, Label: "Output", Default: QueryRows, Options: []Option{
			{Value: QueryRows, Label: "Rows", Help: "{rows: [...], count, truncated}: the rows, up to limit."},
			{Value: QueryOne, Label: "First row", Help: "The first row, or null when there is none."},
		}},
		{Name: "limit", Type: TypeInteger, Label: "Row limit", Default: DefaultQueryLimit, Min: Bound(1), Max: Bound(MaxQueryLimit), Advanced: true,
			Help: "The most rows returned; when there are more, truncated is true."},
	},
}

type dbQueryParams struct {
	Credential string            `json:"credential"`
	Query      string            `json:"query"`
	Params     map[string]string `json:"params"`
	Output     string            `json:"output"`
	Limit      int               `json:"limit"`
}

type dbQueryNode struct {
	credential string
	// readings are the query as each dialect reads it; unreadable says why
	// a dialect cannot run it (a MySQL-only escape seen by Postgres …).
	readings   map[string]namedSQL
	unreadable map[string]error
	params     []NamedProgram
	output     string
	limit      int
}

var _ Node = (*dbQueryNode)(nil)

// queryDialects are the dialects a query is read in at save time, when the
// credential's dialect is not yet known.
var queryDialects = []string{DialectPostgres, DialectMySQL, DialectSQLite}

func buildDBQuery(b *Builder, p *dbQueryParams) Node {
	n := &dbQueryNode{credential: p.Credential, output: p.Output, limit: p.Limit,
		readings: map[string]namedSQL{}, unreadable: map[string]error{}}
	var first error
	used := map[string]bool{}
	var order []string
	for _, dialect := range queryDialects {
		q, err := parseNamedSQL(p.Query, dialect)
		if err == nil && q.keyword != "SELECT" && q.keyword != "WITH" {
			err = errors.New("is not a SELECT: db.query only reads (use db.write to change data)")
		} else if err == nil && q.into {
			err = errors.New("uses SELECT … INTO, which writes: db.query only reads")
		}
		if err != nil {
			n.unreadable[dialect] = err
			if first == nil {
				first = err
			}
			continue
		}
		n.readings[dialect] = q
		for _, name := range q.binds {
			if !used[name] {
				used[name] = true
				order = append(order, name)
			}
		}
	}
	if len(n.readings) == 0 {
		b.Fail("query", "%v", first)
		return n
	}
	for _, name := range order {
		if _, ok := p.Params[name]; !ok {
			b.Fail("params", "has no entry for :%s, which the query uses", name)
		}
	}
	for _, name := range keys(p.Params) {
		if !used[name] {
			b.Fail(schema.Join("params", name), "the query never uses :%s", name)
		}
	}
	n.params = b.Expressions("params", p.Params)
	return n
}

// Run reads the rows in a read-only transaction. The output is
// {rows, count, truncated}, or for output "one" the first row or nil.
func (n *dbQueryNode) Run(ctx context.Context, in *Input) (Result, error) {
	db, dialect, err := openDatabase(ctx, in, n.credential)
	if err != nil {
		return Result{}, err
	}
	q, ok := n.readings[dialect]
	if !ok {
		return Result{}, Permanent(fmt.Errorf("query: %s cannot run it: %w", dialect, n.unreadable[dialect]))
	}
	values, err := evalColumns(ctx, in, "params", n.params)
	if err != nil {
		return Result{}, err
	}
	byName := make(map[string]any, len(values))
	for _, v := range values {
		byName[v.name] = v.value
	}
	args := make([]any, len(q.binds))
	for i, name := range q.binds {
		args[i] = byName[name]
	}
	limit := n.limit
	if n.output == QueryOne {
		limit = 1
	}
	var rows []any
	var truncated bool
	err = readOnly(ctx, db, dialect, func(tx *sql.Tx) error {
		rows, truncated, err = readRows(ctx, tx, q.text, args, limit)
		return err
	})
	if err != nil {
		return Result{}, in.Services.queryError(ctx, err)
	}
	if n.output == QueryOne {
		if len(rows) == 0 {
			return Result{Output: nil}, nil
		}
		return Result{Output: rows[0]}, nil
	}
	return Result{Output: map[string]any{"rows": rows, "count": len(rows), "truncated": truncated}}, nil
}

// readOnly runs fn in a transaction that cannot write. Postgres and MySQL
// enforce TxOptions.ReadOnly; the SQLite driver accepts it without effect,
// so there the connection is switched to PRAGMA query_only for the while.
func readOnly(ctx context.Context, db *sql.DB, dialect string, fn func(tx *sql.Tx) error) error {
	begin := db.BeginTx
	if dialect == DialectSQLite {
		conn, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "PRAGMA query_only = ON"); err != nil {
			return err
		}
		defer func() {
			if _, err := conn.ExecContext(context.Background(), "PRAGMA query_only = OFF"); err != nil {
				// Never hand db.write a connection that cannot write.
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			}
		}()
		begin = conn.BeginTx
	}
	tx, err := begin(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // nothing to keep
	return fn(tx)
}

// readRows reads up to limit rows as maps of column → JSON-friendly value,
// and whether there were more. It stops the query there rather than
// draining the rest of a large result.
func readRows(ctx context.Context, tx *sql.Tx, query string, args []any, limit int) ([]any, bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, false, err
	}
	cells := make([]any, len(types))
	dest := make([]any, len(types))
	for i := range cells {
		dest[i] = &cells[i]
	}
	out := []any{}
	for rows.Next() {
		if len(out) == limit {
			cancel() // The database need not send the rest.
			return out, true, nil
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, false, err
		}
		row := make(map[string]any, len(types))
		for i, t := range types {
			row[t.Name()] = jsonCell(cells[i], t.DatabaseTypeName())
		}
		out = append(out, row)
	}
	return out, false, rows.Err()
}

// jsonCell turns a driver's value into one a run records as JSON: text as
// a string (bytes that are not UTF-8 as base64), JSON columns decoded,
// times in RFC 3339 (UTC), whole numbers as int. Decimals stay as the
// driver gives them: a string from MySQL and SQLite text, a number or a
// string from Postgres.
func jsonCell(v any, typeName string) any {
	isJSON := typeName == "JSON" || typeName == "JSONB"
	switch v := v.(type) {
	case []byte:
		if isJSON {
			if decoded, err := expression.DecodeJSON(v); err == nil {
				return decoded
			}
		}
		if utf8.Valid(v) {
			return string(v)
		}
		return base64.StdEncoding.EncodeToString(v)
	case string:
		if isJSON {
			if decoded, err := expression.DecodeJSON([]byte(v)); err == nil {
				return decoded
			}
		}
		return v
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	case int64:
		return int(v)
	case int32:
		return int(v)
	case float32:
		return float64(v)
	case nil, bool, int, float64, uint64:
		return v
	default:
		if m, ok := v.(map[string]any); ok { // pgx's json
			return m
		}
		return expression.Stringify(v)
	}
}

// queryError is dbError but for a write refused by the read-only
// transaction, which db.query's own rule is behind.
func (s *Services) queryError(ctx context.Context, err error) error {
	if isReadOnly(err) {
		return Permanent(fmt.Errorf("db.query only reads, and the database refused a write: %w", err))
	}
	return s.dbError(ctx, "query", err)
}

// namedSQL is a query as one dialect reads it.
type namedSQL struct {
	// text is the query with each :name replaced by the dialect's
	// placeholder ($1 … for Postgres, ? otherwise), less a final semicolon.
	text string
	// binds names the parameter of each placeholder, in order.
	binds []string
	// keyword is the statement's first word, upper-case.
	keyword string
	// spans are where each :name stood in the query.
	spans [][2]int
	// into is set when the word INTO appears: SELECT … INTO creates a
	// table (Postgres) or writes a file (MySQL).
	into bool
}

// parseNamedSQL finds the :name parameters of a query in a dialect's
// lexical rules, so that nothing inside a string literal, a quoted name, a
// comment or a dollar-quoted body is taken for one. A parameter is a colon
// and a name ([A-Za-z_][A-Za-z0-9_]*) that does not follow a letter, digit
// or $: Postgres casts (x::int) and array slices (a[lo:hi]) stay as
// they are. It refuses what it cannot read safely: an unclosed literal or
// comment, a second statement, and placeholders of the driver's own ($1, ?).
func parseNamedSQL(query, dialect string) (namedSQL, error) {
	var q namedSQL
	var out strings.Builder
	numbers := map[string]int{} // Postgres: name → $n
	copied := 0                 // query[:copied] is in out
	end := -1                   // where a semicolon ended the statement
	started := false            // a token other than ( was seen
	mysqlish := dialect == DialectMySQL
	for i := 0; i < len(query); {
		c := query[i]
		next := byte(0)
		if i+1 < len(query) {
			next = query[i+1]
		}
		skip := 0 // the length of a literal, quoted name or comment at i
		var err error
		comment := false
		switch {
		case isSQLSpace(c):
			i++
			continue
		case c == '-' && next == '-' && (!mysqlish || i+2 == len(query) || isSQLSpace(query[i+2])):
			skip, comment = lineEnd(query, i), true
		case c == '#' && mysqlish:
			skip, comment = lineEnd(query, i), true
		case c == '/' && next == '*':
			skip, err = blockComment(query, i, dialect == DialectPostgres)
			comment = true
		case c == '\'':
			escapes := mysqlish || (dialect == DialectPostgres && i > 0 && (query[i-1] == 'E' || query[i-1] == 'e') &&
				(i < 2 || !isIdentByte(query[i-2])))
			skip, err = quoted(query, i, '\'', escapes, "a string literal")
		case c == '"':
			what := "a quoted name"
			if mysqlish {
				what = "a string literal"
			}
			skip, err = quoted(query, i, '"', mysqlish, what)
		case c == '`' && dialect != DialectPostgres:
			skip, err = quoted(query, i, '`', false, "a `quoted` name")
		case c == '[' && dialect == DialectSQLite:
			if j := strings.IndexByte(query[i+1:], ']'); j >= 0 {
				skip = j + 2
			} else {
				err = errors.New("a [quoted] name is not closed")
			}
		case c == '$' && dialect == DialectPostgres:
			if next >= '0' && next <= '9' {
				err = errors.New("uses a positional parameter ($1): name it, :name, and give its value in params")
			} else if tag := dollarTag(query[i:]); tag != "" {
				j := strings.Index(query[i+len(tag):], tag)
				if j < 0 {
					err = fmt.Errorf("a %s quoted body is not closed", tag)
				}
				skip = len(tag) + j + len(tag)
			} else {
				skip = 1
			}
		case c == '?' && dialect != DialectPostgres:
			err = errors.New("uses ?: write :name for each value and give it in params")
		case c == ':' && next == ':':
			skip = 2
		case c == ':' && isNameStart(next) && (i == 0 || !isIdentByte(query[i-1])):
			j := i + 2
			for j < len(query) && isNameByte(query[j]) {
				j++
			}
			if end >= 0 {
				return q, errors.New("holds more than one statement: db.query runs one")
			}
			name := query[i+1 : j]
			out.WriteString(query[copied:i])
			if dialect == DialectPostgres {
				if numbers[name] == 0 {
					q.binds = append(q.binds, name)
					numbers[name] = len(q.binds)
				}
				fmt.Fprintf(&out, "$%d", numbers[name])
			} else {
				q.binds = append(q.binds, name)
				out.WriteByte('?')
			}
			q.spans = append(q.spans, [2]int{i, j})
			copied, started, i = j, true, j
			continue
		case c == ';':
			if end < 0 {
				end = i
			}
			i++
			continue
		case isIdentByte(c):
			j := i + 1
			for j < len(query) && isIdentByte(query[j]) {
				j++
			}
			skip = j - i
			if !started {
				q.keyword = strings.ToUpper(query[i:j])
			}
			q.into = q.into || strings.EqualFold(query[i:j], "INTO")
		default:
			skip = 1
		}
		if err != nil {
			return q, err
		}
		if !comment {
			if end >= 0 {
				return q, errors.New("holds more than one statement: db.query runs one")
			}
			if c != '(' {
				started = true
			}
		}
		i += skip
	}
	if end < 0 {
		end = len(query)
	}
	out.WriteString(query[copied:end])
	q.text = out.String()
	return q, nil
}

// quoted returns the length of the literal or quoted name opening at i,
// whose quote is doubled inside it (and, with backslashes, escaped by \).
func quoted(query string, i int, quote byte, backslashes bool, what string) (int, error) {
	for j := i + 1; j < len(query); j++ {
		switch query[j] {
		case '\\':
			if backslashes {
				j++
			}
		case quote:
			if j+1 < len(query) && query[j+1] == quote {
				j++
				continue
			}
			return j + 1 - i, nil
		}
	}
	return 0, fmt.Errorf("%s is not closed", what)
}

// blockComment returns the length of the /* comment */ at i. Postgres nests
// them; the others end at the first */.
func blockComment(query string, i int, nested bool) (int, error) {
	depth := 0
	for j := i; j+1 < len(query); j++ {
		switch {
		case query[j] == '/' && query[j+1] == '*' && (nested || depth == 0):
			depth++
			j++
		case query[j] == '*' && query[j+1] == '/':
			depth--
			j++
			if depth == 0 {
				return j + 1 - i, nil
			}
		}
	}
	return 0, errors.New("a /* comment */ is not closed")
}

// lineEnd returns the length of the line comment at i, its newline left out.
func lineEnd(query string, i int) int {
	if j := strings.IndexByte(query[i:], '\n'); j >= 0 {
		return j
	}
	return len(query) - i
}

// dollarTag returns the $tag$ opening a Postgres dollar-quoted body at the
// start of s, or "".
func dollarTag(s string) string {
	j := 1
	for j < len(s) && (isNameByte(s[j]) && (j > 1 || isNameStart(s[j]))) {
		j++
	}
	if j < len(s) && s[j] == '$' {
		return s[:j+1]
	}
	return ""
}

func isSQLSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isNameStart(c byte) bool { return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') }

func isNameByte(c byte) bool { return isNameStart(c) || (c >= '0' && c <= '9') }

// isIdentByte reports whether c may be part of an unquoted word: names,
// keywords, numbers; bytes of UTF-8 letters; $ inside names.
func isIdentByte(c byte) bool { return isNameByte(c) || c == '$' || c >= 0x80 }
