package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// queueStatsTimeout bounds the queue query of a scrape: a slow database
// must not hold the scrape up until Prometheus gives up on all of it.
const queueStatsTimeout = 2 * time.Second

// QueueReader reads the queue: how many queued runs are due (their
// available_at has passed) and when the one due longest became available.
// store.Store is one.
type QueueReader interface {
	QueueStats(ctx context.Context) (depth int, oldest time.Time, err error)
}

// queueCollector reads the queue at scrape time: the queue is the runs
// table, shared by every instance, so no instance can count it as it goes.
type queueCollector struct {
	queue   QueueReader
	log     *slog.Logger
	timeout time.Duration
	depth   *prometheus.Desc
	age     *prometheus.Desc
	errors  prometheus.Counter
}

var _ prometheus.Collector = (*queueCollector)(nil)

func newQueueCollector(q QueueReader, log *slog.Logger, timeout time.Duration) *queueCollector {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &queueCollector{
		queue: q, log: log, timeout: timeout,
		depth: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "queue", "depth"),
			"Queued runs that are due (available_at has passed), waiting for a worker; the same on every instance sharing the database.",
			nil, nil),
		age: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "queue", "oldest_age_seconds"),
			"How long the queued run due longest has been waiting since it became available; 0 when none is due.",
			nil, nil),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "queue_stats_errors_total",
			Help: "Scrapes whose queue query failed or timed out; those scrapes leave out hookflow_queue_depth and hookflow_queue_oldest_age_seconds.",
		}),
	}
}

// Describe implements prometheus.Collector.
func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.age
	c.errors.Describe(ch)
}

// Collect implements prometheus.Collector. Collect has no context of its
// own: the query gets a fresh one, bounded by the timeout.
func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	defer c.errors.Collect(ch)
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	depth, oldest, err := c.queue.QueueStats(ctx)
	if err != nil {
		// A failed sample is left out rather than reported as 0, which
		// would read as an empty queue.
		c.errors.Inc()
		c.log.Warn("read the queue for metrics", "error", err)
		return
	}
	age := 0.0
	if depth > 0 && !oldest.IsZero() {
		age = max(0, time.Since(oldest).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(depth))
	ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, age)
}
