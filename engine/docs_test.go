package engine

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/nodes"
)

// jsonBlock matches a fenced json block of a Markdown guide.
var jsonBlock = regexp.MustCompile("(?s)```json\n(.*?)```")

// TestGuidesExampleFlowsAreValid compiles every whole flow document shown
// in the guides, so an example cannot drift from what the server accepts.
func TestGuidesExampleFlowsAreValid(t *testing.T) {
	t.Parallel()
	reg := testRegistry(t)
	for _, guide := range []string{"../docs/actions.md", "../docs/triggers.md", "../docs/flows.md"} {
		text, err := os.ReadFile(guide)
		require.NoError(t, err)
		found := 0
		for _, m := range jsonBlock.FindAllStringSubmatch(string(text), -1) {
			doc := m[1]
			if !strings.Contains(doc, `"nodes"`) || !strings.Contains(doc, `"edges"`) || strings.Contains(doc, "[...]") {
				continue // A fragment, such as one node.
			}
			if !strings.Contains(doc, `"name"`) {
				doc = strings.Replace(doc, "{", `{"name": "example", `, 1)
			}
			found++
			_, err := Compile(reg, []byte(doc))
			require.NoError(t, err, "%s:\n%s", guide, doc)
		}
		require.NotZero(t, found, "%s shows example flows", guide)
	}
}

// TestEditorExampleFlowsAreValid compiles the example flows the editor
// offers on an empty flows page.
func TestEditorExampleFlowsAreValid(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../frontend/src/examples.json")
	require.NoError(t, err)
	var examples []struct {
		Title string          `json:"title"`
		Flow  json.RawMessage `json:"flow"`
	}
	require.NoError(t, json.Unmarshal(data, &examples))
	require.Len(t, examples, 5, "GitHub push → Discord, Stripe payment → Slack, Shopify order → Postgres, approval via Slack link, shared error alert")
	reg := testRegistry(t)
	for _, e := range examples {
		_, err := Compile(reg, e.Flow)
		require.NoError(t, err, e.Title)
	}
}

// TestEveryKindIsDocumented finds each registered kind named in a heading of
// the guides, so a new kind cannot ship without its section.
func TestEveryKindIsDocumented(t *testing.T) {
	t.Parallel()
	var headings []string
	for _, guide := range []string{"../docs/flows.md", "../docs/actions.md", "../docs/triggers.md"} {
		text, err := os.ReadFile(guide)
		require.NoError(t, err)
		for _, line := range strings.Split(string(text), "\n") {
			if strings.HasPrefix(line, "#") {
				headings = append(headings, line)
			}
		}
	}
	reg := nodes.NewRegistry()
	nodes.RegisterBuiltins(reg)
	for _, k := range reg.Kinds() {
		found := false
		for _, h := range headings {
			found = found || strings.Contains(h, "`"+k.Spec.Kind+"`") || strings.TrimLeft(h, "# ") == k.Spec.Kind
		}
		require.True(t, found, "no heading of docs/flows.md, actions.md or triggers.md names `%s`", k.Spec.Kind)
	}
}
