package nodes

import (
	"errors"
	"sort"

	"github.com/hookflow/hookflow/engine/expression"
	"github.com/hookflow/hookflow/engine/schema"
)

// Expression compiles expr source held by field, recording a problem if it
// does not compile. An empty source yields nil without a problem: the schema
// has already said whether the field is required.
func (b *Builder) Expression(field, source string) *expression.Program {
	if source == "" {
		return nil
	}
	p, err := expression.Compile(source)
	if err != nil {
		b.Fail(field, "%v", err)
		return nil
	}
	return p
}

// Template compiles text with {{ expression }} placeholders held by field.
func (b *Builder) Template(field, source string) *expression.Template {
	t, err := expression.CompileTemplate(source)
	if err != nil {
		b.Fail(field, "%v", err)
		return nil
	}
	return t
}

// Value compiles a JSON value whose strings may hold templates.
func (b *Builder) Value(field string, v any) *expression.Value {
	compiled, err := expression.CompileValue(v)
	if err != nil {
		var ve *expression.ValueError
		if errors.As(err, &ve) {
			b.Fail(schema.Join(field, ve.Path), "%v", ve.Err)
		} else {
			b.Fail(field, "%v", err)
		}
		return nil
	}
	return compiled
}

// Templates compiles a map of name → template, such as headers.
func (b *Builder) Templates(field string, sources map[string]string) map[string]*expression.Template {
	out := make(map[string]*expression.Template, len(sources))
	for name, source := range sources {
		out[name] = b.Template(schema.Join(field, name), source)
	}
	return out
}

// NamedProgram is one entry of a map of expressions, such as a transform's
// fields.
type NamedProgram struct {
	Name    string
	Program *expression.Program
}

// Expressions compiles a map of name → expression, in name order so runs are
// deterministic.
func (b *Builder) Expressions(field string, sources map[string]string) []NamedProgram {
	names := make([]string, 0, len(sources))
	for name := range sources {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]NamedProgram, 0, len(names))
	for _, name := range names {
		out = append(out, NamedProgram{Name: name, Program: b.Expression(schema.Join(field, name), sources[name])})
	}
	return out
}
