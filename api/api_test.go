package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/access"
	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/engine/ingress"
	"github.com/hookflow/hookflow/engine/metrics"
	"github.com/hookflow/hookflow/engine/vault"
	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

const (
	testToken = "hf_test_token_0123456789"
	publicURL = "https://hooks.example.com"
)

// fixture is a real fiber app over a real database.
type fixture struct {
	t     *testing.T
	app   *fiber.App
	store store.Store
}

func newApp(t *testing.T, st store.Store) *fiber.App {
	t.Helper()
	return buildApp(t, st, metrics.New(), true)
}

// buildApp is newApp counting in m, with the engine started or left idle
// (queued runs stay queued).
func buildApp(t *testing.T, st store.Store, m *metrics.Metrics, start bool, configure ...func(*api.Options)) *fiber.App {
	t.Helper()
	if m == nil {
		m = metrics.New()
	}
	require.NoError(t, m.CollectQueue(st, nil))
	reg := nodes.NewRegistry()
	nodes.RegisterBuiltins(reg)
	sealer, err := vault.New(bytes.Repeat([]byte{42}, vault.KeySize))
	require.NoError(t, err)
	credentials := engine.NewCredentials(st, reg, sealer)
	// Actions reach the tests' fake services on loopback: no SSRF guard.
	services := &nodes.Services{Credentials: credentials, HTTP: &http.Client{Timeout: 10 * time.Second, Transport: m.Transport(nil)},
		Databases: nodes.NewDatabases(nil)}
	t.Cleanup(func() { _ = services.Databases.Close() })
	runner := engine.New(engine.Options{Store: st, Registry: reg, PollInterval: 50 * time.Millisecond, Services: services, Metrics: m})
	if start {
		require.NoError(t, runner.Start())
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			runner.Stop(ctx)
		})
	}
	flows := engine.NewFlows(st, reg)
	hooks := ingress.New(ingress.Options{Store: st, Engine: runner, Credentials: credentials, PublicURL: publicURL})
	flows.OnChange(hooks.Forget)
	opts := api.Options{Store: st, Registry: reg, Engine: runner, Flows: flows, Credentials: credentials,
		Ingress: hooks, PublicURL: publicURL + "/", MaxBodyBytes: 2 << 20, Metrics: m}
	for _, c := range configure {
		c(&opts)
	}
	app, err := api.New(opts)
	require.NoError(t, err)
	return app
}

func setup(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	require.NoError(t, api.EnsureAdminToken(context.Background(), db, testToken))
	return &fixture{t: t, app: newApp(t, db), store: db}
}

// contract is the OpenAPI document the server serves, compiled: the test
// servers all run the built-in node kinds.
func (f *fixture) contract() *contract {
	f.t.Helper()
	reg := nodes.NewRegistry()
	nodes.RegisterBuiltins(reg)
	served, err := api.OpenAPIDocument(reg)
	require.NoError(f.t, err)
	return contractOf(f.t, served)
}

// credential stores a credential through the API.
func (f *fixture) credential(name, typ, data string) {
	f.t.Helper()
	status, body := f.do("POST", "/api/v1/credentials", `{"name": "`+name+`", "type": "`+typ+`", "data": `+data+`}`)
	require.Equal(f.t, http.StatusCreated, status, "%v", body)
}

// do sends a request with the admin token and decodes the JSON answer.
func (f *fixture) do(method, path, body string) (int, map[string]any) {
	f.t.Helper()
	return f.doAs(testToken, method, path, body)
}

func (f *fixture) doAs(token, method, path, body string) (int, map[string]any) {
	f.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := f.app.Test(req, -1)
	require.NoError(f.t, err)
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	require.NoError(f.t, err)
	f.contract().check(f.t, method, path, res.StatusCode, data)
	if res.StatusCode == http.StatusNoContent {
		require.Empty(f.t, data)
		return res.StatusCode, nil
	}
	require.Equal(f.t, "application/json", strings.Split(res.Header.Get("Content-Type"), ";")[0], "%s %s: %s", method, path, data)
	var out map[string]any
	require.NoError(f.t, json.Unmarshal(data, &out), "%s %s: %s", method, path, data)
	return res.StatusCode, out
}

const validFlow = `{
  "name": "Stripe payment to Slack",
  "nodes": [
    {"id": "hook", "type": "trigger.webhook", "params": {"verify": {"scheme": "stripe", "credential": "stripe-signing"}}},
    {"id": "amount", "type": "transform", "params": {"fields": {"usd": "trigger.body.data.object.amount / 100"}}, "ui": {"x": 120, "y": 40}}
  ],
  "edges": [{"from": "hook", "to": "amount"}]
}`

func TestFlowAPI(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)

		status, body := f.doAs("", "GET", "/api/v1/flows", "")
		assert.Equal(t, http.StatusUnauthorized, status)
		assert.NotEmpty(t, body["error"])

		status, body = f.do("POST", "/api/v1/flows", `{"name": "bad", "nodes": [
			{"id": "hook", "type": "trigger.webhook"}, {"id": "a", "type": "transform"},
			{"id": "a", "type": "transform"}, {"id": "b", "type": "no.such.kind"}],
			"edges": [{"from": "hook", "to": "a"}, {"from": "a", "to": "ghost"}]}`)
		assert.Equal(t, http.StatusUnprocessableEntity, status)
		assert.Equal(t, []any{
			map[string]any{"node": "a", "field": "id", "message": `id "a" is used by more than one node`},
			map[string]any{"node": "b", "field": "type", "message": `unknown node type "no.such.kind"`},
			map[string]any{"node": "", "field": "edges[1].to", "message": `"ghost" is not a node of this flow`},
		}, body["problems"])
		assert.Equal(t, "flow is invalid: 3 problems", body["error"])

		// A webhook verified with a credential not of a type the scheme
		// takes would answer 401 to every sender.
		f.credential("stripe-signing", "slack", `{"webhook_url": "https://hooks.slack.com/services/T0/B0/x"}`)
		status, body = f.do("POST", "/api/v1/flows", validFlow)
		assert.Equal(t, http.StatusUnprocessableEntity, status)
		assert.Equal(t, []any{map[string]any{"node": "hook", "field": "params.verify.credential",
			"message": `credential "stripe-signing" is of type slack; this field takes secret or http_basic`}}, body["problems"])
		status, body = f.do("PUT", "/api/v1/credentials/stripe-signing", `{"type": "secret", "data": {"secret": "whsec_x"}}`)
		require.Equal(t, http.StatusOK, status, "%v", body)

		status, body = f.do("POST", "/api/v1/flows", validFlow)
		require.Equal(t, http.StatusCreated, status, "%v", body)
		id := body["id"].(string)
		assert.Equal(t, float64(1), body["version"])
		assert.Equal(t, false, body["active"])
		assert.Equal(t, "Stripe payment to Slack", body["name"])
		triggers := body["triggers"].([]any)
		require.Len(t, triggers, 1)
		trigger := triggers[0].(map[string]any)
		assert.Equal(t, "hook", trigger["node_id"])
		assert.Equal(t, "trigger.webhook", trigger["type"])
		url := trigger["url"].(string)
		assert.Regexp(t, regexp.MustCompile(`^https://hooks\.example\.com/hooks/[a-z2-7]{26}$`), url)
		assert.Equal(t, map[string]any{"x": float64(120), "y": float64(40)},
			body["nodes"].([]any)[1].(map[string]any)["ui"], "editor data is kept")

		updated := strings.Replace(validFlow, "Stripe payment to Slack", "Renamed", 1)
		status, body = f.do("PUT", "/api/v1/flows/"+id, updated)
		require.Equal(t, http.StatusOK, status, "%v", body)
		assert.Equal(t, float64(2), body["version"])
		assert.Equal(t, "Renamed", body["name"])
		assert.Equal(t, url, body["triggers"].([]any)[0].(map[string]any)["url"], "the trigger URL survives edits")

		status, body = f.do("GET", "/api/v1/flows/"+id+"/versions", "")
		require.Equal(t, http.StatusOK, status)
		versions := body["versions"].([]any)
		require.Len(t, versions, 2)
		assert.Equal(t, float64(2), versions[0].(map[string]any)["version"])
		assert.Equal(t, "Stripe payment to Slack", versions[1].(map[string]any)["name"])

		status, body = f.do("GET", "/api/v1/flows/"+id+"/versions/1", "")
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, "Stripe payment to Slack", body["name"])
		assert.Len(t, body["nodes"], 2)

		status, body = f.do("GET", "/api/v1/flows/"+id+"/versions/9", "")
		assert.Equal(t, http.StatusNotFound, status)
		assert.Contains(t, body["error"], "has no version 9")
		status, _ = f.do("GET", "/api/v1/flows/"+id+"/versions/first", "")
		assert.Equal(t, http.StatusBadRequest, status)

		// A flow that names a credential not made yet is saved, as a draft,
		// but not switched on; nor is an active flow saved so.
		status, _ = f.do("DELETE", "/api/v1/credentials/stripe-signing", "")
		require.Equal(t, http.StatusNoContent, status)
		status, draft := f.do("POST", "/api/v1/flows", validFlow)
		require.Equal(t, http.StatusCreated, status, "a draft may name a credential still to be made: %v", draft)
		status, _ = f.do("DELETE", "/api/v1/flows/"+draft["id"].(string), "")
		require.Equal(t, http.StatusNoContent, status)
		missing := []any{map[string]any{"node": "hook", "field": "params.verify.credential",
			"message": `no credential is named "stripe-signing"; create it under Credentials first`}}
		status, body = f.do("POST", "/api/v1/flows/"+id+"/activate", "")
		assert.Equal(t, http.StatusUnprocessableEntity, status)
		assert.Equal(t, missing, body["problems"])
		f.credential("stripe-signing", "secret", `{"secret": "whsec_x"}`)

		status, body = f.do("POST", "/api/v1/flows/"+id+"/activate", "")
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, true, body["active"])

		status, _ = f.do("DELETE", "/api/v1/credentials/stripe-signing", "")
		require.Equal(t, http.StatusConflict, status, "an active flow's credential is kept")
		status, refused := f.do("PUT", "/api/v1/flows/"+id, strings.ReplaceAll(updated, `"stripe-signing"`, `"stripe-signing-2"`))
		assert.Equal(t, http.StatusUnprocessableEntity, status, "an active flow is not saved naming a missing credential")
		assert.Equal(t, []any{map[string]any{"node": "hook", "field": "params.verify.credential",
			"message": `no credential is named "stripe-signing-2"; create it under Credentials first`}}, refused["problems"])
		assert.Equal(t, float64(2), body["version"], "activation makes no version")

		status, body = f.do("GET", "/api/v1/flows", "")
		require.Equal(t, http.StatusOK, status)
		list := body["flows"].([]any)
		require.Len(t, list, 1)
		summary := list[0].(map[string]any)
		assert.Equal(t, true, summary["active"])
		assert.NotContains(t, summary, "nodes", "lists leave the graph out")
		assert.Len(t, summary["triggers"], 1)
		assert.Equal(t, map[string]any{"last_run": nil, "runs_24h": float64(0)}, summary["stats"], "no runs yet")

		status, run := f.do("POST", "/api/v1/flows/"+id+"/test", `{"payload": {"amount": 1}}`)
		require.Equal(t, http.StatusOK, status, "%v", run)
		_, body = f.do("GET", "/api/v1/flows", "")
		stats := body["flows"].([]any)[0].(map[string]any)["stats"].(map[string]any)
		assert.Equal(t, float64(1), stats["runs_24h"])
		assert.Equal(t, run["id"], stats["last_run"].(map[string]any)["id"])
		assert.Equal(t, run["status"], stats["last_run"].(map[string]any)["status"])

		status, body = f.do("POST", "/api/v1/flows/"+id+"/deactivate", "")
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, false, body["active"])

		status, body = f.do("GET", "/api/v1/flows/01900000-0000-7000-8000-000000000000", "")
		assert.Equal(t, http.StatusNotFound, status)
		assert.Equal(t, `flow "01900000-0000-7000-8000-000000000000" not found`, body["error"])

		status, body = f.do("POST", "/api/v1/flows", `{"name": "x", "nodes": [`)
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Contains(t, body["error"], "not valid JSON")
		status, _ = f.do("PUT", "/api/v1/flows/"+id, `nope`)
		assert.Equal(t, http.StatusBadRequest, status)

		status, _ = f.do("DELETE", "/api/v1/flows/"+id, "")
		assert.Equal(t, http.StatusNoContent, status)
		status, _ = f.do("GET", "/api/v1/flows/"+id, "")
		assert.Equal(t, http.StatusNotFound, status)
		status, _ = f.do("DELETE", "/api/v1/flows/"+id, "")
		assert.Equal(t, http.StatusNotFound, status)
	})
}

func TestUnknownFlowOnEveryFlowRoute(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		f.credential("stripe-signing", "secret", `{"secret": "whsec_x"}`)
		const missing = "/api/v1/flows/does-not-exist"
		for _, r := range []struct{ method, path, body string }{
			{"GET", missing, ""},
			{"PUT", missing, validFlow},
			{"DELETE", missing, ""},
			{"POST", missing + "/activate", ""},
			{"POST", missing + "/deactivate", ""},
			{"GET", missing + "/versions", ""},
			{"GET", missing + "/versions/1", ""},
		} {
			status, body := f.do(r.method, r.path, r.body)
			assert.Equal(t, http.StatusNotFound, status, "%s %s", r.method, r.path)
			assert.Contains(t, body["error"], "does-not-exist", "%s %s", r.method, r.path)
		}
	})
}

func TestEverythingSurvivesARestart(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			opts := storetest.Options(t, dialect)
			first, err := store.Open(ctx, opts)
			require.NoError(t, err)
			_, err = first.Migrate(ctx)
			require.NoError(t, err)
			generated, err := api.ResetAdminToken(ctx, first)
			require.NoError(t, err)
			f := &fixture{t: t, app: newApp(t, first), store: first}
			status, _ := f.doAs(generated, "POST", "/api/v1/credentials", `{"name": "stripe-signing", "type": "secret", "data": {"secret": "whsec_x"}}`)
			require.Equal(t, http.StatusCreated, status)
			status, body := f.doAs(generated, "POST", "/api/v1/flows", validFlow)
			require.Equal(t, http.StatusCreated, status)
			id := body["id"].(string)
			url := body["triggers"].([]any)[0].(map[string]any)["url"]
			status, _ = f.doAs(generated, "POST", "/api/v1/flows/"+id+"/activate", "")
			require.Equal(t, http.StatusOK, status)
			require.NoError(t, first.Close())

			second, err := store.Open(ctx, opts)
			require.NoError(t, err)
			defer second.Close()
			require.NoError(t, api.EnsureAdminToken(ctx, second, ""), "a start without a token keeps the stored one")
			f = &fixture{t: t, app: newApp(t, second), store: second}
			status, body = f.doAs(generated, "GET", "/api/v1/flows/"+id, "")
			require.Equal(t, http.StatusOK, status, "the first token still works")
			assert.Equal(t, true, body["active"])
			assert.Equal(t, url, body["triggers"].([]any)[0].(map[string]any)["url"])
		})
	}
}

// TestEveryAPIRouteNeedsAToken walks every route registered under /api/v1 and
// proves it refuses a request without a token, with a wrong one, and with
// another scheme.
func TestEveryAPIRouteNeedsAToken(t *testing.T) {
	t.Parallel()
	f := setup(t, storetest.Open(t, store.DialectSQLite))
	param := regexp.MustCompile(`:[a-z]+\??`)
	public := map[string]bool{}
	for _, r := range api.RouteRules() {
		public[r.Method+" "+r.Path] = r.Public
	}
	checked := 0
	for _, route := range f.app.GetRoutes(true) {
		if !strings.HasPrefix(route.Path, "/api/v1") || route.Method == "HEAD" {
			continue
		}
		if public[route.Method+" "+route.Path] {
			continue // Logging in and joining are how one authenticates: their own tests.
		}
		method := route.Method
		if method == "USE" {
			method = "GET"
		}
		path := param.ReplaceAllString(route.Path, "1")
		for _, auth := range []string{"", "Bearer ", "Bearer wrong-token", "Basic " + testToken, testToken} {
			if auth == "" && method == "GET" && path == "/api/v1/session" {
				continue // No credentials at all: no one is logged in (TestSessionWithoutCredentials).
			}
			req := httptest.NewRequest(method, path, strings.NewReader(validFlow))
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			res, err := f.app.Test(req, -1)
			require.NoError(t, err)
			data, _ := io.ReadAll(res.Body)
			res.Body.Close()
			assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "%s %s with %q: %s", method, path, auth, data)
			assert.Contains(t, string(data), `"error"`)
			assert.Contains(t, res.Header.Get("WWW-Authenticate"), "Bearer")
		}
		checked++
	}
	assert.GreaterOrEqual(t, checked, 11, "every API route was walked")
}

// TestEveryRouteHasARule: each route of the API is one of the table's, so
// it needs what the table says; a route added outside the table fails here.
func TestEveryRouteHasARule(t *testing.T) {
	t.Parallel()
	f := setup(t, storetest.Open(t, store.DialectSQLite))
	ruled := map[string]bool{}
	for _, r := range api.RouteRules() {
		key := r.Method + " " + r.Path
		assert.False(t, ruled[key], "%s has one rule", key)
		ruled[key] = true
	}
	routed := map[string]bool{}
	for _, route := range f.app.GetRoutes(true) {
		if route.Method == "HEAD" && strings.HasPrefix(route.Path, "/api/v1") {
			// Each GET answers HEAD too, under the same rule.
			assert.True(t, ruled["GET "+route.Path], "HEAD %s is a GET route's", route.Path)
			routed[route.Method+" "+route.Path] = true
			continue
		}
		if !strings.HasPrefix(route.Path, "/api/v1") || route.Method == "USE" {
			continue
		}
		key := route.Method + " " + route.Path
		routed[key] = true
		assert.True(t, ruled[key], "%s has a rule in apiRoutes", key)
	}
	for key := range ruled {
		assert.True(t, routed[key], "the rule for %s names a route that is served", key)
		if path, ok := strings.CutPrefix(key, "GET "); ok {
			assert.True(t, routed["HEAD "+path], "HEAD %s is served", path)
		}
	}
}

// TestDocsListEveryRouteRule: docs/access.md gives each route's rule as
// the table does, and no other.
func TestDocsListEveryRouteRule(t *testing.T) {
	t.Parallel()
	text, err := os.ReadFile("../docs/access.md")
	require.NoError(t, err)
	rows := regexp.MustCompile("(?m)^\\| `([A-Z]+ /api/v1[^`]*)` \\| ([^|]+) \\|$").FindAllStringSubmatch(string(text), -1)
	documented := map[string]string{}
	for _, row := range rows {
		documented[row[1]] = strings.TrimSpace(row[2])
	}
	rules := api.RouteRules()
	assert.Len(t, documented, len(rules), "docs/access.md has a row per route")
	for _, r := range rules {
		want := "signed in"
		switch {
		case r.Public:
			want = "open"
		case r.Need == access.Account:
			want = "own account"
		case r.Need != "":
			want = "`" + string(r.Need) + "`"
		}
		assert.Equal(t, want, documented[r.Method+" "+r.Path], "docs/access.md: %s %s", r.Method, r.Path)
	}
}

func TestErrorsAreJSON(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t, store.DialectSQLite)
	f := setup(t, db)
	f.app.Post("/boom", func(*fiber.Ctx) error { panic("kaboom") })

	req := httptest.NewRequest("POST", "/boom", nil)
	res, err := f.app.Test(req, -1)
	require.NoError(t, err)
	var body map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
	assert.Equal(t, http.StatusInternalServerError, res.StatusCode)
	assert.Equal(t, "internal error", body["error"], "a panic's message stays in the log")
	assert.NotEmpty(t, body["request_id"])
	assert.Equal(t, res.Header.Get("X-Request-ID"), body["request_id"])

	status, body := f.do("GET", "/api/v1/no-such-thing", "")
	assert.Equal(t, http.StatusNotFound, status)
	assert.Contains(t, body["error"], "no such route")

	status, body = f.do("POST", "/api/v1/flows", `{"name": "`+strings.Repeat("x", 1<<20)+`"}`)
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)
	assert.Contains(t, body["error"], "larger than")

	// The server's own body limit acts while reading the request, before
	// any handler, so it is checked over a real connection. The request
	// announces a body over the limit; the server judges the announcement.
	base := serveOnLoopback(t, f.app)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "POST /api/v1/flows HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n", testToken, 3<<20)
	require.NoError(t, err)
	res, err = http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer res.Body.Close()
	body = nil
	require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
	assert.Equal(t, "request body is too large", body["error"])
}

// serveOnLoopback serves the app on a loopback port until the test ends and
// returns its base URL.
func serveOnLoopback(t *testing.T, app *fiber.App) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.Shutdown() })
	return "http://" + ln.Addr().String()
}

func TestHealth(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		status, body := f.doAs("", "GET", "/healthz", "")
		assert.Equal(t, http.StatusOK, status)
		assert.Equal(t, "ok", body["status"])
		status, body = f.doAs("", "GET", "/readyz", "")
		assert.Equal(t, http.StatusOK, status)
		assert.Equal(t, "ready", body["status"])

		require.NoError(t, db.Close())
		status, body = f.doAs("", "GET", "/readyz", "")
		assert.Equal(t, http.StatusServiceUnavailable, status)
		assert.Equal(t, "database does not answer", body["error"])
	})
}

func TestNodeTypes(t *testing.T) {
	t.Parallel()
	f := setup(t, storetest.Open(t, store.DialectSQLite))
	status, body := f.do("GET", "/api/v1/node-types", "")
	require.Equal(t, http.StatusOK, status)
	kinds := map[string]map[string]any{}
	for _, nt := range body["node_types"].([]any) {
		entry := nt.(map[string]any)
		kinds[entry["kind"].(string)] = entry
	}
	require.Contains(t, kinds, "trigger.webhook")
	require.Contains(t, kinds, "trigger.manual")
	require.Contains(t, kinds, "transform")
	transform := kinds["transform"]
	assert.Equal(t, "data", transform["category"])
	assert.NotEmpty(t, transform["summary"])
	assert.NotEmpty(t, transform["fields"])
	assert.Equal(t, "shuffle", transform["icon"], "the editor draws the kind's icon")
	schema := transform["schema"].(map[string]any)
	assert.Equal(t, false, schema["additionalProperties"])
	assert.Contains(t, schema["properties"], "fields")
}

// TestOpenAPIDescribesEveryRoute keeps the API description and the router
// in step: each documented operation is routed and each route documented.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	f := setup(t, storetest.Open(t, store.DialectSQLite))
	status, doc := f.do("GET", "/api/v1/openapi.json", "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "3.1.0", doc["openapi"])

	documented := map[string]bool{}
	operationIDs := map[string]string{}
	for path, item := range doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			if !slices.Contains([]string{"get", "post", "put", "patch", "delete"}, method) {
				continue // parameters, summary, description
			}
			key := strings.ToUpper(method) + " " + path
			documented[key] = true
			// Generated clients name their functions by operationId.
			id, _ := op.(map[string]any)["operationId"].(string)
			if assert.NotEmpty(t, id, "%s has an operationId", key) {
				assert.NotContains(t, operationIDs, id, "%s: operationId %q is also %s's", key, id, operationIDs[id])
				operationIDs[id] = key
			}
		}
	}
	// Every reference resolves inside the document.
	data, err := json.Marshal(doc)
	require.NoError(t, err)
	for _, m := range regexp.MustCompile(`"\$ref":"#/([^"]+)"`).FindAllStringSubmatch(string(data), -1) {
		var node any = doc
		for _, part := range strings.Split(m[1], "/") {
			obj, ok := node.(map[string]any)
			require.True(t, ok, "$ref #/%s does not resolve", m[1])
			node, ok = obj[part]
			require.True(t, ok, "$ref #/%s does not resolve", m[1])
		}
	}
	param := regexp.MustCompile(`:([a-z]+)`)
	routed := map[string]bool{}
	hookPaths := map[string]bool{}
	for _, route := range f.app.GetRoutes(true) {
		if route.Method == "USE" || route.Method == "HEAD" || route.Path == "/" || route.Path == "/boom" {
			continue
		}
		path := strings.Replace(param.ReplaceAllString(route.Path, "{$1}"), "*", "{path}", 1)
		if strings.HasPrefix(path, "/hooks/") {
			// The ingress takes any method; the document names the usual
			// ones, so only the paths are compared.
			hookPaths[path] = true
			continue
		}
		routed[route.Method+" "+path] = true
	}
	documentedHooks := map[string]bool{}
	for key := range documented {
		if _, path, _ := strings.Cut(key, " "); strings.HasPrefix(path, "/hooks/") {
			documentedHooks[path] = true
			delete(documented, key)
		}
	}
	assert.Equal(t, documented, routed)
	assert.Equal(t, documentedHooks, hookPaths)

	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	flowDoc := schemas["FlowDocument"].(map[string]any)
	assert.NotContains(t, flowDoc, "$defs", "the flow schema's definitions are schemas of their own")
	nodeType := schemas["FlowNode"].(map[string]any)["properties"].(map[string]any)["type"].(map[string]any)
	assert.Contains(t, nodeType["enum"], "transform", "the flow schema lists the registered kinds")
	ref := flowDoc["properties"].(map[string]any)["nodes"].(map[string]any)["items"].(map[string]any)["$ref"]
	assert.Equal(t, "#/components/schemas/FlowNode", ref)

	// Every field type a node kind uses is one the document names.
	fieldTypes := doc["components"].(map[string]any)["schemas"].(map[string]any)["Field"].(map[string]any)["properties"].(map[string]any)["type"].(map[string]any)["enum"]
	reg := nodes.NewRegistry()
	nodes.RegisterBuiltins(reg)
	var walk func(fields []nodes.Field)
	walk = func(fields []nodes.Field) {
		for _, field := range fields {
			assert.Contains(t, fieldTypes, string(field.Type), "field %s", field.Name)
			walk(field.Fields)
			if field.Items != nil {
				walk([]nodes.Field{*field.Items})
			}
		}
	}
	for _, k := range reg.Kinds() {
		walk(k.Spec.Fields)
	}
}

func TestWebAppIsServed(t *testing.T) {
	t.Parallel()
	f := setup(t, storetest.Open(t, store.DialectSQLite))
	res, err := f.app.Test(httptest.NewRequest("GET", "/", nil), -1)
	require.NoError(t, err)
	data, _ := io.ReadAll(res.Body)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, res.Header.Get("Content-Type"), "text/html")
	assert.Contains(t, string(data), "Hookflow")
}

// TestFlowSettings: a flow's settings are saved with its version, shown
// with the flow and its versions, and refused, on their field, when wrong.
func TestFlowSettings(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		status, body := f.do("POST", "/api/v1/flows", `{"name": "limited", "settings": {"concurrency": 3},
			"nodes": [{"id": "hook", "type": "trigger.webhook"}]}`)
		require.Equal(t, http.StatusCreated, status, "%v", body)
		assert.Equal(t, map[string]any{"concurrency": float64(3)}, body["settings"])
		id := body["id"].(string)
		_, got := f.do("GET", "/api/v1/flows/"+id, "")
		assert.Equal(t, map[string]any{"concurrency": float64(3)}, got["settings"])
		stored, err := db.GetFlow(context.Background(), id)
		require.NoError(t, err)
		assert.Equal(t, 3, stored.Concurrency, "the limit claims keep")

		status, body = f.do("PUT", "/api/v1/flows/"+id, `{"name": "unlimited", "nodes": [{"id": "hook", "type": "trigger.webhook"}]}`)
		require.Equal(t, http.StatusOK, status, "%v", body)
		assert.Nil(t, body["settings"])
		stored, err = db.GetFlow(context.Background(), id)
		require.NoError(t, err)
		assert.Zero(t, stored.Concurrency, "a version without the setting has no limit")
		_, version := f.do("GET", "/api/v1/flows/"+id+"/versions/1", "")
		assert.Equal(t, map[string]any{"concurrency": float64(3)}, version["settings"])

		for _, bad := range []string{`{"concurrency": 0}`, `{"concurrency": -1}`, `{"concurrency": 1.5}`, `{"concurrency": 100000}`, `{"parallel": 2}`} {
			status, body = f.do("POST", "/api/v1/flows", `{"name": "bad", "settings": `+bad+`, "nodes": [{"id": "hook", "type": "trigger.webhook"}]}`)
			require.Equal(t, http.StatusUnprocessableEntity, status, "%s: %v", bad, body)
			problem := body["problems"].([]any)[0].(map[string]any)
			assert.Contains(t, problem["field"], "settings", "%s: %v", bad, problem)
		}
	})
}

// TestEditorExamplesAreCreated saves each example flow the editor offers
// ("New from example") on a server with no credentials, as a newcomer's is:
// they are made, and activation asks for the credentials they name.
func TestEditorExamplesAreCreated(t *testing.T) {
	t.Parallel()
	f := setup(t, storetest.Open(t, store.DialectSQLite))
	data, err := os.ReadFile("../frontend/src/examples.json")
	require.NoError(t, err)
	var examples []struct {
		Title string          `json:"title"`
		Flow  json.RawMessage `json:"flow"`
	}
	require.NoError(t, json.Unmarshal(data, &examples))
	require.NotEmpty(t, examples)
	for _, e := range examples {
		status, flow := f.do("POST", "/api/v1/flows", string(e.Flow))
		require.Equal(t, http.StatusCreated, status, "%s: %v", e.Title, flow)
		status, body := f.do("POST", "/api/v1/flows/"+flow["id"].(string)+"/activate", "")
		if !strings.Contains(string(e.Flow), `"credential"`) {
			assert.Equal(t, http.StatusOK, status, "%s: %v", e.Title, body)
			continue
		}
		assert.Equal(t, http.StatusUnprocessableEntity, status, e.Title)
		for _, p := range body["problems"].([]any) {
			assert.Contains(t, p.(map[string]any)["message"], "create it under Credentials first", e.Title)
		}
	}
}
