// Package engine holds the flow model and its validation, the compiled plan a
// run executes, and the services that save flows and run them.
package engine

import (
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/hookflow/hookflow/nodes"
)

// Limits on a flow document.
const (
	// MaxFlowBytes is the largest flow document accepted.
	MaxFlowBytes = 1 << 20
	// MaxNodes is the most nodes one flow may hold.
	MaxNodes = 500
	// MaxEdges is the most edges one flow may hold.
	MaxEdges = 2000
	// MaxTimeoutMS is the longest timeout_ms, backoff_ms or max_backoff_ms: a day.
	MaxTimeoutMS = 24 * 60 * 60 * 1000
	// MaxConcurrency is the largest settings.concurrency.
	MaxConcurrency = 10000
	// MaxNotes is the most sticky notes (ui.notes) one flow may hold.
	MaxNotes = 500
	// MaxNoteText is the longest text of one sticky note, in characters.
	MaxNoteText = 20000
)

// On-error modes of a node.
const (
	OnErrorFail     = "fail"
	OnErrorContinue = "continue"
	OnErrorRoute    = "route"
)

// ErrorPort is the port a node with on_error "route" activates when it fails.
const ErrorPort = "error"

// Flow is a flow document (contract v1): what users save, import and export.
type Flow struct {
	Name     string    `json:"name"`
	Settings *Settings `json:"settings,omitempty"`
	Nodes    []Node    `json:"nodes"`
	Edges    []Edge    `json:"edges"`
	// UI holds the editor's own data about the flow as a whole, such as
	// its sticky notes (ui.notes); runs never read it.
	UI json.RawMessage `json:"ui,omitempty"`
}

// Settings are a flow's own options, beside its nodes.
type Settings struct {
	// Concurrency is the most runs of the flow in flight at once, counted
	// across every process sharing the database; further runs wait in the
	// queue, in order. Absent: no limit.
	Concurrency int `json:"concurrency,omitempty"`
	// ErrorFlow is the id of a flow started whenever a run of this flow
	// ends failed, with what failed as its trigger.input.
	ErrorFlow string `json:"error_flow,omitempty"`
	// TimeoutMS bounds a whole run, waits included: a run still going
	// that long after it started fails.
	TimeoutMS int64 `json:"timeout_ms,omitempty"`
}

// Node is one node of a flow document.
type Node struct {
	ID     string          `json:"id"`
	Type   string          `json:"type"`
	Params json.RawMessage `json:"params,omitempty"`
	// UI holds editor-only data: position, label, notes, and the output
	// pinned in the editor (ui.pin), which test runs use instead of
	// running the node.
	UI        json.RawMessage `json:"ui,omitempty"`
	Retry     *Retry          `json:"retry,omitempty"`
	TimeoutMS int             `json:"timeout_ms,omitempty"`
	OnError   string          `json:"on_error,omitempty"`
}

// Retry is a node's retry policy: exponential backoff with jitter.
type Retry struct {
	MaxAttempts  int `json:"max_attempts"`
	BackoffMS    int `json:"backoff_ms,omitempty"`
	MaxBackoffMS int `json:"max_backoff_ms,omitempty"`
}

// Edge connects a node's output port to another node. An empty Port is the
// unnamed output of a kind without ports.
type Edge struct {
	From string `json:"from"`
	Port string `json:"port,omitempty"`
	To   string `json:"to"`
}

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// flowSchema is the JSON Schema of a flow document. Params are checked
// separately, against their kind's own schema.
func flowSchema() map[string]any {
	duration := func(minimum int) map[string]any {
		return map[string]any{"type": "integer", "minimum": minimum, "maximum": MaxTimeoutMS}
	}
	return map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"title":                "Hookflow flow",
		"type":                 "object",
		"required":             []any{"name", "nodes"},
		"additionalProperties": false,
		"properties": map[string]any{
			"name":     map[string]any{"type": "string", "minLength": 1, "maxLength": 200},
			"settings": map[string]any{"$ref": "#/$defs/settings"},
			"nodes":    map[string]any{"type": "array", "maxItems": MaxNodes, "items": map[string]any{"$ref": "#/$defs/node"}},
			"edges":    map[string]any{"type": "array", "maxItems": MaxEdges, "items": map[string]any{"$ref": "#/$defs/edge"}},
			"ui":       map[string]any{"$ref": "#/$defs/ui"},
		},
		"$defs": map[string]any{
			"settings": map[string]any{
				"type":                 "object",
				"additionalProperties": false,
				"properties": map[string]any{
					"concurrency": map[string]any{"type": "integer", "minimum": 1, "maximum": MaxConcurrency},
					"error_flow":  map[string]any{"type": "string", "minLength": 1, "maxLength": 64},
					"timeout_ms":  map[string]any{"type": "integer", "minimum": 1000, "maximum": nodes.MaxWait.Milliseconds()},
				},
			},
			"node": map[string]any{
				"type":                 "object",
				"required":             []any{"id", "type"},
				"additionalProperties": false,
				"properties": map[string]any{
					"id":   map[string]any{"type": "string", "pattern": idPattern.String(), "maxLength": 64},
					"type": map[string]any{"type": "string", "minLength": 1},
					// Each kind checks its own params; the editor keeps what it likes in ui.
					"params": map[string]any{"type": "object", "additionalProperties": true},
					"ui": map[string]any{
						"type":                 "object",
						"additionalProperties": true,
						"properties":           map[string]any{"pin": map[string]any{"$ref": "#/$defs/pin"}},
					},
					"retry": map[string]any{
						"type":                 "object",
						"required":             []any{"max_attempts"},
						"additionalProperties": false,
						"properties": map[string]any{
							"max_attempts":   map[string]any{"type": "integer", "minimum": 1, "maximum": 100},
							"backoff_ms":     duration(0),
							"max_backoff_ms": duration(0),
						},
					},
					"timeout_ms": duration(1),
					"on_error":   map[string]any{"type": "string", "enum": []any{OnErrorFail, OnErrorContinue, OnErrorRoute}},
				},
			},
			// The editor keeps what it likes in ui; the notes it draws on
			// the canvas are checked, so every editor can rely on their shape.
			"ui": map[string]any{
				"type":                 "object",
				"additionalProperties": true,
				"properties": map[string]any{
					"notes": map[string]any{"type": "array", "maxItems": MaxNotes, "items": map[string]any{"$ref": "#/$defs/note"}},
				},
			},
			"note": map[string]any{
				"type":                 "object",
				"required":             []any{"id", "text", "position"},
				"additionalProperties": true,
				"properties": map[string]any{
					"id":   map[string]any{"type": "string", "minLength": 1, "maxLength": 64},
					"text": map[string]any{"type": "string", "maxLength": MaxNoteText},
					"position": map[string]any{
						"type":     "object",
						"required": []any{"x", "y"},
						"properties": map[string]any{
							"x": map[string]any{"type": "number"},
							"y": map[string]any{"type": "number"},
						},
					},
					"width":  map[string]any{"type": "number", "minimum": 0},
					"height": map[string]any{"type": "number", "minimum": 0},
					"color":  map[string]any{"type": "string", "enum": []any{"yellow", "blue", "green", "pink", "gray"}},
				},
			},
			// A node's output pinned in the editor: test runs use it instead
			// of running the node (see Plan.TestOptions).
			"pin": map[string]any{
				"type":                 "object",
				"required":             []any{"output"},
				"additionalProperties": false,
				"properties": map[string]any{
					"output": map[string]any{"description": "The output the node gives in test runs, instead of running."},
					"port":   map[string]any{"type": "string", "minLength": 1, "description": "The port it activates; only for kinds with ports."},
				},
			},
			"edge": map[string]any{
				"type":                 "object",
				"required":             []any{"from", "to"},
				"additionalProperties": false,
				"properties": map[string]any{
					"from": map[string]any{"type": "string", "minLength": 1},
					"port": map[string]any{"type": "string"},
					"to":   map[string]any{"type": "string", "minLength": 1},
				},
			},
		},
	}
}

// FlowSchema returns the JSON Schema of a flow document, for the API
// description.
func FlowSchema() map[string]any { return flowSchema() }

// Encode renders the flow document as compact JSON, the form it is stored in.
func (f *Flow) Encode() ([]byte, error) {
	data, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("encode flow: %w", err)
	}
	return data, nil
}
