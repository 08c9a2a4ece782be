package expression

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// explain says why an evaluation failed in the terms of the flow's data,
// where expr speaks of Go: "trigger.body.amout is missing (did you mean
// amount?): cannot apply * to null and a number" rather than "invalid
// operation: <nil> * int". It follows each path the expression reads
// (trigger.body.x, steps.a.b[0] …) through the data the run had, and names
// the first one that breaks, nearest the failing operation.
func explain(program *vm.Program, scope *Scope, fe *file.Error) string {
	message := plainMessage(fe.Message)
	where := fmt.Sprintf(" (line %d, column %d)", fe.Line, fe.Column+1)
	reading := readFailure.MatchString(fe.Message)
	if !reading && !strings.Contains(message, "null") {
		// A broken path reads as null or fails to read; anything else
		// failed for another reason (a path read with ?? may be missing).
		return message + where
	}
	var best *pathProblem
	for _, p := range pathProblems(program.Node(), scope) {
		if best == nil || p.nearer(best, fe.From) {
			best = &p
		}
	}
	if best == nil {
		return message + where
	}
	if reading {
		return best.text + where // The path says it all.
	}
	return best.text + ": " + message + where
}

// pathProblem is a path an expression reads that the data does not have.
type pathProblem struct {
	text     string
	from, to int // the path's place in the source, in runes
}

// nearer tells whether p is a better guess than q at the cause of a failure
// at pos: a problem of a path that holds pos, else the closest one before pos.
func (p pathProblem) nearer(q *pathProblem, pos int) bool {
	pIn, qIn := p.from <= pos && pos <= p.to, q.from <= pos && pos <= q.to
	if pIn != qIn {
		return pIn
	}
	pBefore, qBefore := p.to <= pos, q.to <= pos
	if pBefore != qBefore {
		return pBefore
	}
	if pBefore {
		return p.to > q.to
	}
	return p.from < q.from
}

// segment is one step of a path: a key, or an index into a list.
type segment struct {
	key     string
	index   int
	isIndex bool
}

// pathProblems follows every path with fixed keys that the expression reads
// from the scope, and reports each that breaks.
func pathProblems(root ast.Node, scope *Scope) []pathProblem {
	var problems []pathProblem
	var visit func(n ast.Node, outermost bool)
	visit = func(n ast.Node, outermost bool) {
		if n == nil {
			return
		}
		if m, ok := n.(*ast.MemberNode); ok && outermost {
			if name, value, segments, from, ok := memberPath(m, scope); ok {
				if p, broken := follow(name, value, segments); broken {
					p.from, p.to = from, m.Location().To
					problems = append(problems, p)
				}
			}
		}
		for _, child := range children(n) {
			switch n := n.(type) {
			case *ast.MemberNode:
				// a.b.c is one path: its inner a.b is not another.
				visit(child, child != n.Node)
			case *ast.BinaryNode:
				// x ?? default says x may be missing.
				visit(child, n.Operator != "??" || child != n.Left)
			default:
				visit(child, true)
			}
		}
	}
	visit(root, true)
	return problems
}

// memberPath reads a chain such as trigger.body["a"].items[0] into its root
// value and fixed segments; false when it does not start at a name of the
// scope or a key is computed.
func memberPath(m *ast.MemberNode, scope *Scope) (string, any, []segment, int, bool) {
	var segments []segment
	var n ast.Node = m
	for {
		switch node := n.(type) {
		case *ast.MemberNode:
			switch p := node.Property.(type) {
			case *ast.StringNode:
				segments = append(segments, segment{key: p.Value})
			case *ast.IntegerNode:
				segments = append(segments, segment{index: p.Value, isIndex: true})
			default:
				return "", nil, nil, 0, false
			}
			if node.Optional {
				return "", nil, nil, 0, false // a?.b says missing is fine
			}
			n = node.Node
		case *ast.IdentifierNode:
			value, ok := scopeValue(scope, node.Value)
			if !ok {
				return "", nil, nil, 0, false
			}
			slices.Reverse(segments)
			return node.Value, value, segments, node.Location().From, true
		default:
			return "", nil, nil, 0, false
		}
	}
}

func scopeValue(scope *Scope, name string) (any, bool) {
	switch name {
	case "trigger":
		return scope.Trigger, true
	case "steps":
		return scope.Steps, true
	case "input":
		return scope.Input, true
	case "env":
		return scope.Env, true
	case "item":
		return scope.Item, true
	}
	return nil, false
}

// follow walks value along segments and says where it breaks.
func follow(path string, value any, segments []segment) (pathProblem, bool) {
	for _, s := range segments {
		switch v := value.(type) {
		case nil:
			if s.isIndex {
				return pathProblem{text: fmt.Sprintf("%s is null, so [%d] finds nothing", path, s.index)}, true
			}
			return pathProblem{text: fmt.Sprintf("%s is null, so .%s finds nothing", path, s.key)}, true
		case map[string]any:
			if s.isIndex {
				return pathProblem{text: fmt.Sprintf("%s is an object, not a list, so [%d] finds nothing", path, s.index)}, true
			}
			next, ok := v[s.key]
			if !ok {
				return pathProblem{text: joinKey(path, s.key) + " is missing" + keyHint(path, s.key, v)}, true
			}
			path, value = joinKey(path, s.key), next
		case []any:
			if !s.isIndex {
				return pathProblem{text: fmt.Sprintf("%s is a list, so .%s needs an element first, such as %s[0].%s, or map(%s, .%s) for all",
					path, s.key, path, s.key, path, s.key)}, true
			}
			i := s.index
			if i < 0 {
				i += len(v)
			}
			if i < 0 || i >= len(v) {
				return pathProblem{text: fmt.Sprintf("%s has %s, so [%d] is past its end", path, count(len(v), "element"), s.index)}, true
			}
			path, value = fmt.Sprintf("%s[%d]", path, s.index), v[i]
		default:
			if s.isIndex {
				return pathProblem{text: fmt.Sprintf("%s is %s, not a list, so [%d] finds nothing", path, TypeName(value), s.index)}, true
			}
			return pathProblem{text: fmt.Sprintf("%s is %s, not an object, so .%s finds nothing", path, TypeName(value), s.key)}, true
		}
	}
	if value == nil {
		return pathProblem{text: path + " is null"}, true
	}
	return pathProblem{}, false
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// joinKey writes path.key, or path["key"] when key is not a plain name.
func joinKey(path, key string) string {
	if identifier.MatchString(key) {
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

// keyHint suggests the keys of an object a misspelt key may have meant, or
// lists what the object has.
func keyHint(path, key string, object map[string]any) string {
	if len(object) == 0 {
		return " (" + path + " is empty)"
	}
	keys := make([]string, 0, len(object))
	for k := range object {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var close []string
	for _, k := range keys {
		if strings.EqualFold(k, key) || editDistance(strings.ToLower(k), strings.ToLower(key)) <= max(1, len(key)/3) {
			close = append(close, k)
		}
	}
	if len(close) > 0 {
		return " (did you mean " + strings.Join(close, " or ") + "?)"
	}
	if len(keys) > 10 {
		keys = append(keys[:10], "…")
	}
	return " (" + path + " has " + strings.Join(keys, ", ") + ")"
}

// editDistance is the Levenshtein distance between two strings, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// TypeName names a value's type as JSON does, with its article.
func TypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case int, int64, float64, int32, float32, uint, uint64:
		return "a number"
	}
	return fmt.Sprintf("a %T", v)
}

// goTypes are expr's names of Go types, as the flow's data calls them.
var goTypes = strings.NewReplacer(
	"map[string]interface {}", "object",
	"[]interface {}", "list",
	"interface {}", "value",
	"<nil>", "null",
)

// readFailure is a message of expr's about reading a path, which the path's
// own problem says better.
var readFailure = regexp.MustCompile(`^(cannot fetch |index out of range|invalid operation: int\()`)

var (
	binaryOp    = regexp.MustCompile(`^invalid operation: (\S+) (\S+) (\S+)$`)
	unaryOp     = regexp.MustCompile(`^invalid operation: (\S+) (\S+)$`)
	conversion  = regexp.MustCompile(`^interface conversion: value is (\S+), not (\S+)$`)
	badArgument = regexp.MustCompile(`^invalid argument for (\w+) \(type (\S+)\)$`)
	fetch       = regexp.MustCompile(`^cannot fetch (\S+) from (\S+)$`)
	outOfRange  = regexp.MustCompile(`^index out of range: (-?\d+) \(array length is (\d+)\)$`)
)

// plainMessage rewrites expr's runtime messages with JSON's type names:
// "invalid operation: <nil> * int" becomes "cannot apply * to null and a
// number". Messages it does not know pass as they are.
func plainMessage(message string) string {
	m := goTypes.Replace(message)
	if g := binaryOp.FindStringSubmatch(m); g != nil {
		return fmt.Sprintf("cannot apply %s to %s and %s", g[2], withArticle(g[1]), withArticle(g[3]))
	}
	if g := unaryOp.FindStringSubmatch(m); g != nil && !strings.Contains(g[1], "(") {
		return fmt.Sprintf("cannot apply %s to %s", g[1], withArticle(g[2]))
	}
	if g := conversion.FindStringSubmatch(m); g != nil {
		return fmt.Sprintf("needs %s here, not %s", withArticle(g[2]), withArticle(g[1]))
	}
	if g := badArgument.FindStringSubmatch(m); g != nil {
		return fmt.Sprintf("%s cannot take %s", g[1], withArticle(g[2]))
	}
	if g := fetch.FindStringSubmatch(m); g != nil {
		return fmt.Sprintf("cannot read .%s of %s", g[1], withArticle(g[2]))
	}
	if g := outOfRange.FindStringSubmatch(m); g != nil {
		n, _ := strconv.Atoi(g[2])
		return fmt.Sprintf("index %s is past the end of a list of %s", g[1], count(n, "element"))
	}
	return m
}

// withArticle turns a Go type name into the JSON kind with its article.
func withArticle(goType string) string {
	switch goType {
	case "null", "nil":
		return "null"
	case "object":
		return "an object"
	case "list":
		return "a list"
	case "value":
		return "a value"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "a number"
	case "time.Time":
		return "a time"
	case "time.Duration":
		return "a duration"
	}
	return goType
}

// children lists a node's direct children, for walking the tree.
func children(n ast.Node) []ast.Node {
	switch n := n.(type) {
	case *ast.MemberNode:
		return []ast.Node{n.Node, n.Property}
	case *ast.UnaryNode:
		return []ast.Node{n.Node}
	case *ast.BinaryNode:
		return []ast.Node{n.Left, n.Right}
	case *ast.ChainNode:
		return []ast.Node{n.Node}
	case *ast.SliceNode:
		return []ast.Node{n.Node, n.From, n.To}
	case *ast.CallNode:
		return append([]ast.Node{n.Callee}, n.Arguments...)
	case *ast.BuiltinNode:
		return n.Arguments
	case *ast.PredicateNode:
		return []ast.Node{n.Node}
	case *ast.SequenceNode:
		return n.Nodes
	case *ast.ConditionalNode:
		return []ast.Node{n.Cond, n.Exp1, n.Exp2}
	case *ast.VariableDeclaratorNode:
		return []ast.Node{n.Value, n.Expr}
	case *ast.ArrayNode:
		return n.Nodes
	case *ast.MapNode:
		return n.Pairs
	case *ast.PairNode:
		return []ast.Node{n.Key, n.Value}
	}
	return nil
}
