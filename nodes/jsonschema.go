package nodes

import (
	"fmt"

	"github.com/hookflow/hookflow/engine/expression"
)

// JSONSchema derives the JSON Schema (draft 2020-12) of the kind's params from
// its fields. The registry validates params against exactly this schema, and
// GET /api/v1/node-types serves it.
func (s *Spec) JSONSchema() map[string]any {
	schema := objectSchema(s.Fields)
	schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	schema["title"] = s.Title
	schema["description"] = s.Summary
	return schema
}

func objectSchema(fields []Field) map[string]any {
	properties := make(map[string]any, len(fields))
	required := []string{}
	for _, f := range fields {
		properties[f.Name] = fieldSchema(f)
		if f.Required && f.Default == nil {
			required = append(required, f.Name)
		}
	}
	schema := map[string]any{
		"type":                 "object",
		"properties":           properties,
		"additionalProperties": false,
	}
	if len(required) > 0 {
		schema["required"] = required
	}
	return schema
}

func fieldSchema(f Field) map[string]any {
	var s map[string]any
	switch f.Type {
	case TypeString, TypeTemplate:
		s = map[string]any{"type": "string"}
		bounds(s, f, "minLength", "maxLength")
	case TypeExpression:
		s = map[string]any{"type": "string", "minLength": 1, "maxLength": expression.MaxSourceLength}
	case TypeCode:
		s = map[string]any{"type": "string", "minLength": 1, "maxLength": MaxCodeLength}
	case TypeSelect:
		values := make([]any, len(f.Options))
		for i, o := range f.Options {
			values[i] = o.Value
		}
		s = map[string]any{"type": "string", "enum": values}
	case TypeNumber:
		s = map[string]any{"type": "number"}
		bounds(s, f, "minimum", "maximum")
	case TypeInteger, TypeDuration:
		s = map[string]any{"type": "integer"}
		bounds(s, f, "minimum", "maximum")
	case TypeBoolean:
		s = map[string]any{"type": "boolean"}
	case TypeCron, TypeCredential, TypeFlow:
		s = map[string]any{"type": "string", "minLength": 1}
	case TypeJSON:
		s = map[string]any{}
	case TypeMap:
		s = map[string]any{"type": "object", "additionalProperties": fieldSchema(*f.Items)}
		bounds(s, f, "minProperties", "maxProperties")
	case TypeList:
		s = map[string]any{"type": "array", "items": fieldSchema(*f.Items)}
		bounds(s, f, "minItems", "maxItems")
	case TypeObject:
		s = objectSchema(f.Fields)
	default:
		panic(fmt.Sprintf("field %q: unknown type %q", f.Name, f.Type))
	}
	if f.Label != "" {
		s["title"] = f.Label
	}
	if f.Help != "" {
		s["description"] = f.Help
	}
	if f.Default != nil {
		s["default"] = f.Default
	}
	return s
}

func bounds(s map[string]any, f Field, minKey, maxKey string) {
	if f.Min != nil {
		s[minKey] = *f.Min
	}
	if f.Max != nil {
		s[maxKey] = *f.Max
	}
}
