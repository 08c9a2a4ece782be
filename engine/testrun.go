package engine

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hookflow/hookflow/engine/expression"
	"github.com/hookflow/hookflow/nodes"
)

// pinnedMessage is the log line of a step whose output was pinned.
const pinnedMessage = "output pinned in the editor; the node did not run"

// Pin is a node's output pinned in the editor (the node's ui.pin, or a test
// request's pins): a test run uses it instead of running the node, so a
// flow can be built on against a known answer without calling the service
// again. Runs of any other kind never use pins.
type Pin struct {
	Output json.RawMessage `json:"output"`
	// Port is the port the node activates, for kinds with ports.
	Port string `json:"port,omitempty"`
}

// TestOptions narrow a test run from the editor. They are kept with the run
// (store.Run.TestOptions), and only runs of trigger type test apply them.
type TestOptions struct {
	// Until, when set, names the node the test stops after: only it and
	// the nodes upstream of it run; every other node is recorded skipped.
	Until string `json:"until,omitempty"`
	// Pins are outputs used instead of running those nodes, by node id.
	Pins map[string]Pin `json:"pins,omitempty"`
}

// InvalidTestError is a test request whose options do not fit the flow
// version it tests; it lists every problem.
type InvalidTestError struct {
	Problems []Problem
}

func (e *InvalidTestError) Error() string {
	return "the test's options are invalid: " + countProblems(len(e.Problems))
}

// TestOptions checks a test request's options against the plan and merges
// in the pins saved in the flow's nodes (ui.pin), the request's taking
// precedence. It returns the options to keep with the run as JSON, nil when
// there are none, or *InvalidTestError.
func (p *Plan) TestOptions(req TestOptions) ([]byte, error) {
	var problems []Problem
	if req.Until != "" {
		if _, ok := p.byID[req.Until]; !ok {
			problems = append(problems, Problem{Field: "until", Message: fmt.Sprintf("%q is not a node of this flow", req.Until)})
		}
	}
	ids := make([]string, 0, len(req.Pins))
	for id := range req.Pins {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		field := "pins." + id
		n, ok := p.byID[id]
		switch {
		case !ok:
			problems = append(problems, Problem{Field: field, Message: fmt.Sprintf("%q is not a node of this flow", id)})
		case len(req.Pins[id].Output) == 0:
			problems = append(problems, Problem{Node: id, Field: field, Message: "a pin needs an output"})
		default:
			if msg := pinProblem(n, req.Pins[id].Port); msg != "" {
				problems = append(problems, Problem{Node: id, Field: field, Message: msg})
			}
		}
	}
	if len(problems) > 0 {
		return nil, &InvalidTestError{Problems: problems}
	}
	opts := TestOptions{Until: req.Until, Pins: map[string]Pin{}}
	for _, n := range p.Nodes {
		if pin := savedPin(n.Def); pin != nil {
			opts.Pins[n.Def.ID] = *pin
		}
	}
	for id, pin := range req.Pins {
		opts.Pins[id] = pin
	}
	if opts.Until == "" && len(opts.Pins) == 0 {
		return nil, nil
	}
	data, err := json.Marshal(opts)
	if err != nil {
		return nil, fmt.Errorf("encode test options: %w", err)
	}
	return data, nil
}

// savedPin is the output pinned in a node's ui, or nil.
func savedPin(def *Node) *Pin {
	var ui struct {
		Pin *Pin `json:"pin"`
	}
	if len(def.UI) == 0 || json.Unmarshal(def.UI, &ui) != nil || ui.Pin == nil || len(ui.Pin.Output) == 0 {
		return nil // no pin, or one the schema check reports
	}
	return ui.Pin
}

// pins checks the outputs pinned in the flow's nodes, once the plan knows
// each node's ports and loop.
func (c *compiler) pins(plan *Plan) {
	for _, n := range plan.Nodes {
		pin := savedPin(n.Def)
		if pin == nil || n.Kind == nil || n.Node == nil {
			continue // no pin, or a node whose own problems come first
		}
		if msg := pinProblem(n, pin.Port); msg != "" {
			c.add(n.Def.ID, "ui.pin", "%s", msg)
		}
	}
}

// pinProblem says why n's output cannot be pinned with that port; "" when
// it can. A pinned node stands in for its own run only: a trigger takes
// the test's payload, and a loop, or a node inside one, runs per element.
func pinProblem(n *PlanNode, port string) string {
	spec := n.Kind.Spec
	if spec.IsTrigger() {
		return "a trigger cannot be pinned: a test gives it its payload"
	}
	if _, ok := n.Node.(nodes.Iterator); ok {
		return "a foreach cannot be pinned: it runs the nodes of its loop"
	}
	if n.Loop != nil {
		return fmt.Sprintf("a node inside the loop of %q cannot be pinned: it runs once per element", n.Loop.Def.ID)
	}
	named := len(spec.Ports) > 0 || spec.PortsFrom != ""
	// The error port of on_error "route" is the executor's, not the kind's.
	ports := slices.DeleteFunc(slices.Clone(n.Ports), func(p string) bool { return p == ErrorPort })
	switch {
	case !named && port != "":
		return fmt.Sprintf("%q has a single unnamed output: leave port out", n.Def.ID)
	case named && port == "":
		return fmt.Sprintf("a pin of %q names the port it activates, one of: %s", n.Def.ID, strings.Join(ports, ", "))
	case named && !slices.Contains(ports, port):
		return fmt.Sprintf("%q has no port %q; its ports are: %s", n.Def.ID, port, strings.Join(ports, ", "))
	}
	return ""
}

// testRun is what a test run's options make of its plan: the nodes it may
// run, and the outputs it uses instead of running nodes.
type testRun struct {
	// runs holds the until node and every node upstream of it; nil when
	// every node may run.
	runs map[*PlanNode]bool
	pins map[*PlanNode]pinnedOutput
}

type pinnedOutput struct {
	output any
	port   string
}

// testRun reads the options kept with a test run.
func (p *Plan) testRun(data []byte) (*testRun, error) {
	var opts TestOptions
	if err := json.Unmarshal(data, &opts); err != nil {
		return nil, fmt.Errorf("read the run's test options: %w", err)
	}
	t := &testRun{pins: make(map[*PlanNode]pinnedOutput, len(opts.Pins))}
	if opts.Until != "" {
		until, ok := p.byID[opts.Until]
		if !ok {
			return nil, fmt.Errorf("the run's test options: %q is not a node of the flow version", opts.Until)
		}
		t.runs = p.upstream(until)
	}
	for id, pin := range opts.Pins {
		n, ok := p.byID[id]
		if !ok {
			return nil, fmt.Errorf("the run's test options: %q is not a node of the flow version", id)
		}
		output, err := expression.DecodeJSON(pin.Output)
		if err != nil {
			return nil, fmt.Errorf("the run's test options: the output pinned for %s: %w", id, err)
		}
		t.pins[n] = pinnedOutput{output: output, port: pin.Port}
	}
	return t, nil
}

// upstream is n, the trigger, and every node from which an edge path leads
// to n, through a foreach's each port too: a node inside a loop runs only
// when its loop does.
func (p *Plan) upstream(n *PlanNode) map[*PlanNode]bool {
	set := map[*PlanNode]bool{p.Trigger: true, n: true}
	stack := []*PlanNode{n}
	for len(stack) > 0 {
		m := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, e := range m.In {
			if !set[e.From] {
				set[e.From] = true
				stack = append(stack, e.From)
			}
		}
	}
	return set
}

// excludes reports whether a test run leaves n out: it is recorded
// skipped, and so is everything downstream of it.
func (t *testRun) excludes(n *PlanNode) bool {
	return t != nil && t.runs != nil && !t.runs[n]
}

// pinned returns the output pinned for n in a test run.
func (t *testRun) pinned(n *PlanNode) (pinnedOutput, bool) {
	if t == nil {
		return pinnedOutput{}, false
	}
	pin, ok := t.pins[n]
	return pin, ok
}
