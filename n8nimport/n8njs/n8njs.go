// Package n8njs evaluates n8n parameter values as n8n does, running their
// {{ }} JavaScript with goja against given node outputs. Tests use it to hold
// each translation to the value the original gives, so "same value" is
// checked by running the original rather than by hand-written answers.
//
// It models the part of n8n's expression environment the translator
// accepts: $json, $input, $node, $(), $items(), $execution, $workflow, $env
// and the JavaScript built-ins. A name it does not model, or a node it has
// no output for, ends the evaluation with ErrUnknown, so a caller can tell
// "cannot be evaluated here" from a JavaScript error.
package n8njs

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/dop251/goja"

	"github.com/hookflow/hookflow/n8nimport/placeholder"
)

// ErrUnknown says the value reads something Data does not hold.
var ErrUnknown = errors.New("reads data the evaluation does not have")

// Data is what an n8n node sees when its parameters are resolved.
type Data struct {
	// JSON is the current item's json ($json), nil when the node has no
	// input.
	JSON any
	// Nodes holds the first output item's json of each node, by n8n name.
	Nodes map[string]any
	// ExecutionID and WorkflowID are $execution.id and $workflow.id.
	ExecutionID, WorkflowID string
	// ItemIndex is $itemIndex.
	ItemIndex int
	// Env is $env.
	Env map[string]any
}

// prelude builds n8n's names over the data set as __data; unknown nodes
// throw a marker the caller turns into ErrUnknown.
const prelude = `
var __unknown = "__n8njs_unknown__";
function __node(name) {
	if (!Object.prototype.hasOwnProperty.call(__data.nodes, name)) throw __unknown;
	var json = __data.nodes[name];
	var item = {json: json};
	return {item: item, first: function() { return item }, last: function() { return item },
		all: function() { return [item] }, isExecuted: true};
}
function __input() {
	if (__data.json === null || __data.json === undefined) throw __unknown;
	var item = {json: __data.json};
	return {item: item, first: function() { return item }, last: function() { return item }, all: function() { return [item] }};
}
if (__data.json === null || __data.json === undefined) {
	Object.defineProperty(globalThis, "$json", {get: function() { throw __unknown }});
} else {
	globalThis.$json = __data.json;
}
var $ = __node;
var $node = new Proxy({}, {get: function(_, name) { var n = __node(name); return {json: n.item.json} }});
var $input = (__data.json === null || __data.json === undefined) ? new Proxy({}, {get: function() { throw __unknown }}) : __input();
var $items = function(name) { return name === undefined ? __input().all() : __node(name).all() };
var $execution = {id: __data.executionId};
var $workflow = {id: __data.workflowId};
var $env = __data.env;
var $itemIndex = __data.itemIndex;
["$now", "$today", "Date", "$binary", "$vars", "$prevNode", "$runIndex"].forEach(function(name) {
	Object.defineProperty(globalThis, name, {get: function() { throw __unknown }});
});
`

// Eval resolves one n8n parameter value. A value without the leading "="
// is text. One placeholder and nothing else keeps the value's type; text
// around placeholders makes a string, where null and undefined add nothing
// and objects are written as JSON, as n8n writes them.
func Eval(value string, d Data) (any, error) {
	if !strings.HasPrefix(value, "=") {
		return value, nil
	}
	parts, err := placeholder.Split(value)
	if err != nil {
		return nil, err
	}
	vm, err := newVM(d)
	if err != nil {
		return nil, err
	}
	if len(parts) == 1 && parts[0].JS {
		return run(vm, parts[0].Text)
	}
	var b strings.Builder
	for _, p := range parts {
		if !p.JS {
			b.WriteString(p.Text)
			continue
		}
		v, err := run(vm, p.Text)
		if err != nil {
			return nil, err
		}
		b.WriteString(text(v))
	}
	return b.String(), nil
}

func newVM(d Data) (*goja.Runtime, error) {
	env := d.Env
	if env == nil {
		env = map[string]any{}
	}
	data, err := json.Marshal(map[string]any{
		"json": d.JSON, "nodes": d.Nodes, "executionId": d.ExecutionID,
		"workflowId": d.WorkflowID, "itemIndex": d.ItemIndex, "env": env,
	})
	if err != nil {
		return nil, fmt.Errorf("encode data: %w", err)
	}
	vm := goja.New()
	if _, err := vm.RunString("var __data = JSON.parse(" + quoteJS(string(data)) + ");" + prelude); err != nil {
		return nil, fmt.Errorf("prelude: %w", err)
	}
	return vm, nil
}

// run evaluates one placeholder's JavaScript as an expression. Names whose
// value differs from run to run ($now, Date) end it with ErrUnknown: no
// fixed answer exists to compare with.
func run(vm *goja.Runtime, js string) (any, error) {
	v, err := vm.RunString("(" + js + "\n)")
	if err != nil {
		var ex *goja.Exception
		if errors.As(err, &ex) && ex.Value() != nil && ex.Value().String() == "__n8njs_unknown__" {
			return nil, ErrUnknown
		}
		return nil, err
	}
	if goja.IsUndefined(v) || goja.IsNull(v) {
		return nil, nil
	}
	out, err := Plain(v.Export())
	if err != nil {
		return nil, fmt.Errorf("result: %w", err)
	}
	return out, nil
}

// Plain passes a value through JSON, so values from JavaScript and from
// Hookflow compare as data (numbers as float64, lists as []any) rather than
// as Go types.
func Plain(v any) (any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// text writes one placeholder's value into surrounding text.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case map[string]any, []any:
		data, _ := json.Marshal(x)
		return string(data)
	case float64:
		data, _ := json.Marshal(x)
		return string(data)
	default:
		return fmt.Sprint(x)
	}
}

func quoteJS(s string) string {
	data, _ := json.Marshal(s)
	return string(data)
}
