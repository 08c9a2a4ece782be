package nodes

import "context"

var manualSpec = Spec{
	Kind:     "trigger.manual",
	Icon:     "play",
	Category: CategoryTrigger,
	Title:    "Manual",
	Pure:     true,
	Summary:  "Starts the flow only when someone runs it: a test run from the editor or the API.",
}

type manualParams struct{}

// manualTrigger outputs the payload the run was started with.
type manualTrigger struct{}

var _ Node = manualTrigger{}

func buildManual(*Builder, *manualParams) Node { return manualTrigger{} }

func (manualTrigger) Run(_ context.Context, in *Input) (Result, error) {
	return Result{Output: in.Scope.Trigger}, nil
}
