package script

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/dop251/goja"

	"github.com/hookflow/hookflow/engine/expression"
)

// setup gives the script its environment: the scope as plain data (copies,
// so a script cannot change another step's output or reach Go), console,
// and guarded builtins.
func (r *run) setup(ctx context.Context, logger *slog.Logger, scope *expression.Scope) error {
	if scope == nil {
		scope = &expression.Scope{}
	}
	r.guardBuiltins()
	global := r.vm.GlobalObject()
	if err := global.Set("steps", r.lazyObject(scope.Steps)); err != nil {
		return err
	}
	names := []struct {
		name  string
		value any
	}{
		{"input", scope.Input},
		{"trigger", scope.Trigger},
		{"item", scope.Item},
		{"index", scope.Index},
		{"run", map[string]any{"id": scope.Run.ID, "flow_id": scope.Run.FlowID, "attempt": scope.Run.Attempt}},
		{"env", scope.Env},
	}
	for _, n := range names {
		value, err := r.toJS(n.value, 0)
		if err != nil {
			return fmt.Errorf("give the code %s: %w", n.name, err)
		}
		if err := global.Set(n.name, value); err != nil {
			return err
		}
	}
	return global.Set("console", r.console(ctx, logger))
}

// toJS copies plain data into the runtime. Object keys are set in sorted
// order, so a script enumerating them sees the same order on every run.
func (r *run) toJS(v any, depth int) (goja.Value, error) {
	if depth > 10000 {
		return nil, errors.New("the data nests too deeply")
	}
	switch v := v.(type) {
	case nil:
		return goja.Null(), nil
	case string, bool, int, int64, float64:
		return r.vm.ToValue(v), nil
	case time.Time:
		return r.vm.ToValue(v.UTC().Format(time.RFC3339Nano)), nil
	case map[string]any:
		obj := r.vm.NewObject()
		for _, k := range slices.Sorted(maps.Keys(v)) {
			item, err := r.toJS(v[k], depth+1)
			if err != nil {
				return nil, err
			}
			// Defined, not set: a key named __proto__ is data, as in
			// JSON.parse, not the object's prototype.
			if err := obj.DefineDataProperty(k, item, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE); err != nil {
				return nil, err
			}
		}
		return obj, nil
	case []any:
		items := make([]any, len(v))
		for i, item := range v {
			value, err := r.toJS(item, depth+1)
			if err != nil {
				return nil, err
			}
			items[i] = value
		}
		return r.vm.NewArray(items...), nil
	}
	// Anything else (typed maps and slices, json.Number …) goes the way its
	// JSON would.
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	plain, err := expression.DecodeJSON(data)
	if err != nil {
		return nil, err
	}
	return r.toJS(plain, depth)
}

// lazyObject is an object whose entries are copied into the runtime when
// first read: steps holds every earlier output, of which a script reads few.
func (r *run) lazyObject(m map[string]any) *goja.Object {
	obj := r.vm.NewObject()
	for _, k := range slices.Sorted(maps.Keys(m)) {
		define := func(value goja.Value) {
			_ = obj.DefineDataProperty(k, value, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE)
		}
		get := func(goja.FunctionCall) goja.Value {
			value, err := r.toJS(m[k], 1)
			if err != nil {
				panic(r.vm.NewGoError(fmt.Errorf("give the code steps.%s: %w", k, err)))
			}
			define(value)
			return value
		}
		set := func(call goja.FunctionCall) goja.Value {
			define(call.Argument(0))
			return goja.Undefined()
		}
		_ = obj.DefineAccessorProperty(k, r.vm.ToValue(get), r.vm.ToValue(set), goja.FLAG_TRUE, goja.FLAG_TRUE)
	}
	return obj
}

// console writes console.log, info, warn, error and debug to the step's log.
func (r *run) console(ctx context.Context, logger *slog.Logger) *goja.Object {
	console := r.vm.NewObject()
	levels := map[string]slog.Level{
		"log": slog.LevelInfo, "info": slog.LevelInfo, "warn": slog.LevelWarn,
		"error": slog.LevelError, "debug": slog.LevelDebug,
	}
	for name, level := range levels {
		_ = console.Set(name, func(call goja.FunctionCall) goja.Value {
			parts := make([]string, len(call.Arguments))
			for i, arg := range call.Arguments {
				parts[i] = r.logText(arg)
			}
			logger.Log(ctx, level, strings.Join(parts, " "))
			return goja.Undefined()
		})
	}
	return console
}

// logText is how console shows one value: text as it is (cut well past
// what a log line keeps), data as JSON.
func (r *run) logText(v goja.Value) string {
	if s, ok := v.(goja.String); ok {
		if s.Length() > 2*showBytes {
			s = s.Substring(0, 2*showBytes)
		}
		return s.String()
	}
	obj, ok := v.(*goja.Object)
	if !ok {
		return v.String()
	}
	if _, isFunction := goja.AssertFunction(obj); isFunction {
		return "[Function]"
	}
	shown, err := r.exporter("value", true, logBudget).export(obj)
	if err != nil {
		return "[" + obj.ClassName() + ": " + err.Error() + "]"
	}
	return jsonText(shown)
}
