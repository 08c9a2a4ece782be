package engine

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/hookflow/hookflow/engine/webhook"
	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// verifyingReceiver checks each webhook's Standard Webhooks signature with
// the ingress's own verifier, answering 401 when it does not match and the
// scripted status when it does.
type verifyingReceiver struct {
	secret   string
	mu       sync.Mutex
	statuses []int
	ids      []string
	refused  int
}

func (r *verifyingReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	err := webhook.Verify(&nodes.VerifyParams{Scheme: nodes.SchemeStandardWebhooks, ToleranceS: 300}, webhook.Secret{Secret: r.secret},
		&webhook.Request{Header: req.Header, Body: body}, time.Now())
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.refused++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	status := http.StatusNoContent
	if len(r.ids) < len(r.statuses) {
		status = r.statuses[len(r.ids)]
	}
	r.ids = append(r.ids, req.Header.Get("webhook-id"))
	w.WriteHeader(status)
}

func TestWebhookSendIsVerifiedAndRetried(t *testing.T) {
	t.Parallel()
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	creds := fakeCredentials{"partner": {Name: "partner", Type: nodes.CredentialSecret, Data: map[string]any{"secret": secret}, Secrets: []string{secret}}}
	flow := func(url string) string {
		return `{"name": "send", "nodes": [
			{"id": "hook", "type": "trigger.manual"},
			{"id": "notify", "type": "webhook.send", "params": {"url": "` + url + `", "credential": "partner",
				"body": {"type": "order.paid", "order": "{{ trigger.body.order }}"}, "retry_schedule_ms": [10, 10]}}],
			"edges": [{"from": "hook", "to": "notify"}]}`
	}
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			e := newHarness(t).engineFor(t, storetest.Open(t, dialect), Options{Services: actionServices(creds)})

			rec := &verifyingReceiver{secret: secret, statuses: []int{500, 503}}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			run := waitRun(t, e, startRun(t, e, flow(srv.URL), `{"order": 42}`).ID)
			assert.Equal(t, `status: succeeded
steps:
  hook             1 succeeded port=""
  notify           1 failed retried error="the receiver answered 500 Internal Server Error" log="sending"
  notify           2 failed retried error="the receiver answered 503 Service Unavailable" log="sending"
  notify           3 succeeded port="" output={"attempt":3,"body":null,"id":"msg_`+rec.ids[0][4:]+`","status":204} log="sending"
`, trace(t, e, run))
			assert.Zero(t, rec.refused, "every attempt is signed as the receiver checks")
			assert.Equal(t, []string{rec.ids[0], rec.ids[0], rec.ids[0]}, rec.ids, "one webhook-id across the attempts")

			gone := &verifyingReceiver{secret: secret, statuses: []int{410}}
			srv2 := httptest.NewServer(gone)
			defer srv2.Close()
			run = waitRun(t, e, startRun(t, e, flow(srv2.URL), `{"order": 43}`).ID)
			assert.Equal(t, store.RunFailed, run.Status)
			assert.Contains(t, run.Error, "410 Gone: it takes no more webhooks at this URL")
			assert.Len(t, gone.ids, 1, "410 stops the retries")
		})
	}
}

// TestScheduledRetriesWaitLongerThanRetryAfter holds the executor to a
// node's own schedule: a wait of hours is kept (in the queue), where a
// server's Retry-After is capped at MaxRetryAfter.
func TestScheduledRetriesWaitLongerThanRetryAfter(t *testing.T) {
	t.Parallel()
	w := &walker{}
	n := &PlanNode{Def: &Node{}, Kind: &nodes.Kind{Spec: nodes.Spec{Attempts: 10}}}
	scheduled, retry := w.retryDelay(n, nodes.RetryScheduled(10*time.Hour, io.EOF), 1)
	assert.True(t, retry)
	assert.Equal(t, 10*time.Hour, scheduled)
	asked, retry := w.retryDelay(n, nodes.RetryAfter(10*time.Hour, io.EOF), 1)
	assert.True(t, retry)
	assert.Equal(t, MaxRetryAfter, asked)
}
