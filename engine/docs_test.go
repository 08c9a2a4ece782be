package engine

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// jsonBlock matches a fenced json block of a Markdown guide.
var jsonBlock = regexp.MustCompile("(?s)```json\n(.*?)```")

// TestGuidesExampleFlowsAreValid compiles every whole flow document shown
// in the guides, so an example cannot drift from what the server accepts.
func TestGuidesExampleFlowsAreValid(t *testing.T) {
	t.Parallel()
	reg := testRegistry(t)
	for _, guide := range []string{"../docs/actions.md", "../docs/triggers.md"} {
		text, err := os.ReadFile(guide)
		require.NoError(t, err)
		found := 0
		for _, m := range jsonBlock.FindAllStringSubmatch(string(text), -1) {
			doc := m[1]
			if !strings.Contains(doc, `"nodes"`) || !strings.Contains(doc, `"edges"`) {
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
