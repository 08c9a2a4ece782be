package engine

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// chatAPI plays Telegram's Bot API (under /bot…) and a Teams Workflows URL
// (under /teams/): each answers its scripted answers in turn, as the
// services document them, then a success.
type chatAPI struct {
	mu       sync.Mutex
	telegram []scripted
	teams    []scripted
	// sent holds each request: path, Idempotency-Key and body.
	sent []string
}

type scripted struct {
	status int
	body   string
}

func (c *chatAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.sent = append(c.sent, fmt.Sprintf("%s %s %s", r.URL.Path, r.Header.Get("Idempotency-Key"), body))
	script := &c.teams
	answer := scripted{http.StatusAccepted, ""}
	if strings.HasPrefix(r.URL.Path, "/bot") {
		script = &c.telegram
		answer = scripted{http.StatusOK, `{"ok": true, "result": {"message_id": 42, "from": {"id": 123456789, "is_bot": true, "first_name": "Shop"},
			"chat": {"id": -1001234567890, "title": "Orders", "type": "supergroup"}, "date": 1717171717, "text": "Order 1042"}}`}
	}
	if len(*script) > 0 {
		answer, *script = (*script)[0], (*script)[1:]
	}
	c.mu.Unlock()
	if strings.HasPrefix(answer.body, "{") {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(answer.status)
	_, _ = io.WriteString(w, answer.body)
}

func (c *chatAPI) requests() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.sent...)
}

// TestMessagingRun sends an order to a Telegram chat and a Teams channel on
// each store: Telegram's 429 is waited out as its retry_after says, Teams'
// 502 retried, and neither secret, the bot token in Telegram's URL path nor
// the Workflows URL's signature, lands in a record.
func TestMessagingRun(t *testing.T) {
	t.Parallel()
	const token = "123456789:AAHsecretTokenValue_0123456789-xyz"
	const sig = "SecretSigValue0123456789abcdef"
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			api := &chatAPI{
				telegram: []scripted{{http.StatusTooManyRequests,
					`{"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 1", "parameters": {"retry_after": 1}}`}},
				teams: []scripted{{http.StatusBadGateway, "Bad Gateway"}},
			}
			srv := httptest.NewServer(api)
			defer srv.Close()
			hook := srv.URL + "/teams/workflows/8b1f0c2d9e3a4b5c/triggers/manual/paths/invoke?api-version=2016-06-01&sv=1.0&sig=" + sig
			creds := fakeCredentials{
				"shop-bot": {Name: "shop-bot", Type: nodes.CredentialTelegram, Secrets: []string{token},
					Data: map[string]any{"bot_token": token, "api_url": srv.URL}},
				"sales-channel": {Name: "sales-channel", Type: nodes.CredentialTeams, Secrets: []string{hook},
					Data: map[string]any{"webhook_url": hook}},
			}
			e := newHarness(t).engineFor(t, storetest.Open(t, dialect), Options{Services: actionServices(creds)})
			doc := `{"name": "orders to chat", "nodes": [
				{"id": "hook", "type": "trigger.webhook"},
				{"id": "telegram", "type": "telegram.message", "params": {"credential": "shop-bot",
					"chat_id": "{{ trigger.body.chat }}", "text": "Order {{ trigger.body.order }}", "disable_notification": true}},
				{"id": "teams", "type": "teams.message", "params": {"credential": "sales-channel",
					"text": "Order {{ trigger.body.order }}: message {{ steps.telegram.message_id }}"}, "retry": {"max_attempts": 3, "backoff_ms": 10}}],
				"edges": [{"from": "hook", "to": "telegram"}, {"from": "telegram", "to": "teams"}]}`
			run := waitRun(t, e, startRun(t, e, doc, `{"chat": -1001234567890, "order": 1042}`).ID)
			require.Equal(t, store.RunSucceeded, run.Status, run.Error)
			assert.Equal(t, `status: succeeded
steps:
  hook             1 succeeded port=""
  telegram         1 failed retried error="Telegram sendMessage: 429 Too Many Requests: retry after 1"
  telegram         2 succeeded port="" output={"chat":{"id":-1001234567890,"title":"Orders","type":"supergroup"},"date":1717171717,"from":{"first_name":"Shop","id":123456789,"is_bot":true},"message_id":42,"text":"Order 1042"}
  teams            1 failed retried error="Teams webhook: 502 Bad Gateway: Bad Gateway"
  teams            2 succeeded port="" output={"status":202}
`, trace(t, e, run))

			steps, err := e.store.ListSteps(context.Background(), run.ID)
			require.NoError(t, err)
			for _, s := range steps {
				if s.NodeID == "telegram" && s.Status == store.StepFailed {
					require.NotNil(t, s.ResumeAt)
					assert.GreaterOrEqual(t, s.ResumeAt.Sub(s.StartedAt).Seconds(), 1.0, "the retry waits as retry_after says")
				}
				record := fmt.Sprintf("%s %s %s %s", s.Input, s.Output, s.Error, s.Logs)
				assert.NotContains(t, record, token)
				assert.NotContains(t, record, sig)
			}

			sent := api.requests()
			require.Len(t, sent, 4)
			telegramKey := strings.Fields(sent[0])[1]
			for i, want := range []string{
				"/bot" + token + "/sendMessage " + telegramKey + ` {"chat_id":"-1001234567890","disable_notification":true,"text":"Order 1042"}`,
				"/bot" + token + "/sendMessage " + telegramKey + ` {"chat_id":"-1001234567890","disable_notification":true,"text":"Order 1042"}`,
			} {
				assert.Equal(t, want, sent[i], "every attempt sends the same message and key")
			}
			teamsKey := strings.Fields(sent[2])[1]
			assert.NotEqual(t, telegramKey, teamsKey, "each step has a key of its own")
			for _, s := range sent[2:] {
				assert.Equal(t, "/teams/workflows/8b1f0c2d9e3a4b5c/triggers/manual/paths/invoke "+teamsKey+
					` {"attachments":[{"content":{"$schema":"http://adaptivecards.io/schemas/adaptive-card.json","body":[{"text":"Order 1042: message 42","type":"TextBlock","wrap":true}],"type":"AdaptiveCard","version":"1.4"},"contentType":"application/vnd.microsoft.card.adaptive","contentUrl":null}],"type":"message"}`, s)
			}
		})
	}
}

// TestMessagingFailuresAreFinal stops at the first answer that retrying
// cannot fix: a refused bot token, a Teams card the Workflow refuses.
func TestMessagingFailuresAreFinal(t *testing.T) {
	t.Parallel()
	const token = "123456789:AAHsecretTokenValue_0123456789-xyz"
	api := &chatAPI{
		telegram: []scripted{{http.StatusUnauthorized, `{"ok": false, "error_code": 401, "description": "Unauthorized"}`}},
		teams:    []scripted{{http.StatusBadRequest, `{"error": {"code": "TriggerInputSchemaMismatch", "message": "The input body for trigger 'manual' of type 'Request' did not match its schema definition."}}`}},
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close) // after the parallel subtests
	creds := fakeCredentials{
		"shop-bot": {Name: "shop-bot", Type: nodes.CredentialTelegram, Secrets: []string{token},
			Data: map[string]any{"bot_token": token, "api_url": srv.URL}},
		"sales-channel": {Name: "sales-channel", Type: nodes.CredentialTeams, Secrets: []string{srv.URL + "/teams/hook"},
			Data: map[string]any{"webhook_url": srv.URL + "/teams/hook"}},
	}
	e := newHarness(t).engineFor(t, storetest.Open(t, store.DialectSQLite), Options{Services: actionServices(creds)})
	doc := `{"name": "orders to chat", "nodes": [
		{"id": "hook", "type": "trigger.webhook"},
		{"id": "telegram", "type": "telegram.message", "params": {"credential": "shop-bot", "chat_id": "1", "text": "x"}, "on_error": "continue"},
		{"id": "teams", "type": "teams.message", "params": {"credential": "sales-channel", "card": {"type": "AdaptiveCard", "version": "1.4", "body": []}}}],
		"edges": [{"from": "hook", "to": "telegram"}, {"from": "telegram", "to": "teams"}]}`
	run := waitRun(t, e, startRun(t, e, doc, `{}`).ID)
	assert.Equal(t, `status: failed
error: node teams failed: Teams webhook: 400 Bad Request: The input body for trigger 'manual' of type 'Request' did not match its schema definition. (TriggerInputSchemaMismatch)
steps:
  hook             1 succeeded port=""
  telegram         1 failed port="" output={"error":"Telegram sendMessage: the bot token was refused (401 Unauthorized)"} error="Telegram sendMessage: the bot token was refused (401 Unauthorized)"
  teams            1 failed error="Teams webhook: 400 Bad Request: The input body for trigger 'manual' of type 'Request' did not match its schema definition. (TriggerInputSchemaMismatch)"
`, trace(t, e, run))
	assert.Len(t, api.requests(), 2, "neither is tried again")
}
