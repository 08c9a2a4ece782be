package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/engine/metrics"
)

func TestStatusClass(t *testing.T) {
	t.Parallel()
	refused := errors.New("connection refused")
	tests := []struct {
		status int
		err    error
		want   string
	}{
		{200, nil, "2xx"},
		{204, nil, "2xx"},
		{299, nil, "2xx"},
		{301, nil, "3xx"},
		{304, nil, "3xx"},
		{400, nil, "4xx"},
		{429, nil, "4xx"},
		{499, nil, "4xx"},
		{500, nil, "5xx"},
		{503, nil, "5xx"},
		{599, nil, "5xx"},
		{101, nil, "1xx"},
		{0, refused, "error"},
		{200, refused, "error"}, // an error wins over any status
		{0, nil, "other"},
		{600, nil, "other"},
		{99, nil, "other"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, metrics.StatusClass(tt.status, tt.err), "%d %v", tt.status, tt.err)
	}
}

func TestRejectReason(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status int
		want   string
	}{
		{http.StatusUnauthorized, "unauthenticated"},
		{http.StatusNotFound, "unknown_trigger"},
		{http.StatusMethodNotAllowed, "method"},
		{http.StatusRequestEntityTooLarge, "too_large"},
		{http.StatusUnsupportedMediaType, "unsupported_media"},
		{http.StatusBadRequest, "bad_body"},
		{http.StatusServiceUnavailable, "unavailable"},
		{http.StatusForbidden, "other"},
		{http.StatusInternalServerError, "other"},
		{http.StatusTeapot, "other"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, metrics.RejectReason(tt.status), "%d", tt.status)
	}
}

// TestNilMetricsCountNothing calls every method on a nil *Metrics: code
// that runs without metrics calls them all the same.
func TestNilMetricsCountNothing(t *testing.T) {
	t.Parallel()
	var m *metrics.Metrics
	assert.NotPanics(t, func() {
		m.WebhookReceived()
		m.WebhookAccepted()
		m.WebhookDuplicate()
		m.WebhookCaptured()
		m.WebhookRejected(metrics.ReasonMethod)
		m.CommitBatch(3)
		m.RunStarted("f")
		m.RunFinished("f", "succeeded")
		m.StepSettled("transform", "succeeded", time.Millisecond)
		m.StepRetried("http.request")
		m.LLMTokens("gpt-4o", 10, 5)
	})
	assert.NoError(t, m.CollectQueue(fakeQueue{}, nil))
	assert.Nil(t, m.Registry())
	ctx := context.Background()
	assert.Equal(t, ctx, m.WithNodeKind(ctx, "http.request"), "the context is left as it is")
	assert.Equal(t, http.DefaultTransport, m.Transport(nil))
	next := &http.Transport{}
	assert.Same(t, next, m.Transport(next), "the transport is not wrapped")
}

func TestCounters(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.WebhookReceived()
	m.WebhookReceived()
	m.WebhookAccepted()
	m.WebhookRejected(metrics.RejectReason(http.StatusUnauthorized))
	m.RunStarted("f1")
	m.RunFinished("f1", "failed")
	m.StepSettled("transform", "succeeded", 1500*time.Millisecond)
	m.StepRetried("http.request")
	m.CommitBatch(4)

	expected := `
# HELP hookflow_webhooks_received_total Requests to trigger URLs, counted as they arrive.
# TYPE hookflow_webhooks_received_total counter
hookflow_webhooks_received_total 2
# HELP hookflow_runs_finished_total Runs that ended, by flow and status: succeeded, failed or canceled.
# TYPE hookflow_runs_finished_total counter
hookflow_runs_finished_total{flow_id="f1",status="failed"} 1
# HELP hookflow_step_retries_total Failed attempts of a node that will be tried again, by node kind.
# TYPE hookflow_step_retries_total counter
hookflow_step_retries_total{kind="http.request"} 1
`
	require.NoError(t, testutil.GatherAndCompare(m.Registry(), strings.NewReader(expected),
		"hookflow_webhooks_received_total", "hookflow_runs_finished_total", "hookflow_step_retries_total"))
	families, err := m.Registry().Gather()
	require.NoError(t, err)
	for _, f := range families {
		switch f.GetName() {
		case "hookflow_step_duration_seconds":
			h := f.GetMetric()[0].GetHistogram()
			assert.Equal(t, uint64(1), h.GetSampleCount())
			assert.InDelta(t, 1.5, h.GetSampleSum(), 1e-9, "observed in seconds")
		case "hookflow_store_commit_batch_size":
			assert.InDelta(t, 4, f.GetMetric()[0].GetHistogram().GetSampleSum(), 1e-9)
		case "hookflow_webhooks_rejected_total":
			assert.Len(t, f.GetMetric(), 8, "every reason has its series, counted or not")
		}
	}
	// Each family's name and help text pass the linter Prometheus ships.
	problems, err := testutil.GatherAndLint(m.Registry())
	require.NoError(t, err)
	assert.Empty(t, problems)
}

// TestLLMTokens adds up the tokens of chat completions by model, prompt and
// completion apart.
func TestLLMTokens(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.LLMTokens("gpt-4o-mini-2024-07-18", 120, 30)
	m.LLMTokens("gpt-4o-mini-2024-07-18", 80, 12)
	m.LLMTokens("llama3.2", 40, 0)
	expected := `
# HELP hookflow_llm_tokens_total Tokens that llm.chat calls used, as the API reported them, by model and type: prompt or completion.
# TYPE hookflow_llm_tokens_total counter
hookflow_llm_tokens_total{model="gpt-4o-mini-2024-07-18",type="completion"} 42
hookflow_llm_tokens_total{model="gpt-4o-mini-2024-07-18",type="prompt"} 200
hookflow_llm_tokens_total{model="llama3.2",type="prompt"} 40
`
	require.NoError(t, testutil.GatherAndCompare(m.Registry(), strings.NewReader(expected), "hookflow_llm_tokens_total"))

	// A server may answer with any model name: past 100 of them, the
	// tokens count under "other", so the series stay bounded.
	for i := range 150 {
		m.LLMTokens(fmt.Sprintf("model-%d", i), 1, 0)
	}
	m.LLMTokens("llama3.2", 1, 0)
	families, err := m.Registry().Gather()
	require.NoError(t, err)
	prompts := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "hookflow_llm_tokens_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["type"] == "prompt" {
				prompts[labels["model"]] = s.GetCounter().GetValue()
			}
		}
	}
	assert.Len(t, prompts, 101, "100 models by name, then other")
	assert.InDelta(t, 52, prompts["other"], 0, "the 52 models past the cap")
	assert.InDelta(t, 41, prompts["llama3.2"], 0, "a model named before still counts by name")
	problems, err := testutil.GatherAndLint(m.Registry())
	require.NoError(t, err)
	assert.Empty(t, problems)
}

// TestTransportCounts sends requests through the counting transport: each
// is counted under the node kind its context carries and the class of its
// answer, or as an error when none came.
func TestTransportCounts(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/missing":
			http.NotFound(w, r)
		case "/broken":
			w.WriteHeader(http.StatusBadGateway)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	defer srv.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadAddr := closed.Addr().String()
	require.NoError(t, closed.Close())

	m := metrics.New()
	client := &http.Client{Transport: m.Transport(nil), Timeout: 5 * time.Second}
	get := func(kind, url string) {
		ctx := context.Background()
		if kind != "" {
			ctx = m.WithNodeKind(ctx, kind)
		}
		req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
		require.NoError(t, err)
		res, err := client.Do(req)
		if err == nil {
			res.Body.Close()
		}
	}
	get("http.request", srv.URL+"/ok")
	get("http.request", srv.URL+"/moved") // a 302, then a 200
	get("http.request", srv.URL+"/missing")
	get("slack.message", srv.URL+"/broken")
	get("discord.message", "http://"+deadAddr+"/")
	get("", srv.URL+"/ok")
	client.CloseIdleConnections() // reaches the wrapped transport

	expected := `
# HELP hookflow_outbound_requests_total HTTP requests made by action nodes, each redirect hop counted, by node kind and status class: 1xx to 5xx, error (no answer), other.
# TYPE hookflow_outbound_requests_total counter
hookflow_outbound_requests_total{kind="discord.message",status_class="error"} 1
hookflow_outbound_requests_total{kind="http.request",status_class="2xx"} 2
hookflow_outbound_requests_total{kind="http.request",status_class="3xx"} 1
hookflow_outbound_requests_total{kind="http.request",status_class="4xx"} 1
hookflow_outbound_requests_total{kind="slack.message",status_class="5xx"} 1
hookflow_outbound_requests_total{kind="unknown",status_class="2xx"} 1
`
	require.NoError(t, testutil.GatherAndCompare(m.Registry(), strings.NewReader(expected), "hookflow_outbound_requests_total"))
}

type fakeQueue struct {
	depth  int
	oldest time.Time
	err    error
}

func (q fakeQueue) QueueStats(ctx context.Context) (int, time.Time, error) {
	if _, ok := ctx.Deadline(); !ok {
		return 0, time.Time{}, errors.New("the query has no deadline")
	}
	return q.depth, q.oldest, q.err
}

func TestQueueCollector(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		queue   fakeQueue
		present bool
		depth   float64
		minAge  float64
		errors  float64
		maxAge  float64
	}{
		{name: "empty", queue: fakeQueue{}, present: true, depth: 0, minAge: 0, maxAge: 0},
		{name: "waiting", queue: fakeQueue{depth: 7, oldest: time.Now().Add(-90 * time.Second)}, present: true, depth: 7, minAge: 90, maxAge: 3600},
		{name: "available in the future", queue: fakeQueue{depth: 1, oldest: time.Now().Add(time.Hour)}, present: true, depth: 1, minAge: 0, maxAge: 0},
		{name: "failing", queue: fakeQueue{err: errors.New("database is locked")}, present: false, errors: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := metrics.New()
			require.NoError(t, m.CollectQueue(tt.queue, nil))
			families, err := m.Registry().Gather()
			require.NoError(t, err, "a failing query does not fail the scrape")
			got := map[string]float64{}
			for _, f := range families {
				if strings.HasPrefix(f.GetName(), "hookflow_queue_") {
					got[f.GetName()] = f.GetMetric()[0].GetGauge().GetValue() + f.GetMetric()[0].GetCounter().GetValue()
				}
			}
			assert.Equal(t, tt.errors, got["hookflow_queue_stats_errors_total"])
			if !tt.present {
				assert.NotContains(t, got, "hookflow_queue_depth")
				assert.NotContains(t, got, "hookflow_queue_oldest_age_seconds")
				return
			}
			assert.Equal(t, tt.depth, got["hookflow_queue_depth"])
			age := got["hookflow_queue_oldest_age_seconds"]
			assert.GreaterOrEqual(t, age, tt.minAge)
			assert.LessOrEqual(t, age, tt.maxAge)
		})
	}
	m := metrics.New()
	require.NoError(t, m.CollectQueue(fakeQueue{}, nil))
	assert.Error(t, m.CollectQueue(fakeQueue{}, nil), "the queue is collected once per registry")
}

// TestDocsListEverySeries keeps docs/metrics.md and the collectors in
// step: each series is documented, and each documented one exists.
func TestDocsListEverySeries(t *testing.T) {
	t.Parallel()
	text, err := os.ReadFile("../../docs/metrics.md")
	require.NoError(t, err)
	m := metrics.New()
	require.NoError(t, m.CollectQueue(fakeQueue{}, nil))
	require.NoError(t, m.CollectInFlight(func() (int, int64) { return 3, 1 << 20 }))
	m.RunStarted("f") // vectors show once they have a series
	m.RunFinished("f", "succeeded")
	m.StepSettled("transform", "succeeded", time.Millisecond)
	m.StepRetried("http.request")
	m.LLMTokens("gpt-4o", 10, 5)
	_, _ = m.Transport(failingTransport{}).RoundTrip(httptest.NewRequest("GET", "http://example.test/", nil))
	families, err := m.Registry().Gather()
	require.NoError(t, err)
	served := map[string]bool{}
	for _, f := range families {
		if name := f.GetName(); strings.HasPrefix(name, "hookflow_") {
			served[name] = true
			assert.Contains(t, string(text), "`"+name+"`", "docs/metrics.md lists %s", name)
		}
	}
	documented := regexp.MustCompile("\\| `(hookflow_[a-z_]+)` \\|").FindAllStringSubmatch(string(text), -1)
	require.NotEmpty(t, documented)
	for _, d := range documented {
		assert.True(t, served[d[1]], "docs/metrics.md lists %s, which is not served", d[1])
	}
}

type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("no network here")
}
