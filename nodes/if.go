package nodes

import (
	"context"

	"github.com/hookflow/hookflow/engine/expression"
)

var ifSpec = Spec{
	Kind:     "if",
	Icon:     "git-branch",
	Category: CategoryFlow,
	Title:    "If",
	Summary:  "Sends its input on through the true or the false port, by a condition.",
	Pure:     true,
	Ports:    []string{"true", "false"},
	Fields:   []Field{conditionField("An expression giving true or false; a missing value counts as false.")},
}

type ifParams struct {
	Condition string `json:"condition"`
}

type ifNode struct{ condition *expression.Program }

var _ Node = (*ifNode)(nil)

func buildIf(b *Builder, p *ifParams) Node {
	return &ifNode{condition: b.Expression("condition", p.Condition)}
}

func (n *ifNode) Run(ctx context.Context, in *Input) (Result, error) {
	ok, err := evalCondition(ctx, n.condition, in.Scope)
	if err != nil {
		return Result{}, err
	}
	port := "false"
	if ok {
		port = "true"
	}
	return Result{Output: in.Scope.Input, Port: port}, nil
}
