package nodes

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/hookflow/hookflow/engine/expression"
)

// KindDBWrite is the kind that writes a row to a database.
const KindDBWrite = "db.write"

// Operations of db.write.
const (
	OpInsert = "insert"
	OpUpsert = "upsert"
	OpUpdate = "update"
	OpDelete = "delete"
)

var dbWriteSpec = Spec{
	Kind:     KindDBWrite,
	Icon:     "database",
	Category: CategoryAction,
	Title:    "Database write",
	Summary:  "Inserts, upserts, updates or deletes rows in a Postgres, MySQL/MariaDB or SQLite database; values are always bound parameters.",
	Attempts: 3,
	Fields: []Field{
		{Name: "credential", Type: TypeCredential, Label: "Database", Required: true, CredentialTypes: []string{CredentialDatabase}},
		{Name: "table", Type: TypeString, Label: "Table", Required: true, Min: Bound(1),
			Help: "A table name, or schema.table (database.table on MySQL): letters, digits and underscores.", Placeholder: "orders"},
		{Name: "operation", Type: TypeSelect, Label: "Operation", Default: OpInsert, Options: []Option{
			{Value: OpInsert, Label: "Insert", Help: "Add a row."},
			{Value: OpUpsert, Label: "Upsert", Help: "Add a row, or update the one with the same conflict columns (on MySQL: the same value of any unique key)."},
			{Value: OpUpdate, Label: "Update", Help: "Change the rows matching where."},
			{Value: OpDelete, Label: "Delete", Help: "Remove the rows matching where."},
		}},
		{Name: "values", Type: TypeMap, Label: "Values",
			Help:  "Column → expression giving its value; for insert, upsert and update. Objects and lists are stored as JSON text.",
			Items: &Field{Name: "value", Type: TypeExpression, Label: "Value"}},
		{Name: "conflict", Type: TypeList, Label: "Conflict columns",
			Help:  "For upsert: the columns of the unique key that identifies the row; they are not updated.",
			Items: &Field{Name: "column", Type: TypeString, Label: "Column"}},
		{Name: "where", Type: TypeMap, Label: "Where",
			Help:  "For update and delete: column → expression; the rows whose columns equal all of them are changed or removed.",
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
	table      []string // table, or schema and table; checked names
	operation  string
	values     []NamedProgram // sorted by column
	conflict   []string
	where      []NamedProgram
}

var _ Node = (*dbWriteNode)(nil)

// identifier is a name db.write quotes into SQL.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// quoteIdent quotes a checked name in a dialect's quotes. MySQL reads
// double quotes as strings unless ANSI_QUOTES is set; backticks always.
func quoteIdent(dialect, name string) string {
	if dialect == DialectMySQL {
		return "`" + name + "`"
	}
	return `"` + name + `"`
}

func buildDBWrite(b *Builder, p *dbWriteParams) Node {
	n := &dbWriteNode{credential: p.Credential, operation: p.Operation, conflict: p.Conflict}
	parts := strings.Split(p.Table, ".")
	if len(parts) > 2 {
		b.Fail("table", "%q is not a table name: use table or schema.table", p.Table)
	}
	for _, part := range parts {
		if !identifier.MatchString(part) {
			b.Fail("table", "%q is not a table name: letters, digits and underscores, not starting with a digit", p.Table)
			break
		}
	}
	n.table = parts
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
	switch {
	case p.Operation == OpDelete && len(p.Values) > 0:
		b.Fail("values", "delete takes no values: where says which rows go")
	case p.Operation != OpDelete && len(p.Values) == 0:
		b.Fail("values", "%s needs at least one column and its value", p.Operation)
	}
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
	switch p.Operation {
	case OpUpdate, OpDelete:
		if len(p.Where) == 0 {
			b.Fail("where", "%s needs where: %s every row at once is refused", p.Operation, map[string]string{OpUpdate: "updating", OpDelete: "deleting"}[p.Operation])
		}
	default:
		if len(p.Where) > 0 {
			b.Fail("where", "is only for update and delete")
		}
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

// Run writes. The output has rows_affected; for insert and upsert on
// Postgres and SQLite also the row as the database returned it, and on
// MySQL, which returns no rows from a write, last_insert_id.
func (n *dbWriteNode) Run(ctx context.Context, in *Input) (Result, error) {
	db, dialect, err := openDatabase(ctx, in, n.credential)
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
	query, args := n.statement(dialect, values, where)
	what := fmt.Sprintf("%s %s", n.operation, strings.Join(n.table, "."))
	if n.operation == OpUpdate || n.operation == OpDelete || dialect == DialectMySQL {
		res, err := db.ExecContext(ctx, query, args...)
		if err != nil {
			return Result{}, in.Services.dbError(ctx, what, err)
		}
		return Result{Output: n.execOutput(dialect, res)}, nil
	}
	row, err := queryRow(ctx, db, query, args)
	if err != nil {
		return Result{}, in.Services.dbError(ctx, what, err)
	}
	affected := 0
	if row != nil {
		affected = 1
	}
	return Result{Output: map[string]any{"rows_affected": affected, "row": row}}, nil
}

// execOutput is the output of a write that returned no row: an update or
// delete anywhere, and any write on MySQL.
func (n *dbWriteNode) execOutput(dialect string, res sql.Result) map[string]any {
	affected, _ := res.RowsAffected()
	out := map[string]any{"rows_affected": affected}
	if dialect != DialectMySQL || (n.operation != OpInsert && n.operation != OpUpsert) {
		return out
	}
	if n.operation == OpUpsert {
		// MySQL counts an upsert's row 1 when inserted, 2 when updated
		// and 0 when it already held these values.
		out["inserted"] = affected == 1
		out["rows_affected"] = min(affected, 1)
	}
	if id, err := res.LastInsertId(); err == nil && id > 0 {
		out["last_insert_id"] = id
	}
	return out
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

// statement builds the SQL of a dialect, with every value a placeholder.
func (n *dbWriteNode) statement(dialect string, values, where []column) (string, []any) {
	var b strings.Builder
	var args []any
	placeholder := func(v any) string {
		args = append(args, v)
		if dialect == DialectMySQL {
			return "?"
		}
		return fmt.Sprintf("$%d", len(args))
	}
	quote := func(name string) string { return quoteIdent(dialect, name) }
	table := make([]string, len(n.table))
	for i, part := range n.table {
		table[i] = quote(part)
	}
	writeWhere := func() {
		b.WriteString(" WHERE ")
		for i, c := range where {
			if i > 0 {
				b.WriteString(" AND ")
			}
			if c.value == nil {
				fmt.Fprintf(&b, "%s IS NULL", quote(c.name))
			} else {
				fmt.Fprintf(&b, "%s = %s", quote(c.name), placeholder(c.value))
			}
		}
	}
	switch n.operation {
	case OpUpdate:
		fmt.Fprintf(&b, "UPDATE %s SET ", strings.Join(table, "."))
		for i, c := range values {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s = %s", quote(c.name), placeholder(c.value))
		}
		writeWhere()
	case OpDelete:
		fmt.Fprintf(&b, "DELETE FROM %s", strings.Join(table, "."))
		writeWhere()
	default:
		cols := make([]string, len(values))
		marks := make([]string, len(values))
		for i, c := range values {
			cols[i], marks[i] = quote(c.name), placeholder(c.value)
		}
		fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES (%s)", strings.Join(table, "."), strings.Join(cols, ", "), strings.Join(marks, ", "))
		if n.operation == OpUpsert {
			b.WriteString(upsertClause(dialect, n.conflict, values))
		}
		if dialect != DialectMySQL {
			b.WriteString(" RETURNING *")
		}
	}
	return b.String(), args
}

// upsertClause is what makes an insert an upsert: ON CONFLICT on Postgres
// and SQLite, ON DUPLICATE KEY UPDATE on MySQL (VALUES(c), which MariaDB
// and MySQL both read), updating every column but the conflict's.
func upsertClause(dialect string, conflict []string, values []column) string {
	quote := func(name string) string { return quoteIdent(dialect, name) }
	isKey := map[string]bool{}
	keys := make([]string, len(conflict))
	for i, k := range conflict {
		keys[i], isKey[k] = quote(k), true
	}
	var sets []string
	for _, c := range values {
		if isKey[c.name] {
			continue
		}
		if dialect == DialectMySQL {
			sets = append(sets, fmt.Sprintf("%s = VALUES(%s)", quote(c.name), quote(c.name)))
		} else {
			sets = append(sets, fmt.Sprintf("%s = excluded.%s", quote(c.name), quote(c.name)))
		}
	}
	switch {
	case dialect == DialectMySQL && len(sets) == 0:
		// MySQL has no DO NOTHING; setting a key to itself changes nothing.
		return fmt.Sprintf(" ON DUPLICATE KEY UPDATE %s = %s", keys[0], keys[0])
	case dialect == DialectMySQL:
		return " ON DUPLICATE KEY UPDATE " + strings.Join(sets, ", ")
	case len(sets) == 0:
		return fmt.Sprintf(" ON CONFLICT (%s) DO NOTHING", strings.Join(keys, ", "))
	}
	return fmt.Sprintf(" ON CONFLICT (%s) DO UPDATE SET %s", strings.Join(keys, ", "), strings.Join(sets, ", "))
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
