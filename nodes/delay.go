package nodes

import (
	"context"
	"fmt"
	"time"

	"github.com/hookflow/hookflow/engine/expression"
)

// MaxDelay is the longest a delay may wait.
const MaxDelay = 30 * 24 * time.Hour

var delaySpec = Spec{
	Kind:     "delay",
	Icon:     "timer",
	Category: CategoryFlow,
	Title:    "Delay",
	Summary:  "Waits for a while, or until a time, before the flow goes on; the wait holds nothing scarce.",
	Pure:     true,
	Fields: []Field{
		{
			Name: "duration_ms", Type: TypeDuration, Label: "Wait for", Min: Bound(0), Max: Bound(float64(MaxDelay.Milliseconds())),
			Help: "How long to wait, in milliseconds. Give this or until.",
		},
		{
			Name: "until", Type: TypeExpression, Label: "Wait until",
			Help:        "An expression giving the time to wait until: an RFC 3339 text or a date. A time already past does not wait. Give this or duration_ms.",
			Placeholder: `date(trigger.body.send_at)`,
		},
	},
}

type delayParams struct {
	DurationMS *int64 `json:"duration_ms"`
	Until      string `json:"until"`
}

type delayNode struct {
	duration time.Duration
	until    *expression.Program
}

var (
	_ Node      = (*delayNode)(nil)
	_ Suspender = (*delayNode)(nil)
)

func buildDelay(b *Builder, p *delayParams) Node {
	if (p.DurationMS == nil) == (p.Until == "") {
		b.Fail("duration_ms", "give either duration_ms or until")
		return nil
	}
	n := &delayNode{until: b.Expression("until", p.Until)}
	if p.DurationMS != nil {
		n.duration = time.Duration(*p.DurationMS) * time.Millisecond
	}
	return n
}

// Suspend says how long to wait.
func (n *delayNode) Suspend(ctx context.Context, in *Input) (time.Duration, error) {
	if n.until == nil {
		return n.duration, nil
	}
	v, err := n.until.Eval(ctx, in.Scope)
	if err != nil {
		return 0, err
	}
	var t time.Time
	switch v := v.(type) {
	case time.Time:
		t = v
	case string:
		if t, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return 0, Permanent(fmt.Errorf("until %q is not an RFC 3339 time", v))
		}
	default:
		return 0, Permanent(fmt.Errorf("until gave %T, not a time", v))
	}
	wait := time.Until(t)
	if wait > MaxDelay {
		return 0, Permanent(fmt.Errorf("until is %s away; the limit is %s", wait.Round(time.Second), MaxDelay))
	}
	return max(wait, 0), nil
}

// Run completes the delay once the wait is over, passing the input on.
func (n *delayNode) Run(_ context.Context, in *Input) (Result, error) {
	return Result{Output: in.Scope.Input}, nil
}
