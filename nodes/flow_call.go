package nodes

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// KindCall runs another flow.
const KindCall = "flow.call"

// The modes of a flow.call.
const (
	CallWait = "wait"
	CallFire = "fire"
)

// Bounds of a flow.call that waits.
const (
	// DefaultCallTimeout is how long a call waits when its params say not.
	DefaultCallTimeout = time.Hour
	// MaxWait is the longest a call or a wait.callback may wait.
	MaxWait = 30 * 24 * time.Hour
)

var callSpec = Spec{
	Kind:     KindCall,
	Icon:     "workflow",
	Category: CategoryFlow,
	Title:    "Call a flow",
	Summary:  "Runs another flow with an input built by expressions, and waits for its result or goes on at once.",
	Fields: []Field{
		{
			Name: "flow", Type: TypeFlow, Label: "Flow", Required: true,
			Help: "The id of the flow to run. It starts with a trigger.call or trigger.manual node; it need not be active.",
		},
		{
			Name: "version", Type: TypeInteger, Label: "Version", Min: Bound(1), Advanced: true,
			Help: "Pins a version of the flow to run. Empty: the flow's current version when the call starts.",
		},
		{
			Name: "input", Type: TypeMap, Label: "Input",
			Help:  "The called run's trigger.input: field name → expression.",
			Items: &Field{Name: "expression", Type: TypeExpression, Label: "Expression", Placeholder: "trigger.body.email"},
		},
		{
			Name: "mode", Type: TypeSelect, Label: "Mode", Default: CallWait,
			Options: []Option{
				{Value: CallWait, Label: "Wait for its result", Help: "The step's output is the called run's result: its flow.return node's output, or its last step's. The step fails if the run fails."},
				{Value: CallFire, Label: "Start it and go on", Help: "The step's output is {\"run_id\": …}; the called run goes on by itself."},
			},
		},
		{
			Name: "timeout_ms", Type: TypeDuration, Label: "Wait at most", Default: DefaultCallTimeout.Milliseconds(),
			Min: Bound(1000), Max: Bound(float64(MaxWait.Milliseconds())),
			Help: "With mode wait: how long to wait for the called run to end, in milliseconds; then the step fails and the run is canceled.",
		},
	},
}

type callParams struct {
	Flow      string            `json:"flow"`
	Version   int               `json:"version"`
	Input     map[string]string `json:"input"`
	Mode      string            `json:"mode"`
	TimeoutMS int64             `json:"timeout_ms"`
}

type callNode struct {
	flow    string
	version int
	input   []NamedProgram
	wait    bool
	timeout time.Duration
}

var (
	_ Node   = (*callNode)(nil)
	_ Caller = (*callNode)(nil)
)

func buildCall(b *Builder, p *callParams) Node {
	return &callNode{
		flow: p.Flow, version: p.Version, input: b.Expressions("input", p.Input),
		wait: p.Mode != CallFire, timeout: time.Duration(p.TimeoutMS) * time.Millisecond,
	}
}

// Call evaluates the input and says which run to start.
func (n *callNode) Call(ctx context.Context, in *Input) (CallRequest, error) {
	input := make(map[string]any, len(n.input))
	for _, e := range n.input {
		v, err := e.Program.Eval(ctx, in.Scope)
		if err != nil {
			return CallRequest{}, Permanent(fmt.Errorf("input.%s: %w", e.Name, err))
		}
		input[e.Name] = v
	}
	return CallRequest{FlowID: n.flow, Version: n.version, Input: input, Wait: n.wait, Timeout: n.timeout}, nil
}

// errExecutorOnly answers Run of the kinds the executor carries out itself.
var errExecutorOnly = Permanent(errors.New("this kind is carried out by the executor, not run"))

// Run is never called: the executor starts the run (Caller).
func (n *callNode) Run(context.Context, *Input) (Result, error) { return Result{}, errExecutorOnly }
