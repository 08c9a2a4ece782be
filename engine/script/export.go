package script

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dop251/goja"
)

// exporter turns a script's value into plain data: maps, slices, strings,
// int and float64 numbers, booleans and nil, as JSON would write it.
// Strictly (a step's output), what JSON would silently drop or garble is an
// error naming where it is; leniently (console, JSON.stringify's guard), it
// is left out as JSON.stringify does. Either way the JSON size is counted
// against a budget, so a huge value stops early.
type exporter struct {
	r *run
	// root names the value in messages: output, or value.
	root    string
	lenient bool
	// measure only counts: the guard of JSON.stringify.
	measure bool
	budget  int
	limit   int
	onPath  map[*goja.Object]bool
}

func (r *run) exporter(root string, lenient bool, budget int) *exporter {
	return &exporter{r: r, root: root, lenient: lenient, budget: budget, limit: budget, onPath: map[*goja.Object]bool{}}
}

// exportError is a value a step's output cannot hold.
type exportError struct {
	path, problem string
}

func (e *exportError) Error() string { return e.path + " " + e.problem }

// errTooLarge is a value past the exporter's budget.
var errTooLarge = errors.New("too large")

// export converts v, the root value.
func (e *exporter) export(v goja.Value) (any, error) {
	out, _, err := e.value(v, e.root, 0)
	if errors.Is(err, errTooLarge) {
		return nil, fmt.Errorf("%s is over the limit of %s as JSON", e.root, byteSize(int64(e.limit)))
	}
	return out, err
}

// spend counts n bytes of JSON.
func (e *exporter) spend(n int) error {
	e.budget -= n
	if e.budget < 0 {
		return errTooLarge
	}
	return nil
}

// value converts one value; keep is false for what JSON leaves out of an
// object (undefined, and leniently functions and symbols).
func (e *exporter) value(v goja.Value, path string, depth int) (out any, keep bool, err error) {
	if v == nil || goja.IsUndefined(v) {
		return nil, false, e.spend(4)
	}
	if goja.IsNull(v) {
		return nil, true, e.spend(4)
	}
	if s, ok := v.(goja.String); ok {
		if err := e.spend(s.Length() + 2); err != nil {
			return nil, false, err
		}
		if e.measure {
			return nil, true, nil
		}
		return s.String(), true, nil
	}
	obj, isObject := v.(*goja.Object)
	if !isObject {
		return e.primitive(v, path)
	}
	if _, isFunction := goja.AssertFunction(obj); isFunction {
		if e.lenient {
			return nil, false, nil
		}
		return nil, false, &exportError{path, "is a function: return data (objects, arrays, strings, numbers, booleans, null)"}
	}
	if depth >= maxDepth {
		return nil, false, &exportError{path, fmt.Sprintf("nests more than %d levels deep", maxDepth)}
	}
	if e.onPath[obj] {
		if e.measure {
			return nil, true, nil // JSON.stringify reports the cycle itself.
		}
		return nil, false, &exportError{path, "refers back to an object that holds it: JSON cannot hold a cycle"}
	}
	e.onPath[obj] = true
	defer delete(e.onPath, obj)
	return e.object(obj, path, depth)
}

// primitive converts a number, boolean, BigInt or symbol.
func (e *exporter) primitive(v goja.Value, path string) (any, bool, error) {
	switch x := v.Export().(type) {
	case bool:
		return x, true, e.spend(5)
	case int64:
		return plainNumber(float64(x), x), true, e.spend(20)
	case float64:
		return plainNumber(x, 0), true, e.spend(24)
	case *big.Int:
		if e.lenient {
			return x.String(), true, e.spend(len(x.String()))
		}
		return nil, false, &exportError{path, "is a BigInt, which JSON cannot hold: convert it with Number() or String()"}
	}
	if e.lenient {
		return nil, false, nil
	}
	return nil, false, &exportError{path, "is a symbol, which JSON cannot hold"}
}

// plainNumber is a JSON number as the engine holds it: whole numbers that
// are exact as int, others as float64, NaN and infinities as null (as
// JSON.stringify writes them).
func plainNumber(f float64, whole int64) any {
	switch {
	case whole != 0:
		return int(whole)
	case math.IsNaN(f) || math.IsInf(f, 0):
		return nil
	case f == math.Trunc(f) && math.Abs(f) <= 1<<53:
		return int(f)
	}
	return f
}

// object converts an object by its kind.
func (e *exporter) object(obj *goja.Object, path string, depth int) (any, bool, error) {
	switch obj.ClassName() {
	case "Array":
		return e.array(obj, path, depth)
	case "Date":
		if err := e.spend(26); err != nil {
			return nil, false, err
		}
		t, ok := obj.Export().(time.Time)
		if !ok {
			return nil, true, nil // An invalid date, null in JSON.
		}
		return t.UTC().Format("2006-01-02T15:04:05.000Z07:00"), true, nil
	case "String":
		// new String("x") and the like: JSON writes the primitive.
		return e.value(obj.ToString(), path, depth)
	case "Number", "Boolean":
		return e.value(e.r.vm.ToValue(obj.Export()), path, depth)
	case "Error":
		out, keep, err := e.fields(obj, path, depth)
		if m, ok := out.(map[string]any); ok {
			m["name"], m["message"] = stringProp(obj, "name"), stringProp(obj, "message")
		}
		return out, keep, err
	case "RegExp":
		return e.lossy(obj, "RegExp", path, depth)
	}
	// Maps, sets and promises are classed as plain objects; their tag
	// tells them apart.
	if tag := obj.GetSymbol(goja.SymToStringTag); tag != nil {
		if _, ok := convertHint[tag.String()]; ok {
			return e.lossy(obj, tag.String(), path, depth)
		}
	}
	return e.fields(obj, path, depth)
}

// lossy converts what JSON would write as {} although it holds data:
// leniently so, strictly as an error saying how to convert it.
func (e *exporter) lossy(obj *goja.Object, kind, path string, depth int) (any, bool, error) {
	if e.lenient {
		return e.fields(obj, path, depth)
	}
	return nil, false, &exportError{path, "is a " + kind + ", which JSON cannot hold: " + convertHint[kind]}
}

var convertHint = map[string]string{
	"Map":     "convert it with Object.fromEntries(map)",
	"Set":     "convert it with [...set]",
	"WeakMap": "return plain objects",
	"WeakSet": "return plain objects",
	"RegExp":  "return its text (re.source)",
	"Promise": "await is not available; return the value itself",
}

func (e *exporter) array(obj *goja.Object, path string, depth int) (any, bool, error) {
	length := obj.Get("length").ToInteger()
	// Each element takes at least two bytes ("0,"); a long sparse array
	// fails here, before a walk over its holes.
	if length > int64(e.budget)/2 {
		return nil, false, errTooLarge
	}
	if err := e.spend(2); err != nil {
		return nil, false, err
	}
	var out []any
	if !e.measure {
		out = make([]any, int(length))
	}
	for i := range int(length) {
		item, _, err := e.value(obj.Get(strconv.Itoa(i)), path+"["+strconv.Itoa(i)+"]", depth+1)
		if err != nil {
			return nil, false, err
		}
		if !e.measure {
			out[i] = item
		}
		if err := e.spend(1); err != nil {
			return nil, false, err
		}
	}
	return out, true, nil
}

// fields converts an object's own enumerable string-keyed properties.
func (e *exporter) fields(obj *goja.Object, path string, depth int) (any, bool, error) {
	if err := e.spend(2); err != nil {
		return nil, false, err
	}
	keys := obj.Keys()
	var out map[string]any
	if !e.measure {
		out = make(map[string]any, len(keys))
	}
	for _, k := range keys {
		if err := e.spend(len(k) + 4); err != nil {
			return nil, false, err
		}
		item, keep, err := e.value(obj.Get(k), fieldPath(path, k), depth+1)
		if err != nil {
			return nil, false, err
		}
		if keep && !e.measure {
			out[k] = item
		}
	}
	return out, true, nil
}

var plainKey = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)

func fieldPath(path, key string) string {
	if plainKey.MatchString(key) {
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

// jsonText writes plain data as JSON, leaving <, > and & as they are.
func jsonText(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}
