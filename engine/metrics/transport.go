package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
)

// Transport wraps next, the transport of the action nodes' HTTP client, to
// count each request it sends by node kind and status class. It dials
// nothing itself: next, with the SSRF guard's dialer, still does. On a nil
// *Metrics it returns next; a nil next is http.DefaultTransport.
func (m *Metrics) Transport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	if m == nil {
		return next
	}
	return &countingTransport{next: next, requests: m.outbound}
}

// countingTransport counts the requests of an http.Client. The client calls
// it once per hop, so a redirect and its target count as two requests.
type countingTransport struct {
	next     http.RoundTripper
	requests *prometheus.CounterVec
}

var _ http.RoundTripper = (*countingTransport)(nil)

// RoundTrip implements http.RoundTripper.
func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	t.requests.WithLabelValues(nodeKindOf(req.Context()), StatusClass(status, err)).Inc()
	return resp, err
}

// CloseIdleConnections passes http.Client.CloseIdleConnections on: the
// client only reaches a transport that has the method.
func (t *countingTransport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
