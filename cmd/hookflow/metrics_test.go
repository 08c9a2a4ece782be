package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServeMetrics runs the real server and scrapes GET /metrics, without a
// token: serve wires the metrics into the store, the engine, the ingress
// and the outbound client, whose SSRF guard still refuses the address it
// dials.
func TestServeMetrics(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	upstream := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer upstream.Close()
	port := upstream.URL[strings.LastIndex(upstream.URL, ":")+1:]

	const token = "hf_metrics_test_token"
	s := startServer(t, "--data-dir", t.TempDir(), "--admin-token", token)
	defer s.shutdown(t)

	status, created := s.request(t, token, "POST", "/api/v1/flows", fmt.Sprintf(`{"name": "call", "nodes": [
		{"id": "hook", "type": "trigger.manual"},
		{"id": "call", "type": "http.request", "params": {"url": "http://localhost:%s/"}}],
		"edges": [{"from": "hook", "to": "call"}]}`, port))
	require.Equal(t, http.StatusCreated, status, "%v", created)
	callFlow := created["id"].(string)
	status, run := s.request(t, token, "POST", "/api/v1/flows/"+callFlow+"/test", `{"payload": {}}`)
	require.Equal(t, http.StatusOK, status, "%v", run)
	require.Equal(t, "failed", run["status"], "localhost is loopback once dialled")
	assert.Zero(t, hits.Load(), "nothing reached the upstream")

	status, created = s.request(t, token, "POST", "/api/v1/flows", testFlow)
	require.Equal(t, http.StatusCreated, status, "%v", created)
	status, _ = s.request(t, token, "POST", "/api/v1/flows/"+created["id"].(string)+"/activate", "")
	require.Equal(t, http.StatusOK, status)
	hook := created["triggers"].([]any)[0].(map[string]any)["url"].(string)
	status, _ = s.request(t, "", "POST", strings.TrimPrefix(hook, s.url), `{"total": 3}`)
	require.Equal(t, http.StatusAccepted, status)

	res, err := http.Get(s.url + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode, "no token is needed")
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(res.Body)
	require.NoError(t, err)
	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		family := families[name]
		require.NotNil(t, family, name)
	series:
		for _, m := range family.GetMetric() {
			for _, l := range m.GetLabel() {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue series
				}
			}
			return m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
		return 0
	}
	assert.Equal(t, 1.0, value("hookflow_webhooks_received_total", nil))
	assert.Equal(t, 1.0, value("hookflow_webhooks_accepted_total", nil))
	assert.Equal(t, 1.0, value("hookflow_outbound_requests_total", map[string]string{"kind": "http.request", "status_class": "error"}),
		"the refused dial is counted as a request without an answer")
	assert.Equal(t, 1.0, value("hookflow_runs_finished_total", map[string]string{"flow_id": callFlow, "status": "failed"}))
	assert.Positive(t, value("hookflow_store_commit_batch_size", nil), "the store reports its batches")
	assert.Contains(t, families, "hookflow_queue_depth")
	assert.Contains(t, families, "go_goroutines")
	assert.Equal(t, dto.MetricType_COUNTER, families["hookflow_webhooks_rejected_total"].GetType())
}

// TestServeCountsLLMTokens runs the real server with a model on loopback,
// let through by HOOKFLOW_ALLOWED_HOSTS: serve counts an llm.chat answer's
// tokens, and its request, in GET /metrics.
func TestServeCountsLLMTokens(t *testing.T) {
	t.Parallel()
	llm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id": "chatcmpl-1", "object": "chat.completion", "created": 1741569952, "model": "llama3.2",
			"choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!", "refusal": null}, "finish_reason": "stop"}],
			"usage": {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29}}`))
	}))
	defer llm.Close()

	const token = "hf_llm_metrics_test_token"
	s := startServer(t, "--data-dir", t.TempDir(), "--admin-token", token, "--allowed-hosts", "127.0.0.1")
	defer s.shutdown(t)
	status, created := s.request(t, token, "POST", "/api/v1/credentials",
		fmt.Sprintf(`{"name": "local-llm", "type": "openai", "data": {"base_url": "%s/v1"}}`, llm.URL))
	require.Equal(t, http.StatusCreated, status, "%v", created)
	status, created = s.request(t, token, "POST", "/api/v1/flows", `{"name": "greet", "nodes": [
		{"id": "hook", "type": "trigger.manual"},
		{"id": "ask", "type": "llm.chat", "params": {"credential": "local-llm", "model": "llama3.2", "user": "Say hello"}}],
		"edges": [{"from": "hook", "to": "ask"}]}`)
	require.Equal(t, http.StatusCreated, status, "%v", created)
	status, run := s.request(t, token, "POST", "/api/v1/flows/"+created["id"].(string)+"/test", `{"payload": {}}`)
	require.Equal(t, http.StatusOK, status, "%v", run)
	require.Equal(t, "succeeded", run["status"], "%v", run["error"])

	res, err := http.Get(s.url + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(res.Body)
	require.NoError(t, err)
	counted := map[string]float64{}
	for _, m := range families["hookflow_llm_tokens_total"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		counted[labels["model"]+" "+labels["type"]] = m.GetCounter().GetValue()
	}
	assert.Equal(t, map[string]float64{"llama3.2 prompt": 19, "llama3.2 completion": 10}, counted)
	requests := 0.0
	for _, m := range families["hookflow_outbound_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "kind" && l.GetValue() == "llm.chat" {
				requests += m.GetCounter().GetValue()
			}
		}
	}
	assert.Equal(t, 1.0, requests, "the request is counted under its kind")
}
