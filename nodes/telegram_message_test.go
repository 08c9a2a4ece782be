package nodes

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const telegramTestToken = "123456789:AAHsecretTokenValue_0123456789-xyz"

// telegramCredential is a telegram credential whose Bot API is at base.
func telegramCredential(base string) *Credential {
	return &Credential{Name: "c", Type: CredentialTelegram, Secrets: []string{telegramTestToken},
		Data: map[string]any{"bot_token": telegramTestToken, "api_url": base + "/"}}
}

// telegramJSON is an answer of the Bot API: its HTTP status is the
// error_code of its body.
func telegramJSON(status int, body string) fakeAnswer {
	return fakeAnswer{status: status, header: map[string]string{"Content-Type": "application/json"}, body: body}
}

func TestTelegramMessage(t *testing.T) {
	t.Parallel()
	sent := telegramJSON(200, `{"ok": true, "result": {"message_id": 42, "from": {"id": 123456789, "is_bot": true, "first_name": "Shop", "username": "shop_bot"},
		"chat": {"id": -1001234567890, "title": "Orders", "type": "supergroup"}, "date": 1717171717, "text": "Order 1042"}}`)
	tests := []messageCase{
		{
			name:    "plain text",
			params:  `{"credential": "c", "chat_id": "{{ input.order * -1 }}", "text": "Order {{ input.order }}"}`,
			answers: []fakeAnswer{sent}, wantSent: true,
			check: func(t *testing.T, out any, sent sentRequest) {
				assert.Equal(t, "/bot"+telegramTestToken+"/sendMessage", sent.path)
				assert.Equal(t, map[string]any{"chat_id": "-1042", "text": "Order 1042"}, sent.body, "no parse_mode, no disable_notification")
				assert.Equal(t, "hf-step-key", sent.key)
				msg := out.(map[string]any)
				assert.Equal(t, float64(42), msg["message_id"])
				assert.Equal(t, float64(1717171717), msg["date"])
				assert.Equal(t, "Order 1042", msg["text"])
				assert.Equal(t, float64(-1001234567890), msg["chat"].(map[string]any)["id"])
			},
		},
		{
			name:    "formatted and silent",
			params:  `{"credential": "c", "chat_id": "@shop_orders", "text": "<b>Order</b> {{ input.order }}", "parse_mode": "HTML", "disable_notification": true}`,
			answers: []fakeAnswer{sent}, wantSent: true,
			check: func(t *testing.T, _ any, sent sentRequest) {
				assert.Equal(t, map[string]any{"chat_id": "@shop_orders", "text": "<b>Order</b> 1042", "parse_mode": "HTML", "disable_notification": true}, sent.body)
			},
		},
		{
			name: "token refused", params: `{"credential": "c", "chat_id": "1", "text": "x"}`,
			answers: []fakeAnswer{telegramJSON(401, `{"ok": false, "error_code": 401, "description": "Unauthorized"}`)},
			wantErr: "the bot token was refused (401 Unauthorized)", final: true, wantSent: true,
		},
		{
			name: "token of no bot", params: `{"credential": "c", "chat_id": "1", "text": "x"}`,
			answers: []fakeAnswer{telegramJSON(404, `{"ok": false, "error_code": 404, "description": "Not Found"}`)},
			wantErr: "the bot token was refused (404 Not Found)", final: true, wantSent: true,
		},
		{
			name: "unknown chat", params: `{"credential": "c", "chat_id": "1", "text": "x"}`,
			answers: []fakeAnswer{telegramJSON(400, `{"ok": false, "error_code": 400, "description": "Bad Request: chat not found"}`)},
			wantErr: "400 Bad Request: chat not found", final: true, wantSent: true,
		},
		{
			name: "markup that does not parse", params: `{"credential": "c", "chat_id": "1", "text": "*bold", "parse_mode": "MarkdownV2"}`,
			answers: []fakeAnswer{telegramJSON(400, `{"ok": false, "error_code": 400, "description": "Bad Request: can't parse entities: Can't find end of Bold entity at byte offset 0"}`)},
			wantErr: "can't parse entities", final: true, wantSent: true,
		},
		{
			name: "group upgraded to a supergroup", params: `{"credential": "c", "chat_id": "-4001", "text": "x"}`,
			answers: []fakeAnswer{telegramJSON(400, `{"ok": false, "error_code": 400, "description": "Bad Request: group chat was upgraded to a supergroup chat", "parameters": {"migrate_to_chat_id": -1001234567890}}`)},
			wantErr: "whose chat id is -1001234567890", final: true, wantSent: true,
		},
		{
			name: "bot blocked", params: `{"credential": "c", "chat_id": "1", "text": "x"}`,
			answers: []fakeAnswer{telegramJSON(403, `{"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}`)},
			wantErr: "403 Forbidden: bot was blocked by the user", final: true, wantSent: true,
		},
		{
			name: "rate limited", params: `{"credential": "c", "chat_id": "1", "text": "x"}`,
			answers: []fakeAnswer{telegramJSON(429, `{"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 7", "parameters": {"retry_after": 7}}`)},
			wantErr: "429 Too Many Requests: retry after 7", retryIn: 7 * time.Second, wantSent: true,
		},
		{
			name: "server error", params: `{"credential": "c", "chat_id": "1", "text": "x"}`,
			answers: []fakeAnswer{telegramJSON(500, `{"ok": false, "error_code": 500, "description": "Internal Server Error"}`)},
			wantErr: "500 Internal Server Error", wantSent: true,
		},
		{
			name: "bad gateway in front of the API", params: `{"credential": "c", "chat_id": "1", "text": "x"}`,
			answers: []fakeAnswer{{status: 502, header: map[string]string{"Content-Type": "text/html"}, body: "<html><body><h1>502 Bad Gateway</h1></body></html>"}},
			wantErr: "502 Bad Gateway", wantSent: true,
		},
		{
			name: "templated text over the limit", params: `{"credential": "c", "chat_id": "1", "text": "{{ repeat(\"é\", 4097) }}"}`,
			wantErr: "text is 4097 characters; Telegram takes at most 4096", final: true,
		},
		{
			name: "formatted text is measured by Telegram", params: `{"credential": "c", "chat_id": "1", "parse_mode": "HTML", "text": "<b>{{ repeat(\"é\", 4096) }}</b>"}`,
			answers: []fakeAnswer{sent}, wantSent: true,
			check: func(*testing.T, any, sentRequest) {},
		},
		{
			name: "text that renders empty", params: `{"credential": "c", "chat_id": "1", "text": "{{ input.missing }}"}`,
			wantErr: "the message is empty", final: true,
		},
		{
			name: "chat that renders empty", params: `{"credential": "c", "chat_id": "{{ input.missing }}", "text": "x"}`,
			wantErr: "chat id is empty", final: true,
		},
	}
	for _, tt := range tests {
		runMessageCase(t, KindTelegramMessage, tt, telegramCredential)
	}
}

// TestTelegramTokenNeverInErrors fails sendMessage in every way, the token
// being a segment of the URL, and finds the token in no error, before any
// redaction of the run's records.
func TestTelegramTokenNeverInErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		answer *fakeAnswer // nil: the API is unreachable
	}{
		{"unauthorized", &fakeAnswer{status: 401, body: `{"ok": false, "error_code": 401, "description": "Unauthorized"}`}},
		{"not json", &fakeAnswer{status: 502, body: "bad gateway"}},
		{"rate limited", &fakeAnswer{status: 429, body: `{"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 1", "parameters": {"retry_after": 1}}`}},
		{"unreachable", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in, err := runAgainst(t, KindTelegramMessage, `{"credential": "c", "chat_id": "1", "text": "x"}`, tt.answer, telegramCredential)
			assert.NotContains(t, err.Error(), telegramTestToken)
			assert.NotContains(t, err.Error(), "AAHsecretTokenValue")
			if tt.answer == nil {
				assert.Contains(t, err.Error(), "/bot[redacted]/sendMessage", "the URL is named, without the token")
				assert.False(t, IsPermanent(err), "an unreachable API is retried")
			}
			assert.Equal(t, Redacted, in.Secrets.Redact(telegramTestToken), "the run's records redact the token")
		})
	}
}

func TestTelegramRefusesAMalformedToken(t *testing.T) {
	t.Parallel()
	api := &fakeAPI{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	cred := telegramCredential(srv.URL)
	cred.Data["bot_token"] = "123:abc/../../other?x="
	in := messageInput(t, srv, dbCreds{"c": cred})
	_, err := build(t, KindTelegramMessage, `{"credential": "c", "chat_id": "1", "text": "x"}`).Run(context.Background(), in)
	checkFailure(t, err, "not of the form", true, 0)
	assert.NotContains(t, err.Error(), "abc/..")
	assert.Empty(t, api.sent(), "nothing is sent with a token that could change the URL")
}

func TestTelegramParamsAtSave(t *testing.T) {
	t.Parallel()
	tests := []struct{ params, field string }{
		{`{"credential": "c", "text": "x"}`, "chat_id"},
		{`{"credential": "c", "chat_id": "1"}`, "text"},
		{`{"credential": "c", "chat_id": "", "text": "x"}`, "chat_id"},
		{`{"credential": "c", "chat_id": "1", "text": ""}`, "text"},
		{`{"chat_id": "1", "text": "x"}`, "credential"},
		{`{"credential": "c", "chat_id": "1", "text": "x", "parse_mode": "Markdown"}`, "parse_mode"},
		{`{"credential": "c", "chat_id": "1", "text": "x", "disable_notification": "yes"}`, "disable_notification"},
		{`{"credential": "c", "chat_id": "1", "text": "x", "reply_markup": {}}`, "reply_markup"},
		{`{"credential": "c", "chat_id": "1", "text": "{{ input. }}"}`, "text"},
		{`{"credential": "c", "chat_id": "1", "text": "` + strings.Repeat("é", 4097) + `"}`, "text"},
	}
	for _, tt := range tests {
		errs := buildErrors(t, KindTelegramMessage, tt.params)
		require.NotEmpty(t, errs)
		assert.Equal(t, tt.field, errs[0].Field, "%.80s: %v", tt.params, errs)
	}
	build(t, KindTelegramMessage, `{"credential": "c", "chat_id": "1", "text": "`+strings.Repeat("é", 4096)+`"}`)
	build(t, KindTelegramMessage, `{"credential": "c", "chat_id": "1", "parse_mode": "MarkdownV2", "text": "`+strings.Repeat("é", 5000)+`"}`)
}

func TestTelegramCredentialType(t *testing.T) {
	t.Parallel()
	ct, ok := builtins(t).CredentialType(CredentialTelegram)
	require.True(t, ok)
	checkCredentialCases(t, ct, []credentialCase{
		{map[string]any{"bot_token": telegramTestToken}, ""},
		{map[string]any{"bot_token": telegramTestToken, "api_url": "https://bots.example.com"}, ""},
		{map[string]any{}, "bot_token"},
		{map[string]any{"bot_token": "not a token"}, "bot_token"},
		{map[string]any{"bot_token": "123:abc/def"}, "bot_token"},
		{map[string]any{"bot_token": telegramTestToken, "api_url": "ftp://bots.example.com"}, "api_url"},
	})
	assert.Equal(t, []string{telegramTestToken}, ct.SecretValues(map[string]any{"bot_token": telegramTestToken, "api_url": "https://bots.example.com"}))
}
