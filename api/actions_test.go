package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// fakeServices answers as Slack's incoming webhooks, Discord's webhooks
// and an API that echoes what it was sent, and keeps every request body.
type fakeServices struct {
	mu     sync.Mutex
	bodies map[string][]string // by path
}

func (f *fakeServices) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.bodies[r.URL.Path] = append(f.bodies[r.URL.Path], string(body))
	f.mu.Unlock()
	switch {
	case strings.HasPrefix(r.URL.Path, "/services/"):
		_, _ = io.WriteString(w, "ok")
	case strings.HasPrefix(r.URL.Path, "/api/webhooks/"):
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id": "1180000000000000001", "channel_id": "1170000000000000000", "content": %q}`, r.URL.Query().Get("wait"))
	default:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"you_sent": r.Header.Get("Authorization"), "body": string(body)})
	}
}

func (f *fakeServices) sent(path string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bodies[path]
}

// TestActionsEndToEndKeepSecretsOut runs a flow with an authenticated HTTP
// call, a Slack message and a Discord message through the API, then reads
// back everything the API shows: no answer holds any credential's secret,
// though every request carried its own.
func TestActionsEndToEndKeepSecretsOut(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		fake := &fakeServices{bodies: map[string][]string{}}
		srv := httptest.NewServer(fake)
		defer srv.Close()
		f := hooks(t, db)

		const token = "tok_9f8e7d6c5b4a39281706"
		slackHook := srv.URL + "/services/T0001/B0001/slackHookSecret77xq"
		discordHook := srv.URL + "/api/webhooks/1170000000000000000/discordTokenSecret_A1b2C3"
		f.credential("api", "http_bearer", `{"token": "`+token+`"}`)
		f.credential("slack", "slack", `{"webhook_url": "`+slackHook+`"}`)
		f.credential("discord", "discord", `{"webhook_url": "`+discordHook+`"}`)
		secrets := []string{token, "slackHookSecret77xq", "discordTokenSecret_A1b2C3"}

		id, url := f.activeFlow(`{"name": "notify", "nodes": [
			{"id": "hook", "type": "trigger.webhook"},
			{"id": "call", "type": "http.request", "params": {"method": "POST", "url": "` + srv.URL + `/orders", "credential": "api",
			 "body": {"order": "{{ trigger.body.order }}"}}},
			{"id": "slack", "type": "slack.message", "params": {"credential": "slack", "text": "Order {{ trigger.body.order }}: {{ steps.call.body.you_sent }}"}},
			{"id": "discord", "type": "discord.message", "params": {"credential": "discord", "content": "Order {{ trigger.body.order }}"}}],
			"edges": [{"from": "hook", "to": "call"}, {"from": "call", "to": "slack"}, {"from": "slack", "to": "discord"}]}`)

		status, _, answer := f.post("POST", url, http.Header{"Content-Type": {"application/json"}}, []byte(`{"order": 1042}`))
		require.Equal(t, http.StatusAccepted, status, "%s", answer)
		var accepted map[string]any
		require.NoError(t, json.Unmarshal(answer, &accepted))
		run := f.runOf(accepted["run_id"].(string))
		require.Equal(t, "succeeded", run["status"], "%v", run)

		// The requests themselves carried the secrets.
		require.Len(t, fake.sent("/services/T0001/B0001/slackHookSecret77xq"), 1)
		assert.Contains(t, fake.sent("/services/T0001/B0001/slackHookSecret77xq")[0], "Bearer "+token, "the echoed token reached Slack")
		assert.JSONEq(t, `{"order": 1042}`, fake.sent("/orders")[0])
		assert.Equal(t, map[string]any{"ok": true}, stepOutput(run, "slack"))
		assert.Equal(t, "1180000000000000001", stepOutput(run, "discord").(map[string]any)["id"], "Discord answered with the message, as wait=true asks")

		// Nothing the API shows holds a secret.
		reads := []string{
			"/api/v1/runs/" + accepted["run_id"].(string), "/api/v1/runs?flow_id=" + id, "/api/v1/credentials",
			"/api/v1/credentials/api", "/api/v1/credentials/slack", "/api/v1/deliveries?flow_id=" + id, "/api/v1/flows/" + id,
		}
		for _, path := range reads {
			_, body := f.do("GET", path, "")
			text, _ := json.Marshal(body)
			for _, secret := range secrets {
				assert.NotContains(t, string(text), secret, "GET %s", path)
			}
		}
		assert.Contains(t, fmt.Sprint(stepOutput(run, "call")), "Bearer [redacted]")

		// Each credential lists the flows that use it.
		_, list := f.do("GET", "/api/v1/credentials", "")
		for _, c := range list["credentials"].([]any) {
			c := c.(map[string]any)
			assert.Equal(t, []any{map[string]any{"id": id, "name": "notify"}}, c["used_by"], "credential %s", c["name"])
		}
		f.credential("unused", "http_bearer", `{"token": "tok_unused_0000"}`)
		_, unused := f.do("GET", "/api/v1/credentials/unused", "")
		assert.Equal(t, []any{}, unused["used_by"])
	})
}

func TestCredentialTypesCheckTheirData(t *testing.T) {
	t.Parallel()
	f := hooks(t, storetest.Open(t, store.DialectSQLite))
	tests := []struct {
		typ, data, field string
	}{
		{"slack", `{}`, "data.webhook_url"},
		{"slack", `{"webhook_url": "https://hooks.slack.com/services/T/B/X", "token": "xoxb-1"}`, "data.token"},
		{"slack", `{"webhook_url": "hooks.slack.com/services/T/B/X"}`, "data.webhook_url"},
		{"discord", `{"webhook_url": "ftp://discord.com/api/webhooks/1/x"}`, "data.webhook_url"},
		{"discord", `{}`, "data"},
		{"http_header", `{"name": "X Api Key", "value": "v"}`, "data.name"},
		{"http_bearer", `{"token": ""}`, "data.token"},
		{"database", `{"url": "mysql://root@localhost/db?tls=maybe"}`, "data.url"},
		{"database", `{"url": "oracle://scott@localhost/db"}`, "data.url"},
	}
	for i, tt := range tests {
		status, body := f.do("POST", "/api/v1/credentials", fmt.Sprintf(`{"name": "c%d", "type": %q, "data": %s}`, i, tt.typ, tt.data))
		require.Equal(t, http.StatusUnprocessableEntity, status, "%s %s: %v", tt.typ, tt.data, body)
		problems := fmt.Sprint(body["problems"])
		assert.Contains(t, problems, tt.field, "%s %s", tt.typ, tt.data)
	}
	for i, ok := range []struct{ typ, data string }{
		{"slack", `{"token": "xoxb-123"}`},
		{"http_header", `{"name": "X-Api-Key", "value": "k"}`},
		{"database", `{"url": "postgres://u:p@db.internal:5432/app"}`},
		{"database", `{"url": "sqlite:///var/lib/app.db"}`},
	} {
		status, body := f.do("POST", "/api/v1/credentials", fmt.Sprintf(`{"name": "ok%d", "type": %q, "data": %s}`, i, ok.typ, ok.data))
		assert.Equal(t, http.StatusCreated, status, "%s %s: %v", ok.typ, ok.data, body)
	}
}

// TestACredentialInUseByAnActiveFlowIsKept refuses to delete a credential
// whose loss would fail an active flow's next run, names the flow, and
// deletes it once no active flow uses it.
func TestACredentialInUseByAnActiveFlowIsKept(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			f := hooks(t, storetest.Open(t, dialect))
			f.credential("orders-api", "http_bearer", `{"token": "tok_orders_0123456789"}`)
			id, _ := f.activeFlow(`{"name": "Order sync", "nodes": [
				{"id": "hook", "type": "trigger.webhook"},
				{"id": "call", "type": "http.request", "params": {"url": "https://api.example.com/orders", "credential": "orders-api"}}],
				"edges": [{"from": "hook", "to": "call"}]}`)

			status, body := f.do("DELETE", "/api/v1/credentials/orders-api", "")
			assert.Equal(t, http.StatusConflict, status)
			assert.Equal(t, `credential "orders-api" is used by the active flows "Order sync": deactivate them, or change their credential, first`, body["error"])
			status, _ = f.do("GET", "/api/v1/credentials/orders-api", "")
			assert.Equal(t, http.StatusOK, status, "the credential is kept")

			status, _ = f.do("POST", "/api/v1/flows/"+id+"/deactivate", "")
			require.Equal(t, http.StatusOK, status)
			status, _ = f.do("DELETE", "/api/v1/credentials/orders-api", "")
			assert.Equal(t, http.StatusNoContent, status, "an inactive flow does not hold it")
			status, _ = f.do("GET", "/api/v1/credentials/orders-api", "")
			assert.Equal(t, http.StatusNotFound, status)
		})
	}
}
