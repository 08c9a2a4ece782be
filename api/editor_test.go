package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// noteFlow has a note on the canvas and an output pinned in a node.
func noteFlow(note string) string {
	return `{"name": "notes", "nodes": [
		{"id": "hook", "type": "trigger.webhook"},
		{"id": "shape", "type": "transform", "params": {"fields": {"n": "1"}}, "ui": {"position": {"x": 200, "y": 0}, "pin": {"output": {"n": 2}}}}],
		"edges": [{"from": "hook", "to": "shape"}],
		"ui": {"notes": [{"id": "note_1", "text": "` + note + `", "position": {"x": -40, "y": 12.5}, "width": 240, "height": 160, "color": "yellow"}]}}`
}

// TestFlowUIRoundTrips: the editor's data about a flow, and the outputs
// pinned in its nodes, come back from every read of the flow as saved.
func TestFlowUIRoundTrips(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		id := createFlow(t, f, noteFlow("first"))
		notes := func(body map[string]any) any {
			ui, _ := body["ui"].(map[string]any)
			return ui["notes"].([]any)[0].(map[string]any)["text"]
		}
		_, got := f.do("GET", "/api/v1/flows/"+id, "")
		assert.Equal(t, "first", notes(got))
		assert.Equal(t, map[string]any{"output": map[string]any{"n": float64(2)}},
			got["nodes"].([]any)[1].(map[string]any)["ui"].(map[string]any)["pin"])

		status, body := f.do("PUT", "/api/v1/flows/"+id, noteFlow("second"))
		require.Equal(t, http.StatusOK, status, "%v", body)
		assert.Equal(t, "second", notes(body))
		_, got = f.do("GET", "/api/v1/flows/"+id, "")
		assert.Equal(t, "second", notes(got))
		_, v1 := f.do("GET", "/api/v1/flows/"+id+"/versions/1", "")
		assert.Equal(t, "first", notes(v1), "each version keeps its own notes")
		_, v2 := f.do("GET", "/api/v1/flows/"+id+"/versions/2", "")
		assert.Equal(t, "second", notes(v2))

		_, list := f.do("GET", "/api/v1/flows", "")
		assert.NotContains(t, list["flows"].([]any)[0], "ui", "lists leave the graph out")
	})
}

// TestFlowUIIsChecked: what the editor relies on in a flow's ui is refused
// with a problem it can point at.
func TestFlowUIIsChecked(t *testing.T) {
	t.Parallel()
	f := setup(t, storetest.Open(t, store.DialectSQLite))
	note := func(position string) string {
		return fmt.Sprintf(`{"id": "note_1", "text": "", "position": %s}`, position)
	}
	doc := `{"name": "bad", "nodes": [{"id": "hook", "type": "trigger.webhook", "ui": {"pin": {"output": {}}}},
		{"id": "check", "type": "if", "params": {"condition": "true"}, "ui": {"pin": {"output": 1, "port": "maybe"}}}],
		"edges": [{"from": "hook", "to": "check"}],
		"ui": {"notes": [` + strings.Join([]string{note(`{"x": 0, "y": 0}`), note(`{"x": 0, "y": 0}`), note(`{"x": 0, "y": 0}`), note(`"top left"`)}, ", ") + `]}}`
	status, body := f.do("POST", "/api/v1/flows", doc)
	require.Equal(t, http.StatusUnprocessableEntity, status, "%v", body)
	var problems []string
	for _, p := range body["problems"].([]any) {
		p := p.(map[string]any)
		problems = append(problems, fmt.Sprintf("%s|%s|%s", p["node"], p["field"], p["message"]))
	}
	assert.Equal(t, []string{
		"|ui.notes[3].position|must be an object, not string",
		"hook|ui.pin|a trigger cannot be pinned: a test gives it its payload",
		`check|ui.pin|"check" has no port "maybe"; its ports are: true, false`,
	}, problems)
}

// echoServer counts the requests it is sent and answers each with JSON.
func echoServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"from": "the service"}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// pinnedCallFlow calls a service whose answer is pinned in the editor,
// then branches on it.
func pinnedCallFlow(url string) string {
	return `{"name": "pinned", "nodes": [
		{"id": "hook", "type": "trigger.webhook"},
		{"id": "call", "type": "http.request", "params": {"url": "` + url + `"}, "ui": {"pin": {"output": {"status": 200, "body": {"from": "the pin"}}}}},
		{"id": "check", "type": "if", "params": {"condition": "steps.call.body.from == 'the pin'"}},
		{"id": "yes", "type": "transform", "params": {"fields": {"from": "steps.call.body.from"}}},
		{"id": "no", "type": "transform", "params": {"fields": {"from": "steps.call.body.from"}}},
		{"id": "later", "type": "transform", "params": {"fields": {"done": "true"}}}],
		"edges": [{"from": "hook", "to": "call"}, {"from": "call", "to": "check"},
		{"from": "check", "port": "true", "to": "yes"}, {"from": "check", "port": "false", "to": "no"}, {"from": "yes", "to": "later"}]}`
}

func steps(run map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, s := range run["steps"].([]any) {
		step := s.(map[string]any)
		out[step["node_id"].(string)] = step
	}
	return out
}

func TestTestRunsUsePinsAndUntil(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		srv, hits := echoServer(t)
		f := setup(t, db)
		id := createFlow(t, f, pinnedCallFlow(srv.URL))

		status, run := f.do("POST", "/api/v1/flows/"+id+"/test", `{"payload": {}}`)
		require.Equal(t, http.StatusOK, status, "%v", run)
		byNode := steps(run)
		assert.Equal(t, "succeeded", byNode["call"]["status"])
		assert.Equal(t, map[string]any{"status": float64(200), "body": map[string]any{"from": "the pin"}}, byNode["call"]["output"])
		assert.Equal(t, "output pinned in the editor; the node did not run", byNode["call"]["logs"].([]any)[0].(map[string]any)["msg"])
		assert.Equal(t, "true", byNode["check"]["port"])
		assert.Equal(t, map[string]any{"from": "the pin"}, byNode["yes"]["output"])
		assert.Zero(t, hits.Load(), "the pinned request was not sent")

		// The request's pins win over the saved ones, for this test; until
		// stops the test at a node.
		status, run = f.do("POST", "/api/v1/flows/"+id+"/test", `{"payload": {"n": 1}, "until": "check",
			"pins": {"check": {"output": {"forced": true}, "port": "false"}}}`)
		require.Equal(t, http.StatusOK, status, "%v", run)
		byNode = steps(run)
		assert.Equal(t, "false", byNode["check"]["port"])
		assert.Equal(t, map[string]any{"forced": true}, byNode["check"]["output"])
		for _, skipped := range []string{"yes", "no", "later"} {
			assert.Equal(t, "skipped", byNode[skipped]["status"], "%s is past until", skipped)
		}
		assert.Zero(t, hits.Load())

		_, flow := f.do("GET", "/api/v1/flows/"+id, "")
		assert.Equal(t, map[string]any{"payload": map[string]any{"n": float64(1)}}, flow["test_payload"],
			"the flow keeps the payload of its last test, not its options")

		for _, tc := range []struct{ body, field, message string }{
			{`{"until": "ghost"}`, "until", `"ghost" is not a node of this flow`},
			{`{"pins": {"ghost": {"output": 1}}}`, "pins.ghost", `"ghost" is not a node of this flow`},
			{`{"pins": {"hook": {"output": 1}}}`, "pins.hook", "a trigger cannot be pinned"},
			{`{"pins": {"check": {"output": 1, "port": "maybe"}}}`, "pins.check", `"check" has no port "maybe"`},
			{`{"pins": {"yes": {"output": 1, "port": "true"}}}`, "pins.yes", "single unnamed output"},
			{`{"pins": {"yes": {"port": ""}}}`, "pins.yes", "a pin needs an output"},
		} {
			status, body := f.do("POST", "/api/v1/flows/"+id+"/test", tc.body)
			require.Equal(t, http.StatusUnprocessableEntity, status, "%s: %v", tc.body, body)
			require.Len(t, body["problems"], 1, "%s", tc.body)
			problem := body["problems"].([]any)[0].(map[string]any)
			assert.Equal(t, tc.field, problem["field"], tc.body)
			assert.Contains(t, problem["message"], tc.message, tc.body)
		}
		status, body := f.do("POST", "/api/v1/flows/"+id+"/test", `{"until": 5}`)
		assert.Equal(t, http.StatusBadRequest, status, "%v", body)
		assert.Contains(t, body["error"], "until")
		assert.Zero(t, hits.Load(), "no refused test ran")
	})
}

// TestWebhookRunsNeverUsePins: a real delivery to an active flow runs the
// node whose output is pinned in the editor; pins are for tests only.
func TestWebhookRunsNeverUsePins(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		srv, hits := echoServer(t)
		f := hooks(t, db)
		_, url := f.activeFlow(pinnedCallFlow(srv.URL))

		status, _, answer := f.post("POST", url, http.Header{"Content-Type": {"application/json"}}, []byte(`{"order": 1}`))
		require.Equal(t, http.StatusAccepted, status, "%s", answer)
		var accepted map[string]any
		require.NoError(t, json.Unmarshal(answer, &accepted))
		run := f.runOf(accepted["run_id"].(string))
		require.Equal(t, "succeeded", run["status"], "%v", run)
		assert.Equal(t, int32(1), hits.Load(), "the request reached the service")
		byNode := steps(run)
		assert.Equal(t, map[string]any{"from": "the service"}, byNode["call"]["output"].(map[string]any)["body"])
		assert.NotContains(t, fmt.Sprint(byNode["call"]["logs"]), "pinned")
		assert.Equal(t, "false", byNode["check"]["port"])
		assert.Equal(t, map[string]any{"from": "the service"}, byNode["no"]["output"])

		// Nor does a replay of a test.
		_, tested := f.do("POST", "/api/v1/flows/"+run["flow_id"].(string)+"/test", `{"payload": {}}`)
		require.Equal(t, "succeeded", tested["status"], "%v", tested)
		assert.Equal(t, int32(1), hits.Load(), "the test used the pin")
		status, replay := f.do("POST", "/api/v1/runs/"+tested["id"].(string)+"/replay", `{}`)
		require.Equal(t, http.StatusCreated, status, "%v", replay)
		replayed := f.runOf(replay["id"].(string))
		assert.Equal(t, "succeeded", replayed["status"], "%v", replayed)
		assert.Equal(t, int32(2), hits.Load(), "the replay sent the request")
	})
}

// TestSessionWithoutCredentials: the editor asks who it is before anyone
// logs in, and is told no one; credentials that are wrong or ended are
// still refused.
func TestSessionWithoutCredentials(t *testing.T) {
	t.Parallel()
	f := setup(t, storetest.Open(t, store.DialectSQLite))
	status, body := f.doAs("", "GET", "/api/v1/session", "")
	require.Equal(t, http.StatusOK, status, "%v", body)
	assert.Equal(t, map[string]any{"via": "anonymous", "role": "", "permissions": []any{}, "user": nil}, body)

	status, body = f.doAs("wrong-token", "GET", "/api/v1/session", "")
	assert.Equal(t, http.StatusUnauthorized, status, "%v", body)
	req := httptest.NewRequest("GET", "/api/v1/session", nil)
	req.Header.Set("Cookie", api.SessionCookie+"=ended")
	res, err := f.app.Test(req, -1)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "an ended session is told to log in again")

	status, body = f.doAs("", "GET", "/api/v1/flows", "")
	assert.Equal(t, http.StatusUnauthorized, status, "everything else still needs credentials: %v", body)
	status, body = f.do("GET", "/api/v1/session", "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "token", body["via"])
}
