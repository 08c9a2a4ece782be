package api

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/nodes"
)

// openAPIBase is the hand-written API description. The flow document schema
// is filled in from the engine's own, so the two cannot drift apart.
//
//go:embed openapi.json
var openAPIBase []byte

// flowSchemaNames are the names the flow document schema's own definitions
// take among the document's schemas.
var flowSchemaNames = map[string]string{"node": "FlowNode", "edge": "FlowEdge", "settings": "FlowSettings",
	"ui": "FlowUI", "note": "FlowNote", "pin": "NodePin"}

// OpenAPIDocument is the API description as served at
// /api/v1/openapi.json: the hand-written one, with the flow document schema
// and the node kinds of reg filled in. The editor's API types are generated
// from it (make api-types).
func OpenAPIDocument(reg *nodes.Registry) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(openAPIBase, &doc); err != nil {
		return nil, fmt.Errorf("decode openapi.json: %w", err)
	}
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	flow := rebaseRefs(engine.FlowSchema()).(map[string]any)
	delete(flow, "$schema")
	// The flow schema's definitions become schemas of their own, so
	// generated clients name them (FlowNode, FlowEdge, FlowSettings).
	for name, def := range flow["$defs"].(map[string]any) {
		schemas[flowSchemaNames[name]] = def
	}
	delete(flow, "$defs")
	schemas["FlowDocument"] = flow

	// The node type is one of the kinds this server knows.
	var kinds []any
	for _, k := range reg.Kinds() {
		kinds = append(kinds, k.Spec.Kind)
	}
	nodeType := schemas["FlowNode"].(map[string]any)["properties"].(map[string]any)["type"].(map[string]any)
	nodeType["enum"] = kinds
	data, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode openapi document: %w", err)
	}
	return data, nil
}

// rebaseRefs rewrites the flow schema's references to its definitions
// ("#/$defs/node") to the schemas they become ("#/components/schemas/FlowNode").
func rebaseRefs(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, val := range v {
			if ref, ok := val.(string); ok && k == "$ref" && strings.HasPrefix(ref, "#/$defs/") {
				out[k] = "#/components/schemas/" + flowSchemaNames[strings.TrimPrefix(ref, "#/$defs/")]
				continue
			}
			out[k] = rebaseRefs(val)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, val := range v {
			out[i] = rebaseRefs(val)
		}
		return out
	}
	return v
}

func (s *server) getOpenAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(s.openAPI)
}
