// Package expression compiles and evaluates the expressions and {{ templates }}
// that flows use to reshape data.
//
// Expressions are expr-lang/expr source, compiled once per flow version against
// the Scope type, so a misspelt top-level name is refused when the flow is saved
// rather than when it runs.
package expression

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// Limits on what one expression may cost to compile.
const (
	// MaxSourceLength is the longest expression source accepted, in bytes.
	MaxSourceLength = 16 << 10
	// MaxNodes is the largest syntax tree accepted, in expr's AST nodes.
	MaxNodes = 2000
)

// Scope is what an expression sees when it runs. Its field tags are the
// top-level names of the expression language (contract v1).
type Scope struct {
	// Trigger is the trigger's data: for webhooks method, path, headers, query,
	// body, raw and received_at; for cron scheduled_at.
	Trigger map[string]any `expr:"trigger"`
	// Steps maps each finished node's id to its output.
	Steps map[string]any `expr:"steps"`
	// Input is the output of the node directly upstream.
	Input any `expr:"input"`
	// Run describes the run being executed.
	Run RunInfo `expr:"run"`
	// Env holds only the environment variables the operator allow-listed.
	Env map[string]any `expr:"env"`
	// Item is the current element inside a foreach; nil elsewhere.
	Item any `expr:"item"`
	// Index is the current element's position inside a foreach.
	Index int `expr:"index"`
	// Guard is the budget of the evaluation under way; Eval sets it.
	Guard *Guard `expr:"__guard"`
}

// RunInfo is the `run` value of the Scope.
type RunInfo struct {
	ID      string `expr:"id"`
	FlowID  string `expr:"flow_id"`
	Attempt int    `expr:"attempt"`
	// ResumeURLs holds the resume URL of each wait.callback node of the
	// flow, by node id, for the loop iteration under way.
	ResumeURLs map[string]any `expr:"resume_urls"`
}

// Program is one compiled expression.
type Program struct {
	source  string
	program *vm.Program
}

// Compile checks and compiles expression source against the Scope.
func Compile(source string) (*Program, error) {
	if source == "" {
		return nil, errors.New("expression is empty")
	}
	if len(source) > MaxSourceLength {
		return nil, fmt.Errorf("expression is %d bytes long; the limit is %d", len(source), MaxSourceLength)
	}
	opts := append([]expr.Option{expr.Env(Scope{}), expr.MaxNodes(MaxNodes)}, guardOptions()...)
	program, err := expr.Compile(source, opts...)
	if err != nil {
		return nil, compileError(err)
	}
	return &Program{source: source, program: program}, nil
}

// Source returns the expression as written.
func (p *Program) Source() string { return p.source }

// vms reuses expr's virtual machines: each holds stacks worth keeping.
var vms = sync.Pool{New: func() any { return new(vm.VM) }}

// Eval runs the expression against scope, within the evaluation limits.
func (p *Program) Eval(ctx context.Context, scope *Scope) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, context.Cause(ctx)
	}
	guarded := *scope
	guarded.Guard = newGuard(ctx)
	machine := vms.Get().(*vm.VM)
	machine.MemoryBudget = MemoryBudget
	out, err := machine.Run(p.program, &guarded)
	vms.Put(machine)
	if err != nil {
		return nil, p.evalError(ctx, err, scope)
	}
	return out, nil
}

// compileError drops expr's multi-line source snippet: problems are shown next
// to the field that holds the source, so the message and position suffice.
func compileError(err error) error {
	var fe *file.Error
	if errors.As(err, &fe) {
		return fmt.Errorf("%s (line %d, column %d)", fe.Message, fe.Line, fe.Column+1)
	}
	return err
}

// evalError says why an evaluation failed: a breached limit or a canceled
// context plainly, anything else in the terms of the data the expression
// read (see explain), with its position in the source.
func (p *Program) evalError(ctx context.Context, err error, scope *Scope) error {
	switch {
	case ctx.Err() != nil:
		return context.Cause(ctx)
	case errors.Is(err, ErrTooMuchText):
		return ErrTooMuchText
	case errors.Is(err, ErrTooSlow):
		return ErrTooSlow
	}
	var fe *file.Error
	if errors.As(err, &fe) {
		return errors.New(explain(p.program, scope, fe))
	}
	return err
}
