package script_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/hookflow/hookflow/engine/expression"
	"github.com/hookflow/hookflow/engine/script"
)

func ExampleProgram_Run() {
	// Compile once, when the flow is saved; a syntax error names its place.
	p, err := script.Compile("const total = input.items.reduce((sum, i) => sum + i.price, 0)\nreturn {total}")
	if err != nil {
		fmt.Println(err)
		return
	}
	scope := &expression.Scope{Input: map[string]any{"items": []any{
		map[string]any{"price": 2.5}, map[string]any{"price": 10},
	}}}
	out, err := p.Run(context.Background(), scope, nil)
	fmt.Println(out, err)

	// A script's own failure is an *script.Error: retrying it is no use.
	p, _ = script.Compile("return input.items[0].price.toFixed()")
	_, err = p.Run(context.Background(), &expression.Scope{Input: map[string]any{"items": []any{}}}, nil)
	var failed *script.Error
	fmt.Println(errors.As(err, &failed), err)
	// Output:
	// map[total:12.5] <nil>
	// true TypeError: Cannot read property 'price' of undefined (line 1, column 23)
}
