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
	"time"

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
	// Services are the server's means of reaching the world; nil where a
	// node runs without them (validation, tests of pure kinds).
	Services *Services
	// Secrets collects the credential values the run has used; its records
	// are redacted of them. Input.Credential adds to it.
	Secrets *Secrets
	// IdempotencyKey is the same for every attempt of this step (and
	// differs between steps, loop iterations and runs), for senders that
	// deduplicate retried requests.
	IdempotencyKey string
	// Inputs are the outputs of every node upstream whose edge to this one
	// was taken, by node id; set for nodes with more than one incoming
	// edge (Scope.Input is the first of them).
	Inputs map[string]any
}

// Result is what a node produced.
type Result struct {
	// Output becomes steps.<id> and the input of the nodes downstream.
	Output any
	// Port is the output port whose edges are activated: empty for the
	// unnamed output of a kind without ports.
	Port string
	// Stop activates no port, so the nodes downstream are skipped: a filter
	// whose condition did not hold.
	Stop bool
}

// PortLister is implemented by nodes whose ports depend on their params, such
// as switch with a port per case.
type PortLister interface {
	Ports() []string
}

// Suspender is implemented by nodes that wait before they complete, such as
// delay. The executor asks once how long, waits that long (in memory for a
// short wait, in the queue for a long one), and then calls Run.
type Suspender interface {
	Suspend(ctx context.Context, in *Input) (time.Duration, error)
}

// Caller is implemented by flow.call: the executor starts the run Call
// asks for, and for a call that waits, completes the node with the run's
// result once it ends. Run is never called.
type Caller interface {
	Call(ctx context.Context, in *Input) (CallRequest, error)
}

// CallRequest is a run of another flow that a flow.call step starts.
type CallRequest struct {
	FlowID string
	// Version pins the version to run; 0 runs the flow's current version.
	Version int
	Input   map[string]any
	// Wait makes the step wait for the run's end, up to Timeout; otherwise
	// it goes on at once.
	Wait    bool
	Timeout time.Duration
}

// Waiter is implemented by wait.callback: the executor suspends the step
// until a request reaches its resume URL or Timeout passes. Run is never
// called.
type Waiter interface {
	Timeout() time.Duration
}

// InputChecker is implemented by trigger.call: it checks the input a caller
// gives against the fields the flow declares.
type InputChecker interface {
	CheckInput(input any) error
}

// Joiner is implemented by nodes that join branches: merge. A node runs
// once every node upstream has finished; a Joiner whose FirstArrival is
// true runs as soon as one of its incoming edges is taken instead.
type Joiner interface {
	FirstArrival() bool
}

// Iterator is implemented by nodes that loop: foreach. Items gives the
// elements; the executor runs the nodes behind the IteratePort once per
// element, then activates DonePort with the list of each iteration's last
// output.
type Iterator interface {
	Items(ctx context.Context, in *Input) ([]any, error)
}

// The ports of an Iterator.
const (
	IteratePort = "each"
	DonePort    = "done"
)

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
