package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

const paymentFlow = `{"name": "payments", "nodes": [
	{"id": "hook", "type": "trigger.webhook"},
	{"id": "amount", "type": "transform", "params": {"fields": {"usd": "trigger.body.amount / 100", "sig": "trigger.headers['x-signature']"}}},
	{"id": "big", "type": "if", "params": {"condition": "steps.amount.usd >= 100"}},
	{"id": "vip", "type": "transform", "params": {"fields": {"text": "'VIP ' + string(input.usd)"}}}],
	"edges": [{"from": "hook", "to": "amount"}, {"from": "amount", "to": "big"}, {"from": "big", "port": "true", "to": "vip"}]}`

func createFlow(t *testing.T, f *fixture, doc string) string {
	t.Helper()
	status, body := f.do("POST", "/api/v1/flows", doc)
	require.Equal(t, http.StatusCreated, status, "%v", body)
	return body["id"].(string)
}

func TestTestRunAnswersTheRunWithItsSteps(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		id := createFlow(t, f, paymentFlow)

		status, run := f.do("POST", "/api/v1/flows/"+id+"/test", `{"payload": {"amount": 25000}, "headers": {"X-Signature": "abc"}}`)
		require.Equal(t, http.StatusOK, status, "%v", run)
		assert.Equal(t, "succeeded", run["status"])
		assert.Equal(t, float64(1), run["flow_version"])
		assert.NotNil(t, run["duration_ms"])
		trigger := run["trigger"].(map[string]any)
		assert.Equal(t, "test", trigger["type"])
		assert.Equal(t, map[string]any{"amount": float64(25000)}, trigger["data"].(map[string]any)["body"])

		steps := run["steps"].([]any)
		byNode := map[string]map[string]any{}
		for _, s := range steps {
			step := s.(map[string]any)
			byNode[step["node_id"].(string)] = step
		}
		require.Len(t, byNode, 4)
		amount := byNode["amount"]
		assert.Equal(t, "succeeded", amount["status"])
		assert.Equal(t, float64(1), amount["attempt"])
		assert.Equal(t, map[string]any{"usd": float64(250), "sig": "abc"}, amount["output"], "headers reach expressions lower-cased")
		assert.Equal(t, map[string]any{"amount": float64(25000)}, amount["input"].(map[string]any)["body"], "a step's input is its upstream's output")
		assert.Equal(t, "true", byNode["big"]["port"])
		assert.Equal(t, map[string]any{"text": "VIP 250"}, byNode["vip"]["output"])
		assert.Contains(t, amount, "started_at")
		assert.Contains(t, amount, "duration_ms")
		for node, step := range byNode {
			assert.Equal(t, []any{}, step["logs"], "%s: a step that logged nothing has an empty log", node)
		}

		status, run = f.do("POST", "/api/v1/flows/"+id+"/test", `{"payload": {"amount": 500}}`)
		require.Equal(t, http.StatusOK, status)
		for _, s := range run["steps"].([]any) {
			if step := s.(map[string]any); step["node_id"] == "vip" {
				assert.Equal(t, "skipped", step["status"])
				assert.Nil(t, step["port"])
				assert.Equal(t, []any{}, step["logs"], "a skipped step has an empty log")
			}
		}

		status, body := f.do("POST", "/api/v1/flows/"+id+"/test", `{"payload": 1, "colour": "red"}`)
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Contains(t, body["error"], `unknown field "colour"`)
		status, _ = f.do("POST", "/api/v1/flows/nope/test", `{}`)
		assert.Equal(t, http.StatusNotFound, status)
		status, run = f.do("POST", "/api/v1/flows/"+id+"/test", ``)
		require.Equal(t, http.StatusOK, status, "an empty body tests with a null payload")
		assert.Equal(t, "failed", run["status"], "null / 100 is an error in the flow, reported in the run")
		assert.Contains(t, run["error"], "node amount failed")
	})
}

func TestRunHistory(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		first := createFlow(t, f, paymentFlow)
		second := createFlow(t, f, strings.Replace(paymentFlow, "payments", "other", 1))
		for i := range 3 {
			status, _ := f.do("POST", "/api/v1/flows/"+first+"/test", fmt.Sprintf(`{"payload": {"amount": %d}}`, i*10000))
			require.Equal(t, http.StatusOK, status)
		}
		status, _ := f.do("POST", "/api/v1/flows/"+second+"/test", `{"payload": {}}`)
		require.Equal(t, http.StatusOK, status)

		status, body := f.do("GET", "/api/v1/runs", "")
		require.Equal(t, http.StatusOK, status)
		runs := body["runs"].([]any)
		require.Len(t, runs, 4)
		assert.Equal(t, second, runs[0].(map[string]any)["flow_id"], "newest first")
		assert.Nil(t, body["next_cursor"])
		assert.NotContains(t, runs[0], "steps", "lists leave the steps out")
		assert.NotContains(t, runs[0].(map[string]any)["trigger"], "data")

		status, body = f.do("GET", "/api/v1/runs?flow_id="+first+"&limit=2", "")
		require.Equal(t, http.StatusOK, status)
		page := body["runs"].([]any)
		require.Len(t, page, 2)
		cursor := body["next_cursor"].(string)
		status, body = f.do("GET", "/api/v1/runs?flow_id="+first+"&limit=2&cursor="+cursor, "")
		require.Equal(t, http.StatusOK, status)
		rest := body["runs"].([]any)
		require.Len(t, rest, 1, "the cursor continues after the last run of the page")
		assert.NotEqual(t, page[1].(map[string]any)["id"], rest[0].(map[string]any)["id"])

		status, body = f.do("GET", "/api/v1/runs?status=failed", "")
		require.Equal(t, http.StatusOK, status)
		assert.Len(t, body["runs"], 1, "the second flow's run failed: its payload has no amount")

		hourAgo := url.QueryEscape(time.Now().Add(-time.Hour).Format(time.RFC3339))
		status, body = f.do("GET", "/api/v1/runs?since="+hourAgo+"&until="+url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339)), "")
		require.Equal(t, http.StatusOK, status)
		assert.Len(t, body["runs"], 4)
		status, body = f.do("GET", "/api/v1/runs?until="+hourAgo, "")
		require.Equal(t, http.StatusOK, status)
		assert.Empty(t, body["runs"])

		for query, want := range map[string]string{
			"status=done":     "status must be",
			"since=yesterday": "since must be an RFC 3339 time",
			"limit=0":         "limit must be a number from 1 to 500",
			"limit=x":         "limit must be",
		} {
			status, body := f.do("GET", "/api/v1/runs?"+query, "")
			assert.Equal(t, http.StatusBadRequest, status, query)
			assert.Contains(t, body["error"], want, query)
		}

		status, body = f.do("GET", "/api/v1/runs/no-such-run", "")
		assert.Equal(t, http.StatusNotFound, status)
		assert.Equal(t, `run "no-such-run" not found`, body["error"])
	})
}

func TestReplayAndCancel(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		id := createFlow(t, f, paymentFlow)
		status, original := f.do("POST", "/api/v1/flows/"+id+"/test", `{"payload": {"amount": 12000}}`)
		require.Equal(t, http.StatusOK, status)
		runID := original["id"].(string)

		// Fix the flow, then replay the delivery against the fix.
		fixed := strings.Replace(paymentFlow, "'VIP ' + string(input.usd)", "'VIP $' + string(input.usd)", 1)
		status, _ = f.do("PUT", "/api/v1/flows/"+id, fixed)
		require.Equal(t, http.StatusOK, status)
		status, replay := f.do("POST", "/api/v1/runs/"+runID+"/replay", ``)
		require.Equal(t, http.StatusCreated, status, "%v", replay)
		assert.Equal(t, runID, replay["replay_of"])
		assert.Equal(t, float64(2), replay["flow_version"], "replays run the current version")
		assert.Equal(t, "replay", replay["trigger"].(map[string]any)["type"])
		replayID := replay["id"].(string)
		var done map[string]any
		require.Eventually(t, func() bool {
			_, done = f.do("GET", "/api/v1/runs/"+replayID, "")
			return done["status"] == "succeeded"
		}, 10*time.Second, 20*time.Millisecond)
		assert.Equal(t, original["trigger"].(map[string]any)["data"], done["trigger"].(map[string]any)["data"], "the same trigger data")
		for _, s := range done["steps"].([]any) {
			if step := s.(map[string]any); step["node_id"] == "vip" {
				assert.Equal(t, map[string]any{"text": "VIP $120"}, step["output"])
			}
		}

		status, old := f.do("POST", "/api/v1/runs/"+runID+"/replay", `{"flow_version": 1}`)
		require.Equal(t, http.StatusCreated, status)
		assert.Equal(t, float64(1), old["flow_version"])
		status, body := f.do("POST", "/api/v1/runs/"+runID+"/replay", `{"flow_version": 9}`)
		assert.Equal(t, http.StatusNotFound, status)
		assert.Equal(t, "the flow has no version 9", body["error"])
		status, _ = f.do("POST", "/api/v1/runs/nope/replay", ``)
		assert.Equal(t, http.StatusNotFound, status)

		status, body = f.do("POST", "/api/v1/runs/"+runID+"/cancel", ``)
		assert.Equal(t, http.StatusConflict, status)
		assert.Contains(t, body["error"], "has already finished")

		waiting := createFlow(t, f, `{"name": "slow", "nodes": [{"id": "hook", "type": "trigger.manual"},
			{"id": "wait", "type": "delay", "params": {"duration_ms": 600000}}], "edges": [{"from": "hook", "to": "wait"}]}`)
		status, test := f.do("POST", "/api/v1/flows/"+waiting+"/test?wait_ms=300", `{}`)
		require.Equal(t, http.StatusAccepted, status, "a run still going is answered as it stands: %v", test)
		status, canceled := f.do("POST", "/api/v1/runs/"+test["id"].(string)+"/cancel", ``)
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, "canceled", canceled["status"])
		status, _ = f.do("POST", "/api/v1/runs/nope/cancel", ``)
		assert.Equal(t, http.StatusNotFound, status)
		status, body = f.do("POST", "/api/v1/flows/"+waiting+"/test?wait_ms=forever", `{}`)
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Contains(t, body["error"], "wait_ms")
	})
}

// TestATestPayloadIsKept: a test run's payload and headers are kept with
// the flow and answered with it, so the editor offers them again.
func TestATestPayloadIsKept(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		status, flow := f.do("POST", "/api/v1/flows", `{"name": "kept", "nodes": [{"id": "hook", "type": "trigger.webhook"}]}`)
		require.Equal(t, http.StatusCreated, status)
		id := flow["id"].(string)
		_, got := f.do("GET", "/api/v1/flows/"+id, "")
		assert.Nil(t, got["test_payload"], "none before the first test")

		status, run := f.do("POST", "/api/v1/flows/"+id+"/test", `{"payload": {"amount": 42}, "headers": {"X-Event": "paid"}}`)
		require.Equal(t, http.StatusOK, status, "%v", run)
		_, got = f.do("GET", "/api/v1/flows/"+id, "")
		assert.Equal(t, map[string]any{"payload": map[string]any{"amount": float64(42)}, "headers": map[string]any{"X-Event": "paid"}}, got["test_payload"])
		_, list := f.do("GET", "/api/v1/flows", "")
		assert.Nil(t, list["flows"].([]any)[0].(map[string]any)["test_payload"], "lists leave it out")
	})
}

func TestTestRunOfABrokerFlowSeesAMessage(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		id := createFlow(t, f, `{"name": "stream", "nodes": [
			{"id": "orders", "type": "trigger.redis", "params": {"credential": "cache", "stream": "orders"}},
			{"id": "pick", "type": "transform", "params": {"fields": {"from": "trigger.broker", "sku": "trigger.body.sku", "source": "trigger.headers.source"}}}],
			"edges": [{"from": "orders", "to": "pick"}]}`)
		status, run := f.do("POST", "/api/v1/flows/"+id+"/test", `{"payload": {"sku": "A-1"}, "headers": {"Source": "shop"}}`)
		require.Equal(t, http.StatusOK, status, "%v", run)
		assert.Equal(t, "succeeded", run["status"], "%v", run["error"])
		data := run["trigger"].(map[string]any)["data"].(map[string]any)
		assert.Equal(t, "redis", data["broker"])
		assert.NotContains(t, data, "method", "a message has no method")
		for _, s := range run["steps"].([]any) {
			if step := s.(map[string]any); step["node_id"] == "pick" {
				assert.Equal(t, map[string]any{"from": "redis", "sku": "A-1", "source": "shop"}, step["output"])
			}
		}
	})
}
