package schema

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckReportsEveryViolationWithItsPath(t *testing.T) {
	t.Parallel()
	s, err := Compile(map[string]any{
		"type":                 "object",
		"additionalProperties": false,
		"required":             []any{"name"},
		"properties": map[string]any{
			"name":  map[string]any{"type": "string", "minLength": 1},
			"count": map[string]any{"type": "integer", "minimum": 1, "maximum": 10},
			"mode":  map[string]any{"type": "string", "enum": []any{"a", "b"}},
			"cases": map[string]any{"type": "array", "maxItems": 2, "items": map[string]any{
				"type": "object", "properties": map[string]any{"when": map[string]any{"type": "string"}},
			}},
			"labels": map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}},
		},
	})
	require.NoError(t, err)
	value, err := Decode([]byte(`{"count": 11, "mode": "c", "extra": 1,
		"cases": [{"when": "x"}, {"when": 3}, {}], "labels": {"0": 5}}`))
	require.NoError(t, err)
	got := s.Check(value)
	want := []Violation{
		{Field: "name", Message: "is required"},
		{Field: "extra", Message: "is not a known field"},
		{Field: "count", Message: "must be at most 10"},
		{Field: "mode", Message: "must be one of: a, b"},
		{Field: "cases", Message: "must hold at most 2 items (it holds 3)"},
		{Field: "cases[1].when", Message: "must be a string, not number"},
		{Field: "labels.0", Message: "must be a string, not number"},
	}
	assert.ElementsMatch(t, want, got)
}

func TestCheckPassesValidValues(t *testing.T) {
	t.Parallel()
	s, err := Compile(map[string]any{"type": "object", "properties": map[string]any{"n": map[string]any{"type": "number"}}})
	require.NoError(t, err)
	value, err := Decode([]byte(`{"n": 1.5}`))
	require.NoError(t, err)
	assert.Empty(t, s.Check(value))
}

func TestJoin(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "a", Join("", "a"))
	assert.Equal(t, "a", Join("a", ""))
	assert.Equal(t, "a.b", Join("a", "b"))
	assert.Equal(t, "a[0]", Join("a", "[0]"))
}

// TestCompileRefusesExternalReferences holds schemas to themselves: a user's
// schema that points at a file is refused, and reads nothing.
func TestCompileRefusesExternalReferences(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "other.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"type": "string"}`), 0o600))
	for _, ref := range []string{"file://" + file, "https://example.com/schema.json", "other.json"} {
		_, err := Compile(map[string]any{"$ref": ref})
		require.Error(t, err, ref)
		assert.Contains(t, err.Error(), "may only refer to itself", ref)
	}
	s, err := Compile(map[string]any{
		"$defs": map[string]any{"n": map[string]any{"type": "number"}},
		"type":  "object", "properties": map[string]any{"total": map[string]any{"$ref": "#/$defs/n"}},
	})
	require.NoError(t, err, "a reference inside the document resolves")
	value, err := Decode([]byte(`{"total": "x"}`))
	require.NoError(t, err)
	assert.Equal(t, []Violation{{Field: "total", Message: "must be a number, not string"}}, s.Check(value))
	_, err = Compile(map[string]any{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "string"})
	require.NoError(t, err, "the meta-schemas are built in")
}
