package n8nexpr

import (
	"github.com/dop251/goja/ast"
)

// links applies properties, indexes and method calls to base.
func (t *translator) links(base code, links []link) (code, error) {
	for i := 0; i < len(links); i++ {
		l := links[i]
		if l.call {
			return code{}, t.refuse("calls something that is not a known function")
		}
		if l.name != "" && i+1 < len(links) && links[i+1].call {
			c, err := t.method(base, l.name, links[i+1].args)
			if err != nil {
				return code{}, err
			}
			base = c
			i++
			continue
		}
		if l.name == "length" {
			// JavaScript's length of a string or list; expr's len also
			// counts a map's keys, where JavaScript would read a key.
			base = call("len", kindNumber, base)
			continue
		}
		if err := t.indexable(base, l); err != nil {
			return code{}, err
		}
		if key, ok := l.key(); ok {
			base = member(base, key, l.optional)
			continue
		}
		idx, err := t.expr(l.index)
		if err != nil {
			return code{}, err
		}
		if n, ok := l.index.(*ast.NumberLiteral); ok {
			if f, ok := n.Value.(int64); !ok || f < 0 {
				return code{}, t.refuse("indexes with %s, which is not a position", n.Literal)
			}
		}
		dot := ""
		if l.optional {
			dot = "?."
		}
		base = atom(base.at(precAtom)+dot+"["+idx.src+"]", kindAny)
	}
	return base, nil
}

// indexable refuses reading a property or position of a value whose kind
// is known not to allow it in expr: a string's characters by position, a
// number's or a literal list's properties, a literal map's positions.
func (t *translator) indexable(base code, l link) error {
	_, isKey := l.key()
	_, isPos := l.index.(*ast.NumberLiteral)
	switch {
	case base.kind == kindAny:
		return nil
	case base.kind == kindMap && isKey, base.kind == kindList && isPos:
		return nil
	}
	return t.refuse("reads a property or position of a literal value that has no equivalent in expr")
}

// args translates call arguments.
func (t *translator) args(args []ast.Expression) ([]code, error) {
	out := make([]code, len(args))
	for i, a := range args {
		c, err := t.expr(a)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// nonNegative reports whether every argument is a whole-number literal of
// at least 0: positions JavaScript and expr read alike.
func nonNegative(args []ast.Expression) bool {
	for _, a := range args {
		n, ok := a.(*ast.NumberLiteral)
		if !ok {
			return false
		}
		if v, ok := n.Value.(int64); !ok || v < 0 {
			return false
		}
	}
	return true
}

// stringMethods are the methods translated only for strings.
var stringMethods = map[string]bool{
	"toUpperCase": true, "toLowerCase": true, "trim": true, "startsWith": true, "endsWith": true,
	"split": true, "replace": true, "replaceAll": true, "substring": true,
}

// kindNames name the kinds known before run time, for messages.
var kindNames = map[kind]string{kindNumber: "a number", kindBool: "a boolean", kindNull: "null", kindList: "a list", kindMap: "an object"}

// method translates recv.name(args).
func (t *translator) method(recv code, name string, raw []ast.Expression) (code, error) {
	for _, a := range raw {
		if r, ok := a.(*ast.RegExpLiteral); ok {
			return code{}, t.refuse("calls %s() with the regular expression %s, which has no equivalent", name, r.Literal)
		}
	}
	args, err := t.args(raw)
	if err != nil {
		return code{}, err
	}
	arity := func(n ...int) error {
		for _, k := range n {
			if len(args) == k {
				return nil
			}
		}
		return t.refuse("calls %s() with %d arguments, which is not translated", name, len(args))
	}
	if stringMethods[name] && recv.kind != kindAny && recv.kind != kindString {
		return code{}, t.refuse("calls %s() on %s, which has no such method", name, kindNames[recv.kind])
	}
	switch name {
	case "toUpperCase", "toLowerCase", "trim", "toString":
		if err := arity(0); err != nil {
			return code{}, err
		}
		builtin := map[string]string{"toUpperCase": "upper", "toLowerCase": "lower", "trim": "trim", "toString": "string"}[name]
		return call(builtin, kindString, recv), nil
	case "includes":
		if err := arity(1); err != nil {
			return code{}, err
		}
		x := args[0]
		switch recv.kind {
		case kindString:
			return binary(recv, "contains", x, precCompare, kindBool), nil
		case kindList:
			return binary(x, "in", recv, precCompare, kindBool), nil
		}
		// A string's includes looks for text, a list's for an element.
		return code{src: `type(` + recv.src + `) == "string" ? ` + binary(recv, "contains", x, precCompare, kindBool).src +
			" : " + binary(x, "in", recv, precCompare, kindBool).src, prec: precTernary, kind: kindBool}, nil
	case "startsWith", "endsWith":
		if err := arity(1); err != nil {
			return code{}, err
		}
		builtin := map[string]string{"startsWith": "hasPrefix", "endsWith": "hasSuffix"}[name]
		return call(builtin, kindBool, recv, args[0]), nil
	case "split":
		if err := arity(1); err != nil {
			return code{}, t.refuse("calls split() with a limit, which splits differently in expr")
		}
		return call("split", kindList, recv, args[0]), nil
	case "join":
		if err := arity(0, 1); err != nil {
			return code{}, err
		}
		if len(args) == 0 {
			args = []code{atom(`","`, kindString)}
		}
		return call("join", kindString, recv, args[0]), nil
	case "replace", "replaceAll":
		if err := arity(2); err != nil {
			return code{}, err
		}
		if _, ok := raw[0].(*ast.StringLiteral); !ok {
			return code{}, t.refuse("calls %s() with a pattern that is not a string literal", name)
		}
		if _, ok := raw[1].(*ast.StringLiteral); !ok {
			// A function or "$&" replacement means something else in expr.
			return code{}, t.refuse("calls %s() with a replacement that is not a string literal", name)
		}
		if name == "replace" {
			// JavaScript replaces the first match only.
			return call("replace", kindString, recv, args[0], args[1], atom("1", kindNumber)), nil
		}
		return call("replace", kindString, recv, args[0], args[1]), nil
	case "slice", "substring":
		if err := arity(1, 2); err != nil {
			return code{}, err
		}
		if !nonNegative(raw) {
			return code{}, t.refuse("calls %s() with positions that are not whole numbers of at least 0", name)
		}
		to := ""
		if len(args) == 2 {
			if name == "substring" && raw[0].(*ast.NumberLiteral).Value.(int64) > raw[1].(*ast.NumberLiteral).Value.(int64) {
				return code{}, t.refuse("calls substring() with its positions the wrong way round")
			}
			to = args[1].src
		}
		r := "[" + args[0].src + ":" + to + "]"
		if recv.kind == kindList {
			return atom(recv.at(precAtom)+r, kindList), nil
		}
		// expr slices strings by bytes; JavaScript counts characters.
		chars := call("split", kindList, recv, atom(`""`, kindString))
		if recv.kind == kindString {
			return call("join", kindString, atom(chars.src+r, kindList), atom(`""`, kindString)), nil
		}
		return code{src: `type(` + recv.src + `) == "string" ? join(` + chars.src + r + `, "") : ` + recv.at(precAtom) + r,
			prec: precTernary, kind: kindAny}, nil
	case "indexOf":
		if err := arity(1); err != nil {
			return code{}, err
		}
		if recv.kind != kindString {
			return code{}, t.refuse("calls indexOf() on something not known to be a string")
		}
		return code{}, t.refuse("calls indexOf(), whose positions count bytes in expr and characters in JavaScript")
	}
	return code{}, t.refuse("calls the method %s(), which has no equivalent", name)
}

// global translates calls of JavaScript's global functions and of Math,
// JSON and Object.
func (t *translator) global(name string, links []link) (code, []link, error) {
	callee := name
	if name == "Math" || name == "JSON" || name == "Object" {
		if len(links) < 2 || links[0].name == "" || !links[1].call {
			return code{}, nil, t.refuse("uses %s other than by calling one of its functions", name)
		}
		callee = name + "." + links[0].name
		links = links[1:]
	}
	if len(links) == 0 || !links[0].call {
		return code{}, nil, t.refuse("uses %s without calling it", name)
	}
	raw := links[0].args
	rest := links[1:]
	args, err := t.args(raw)
	if err != nil {
		return code{}, nil, err
	}
	one := func(builtin string, k kind) (code, []link, error) {
		if len(args) != 1 {
			return code{}, nil, t.refuse("calls %s() with %d arguments, which is not translated", callee, len(args))
		}
		return call(builtin, k, args[0]), rest, nil
	}
	switch callee {
	case "parseInt":
		if len(args) == 2 {
			if n, ok := raw[1].(*ast.NumberLiteral); !ok || n.Literal != "10" {
				return code{}, nil, t.refuse("calls parseInt() with a radix other than 10")
			}
			args = args[:1]
		}
		return one("int", kindNumber)
	case "parseFloat", "Number":
		return one("float", kindNumber)
	case "String":
		return one("string", kindString)
	case "Math.floor", "Math.ceil", "Math.abs":
		return one(callee[len("Math."):], kindNumber)
	case "Math.round":
		// JavaScript rounds halves up (-2.5 to -2); expr's round rounds
		// them away from zero.
		if len(args) != 1 {
			return code{}, nil, t.refuse("calls Math.round() with %d arguments", len(args))
		}
		return call("floor", kindNumber, binary(args[0], "+", atom("0.5", kindNumber), precAdd, kindNumber)), rest, nil
	case "Math.min", "Math.max":
		if len(args) == 0 {
			return code{}, nil, t.refuse("calls %s() without arguments", callee)
		}
		return call(callee[len("Math."):], kindNumber, args...), rest, nil
	case "Math.pow":
		if len(args) != 2 {
			return code{}, nil, t.refuse("calls Math.pow() with %d arguments", len(args))
		}
		return binary(args[0], "**", args[1], precPow, kindNumber), rest, nil
	case "JSON.parse":
		return one("fromJSON", kindAny)
	case "JSON.stringify":
		// expr's toJSON indents by two spaces, as JSON.stringify(x, null, 2).
		if len(raw) == 3 {
			if _, ok := raw[1].(*ast.NullLiteral); ok {
				if n, ok := raw[2].(*ast.NumberLiteral); ok && n.Literal == "2" {
					return call("toJSON", kindString, args[0]), rest, nil
				}
			}
		}
		return code{}, nil, t.refuse("calls JSON.stringify() other than as JSON.stringify(x, null, 2); Hookflow's toJSON always indents by two spaces")
	case "Object.keys":
		// Hookflow's maps do not keep n8n's key order.
		return one("keys", kindList)
	case "Object.values":
		return one("values", kindList)
	}
	return code{}, nil, t.refuse("calls %s(), which has no equivalent", callee)
}
