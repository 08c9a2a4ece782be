package api

import (
	"encoding/json"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/engine/expression"
)

type evaluateRequest struct {
	Expression *string         `json:"expression"`
	Template   *string         `json:"template"`
	Scope      json.RawMessage `json:"scope"`
}

// evaluate previews an expression or a template against sample data, for
// the editor's live preview. A source that does not compile or fails on the
// data is the user's to fix: 422 with the problem on its field.
func (s *server) evaluate(c *fiber.Ctx) error {
	var req evaluateRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	var src engine.PreviewSource
	switch {
	case req.Expression != nil && req.Template != nil:
		return errorf(fiber.StatusBadRequest, "give expression or template, not both")
	case req.Expression != nil:
		src = engine.PreviewSource{Source: *req.Expression}
	case req.Template != nil:
		src = engine.PreviewSource{Source: *req.Template, Template: true}
	default:
		return errorf(fiber.StatusBadRequest, "give expression (expr source) or template (text with {{ }} placeholders)")
	}
	sample, err := decodeSample(req.Scope)
	if err != nil {
		return errorf(fiber.StatusBadRequest, "scope: %v", err)
	}
	preview, err := s.engine.Preview(c.UserContext(), src, sample)
	if err != nil {
		return err
	}
	return c.JSON(preview)
}

// decodeSample reads the scope as expressions see data at run time: whole
// numbers stay exact.
func decodeSample(raw json.RawMessage) (engine.Sample, error) {
	var sample engine.Sample
	if len(raw) == 0 || string(raw) == "null" {
		return sample, nil
	}
	v, err := expression.DecodeJSON(raw)
	if err != nil {
		return sample, err
	}
	scope, ok := v.(map[string]any)
	if !ok {
		return sample, fmt.Errorf("is an object of trigger, steps, input, item and index")
	}
	object := func(name string, value any) (map[string]any, error) {
		m, isObject := value.(map[string]any)
		if value != nil && !isObject {
			return nil, fmt.Errorf("%s is an object", name)
		}
		return m, nil
	}
	for name, value := range scope {
		switch name {
		case "trigger":
			sample.Trigger, err = object(name, value)
		case "steps":
			sample.Steps, err = object(name, value)
		case "input":
			sample.Input = value
		case "item":
			sample.Item = value
		case "index":
			n, isInt := value.(int)
			if value != nil && !isInt {
				err = fmt.Errorf("index is a whole number")
			}
			sample.Index = n
		default:
			err = fmt.Errorf("%q is not known; the scope has trigger, steps, input, item and index", name)
		}
		if err != nil {
			return sample, err
		}
	}
	return sample, nil
}
