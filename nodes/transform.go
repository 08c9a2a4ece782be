package nodes

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/hookflow/hookflow/engine/schema"
)

var transformSpec = Spec{
	Kind:     "transform",
	Icon:     "shuffle",
	Category: CategoryData,
	Title:    "Transform",
	Pure:     true,
	Summary:  "Builds an object: sets fields from expressions, and keeps, removes or renames the input's fields.",
	Fields: []Field{
		{
			Name: "fields", Type: TypeMap, Label: "Fields to set",
			Help:  "Each name gets the value of its expression. A dotted name such as customer.email sets a nested field.",
			Items: &Field{Name: "expression", Type: TypeExpression, Label: "Expression", Placeholder: "trigger.body.amount / 100"},
		},
		{
			Name: "include_input", Type: TypeBoolean, Label: "Include the input's fields", Default: false,
			Help: "Start from the fields of the node's input instead of an empty object.",
		},
		{
			Name: "keep", Type: TypeList, Label: "Keep only", Advanced: true,
			Help:  "With include_input: keep only these fields of the input.",
			Items: &Field{Name: "field", Type: TypeString, Label: "Field", Min: Bound(1)},
		},
		{
			Name: "remove", Type: TypeList, Label: "Remove", Advanced: true,
			Help:  "With include_input: drop these fields of the input.",
			Items: &Field{Name: "field", Type: TypeString, Label: "Field", Min: Bound(1)},
		},
		{
			Name: "rename", Type: TypeMap, Label: "Rename", Advanced: true,
			Help:  "With include_input: old name → new name.",
			Items: &Field{Name: "new_name", Type: TypeString, Label: "New name", Min: Bound(1)},
		},
	},
}

type transformParams struct {
	Fields       map[string]string `json:"fields"`
	IncludeInput bool              `json:"include_input"`
	Keep         []string          `json:"keep"`
	Remove       []string          `json:"remove"`
	Rename       map[string]string `json:"rename"`
}

// transform sets fields from expressions on a copy of (part of) its input.
type transform struct {
	set          []NamedProgram
	includeInput bool
	keep         [][]string
	remove       [][]string
	rename       []renaming
}

type renaming struct{ from, to []string }

var _ Node = (*transform)(nil)

func buildTransform(b *Builder, p *transformParams) Node {
	t := &transform{includeInput: p.IncludeInput, set: b.Expressions("fields", p.Fields)}
	for name := range p.Fields {
		checkFieldPath(b, schema.Join("fields", name), name)
	}
	if !p.IncludeInput {
		for field, n := range map[string]int{"keep": len(p.Keep), "remove": len(p.Remove), "rename": len(p.Rename)} {
			if n > 0 {
				b.Fail(field, "acts on the input's fields, so it needs include_input")
			}
		}
	}
	for i, name := range p.Keep {
		t.keep = append(t.keep, checkFieldPath(b, fmt.Sprintf("keep[%d]", i), name))
	}
	for i, name := range p.Remove {
		t.remove = append(t.remove, checkFieldPath(b, fmt.Sprintf("remove[%d]", i), name))
	}
	from := make([]string, 0, len(p.Rename))
	for name := range p.Rename {
		from = append(from, name)
	}
	sort.Strings(from)
	for _, name := range from {
		field := schema.Join("rename", name)
		t.rename = append(t.rename, renaming{
			from: checkFieldPath(b, field, name),
			to:   checkFieldPath(b, field, p.Rename[name]),
		})
	}
	return t
}

// checkFieldPath splits a dotted field name, refusing empty segments.
func checkFieldPath(b *Builder, field, name string) []string {
	path := strings.Split(name, ".")
	for _, segment := range path {
		if segment == "" {
			b.Fail(field, "%q is not a field name: a dotted name has an empty part", name)
			return nil
		}
	}
	return path
}

func (t *transform) Run(ctx context.Context, in *Input) (Result, error) {
	out := map[string]any{}
	if t.includeInput {
		input, _ := in.Scope.Input.(map[string]any)
		if len(t.keep) > 0 {
			for _, path := range t.keep {
				if v, ok := getPath(input, path); ok {
					setPath(out, path, v)
				}
			}
		} else {
			for k, v := range input {
				out[k] = v
			}
		}
		for _, path := range t.remove {
			deletePath(out, path)
		}
		for _, r := range t.rename {
			if v, ok := getPath(out, r.from); ok {
				deletePath(out, r.from)
				setPath(out, r.to, v)
			}
		}
	}
	for _, f := range t.set {
		v, err := f.Program.Eval(ctx, in.Scope)
		if err != nil {
			return Result{}, fmt.Errorf("field %s: %w", f.Name, err)
		}
		setPath(out, strings.Split(f.Name, "."), v)
	}
	return Result{Output: out}, nil
}

func getPath(obj map[string]any, path []string) (any, bool) {
	var v any = obj
	for _, segment := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[segment]; !ok {
			return nil, false
		}
	}
	return v, true
}

// setPath sets a nested field, copying the maps along the path: they may be
// shared with the input, which is another step's output and must not change.
func setPath(obj map[string]any, path []string, v any) {
	for len(path) > 1 {
		next, _ := obj[path[0]].(map[string]any)
		clone := make(map[string]any, len(next)+1)
		for k, val := range next {
			clone[k] = val
		}
		obj[path[0]] = clone
		obj, path = clone, path[1:]
	}
	obj[path[0]] = v
}

// deletePath removes a nested field, copying the maps along the path.
func deletePath(obj map[string]any, path []string) {
	if _, ok := getPath(obj, path); !ok {
		return
	}
	for len(path) > 1 {
		next := obj[path[0]].(map[string]any)
		clone := make(map[string]any, len(next))
		for k, val := range next {
			clone[k] = val
		}
		obj[path[0]] = clone
		obj, path = clone, path[1:]
	}
	delete(obj, path[0])
}
