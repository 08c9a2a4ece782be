// Package nodes holds the node kinds a flow is built from and the registry
// that lists them with their parameter schemas.
//
// A kind is data plus a small interface: a Spec describing its parameters,
// and a builder that turns checked, typed params into a Node once, when the
// flow is saved. At run time a Node only runs.
package nodes

import (
	"context"
	"log/slog"
	"strings"

	"github.com/hookflow/hookflow/engine/expression"
)

// Node is a compiled node of one flow version. One Node serves every run of
// that version, so Run must be safe for concurrent use.
type Node interface {
	Run(ctx context.Context, in *Input) (Result, error)
}

// Input is what a node receives when it runs.
type Input struct {
	// Scope is the expression environment: trigger, steps, input, run, env.
	Scope *expression.Scope
	// Logger writes the step's own log lines, kept with its record.
	Logger *slog.Logger
}

// Result is what a node produced.
type Result struct {
	// Output becomes steps.<id> and the input of the nodes downstream.
	Output any
	// Ports names the output ports whose edges are activated. Nil activates
	// the unnamed output of a kind without ports.
	Ports []string
}

// PortLister is implemented by nodes whose ports depend on their params, such
// as switch with a port per case.
type PortLister interface {
	Ports() []string
}

// FieldError is one problem with a node's params, found when the flow is
// saved.
type FieldError struct {
	// Field is the dotted path inside params, such as "cases[1].condition".
	Field   string
	Message string
}

// FieldErrors lists every problem found in a node's params.
type FieldErrors []FieldError

func (e FieldErrors) Error() string {
	parts := make([]string, len(e))
	for i, fe := range e {
		if fe.Field == "" {
			parts[i] = fe.Message
		} else {
			parts[i] = fe.Field + ": " + fe.Message
		}
	}
	return strings.Join(parts, "; ")
}
