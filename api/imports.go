package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/n8nimport"
)

// importJSON is a converted workflow: the flow document, for the editor to
// save with POST /flows once the user has read the report.
type importJSON struct {
	Flow   engine.Flow      `json:"flow"`
	Report n8nimport.Report `json:"report"`
}

// importN8n converts an n8n workflow export and saves nothing. A body that
// is not an n8n workflow is a request the server cannot read, as a
// malformed flow is: 400 with why.
func (s *server) importN8n(c *fiber.Ctx) error {
	res, err := n8nimport.Import(c.Body())
	if err != nil {
		return errorf(fiber.StatusBadRequest, "%v", err)
	}
	return c.JSON(importJSON{Flow: res.Flow, Report: res.Report})
}
