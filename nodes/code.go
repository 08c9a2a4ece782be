package nodes

import (
	"context"
	"errors"

	"github.com/hookflow/hookflow/engine/script"
)

// MaxCodeLength is the longest script a code step takes, in characters: the
// JSON Schema's bound on the field, so the editor refuses it as it is typed.
const MaxCodeLength = script.MaxLength

var codeSpec = Spec{
	Kind:     "code",
	Icon:     "code",
	Category: CategoryData,
	Title:    "Code",
	Summary:  "Runs JavaScript for what expressions cannot say; the value it returns is the output.",
	Pure:     true,
	Fields: []Field{{
		Name: "code", Type: TypeCode, Label: "JavaScript", Required: true, Multiline: true,
		Help: "The body of a function ending with return. It sees input, steps, trigger, item, index, run and env " +
			"as plain data; console.log writes to the step's log. No require, network, files or timers; " +
			"a run stops after 5 s or 256 MiB.",
		Placeholder: "return { total: input.items.reduce((sum, i) => sum + i.price, 0) };",
	}},
}

type codeParams struct {
	Code string `json:"code"`
}

// codeNode runs one compiled script; the sandbox is engine/script's.
type codeNode struct {
	program *script.Program
}

var _ Node = (*codeNode)(nil)

func buildCode(b *Builder, p *codeParams) Node {
	program, err := script.Compile(p.Code)
	if err != nil {
		b.Fail("code", "%v", err)
		return nil
	}
	return &codeNode{program: program}
}

// Run runs the script and returns what it returned. A script's own failure
// is permanent: the same code on the same data fails the same way. The
// context ending is not, so a canceled run may be retried or resumed.
func (n *codeNode) Run(ctx context.Context, in *Input) (Result, error) {
	out, err := n.program.Run(ctx, in.Scope, in.Logger)
	var failed *script.Error
	switch {
	case errors.As(err, &failed):
		return Result{}, Permanent(err)
	case err != nil:
		return Result{}, err
	}
	return Result{Output: out}, nil
}
