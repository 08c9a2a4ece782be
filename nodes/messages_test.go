package nodes

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeAPI answers each request with the next scripted answer, as Slack and
// Discord document theirs, and keeps what it was sent.
type fakeAPI struct {
	mu       sync.Mutex
	answers  []fakeAnswer
	requests []sentRequest
}

type fakeAnswer struct {
	status int
	header map[string]string
	body   string
}

type sentRequest struct {
	path, query, auth, key string
	body                   map[string]any
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	data, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(data, &body)
	f.mu.Lock()
	f.requests = append(f.requests, sentRequest{r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), r.Header.Get("Idempotency-Key"), body})
	a := fakeAnswer{status: 200, body: "ok"}
	if len(f.answers) > 0 {
		a, f.answers = f.answers[0], f.answers[1:]
	}
	f.mu.Unlock()
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

func (f *fakeAPI) sent() []sentRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sentRequest(nil), f.requests...)
}

func messageInput(t *testing.T, srv *httptest.Server, creds dbCreds) *Input {
	t.Helper()
	return &Input{
		Scope:          newScope(map[string]any{"order": 1042, "long": strings.Repeat("é", 2001)}),
		Logger:         slog.New(slog.DiscardHandler),
		Services:       &Services{Credentials: creds, HTTP: srv.Client(), SlackAPIURL: srv.URL + "/api"},
		Secrets:        &Secrets{},
		IdempotencyKey: "hf-step-key",
	}
}

// checkFailure holds an action's error to what a test expects: none when
// wantErr is empty (and then it reports true, for the test to check the
// output), else one containing wantErr, final or not, asking to be retried
// after retryIn (0: no wait asked).
func checkFailure(t *testing.T, err error, wantErr string, final bool, retryIn time.Duration) bool {
	t.Helper()
	if wantErr == "" {
		require.NoError(t, err)
		return true
	}
	require.Error(t, err)
	assert.Contains(t, err.Error(), wantErr)
	assert.Equal(t, final, IsPermanent(err), "final: %v", err)
	after, ok := RetryDelay(err)
	assert.Equal(t, retryIn != 0, ok)
	assert.Equal(t, retryIn, after)
	return false
}

// messageCase is one request of a message kind against a fake service.
type messageCase struct {
	name     string
	cred     string // for Slack: webhook or bot
	params   string
	answers  []fakeAnswer
	wantErr  string
	final    bool
	retryIn  time.Duration
	wantSent bool
	check    func(t *testing.T, out any, sent sentRequest)
}

// runMessageCase runs a node of the kind against a fake service answering
// tt.answers, with the credential cred makes for the fake's base URL.
func runMessageCase(t *testing.T, kind string, tt messageCase, cred func(base string) *Credential) {
	t.Run(tt.name, func(t *testing.T) {
		t.Parallel()
		api := &fakeAPI{answers: tt.answers}
		srv := httptest.NewServer(api)
		defer srv.Close()
		in := messageInput(t, srv, dbCreds{"c": cred(srv.URL)})
		res, err := build(t, kind, tt.params).Run(context.Background(), in)
		assert.Equal(t, tt.wantSent, len(api.sent()) == 1, "requests sent: %d", len(api.sent()))
		if checkFailure(t, err, tt.wantErr, tt.final, tt.retryIn) {
			tt.check(t, res.Output, api.sent()[0])
		}
	})
}

func TestSlackMessage(t *testing.T) {
	t.Parallel()
	jsonType := map[string]string{"Content-Type": "application/json"}
	tests := []messageCase{
		{
			name: "incoming webhook", cred: "webhook", params: `{"credential": "c", "text": "Order {{ input.order }}", "blocks": [{"type": "divider"}]}`,
			wantSent: true,
			check: func(t *testing.T, out any, sent sentRequest) {
				assert.Equal(t, map[string]any{"ok": true}, out)
				assert.Equal(t, "/services/T1/B1/hooksecret0123456789", sent.path)
				assert.Equal(t, "Order 1042", sent.body["text"])
				assert.Equal(t, []any{map[string]any{"type": "divider"}}, sent.body["blocks"])
				assert.Equal(t, "hf-step-key", sent.key)
			},
		},
		{
			name: "webhook refuses the payload", cred: "webhook", params: `{"credential": "c", "text": "x"}`,
			answers: []fakeAnswer{{status: 400, body: "invalid_payload"}}, wantErr: "invalid_payload", final: true, wantSent: true,
		},
		{
			name: "webhook rate limited", cred: "webhook", params: `{"credential": "c", "text": "x"}`,
			answers: []fakeAnswer{{status: 429, header: map[string]string{"Retry-After": "3"}, body: "rate_limited"}}, wantErr: "429", retryIn: 3 * time.Second, wantSent: true,
		},
		{
			name: "webhook server error", cred: "webhook", params: `{"credential": "c", "text": "x"}`,
			answers: []fakeAnswer{{status: 500, body: "oops"}}, wantErr: "500", wantSent: true,
		},
		{
			name: "chat.postMessage", cred: "bot", params: `{"credential": "c", "channel": "#orders", "text": "Order {{ input.order }}", "thread_ts": "1503435956.000247"}`,
			answers:  []fakeAnswer{{status: 200, header: jsonType, body: `{"ok": true, "channel": "C123ABC456", "ts": "1503435957.000100", "message": {"text": "Order 1042"}}`}},
			wantSent: true,
			check: func(t *testing.T, out any, sent sentRequest) {
				assert.Equal(t, "/api/chat.postMessage", sent.path)
				assert.Equal(t, "Bearer xoxb-bot-token-123", sent.auth)
				assert.Equal(t, "#orders", sent.body["channel"])
				assert.Equal(t, "1503435956.000247", sent.body["thread_ts"])
				assert.Equal(t, "1503435957.000100", out.(map[string]any)["ts"])
			},
		},
		{
			name: "chat.postMessage ok false", cred: "bot", params: `{"credential": "c", "channel": "#nope", "text": "x"}`,
			answers: []fakeAnswer{{status: 200, header: jsonType, body: `{"ok": false, "error": "channel_not_found"}`}}, wantErr: "channel_not_found", final: true, wantSent: true,
		},
		{
			name: "chat.postMessage internal error", cred: "bot", params: `{"credential": "c", "channel": "#x", "text": "x"}`,
			answers: []fakeAnswer{{status: 200, header: jsonType, body: `{"ok": false, "error": "internal_error"}`}}, wantErr: "internal_error", wantSent: true,
		},
		{
			name: "chat.postMessage rate limited", cred: "bot", params: `{"credential": "c", "channel": "#x", "text": "x"}`,
			answers: []fakeAnswer{{status: 429, header: map[string]string{"Retry-After": "30", "Content-Type": "application/json"}, body: `{"ok": false, "error": "ratelimited"}`}},
			wantErr: "ratelimited", retryIn: 30 * time.Second, wantSent: true,
		},
		{
			name: "a bot needs a channel", cred: "bot", params: `{"credential": "c", "text": "x"}`, wantErr: "channel", final: true,
		},
	}
	for _, tt := range tests {
		runMessageCase(t, "slack.message", tt, func(base string) *Credential {
			if tt.cred == "bot" {
				return &Credential{Name: "c", Type: CredentialSlack, Data: map[string]any{"token": "xoxb-bot-token-123"}}
			}
			return &Credential{Name: "c", Type: CredentialSlack, Data: map[string]any{"webhook_url": base + "/services/T1/B1/hooksecret0123456789"}}
		})
	}
	assert.Contains(t, buildErrors(t, "slack.message", `{"credential": "c"}`).Error(), "text")
	assert.Contains(t, buildErrors(t, "slack.message", `{"credential": "c", "blocks": {"type": "divider"}}`).Error(), "blocks")
}

func TestDiscordMessage(t *testing.T) {
	t.Parallel()
	message := fakeAnswer{status: 200, header: map[string]string{"Content-Type": "application/json"},
		body: `{"id": "1180000000000000001", "channel_id": "1170000000000000000", "content": "Order 1042"}`}
	tests := []messageCase{
		{
			name: "message with wait=true", params: `{"credential": "c", "content": "Order {{ input.order }}", "username": "Shop", "embeds": [{"title": "#{{ input.order }}"}]}`,
			answers: []fakeAnswer{message}, wantSent: true,
			check: func(t *testing.T, out any, sent sentRequest) {
				assert.Equal(t, "1180000000000000001", out.(map[string]any)["id"])
				assert.Equal(t, "/api/webhooks/1170000000000000000/discordsecrettoken", sent.path)
				assert.Contains(t, sent.query, "wait=true")
				assert.Contains(t, sent.query, "thread_id=77", "the webhook URL's own query is kept")
				assert.Equal(t, "Order 1042", sent.body["content"])
				assert.Equal(t, "Shop", sent.body["username"])
				assert.Equal(t, []any{map[string]any{"title": "#1042"}}, sent.body["embeds"])
				assert.Equal(t, map[string]any{"parse": []any{"users"}}, sent.body["allowed_mentions"], "no mass mentions by default")
			},
		},
		{
			name: "allowed mentions as given", params: `{"credential": "c", "content": "@everyone", "allowed_mentions": {"parse": ["everyone"]}}`,
			answers: []fakeAnswer{message}, wantSent: true,
			check: func(t *testing.T, _ any, sent sentRequest) {
				assert.Equal(t, map[string]any{"parse": []any{"everyone"}}, sent.body["allowed_mentions"])
			},
		},
		{
			name: "rate limited", params: `{"credential": "c", "content": "x"}`,
			answers: []fakeAnswer{{status: 429, header: map[string]string{"Content-Type": "application/json", "Retry-After": "2"},
				body: `{"message": "You are being rate limited.", "retry_after": 1.5, "global": false}`}},
			wantErr: "rate limited", retryIn: 1500 * time.Millisecond, wantSent: true,
		},
		{
			name: "unknown webhook", params: `{"credential": "c", "content": "x"}`,
			answers: []fakeAnswer{{status: 404, header: map[string]string{"Content-Type": "application/json"}, body: `{"message": "Unknown Webhook", "code": 10015}`}},
			wantErr: "Unknown Webhook (code 10015)", final: true, wantSent: true,
		},
		{
			name: "server error", params: `{"credential": "c", "content": "x"}`,
			answers: []fakeAnswer{{status: 502, body: "bad gateway"}}, wantErr: "502", wantSent: true,
		},
		{
			name: "templated content over the limit", params: `{"credential": "c", "content": "{{ input.long }}"}`,
			wantErr: "2001 characters", final: true,
		},
	}
	for _, tt := range tests {
		runMessageCase(t, "discord.message", tt, func(base string) *Credential {
			return &Credential{Name: "c", Type: CredentialDiscord,
				Data: map[string]any{"webhook_url": base + "/api/webhooks/1170000000000000000/discordsecrettoken?thread_id=77"}}
		})
	}
}

func TestDiscordLimitsAtSave(t *testing.T) {
	t.Parallel()
	embed := func(chars int) string { return `{"description": "` + strings.Repeat("a", chars) + `"}` }
	tests := []struct{ params, field string }{
		{`{"credential": "c", "content": "` + strings.Repeat("é", 2001) + `"}`, "content"},
		{`{"credential": "c", "embeds": [` + strings.TrimSuffix(strings.Repeat(embed(1)+",", 11), ",") + `]}`, "embeds"},
		{`{"credential": "c", "embeds": [` + embed(3000) + `,` + embed(3001) + `]}`, "embeds"},
		{`{"credential": "c"}`, "content"},
		{`{"credential": "c", "content": "x", "allowed_mentions": ["users"]}`, "allowed_mentions"},
	}
	for _, tt := range tests {
		errs := buildErrors(t, "discord.message", tt.params)
		require.NotEmpty(t, errs)
		assert.Equal(t, tt.field, errs[0].Field, "%.80s: %v", tt.params, errs)
	}
	build(t, "discord.message", `{"credential": "c", "content": "`+strings.Repeat("é", 2000)+`"}`)
	build(t, "discord.message", `{"credential": "c", "embeds": [`+embed(3000)+`,`+embed(3000)+`]}`)
}

// credentialCase is data of a credential type, and the field its first
// problem names: empty for valid data.
type credentialCase struct {
	data  map[string]any
	field string
}

// checkCredentialCases checks each case's data against the type.
func checkCredentialCases(t *testing.T, ct *CredentialType, cases []credentialCase) {
	t.Helper()
	for _, tt := range cases {
		errs := ct.Check(tt.data)
		if tt.field == "" {
			assert.Empty(t, errs, "%v", tt.data)
			continue
		}
		require.NotEmpty(t, errs, "%v", tt.data)
		assert.Equal(t, tt.field, errs[0].Field, "%v", tt.data)
	}
}

// runAgainst runs a node of kind with the credential cred makes for a fake
// service answering answer, or, when answer is nil, for a service that is
// not there (port 1 on loopback refuses connections). It returns the
// node's input, whose Secrets the run's records are redacted of, and its
// error, which it requires.
func runAgainst(t *testing.T, kind, params string, answer *fakeAnswer, cred func(base string) *Credential) (*Input, error) {
	t.Helper()
	api := &fakeAPI{}
	if answer != nil {
		api.answers = []fakeAnswer{*answer}
	}
	srv := httptest.NewServer(api)
	defer srv.Close()
	base := srv.URL
	if answer == nil {
		base = "http://127.0.0.1:1"
	}
	in := messageInput(t, srv, dbCreds{"c": cred(base)})
	_, err := build(t, kind, params).Run(context.Background(), in)
	require.Error(t, err)
	return in, err
}
