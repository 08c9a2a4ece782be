package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readmeSection returns the shell blocks of one README section, in order.
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	text := string(data)
	start := strings.Index(text, "\n"+heading+"\n")
	require.NotEqual(t, -1, start, "README has no %q", heading)
	section := text[start+len(heading)+2:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	var script strings.Builder
	for _, block := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(section, -1) {
		script.WriteString(block[1])
	}
	require.NotEmpty(t, script.String(), "the section has shell blocks")
	return script.String()
}

// TestReadmeCurlSection runs "A first flow with curl" as a reader would,
// top to bottom against a real server, and checks what it left behind.
func TestReadmeCurlSection(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (make test installs it): %v", tool, err)
		}
	}
	s := startServer(t, "--data-dir", t.TempDir())
	defer s.shutdown(t)
	token := s.ownerToken(t)

	script := readmeSection(t, "## A first flow with curl")
	for _, line := range []string{"HOOKFLOW=http://localhost:8080\n", "TOKEN=hf_…   # yours, from the editor's Tokens page\n"} {
		require.Contains(t, script, line, "the section sets its server and token so")
	}
	script = strings.Replace(script, "HOOKFLOW=http://localhost:8080\n", "HOOKFLOW="+s.url+"\n", 1)
	script = strings.Replace(script, "TOKEN=hf_…   # yours, from the editor's Tokens page\n", "TOKEN="+token+"\n", 1)
	// Any answer of 400 or more stops the script, with the answer shown.
	script = "set -euo pipefail\ncurl() { command curl --fail-with-body \"$@\"; }\n" + script

	dir := t.TempDir()
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "the README's curl section fails:\n%s", out)
	assert.Contains(t, string(out), `"usd": 25`, "the test run's output is shown")

	saved, err := os.ReadFile(filepath.Join(dir, "saved.json"))
	require.NoError(t, err)
	var flow struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(saved, &flow))
	status, body := s.request(t, token, "GET", "/api/v1/flows/"+flow.ID, "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, float64(2), body["version"], "the PUT made version 2")
	assert.Equal(t, true, body["active"])

	// The test run, the sender's run and two replays, all succeeded: the
	// replays on version 2 and on version 1.
	var runs []any
	deadline := time.Now().Add(20 * time.Second)
	for {
		status, body = s.request(t, token, "GET", "/api/v1/runs?flow_id="+flow.ID+"&status=succeeded", "")
		require.Equal(t, http.StatusOK, status)
		runs = body["runs"].([]any)
		if len(runs) == 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.Len(t, runs, 4, "%v", runs)
	versions := map[string][]float64{}
	for _, r := range runs {
		run := r.(map[string]any)
		kind := run["trigger"].(map[string]any)["type"].(string)
		versions[kind] = append(versions[kind], run["flow_version"].(float64))
	}
	assert.Equal(t, []float64{1}, versions["test"])
	assert.Equal(t, []float64{2}, versions["webhook"])
	assert.ElementsMatch(t, []float64{1, 2}, versions["replay"])
}
