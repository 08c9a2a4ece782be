package n8nimport

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// workflow is an n8n workflow export, as n8n's editor downloads it and its
// API returns it. Only what the import reads is declared.
type workflow struct {
	Name        string                `json:"name"`
	Nodes       []n8nNode             `json:"nodes"`
	Connections map[string]connection `json:"connections"`
	Settings    map[string]any        `json:"settings"`
	// PinData holds the items pinned on nodes in n8n's editor, by node
	// name; each is decoded on its own, so one that is malformed costs
	// only itself.
	PinData map[string]json.RawMessage `json:"pinData"`
}

// n8nNode is one node of an n8n workflow.
type n8nNode struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Type        string          `json:"type"`
	TypeVersion float64         `json:"typeVersion"`
	Parameters  params          `json:"parameters"`
	Position    []float64       `json:"position"`
	Credentials json.RawMessage `json:"credentials"`
	Disabled    bool            `json:"disabled"`
	Notes       string          `json:"notes"`

	RetryOnFail      bool    `json:"retryOnFail"`
	MaxTries         float64 `json:"maxTries"`
	WaitBetweenTries float64 `json:"waitBetweenTries"`
	ContinueOnFail   bool    `json:"continueOnFail"`
	OnError          string  `json:"onError"`
}

// connection is one node's outgoing connections: per connection type
// ("main" is the data flow; AI nodes use others), per output index, the
// targets.
type connection map[string][][]target

type target struct {
	Node  string `json:"node"`
	Type  string `json:"type"`
	Index int    `json:"index"`
}

// shortType is a node type without its package: "webhook" for
// "n8n-nodes-base.webhook". Community and LangChain nodes keep their
// package, since no Hookflow kind matches them anyway.
func (n *n8nNode) shortType() string {
	if t, ok := strings.CutPrefix(n.Type, "n8n-nodes-base."); ok {
		return t
	}
	return n.Type
}

// credential is the n8n credential of a given type the node names. n8n
// exports hold {"type": {"id", "name"}}; older ones hold {"type": "name"}.
func (n *n8nNode) credentials() map[string]string {
	out := map[string]string{}
	if len(n.Credentials) == 0 {
		return out
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(n.Credentials, &raw); err != nil {
		return out
	}
	for typ, v := range raw {
		var name string
		if err := json.Unmarshal(v, &name); err == nil {
			out[typ] = name
			continue
		}
		var obj struct {
			Name string `json:"name"`
			ID   any    `json:"id"`
		}
		if err := json.Unmarshal(v, &obj); err == nil {
			if obj.Name == "" && obj.ID != nil {
				obj.Name = fmt.Sprint(obj.ID)
			}
			out[typ] = obj.Name
		}
	}
	return out
}

// parse decodes an n8n workflow and checks that it is one: n8n's own
// import refuses the same documents.
func parse(data []byte) (*workflow, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, fmt.Errorf("not JSON: %w (at byte %d)", err, syn.Offset)
		}
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if _, ok := probe["nodes"]; !ok {
		return nil, errors.New("not an n8n workflow: it has no \"nodes\" array")
	}
	var w workflow
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("not an n8n workflow: %w", err)
	}
	if w.Nodes == nil {
		return nil, errors.New("not an n8n workflow: \"nodes\" is null")
	}
	seen := map[string]bool{}
	for i := range w.Nodes {
		n := &w.Nodes[i]
		switch {
		case n.Name == "":
			return nil, fmt.Errorf("not an n8n workflow: nodes[%d] has no name", i)
		case n.Type == "":
			return nil, fmt.Errorf("not an n8n workflow: node %q (nodes[%d]) has no type", n.Name, i)
		case seen[n.Name]:
			return nil, fmt.Errorf("not an n8n workflow: two nodes are named %q; connections name nodes, so names must be unique", n.Name)
		}
		seen[n.Name] = true
		if n.Parameters == nil {
			n.Parameters = params{}
		}
	}
	return &w, nil
}

// params are an n8n node's parameters, read with defaults: n8n leaves out
// every parameter that has its default value.
type params map[string]any

// get follows a path of keys; nil where it ends early.
func (p params) get(path ...string) any {
	var cur any = map[string]any(p)
	for _, k := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return locator(cur)
}

// has reports whether the path is set.
func (p params) has(path ...string) bool { return p.get(path...) != nil }

// str reads a string parameter, or def when unset. Numbers and booleans
// are written as text, as n8n would coerce them.
func (p params) str(def string, path ...string) string {
	switch v := p.get(path...).(type) {
	case nil:
		return def
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}

// num reads a numeric parameter; a numeric text counts too.
func (p params) num(def float64, path ...string) float64 {
	switch v := p.get(path...).(type) {
	case float64:
		return v
	case string:
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			return f
		}
	}
	return def
}

// boolean reads a boolean parameter.
func (p params) boolean(def bool, path ...string) bool {
	if v, ok := p.get(path...).(bool); ok {
		return v
	}
	return def
}

// list reads a list parameter.
func (p params) list(path ...string) []any {
	v, _ := p.get(path...).([]any)
	return v
}

// object reads an object parameter as params.
func (p params) object(path ...string) params {
	v, _ := p.get(path...).(map[string]any)
	return params(v)
}

// objects reads a list of objects, skipping anything else.
func (p params) objects(path ...string) []params {
	var out []params
	for _, v := range p.list(path...) {
		if m, ok := v.(map[string]any); ok {
			out = append(out, params(m))
		}
	}
	return out
}

// locator unwraps n8n's resource locator ({"__rl": true, "value": …,
// "mode": …}), which newer node versions use for tables, channels and
// workflows; the value is what the older versions held directly.
func locator(v any) any {
	if m, ok := v.(map[string]any); ok {
		if rl, _ := m["__rl"].(bool); rl {
			return m["value"]
		}
	}
	return v
}
