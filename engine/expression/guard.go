package expression

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/vm/runtime"
)

// Limits on what one evaluation may cost. expr bounds the memory of arrays
// and maps itself (MemoryBudget), but not text it builds, and it cannot be
// interrupted; so evaluations run under a Guard that counts the text they
// make and the loop iterations they take.
const (
	// MaxTextBytes is the most text one evaluation may build.
	MaxTextBytes = 4 << 20
	// MaxEvalTime is the longest one evaluation may run.
	MaxEvalTime = 2 * time.Second
	// MemoryBudget is expr's own budget of array and map elements.
	MemoryBudget = 1_000_000
)

var (
	// ErrTooMuchText is an evaluation that built more than MaxTextBytes.
	ErrTooMuchText = fmt.Errorf("expression built more than %d bytes of text", MaxTextBytes)
	// ErrTooSlow is an evaluation that ran longer than its time limit.
	ErrTooSlow = fmt.Errorf("expression ran longer than %s", MaxEvalTime)
)

// Guard is the budget of one evaluation. Compiled programs call it through
// functions the guardPatcher puts in place of text-building operations and
// around the body of every loop.
type Guard struct {
	ctx      context.Context
	deadline time.Time
	text     int
	ticks    int
}

// newGuard starts an evaluation's budget. A shorter deadline of ctx (the
// step's timeout) is noticed through ctx.Done, so it is reported as the
// step's own timeout rather than as this limit.
func newGuard(ctx context.Context) *Guard {
	return &Guard{ctx: ctx, deadline: time.Now().Add(MaxEvalTime)}
}

// spend counts n bytes of text about to be built.
func (g *Guard) spend(n int) error {
	g.text += n
	if g.text > MaxTextBytes || n < 0 {
		return ErrTooMuchText
	}
	return g.tick()
}

// tick counts one step of work and, every so often, checks the clock and
// the context.
func (g *Guard) tick() error {
	g.ticks++
	if g.ticks&63 != 0 {
		return nil
	}
	select {
	case <-g.ctx.Done():
		return context.Cause(g.ctx)
	default:
	}
	if time.Now().After(g.deadline) {
		return ErrTooSlow
	}
	return nil
}

// guardName is the variable through which programs reach their Guard.
const guardName = "__guard"

// guardPatcher rewrites a program so that everything able to build large
// text or loop long goes through the Guard:
//   - a + b becomes __add(__guard, a, b);
//   - join, replace, repeat, toJSON and string become __join(__guard, …) and
//     so on, and Hookflow's text(v) becomes __text(__guard, v);
//   - the body of every predicate (map, filter, all, reduce …) is wrapped in
//     __tick(__guard, body).
type guardPatcher struct{}

func (guardPatcher) Visit(node *ast.Node) {
	guard := &ast.IdentifierNode{Value: guardName}
	switch n := (*node).(type) {
	case *ast.BinaryNode:
		if n.Operator == "+" {
			ast.Patch(node, &ast.CallNode{
				Callee:    &ast.IdentifierNode{Value: "__add"},
				Arguments: []ast.Node{guard, n.Left, n.Right},
			})
		}
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && id.Value == "text" {
			ast.Patch(node, &ast.CallNode{
				Callee:    &ast.IdentifierNode{Value: "__text"},
				Arguments: append([]ast.Node{guard}, n.Arguments...),
			})
		}
	case *ast.BuiltinNode:
		if _, ok := textBuiltins[n.Name]; ok {
			ast.Patch(node, &ast.CallNode{
				Callee:    &ast.IdentifierNode{Value: "__" + n.Name},
				Arguments: append([]ast.Node{guard}, n.Arguments...),
			})
		}
	case *ast.PredicateNode:
		n.Node = &ast.CallNode{
			Callee:    &ast.IdentifierNode{Value: "__tick"},
			Arguments: []ast.Node{guard, n.Node},
		}
	}
}

// textBuiltins are expr builtins whose output can be far larger than their
// input; each names how to count the text it is about to build.
var textBuiltins = map[string]func(args []any) int{
	"join": func(args []any) int {
		glue := 0
		if len(args) == 2 {
			s, _ := args[1].(string)
			glue = len(s)
		}
		n := 0
		switch items := args[0].(type) {
		case []string:
			for _, s := range items {
				n += len(s) + glue
			}
		case []any:
			for _, s := range items {
				if s, ok := s.(string); ok {
					n += len(s) + glue
				}
			}
		}
		return n
	},
	"replace": func(args []any) int {
		s, _ := args[0].(string)
		old, _ := args[1].(string)
		repl, _ := args[2].(string)
		count := strings.Count(s, old)
		if len(args) == 4 {
			count = min(count, max(toInt(args[3]), 0))
		}
		return len(s) + count*max(len(repl)-len(old), 0)
	},
	"repeat": func(args []any) int {
		s, _ := args[0].(string)
		return len(s) * max(toInt(args[1]), 0)
	},
	"toJSON": func(args []any) int { return textSize(args[0], MaxTextBytes+1) },
	"string": func(args []any) int { return textSize(args[0], MaxTextBytes+1) },
}

// toInt converts a count the way expr's builtins do, with 0 for what is not
// a number (the builtin then refuses it itself).
func toInt(v any) (n int) {
	defer func() {
		if recover() != nil {
			n = 0
		}
	}()
	return runtime.ToInt(v)
}

// textSize estimates the bytes v takes when written out, stopping once it
// passes limit: a value may hold one large string many times over.
func textSize(v any, limit int) int {
	n := 0
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		if n > limit {
			return
		}
		switch v.Kind() {
		case reflect.Interface, reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.String:
			n += v.Len() + 2
		case reflect.Slice, reflect.Array:
			n += 2
			for i := range v.Len() {
				walk(v.Index(i))
				n++
			}
		case reflect.Map:
			n += 2
			iter := v.MapRange()
			for iter.Next() {
				walk(iter.Key())
				walk(iter.Value())
				n += 4
			}
		case reflect.Struct:
			for i := range v.NumField() {
				walk(v.Field(i))
			}
		default:
			n += 24
		}
	}
	walk(reflect.ValueOf(v))
	return n
}

var guardType = reflect.TypeFor[*Guard]()

// guardOptions registers the functions the guardPatcher calls, and the
// patcher itself.
func guardOptions() []expr.Option {
	opts := []expr.Option{
		expr.Patch(guardPatcher{}),
		expr.Function("__add", func(args ...any) (any, error) {
			g := args[0].(*Guard)
			if a, ok := args[1].(string); ok {
				if b, ok := args[2].(string); ok {
					if err := g.spend(len(a) + len(b)); err != nil {
						return nil, err
					}
					return a + b, nil
				}
			}
			return runtime.Add(args[1], args[2]), nil
		}, new(func(*Guard, any, any) any)),
		// text(v) writes a value as a template writes it into text; it is
		// Hookflow's, not expr's, so it is registered here under the guard.
		expr.Function("__text", func(args ...any) (any, error) {
			if err := args[0].(*Guard).spend(textSize(args[1], MaxTextBytes+1)); err != nil {
				return nil, err
			}
			return Stringify(args[1]), nil
		}, new(func(*Guard, any) string)),
		expr.Function("__tick", func(args ...any) (any, error) {
			if err := args[0].(*Guard).tick(); err != nil {
				return nil, err
			}
			return args[1], nil
		}, new(func(*Guard, any) any)),
	}
	for name, size := range textBuiltins {
		original := builtin.Builtins[builtin.Index[name]]
		call := original.Func
		switch {
		case original.Fast != nil:
			fast := original.Fast
			call = func(args ...any) (any, error) { return fast(args[0]), nil }
		case original.Safe != nil:
			safe := original.Safe
			call = func(args ...any) (any, error) {
				out, _, err := safe(args...)
				return out, err
			}
		}
		var types []any
		for _, t := range original.Types {
			types = append(types, reflect.New(withGuard(t)).Interface())
		}
		opts = append(opts, expr.Function("__"+name, func(args ...any) (any, error) {
			rest := args[1:]
			if err := args[0].(*Guard).spend(size(rest)); err != nil {
				return nil, err
			}
			return call(rest...)
		}, types...))
	}
	return opts
}

// withGuard returns a function type like t with a *Guard first parameter.
func withGuard(t reflect.Type) reflect.Type {
	in := []reflect.Type{guardType}
	for i := range t.NumIn() {
		in = append(in, t.In(i))
	}
	out := make([]reflect.Type, t.NumOut())
	for i := range out {
		out[i] = t.Out(i)
	}
	return reflect.FuncOf(in, out, t.IsVariadic())
}
