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

const flowDocumentRef = "#/components/schemas/FlowDocument"

func openAPIDocument(reg *nodes.Registry) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(openAPIBase, &doc); err != nil {
		return nil, fmt.Errorf("decode openapi.json: %w", err)
	}
	flow := engine.FlowSchema()
	delete(flow, "$schema")
	flow = rebaseRefs(flow, flowDocumentRef).(map[string]any)

	// The node type is one of the kinds this server knows.
	var kinds []any
	for _, k := range reg.Kinds() {
		kinds = append(kinds, k.Spec.Kind)
	}
	nodeType := flow["$defs"].(map[string]any)["node"].(map[string]any)["properties"].(map[string]any)["type"].(map[string]any)
	nodeType["enum"] = kinds

	doc["components"].(map[string]any)["schemas"].(map[string]any)["FlowDocument"] = flow
	data, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode openapi document: %w", err)
	}
	return data, nil
}

// rebaseRefs rewrites a schema's local references ("#/$defs/x") to point
// inside the document it is embedded at.
func rebaseRefs(v any, base string) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, val := range v {
			if ref, ok := val.(string); ok && k == "$ref" && strings.HasPrefix(ref, "#/") {
				out[k] = base + ref[1:]
				continue
			}
			out[k] = rebaseRefs(val, base)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, val := range v {
			out[i] = rebaseRefs(val, base)
		}
		return out
	}
	return v
}

func (s *server) getOpenAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(s.openAPI)
}
