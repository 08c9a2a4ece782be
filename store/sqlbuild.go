package store

import (
	"strconv"
	"strings"
)

// rowsPerStatement bounds a multi-row statement. The SQLite driver binds
// parameters in time quadratic in their number, so a few dozen rows a
// statement is the sweet spot between that and per-statement costs.
const rowsPerStatement = 40

// multiRow builds one multi-row statement: a head ("INSERT INTO t (a, b)
// VALUES"), a row of placeholders per call of add, and a tail.
type multiRow struct {
	postgres bool
	sql      strings.Builder
	args     []any
	rows     int
}

func newMultiRow(postgres bool, head string) *multiRow {
	m := &multiRow{postgres: postgres}
	m.sql.WriteString(head)
	return m
}

// add appends one row of values.
func (m *multiRow) add(values ...any) {
	if m.rows > 0 {
		m.sql.WriteByte(',')
	}
	m.sql.WriteString(" (")
	for i, v := range values {
		if i > 0 {
			m.sql.WriteString(", ")
		}
		m.args = append(m.args, v)
		if m.postgres {
			m.sql.WriteString("$" + strconv.Itoa(len(m.args)))
		} else {
			m.sql.WriteByte('?')
		}
	}
	m.sql.WriteByte(')')
	m.rows++
}

// param adds a lone parameter (in a tail's WHERE, say) and returns its
// placeholder.
func (m *multiRow) param(v any) string {
	m.args = append(m.args, v)
	if m.postgres {
		return "$" + strconv.Itoa(len(m.args))
	}
	return "?"
}

// chunks splits n items into ranges of at most rowsPerStatement.
func chunks(n int) [][2]int {
	var out [][2]int
	for start := 0; start < n; start += rowsPerStatement {
		out = append(out, [2]int{start, min(start+rowsPerStatement, n)})
	}
	return out
}

// rebind turns ? placeholders into Postgres's $1, $2 … for statements run
// on the raw connection.
func rebind(postgres bool, query string) string {
	if !postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
