package nodes

import (
	"context"
	"fmt"

	"github.com/hookflow/hookflow/engine/expression"
)

// conditionField is the condition parameter shared by if, filter and switch
// cases.
func conditionField(help string) Field {
	return Field{
		Name: "condition", Type: TypeExpression, Label: "Condition", Required: true, Help: help,
		Placeholder: "steps.amount.usd >= 100",
	}
}

// evalCondition runs a condition, which must give a boolean; nil counts as
// false, so a missing field reads as "no".
func evalCondition(ctx context.Context, p *expression.Program, scope *expression.Scope) (bool, error) {
	v, err := p.Eval(ctx, scope)
	if err != nil {
		return false, err
	}
	switch v := v.(type) {
	case bool:
		return v, nil
	case nil:
		return false, nil
	}
	return false, Permanent(fmt.Errorf("condition %q gave %T, not true or false", p.Source(), v))
}
