package n8nexpr

import (
	"regexp"
	"strconv"
	"strings"
)

// kind is what a translated expression is known to give before it runs.
// JavaScript picks the meaning of +, !, || and includes from the values'
// types at run time, while expr wants them settled; where the kind is
// unknown the translation either dispatches at run time or fails loudly.
type kind int

const (
	kindAny kind = iota
	kindString
	kindNumber
	kindBool
	kindNull
	kindList
	kindMap
)

// Precedences of expr's operators (expr/parser/operator), used to put
// parentheses exactly where the emitted source needs them.
const (
	precTernary  = 1
	precOr       = 10
	precAnd      = 15
	precCompare  = 20
	precAdd      = 30
	precUnary    = 50
	precMul      = 60
	precPow      = 100
	precCoalesce = 500
	precAtom     = 1000
)

// code is a piece of emitted expr source.
type code struct {
	src  string
	prec int
	kind kind
}

func atom(src string, k kind) code { return code{src: src, prec: precAtom, kind: k} }

// at returns the source, parenthesized unless it binds at least as tightly as min.
func (c code) at(min int) string {
	if c.prec >= min {
		return c.src
	}
	return "(" + c.src + ")"
}

// binary joins two operands with a left-associative operator.
func binary(l code, op string, r code, prec int, k kind) code {
	return code{src: l.at(prec) + " " + op + " " + r.at(prec+1), prec: prec, kind: k}
}

// call emits a builtin call; arguments need no parentheses.
func call(name string, k kind, args ...code) code {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = a.src
	}
	return atom(name+"("+strings.Join(parts, ", ")+")", k)
}

// quote writes a Go string as an expr string literal; expr reads Go's
// escapes (\n, \", \u00e9, \x41).
func quote(s string) string { return strconv.Quote(s) }

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// exprWords are expr's operators and literals, which cannot follow a dot.
var exprWords = map[string]bool{
	"in": true, "not": true, "and": true, "or": true, "matches": true, "contains": true,
	"startsWith": true, "endsWith": true, "let": true, "nil": true, "true": true, "false": true,
	"if": true, "else": true,
}

// member reads key from base the way Hookflow writes paths: .name for
// identifier keys, ["odd key"] otherwise.
func member(base code, key string, optional bool) code {
	dot := "."
	if optional {
		dot = "?."
	}
	if identifier.MatchString(key) && !exprWords[key] {
		return atom(base.at(precAtom)+dot+key, kindAny)
	}
	if optional {
		return atom(base.at(precAtom)+"?.["+quote(key)+"]", kindAny)
	}
	return atom(base.at(precAtom)+"["+quote(key)+"]", kindAny)
}

// number writes a JavaScript number literal: whole numbers as expr ints
// (JavaScript has one number type, expr's int and float mix freely), others
// as decimals.
func number(v float64) code {
	if v == float64(int64(v)) && v > -1<<53 && v < 1<<53 {
		return atom(strconv.FormatInt(int64(v), 10), kindNumber)
	}
	return atom(strconv.FormatFloat(v, 'f', -1, 64), kindNumber)
}
