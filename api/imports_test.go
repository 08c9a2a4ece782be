package api_test

import (
	"encoding/json"
	"net/http"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/access"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// partialN8n has a node Hookflow lacks and an expression it cannot
// translate: the import answers, with a flow that is not valid (the
// webhook has its caveat, the path not kept).
const partialN8n = `{"name": "Partial", "nodes": [
	{"name": "Hook", "type": "n8n-nodes-base.webhook", "typeVersion": 2, "position": [0, 0], "parameters": {"httpMethod": "POST", "path": "x"}},
	{"name": "Sheet", "type": "n8n-nodes-base.googleSheets", "typeVersion": 4, "position": [200, 0], "parameters": {}},
	{"name": "S", "type": "n8n-nodes-base.set", "typeVersion": 1, "position": [200, 200],
		"parameters": {"values": {"string": [{"name": "a", "value": "={{ $getWorkflowStaticData('global').x }}"}]}}}],
	"connections": {"Hook": {"main": [[{"node": "Sheet", "type": "main", "index": 0}, {"node": "S", "type": "main", "index": 0}]]}}}`

func TestImportN8n(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		workflow, err := os.ReadFile("../n8nimport/testdata/n8n/0232_Respondtowebhook_Stickynote_Create_Webhook.json")
		require.NoError(t, err)

		t.Run("a workflow converts and saves nothing", func(t *testing.T) {
			status, body := f.do("POST", "/api/v1/import/n8n", string(workflow))
			require.Equal(t, http.StatusOK, status, "%v", body)
			report := body["report"].(map[string]any)
			assert.Equal(t, true, report["valid"])
			assert.Equal(t, map[string]int{"converted": 2, "caveats": 1}, statuses(report))
			assert.Len(t, report["expressions"], 2)
			assert.Equal(t, []any{}, report["credentials"])
			_, list := f.do("GET", "/api/v1/flows", "")
			assert.Empty(t, list["flows"], "nothing is saved")

			// The flow is what POST /flows takes.
			doc, err := json.Marshal(body["flow"])
			require.NoError(t, err)
			status, created := f.do("POST", "/api/v1/flows", string(doc))
			require.Equal(t, http.StatusCreated, status, "%v", created)
			assert.Len(t, created["nodes"], 3)
		})

		t.Run("a partial import reports what is missing", func(t *testing.T) {
			status, body := f.do("POST", "/api/v1/import/n8n", partialN8n)
			require.Equal(t, http.StatusOK, status, "%v", body)
			report := body["report"].(map[string]any)
			assert.Equal(t, map[string]int{"caveats": 2, "not_converted": 1}, statuses(report))
			expr := report["expressions"].([]any)[0].(map[string]any)
			assert.Equal(t, false, expr["translated"])
			assert.NotEmpty(t, expr["reason"])
			assert.Equal(t, false, report["valid"])
			problem := report["problems"].([]any)[0].(map[string]any)
			assert.Equal(t, "params.fields.a", problem["field"])
		})

		t.Run("what is not an n8n workflow is refused with why", func(t *testing.T) {
			for body, want := range map[string]string{
				`{"nodes": [`:              "not JSON",
				`[1, 2]`:                   "not a JSON object",
				`{"name": "x"}`:            `not an n8n workflow: it has no "nodes" array`,
				`{"nodes": [{"name": 1}]}`: "not an n8n workflow",
			} {
				status, got := f.do("POST", "/api/v1/import/n8n", body)
				assert.Equal(t, http.StatusBadRequest, status, body)
				assert.Contains(t, got["error"], want, body)
			}
		})
	})
}

// statuses counts a report's nodes by status.
func statuses(report map[string]any) map[string]int {
	out := map[string]int{}
	for _, n := range report["nodes"].([]any) {
		out[n.(map[string]any)["status"].(string)]++
	}
	return out
}

func TestImportN8nNeedsFlowsWrite(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, storetest.Open(t, store.DialectSQLite))
	viewer := tm.member("viewer@example.com", access.Viewer)
	got := viewer.call("POST", "/api/v1/import/n8n", partialN8n)
	assert.Equal(t, http.StatusForbidden, got.status, got.raw)
	editor := tm.member("editor@example.com", access.Editor)
	assert.Equal(t, http.StatusOK, editor.call("POST", "/api/v1/import/n8n", partialN8n).status)
}
