// Package n8nimport turns n8n workflow exports into Hookflow flow
// documents, with a report of what was converted, what was converted with
// differences, and what was not, so that a migration hides nothing.
//
// n8n passes lists of items from node to node and addresses nodes by name;
// Hookflow passes one value and addresses nodes by id. The import maps node
// types to kinds, names to ids, output indexes to ports, and leaves the
// expressions to package n8nexpr.
package n8nimport

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/nodes"
)

// Result is an imported flow and its report.
type Result struct {
	Flow   engine.Flow
	Report Report
}

// Document is the flow as JSON, as POST /api/v1/flows takes it.
func (r *Result) Document() ([]byte, error) {
	data, err := json.Marshal(r.Flow)
	if err != nil {
		return nil, fmt.Errorf("encode flow: %w", err)
	}
	return data, nil
}

// Import converts an n8n workflow export. It fails only when data is not an
// n8n workflow; everything the flow cannot do is in the report.
func Import(data []byte) (*Result, error) {
	w, err := parse(data)
	if err != nil {
		return nil, err
	}
	reg := nodes.NewRegistry()
	nodes.RegisterBuiltins(reg)
	c := newConverter(w)
	c.run()
	problems, err := c.validate(reg)
	if err != nil {
		return nil, err
	}
	if c.unpin(problems) {
		// A pin that does not fit is left out rather than failing the flow.
		if problems, err = c.validate(reg); err != nil {
			return nil, err
		}
	}
	res := &Result{Flow: c.flow, Report: c.report}
	res.Report.Problems, res.Report.Valid = problems, len(problems) == 0
	return res, nil
}

// validate checks the flow as saving it would, and gives its problems.
func (c *converter) validate(reg *nodes.Registry) ([]engine.Problem, error) {
	doc, err := json.Marshal(c.flow)
	if err != nil {
		return nil, fmt.Errorf("encode flow: %w", err)
	}
	if _, err := engine.Compile(reg, doc); err != nil {
		var invalid *engine.InvalidFlowError
		if !errors.As(err, &invalid) {
			return []engine.Problem{{Message: err.Error()}}, nil
		}
		return invalid.Problems, nil
	}
	return nil, nil
}

// converted is one n8n node as a Hookflow node, with how its outputs map
// to ports.
type converted struct {
	src *n8nNode
	// node is nil for a node not converted.
	node    *engine.Node
	status  Status
	reasons []string
	// ports maps an n8n output index to the ports that carry it: "" is
	// the unnamed output. Nil means output 0 is the unnamed output.
	ports map[int][]string
	// loop marks a foreach, whose loop-back edges n8n draws but Hookflow
	// does not need.
	loop bool
	// passThrough marks a disabled node: n8n passes its input on, so
	// edges through it are joined up.
	passThrough bool
}

func (cv *converted) caveat(format string, args ...any) {
	cv.reasons = append(cv.reasons, fmt.Sprintf(format, args...))
	if cv.status == Converted {
		cv.status = Caveats
	}
}

// converter holds the state of one import.
type converter struct {
	w      *workflow
	flow   engine.Flow
	report Report
	// ids maps n8n node names to Hookflow ids, for every node given one.
	ids map[string]string
	// paths maps n8n node names to where n8n's json is in the Hookflow
	// node's output (see n8nexpr.Scope.Paths).
	paths map[string]string
	// pinned holds the pins carried over from n8n's pinned data, by node
	// id.
	pinned map[string]pinNote
	byName map[string]*converted
	// inputs maps a node's name to the names of the nodes whose main
	// outputs lead to it, in connection order.
	inputs map[string][]string
	// inLoop holds the names of nodes behind a foreach's each port.
	inLoop  map[string]bool
	trigger string
	creds   map[string]bool
}

func newConverter(w *workflow) *converter {
	name := strings.TrimSpace(w.Name)
	if name == "" {
		name = "Imported from n8n"
	}
	if r := []rune(name); len(r) > 200 {
		name = string(r[:200])
	}
	return &converter{
		w:    w,
		flow: engine.Flow{Name: name, Nodes: []engine.Node{}, Edges: []engine.Edge{}},
		// Empty lists, not null, so the report's JSON always has them.
		report: Report{Nodes: []NodeReport{}, Expressions: []ExpressionReport{}, Credentials: []CredentialNeed{}},
		ids:    map[string]string{},
		paths:  map[string]string{},
		pinned: map[string]pinNote{},
		byName: map[string]*converted{},
		inputs: map[string][]string{},
		inLoop: map[string]bool{},
		creds:  map[string]bool{},
	}
}

func (c *converter) run() {
	c.indexInputs()
	c.assignIDs()
	c.findTrigger()
	c.markLoops()
	var notes []map[string]any
	for i := range c.w.Nodes {
		n := &c.w.Nodes[i]
		if n.shortType() == "stickyNote" {
			notes = append(notes, c.note(n, len(notes)+1))
			continue
		}
		cv := c.convert(n)
		c.byName[n.Name] = cv
		nr := NodeReport{Name: n.Name, Type: n.Type, Status: cv.status, Reasons: cv.reasons}
		if cv.node != nil {
			nr.ID, nr.Kind = cv.node.ID, cv.node.Type
			c.flow.Nodes = append(c.flow.Nodes, *cv.node)
		}
		c.report.Nodes = append(c.report.Nodes, nr)
	}
	if len(notes) > 0 {
		ui, _ := json.Marshal(map[string]any{"notes": notes})
		c.flow.UI = ui
	}
	c.edges()
	c.pins()
	if c.trigger == "" {
		c.remark("the workflow has no trigger Hookflow can take over (webhook, schedule, cron, manual, execute-workflow or error trigger): add one")
	}
}

// remark adds a note on the flow as a whole to the report.
func (c *converter) remark(format string, args ...any) {
	c.report.Notes = append(c.report.Notes, fmt.Sprintf(format, args...))
}

func (c *converter) indexInputs() {
	for _, from := range sortedKeys(c.w.Connections) {
		for _, outs := range c.w.Connections[from]["main"] {
			for _, t := range outs {
				c.inputs[t.Node] = append(c.inputs[t.Node], from)
			}
		}
	}
}

var notIDChar = regexp.MustCompile(`[^a-z0-9]+`)

// slugID makes an id Hookflow accepts ([a-z][a-z0-9_]*, at most 64) from
// an n8n node name.
func slugID(name string) string {
	id := strings.Trim(notIDChar.ReplaceAllString(strings.ToLower(foldAccents(name)), "_"), "_")
	if id == "" || id[0] < 'a' || id[0] > 'z' {
		id = "n_" + id
	}
	id = strings.TrimRight(id, "_")
	if len(id) > 56 {
		id = strings.TrimRight(id[:56], "_")
	}
	return id
}

// foldAccents keeps accented Latin letters readable in ids ("Prüfen" →
// "prufen") instead of dropping them.
func foldAccents(s string) string {
	r := strings.NewReplacer("ä", "a", "ö", "o", "ü", "u", "ß", "ss", "é", "e", "è", "e", "ê", "e", "á", "a", "à", "a", "ó", "o", "ò", "o", "í", "i", "ñ", "n", "ç", "c",
		"Ä", "a", "Ö", "o", "Ü", "u", "É", "e")
	return r.Replace(s)
}

// assignIDs gives every node that may become a Hookflow node its id up
// front, so expressions anywhere can refer to nodes further on.
func (c *converter) assignIDs() {
	used := map[string]bool{}
	for _, n := range c.w.Nodes {
		if n.shortType() == "stickyNote" {
			continue
		}
		base := slugID(n.Name)
		id := base
		for i := 2; used[id]; i++ {
			id = fmt.Sprintf("%s_%d", base, i)
		}
		used[id] = true
		c.ids[n.Name] = id
		if path := outputPath(&n); path != "" {
			c.paths[n.Name] = path
		}
	}
}

// outputPath says where n8n's item json is in the output of the Hookflow
// node an n8n node becomes, when it is not the whole output: an HTTP
// Request's json is the answer's body (unless it asks for the full
// response), and http.request outputs status, headers and body.
func outputPath(n *n8nNode) string {
	if n.shortType() != "httpRequest" {
		return ""
	}
	if fullResponse(n.Parameters) {
		return ""
	}
	return ".body"
}

// fullResponse tells whether an HTTP Request node gives the whole answer
// (v1–v2: options.fullResponse; v3 and later: options.response.response).
func fullResponse(p params) bool {
	return p.boolean(false, "options", "fullResponse") || p.boolean(false, "options", "response", "response", "fullResponse")
}

// findTrigger picks the trigger expressions' $('Trigger') and trigger data
// refer to: the first enabled node Hookflow takes as a trigger.
func (c *converter) findTrigger() {
	for _, n := range c.w.Nodes {
		if !n.Disabled && triggerKind(&n) != "" {
			c.trigger = n.Name
			return
		}
	}
}

// markLoops finds the nodes behind each loop node's loop output: their
// expressions see the current element.
func (c *converter) markLoops() {
	for _, n := range c.w.Nodes {
		out, ok := loopOutput(&n)
		if !ok || n.Disabled {
			continue
		}
		outs := c.w.Connections[n.Name]["main"]
		if out >= len(outs) {
			continue
		}
		var stack []string
		for _, t := range outs[out] {
			stack = append(stack, t.Node)
		}
		for len(stack) > 0 {
			name := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if name == n.Name || c.inLoop[name] {
				continue
			}
			c.inLoop[name] = true
			for _, o := range c.w.Connections[name]["main"] {
				for _, t := range o {
					stack = append(stack, t.Node)
				}
			}
		}
	}
}

// loopOutput is the output index of a loop node whose nodes run once per
// element.
func loopOutput(n *n8nNode) (int, bool) {
	switch n.shortType() {
	case "splitInBatches":
		if n.TypeVersion >= 3 {
			return 1, true
		}
		return 0, true
	case "splitOut":
		return 0, true
	}
	return 0, false
}

// note turns a sticky note into one of the canvas's notes.
func (c *converter) note(n *n8nNode, number int) map[string]any {
	text := n.Parameters.str("", "content")
	if r := []rune(text); len(r) > engine.MaxNoteText {
		text = string(r[:engine.MaxNoteText])
		c.remark("sticky note %q was cut to %d characters", n.Name, engine.MaxNoteText)
	}
	x, y := position(n)
	note := map[string]any{
		"id":       fmt.Sprintf("note_%d", number),
		"text":     text,
		"position": map[string]any{"x": x, "y": y},
		"width":    math.Max(0, n.Parameters.num(240, "width")),
		"height":   math.Max(0, n.Parameters.num(160, "height")),
		"color":    noteColor(n.Parameters.num(1, "color")),
	}
	return note
}

// noteColor maps n8n's seven note colours to the five Hookflow draws:
// 1 yellow, 2 brown, 3 red, 4 green, 5 blue, 6 purple, 7 gray.
func noteColor(n float64) string {
	switch int(n) {
	case 3, 6:
		return "pink"
	case 4:
		return "green"
	case 5:
		return "blue"
	case 7:
		return "gray"
	default:
		return "yellow"
	}
}

func position(n *n8nNode) (float64, float64) {
	if len(n.Position) >= 2 {
		return n.Position[0], n.Position[1]
	}
	return 0, 0
}

// convert maps one node, with what every n8n node shares: position,
// retries and error handling.
func (c *converter) convert(n *n8nNode) *converted {
	cv := &converted{src: n, status: Converted}
	if n.Disabled {
		cv.status = NotConverted
		cv.passThrough = true
		cv.reasons = append(cv.reasons, "disabled in n8n: left out, and the nodes before and after it joined, as n8n passes data through a disabled node")
		return cv
	}
	mapper, ok := mapperFor(n.shortType())
	if !ok {
		cv.status = NotConverted
		cv.reasons = append(cv.reasons, fmt.Sprintf("no Hookflow equivalent for %s", n.Type))
		return cv
	}
	b := &nodeBuilder{c: c, n: n, cv: cv, p: n.Parameters, params: map[string]any{}}
	kind, err := mapper(b)
	if err != nil {
		cv.status = NotConverted
		cv.reasons = append(cv.reasons, err.Error())
		return cv
	}
	x, y := position(n)
	ui := map[string]any{"x": x, "y": y, "label": n.Name}
	if n.Notes != "" {
		ui["notes"] = n.Notes
	}
	uiJSON, _ := json.Marshal(ui)
	node := &engine.Node{ID: c.ids[n.Name], Type: kind, UI: uiJSON}
	if len(b.params) > 0 {
		p, err := json.Marshal(b.params)
		if err != nil {
			cv.status = NotConverted
			cv.reasons = append(cv.reasons, fmt.Sprintf("encode params: %v", err))
			return cv
		}
		node.Params = p
	}
	if kind != "" && !strings.HasPrefix(kind, "trigger.") {
		c.common(n, node, cv)
	}
	cv.node = node
	return cv
}

// common maps n8n's node settings: Retry On Fail and On Error.
func (c *converter) common(n *n8nNode, node *engine.Node, cv *converted) {
	if n.RetryOnFail {
		tries := int(n.MaxTries)
		if tries == 0 {
			tries = 3
		}
		tries = max(1, min(tries, 100))
		wait := int(n.WaitBetweenTries)
		if wait == 0 {
			wait = 1000
		}
		node.Retry = &engine.Retry{MaxAttempts: tries, BackoffMS: min(wait, engine.MaxTimeoutMS)}
		cv.caveat("retries back off exponentially from %d ms; n8n waits the same time between tries", wait)
	}
	switch {
	case n.OnError == "continueErrorOutput":
		node.OnError = engine.OnErrorRoute
	case n.OnError == "continueRegularOutput" || n.ContinueOnFail:
		node.OnError = engine.OnErrorContinue
	}
}

// edges turns connections into edges, mapping output indexes to ports,
// joining up disabled nodes and leaving out what cannot be an edge.
func (c *converter) edges() {
	seen := map[engine.Edge]bool{}
	add := func(e engine.Edge) {
		if !seen[e] {
			seen[e] = true
			c.flow.Edges = append(c.flow.Edges, e)
		}
	}
	for _, from := range sortedKeys(c.w.Connections) {
		src := c.byName[from]
		if src == nil || src.node == nil {
			continue
		}
		for _, typ := range sortedKeys(c.w.Connections[from]) {
			outputs := c.w.Connections[from][typ]
			if typ != "main" {
				c.remark("%q has %q connections (n8n's AI sub-nodes): left out", from, typ)
				continue
			}
			for index, targets := range outputs {
				ports, ok := c.portsOf(src, index)
				if !ok {
					if len(targets) > 0 {
						c.remark("output %d of %q has no Hookflow port: its %d connection(s) are left out", index, from, len(targets))
					}
					continue
				}
				for _, t := range targets {
					for _, to := range c.resolve(t.Node, map[string]bool{}) {
						if to.loop && (c.inLoop[from] || to == src) {
							continue // a loop-back, reported by loopBacks
						}
						for _, port := range ports {
							add(engine.Edge{From: src.node.ID, Port: port, To: to.node.ID})
						}
					}
				}
			}
		}
	}
	c.loopBacks()
}

// loopBacks reports the edges n8n draws back into a Loop Over Items node
// to fetch the next batch: Hookflow's foreach runs its body per element
// by itself, so they are left out.
func (c *converter) loopBacks() {
	for _, from := range sortedKeys(c.w.Connections) {
		for _, outputs := range c.w.Connections[from] {
			for _, targets := range outputs {
				for _, t := range targets {
					to := c.byName[t.Node]
					if to != nil && to.loop && c.inLoop[from] {
						c.remark("the connection from %q back to the loop %q is left out: a foreach runs its body once per element by itself", from, t.Node)
					}
				}
			}
		}
	}
}

// resolve follows a connection's target through disabled nodes to the
// converted nodes it reaches.
func (c *converter) resolve(name string, visiting map[string]bool) []*converted {
	cv := c.byName[name]
	if cv == nil || visiting[name] {
		return nil
	}
	if cv.node != nil {
		return []*converted{cv}
	}
	if !cv.passThrough {
		return nil
	}
	visiting[name] = true
	var out []*converted
	if outs := c.w.Connections[name]["main"]; len(outs) > 0 {
		for _, t := range outs[0] {
			out = append(out, c.resolve(t.Node, visiting)...)
		}
	}
	return out
}

// portsOf maps one output index of a converted node to its ports. A node
// routing errors to a port has its error output after its regular ones.
func (c *converter) portsOf(cv *converted, index int) ([]string, bool) {
	regular := 1
	if cv.ports != nil {
		regular = 0
		for i := range cv.ports {
			regular = max(regular, i+1)
		}
	}
	if cv.node.OnError == engine.OnErrorRoute && index == regular {
		return []string{engine.ErrorPort}, true
	}
	if cv.ports == nil {
		if index == 0 {
			return []string{""}, true
		}
		return nil, false
	}
	ports, ok := cv.ports[index]
	return ports, ok && len(ports) > 0
}

// inputName is the n8n node directly upstream, which $json reads.
func (c *converter) inputName(name string) string {
	if in := c.inputs[name]; len(in) > 0 {
		return in[0]
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
