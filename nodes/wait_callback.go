package nodes

import (
	"context"
	"time"
)

// KindWaitCallback suspends a run until its resume URL is requested.
const KindWaitCallback = "wait.callback"

// The ports of a wait.callback.
const (
	ResumedPort = "resumed"
	TimeoutPort = "timeout"
)

// DefaultCallbackTimeout is how long a wait.callback waits when its params
// say not.
const DefaultCallbackTimeout = 7 * 24 * time.Hour

var waitCallbackSpec = Spec{
	Kind:     KindWaitCallback,
	Icon:     "hourglass",
	Category: CategoryFlow,
	Title:    "Wait for a callback",
	Summary:  "Suspends the run until a request reaches this step's one-time resume URL (run.resume_urls.<id>), or until it times out.",
	Pure:     true,
	Ports:    []string{ResumedPort, TimeoutPort},
	Fields: []Field{
		{
			Name: "timeout_ms", Type: TypeDuration, Label: "Wait at most", Default: DefaultCallbackTimeout.Milliseconds(),
			Min: Bound(1000), Max: Bound(float64(MaxWait.Milliseconds())),
			Help: "How long the resume URL stays good, in milliseconds; then the run goes on through the timeout port with the node's input.",
		},
	},
}

type waitCallbackParams struct {
	TimeoutMS int64 `json:"timeout_ms"`
}

type waitCallbackNode struct{ timeout time.Duration }

var (
	_ Node   = (*waitCallbackNode)(nil)
	_ Waiter = (*waitCallbackNode)(nil)
)

func buildWaitCallback(_ *Builder, p *waitCallbackParams) Node {
	return &waitCallbackNode{timeout: time.Duration(p.TimeoutMS) * time.Millisecond}
}

// Timeout implements Waiter.
func (n *waitCallbackNode) Timeout() time.Duration { return n.timeout }

// Run is never called: the executor completes the node with the request
// to its resume URL (Waiter).
func (n *waitCallbackNode) Run(context.Context, *Input) (Result, error) {
	return Result{}, errExecutorOnly
}
