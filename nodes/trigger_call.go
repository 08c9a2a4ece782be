package nodes

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/hookflow/hookflow/engine/expression"
)

// KindCallTrigger is the entry point of a flow meant to be called.
const KindCallTrigger = "trigger.call"

// The types an input field of a called flow may declare.
var inputTypes = []Option{
	{Value: "any", Label: "Any"},
	{Value: "string", Label: "Text"},
	{Value: "number", Label: "Number"},
	{Value: "integer", Label: "Whole number"},
	{Value: "boolean", Label: "True or false"},
	{Value: "object", Label: "Object"},
	{Value: "array", Label: "List"},
}

var callTriggerSpec = Spec{
	Kind:     KindCallTrigger,
	Icon:     "phone-incoming",
	Category: CategoryTrigger,
	Title:    "Called by a flow",
	Summary:  "Starts the flow when another flow's flow.call step calls it, or when a flow names it as its error flow; trigger.input holds what the caller gave.",
	Pure:     true,
	Fields: []Field{
		{
			Name: "fields", Type: TypeList, Label: "Input fields", Max: Bound(100),
			Help: "The fields the caller's input is checked against when the flow is called; an input that does not fit fails the call. Leave empty to take any input.",
			Items: &Field{Name: "field", Type: TypeObject, Label: "Field", Fields: []Field{
				{Name: "name", Type: TypeString, Label: "Name", Required: true, Placeholder: "email", Min: Bound(1), Max: Bound(100)},
				{Name: "type", Type: TypeSelect, Label: "Type", Default: "any", Options: inputTypes},
				{Name: "required", Type: TypeBoolean, Label: "Required", Default: false},
			}},
		},
	},
}

type callTriggerParams struct {
	Fields []inputField `json:"fields"`
}

type inputField struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Required bool   `json:"required"`
}

type callTrigger struct{ fields []inputField }

var (
	_ Node         = (*callTrigger)(nil)
	_ InputChecker = (*callTrigger)(nil)
)

func buildCallTrigger(b *Builder, p *callTriggerParams) Node {
	seen := map[string]bool{}
	for i, f := range p.Fields {
		if seen[f.Name] {
			b.Fail(fmt.Sprintf("fields[%d].name", i), "%q is declared twice", f.Name)
		}
		seen[f.Name] = true
	}
	return &callTrigger{fields: p.Fields}
}

// Run outputs the trigger data: the caller's input, checked, and who called.
func (n *callTrigger) Run(_ context.Context, in *Input) (Result, error) {
	if err := n.CheckInput(in.Scope.Trigger["input"]); err != nil {
		return Result{}, err
	}
	return Result{Output: in.Scope.Trigger}, nil
}

// CheckInput implements InputChecker: every required field is present and
// every declared field present has its type. Fields not declared pass.
func (n *callTrigger) CheckInput(input any) error {
	if len(n.fields) == 0 {
		return nil
	}
	obj, ok := input.(map[string]any)
	if !ok && input != nil {
		return Permanent(fmt.Errorf("the input is %s, not an object of fields", expression.TypeName(input)))
	}
	var problems []string
	for _, f := range n.fields {
		v, present := obj[f.Name]
		switch {
		case !present || v == nil:
			if f.Required {
				problems = append(problems, fmt.Sprintf("input.%s is required", f.Name))
			}
		case !hasInputType(v, f.Type):
			problems = append(problems, fmt.Sprintf("input.%s is %s, not %s", f.Name, expression.TypeName(v), typeLabel(f.Type)))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return Permanent(fmt.Errorf("the input does not fit the called flow: %s", strings.Join(problems, "; ")))
	}
	return nil
}

func hasInputType(v any, typ string) bool {
	switch typ {
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		_, ok := number(v)
		return ok
	case "integer":
		f, ok := number(v)
		return ok && f == math.Trunc(f)
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	}
	return true
}

// typeLabel names an input type as the problems with it say it.
func typeLabel(typ string) string {
	return map[string]string{"string": "text", "number": "a number", "integer": "a whole number", "boolean": "true or false",
		"object": "an object", "array": "a list"}[typ]
}

// number reads the numbers a decoded JSON value or an expression may give.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}
