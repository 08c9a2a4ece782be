package n8nimport

import (
	"fmt"
	"strings"
)

// conditions builds one expr condition from an If, Filter or Switch node's
// conditions: version 1's lists per data type, or the filter component of
// If 2, Filter 2 and Switch 3 ({conditions, combinator}).
func (b *nodeBuilder) conditions(field string, p params) (string, error) {
	if p.has("conditions", "conditions") || len(p.list("conditions")) > 0 || p.has("combinator") {
		filter := p.object("conditions")
		if len(p.list("conditions")) > 0 {
			filter = p
		}
		return b.filterConditions(field, filter)
	}
	return b.v1Conditions(field, p)
}

// filterConditions reads n8n's filter component (If 2, Filter 2, Switch 3).
func (b *nodeBuilder) filterConditions(field string, f params) (string, error) {
	caseSensitive := f.boolean(true, "options", "caseSensitive")
	if b.p.boolean(false, "options", "ignoreCase") {
		caseSensitive = false
	}
	var parts []string
	for i, cond := range f.objects("conditions") {
		at := fmt.Sprintf("%s.conditions[%d]", field, i)
		left := "(" + b.expr(at+".leftValue", cond.get("leftValue")) + ")"
		right := "(" + b.expr(at+".rightValue", cond.get("rightValue")) + ")"
		typ, op := cond.str("string", "operator", "type"), cond.str("equals", "operator", "operation")
		part, err := operation(typ, op, left, right, caseSensitive)
		if err != nil {
			return "", fmt.Errorf("%s: %w", at, err)
		}
		parts = append(parts, part)
	}
	join := " && "
	if f.str("and", "combinator") == "or" {
		join = " || "
	}
	return combine(parts, join), nil
}

// operation is one condition of the filter component.
func operation(typ, op, left, right string, caseSensitive bool) (string, error) {
	if !caseSensitive && typ == "string" {
		left, right = "lower(string("+left+" ?? \"\"))", "lower(string("+right+" ?? \"\"))"
	}
	switch op {
	case "exists":
		return left + " != nil", nil
	case "notExists":
		return left + " == nil", nil
	case "empty", "notEmpty":
		var empty string
		switch typ {
		case "array":
			empty = "len(" + left + " ?? []) == 0"
		case "object":
			empty = "len(" + left + " ?? {}) == 0"
		default:
			empty = "(" + left + " ?? \"\") == \"\""
		}
		if op == "notEmpty" {
			return "!(" + empty + ")", nil
		}
		return empty, nil
	case "true":
		return left + " == true", nil
	case "false":
		return left + " == false", nil
	}
	switch typ {
	case "string":
		switch op {
		case "equals":
			return left + " == " + right, nil
		case "notEquals":
			return left + " != " + right, nil
		case "contains":
			return left + " contains " + right, nil
		case "notContains":
			return "not (" + left + " contains " + right + ")", nil
		case "startsWith":
			return left + " startsWith " + right, nil
		case "notStartsWith":
			return "not (" + left + " startsWith " + right + ")", nil
		case "endsWith":
			return left + " endsWith " + right, nil
		case "notEndsWith":
			return "not (" + left + " endsWith " + right + ")", nil
		case "regex":
			return left + " matches " + right, nil
		case "notRegex":
			return "not (" + left + " matches " + right + ")", nil
		}
	case "number", "boolean":
		if cmp, ok := comparison(op); ok {
			return left + " " + cmp + " " + right, nil
		}
	case "dateTime":
		if cmp, ok := comparison(op); ok {
			return "date(" + left + ") " + cmp + " date(" + right + ")", nil
		}
	case "array":
		switch op {
		case "contains":
			return right + " in " + left, nil
		case "notContains":
			return "not (" + right + " in " + left + ")", nil
		case "lengthEquals", "lengthNotEquals", "lengthGt", "lengthLt", "lengthGte", "lengthLte":
			cmp, _ := comparison(strings.TrimPrefix(op, "length"))
			return "len(" + left + ") " + cmp + " " + right, nil
		}
	}
	return "", fmt.Errorf("the %s operation %q has no Hookflow equivalent", typ, op)
}

// comparison maps n8n's comparison names, of the filter component and of
// version 1, to expr operators.
func comparison(op string) (string, bool) {
	switch op {
	case "equals", "Equals", "equal", "isDateEqual":
		return "==", true
	case "notEquals", "NotEquals", "notEqual":
		return "!=", true
	case "gt", "Gt", "larger", "after":
		return ">", true
	case "lt", "Lt", "smaller", "before":
		return "<", true
	case "gte", "Gte", "largerEqual", "afterOrEquals":
		return ">=", true
	case "lte", "Lte", "smallerEqual", "beforeOrEquals":
		return "<=", true
	}
	return "", false
}

// v1Conditions reads If 1 and Filter 1: lists of {value1, operation,
// value2} per data type, joined by combineOperation.
func (b *nodeBuilder) v1Conditions(field string, p params) (string, error) {
	var parts []string
	for _, typ := range []string{"boolean", "dateTime", "number", "string"} {
		for i, cond := range p.objects("conditions", typ) {
			at := fmt.Sprintf("%s.%s[%d]", field, typ, i)
			part, err := b.v1Condition(at, typ, cond)
			if err != nil {
				return "", err
			}
			parts = append(parts, part)
		}
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("%s: no conditions", field)
	}
	join := " && "
	if p.str("all", "combineOperation") == "any" {
		join = " || "
	}
	return combine(parts, join), nil
}

// v1Condition is one condition of version 1; its defaults are n8n's:
// smaller for numbers, equal for the rest.
func (b *nodeBuilder) v1Condition(at, typ string, cond params) (string, error) {
	left := "(" + b.expr(at+".value1", cond.get("value1")) + ")"
	right := "(" + b.expr(at+".value2", cond.get("value2")) + ")"
	def := "equal"
	if typ == "number" {
		def = "smaller"
	}
	op := cond.str(def, "operation")
	switch op {
	case "isEmpty":
		return "(" + left + " ?? \"\") == \"\"", nil
	case "isNotEmpty":
		return "(" + left + " ?? \"\") != \"\"", nil
	}
	switch typ {
	case "string":
		switch op {
		case "equal":
			return left + " == " + right, nil
		case "notEqual":
			return left + " != " + right, nil
		}
		return operation("string", op, left, right, true)
	case "dateTime":
		return operation("dateTime", op, left, right, true)
	default:
		if cmp, ok := comparison(op); ok {
			return left + " " + cmp + " " + right, nil
		}
	}
	return "", fmt.Errorf("%s: the %s operation %q has no Hookflow equivalent", at, typ, op)
}

func combine(parts []string, join string) string {
	switch len(parts) {
	case 0:
		return "true"
	case 1:
		return parts[0]
	}
	for i, p := range parts {
		parts[i] = "(" + p + ")"
	}
	return strings.Join(parts, join)
}
