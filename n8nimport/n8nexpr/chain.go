package n8nexpr

import (
	"strings"

	"github.com/dop251/goja/ast"
)

// link is one step of a member chain such as $('A').first().json.x[0].
type link struct {
	name     string           // .name; "" for an index or a call
	index    ast.Expression   // [index]
	args     []ast.Expression // (args)
	call     bool
	optional bool
}

// flatten splits a member chain into its root and its links.
func flatten(e ast.Expression) (ast.Expression, []link) {
	var links []link
	for {
		if o, ok := e.(*ast.Optional); ok {
			// a?.b: the link applied to a is optional.
			e = o.Expression
			if len(links) > 0 {
				links[0].optional = true
			}
			continue
		}
		switch n := e.(type) {
		case *ast.DotExpression:
			links = append([]link{{name: n.Identifier.Name.String()}}, links...)
			e = n.Left
		case *ast.BracketExpression:
			links = append([]link{{index: n.Member}}, links...)
			e = n.Left
		case *ast.CallExpression:
			links = append([]link{{call: true, args: n.ArgumentList}}, links...)
			e = n.Callee
		case *ast.OptionalChain:
			e = n.Expression
		default:
			return e, links
		}
	}
}

// key returns the constant key of a link: .name or ["name"].
func (l link) key() (string, bool) {
	if l.name != "" {
		return l.name, true
	}
	if s, ok := l.index.(*ast.StringLiteral); ok {
		return s.Value.String(), true
	}
	return "", false
}

// stringArg returns the only argument of a call when it is a string literal.
func stringArg(l link) (string, bool) {
	if !l.call || len(l.args) != 1 {
		return "", false
	}
	s, ok := l.args[0].(*ast.StringLiteral)
	if !ok {
		return "", false
	}
	return s.Value.String(), true
}

func isCall(links []link, i int, name string) bool {
	return len(links) > i+1 && links[i].name == name && links[i+1].call && len(links[i+1].args) == 0
}

// chain translates a member chain: n8n's $ names at its root, then
// properties, indexes and methods.
func (t *translator) chain(e ast.Expression) (code, error) {
	root, links := flatten(e)
	var base code
	var err error
	switch r := root.(type) {
	case *ast.Identifier:
		base, links, err = t.root(r.Name.String(), links)
	case *ast.NewExpression:
		base, links, err = t.newExpression(r, links)
	default:
		base, err = t.expr(root)
	}
	if err != nil {
		return code{}, err
	}
	return t.links(base, links)
}

// output is the Hookflow value an n8n node's output became.
func (t *translator) output(name string) (code, error) {
	if name == t.scope.Trigger && name != "" {
		return atom("trigger", kindMap), nil
	}
	id, ok := t.scope.IDs[name]
	if !ok {
		return code{}, t.refuse("reads the node %q, which is not in the imported flow", name)
	}
	return t.within(name, member(atom("steps", kindMap), id, false)), nil
}

// within goes from a node's Hookflow output to n8n's json in it.
func (t *translator) within(name string, output code) code {
	if path := t.scope.Paths[name]; path != "" {
		return atom(output.src+path, kindAny)
	}
	return output
}

// input is what $json means: the upstream node's output, or the current
// element inside a foreach.
func (t *translator) input() (code, error) {
	switch {
	case t.scope.InLoop:
		return atom("item", kindAny), nil
	case t.scope.Input == "":
		return code{}, t.refuse("reads $json, but the node has no input")
	case t.scope.Input == t.scope.Trigger:
		return atom("trigger", kindMap), nil
	}
	return t.within(t.scope.Input, atom("input", kindAny)), nil
}

// itemJSON consumes .item.json, .first().json or .last().json: Hookflow
// nodes give one output, which is the single item n8n would read. .all()
// and anything else are refused.
func (t *translator) itemJSON(what string, links []link) ([]link, error) {
	var n int
	switch {
	case len(links) > 0 && links[0].name == "item":
		n = 1
	case isCall(links, 0, "first"), isCall(links, 0, "last"):
		n = 2
	case isCall(links, 0, "all"):
		return nil, t.refuse("reads all items of %s; Hookflow passes one value between nodes, so n8n's multi-item semantics have no equivalent", what)
	default:
		return nil, t.refuse("reads %s other than through .item.json, .first().json or .last().json", what)
	}
	if len(links) <= n || links[n].name != "json" {
		return nil, t.refuse("reads something of %s other than its json (binary data, parameters, pairing)", what)
	}
	return links[n+1:], nil
}

// root resolves the name at the root of a chain and consumes the links
// that belong to it.
func (t *translator) root(name string, links []link) (code, []link, error) {
	switch name {
	case "$json":
		c, err := t.input()
		return c, links, err
	case "$input":
		rest, err := t.itemJSON("$input", links)
		if err != nil {
			return code{}, nil, err
		}
		c, err := t.input()
		return c, rest, err
	case "$node":
		if len(links) < 2 {
			return code{}, nil, t.refuse("reads $node without a node's json")
		}
		node, ok := links[0].key()
		if !ok {
			return code{}, nil, t.refuse("reads $node with a computed node name")
		}
		if links[1].name != "json" {
			return code{}, nil, t.refuse("reads $node[%q] other than its json (parameters, binary data, context)", node)
		}
		c, err := t.output(node)
		return c, links[2:], err
	case "$":
		if len(links) == 0 || !links[0].call {
			return code{}, nil, t.refuse("uses $ without calling it with a node name")
		}
		node, ok := stringArg(links[0])
		if !ok {
			return code{}, nil, t.refuse("calls $() with something other than one node name")
		}
		rest, err := t.itemJSON("$('"+node+"')", links[1:])
		if err != nil {
			return code{}, nil, err
		}
		c, err := t.output(node)
		return c, rest, err
	case "$items":
		if len(links) < 3 || !links[0].call {
			return code{}, nil, t.refuse("calls $items(), whose list of items has no equivalent")
		}
		node, ok := stringArg(links[0])
		if !ok {
			return code{}, nil, t.refuse("calls $items() with something other than one node name")
		}
		if n, ok := links[1].index.(*ast.NumberLiteral); !ok || n.Literal != "0" || links[2].name != "json" {
			return code{}, nil, t.refuse("reads an item of $items(%q) other than the first one's json; Hookflow passes one value between nodes", node)
		}
		c, err := t.output(node)
		return c, links[3:], err
	case "$env":
		if len(links) == 0 {
			return code{}, nil, t.refuse("reads $env as a whole")
		}
		return atom("env", kindMap), links, nil
	case "$execution":
		if len(links) > 0 && links[0].name == "id" {
			return atom("run.id", kindString), links[1:], nil
		}
		return code{}, nil, t.refuse("reads $execution other than its id")
	case "$workflow":
		if len(links) > 0 && links[0].name == "id" {
			return atom("run.flow_id", kindString), links[1:], nil
		}
		return code{}, nil, t.refuse("reads $workflow other than its id")
	case "$itemIndex":
		if t.scope.InLoop {
			return atom("index", kindNumber), links, nil
		}
		return code{}, nil, t.refuse("reads $itemIndex outside a loop")
	case "$now":
		return t.now(links)
	case "Date":
		if isCall(links, 0, "now") {
			return atom("now().UnixMilli()", kindNumber), links[2:], nil
		}
		return code{}, nil, t.refuse("uses Date other than Date.now()")
	case "undefined":
		// Hookflow has null only: a missing key reads as null.
		return atom("nil", kindNull), links, nil
	case "Math", "JSON", "Object", "parseInt", "parseFloat", "Number", "String", "Boolean":
		return t.global(name, links)
	}
	if strings.HasPrefix(name, "$") {
		return code{}, nil, t.refuse("uses %s, which has no equivalent", name)
	}
	return code{}, nil, t.refuse("uses the name %s, which is not defined in an expression", name)
}

// isoLayout writes a time as JavaScript's toISOString does.
const isoLayout = `"2006-01-02T15:04:05.000Z"`

func (t *translator) newExpression(n *ast.NewExpression, links []link) (code, []link, error) {
	if id, ok := n.Callee.(*ast.Identifier); ok && id.Name == "Date" && len(n.ArgumentList) == 0 {
		switch {
		case isCall(links, 0, "toISOString"):
			return atom("now().UTC().Format("+isoLayout+")", kindString), links[2:], nil
		case isCall(links, 0, "getTime"):
			return atom("now().UnixMilli()", kindNumber), links[2:], nil
		}
		return code{}, nil, t.refuse("uses new Date() other than with .toISOString() or .getTime()")
	}
	return code{}, nil, t.refuse("creates an object with new, which has no equivalent")
}

// now translates $now, a Luxon DateTime, when it is formatted: its text
// form differs from a Go time's, so $now alone is refused. Times are in the
// server's zone where n8n uses the workflow's.
func (t *translator) now(links []link) (code, []link, error) {
	switch {
	case isCall(links, 0, "toISO"):
		return atom(`now().Format("2006-01-02T15:04:05.000-07:00")`, kindString), links[2:], nil
	case isCall(links, 0, "toMillis"):
		return atom("now().UnixMilli()", kindNumber), links[2:], nil
	case len(links) > 1 && links[0].name == "toFormat" && links[1].call:
		f, ok := stringArg(links[1])
		if !ok {
			return code{}, nil, t.refuse("calls $now.toFormat() with something other than one literal format")
		}
		layout, ok := luxonLayout(f)
		if !ok {
			return code{}, nil, t.refuse("formats $now as %q; only the tokens yyyy, yy, MM, dd, HH, mm, ss and SSS are translated", f)
		}
		return atom("now().Format("+quote(layout)+")", kindString), links[2:], nil
	}
	return code{}, nil, t.refuse("uses $now other than with .toISO(), .toMillis() or .toFormat()")
}

// luxonLayout turns a Luxon format made of common tokens into a Go layout.
func luxonLayout(f string) (string, bool) {
	tokens := []struct{ luxon, goLayout string }{
		{"yyyy", "2006"}, {"yy", "06"}, {"MM", "01"}, {"dd", "02"},
		{"HH", "15"}, {"mm", "04"}, {"ss", "05"}, {"SSS", "000"},
	}
	var b strings.Builder
outer:
	for f != "" {
		for _, tk := range tokens {
			if strings.HasPrefix(f, tk.luxon) {
				b.WriteString(tk.goLayout)
				f = f[len(tk.luxon):]
				continue outer
			}
		}
		c := f[0]
		// Letters are Luxon tokens and digits would read as Go's.
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '\'' || c >= 0x80 {
			return "", false
		}
		b.WriteByte(c)
		f = f[1:]
	}
	return b.String(), true
}
