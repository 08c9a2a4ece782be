package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/engine/metrics"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// scrape is one read of GET /metrics, parsed.
type scrape map[string]*dto.MetricFamily

// scrapeMetrics reads GET /metrics without a token, as Prometheus does.
func (f *fixture) scrapeMetrics() scrape {
	f.t.Helper()
	res, err := f.app.Test(httptest.NewRequest("GET", "/metrics", nil), -1)
	require.NoError(f.t, err)
	defer res.Body.Close()
	require.Equal(f.t, http.StatusOK, res.StatusCode)
	require.True(f.t, strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain"), res.Header.Get("Content-Type"))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(res.Body)
	require.NoError(f.t, err)
	return families
}

// sample finds the series of a family whose labels include want; nil if
// there is none.
func (s scrape) sample(name string, want map[string]string) *dto.Metric {
	family := s[name]
	if family == nil {
		return nil
	}
series:
	for _, m := range family.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue series
			}
		}
		return m
	}
	return nil
}

// value is a counter's or gauge's value; 0 for a series that is not there.
func (s scrape) value(name string, labels map[string]string) float64 {
	m := s.sample(name, labels)
	switch {
	case m == nil:
		return 0
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}

// sum adds up every series of a counter family.
func (s scrape) sum(name string) float64 {
	total := 0.0
	for _, m := range s[name].GetMetric() {
		total += m.GetCounter().GetValue()
	}
	return total
}

// histogram returns a histogram series' count and sum.
func (s scrape) histogram(name string, labels map[string]string) (uint64, float64) {
	m := s.sample(name, labels)
	if m == nil || m.Histogram == nil {
		return 0, 0
	}
	return m.Histogram.GetSampleCount(), m.Histogram.GetSampleSum()
}

// metricsFixture is the API over a database opened with the store's
// batch-size hook wired to the app's metrics, as hookflow serve does.
func metricsFixture(t *testing.T, dialect string, start bool) (*fixture2, *store.DB) {
	t.Helper()
	ctx := context.Background()
	m := metrics.New()
	opts := storetest.Options(t, dialect)
	opts.OnCommitBatch = m.CommitBatch
	db, err := store.Open(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.Migrate(ctx)
	require.NoError(t, err)
	require.NoError(t, api.EnsureAdminToken(ctx, db, testToken))
	return &fixture2{&fixture{t: t, app: buildApp(t, db, m, start), store: db}}, db
}

// TestMetricsCountRealTraffic sends webhooks of every outcome through the
// app, lets the flow run a transform and an HTTP call that fails once, and
// checks what GET /metrics says of it.
func TestMetricsCountRealTraffic(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if calls.Add(1) == 1 {
					http.Error(w, "try later", http.StatusServiceUnavailable)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"ok": true}`)
			}))
			defer upstream.Close()

			f, _ := metricsFixture(t, dialect, true)
			before := f.scrapeMetrics()
			require.NotNil(t, before["go_goroutines"], "the Go runtime is collected")
			assert.Positive(t, before.value("go_goroutines", nil))
			assert.NotNil(t, before["process_start_time_seconds"], "the process is collected")
			assert.Zero(t, before.value("hookflow_webhooks_received_total", nil))
			assert.NotNil(t, before.sample("hookflow_webhooks_rejected_total", map[string]string{"reason": "unauthenticated"}),
				"each rejection reason is there from the start, at zero")

			f.credential("gh", "secret", `{"secret": "It's a Secret to Everybody"}`)
			flowID, url := f.activeFlow(`{"name": "metered", "nodes": [
				{"id": "hook", "type": "trigger.webhook", "params": {"verify": {"scheme": "github", "credential": "gh"}}},
				{"id": "shape", "type": "transform", "params": {"fields": {"ref": "trigger.body.ref"}}},
				{"id": "call", "type": "http.request", "params": {"method": "POST", "url": "` + upstream.URL + `/notify"},
				 "retry": {"max_attempts": 3, "backoff_ms": 0, "max_backoff_ms": 1}}],
				"edges": [{"from": "hook", "to": "shape"}, {"from": "shape", "to": "call"}]}`)

			body, header := senderFixture(t, "github-push.json", "github-push.headers")
			status, _, answer := f.post("POST", url, header, body)
			require.Equal(t, http.StatusAccepted, status, "%s", answer)
			var taken struct {
				RunID string `json:"run_id"`
			}
			require.NoError(t, json.Unmarshal(answer, &taken))
			status, _, answer = f.post("POST", url, header, body)
			require.Equal(t, http.StatusOK, status, "the same delivery again is a duplicate: %s", answer)
			tampered := append(bytes.Clone(body), ' ')
			status, _, _ = f.post("POST", url, header, tampered)
			require.Equal(t, http.StatusUnauthorized, status)
			status, _, _ = f.post("GET", url, nil, nil)
			require.Equal(t, http.StatusMethodNotAllowed, status)
			status, _, _ = f.post("POST", publicURL+"/hooks/nosuchkey", header, body)
			require.Equal(t, http.StatusNotFound, status)
			const sent = 5

			run := f.runOf(taken.RunID)
			require.Equal(t, "succeeded", run["status"], "%v", run)
			kinds := map[string]string{"hook": "trigger.webhook", "shape": "transform", "call": "http.request"}
			type key struct{ kind, status string }
			stepsRun := map[key]uint64{}
			for _, s := range run["steps"].([]any) {
				step := s.(map[string]any)
				stepsRun[key{kinds[step["node_id"].(string)], step["status"].(string)}]++
			}
			require.Equal(t, uint64(1), stepsRun[key{"http.request", "failed"}], "the call failed once: %v", stepsRun)

			// The run's end is counted once it is durable, a moment after
			// the API shows it.
			var after scrape
			require.Eventually(t, func() bool {
				after = f.scrapeMetrics()
				return after.value("hookflow_runs_finished_total", map[string]string{"flow_id": flowID, "status": "succeeded"}) == 1
			}, 10*time.Second, 20*time.Millisecond)

			received := after.value("hookflow_webhooks_received_total", nil)
			accepted := after.value("hookflow_webhooks_accepted_total", nil)
			duplicate := after.value("hookflow_webhooks_duplicate_total", nil)
			rejected := after.sum("hookflow_webhooks_rejected_total")
			assert.Equal(t, float64(sent), received)
			assert.Equal(t, received, accepted+rejected+duplicate, "every request has exactly one outcome")
			assert.Equal(t, 1.0, accepted)
			assert.Equal(t, 1.0, duplicate)
			assert.Equal(t, 3.0, rejected)
			assert.Zero(t, after.value("hookflow_webhooks_captured_total", nil))
			for reason, want := range map[string]float64{"unauthenticated": 1, "method": 1, "unknown_trigger": 1, "too_large": 0, "unavailable": 0} {
				assert.Equal(t, want, after.value("hookflow_webhooks_rejected_total", map[string]string{"reason": reason}), reason)
			}

			batches, writes := after.histogram("hookflow_store_commit_batch_size", nil)
			assert.Positive(t, batches, "the committer's transactions are observed")
			assert.GreaterOrEqual(t, writes, float64(batches), "each holds at least one write")

			assert.Equal(t, 1.0, after.value("hookflow_runs_started_total", map[string]string{"flow_id": flowID}))
			assert.Nil(t, after.sample("hookflow_runs_finished_total", map[string]string{"flow_id": flowID, "status": "failed"}))

			for k, n := range stepsRun {
				count, sum := after.histogram("hookflow_step_duration_seconds", map[string]string{"kind": k.kind, "status": k.status})
				assert.Equal(t, n, count, "steps of %s that %s", k.kind, k.status)
				assert.GreaterOrEqual(t, sum, 0.0)
				assert.Less(t, sum, 60.0, "durations are in seconds")
			}
			count, _ := after.histogram("hookflow_step_duration_seconds", map[string]string{"kind": "transform", "status": "succeeded"})
			assert.Equal(t, uint64(1), count, "one transform step ran")

			assert.Equal(t, 1.0, after.value("hookflow_step_retries_total", map[string]string{"kind": "http.request"}))
			assert.Equal(t, 1.0, after.value("hookflow_outbound_requests_total", map[string]string{"kind": "http.request", "status_class": "5xx"}))
			assert.Equal(t, 1.0, after.value("hookflow_outbound_requests_total", map[string]string{"kind": "http.request", "status_class": "2xx"}))
			assert.Equal(t, 2.0, after.sum("hookflow_outbound_requests_total"), "the upstream was called twice")

			assert.Zero(t, after.value("hookflow_queue_depth", nil), "the run was taken and finished")
			assert.NotNil(t, after.sample("hookflow_queue_oldest_age_seconds", nil))
			assert.Zero(t, after.value("hookflow_queue_stats_errors_total", nil))
		})
	}
}

// TestMetricsReadTheQueue posts webhooks to an app whose engine is not
// running: their runs stay queued, and the scrape reads the queue.
func TestMetricsReadTheQueue(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			f, db := metricsFixture(t, dialect, false)
			_, url := f.activeFlow(`{"name": "waits", "nodes": [{"id": "hook", "type": "trigger.webhook",
				"params": {"dedupe_window_ms": 0}}], "edges": []}`)
			posted := time.Now()
			for i := range 3 {
				status, _, body := f.post("POST", url, http.Header{"Content-Type": {"application/json"}}, fmt.Appendf(nil, `{"n": %d}`, i))
				require.Equal(t, http.StatusAccepted, status, "%s", body)
			}
			got := f.scrapeMetrics()
			assert.Equal(t, 3.0, got.value("hookflow_queue_depth", nil))
			age := got.value("hookflow_queue_oldest_age_seconds", nil)
			assert.GreaterOrEqual(t, age, 0.0)
			assert.LessOrEqual(t, age, time.Since(posted).Seconds()+1, "the oldest run waits since it was posted")
			assert.Zero(t, got.value("hookflow_runs_started_total", nil), "nothing ran")

			// A database that does not answer leaves the queue out of the
			// scrape; the rest is served.
			require.NoError(t, db.Close())
			got = f.scrapeMetrics()
			assert.Nil(t, got["hookflow_queue_depth"])
			assert.Nil(t, got["hookflow_queue_oldest_age_seconds"])
			assert.Equal(t, 1.0, got.value("hookflow_queue_stats_errors_total", nil))
			assert.NotNil(t, got["go_goroutines"])
			assert.Equal(t, 3.0, got.value("hookflow_webhooks_accepted_total", nil))
		})
	}
}
