package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// fakeCredentials opens credentials from a map, as the credential service
// would once they are stored.
type fakeCredentials map[string]*nodes.Credential

func (f fakeCredentials) Open(_ context.Context, name string) (*nodes.Credential, error) {
	if c, ok := f[name]; ok {
		return c, nil
	}
	return nil, fmt.Errorf("open %s: %w", name, nodes.ErrNoCredential)
}

// recorder is a fake API that answers with a scripted list of statuses and
// keeps what it was sent.
type recorder struct {
	mu       sync.Mutex
	statuses []int
	header   http.Header // added to every answer
	requests []*http.Request
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	n := len(r.requests)
	r.requests = append(r.requests, req)
	status := http.StatusOK
	if n < len(r.statuses) {
		status = r.statuses[n]
	}
	r.mu.Unlock()
	for k, v := range r.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"attempt": %d, "authorization": %q}`, n+1, req.Header.Get("Authorization"))
}

func (r *recorder) last() *http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests[len(r.requests)-1]
}

func (r *recorder) keys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var keys []string
	for _, req := range r.requests {
		keys = append(keys, req.Header.Get("Idempotency-Key"))
	}
	return keys
}

func actionServices(creds fakeCredentials) *nodes.Services {
	return &nodes.Services{Credentials: creds, HTTP: &http.Client{Timeout: 10 * time.Second}}
}

func callFlow(url, extra string) string {
	return `{"name": "call", "nodes": [
		{"id": "hook", "type": "trigger.webhook"},
		{"id": "call", "type": "http.request", "params": {"method": "POST", "url": "` + url + `", "body": {"n": "{{ trigger.body.n }}"}}` + extra + `}],
		"edges": [{"from": "hook", "to": "call"}]}`
}

func TestHTTPRequestRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		statuses []int
		header   http.Header
		retry    string
		want     string
		requests int
	}{
		{
			name: "5xx is retried, with one idempotency key", statuses: []int{503, 502}, retry: `, "retry": {"max_attempts": 3, "backoff_ms": 10}`,
			want: "succeeded", requests: 3,
		},
		{
			name: "4xx is final", statuses: []int{422, 200}, retry: `, "retry": {"max_attempts": 3, "backoff_ms": 10}`,
			want: "failed", requests: 1,
		},
		{
			name: "actions retry three times by default", statuses: []int{429, 429, 429, 200}, header: http.Header{"Retry-After": {"0"}},
			want: "failed", requests: 3,
		},
		{
			name: "no retry when the policy says one attempt", statuses: []int{500, 200}, retry: `, "retry": {"max_attempts": 1}`,
			want: "failed", requests: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := &recorder{statuses: tt.statuses, header: tt.header}
			srv := httptest.NewServer(api)
			defer srv.Close()
			h := newHarness(t)
			e := h.engineFor(t, storetest.Open(t, store.DialectSQLite), Options{Services: actionServices(nil)})

			run := waitRun(t, e, startRun(t, e, callFlow(srv.URL, tt.retry), `{"n": 7}`).ID)
			assert.Equal(t, tt.want, run.Status, run.Error)
			keys := api.keys()
			require.Len(t, keys, tt.requests)
			assert.NotEmpty(t, keys[0])
			for _, k := range keys {
				assert.Equal(t, keys[0], k, "every attempt of a step sends the same key")
			}

			// Another run of the same flow sends a key of its own.
			waitRun(t, e, startRun(t, e, callFlow(srv.URL, tt.retry), `{"n": 8}`).ID)
			assert.NotEqual(t, keys[0], api.keys()[len(keys)], "a new run is a new request")
		})
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	api := &recorder{statuses: []int{429}, header: http.Header{"Retry-After": {"1"}}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	e := newHarness(t).engineFor(t, storetest.Open(t, store.DialectSQLite), Options{Services: actionServices(nil)})

	run := waitRun(t, e, startRun(t, e, callFlow(srv.URL, ""), `{"n": 1}`).ID)
	require.Equal(t, store.RunSucceeded, run.Status, run.Error)
	steps, err := e.store.ListSteps(context.Background(), run.ID)
	require.NoError(t, err)
	var failed *store.Step
	for _, s := range steps {
		if s.NodeID == "call" && s.Status == store.StepFailed {
			failed = s
		}
	}
	require.NotNil(t, failed, "the 429 is recorded as a failed attempt")
	require.NotNil(t, failed.ResumeAt)
	assert.GreaterOrEqual(t, failed.ResumeAt.Sub(failed.StartedAt), time.Second, "the retry waits as Retry-After says")
	assert.Contains(t, failed.Error, "429")
}

// TestRecordsNeverHoldSecrets runs a flow whose steps see secrets: an API
// that echoes the bearer token back, a step that copies it onward, and a
// Slack webhook URL (itself a secret) that fails to connect, so the error
// names the URL. No record may hold either secret.
func TestRecordsNeverHoldSecrets(t *testing.T) {
	t.Parallel()
	const token = "tok_live_4eC39HqLyjWDarjtT1zdp7dc"
	const hookToken = "XYZsecretHookToken1234"
	api := &recorder{}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close) // after the parallel subtests
	creds := fakeCredentials{
		"api": {Name: "api", Type: nodes.CredentialHTTPBearer, Data: map[string]any{"token": token}, Secrets: []string{token}},
		// Port 1 on loopback refuses connections.
		"slack": {Name: "slack", Type: nodes.CredentialSlack, Secrets: []string{"http://127.0.0.1:1/services/T000/B000/" + hookToken},
			Data: map[string]any{"webhook_url": "http://127.0.0.1:1/services/T000/B000/" + hookToken}},
	}
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			e := newHarness(t).engineFor(t, storetest.Open(t, dialect), Options{Services: actionServices(creds)})
			doc := `{"name": "secrets", "nodes": [
				{"id": "hook", "type": "trigger.webhook"},
				{"id": "call", "type": "http.request", "params": {"url": "` + srv.URL + `/echo", "credential": "api"}},
				{"id": "copy", "type": "transform", "params": {"fields": {"auth": "steps.call.body.authorization"}}},
				{"id": "notify", "type": "slack.message", "params": {"credential": "slack", "text": "{{ input.auth }}"},
				 "retry": {"max_attempts": 1}, "on_error": "continue"}],
				"edges": [{"from": "hook", "to": "call"}, {"from": "call", "to": "copy"}, {"from": "copy", "to": "notify"}]}`
			run := waitRun(t, e, startRun(t, e, doc, `{}`).ID)
			require.Equal(t, store.RunSucceeded, run.Status, run.Error)
			require.Equal(t, "Bearer "+token, api.last().Header.Get("Authorization"), "the request itself carries the token")

			steps, err := e.store.ListSteps(context.Background(), run.ID)
			require.NoError(t, err)
			var all strings.Builder
			for _, s := range steps {
				fmt.Fprintf(&all, "%s %s %s %s %s\n", s.Input, s.Output, s.Error, s.Logs, s.NodeID)
				for _, data := range [][]byte{s.Input, s.Output, s.Logs} {
					if len(data) > 0 {
						assert.True(t, json.Valid(data), "redaction keeps records valid JSON: %s", data)
					}
				}
			}
			fmt.Fprintf(&all, "%s\n", run.Error)
			text := all.String()
			assert.NotContains(t, text, token)
			assert.NotContains(t, text, hookToken)
			assert.Contains(t, text, `"auth":"Bearer [redacted]"`, "the copied token is redacted in the transform's output")
			assert.Contains(t, text, "connection refused", "the Slack step failed to connect, and says so")
		})
	}
}
