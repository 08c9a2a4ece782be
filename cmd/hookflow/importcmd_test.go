package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestImportN8n(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := []string{"--data-dir", filepath.Join(dir, "data"), "--log-level", "warn"}
	write := func(name, content string) string {
		file := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(file, []byte(content), 0o600))
		return file
	}
	good := write("good.json", `{"name": "Hello", "nodes": [
		{"name": "Webhook", "type": "n8n-nodes-base.webhook", "typeVersion": 2, "position": [0, 0], "parameters": {"path": "hello", "httpMethod": "POST"}},
		{"name": "Set", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "position": [200, 0],
		 "parameters": {"assignments": {"assignments": [{"name": "greeting", "type": "string", "value": "hi"}]}}}],
		"connections": {"Webhook": {"main": [[{"node": "Set", "type": "main", "index": 0}]]}}}`)

	code, out, _ := runCLI(t, "", append([]string{"import", "n8n", "--activate", good}, data...)...)
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "nodes: 1 converted, 1 with caveats, 0 not converted")
	assert.Contains(t, out, "the flow is valid")
	assert.Regexp(t, regexp.MustCompile(`saved: \S+ version 1 \(active\)`), out)

	partial := write("partial.json", `{"name": "Sheets", "nodes": [
		{"name": "Start", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "position": [0, 0], "parameters": {}},
		{"name": "Sheet", "type": "n8n-nodes-base.googleSheets", "typeVersion": 4, "position": [200, 0], "parameters": {}}],
		"connections": {"Start": {"main": [[{"node": "Sheet", "type": "main", "index": 0}]]}}}`)
	code, out, errOut := runCLI(t, "", append([]string{"import", "n8n", "--activate", partial}, data...)...)
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "no Hookflow equivalent for n8n-nodes-base.googleSheets")
	assert.Contains(t, errOut, "--activate refused")

	code, out, _ = runCLI(t, "", append([]string{"import", "n8n", partial}, data...)...)
	require.Equal(t, 0, code, out)
	assert.Regexp(t, `saved: \S+ version 1 \(inactive\)`, out)

	invalid := write("invalid.json", `{"name": "No trigger", "nodes": [
		{"name": "Set", "type": "n8n-nodes-base.noOp", "typeVersion": 1, "position": [0, 0], "parameters": {}}], "connections": {}}`)
	code, out, errOut = runCLI(t, "", append([]string{"import", "n8n", invalid}, data...)...)
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "the flow is not valid")
	assert.Contains(t, errOut, "not saved")

	code, _, errOut = runCLI(t, "", append([]string{"import", "n8n", write("bad.json", `[1, 2]`)}, data...)...)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "import n8n workflow: not a JSON object")
}
