package nodes

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/hookflow/hookflow/engine/expression"
)

// MaxItems is the most elements one foreach runs over.
const MaxItems = 10_000

var foreachSpec = Spec{
	Kind:     "foreach",
	Icon:     "repeat",
	Category: CategoryFlow,
	Title:    "For each",
	Summary:  "Runs the nodes behind its each port once per element of a list, then continues through done with their results.",
	Pure:     true,
	Ports:    []string{IteratePort, DonePort},
	Fields: []Field{
		{
			Name: "items", Type: TypeExpression, Label: "Items", Required: true, Placeholder: "trigger.body.line_items",
			Help: "An expression giving a list (at most 10,000 elements). Inside the loop, item is the element and index its position; after it, steps.<this node> is the list of each iteration's last output.",
		},
	},
}

type foreachParams struct {
	Items string `json:"items"`
}

type foreachNode struct{ items *expression.Program }

var (
	_ Node     = (*foreachNode)(nil)
	_ Iterator = (*foreachNode)(nil)
)

func buildForeach(b *Builder, p *foreachParams) Node {
	return &foreachNode{items: b.Expression("items", p.Items)}
}

// Items evaluates the list to loop over.
func (n *foreachNode) Items(ctx context.Context, in *Input) ([]any, error) {
	v, err := n.items.Eval(ctx, in.Scope)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return []any{}, nil
	}
	list, ok := v.([]any)
	if !ok {
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
			return nil, Permanent(fmt.Errorf("items %q gave %T, not a list", n.items.Source(), v))
		}
		list = make([]any, rv.Len())
		for i := range list {
			list[i] = rv.Index(i).Interface()
		}
	}
	if len(list) > MaxItems {
		return nil, Permanent(fmt.Errorf("items gave %d elements; the limit is %d", len(list), MaxItems))
	}
	return list, nil
}

// Run is not called: the executor drives an Iterator through Items.
func (n *foreachNode) Run(context.Context, *Input) (Result, error) {
	return Result{}, errors.New("foreach runs through the executor's loop")
}
