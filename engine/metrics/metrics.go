// Package metrics is Hookflow's Prometheus instrumentation: the collectors
// of the ingress, the store's group committer, the executor, outbound
// requests and the queue, on a registry of their own that GET /metrics
// serves.
//
// Components take a *Metrics as an optional option. Every method does
// nothing on a nil *Metrics, so code that runs without metrics (tests,
// `hookflow run`) needs no checks and pays next to nothing.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every Hookflow series.
const Namespace = "hookflow"

// Reasons a webhook is rejected, as the label values of
// hookflow_webhooks_rejected_total. The ingress records a free-text reason
// with each delivery; these few classes keep the label's cardinality fixed.
const (
	ReasonUnauthenticated  = "unauthenticated"   // 401: the signature or token did not verify
	ReasonUnknownTrigger   = "unknown_trigger"   // 404: no flow has the key, or it is inactive
	ReasonMethod           = "method"            // 405: the trigger does not take the method
	ReasonTooLarge         = "too_large"         // 413: the body is over the limit
	ReasonUnsupportedMedia = "unsupported_media" // 415: a content type Hookflow does not read
	ReasonBadBody          = "bad_body"          // 400: the body does not parse, or has no delivery id
	ReasonUnavailable      = "unavailable"       // 503: shutting down, or the database cannot store it
	ReasonOther            = "other"             // any other refusal
)

// rejectReasons lists every reason, so each series exists (at zero) from the
// start: a rate over a series that appears with its first increment misses
// that increment.
var rejectReasons = []string{
	ReasonUnauthenticated, ReasonUnknownTrigger, ReasonMethod, ReasonTooLarge,
	ReasonUnsupportedMedia, ReasonBadBody, ReasonUnavailable, ReasonOther,
}

// RejectReason classes a refused webhook by the status it was answered with.
func RejectReason(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return ReasonUnauthenticated
	case http.StatusNotFound:
		return ReasonUnknownTrigger
	case http.StatusMethodNotAllowed:
		return ReasonMethod
	case http.StatusRequestEntityTooLarge:
		return ReasonTooLarge
	case http.StatusUnsupportedMediaType:
		return ReasonUnsupportedMedia
	case http.StatusBadRequest:
		return ReasonBadBody
	case http.StatusServiceUnavailable:
		return ReasonUnavailable
	}
	return ReasonOther
}

// StatusClass classes an outbound request's result: "2xx" … "5xx" by the
// answer's status, "error" when no answer came (refused, unreachable, timed
// out), "other" for a status outside 100–599.
func StatusClass(status int, err error) string {
	switch {
	case err != nil:
		return "error"
	case status >= 100 && status < 200:
		return "1xx"
	case status >= 200 && status < 300:
		return "2xx"
	case status >= 300 && status < 400:
		return "3xx"
	case status >= 400 && status < 500:
		return "4xx"
	case status >= 500 && status < 600:
		return "5xx"
	}
	return "other"
}

// stepBuckets span a pure step's microseconds to an action's timeout (five
// minutes by default), in seconds.
var stepBuckets = []float64{0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}

// Metrics holds Hookflow's collectors and the registry they are on.
type Metrics struct {
	registry *prometheus.Registry

	webhooksReceived  prometheus.Counter
	webhooksAccepted  prometheus.Counter
	webhooksDuplicate prometheus.Counter
	webhooksCaptured  prometheus.Counter
	webhooksRejected  *prometheus.CounterVec

	commitBatch prometheus.Histogram

	runsStarted  *prometheus.CounterVec
	runsFinished *prometheus.CounterVec
	stepDuration *prometheus.HistogramVec
	stepRetries  *prometheus.CounterVec

	outbound *prometheus.CounterVec

	llmTokens *prometheus.CounterVec
	// brokerMessages counts the messages broker triggers took.
	brokerMessages *prometheus.CounterVec
	// llmModels are the model labels llmTokens has: the names servers
	// answer with are theirs to choose, so their number is capped.
	llmModelsMu sync.Mutex
	llmModels   map[string]bool
}

// maxLLMModels is how many models hookflow_llm_tokens_total names; the
// tokens of any further model count under "other".
const maxLLMModels = 100

// New returns Hookflow's collectors, with the Go runtime's and the
// process's, on a new registry.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		webhooksReceived: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "webhooks_received_total",
			Help: "Requests to trigger URLs, counted as they arrive.",
		}),
		webhooksAccepted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "webhooks_accepted_total",
			Help: "Webhooks stored with a queued run and answered 2xx (or with the run's answer).",
		}),
		webhooksDuplicate: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "webhooks_duplicate_total",
			Help: "Webhooks whose delivery id was seen within the trigger's dedupe window; they start no run.",
		}),
		webhooksCaptured: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "webhooks_captured_total",
			Help: "Webhooks to an inactive flow captured as a test event for the editor; they start no run.",
		}),
		webhooksRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "webhooks_rejected_total",
			Help: "Webhooks refused, by reason: unauthenticated, unknown_trigger, method, too_large, unsupported_media, bad_body, unavailable, other.",
		}, []string{"reason"}),
		commitBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "store_commit_batch_size",
			Help: "Writes (deliveries, runs, step checkpoints) that the group committer put in each committed transaction.",
			// The committer takes at most 256 writes per transaction.
			Buckets: prometheus.ExponentialBuckets(1, 2, 9),
		}),
		runsStarted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "runs_started_total",
			Help: "Runs whose first execution began, by flow.",
		}, []string{"flow_id"}),
		runsFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "runs_finished_total",
			Help: "Runs that ended, by flow and status: succeeded, failed or canceled.",
		}, []string{"flow_id", "status"}),
		stepDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "step_duration_seconds",
			Help:    "Time an attempt of a node took, by node kind and status: succeeded or failed.",
			Buckets: stepBuckets,
		}, []string{"kind", "status"}),
		stepRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "step_retries_total",
			Help: "Failed attempts of a node that will be tried again, by node kind.",
		}, []string{"kind"}),
		outbound: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "outbound_requests_total",
			Help: "HTTP requests made by action nodes, each redirect hop counted, by node kind and status class: 1xx to 5xx, error (no answer), other.",
		}, []string{"kind", "status_class"}),
		llmTokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "llm_tokens_total",
			Help: "Tokens that llm.chat calls used, as the API reported them, by model and type: prompt or completion.",
		}, []string{"model", "type"}),
		brokerMessages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "broker_messages_total",
			Help: "Messages broker triggers took, by broker (rabbitmq, nats, mqtt, redis) and outcome: accepted, duplicate or refused.",
		}, []string{"broker", "outcome"}),
	}
	for _, reason := range rejectReasons {
		m.webhooksRejected.WithLabelValues(reason)
	}
	for _, broker := range []string{"rabbitmq", "nats", "mqtt", "redis"} {
		for _, outcome := range []string{"accepted", "duplicate", "refused"} {
			m.brokerMessages.WithLabelValues(broker, outcome)
		}
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.webhooksReceived, m.webhooksAccepted, m.webhooksDuplicate, m.webhooksCaptured, m.webhooksRejected,
		m.commitBatch, m.runsStarted, m.runsFinished, m.stepDuration, m.stepRetries, m.outbound, m.llmTokens,
		m.brokerMessages,
	)
	return m
}

// Registry is the registry the collectors are on, for adding others.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.registry
}

// Handler serves the registry in the Prometheus exposition format. A
// collector that fails leaves its series out; the others are served.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// WebhookReceived counts a request to a trigger URL as it arrives.
func (m *Metrics) WebhookReceived() {
	if m == nil {
		return
	}
	m.webhooksReceived.Inc()
}

// WebhookAccepted counts a webhook stored with its queued run.
func (m *Metrics) WebhookAccepted() {
	if m == nil {
		return
	}
	m.webhooksAccepted.Inc()
}

// WebhookDuplicate counts a webhook found a duplicate of an earlier one.
func (m *Metrics) WebhookDuplicate() {
	if m == nil {
		return
	}
	m.webhooksDuplicate.Inc()
}

// WebhookCaptured counts a webhook captured as a test event.
func (m *Metrics) WebhookCaptured() {
	if m == nil {
		return
	}
	m.webhooksCaptured.Inc()
}

// WebhookRejected counts a refused webhook under its reason, one of the
// Reason constants (RejectReason gives it from the answer's status).
func (m *Metrics) WebhookRejected(reason string) {
	if m == nil {
		return
	}
	m.webhooksRejected.WithLabelValues(reason).Inc()
}

// CommitBatch observes how many writes a committed transaction of the
// store's group committer held.
func (m *Metrics) CommitBatch(size int) {
	if m == nil {
		return
	}
	m.commitBatch.Observe(float64(size))
}

// RunStarted counts a run whose first execution begins.
func (m *Metrics) RunStarted(flowID string) {
	if m == nil {
		return
	}
	m.runsStarted.WithLabelValues(flowID).Inc()
}

// RunFinished counts a run that ended with status (succeeded, failed or
// canceled).
func (m *Metrics) RunFinished(flowID, status string) {
	if m == nil {
		return
	}
	m.runsFinished.WithLabelValues(flowID, status).Inc()
}

// StepSettled observes an attempt of a node of kind that ended with status
// (succeeded or failed) after d.
func (m *Metrics) StepSettled(kind, status string, d time.Duration) {
	if m == nil {
		return
	}
	m.stepDuration.WithLabelValues(kind, status).Observe(d.Seconds())
}

// StepRetried counts a failed attempt of a node of kind that will be tried
// again.
func (m *Metrics) StepRetried(kind string) {
	if m == nil {
		return
	}
	m.stepRetries.WithLabelValues(kind).Inc()
}

// llmModel is the label of a model: itself while fewer than maxLLMModels
// are named (and it is at most 100 bytes of valid UTF-8), else "other".
func (m *Metrics) llmModel(model string) string {
	if len(model) > 100 || !utf8.ValidString(model) {
		return "other"
	}
	m.llmModelsMu.Lock()
	defer m.llmModelsMu.Unlock()
	if m.llmModels[model] {
		return model
	}
	if len(m.llmModels) >= maxLLMModels {
		return "other"
	}
	if m.llmModels == nil {
		m.llmModels = map[string]bool{}
	}
	m.llmModels[model] = true
	return model
}

// LLMTokens counts the tokens a chat completion used, as its answer's usage
// reported them: prompt tokens read and completion tokens written by model.
// It has the shape of nodes.Services.Tokens, which serve sets to it.
func (m *Metrics) LLMTokens(model string, prompt, completion int64) {
	if m == nil {
		return
	}
	model = m.llmModel(model)
	if prompt > 0 {
		m.llmTokens.WithLabelValues(model, "prompt").Add(float64(prompt))
	}
	if completion > 0 {
		m.llmTokens.WithLabelValues(model, "completion").Add(float64(completion))
	}
}

// CollectQueue adds the queue's depth and the age of its oldest due run,
// read from q at every scrape. A read that fails or takes longer than a
// couple of seconds leaves the two series out of that scrape, is logged,
// and counts in hookflow_queue_stats_errors_total.
func (m *Metrics) CollectQueue(q QueueReader, log *slog.Logger) error {
	if m == nil {
		return nil
	}
	return m.registry.Register(newQueueCollector(q, log, queueStatsTimeout))
}

// CollectInFlight adds the runs this instance's engine holds, and the
// memory they are counted as holding, read from inFlight at every scrape.
func (m *Metrics) CollectInFlight(inFlight func() (runs int, memory int64)) error {
	if m == nil {
		return nil
	}
	runs := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "runs_in_flight",
		Help: "Runs this instance executes now, those waiting on the network, a commit or a short wait included.",
	}, func() float64 {
		n, _ := inFlight()
		return float64(n)
	})
	memory := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "runs_in_flight_memory_bytes",
		Help: "The memory the runs in flight are counted as holding, estimated from their trigger data; at HOOKFLOW_IN_FLIGHT_MEMORY the instance takes on no more.",
	}, func() float64 {
		_, b := inFlight()
		return float64(b)
	})
	for _, c := range []prometheus.Collector{runs, memory} {
		if err := m.registry.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// nodeKindKey is the context key of the node kind an outbound request is
// made for.
type nodeKindKey struct{}

// WithNodeKind marks ctx as a step of a node of kind, so the outbound
// requests made with it are counted under that kind. On a nil *Metrics it
// returns ctx as it is.
func (m *Metrics) WithNodeKind(ctx context.Context, kind string) context.Context {
	if m == nil {
		return ctx
	}
	return context.WithValue(ctx, nodeKindKey{}, kind)
}

// nodeKindOf is the kind WithNodeKind put in ctx, or "unknown".
func nodeKindOf(ctx context.Context) string {
	if kind, ok := ctx.Value(nodeKindKey{}).(string); ok && kind != "" {
		return kind
	}
	return "unknown"
}

// BrokerMessage counts a message a broker trigger took, by its outcome:
// accepted, duplicate or refused.
func (m *Metrics) BrokerMessage(broker, outcome string) {
	if m == nil {
		return
	}
	m.brokerMessages.WithLabelValues(broker, outcome).Inc()
}
