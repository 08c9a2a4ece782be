package n8nexpr

import (
	"fmt"
	"strings"

	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/parser"
	"github.com/dop251/goja/token"
)

// translator turns one JavaScript expression into expr source.
type translator struct {
	scope  Scope
	source string
}

// refuse builds the error for what has no faithful equivalent.
func (t *translator) refuse(format string, args ...any) error {
	return &Untranslatable{Source: t.source, Reason: fmt.Sprintf(format, args...)}
}

// translateJS parses the JavaScript inside one {{ }} and translates it.
func translateJS(js string, s Scope) (code, error) {
	t := &translator{scope: s, source: strings.TrimSpace(js)}
	e, err := t.parse()
	if err != nil {
		return code{}, err
	}
	return t.expr(e)
}

// parse reads the source as one JavaScript expression. n8n evaluates the
// text as a program, so a trailing ";" is allowed; an object literal, which
// a program would read as a block, is retried in parentheses.
func (t *translator) parse() (ast.Expression, error) {
	if t.source == "" {
		return nil, t.refuse("is empty")
	}
	src := strings.TrimRight(t.source, "; \t\r\n")
	var parseErr error
	for _, candidate := range []string{src, "(" + src + "\n)"} {
		prog, err := parser.ParseFile(nil, "", candidate, 0)
		if err != nil {
			if parseErr == nil {
				parseErr = t.refuse("is not a JavaScript expression: %v", err)
			}
			continue
		}
		if len(prog.Body) != 1 {
			return nil, t.refuse("holds statements, not one expression")
		}
		switch st := prog.Body[0].(type) {
		case *ast.ExpressionStatement:
			return st.Expression, nil
		case *ast.BlockStatement:
			continue
		default:
			return nil, t.refuse("holds a statement, not an expression")
		}
	}
	if parseErr != nil {
		return nil, parseErr
	}
	return nil, t.refuse("holds a block of statements, not an expression")
}

// expr translates one JavaScript expression node.
func (t *translator) expr(e ast.Expression) (code, error) {
	switch e := e.(type) {
	case *ast.StringLiteral:
		return atom(quote(e.Value.String()), kindString), nil
	case *ast.NumberLiteral:
		switch v := e.Value.(type) {
		case int64:
			return number(float64(v)), nil
		case float64:
			return number(v), nil
		}
		return code{}, t.refuse("has the number %s, which has no equivalent", e.Literal)
	case *ast.BooleanLiteral:
		return atom(fmt.Sprint(e.Value), kindBool), nil
	case *ast.NullLiteral:
		return atom("nil", kindNull), nil
	case *ast.TemplateLiteral:
		return t.templateLiteral(e)
	case *ast.ArrayLiteral:
		parts := make([]string, len(e.Value))
		for i, v := range e.Value {
			if v == nil {
				return code{}, t.refuse("has an array with a hole")
			}
			c, err := t.expr(v)
			if err != nil {
				return code{}, err
			}
			parts[i] = c.src
		}
		return atom("["+strings.Join(parts, ", ")+"]", kindList), nil
	case *ast.ObjectLiteral:
		return t.object(e)
	case *ast.BinaryExpression:
		return t.binary(e)
	case *ast.UnaryExpression:
		return t.unary(e)
	case *ast.ConditionalExpression:
		test, err := t.truthy(e.Test)
		if err != nil {
			return code{}, err
		}
		yes, err := t.expr(e.Consequent)
		if err != nil {
			return code{}, err
		}
		no, err := t.expr(e.Alternate)
		if err != nil {
			return code{}, err
		}
		k := kindAny
		if yes.kind == no.kind {
			k = yes.kind
		}
		return code{src: test.at(precOr) + " ? " + yes.at(precOr) + " : " + no.at(precOr), prec: precTernary, kind: k}, nil
	case *ast.OptionalChain:
		return t.expr(e.Expression)
	case *ast.Identifier, *ast.DotExpression, *ast.BracketExpression, *ast.CallExpression, *ast.NewExpression, *ast.Optional:
		return t.chain(e)
	case *ast.ArrowFunctionLiteral, *ast.FunctionLiteral:
		return code{}, t.refuse("defines a function, which has no equivalent")
	case *ast.RegExpLiteral:
		return code{}, t.refuse("uses the regular expression %s, which has no equivalent", e.Literal)
	case *ast.AssignExpression:
		return code{}, t.refuse("assigns a variable, which has no equivalent")
	case *ast.SequenceExpression:
		return code{}, t.refuse("uses the comma operator, which has no equivalent")
	}
	return code{}, t.refuse("uses JavaScript (%T) that has no equivalent", e)
}

// object translates an object literal into an expr map.
func (t *translator) object(e *ast.ObjectLiteral) (code, error) {
	parts := make([]string, 0, len(e.Value))
	for _, p := range e.Value {
		var key string
		var value ast.Expression
		switch p := p.(type) {
		case *ast.PropertyKeyed:
			if p.Computed || p.Kind != ast.PropertyKindValue {
				return code{}, t.refuse("has an object literal with a computed key or a method")
			}
			switch k := p.Key.(type) {
			case *ast.StringLiteral:
				key = k.Value.String()
			case *ast.Identifier:
				key = k.Name.String()
			default:
				return code{}, t.refuse("has an object literal with a numeric key")
			}
			value = p.Value
		case *ast.PropertyShort:
			if p.Initializer != nil {
				return code{}, t.refuse("has an object literal with a default value")
			}
			key, value = p.Name.Name.String(), &p.Name
		default:
			return code{}, t.refuse("spreads into an object literal, which has no equivalent")
		}
		c, err := t.expr(value)
		if err != nil {
			return code{}, err
		}
		parts = append(parts, quote(key)+": "+c.src)
	}
	return atom("{"+strings.Join(parts, ", ")+"}", kindMap), nil
}

// templateLiteral turns `a ${x} b` into a concatenation.
func (t *translator) templateLiteral(e *ast.TemplateLiteral) (code, error) {
	if e.Tag != nil {
		return code{}, t.refuse("uses a tagged template, which has no equivalent")
	}
	var parts []code
	for i, el := range e.Elements {
		if s := el.Parsed.String(); s != "" {
			parts = append(parts, atom(quote(s), kindString))
		}
		if i < len(e.Expressions) {
			c, err := t.expr(e.Expressions[i])
			if err != nil {
				return code{}, err
			}
			parts = append(parts, asString(c))
		}
	}
	return concat(parts), nil
}

// asString converts a value for text, as n8n writes a {{ }} into text and
// JavaScript joins a value to a string. Strings, numbers and booleans come
// out alike. Other values go through Hookflow's text(), as its templates
// write them: maps and lists as JSON, as n8n's {{ }} text does (JavaScript's
// + would write "[object Object]" or join a list with commas), and a
// missing or null value as nothing, as n8n's {{ }} text does (JavaScript's
// + would write "undefined" or "null"; Hookflow has one nil for both, and
// neither word is what the text meant).
func asString(c code) code {
	switch c.kind {
	case kindString:
		return c
	case kindNumber, kindBool:
		return call("string", kindString, c)
	}
	return call("text", kindString, c)
}

// concat joins string parts with +.
func concat(parts []code) code {
	if len(parts) == 0 {
		return atom(`""`, kindString)
	}
	out := parts[0]
	for _, p := range parts[1:] {
		out = binary(out, "+", p, precAdd, kindString)
	}
	return out
}

// falsy lists JavaScript's falsy values that Hookflow's data can hold (it
// has no undefined or NaN); `x in falsy` is JavaScript's !x for any x.
const falsy = `[nil, false, 0, ""]`

// truthy translates e for use as a condition, with JavaScript's truthiness.
func (t *translator) truthy(e ast.Expression) (code, error) {
	c, err := t.expr(e)
	if err != nil || c.kind == kindBool {
		return c, err
	}
	return code{src: c.at(precCompare+1) + " not in " + falsy, prec: precCompare, kind: kindBool}, nil
}

func (t *translator) unary(e *ast.UnaryExpression) (code, error) {
	switch e.Operator {
	case token.NOT:
		c, err := t.expr(e.Operand)
		if err != nil {
			return code{}, err
		}
		if c.kind == kindBool {
			return code{src: "!" + c.at(precUnary), prec: precUnary, kind: kindBool}, nil
		}
		return code{src: c.at(precCompare+1) + " in " + falsy, prec: precCompare, kind: kindBool}, nil
	case token.MINUS:
		c, err := t.expr(e.Operand)
		if err != nil {
			return code{}, err
		}
		if c.kind != kindNumber && c.kind != kindAny {
			return code{}, t.refuse("negates something that is not a number")
		}
		return code{src: "-" + c.at(precAtom), prec: precUnary, kind: kindNumber}, nil
	case token.PLUS:
		c, err := t.expr(e.Operand)
		if err != nil {
			return code{}, err
		}
		return call("float", kindNumber, c), nil
	case token.TYPEOF:
		return code{}, t.refuse("uses typeof, which has no equivalent")
	case token.INCREMENT, token.DECREMENT:
		return code{}, t.refuse("changes a variable with %s, which has no equivalent", e.Operator)
	}
	return code{}, t.refuse("uses the operator %s, which has no equivalent", e.Operator)
}

// binaryOps maps JavaScript operators that mean the same in expr.
var binaryOps = map[token.Token]struct {
	op   string
	prec int
	kind kind
}{
	token.MINUS:            {"-", precAdd, kindNumber},
	token.MULTIPLY:         {"*", precMul, kindNumber},
	token.SLASH:            {"/", precMul, kindNumber},
	token.REMAINDER:        {"%", precMul, kindNumber},
	token.EXPONENT:         {"**", precPow, kindNumber},
	token.STRICT_EQUAL:     {"==", precCompare, kindBool},
	token.STRICT_NOT_EQUAL: {"!=", precCompare, kindBool},
	token.EQUAL:            {"==", precCompare, kindBool},
	token.NOT_EQUAL:        {"!=", precCompare, kindBool},
	token.LESS:             {"<", precCompare, kindBool},
	token.LESS_OR_EQUAL:    {"<=", precCompare, kindBool},
	token.GREATER:          {">", precCompare, kindBool},
	token.GREATER_OR_EQUAL: {">=", precCompare, kindBool},
	token.COALESCE:         {"??", precCoalesce, kindAny},
}

func (t *translator) binary(e *ast.BinaryExpression) (code, error) {
	l, err := t.expr(e.Left)
	if err != nil {
		return code{}, err
	}
	r, err := t.expr(e.Right)
	if err != nil {
		return code{}, err
	}
	switch e.Operator {
	case token.PLUS:
		// JavaScript joins as text as soon as one side is a string; expr's
		// + adds numbers or joins strings and refuses a mix, so the side
		// that is not known to be a string is converted.
		switch {
		case l.kind == kindString || r.kind == kindString:
			return binary(asString(l), "+", asString(r), precAdd, kindString), nil
		case l.kind == kindNumber && r.kind == kindNumber:
			return binary(l, "+", r, precAdd, kindNumber), nil
		}
		return binary(l, "+", r, precAdd, kindAny), nil
	case token.LOGICAL_AND, token.LOGICAL_OR:
		op, prec := "&&", precAnd
		if e.Operator == token.LOGICAL_OR {
			op, prec = "||", precOr
		}
		if l.kind == kindBool && r.kind == kindBool {
			return binary(l, op, r, prec, kindBool), nil
		}
		// JavaScript's && and || give one of their operands, not a
		// boolean: a || b is b when a is falsy.
		test := code{src: l.at(precCompare+1) + " not in " + falsy, prec: precCompare, kind: kindBool}
		if l.kind == kindBool {
			test = l
		}
		yes, no := l, r
		if e.Operator == token.LOGICAL_AND {
			yes, no = r, l
		}
		k := kindAny
		if yes.kind == no.kind {
			k = yes.kind
		}
		return code{src: test.at(precOr) + " ? " + yes.at(precOr) + " : " + no.at(precOr), prec: precTernary, kind: k}, nil
	case token.COALESCE:
		k := kindAny
		if l.kind == r.kind {
			k = l.kind
		}
		// expr binds ?? tightest but refuses to mix it with other
		// operators unparenthesized, so its result is always wrapped.
		c := binary(l, "??", r, precCoalesce, k)
		c.prec = precTernary + 1
		return c, nil
	case token.IN:
		return code{}, t.refuse("uses the in operator, which tests keys in JavaScript and values in expr")
	case token.INSTANCEOF:
		return code{}, t.refuse("uses instanceof, which has no equivalent")
	}
	op, ok := binaryOps[e.Operator]
	if !ok {
		return code{}, t.refuse("uses the operator %s, which has no equivalent", e.Operator)
	}
	if op.kind == kindNumber && (!numeric(l) || !numeric(r)) {
		return code{}, t.refuse("applies %s to something that is not a number", e.Operator)
	}
	return binary(l, op.op, r, op.prec, op.kind), nil
}

// numeric reports whether c may be a number.
func numeric(c code) bool { return c.kind == kindNumber || c.kind == kindAny }
