package expression

import (
	"context"
	"sort"
	"strconv"
	"strings"
)

// Value is a JSON value whose strings may embed {{ expression }} templates,
// such as a request body: evaluating it rebuilds the value with each template
// rendered and everything else as it was.
type Value struct {
	static   any
	template *Template
	list     []*Value
	keys     []string
	fields   []*Value
	kind     valueKind
}

type valueKind int

const (
	staticValue valueKind = iota
	templateValue
	listValue
	objectValue
)

// ValueError is a template inside a Value that does not compile.
type ValueError struct {
	// Path is where the string sits, such as "items[2].name"; empty for
	// the value itself.
	Path string
	Err  error
}

func (e *ValueError) Error() string {
	if e.Path == "" {
		return e.Err.Error()
	}
	return e.Path + ": " + e.Err.Error()
}

func (e *ValueError) Unwrap() error { return e.Err }

// CompileValue compiles the templates inside a decoded JSON value. The error
// is a *ValueError naming the string that failed.
func CompileValue(v any) (*Value, error) {
	return compileValue(v, "")
}

func compileValue(v any, path string) (*Value, error) {
	switch v := v.(type) {
	case string:
		if !strings.Contains(v, "{{") {
			return &Value{static: v}, nil
		}
		t, err := CompileTemplate(v)
		if err != nil {
			return nil, &ValueError{Path: path, Err: err}
		}
		return &Value{kind: templateValue, template: t}, nil
	case []any:
		out := &Value{kind: listValue, list: make([]*Value, len(v))}
		dynamic := false
		for i, item := range v {
			c, err := compileValue(item, path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return nil, err
			}
			out.list[i] = c
			dynamic = dynamic || c.kind != staticValue
		}
		if !dynamic {
			return &Value{static: v}, nil
		}
		return out, nil
	case map[string]any:
		out := &Value{kind: objectValue}
		for k := range v {
			out.keys = append(out.keys, k)
		}
		sort.Strings(out.keys)
		dynamic := false
		for _, k := range out.keys {
			sub := k
			if path != "" {
				sub = path + "." + k
			}
			c, err := compileValue(v[k], sub)
			if err != nil {
				return nil, err
			}
			out.fields = append(out.fields, c)
			dynamic = dynamic || c.kind != staticValue
		}
		if !dynamic {
			return &Value{static: v}, nil
		}
		return out, nil
	}
	return &Value{static: v}, nil
}

// IsStatic reports whether the value holds no templates.
func (v *Value) IsStatic() bool { return v.kind == staticValue }

// KeepsType reports a value that is a string of exactly one {{ expr }}:
// its type is only known when it is evaluated.
func (v *Value) KeepsType() bool { return v.kind == templateValue && v.template.KeepsType() }

// Static returns the value as written; meaningful when IsStatic.
func (v *Value) Static() any { return v.static }

// Eval renders the value's templates against scope.
func (v *Value) Eval(ctx context.Context, scope *Scope) (any, error) {
	switch v.kind {
	case templateValue:
		return v.template.Eval(ctx, scope)
	case listValue:
		out := make([]any, len(v.list))
		for i, item := range v.list {
			r, err := item.Eval(ctx, scope)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case objectValue:
		out := make(map[string]any, len(v.keys))
		for i, k := range v.keys {
			r, err := v.fields[i].Eval(ctx, scope)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	}
	return v.static, nil
}
