package nodes

import (
	"context"

	"github.com/hookflow/hookflow/engine/expression"
)

// KindReturn gives a called run's result.
const KindReturn = "flow.return"

var returnSpec = Spec{
	Kind:     KindReturn,
	Icon:     "corner-down-left",
	Category: CategoryFlow,
	Title:    "Return to caller",
	Summary:  "Gives the result a calling flow.call step receives; without one, the result is the output of the run's last step.",
	Pure:     true,
	Fields: []Field{
		{
			Name: "value", Type: TypeExpression, Label: "Value", Default: "input",
			Help:        "An expression giving the result. The default passes the node's input on.",
			Placeholder: `{"approved": steps.ask.choice == "yes"}`,
		},
	},
}

type returnParams struct {
	Value string `json:"value"`
}

type returnNode struct{ value *expression.Program }

var _ Node = (*returnNode)(nil)

func buildReturn(b *Builder, p *returnParams) Node {
	return &returnNode{value: b.Expression("value", p.Value)}
}

// Run outputs the result; the executor gives a run's last flow.return
// output to its caller.
func (n *returnNode) Run(ctx context.Context, in *Input) (Result, error) {
	v, err := n.value.Eval(ctx, in.Scope)
	if err != nil {
		return Result{}, err
	}
	return Result{Output: v}, nil
}
