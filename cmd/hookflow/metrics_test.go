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
