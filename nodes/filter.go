package nodes

import (
	"context"

	"github.com/hookflow/hookflow/engine/expression"
)

var filterSpec = Spec{
	Kind:     "filter",
	Icon:     "filter",
	Category: CategoryFlow,
	Title:    "Filter",
	Summary:  "Lets its input through only when a condition holds; otherwise the nodes after it are skipped.",
	Pure:     true,
	Fields:   []Field{conditionField("An expression giving true (continue) or false (stop here); a missing value counts as false.")},
}

type filterParams struct {
	Condition string `json:"condition"`
}

type filterNode struct{ condition *expression.Program }

var _ Node = (*filterNode)(nil)

func buildFilter(b *Builder, p *filterParams) Node {
	return &filterNode{condition: b.Expression("condition", p.Condition)}
}

func (n *filterNode) Run(ctx context.Context, in *Input) (Result, error) {
	ok, err := evalCondition(ctx, n.condition, in.Scope)
	if err != nil {
		return Result{}, err
	}
	return Result{Output: in.Scope.Input, Stop: !ok}, nil
}
