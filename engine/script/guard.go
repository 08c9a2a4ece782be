package script

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/dop251/goja"
)

// binaryTypes are removed from the global object: one call of their
// constructors allocates whatever size it is given, and scripts shaping
// JSON have no use for them.
var binaryTypes = []string{
	"ArrayBuffer", "SharedArrayBuffer", "DataView", "Int8Array", "Uint8Array", "Uint8ClampedArray",
	"Int16Array", "Uint16Array", "Int32Array", "Uint32Array", "Float32Array", "Float64Array",
	"BigInt64Array", "BigUint64Array",
}

// sizeCheck says what one call of a builtin would make or walk: text in
// UTF-16 units, and elements.
type sizeCheck func(call goja.FunctionCall) (text, elements int64)

// guardBuiltins puts a size check in front of each builtin that can make a
// huge value, or walk a huge array-like, in one call: an interrupt only
// takes effect once a builtin returns, so `'x'.repeat(1e10)` or
// `[...Array(1e9)]` would otherwise exhaust the server's memory or a core.
// This stops accidents and the obvious; the author of a script can already
// edit the flow.
func (r *run) guardBuiltins() {
	global := r.vm.GlobalObject()
	for _, name := range binaryTypes {
		_ = global.Delete(name)
	}
	object := func(parent *goja.Object, name string) *goja.Object {
		return parent.Get(name).ToObject(r.vm)
	}
	arrays := object(object(global, "Array"), "prototype")
	for _, name := range arrays.GetOwnPropertyNames() {
		// push, pop and at take constant time: hot in loops, and safe.
		if name != "constructor" && name != "push" && name != "pop" && name != "at" {
			r.guard(arrays, name, r.arrayCall(name))
		}
	}
	// The iterator of arrays is values, which spreading and for … of call.
	_ = arrays.DefineDataPropertySymbol(goja.SymIterator, arrays.Get("values"), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	r.guard(object(global, "Array"), "from", func(call goja.FunctionCall) (int64, int64) {
		return 0, r.lengthOf(call.Argument(0))
	})

	strs := object(object(global, "String"), "prototype")
	thisText := func(call goja.FunctionCall) int64 { return textLength(call.This) }
	r.guard(strs, "repeat", func(call goja.FunctionCall) (int64, int64) {
		return timesBounded(thisText(call), call.Argument(0).ToInteger()), 0
	})
	for _, name := range []string{"padStart", "padEnd"} {
		r.guard(strs, name, func(call goja.FunctionCall) (int64, int64) { return call.Argument(0).ToInteger(), 0 })
	}
	r.guard(strs, "concat", func(call goja.FunctionCall) (int64, int64) {
		n := thisText(call)
		for _, arg := range call.Arguments {
			n += textLength(arg)
		}
		return n, 0
	})
	r.guard(strs, "replace", func(call goja.FunctionCall) (int64, int64) { return replacedLength(call, false), 0 })
	r.guard(strs, "replaceAll", func(call goja.FunctionCall) (int64, int64) { return replacedLength(call, true), 0 })
	r.guard(strs, "split", func(call goja.FunctionCall) (int64, int64) { return 0, splitCount(call) })
	if iterator := r.wrap("String.prototype[Symbol.iterator]", strs.GetSymbol(goja.SymIterator), func(call goja.FunctionCall) (int64, int64) {
		return 0, thisText(call)
	}); iterator != nil {
		_ = strs.DefineDataPropertySymbol(goja.SymIterator, iterator, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}

	functions := object(object(global, "Function"), "prototype")
	r.guard(functions, "apply", func(call goja.FunctionCall) (int64, int64) { return 0, r.lengthOf(call.Argument(1)) })
	reflection := object(global, "Reflect")
	r.guard(reflection, "apply", func(call goja.FunctionCall) (int64, int64) { return 0, r.lengthOf(call.Argument(2)) })
	r.guard(reflection, "construct", func(call goja.FunctionCall) (int64, int64) { return 0, r.lengthOf(call.Argument(1)) })
	objects := object(global, "Object")
	for _, name := range []string{"keys", "values", "entries", "getOwnPropertyNames"} {
		r.guard(objects, name, func(call goja.FunctionCall) (int64, int64) {
			if s, ok := call.Argument(0).(goja.String); ok {
				return 0, int64(s.Length())
			}
			return 0, 0
		})
	}
	r.guard(object(global, "JSON"), "stringify", func(call goja.FunctionCall) (int64, int64) {
		e := r.exporter("value", true, int(min(r.program.limits.Text, math.MaxInt32)))
		e.measure = true
		if _, _, err := e.value(call.Argument(0), "value", 0); errors.Is(err, errTooLarge) {
			return r.program.limits.Text + 1, 0
		}
		return 0, 0
	})
}

// arrayCall is the check of an Array.prototype method: the array-like it
// walks, and for concat and join what they add.
func (r *run) arrayCall(name string) sizeCheck {
	return func(call goja.FunctionCall) (int64, int64) {
		length := r.lengthOf(call.This)
		switch name {
		case "concat":
			for _, arg := range call.Arguments {
				if obj, ok := arg.(*goja.Object); ok && obj.ClassName() == "Array" {
					length += r.lengthOf(obj)
				}
			}
		case "join", "toString":
			if length > r.program.limits.Elements {
				return 0, length
			}
			sep := int64(1)
			if s, ok := call.Argument(0).(goja.String); ok && name == "join" {
				sep = int64(s.Length())
			}
			text := timesBounded(length, sep)
			obj := call.This.ToObject(r.vm)
			for i := int64(0); i < length && text <= r.program.limits.Text; i++ {
				text += textLength(obj.Get(strconv.FormatInt(i, 10)))
			}
			return text, length
		}
		return 0, length
	}
}

// guard replaces holder[name] by a checked call of itself.
func (r *run) guard(holder *goja.Object, name string, check sizeCheck) {
	if wrapped := r.wrap(name, holder.Get(name), check); wrapped != nil {
		_ = holder.DefineDataProperty(name, wrapped, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
}

// wrap returns a function that checks a call's size and then calls the
// builtin original, or nil when original is no builtin.
func (r *run) wrap(name string, original goja.Value, check sizeCheck) goja.Value {
	obj, ok := original.(*goja.Object)
	if !ok {
		return nil
	}
	call, ok := obj.Export().(func(goja.FunctionCall) goja.Value)
	if !ok {
		return nil
	}
	limits := r.program.limits
	return r.vm.ToValue(func(c goja.FunctionCall) goja.Value {
		text, elements := check(c)
		switch {
		case text > limits.Text:
			panic(r.rangeError(fmt.Sprintf("%s would make a text longer than the limit of %d characters", name, limits.Text)))
		case elements > limits.Elements:
			panic(r.rangeError(fmt.Sprintf("%s would go through %d elements, over the limit of %d", name, elements, limits.Elements)))
		}
		return call(c)
	})
}

func (r *run) rangeError(message string) goja.Value {
	obj, err := r.vm.New(r.vm.Get("RangeError"), r.vm.ToValue(message))
	if err != nil {
		return r.vm.ToValue(message)
	}
	return obj
}

// lengthOf is the length of an array-like, or of a text; 0 for anything
// else.
func (r *run) lengthOf(v goja.Value) int64 {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return 0
	}
	if s, ok := v.(goja.String); ok {
		return int64(s.Length())
	}
	obj, ok := v.(*goja.Object)
	if !ok {
		return 0
	}
	length := obj.Get("length")
	if length == nil {
		return 0
	}
	return max(length.ToInteger(), 0)
}

// textLength is the length of a text value, 0 for anything else.
func textLength(v goja.Value) int64 {
	if s, ok := v.(goja.String); ok {
		return int64(s.Length())
	}
	return 0
}

// timesBounded multiplies non-negative counts without overflowing.
func timesBounded(a, b int64) int64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	if a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}

// replacedLength bounds the text replace or replaceAll makes: exact for a
// text pattern, as if every position matched for a global regular
// expression. A function replacement is the script's own code, interrupted
// as any.
func replacedLength(call goja.FunctionCall, all bool) int64 {
	text := textLength(call.This)
	with, ok := call.Argument(1).(goja.String)
	if !ok || with.Length() <= 1 {
		return text
	}
	var matches int64
	switch pattern := call.Argument(0).(type) {
	case goja.String:
		if pattern.Length() == 0 {
			matches = text + 1
		} else {
			matches = int64(strings.Count(call.This.String(), pattern.String()))
		}
	case *goja.Object:
		matches = 1
		if flags := pattern.Get("flags"); flags != nil && strings.Contains(flags.String(), "g") {
			matches = text + 1
		}
	default:
		matches = 1
	}
	if !all {
		if _, isText := call.Argument(0).(goja.String); isText {
			matches = min(matches, 1)
		}
	}
	return text + timesBounded(matches, int64(with.Length()))
}

// splitCount bounds the elements split makes: exact for a text separator,
// one per character otherwise.
func splitCount(call goja.FunctionCall) int64 {
	text := textLength(call.This)
	count := text + 1
	if sep, ok := call.Argument(0).(goja.String); ok && sep.Length() > 0 {
		count = int64(strings.Count(call.This.String(), sep.String())) + 1
	}
	if limit := call.Argument(1); !goja.IsUndefined(limit) {
		count = min(count, max(limit.ToInteger(), 0))
	}
	return count
}
