package nodes

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// teamsTestSig is the secret of a Workflows URL: its query's signature.
const teamsTestSig = "SecretSigValue0123456789abcdef"

// teamsCredential is a teams credential whose webhook is at base, shaped
// like a Workflows URL.
func teamsCredential(base string) *Credential {
	hook := base + "/workflows/8b1f0c2d9e3a4b5c/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=" + teamsTestSig
	return &Credential{Name: "c", Type: CredentialTeams, Secrets: []string{hook}, Data: map[string]any{"webhook_url": hook}}
}

// teamsAttachment is the card a request sent, checking the message's
// envelope on the way.
func teamsAttachment(t *testing.T, sent sentRequest) map[string]any {
	t.Helper()
	assert.Equal(t, "message", sent.body["type"])
	attachments, ok := sent.body["attachments"].([]any)
	require.True(t, ok, "attachments: %v", sent.body)
	require.Len(t, attachments, 1)
	a := attachments[0].(map[string]any)
	assert.Equal(t, "application/vnd.microsoft.card.adaptive", a["contentType"])
	return a["content"].(map[string]any)
}

// teamsWrapped is how a classic incoming webhook reports a failure: with
// 200 OK.
func teamsWrapped(status string) fakeAnswer {
	return fakeAnswer{status: 200, header: map[string]string{"Content-Type": "text/plain; charset=utf-8"},
		body: "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error " + status +
			" with ContextId tcid=0,server=msgapi-production-eus-azsc2-4-170,cv=deEvVe0ELUWVJqIM6QZsZw.0.."}
}

func TestTeamsMessage(t *testing.T) {
	t.Parallel()
	jsonType := map[string]string{"Content-Type": "application/json; charset=utf-8"}
	tests := []messageCase{
		{
			name: "text to a Workflows URL", params: `{"credential": "c", "text": "Order **{{ input.order }}**"}`,
			answers: []fakeAnswer{{status: 202}}, wantSent: true,
			check: func(t *testing.T, out any, sent sentRequest) {
				assert.Equal(t, map[string]any{"status": 202}, out)
				assert.Equal(t, "/workflows/8b1f0c2d9e3a4b5c/triggers/manual/paths/invoke", sent.path)
				assert.Contains(t, sent.query, "sig="+teamsTestSig)
				assert.Equal(t, "hf-step-key", sent.key)
				card := teamsAttachment(t, sent)
				assert.Equal(t, "AdaptiveCard", card["type"])
				assert.Equal(t, "1.4", card["version"])
				assert.Equal(t, []any{map[string]any{"type": "TextBlock", "text": "Order **1042**", "wrap": true}}, card["body"])
			},
		},
		{
			name:    "a card to a classic incoming webhook",
			params:  `{"credential": "c", "card": {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "#{{ input.order }}", "weight": "Bolder"}]}}`,
			answers: []fakeAnswer{{status: 200, header: map[string]string{"Content-Type": "text/plain; charset=utf-8"}, body: "1"}}, wantSent: true,
			check: func(t *testing.T, out any, sent sentRequest) {
				assert.Equal(t, map[string]any{"status": 200}, out)
				assert.Equal(t, map[string]any{"type": "AdaptiveCard", "version": "1.5",
					"body": []any{map[string]any{"type": "TextBlock", "text": "#1042", "weight": "Bolder"}}}, teamsAttachment(t, sent))
			},
		},
		{
			name: "classic webhook: rate limited behind a 200", params: `{"credential": "c", "text": "x"}`,
			answers: []fakeAnswer{teamsWrapped("429")}, wantErr: "429 Too Many Requests: Webhook message delivery failed", wantSent: true,
		},
		{
			name: "classic webhook: too large behind a 200", params: `{"credential": "c", "text": "x"}`,
			answers: []fakeAnswer{teamsWrapped("413")}, wantErr: "413 Request Entity Too Large", final: true, wantSent: true,
		},
		{
			name: "classic webhook: bad payload", params: `{"credential": "c", "text": "x"}`,
			answers: []fakeAnswer{{status: 400, header: map[string]string{"Content-Type": "text/plain; charset=utf-8"}, body: "Bad payload received by generic incoming webhook."}},
			wantErr: "400 Bad Request: Bad payload received by generic incoming webhook.", final: true, wantSent: true,
		},
		{
			name: "Workflows: the body does not match", params: `{"credential": "c", "text": "x"}`,
			answers: []fakeAnswer{{status: 400, header: jsonType, body: `{"error": {"code": "TriggerInputSchemaMismatch", "message": "The input body for trigger 'manual' of type 'Request' did not match its schema definition."}}`}},
			wantErr: "did not match its schema definition. (TriggerInputSchemaMismatch)", final: true, wantSent: true,
		},
		{
			name: "Workflows: signature refused", params: `{"credential": "c", "text": "x"}`,
			answers: []fakeAnswer{{status: 401, header: jsonType, body: `{"error": {"code": "DirectApiAuthorizationRequired", "message": "The request must be authenticated only by Shared Access scheme."}}`}},
			wantErr: "401 Unauthorized: The request must be authenticated", final: true, wantSent: true,
		},
		{
			name: "Workflows: throttled", params: `{"credential": "c", "text": "x"}`,
			answers: []fakeAnswer{{status: 429, header: map[string]string{"Content-Type": "application/json", "Retry-After": "12"},
				body: `{"error": {"code": "WorkflowRequestsThrottled", "message": "Number of requests exceeded the limit."}}`}},
			wantErr: "exceeded the limit", retryIn: 12 * time.Second, wantSent: true,
		},
		{
			name: "server error", params: `{"credential": "c", "text": "x"}`,
			answers: []fakeAnswer{{status: 503, body: "Service Unavailable"}}, wantErr: "503", wantSent: true,
		},
		{
			name: "a templated card that is not a card", params: `{"credential": "c", "card": "{{ input.order }}"}`,
			wantErr: "card is an Adaptive Card object", final: true,
		},
		{
			name: "a message over Teams' 28 KB is not sent", params: `{"credential": "c", "text": "{{ repeat('x', 29000) }}"}`,
			wantErr: "Teams takes at most 28672 (28 KB)", final: true,
		},
		{
			name: "text that renders empty", params: `{"credential": "c", "text": "{{ input.missing }}"}`,
			wantErr: "the message is empty", final: true,
		},
	}
	for _, tt := range tests {
		runMessageCase(t, KindTeamsMessage, tt, teamsCredential)
	}
}

// TestTeamsURLNeverInErrors: the webhook URL is the credential, and a
// request's errors name their URL.
func TestTeamsURLNeverInErrors(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(&fakeAPI{})
	defer srv.Close()
	// Port 1 on loopback refuses connections.
	in := messageInput(t, srv, dbCreds{"c": teamsCredential("http://127.0.0.1:1")})
	_, err := build(t, KindTeamsMessage, `{"credential": "c", "text": "x"}`).Run(context.Background(), in)
	require.Error(t, err)
	assert.False(t, IsPermanent(err), "an unreachable webhook is retried: %v", err)
	assert.Contains(t, err.Error(), "connection refused")
	assert.NotContains(t, err.Error(), teamsTestSig)
	assert.NotContains(t, err.Error(), "8b1f0c2d9e3a4b5c")
}

func TestTeamsParamsAtSave(t *testing.T) {
	t.Parallel()
	tests := []struct{ params, field string }{
		{`{"credential": "c"}`, "text"},
		{`{"credential": "c", "text": "x", "card": {"type": "AdaptiveCard"}}`, "text"},
		{`{"text": "x"}`, "credential"},
		{`{"credential": "c", "card": [{"type": "AdaptiveCard"}]}`, "card"},
		{`{"credential": "c", "card": {"type": "message", "attachments": []}}`, "card"},
		{`{"credential": "c", "card": {"type": "AdaptiveCard", "body": "{{ input. }}"}}`, "card.body"},
		{`{"credential": "c", "text": "x", "summary": "y"}`, "summary"},
	}
	for _, tt := range tests {
		errs := buildErrors(t, KindTeamsMessage, tt.params)
		require.NotEmpty(t, errs)
		assert.Equal(t, tt.field, errs[0].Field, "%.80s: %v", tt.params, errs)
	}
	build(t, KindTeamsMessage, `{"credential": "c", "card": "{{ input.card }}"}`)
	build(t, KindTeamsMessage, `{"credential": "c", "card": {"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "TextBlock", "text": "{{ input.id }}"}]}}`)

	ct, ok := builtins(t).CredentialType(CredentialTeams)
	require.True(t, ok)
	assert.Empty(t, ct.Check(map[string]any{"webhook_url": "https://example.webhook.office.com/webhookb2/abc/IncomingWebhook/def/ghi"}))
	assert.NotEmpty(t, ct.Check(map[string]any{"webhook_url": "not a url"}))
	assert.NotEmpty(t, ct.Check(map[string]any{}))
}
