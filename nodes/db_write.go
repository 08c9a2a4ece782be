package nodes

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	sqlite "github.com/glebarez/go-sqlite"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hookflow/hookflow/engine/expression"
)

// KindDBWrite is the kind that writes a row to a database.
const KindDBWrite = "db.write"

// Operations of db.write.
const (
	OpInsert = "insert"
	OpUpsert = "upsert"
	OpUpdate = "update"
)

var dbWriteSpec = Spec{
	Kind:     KindDBWrite,
	Category: CategoryAction,
	Title:    "Database write",
	Summary:  "Inserts, upserts or updates a row in a Postgres or SQLite database; values are always bound parameters.",
	Attempts: 3,
	Fields: []Field{
		{Name: "credential", Type: TypeCredential, Label: "Database", Required: true, CredentialTypes: []string{CredentialDatabase}},
		{Name: "table", Type: TypeString, Label: "Table", Required: true, Min: Bound(1),
			Help: "A table name, or schema.table: letters, digits and underscores.", Placeholder: "orders"},
		{Name: "operation", Type: TypeSelect, Label: "Operation", Default: OpInsert, Options: []Option{
			{Value: OpInsert, Label: "Insert", Help: "Add a row."},
			{Value: OpUpsert, Label: "Upsert", Help: "Add a row, or update the one with the same conflict columns."},
			{Value: OpUpdate, Label: "Update", Help: "Change the rows matching where."},
		}},
		{Name: "values", Type: TypeMap, Label: "Values", Required: true, Min: Bound(1),
			Help:  "Column → expression giving its value. Objects and lists are stored as JSON text.",
			Items: &Field{Name: "value", Type: TypeExpression, Label: "Value"}},
		{Name: "conflict", Type: TypeList, Label: "Conflict columns",
			Help:  "For upsert: the columns of the unique key that identifies the row.",
			Items: &Field{Name: "column", Type: TypeString, Label: "Column"}},
		{Name: "where", Type: TypeMap, Label: "Where",
			Help:  "For update: column → expression; the rows whose columns equal all of them are updated.",
			Items: &Field{Name: "value", Type: TypeExpression, Label: "Value"}},
	},
}

type dbWriteParams struct {
	Credential string            `json:"credential"`
	Table      string            `json:"table"`
	Operation  string            `json:"operation"`
	Values     map[string]string `json:"values"`
	Conflict   []string          `json:"conflict"`
	Where      map[string]string `json:"where"`
}

type dbWriteNode struct {
	credential string
	table      string // quoted
	operation  string
	values     []NamedProgram // sorted by column
	conflict   []string
	where      []NamedProgram
}

var _ Node = (*dbWriteNode)(nil)

// identifier is a name db.write quotes into SQL.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

func quoteIdent(name string) string { return `"` + name + `"` }

func buildDBWrite(b *Builder, p *dbWriteParams) Node {
	n := &dbWriteNode{credential: p.Credential, operation: p.Operation, conflict: p.Conflict}
	parts := strings.Split(p.Table, ".")
	if len(parts) > 2 {
		b.Fail("table", "%q is not a table name: use table or schema.table", p.Table)
	}
	quoted := make([]string, len(parts))
	for i, part := range parts {
		if !identifier.MatchString(part) {
			b.Fail("table", "%q is not a table name: letters, digits and underscores, not starting with a digit", p.Table)
			break
		}
		quoted[i] = quoteIdent(part)
	}
	n.table = strings.Join(quoted, ".")
	checkColumns := func(field string, names []string) {
		for _, name := range names {
			if !identifier.MatchString(name) {
				b.Fail(field, "%q is not a column name: letters, digits and underscores, not starting with a digit", name)
			}
		}
	}
	checkColumns("values", keys(p.Values))
	checkColumns("conflict", p.Conflict)
	checkColumns("where", keys(p.Where))
	switch p.Operation {
	case OpUpsert:
		if len(p.Conflict) == 0 {
			b.Fail("conflict", "upsert needs the columns of the unique key a row conflicts on")
		}
		for _, c := range p.Conflict {
			if _, ok := p.Values[c]; !ok {
				b.Fail("conflict", "column %q is not among the values", c)
			}
		}
	default:
		if len(p.Conflict) > 0 {
			b.Fail("conflict", "is only for upsert")
		}
	}
	if p.Operation == OpUpdate {
		if len(p.Where) == 0 {
			b.Fail("where", "update needs where: an update of every row is refused")
		}
	} else if len(p.Where) > 0 {
		b.Fail("where", "is only for update")
	}
	n.values = b.Expressions("values", p.Values)
	n.where = b.Expressions("where", p.Where)
	return n
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Run writes the row. The output is rows_affected, and for insert and
// upsert the row as the database returned it.
func (n *dbWriteNode) Run(ctx context.Context, in *Input) (Result, error) {
	cred, err := in.Credential(ctx, n.credential, CredentialDatabase)
	if err != nil {
		return Result{}, err
	}
	if in.Services == nil || in.Services.Databases == nil {
		return Result{}, Permanent(errors.New("databases are not available here"))
	}
	db, _, err := in.Services.Databases.Open(ctx, cred)
	if err != nil {
		return Result{}, err
	}
	values, err := evalColumns(ctx, in, "values", n.values)
	if err != nil {
		return Result{}, err
	}
	where, err := evalColumns(ctx, in, "where", n.where)
	if err != nil {
		return Result{}, err
	}
	query, args := n.statement(values, where)
	if n.operation == OpUpdate {
		res, err := db.ExecContext(ctx, query, args...)
		if err != nil {
			return Result{}, classifyDBError(fmt.Sprintf("update %s", n.table), err)
		}
		affected, _ := res.RowsAffected()
		return Result{Output: map[string]any{"rows_affected": affected}}, nil
	}
	row, err := queryRow(ctx, db, query, args)
	if err != nil {
		return Result{}, classifyDBError(fmt.Sprintf("%s into %s", n.operation, n.table), err)
	}
	affected := 0
	if row != nil {
		affected = 1
	}
	return Result{Output: map[string]any{"rows_affected": affected, "row": row}}, nil
}

// column is one evaluated column and the value to bind.
type column struct {
	name  string
	value any
}

func evalColumns(ctx context.Context, in *Input, field string, programs []NamedProgram) ([]column, error) {
	out := make([]column, len(programs))
	for i, p := range programs {
		v, err := p.Program.Eval(ctx, in.Scope)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", field, p.Name, err)
		}
		bound, err := bindValue(v)
		if err != nil {
			return nil, Permanent(fmt.Errorf("%s.%s: %w", field, p.Name, err))
		}
		out[i] = column{p.Name, bound}
	}
	return out, nil
}

// bindValue turns an expression's value into one both drivers bind:
// objects and lists become JSON text.
func bindValue(v any) (any, error) {
	switch v := v.(type) {
	case nil, string, bool, int, int64, float64:
		return v, nil
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i, nil
		}
		f, err := v.Float64()
		return f, err
	case map[string]any, []any:
		data, err := json.Marshal(v)
		return string(data), err
	default:
		return expression.Stringify(v), nil
	}
}

// statement builds the SQL, with every value a placeholder.
func (n *dbWriteNode) statement(values, where []column) (string, []any) {
	var b strings.Builder
	var args []any
	placeholder := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	switch n.operation {
	case OpUpdate:
		fmt.Fprintf(&b, "UPDATE %s SET ", n.table)
		for i, c := range values {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s = %s", quoteIdent(c.name), placeholder(c.value))
		}
		b.WriteString(" WHERE ")
		for i, c := range where {
			if i > 0 {
				b.WriteString(" AND ")
			}
			if c.value == nil {
				fmt.Fprintf(&b, "%s IS NULL", quoteIdent(c.name))
			} else {
				fmt.Fprintf(&b, "%s = %s", quoteIdent(c.name), placeholder(c.value))
			}
		}
	default:
		cols := make([]string, len(values))
		marks := make([]string, len(values))
		for i, c := range values {
			cols[i], marks[i] = quoteIdent(c.name), placeholder(c.value)
		}
		fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES (%s)", n.table, strings.Join(cols, ", "), strings.Join(marks, ", "))
		if n.operation == OpUpsert {
			keys := make([]string, len(n.conflict))
			isKey := map[string]bool{}
			for i, k := range n.conflict {
				keys[i], isKey[k] = quoteIdent(k), true
			}
			var sets []string
			for _, c := range values {
				if !isKey[c.name] {
					sets = append(sets, fmt.Sprintf("%s = excluded.%s", quoteIdent(c.name), quoteIdent(c.name)))
				}
			}
			if len(sets) == 0 {
				fmt.Fprintf(&b, " ON CONFLICT (%s) DO NOTHING", strings.Join(keys, ", "))
			} else {
				fmt.Fprintf(&b, " ON CONFLICT (%s) DO UPDATE SET %s", strings.Join(keys, ", "), strings.Join(sets, ", "))
			}
		}
		b.WriteString(" RETURNING *")
	}
	return b.String(), args
}

// queryRow runs a statement with RETURNING and reads its row, if any, as a
// map of JSON-friendly values.
func queryRow(ctx context.Context, db *sql.DB, query string, args []any) (map[string]any, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	cells := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range cells {
		ptrs[i] = &cells[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	row := make(map[string]any, len(cols))
	for i, name := range cols {
		switch v := cells[i].(type) {
		case []byte:
			row[name] = string(v)
		case time.Time:
			row[name] = v.UTC().Format(time.RFC3339Nano)
		default:
			row[name] = v
		}
	}
	return row, rows.Err()
}

// classifyDBError marks what retrying cannot fix as final: constraint
// violations, missing tables or columns, values of the wrong type. Anything
// else, such as a lost connection, may pass on another try.
func classifyDBError(what string, err error) error {
	err = fmt.Errorf("%s: %w", what, err)
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code[:2] {
		case "23", "42", "22":
			return Permanent(err)
		}
		return err
	}
	var lite *sqlite.Error
	if errors.As(err, &lite) {
		const sqliteConstraint, sqliteMismatch, sqliteError = 19, 20, 1
		switch lite.Code() & 0xff {
		case sqliteConstraint, sqliteMismatch, sqliteError:
			// SQLITE_ERROR covers "no such table" and "no such column".
			return Permanent(err)
		}
	}
	return err
}
