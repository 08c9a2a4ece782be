package nodes

import "context"

// The modes of a merge.
const (
	MergeAll   = "all"
	MergeFirst = "first"
)

var mergeSpec = Spec{
	Kind:     "merge",
	Icon:     "merge",
	Category: CategoryFlow,
	Title:    "Merge",
	Summary:  "Joins branches: waits for every branch that was taken and outputs their outputs by node id, or goes on with the first to arrive.",
	Pure:     true,
	Fields: []Field{
		{
			Name: "mode", Type: TypeSelect, Label: "Mode", Default: MergeAll,
			Options: []Option{
				{Value: MergeAll, Label: "All branches", Help: "Waits until every node before it has finished; outputs {<node id>: output} for each branch that reached it."},
				{Value: MergeFirst, Label: "First to arrive", Help: "Goes on as soon as one branch reaches it, with that branch's output; branches arriving later do not run it again."},
			},
			Help: "all waits for every branch that was taken; first goes on with whichever arrives first.",
		},
	},
}

type mergeParams struct {
	Mode string `json:"mode"`
}

type mergeNode struct{ first bool }

var (
	_ Node   = (*mergeNode)(nil)
	_ Joiner = (*mergeNode)(nil)
)

func buildMerge(_ *Builder, p *mergeParams) Node {
	return &mergeNode{first: p.Mode == MergeFirst}
}

// FirstArrival implements Joiner.
func (n *mergeNode) FirstArrival() bool { return n.first }

// Run outputs the branches that reached the node: all of them by source
// node id, or the one that came first as it is.
func (n *mergeNode) Run(_ context.Context, in *Input) (Result, error) {
	if n.first {
		return Result{Output: in.Scope.Input}, nil
	}
	out := make(map[string]any, len(in.Inputs))
	for id, v := range in.Inputs {
		out[id] = v
	}
	return Result{Output: out}, nil
}
