package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServeGuardsOutboundRequests runs the real server: by default an
// http.request to a loopback API fails for good, naming why; with the
// API's host on HOOKFLOW_ALLOWED_HOSTS it goes through.
func TestServeGuardsOutboundRequests(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok": true}`))
	}))
	defer api.Close()
	port := api.URL[strings.LastIndex(api.URL, ":")+1:]
	flow := func(host string) string {
		return fmt.Sprintf(`{"name": "call", "nodes": [
			{"id": "hook", "type": "trigger.manual"},
			{"id": "call", "type": "http.request", "params": {"url": "http://%s:%s/"}}],
			"edges": [{"from": "hook", "to": "call"}]}`, host, port)
	}
	const token = "hf_guard_test_token"
	tests := []struct {
		name, host string
		args       []string
		want       string
	}{
		{"loopback by address is refused", "127.0.0.1", nil, "failed"},
		{"a name resolving to loopback is refused when dialled", "localhost", nil, "failed"},
		{"an allowed host goes through", "localhost", []string{"--allowed-hosts", "localhost"}, "succeeded"},
		{"allowing private networks lets everything through", "127.0.0.1", []string{"--allow-private-networks"}, "succeeded"},
	}
	for _, tt := range tests {
		s := startServer(t, append([]string{"--data-dir", t.TempDir(), "--admin-token", token}, tt.args...)...)
		status, created := s.request(t, token, "POST", "/api/v1/flows", flow(tt.host))
		require.Equal(t, http.StatusCreated, status, "%v", created)
		before := hits.Load()
		status, run := s.request(t, token, "POST", "/api/v1/flows/"+created["id"].(string)+"/test", `{"payload": {}}`)
		require.Equal(t, http.StatusOK, status, "%v", run)
		assert.Equal(t, tt.want, run["status"], "%s: %v", tt.name, run["error"])
		if tt.want == "failed" {
			assert.Contains(t, run["error"], "loopback", tt.name)
			assert.Equal(t, before, hits.Load(), "%s: nothing reached the API", tt.name)
			steps := run["steps"].([]any)
			assert.Len(t, steps, 2, "%s: a refused address is not retried", tt.name)
		} else {
			assert.Equal(t, before+1, hits.Load(), tt.name)
		}
		assert.Equal(t, 0, s.shutdown(t))
	}
}
