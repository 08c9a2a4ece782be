package api

import (
	"encoding/json"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/hookflow/hookflow/nodes"
)

// nodeTypeJSON is one entry of the node catalogue: the spec the editor draws
// its form from, and the JSON Schema params are validated against.
type nodeTypeJSON struct {
	nodes.Spec
	Schema map[string]any `json:"schema"`
}

// nodeTypesJSON renders the catalogue once: the registry does not change
// while the server runs.
func nodeTypesJSON(reg *nodes.Registry) ([]byte, error) {
	kinds := reg.Kinds()
	out := make([]nodeTypeJSON, len(kinds))
	for i, k := range kinds {
		out[i] = nodeTypeJSON{Spec: k.Spec, Schema: k.Spec.JSONSchema()}
	}
	data, err := json.Marshal(map[string]any{"node_types": out})
	if err != nil {
		return nil, fmt.Errorf("encode node types: %w", err)
	}
	return data, nil
}

func (s *server) listNodeTypes(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(s.nodeTypes)
}
