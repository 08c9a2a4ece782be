package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// syncBuffer is a bytes.Buffer safe to read while the server writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runCLI runs a command line to its end and returns its exit code and output.
func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// server is `hookflow serve` running in-process on a loopback port.
type server struct {
	stdout *syncBuffer
	stop   context.CancelFunc
	done   chan int
	url    string
}

var listening = regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`)

func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{stdout: &syncBuffer{}, stop: cancel, done: make(chan int, 1)}
	go func() {
		s.done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--log-level", "warn"}, args...),
			strings.NewReader(""), s.stdout, io.Discard)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := listening.FindStringSubmatch(s.stdout.String()); m != nil {
			s.url = "http://" + m[1]
			return s
		}
		select {
		case code := <-s.done:
			t.Fatalf("server exited with %d: %s", code, s.stdout.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	t.Fatalf("server did not start: %s", s.stdout.String())
	return nil
}

// shutdown stops the server as SIGTERM would and returns its exit code.
func (s *server) shutdown(t *testing.T) int {
	t.Helper()
	s.stop()
	select {
	case code := <-s.done:
		return code
	case <-time.After(40 * time.Second):
		t.Fatal("server did not stop")
		return -1
	}
}

// ownerToken makes the owner through the setup link the first start
// printed, as a person would in the editor, and then an API token of
// theirs.
func (s *server) ownerToken(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`Create the owner account \(link valid once, for 7 days\): (\S+)/join#(hf_\S+)`).FindStringSubmatch(s.stdout.String())
	require.NotNil(t, m, "the first start prints the setup link: %s", s.stdout.String())
	assert.Equal(t, s.url, m[1], "the link opens the editor")
	res, err := http.Post(s.url+"/api/v1/invitation/accept", "application/json",
		strings.NewReader(`{"token": "`+m[2]+`", "email": "owner@example.com", "password": "a long owner password"}`))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusCreated, res.StatusCode)
	var cookie string
	for _, c := range res.Cookies() {
		if c.Name == api.SessionCookie {
			cookie = c.Value
		}
	}
	req, err := http.NewRequest("POST", s.url+"/api/v1/tokens", strings.NewReader(`{"name": "test"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: cookie})
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var made struct{ Token string }
	require.NoError(t, json.NewDecoder(res.Body).Decode(&made))
	require.Equal(t, http.StatusCreated, res.StatusCode)
	return made.Token
}

func (s *server) request(t *testing.T, token, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	return res.StatusCode, out
}

const testFlow = `{"name": "Orders", "nodes": [
	{"id": "hook", "type": "trigger.webhook"},
	{"id": "total", "type": "transform", "params": {"fields": {"cents": "trigger.body.total * 100"}}}],
	"edges": [{"from": "hook", "to": "total"}]}`

// TestServeEndToEnd runs the real server on each database: the first start
// prints the link that makes the owner, whose token saves flows through
// HTTP, and everything is still there after a restart.
func TestServeEndToEnd(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			dbArgs := []string{"--data-dir", t.TempDir()}
			if opts := storetest.Options(t, dialect); dialect == store.DialectPostgres {
				dbArgs = append(dbArgs, "--database-url", opts.URL)
			}
			s := startServer(t, dbArgs...)
			token := s.ownerToken(t)
			assert.Contains(t, s.stdout.String(), "Editor:  "+s.url+"/")

			status, _ := s.request(t, "", "GET", "/api/v1/flows", "")
			assert.Equal(t, http.StatusUnauthorized, status)
			status, body := s.request(t, token, "POST", "/api/v1/flows", testFlow)
			require.Equal(t, http.StatusCreated, status, "%v", body)
			id := body["id"].(string)
			url := body["triggers"].([]any)[0].(map[string]any)["url"].(string)
			assert.True(t, strings.HasPrefix(url, s.url+"/hooks/"), "trigger URLs default to the listen address: %s", url)
			status, _ = s.request(t, token, "PUT", "/api/v1/flows/"+id, testFlow)
			require.Equal(t, http.StatusOK, status)
			assert.Equal(t, 0, s.shutdown(t), "a signalled server exits 0")

			s = startServer(t, dbArgs...)
			defer s.shutdown(t)
			assert.NotContains(t, s.stdout.String(), "hf_", "once there is an owner, no setup link")
			status, body = s.request(t, token, "GET", "/api/v1/flows/"+id, "")
			require.Equal(t, http.StatusOK, status)
			assert.Equal(t, float64(2), body["version"])
			status, body = s.request(t, token, "GET", "/api/v1/flows/"+id+"/versions", "")
			require.Equal(t, http.StatusOK, status)
			assert.Len(t, body["versions"], 2)
		})
	}
}

func TestFlowCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "flow.json")
	require.NoError(t, os.WriteFile(file, []byte(testFlow), 0o600))
	data := []string{"--data-dir", filepath.Join(dir, "data"), "--log-level", "warn"}

	code, out, _ := runCLI(t, "", "flow", "validate", file)
	assert.Equal(t, 0, code)
	assert.Contains(t, out, `valid: "Orders", 2 nodes, 1 edges`)

	code, out, _ = runCLI(t, `{"name": "x", "nodes": [{"id": "a", "type": "ghost"}], "edges": [{"from": "a", "to": "b"}]}`, "flow", "validate", "-")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, `node a, type: unknown node type "ghost"`)
	assert.Contains(t, out, `edges[0].to: "b" is not a node of this flow`)
	assert.Contains(t, out, "nodes: a flow needs exactly one trigger node")

	code, _, errOut := runCLI(t, "", "flow", "validate", filepath.Join(dir, "missing.json"))
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "read FILE: open")

	code, out, _ = runCLI(t, "", append([]string{"flow", "import", file}, data...)...)
	require.Equal(t, 0, code, out)
	m := regexp.MustCompile(`^(\S+) version 1\n$`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	id := m[1]

	// The editor's data, the flow's notes and a node's pinned output,
	// goes out with the document as it came in.
	renamed := strings.Replace(testFlow, "Orders", "Orders v2", 1)
	renamed = strings.Replace(renamed, `"type": "transform",`, `"type": "transform", "ui": {"pin": {"output": {"cents": 1}}},`, 1)
	renamed = strings.TrimSuffix(renamed, "}") + `, "ui": {"notes": [{"id": "note_1", "text": "why", "position": {"x": 0, "y": 0}}]}}`
	code, out, _ = runCLI(t, renamed, append(append([]string{"flow", "import", "--update", id}, data...), "-")...)
	require.Equal(t, 0, code, out)
	assert.Equal(t, id+" version 2\n", out)

	code, out, _ = runCLI(t, "", append(append([]string{"flow", "export"}, data...), id)...)
	require.Equal(t, 0, code, out)
	assert.JSONEq(t, renamed, out, "export prints the document as imported")

	code, out, _ = runCLI(t, "", append(append([]string{"flow", "export", "--version", "1"}, data...), id)...)
	require.Equal(t, 0, code, out)
	assert.JSONEq(t, testFlow, out)

	code, _, errOut = runCLI(t, "", append(append([]string{"flow", "export"}, data...), "nope")...)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "not found")

	code, out, _ = runCLI(t, "", append([]string{"migrate"}, data...)...)
	assert.Equal(t, 0, code)
	assert.Regexp(t, `^sqlite schema at version \d+ \(applied now: 0\)\n$`, out)

	code, out, _ = runCLI(t, "", append([]string{"token", "reset"}, data...)...)
	assert.Equal(t, 0, code)
	assert.Regexp(t, `^hf_[A-Z2-7]{26}\n$`, out)
}

func TestVersionAndHelp(t *testing.T) {
	t.Parallel()
	code, out, _ := runCLI(t, "", "version")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "hookflow dev")

	code, out, _ = runCLI(t, "", "openapi")
	require.Equal(t, 0, code)
	var doc struct {
		OpenAPI    string `json:"openapi"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &doc), "openapi prints the document")
	assert.Equal(t, "3.1.0", doc.OpenAPI)
	assert.Contains(t, string(doc.Components.Schemas["FlowNode"]), `"http.request"`, "with the node kinds filled in, as served")

	code, _, errOut := runCLI(t, "", "serve", "--help")
	assert.Equal(t, 0, code)
	for _, name := range []string{"HOOKFLOW_ADDR", "HOOKFLOW_DATA_DIR", "HOOKFLOW_DATABASE_URL", "HOOKFLOW_ADMIN_TOKEN",
		"HOOKFLOW_SECRET_KEY", "HOOKFLOW_PUBLIC_URL", "HOOKFLOW_MAX_IN_FLIGHT", "HOOKFLOW_MAX_BODY_BYTES",
		"HOOKFLOW_ALLOW_PRIVATE_NETWORKS", "HOOKFLOW_RUN_RETENTION", "HOOKFLOW_RUNS_PER_FLOW", "HOOKFLOW_SHUTDOWN_GRACE",
		"HOOKFLOW_DATABASE_MAX_CONNS"} {
		assert.Contains(t, errOut, name, "serve --help documents %s", name)
	}
	assert.Contains(t, errOut, "-addr :8080", "and shows defaults")
}

func TestServeRefusesBadSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--addr", "nonsense"}, "HOOKFLOW_ADDR"},
		{[]string{"--secret-key", "c2hvcnQ="}, "HOOKFLOW_SECRET_KEY: must be base64 of 32 bytes"},
		{[]string{"--public-url", "ftp://x"}, "HOOKFLOW_PUBLIC_URL"},
		{[]string{"--max-in-flight", "0"}, "HOOKFLOW_MAX_IN_FLIGHT"},
		{[]string{"--in-flight-memory", "0"}, "HOOKFLOW_IN_FLIGHT_MEMORY"},
		{[]string{"--database-max-conns", "2"}, "HOOKFLOW_DATABASE_MAX_CONNS: must be at least 4"},
		{[]string{"--log-level", "loud"}, "HOOKFLOW_LOG_LEVEL"},
		{[]string{"--no-such-flag"}, "flag provided but not defined"},
		{[]string{"extra-arg"}, "serve takes no arguments"},
	}
	for _, tt := range tests {
		code, _, errOut := runCLI(t, "", append([]string{"serve", "--data-dir", t.TempDir()}, tt.args...)...)
		assert.Equal(t, 2, code, "%v", tt.args)
		assert.Contains(t, errOut, tt.want, "%v", tt.args)
	}
}

// TestSettingsFromEnvironment cannot run in parallel: it sets variables.
func TestSettingsFromEnvironment(t *testing.T) {
	t.Setenv("HOOKFLOW_ADMIN_TOKEN", "hf_from_the_environment")
	t.Setenv("HOOKFLOW_PUBLIC_URL", "https://automation.example.org")
	t.Setenv("HOOKFLOW_DATA_DIR", t.TempDir())
	s := startServer(t)
	defer s.shutdown(t)
	assert.Contains(t, s.stdout.String(), "Admin token: the value of HOOKFLOW_ADMIN_TOKEN")
	status, body := s.request(t, "hf_from_the_environment", "POST", "/api/v1/flows", testFlow)
	require.Equal(t, http.StatusCreated, status)
	url := body["triggers"].([]any)[0].(map[string]any)["url"].(string)
	assert.True(t, strings.HasPrefix(url, "https://automation.example.org/hooks/"), url)
}

func TestRunCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	flow := filepath.Join(dir, "flow.json")
	require.NoError(t, os.WriteFile(flow, []byte(`{"name": "orders", "nodes": [
		{"id": "hook", "type": "trigger.webhook"},
		{"id": "lines", "type": "foreach", "params": {"items": "trigger.body.lines"}},
		{"id": "cents", "type": "transform", "params": {"fields": {"cents": "item * 100", "sig": "trigger.headers['x-sig']"}}},
		{"id": "total", "type": "transform", "params": {"fields": {"sum": "sum(map(steps.lines, .cents))"}}}],
		"edges": [{"from": "hook", "to": "lines"}, {"from": "lines", "port": "each", "to": "cents"}, {"from": "lines", "port": "done", "to": "total"}]}`), 0o600))
	payload := filepath.Join(dir, "payload.json")
	require.NoError(t, os.WriteFile(payload, []byte(`{"lines": [1.5, 2]}`), 0o600))

	code, out, _ := runCLI(t, "", "run", "-payload", payload, "-header", "X-Sig: s1", flow)
	require.Equal(t, 0, code, out)
	assert.Regexp(t, `^run \S+ succeeded in `, out)
	assert.Regexp(t, `cents\[0\]\s+succeeded\s+1\s+.*\{"cents":150,"sig":"s1"\}`, out)
	assert.Regexp(t, `total\s+succeeded\s+1\s+.*\{"sum":350\}`, out)

	code, out, _ = runCLI(t, `{"lines": "not a list"}`, "run", "-payload", "-", flow)
	assert.Equal(t, 1, code, "a failed run exits 1")
	assert.Contains(t, out, "failed")
	assert.Contains(t, out, `gave string, not a list`)

	code, out, _ = runCLI(t, "", "run", "-v", "-payload", payload, flow)
	require.Equal(t, 0, code)
	assert.Contains(t, out, "== total (attempt 1, succeeded)\n{\n  \"sum\": 350\n}")

	// Flags may follow the flow's file, as people type them.
	code, out, _ = runCLI(t, "", "run", flow, "--payload", payload, "-v", "--header", "X-Sig: s1")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "== total (attempt 1, succeeded)\n{\n  \"sum\": 350\n}")

	invalid := filepath.Join(dir, "invalid.json")
	require.NoError(t, os.WriteFile(invalid, []byte(`{"name": "x", "nodes": [{"id": "hook", "type": "trigger.manual"}, {"id": "a", "type": "ghost"}]}`), 0o600))
	code, out, errOut := runCLI(t, "", "run", invalid)
	assert.Equal(t, 2, code, "an invalid flow exits 2")
	assert.Contains(t, out, `node a, type: unknown node type "ghost"`)
	assert.Contains(t, errOut, "the flow is invalid")

	code, _, errOut = runCLI(t, "not json", "run", "-payload", "-", flow)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "payload - is not JSON")
	code, _, _ = runCLI(t, "", "run", "-header", "no-colon", flow)
	assert.Equal(t, 2, code)
	code, _, errOut = runCLI(t, "", "run", flow, "--no-such-flag")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "flag provided but not defined: -no-such-flag")
	code, _, errOut = runCLI(t, "", "run", "--", "-v")
	assert.Equal(t, 2, code, "after -- every word is an argument")
	assert.Contains(t, errOut, "-v: no such file")

	// A run by hand applies no webhook verification, and this temporary
	// database holds no credentials: a flow that names one still runs.
	verified := filepath.Join(dir, "verified.json")
	require.NoError(t, os.WriteFile(verified, []byte(`{"name": "signed", "nodes": [
		{"id": "hook", "type": "trigger.webhook", "params": {"verify": {"scheme": "github", "credential": "gh"}}},
		{"id": "ref", "type": "transform", "params": {"fields": {"ref": "trigger.body.ref"}}}],
		"edges": [{"from": "hook", "to": "ref"}]}`), 0o600))
	code, out, _ = runCLI(t, `{"ref": "main"}`, "run", verified, "-payload", "-")
	require.Equal(t, 0, code, out)
	assert.Regexp(t, `ref\s+succeeded\s+1\s+.*\{"ref":"main"\}`, out)
}

func TestFlagsFirst(t *testing.T) {
	t.Parallel()
	root := rootCommand(strings.NewReader(""), io.Discard, io.Discard)
	tests := []struct {
		args, want []string
	}{
		{[]string{"run", "f.json", "--payload", "p.json", "-v"}, []string{"run", "--payload", "p.json", "-v", "--", "f.json"}},
		{[]string{"run", "-header", "A: b", "f.json", "-header=C: d"}, []string{"run", "-header", "A: b", "-header=C: d", "--", "f.json"}},
		{[]string{"flow", "import", "f.json", "--update", "id1", "--data-dir", "d"}, []string{"flow", "import", "--update", "id1", "--data-dir", "d", "--", "f.json"}},
		{[]string{"run", "--", "-v"}, []string{"run", "--", "-v"}},
		{[]string{"run", "-", "-payload", "p.json"}, []string{"run", "-payload", "p.json", "--", "-"}},
		{[]string{"--addr", ":9090"}, []string{"--addr", ":9090"}},
		{[]string{"serve", "extra", "--addr", ":9090"}, []string{"serve", "--addr", ":9090", "--", "extra"}},
		{[]string{"run", "f.json", "run"}, []string{"run", "--", "f.json", "run"}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, flagsFirst(root, tt.args), "%q", tt.args)
	}
}

// TestUserAdd makes a user from the console, who then logs in; refusals
// exit 2 saying why.
func TestUserAdd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, out, errOut := runCLI(t, "a long console password\n", "user", "add", "--email", "Ops@Example.com", "--role", "admin", "--data-dir", dir)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "created ops@example.com (admin)")

	file := filepath.Join(t.TempDir(), "password")
	require.NoError(t, os.WriteFile(file, []byte("short\n"), 0o600))
	code, _, errOut = runCLI(t, "", "user", "add", "--email", "new@example.com", "--password-file", file, "--data-dir", dir)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "password: must have at least 12 characters")
	code, _, errOut = runCLI(t, "a long console password\n", "user", "add", "--email", "ops@example.com", "--data-dir", dir)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "a user with the email ops@example.com exists")
	code, _, errOut = runCLI(t, "a long console password\n", "user", "add", "--email", "x@example.com", "--role", "root", "--data-dir", dir)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `"root" is not a role`)

	s := startServer(t, "--data-dir", dir)
	defer s.shutdown(t)
	assert.NotContains(t, s.stdout.String(), "Create the owner account", "there is a user: no setup link")
	res, err := http.Post(s.url+"/api/v1/session", "application/json", strings.NewReader(`{"email": "ops@example.com", "password": "a long console password"}`))
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode, "the user logs in")
}
