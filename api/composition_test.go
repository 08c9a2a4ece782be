package api_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// createFlow saves a flow through the API and returns its id.
func (f *fixture) createFlow(doc string) string {
	f.t.Helper()
	status, body := f.do("POST", "/api/v1/flows", doc)
	require.Equal(f.t, http.StatusCreated, status, "%v", body)
	return body["id"].(string)
}

// stepOf returns a run's step of a node.
func stepOf(t *testing.T, run map[string]any, node string) map[string]any {
	t.Helper()
	for _, s := range run["steps"].([]any) {
		if step := s.(map[string]any); step["node_id"] == node {
			return step
		}
	}
	t.Fatalf("run %v has no step of %s", run["id"], node)
	return nil
}

func TestCallingAFlow(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		child := f.createFlow(`{"name": "greet", "nodes": [
			{"id": "called", "type": "trigger.call", "params": {"fields": [{"name": "email", "type": "string", "required": true}]}},
			{"id": "give", "type": "flow.return", "params": {"value": "'Hello ' + trigger.input.email"}}
		], "edges": [{"from": "called", "to": "give"}]}`)

		// Saving refuses a call to a flow that is not there, or cannot be called.
		hooked := f.createFlow(`{"name": "hooked", "nodes": [{"id": "hook", "type": "trigger.webhook"}]}`)
		for target, want := range map[string]string{
			"0190a000-0000-7000-8000-000000000000": "does not exist",
			hooked:                                 "only a flow that starts with trigger.call or trigger.manual can be called",
		} {
			status, body := f.do("POST", "/api/v1/flows", `{"name": "p", "nodes": [{"id": "hook", "type": "trigger.manual"},
				{"id": "call", "type": "flow.call", "params": {"flow": "`+target+`"}}], "edges": [{"from": "hook", "to": "call"}]}`)
			require.Equal(t, http.StatusUnprocessableEntity, status, "%v", body)
			problem := body["problems"].([]any)[0].(map[string]any)
			assert.Equal(t, "call", problem["node"])
			assert.Equal(t, "params.flow", problem["field"])
			assert.Contains(t, problem["message"], want)
		}
		status, body := f.do("POST", "/api/v1/flows", `{"name": "p", "nodes": [{"id": "hook", "type": "trigger.manual"},
			{"id": "call", "type": "flow.call", "params": {"flow": "`+child+`", "version": 7}}], "edges": [{"from": "hook", "to": "call"}]}`)
		require.Equal(t, http.StatusUnprocessableEntity, status, "%v", body)
		assert.Equal(t, "params.version", body["problems"].([]any)[0].(map[string]any)["field"])

		parent := f.createFlow(`{"name": "parent", "nodes": [{"id": "hook", "type": "trigger.manual"},
			{"id": "call", "type": "flow.call", "params": {"flow": "` + child + `", "input": {"email": "trigger.body.email"}}}],
			"edges": [{"from": "hook", "to": "call"}]}`)
		status, run := f.do("POST", "/api/v1/flows/"+parent+"/test", `{"payload": {"email": "ada@example.com"}}`)
		require.Equal(t, http.StatusOK, status, "%v", run)
		assert.Equal(t, "succeeded", run["status"], "%v", run)
		call := stepOf(t, run, "call")
		assert.Equal(t, "Hello ada@example.com", call["output"])
		childID := call["child_run_id"].(string)

		_, childRun := f.do("GET", "/api/v1/runs/"+childID, "")
		assert.Equal(t, run["id"], childRun["parent_run_id"], "linked both ways")
		assert.Equal(t, "call", childRun["trigger"].(map[string]any)["type"])
		_, list := f.do("GET", "/api/v1/runs?parent_run_id="+run["id"].(string), "")
		require.Len(t, list["runs"], 1)
		assert.Equal(t, childID, list["runs"].([]any)[0].(map[string]any)["id"])

		// A called flow is tested with the payload as its input.
		status, run = f.do("POST", "/api/v1/flows/"+child+"/test", `{"payload": {"email": "grace@example.com"}}`)
		require.Equal(t, http.StatusOK, status, "%v", run)
		assert.Equal(t, "Hello grace@example.com", stepOf(t, run, "give")["output"])
		_, run = f.do("POST", "/api/v1/flows/"+child+"/test", `{"payload": {"email": 3}}`)
		assert.Equal(t, "failed", run["status"])
		assert.Contains(t, run["error"], "input.email is a number, not text")
	})
}

func TestAFlowThatCallsItselfStopsAtTheDepthLimit(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		id := f.createFlow(`{"name": "loop", "nodes": [{"id": "hook", "type": "trigger.manual"}]}`)
		status, body := f.do("PUT", "/api/v1/flows/"+id, `{"name": "loop", "nodes": [{"id": "hook", "type": "trigger.manual"},
			{"id": "again", "type": "flow.call", "params": {"flow": "`+id+`"}}], "edges": [{"from": "hook", "to": "again"}]}`)
		require.Equal(t, http.StatusOK, status, "%v", body)
		_, run := f.do("POST", "/api/v1/flows/"+id+"/test", `{"payload": {}}`)
		assert.Equal(t, "failed", run["status"])
		// Each level fails with the level below; the deepest says why.
		deepest := run
		for depth := 0; ; depth++ {
			require.Less(t, depth, 20, "the calls nest without end")
			step := stepOf(t, deepest, "again")
			next, ok := step["child_run_id"].(string)
			if !ok {
				assert.Contains(t, step["error"], "calls are nested 10 deep, the limit")
				assert.Equal(t, 10, depth)
				break
			}
			_, deepest = f.do("GET", "/api/v1/runs/"+next, "")
		}
	})
}

var resumeURL = regexp.MustCompile(`http://[^"]*/resume/[A-Za-z0-9_.-]+`)

func TestWaitingForACallback(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		id := f.createFlow(`{"name": "approval", "nodes": [{"id": "hook", "type": "trigger.manual"},
			{"id": "ask", "type": "transform", "params": {"fields": {"link": "run.resume_urls.approve"}}},
			{"id": "approve", "type": "wait.callback"},
			{"id": "done", "type": "transform", "params": {"fields": {"choice": "input.choice"}}}],
			"edges": [{"from": "hook", "to": "ask"}, {"from": "ask", "to": "approve"}, {"from": "approve", "port": "resumed", "to": "done"}]}`)
		// The test run is answered while it waits, with 202.
		status, run := f.do("POST", "/api/v1/flows/"+id+"/test", `{"payload": {}}`)
		require.Equal(t, http.StatusAccepted, status, "%v", run)
		assert.Equal(t, "queued", run["status"])
		assert.Equal(t, "running", stepOf(t, run, "approve")["status"])
		link := stepOf(t, run, "ask")["output"].(map[string]any)["link"].(string)
		require.Regexp(t, resumeURL, link)
		path := strings.TrimPrefix(link, publicURL)

		// A tampered token is refused like a used one.
		code, answer := f.raw("GET", path[:len(path)-2]+"xx", "")
		assert.Equal(t, http.StatusNotFound, code, answer)

		code, answer = f.raw("GET", path+"?choice=approve", "")
		require.Equal(t, http.StatusOK, code, answer)
		assert.Contains(t, answer, `"status":"resumed"`)
		code, answer = f.raw("POST", path, `{"choice": "again"}`)
		assert.Equal(t, http.StatusNotFound, code, "a resume URL works once")
		assert.Contains(t, answer, "was used already")

		require.Eventually(t, func() bool {
			_, got := f.do("GET", "/api/v1/runs/"+run["id"].(string), "")
			return got["status"] == "succeeded"
		}, 20*time.Second, 20*time.Millisecond)
		_, got := f.do("GET", "/api/v1/runs/"+run["id"].(string), "")
		assert.Equal(t, map[string]any{"choice": "approve"}, stepOf(t, got, "done")["output"])
	})
}

// raw sends a request without a token and returns the status and body.
func (f *fixture) raw(method, path, body string) (int, string) {
	f.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := f.app.Test(req, -1)
	require.NoError(f.t, err)
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	require.NoError(f.t, err)
	f.contract().check(f.t, method, strings.Split(path, "?")[0], res.StatusCode, data)
	return res.StatusCode, string(data)
}

func TestErrorFlowAndRunTimeoutSettings(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		alert := f.createFlow(`{"name": "alert", "nodes": [{"id": "failed", "type": "trigger.call"},
			{"id": "text", "type": "transform", "params": {"fields": {"text": "trigger.input.flow_name + ': ' + trigger.input.error"}}}],
			"edges": [{"from": "failed", "to": "text"}]}`)
		id := f.createFlow(`{"name": "checkout", "settings": {"error_flow": "` + alert + `", "timeout_ms": 1000}, "nodes": [
			{"id": "hook", "type": "trigger.webhook"}, {"id": "pause", "type": "delay", "params": {"duration_ms": 60000}}],
			"edges": [{"from": "hook", "to": "pause"}]}`)
		_, flow := f.do("GET", "/api/v1/flows/"+id, "")
		assert.Equal(t, map[string]any{"error_flow": alert, "timeout_ms": float64(1000)}, flow["settings"])
		status, body := f.do("PUT", "/api/v1/flows/"+id, `{"name": "checkout", "settings": {"error_flow": "`+id+`"}, "nodes": [{"id": "hook", "type": "trigger.webhook"}]}`)
		require.Equal(t, http.StatusUnprocessableEntity, status, "%v", body)
		assert.Contains(t, body["problems"].([]any)[0].(map[string]any)["message"], "its own error flow")

		ctx := context.Background()
		stored, err := db.GetFlow(ctx, id)
		require.NoError(t, err)
		runs, err := db.EnqueueRuns(ctx, []store.NewRun{{FlowID: id, FlowVersion: stored.Version, TriggerType: store.TriggerManual, Trigger: []byte(`{}`)}})
		require.NoError(t, err)
		var failed map[string]any
		require.Eventually(t, func() bool {
			_, failed = f.do("GET", "/api/v1/runs/"+runs[0].ID, "")
			return failed["status"] == "failed"
		}, 20*time.Second, 20*time.Millisecond)
		assert.Contains(t, failed["error"], "the run went past its time limit (settings.timeout_ms) of 1s")
		var alerts map[string]any
		require.Eventually(t, func() bool {
			_, alerts = f.do("GET", "/api/v1/runs?flow_id="+alert, "")
			return len(alerts["runs"].([]any)) == 1 && alerts["runs"].([]any)[0].(map[string]any)["status"] == "succeeded"
		}, 20*time.Second, 20*time.Millisecond)
		alertRun := alerts["runs"].([]any)[0].(map[string]any)
		assert.Equal(t, "error", alertRun["trigger"].(map[string]any)["type"])
		_, alertRun = f.do("GET", "/api/v1/runs/"+alertRun["id"].(string), "")
		assert.Equal(t, "checkout: the run went past its time limit (settings.timeout_ms) of 1s", stepOf(t, alertRun, "text")["output"].(map[string]any)["text"])
	})
}
