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
	Env map[string]string `expr:"env"`
	// Item is the current element inside a foreach; nil elsewhere.
	Item any `expr:"item"`
	// Index is the current element's position inside a foreach.
	Index int `expr:"index"`
}

// RunInfo is the `run` value of the Scope.
type RunInfo struct {
	ID      string `expr:"id"`
	FlowID  string `expr:"flow_id"`
	Attempt int    `expr:"attempt"`
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
	program, err := expr.Compile(source, expr.Env(Scope{}), expr.MaxNodes(MaxNodes))
	if err != nil {
		return nil, compileError(err)
	}
	return &Program{source: source, program: program}, nil
}

// Source returns the expression as written.
func (p *Program) Source() string { return p.source }

// Eval runs the expression against scope.
func (p *Program) Eval(ctx context.Context, scope *Scope) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, err := expr.Run(p.program, scope)
	if err != nil {
		return nil, fmt.Errorf("evaluate %q: %w", p.source, err)
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
