package engine

import (
	"context"

	"github.com/hookflow/hookflow/store"
)

// RunSteps returns a run's trigger data and its step records as users see
// them. Each value is stored once: the trigger data with the run (or its
// delivery), and each output with its own step; here the trigger step's
// output and every input that names its upstream step are filled in from
// there.
func (e *Engine) RunSteps(ctx context.Context, run *store.Run) (trigger []byte, steps []*store.Step, err error) {
	if trigger, err = RunTrigger(ctx, e.store, run); err != nil {
		return nil, nil, err
	}
	if steps, err = e.store.ListSteps(ctx, run.ID); err != nil {
		return nil, nil, err
	}
	triggerNode := ""
	if plan, err := e.plans.get(ctx, run.FlowID, run.FlowVersion); err == nil {
		triggerNode = plan.Trigger.Def.ID
	}
	outputs := make(map[stepKey][]byte, len(steps))
	for _, s := range steps {
		if s.NodeID == triggerNode && s.Status == store.StepSucceeded && s.Output == nil {
			s.Output = trigger
		}
		if s.Output != nil {
			// Steps are in the order they started: a later attempt's
			// output replaces an earlier one's.
			outputs[stepKey{s.NodeID, s.Iteration}] = s.Output
		}
	}
	for _, s := range steps {
		if s.InputFrom != "" && s.Input == nil {
			s.Input = CapJSON(outputs[stepKey{s.InputFrom, s.Iteration}], MaxInputBytes)
		}
	}
	return trigger, steps, nil
}
