package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/hookflow/hookflow/engine/schema"
	"github.com/hookflow/hookflow/nodes"
)

// Problem is one thing wrong with a flow, placed so the editor can point at
// it: the node's id (empty for the flow as a whole or an edge) and the dotted
// field, such as "params.condition" or "edges[2].to".
type Problem struct {
	Node    string `json:"node"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

// InvalidFlowError is a flow that parses but is not valid; it lists every
// problem at once.
type InvalidFlowError struct {
	Problems []Problem
}

func (e *InvalidFlowError) Error() string {
	return "flow is invalid: " + countProblems(len(e.Problems))
}

// MalformedFlowError is a flow document that is not JSON.
type MalformedFlowError struct {
	Err error
}

func (e *MalformedFlowError) Error() string { return "flow is not valid JSON: " + e.Err.Error() }
func (e *MalformedFlowError) Unwrap() error { return e.Err }

// ErrFlowTooLarge is a flow document over MaxFlowBytes.
var ErrFlowTooLarge = fmt.Errorf("flow document is larger than %d bytes", MaxFlowBytes)

// Plan is a flow compiled for running: every node's params decoded and its
// expressions compiled, edges resolved, nodes in topological order. Runs only
// ever see a Plan.
type Plan struct {
	Flow *Flow
	// Trigger is the flow's one trigger node.
	Trigger *PlanNode
	// Nodes are in topological order, the trigger first.
	Nodes []*PlanNode
	byID  map[string]*PlanNode
	// waitNodes are the wait.callback nodes, whose resume URLs
	// expressions see as run.resume_urls.
	waitNodes []*PlanNode
}

// PlanNode is one compiled node with its edges.
type PlanNode struct {
	Def  *Node
	Kind *nodes.Kind
	Node nodes.Node
	// Ports are the output ports edges may leave from.
	Ports []string
	In    []*PlanEdge
	Out   []*PlanEdge
	// Index is the node's position in Plan.Nodes.
	Index int
	// Loop is the innermost foreach whose body holds this node; nil for
	// nodes outside every loop.
	Loop *PlanNode
	// Body lists, for a foreach, the nodes of its loop body directly (not
	// those of loops nested in it), in topological order.
	Body []*PlanNode
}

// PlanEdge is a resolved edge.
type PlanEdge struct {
	From *PlanNode
	Port string
	To   *PlanNode
}

// Settings are the flow's settings; zero when it has none.
func (p *Plan) Settings() Settings {
	if p.Flow.Settings == nil {
		return Settings{}
	}
	return *p.Flow.Settings
}

// Concurrency is the flow's limit on its runs in flight; 0 is none.
func (p *Plan) Concurrency() int {
	if p.Flow.Settings == nil {
		return 0
	}
	return p.Flow.Settings.Concurrency
}

// Node returns the plan node with the given id.
func (p *Plan) Node(id string) (*PlanNode, bool) {
	n, ok := p.byID[id]
	return n, ok
}

var compiledFlowSchema = sync.OnceValue(func() *schema.Schema {
	s, err := schema.Compile(flowSchema())
	if err != nil {
		panic(fmt.Sprintf("flow schema: %v", err))
	}
	return s
})

// Compile parses a flow document and compiles it against the registry. It
// returns *MalformedFlowError when the document is not JSON, ErrFlowTooLarge,
// or *InvalidFlowError listing every problem.
func Compile(reg *nodes.Registry, data []byte) (*Plan, error) {
	if len(data) > MaxFlowBytes {
		return nil, ErrFlowTooLarge
	}
	value, err := schema.Decode(data)
	if err != nil {
		return nil, &MalformedFlowError{Err: err}
	}
	c := &compiler{reg: reg}
	c.structure(value)
	// Decode leniently: the schema check has reported every misfit, and the
	// parts that do fit still get their own checks below.
	var flow Flow
	if err := json.Unmarshal(data, &flow); err != nil {
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) {
			return nil, &MalformedFlowError{Err: err}
		}
	}
	if flow.Nodes == nil {
		flow.Nodes = []Node{}
	}
	if flow.Edges == nil {
		flow.Edges = []Edge{}
	}
	plan := c.compile(&flow)
	if len(c.problems) > 0 {
		return nil, &InvalidFlowError{Problems: c.sorted(&flow)}
	}
	for _, n := range plan.Nodes {
		if _, ok := n.Node.(nodes.Waiter); ok {
			plan.waitNodes = append(plan.waitNodes, n)
		}
	}
	return plan, nil
}

type compiler struct {
	reg      *nodes.Registry
	problems []Problem
}

func (c *compiler) add(node, field, format string, args ...any) {
	p := Problem{Node: node, Field: field, Message: fmt.Sprintf(format, args...)}
	if !slices.Contains(c.problems, p) {
		c.problems = append(c.problems, p)
	}
}

var nodePath = regexp.MustCompile(`^nodes\[(\d+)\](?:\.(.+))?$`)

// structure checks the document against the flow schema, placing each
// violation on its node where the node has a usable id.
func (c *compiler) structure(value any) {
	doc, _ := value.(map[string]any)
	list, _ := doc["nodes"].([]any)
	for _, v := range compiledFlowSchema().Check(value) {
		m := nodePath.FindStringSubmatch(v.Field)
		if m == nil {
			c.add("", v.Field, "%s", v.Message)
			continue
		}
		i, _ := strconv.Atoi(m[1])
		node, _ := list[i].(map[string]any)
		id, _ := node["id"].(string)
		if !idPattern.MatchString(id) || m[2] == "" || m[2] == "id" {
			c.add("", v.Field, "%s", v.Message)
			continue
		}
		c.add(id, m[2], "%s", v.Message)
	}
}

func (c *compiler) compile(flow *Flow) *Plan {
	plan := &Plan{Flow: flow, byID: make(map[string]*PlanNode, len(flow.Nodes))}
	var all []*PlanNode
	var triggers []*PlanNode
	for i := range flow.Nodes {
		def := &flow.Nodes[i]
		if !idPattern.MatchString(def.ID) {
			continue // reported by the schema check
		}
		if _, dup := plan.byID[def.ID]; dup {
			c.add(def.ID, "id", "id %q is used by more than one node", def.ID)
			continue
		}
		pn := &PlanNode{Def: def}
		plan.byID[def.ID] = pn
		all = append(all, pn)
		c.node(pn)
		if pn.Kind != nil && pn.Kind.Spec.IsTrigger() {
			triggers = append(triggers, pn)
		}
	}
	switch {
	case len(triggers) == 0:
		c.add("", "nodes", "a flow needs exactly one trigger node; it has none")
	case len(triggers) > 1:
		for _, t := range triggers[1:] {
			c.add(t.Def.ID, "type", "a flow needs exactly one trigger node; %q is already its trigger", triggers[0].Def.ID)
		}
	}
	if len(triggers) > 0 {
		plan.Trigger = triggers[0]
	}
	c.edges(plan, flow.Edges)
	plan.Nodes = c.order(all)
	for i, n := range plan.Nodes {
		n.Index = i
	}
	if len(plan.Nodes) == len(all) {
		c.loops(plan)
		c.pins(plan)
	}
	return plan
}

// loops finds each foreach's body: the nodes reached from its each port.
// Nothing outside a body may lead into it, so a body runs only per element.
func (c *compiler) loops(plan *Plan) {
	var iterators []*PlanNode
	bodies := map[*PlanNode]map[*PlanNode]bool{}
	for _, n := range plan.Nodes {
		if _, ok := n.Node.(nodes.Iterator); !ok {
			continue
		}
		iterators = append(iterators, n)
		body := map[*PlanNode]bool{}
		var reach func(*PlanNode)
		reach = func(m *PlanNode) {
			if body[m] {
				return
			}
			body[m] = true
			for _, e := range m.Out {
				reach(e.To)
			}
		}
		for _, e := range n.Out {
			if e.Port == nodes.IteratePort {
				reach(e.To)
			}
		}
		bodies[n] = body
		for _, m := range plan.Nodes {
			if !body[m] {
				continue
			}
			for _, e := range m.In {
				if !body[e.From] && (e.From != n || e.Port != nodes.IteratePort) {
					c.add(m.Def.ID, "", "is in the loop of %q (behind its each port), so only that loop's nodes may lead into it, not %q",
						n.Def.ID, e.From.Def.ID)
				}
			}
		}
	}
	// A node's loop is the innermost one: the iterator with the smallest
	// body that holds it.
	for _, m := range plan.Nodes {
		for _, it := range iterators {
			if bodies[it][m] && (m.Loop == nil || len(bodies[it]) < len(bodies[m.Loop])) {
				m.Loop = it
			}
		}
		if m.Loop != nil {
			m.Loop.Body = append(m.Loop.Body, m)
		}
	}
}

// node looks the kind up and builds the node from its params.
func (c *compiler) node(pn *PlanNode) {
	def := pn.Def
	if def.Type == "" {
		return // reported by the schema check
	}
	kind, ok := c.reg.Lookup(def.Type)
	if !ok {
		c.add(def.ID, "type", "unknown node type %q", def.Type)
		return
	}
	pn.Kind = kind
	if def.Retry != nil && def.Retry.MaxBackoffMS > 0 && def.Retry.MaxBackoffMS < def.Retry.BackoffMS {
		c.add(def.ID, "retry.max_backoff_ms", "must not be less than backoff_ms")
	}
	if len(def.Params) > 0 && def.Params[0] != '{' && string(def.Params) != "null" {
		return // not an object: reported by the schema check
	}
	built, err := kind.Build(def.Params)
	if err != nil {
		var fieldErrs nodes.FieldErrors
		if !errors.As(err, &fieldErrs) {
			c.add(def.ID, "params", "%v", err)
			return
		}
		for _, fe := range fieldErrs {
			c.add(def.ID, schema.Join("params", fe.Field), "%s", fe.Message)
		}
		return
	}
	pn.Node = built
	pn.Ports = kind.Spec.Ports
	if lister, ok := built.(nodes.PortLister); ok {
		pn.Ports = lister.Ports()
	}
	if def.OnError == OnErrorRoute {
		pn.Ports = append(slices.Clone(pn.Ports), ErrorPort)
	}
}

func (c *compiler) edges(plan *Plan, edges []Edge) {
	type key struct{ from, port, to string }
	seen := make(map[key]bool, len(edges))
	for i, e := range edges {
		field := fmt.Sprintf("edges[%d]", i)
		from, fromOK := plan.byID[e.From]
		to, toOK := plan.byID[e.To]
		if e.From != "" && !fromOK {
			c.add("", field+".from", "%q is not a node of this flow", e.From)
		}
		if e.To != "" && !toOK {
			c.add("", field+".to", "%q is not a node of this flow", e.To)
		}
		if !fromOK || !toOK {
			continue
		}
		if seen[key{e.From, e.Port, e.To}] {
			c.add("", field, "repeats an earlier edge")
			continue
		}
		seen[key{e.From, e.Port, e.To}] = true
		if to.Kind != nil && to.Kind.Spec.IsTrigger() {
			c.add("", field+".to", "%q is a trigger; nothing may lead into it", e.To)
			continue
		}
		if from.Kind != nil && from.Node != nil && !c.port(from, e, field) {
			continue
		}
		edge := &PlanEdge{From: from, Port: e.Port, To: to}
		from.Out = append(from.Out, edge)
		to.In = append(to.In, edge)
	}
}

// port checks that an edge leaves from one of its node's ports.
func (c *compiler) port(from *PlanNode, e Edge, field string) bool {
	ports := from.Ports
	named := len(from.Kind.Spec.Ports) > 0 || from.Kind.Spec.PortsFrom != ""
	switch {
	case e.Port == "" && !named:
		return true
	case e.Port == "":
		c.add("", field+".port", "%q has several outputs, so the edge must name one of: %s", e.From, strings.Join(ports, ", "))
		return false
	case slices.Contains(ports, e.Port):
		return true
	case e.Port == ErrorPort:
		c.add("", field+".port", "%q has an error port only when its on_error is %q", e.From, OnErrorRoute)
		return false
	case !named && len(ports) == 0:
		c.add("", field+".port", "%q has a single unnamed output: leave port out", e.From)
		return false
	default:
		c.add("", field+".port", "%q has no port %q; its ports are: %s", e.From, e.Port, strings.Join(ports, ", "))
		return false
	}
}

// order sorts nodes topologically (Kahn), keeping document order among nodes
// that are ready together, and reports the cycles that stop it.
func (c *compiler) order(all []*PlanNode) []*PlanNode {
	indegree := make(map[*PlanNode]int, len(all))
	for _, n := range all {
		for _, e := range n.Out {
			indegree[e.To]++
		}
	}
	var ready, sorted []*PlanNode
	for _, n := range all {
		if indegree[n] == 0 {
			ready = append(ready, n)
		}
	}
	for len(ready) > 0 {
		n := ready[0]
		ready = ready[1:]
		sorted = append(sorted, n)
		for _, e := range n.Out {
			indegree[e.To]--
			if indegree[e.To] == 0 {
				ready = append(ready, e.To)
			}
		}
	}
	if len(sorted) < len(all) {
		for _, cycle := range cycles(all, indegree) {
			ids := make([]string, len(cycle))
			for i, n := range cycle {
				ids[i] = n.Def.ID
			}
			c.add(ids[0], "", "is in a cycle (%s → %s); a flow must not loop back", strings.Join(ids, " → "), ids[0])
		}
	}
	return sorted
}

// cycles finds the strongly connected components (Tarjan) among the nodes
// Kahn's sort could not place; those with a loop are the cycles.
func cycles(all []*PlanNode, indegree map[*PlanNode]int) [][]*PlanNode {
	index := map[*PlanNode]int{}
	low := map[*PlanNode]int{}
	onStack := map[*PlanNode]bool{}
	var stack []*PlanNode
	var out [][]*PlanNode
	var visit func(n *PlanNode)
	visit = func(n *PlanNode) {
		index[n], low[n] = len(index), len(index)
		stack = append(stack, n)
		onStack[n] = true
		for _, e := range n.Out {
			if _, seen := index[e.To]; !seen {
				visit(e.To)
				low[n] = min(low[n], low[e.To])
			} else if onStack[e.To] {
				low[n] = min(low[n], index[e.To])
			}
		}
		if low[n] != index[n] {
			return
		}
		var component []*PlanNode
		for {
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[top] = false
			component = append(component, top)
			if top == n {
				break
			}
		}
		slices.Reverse(component)
		if len(component) > 1 || selfLoop(n) {
			out = append(out, component)
		}
	}
	for _, n := range all {
		if _, seen := index[n]; !seen && indegree[n] > 0 {
			visit(n)
		}
	}
	return out
}

func selfLoop(n *PlanNode) bool {
	for _, e := range n.Out {
		if e.To == n {
			return true
		}
	}
	return false
}

// sorted orders problems as the document does: flow-level first, then by
// node, then edges, each by field.
func (c *compiler) sorted(flow *Flow) []Problem {
	position := make(map[string]int, len(flow.Nodes))
	for i, n := range flow.Nodes {
		if _, seen := position[n.ID]; !seen {
			position[n.ID] = i + 1
		}
	}
	rank := func(p Problem) int {
		switch {
		case p.Node != "":
			return position[p.Node]
		case strings.HasPrefix(p.Field, "edges"):
			return len(flow.Nodes) + 1
		}
		return 0
	}
	out := slices.Clone(c.problems)
	sort.SliceStable(out, func(i, j int) bool {
		if ri, rj := rank(out[i]), rank(out[j]); ri != rj {
			return ri < rj
		}
		return fieldLess(out[i].Field, out[j].Field)
	})
	return out
}

// fieldLess orders dotted fields, comparing array positions as numbers so
// edges[10] follows edges[9].
func fieldLess(a, b string) bool {
	for a != "" && b != "" {
		ai, an := leadingNumber(a)
		bi, bn := leadingNumber(b)
		if an > 0 && bn > 0 {
			if ai != bi {
				return ai < bi
			}
			a, b = a[an:], b[bn:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func leadingNumber(s string) (value, length int) {
	for length < len(s) && s[length] >= '0' && s[length] <= '9' {
		length++
	}
	value, _ = strconv.Atoi(s[:length])
	return value, length
}

// countProblems says how many problems there are, in words: "1 problem",
// "3 problems".
func countProblems(n int) string {
	if n == 1 {
		return "1 problem"
	}
	return fmt.Sprintf("%d problems", n)
}
