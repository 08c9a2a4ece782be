package nodes

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHTTPRequest(t *testing.T) {
	t.Parallel()
	png := "\x89PNG\r\n\x1a\n" + strings.Repeat("\x00", 32)
	tests := []struct {
		name    string
		params  string
		answer  fakeAnswer
		want    any // the output's body
		wantErr string
		final   bool
		retryIn time.Duration
		check   func(t *testing.T, sent sentRequest)
	}{
		{
			name: "GET with query, headers and a bearer token", params: `{"url": "{{ base }}/orders/{{ input.order }}", "query": {"expand": "items"},
				"headers": {"X-Order": "{{ input.order }}"}, "credential": "bearer"}`,
			answer: fakeAnswer{200, map[string]string{"Content-Type": "application/json"}, `{"id": 9007199254740993, "ok": true}`},
			want:   map[string]any{"id": 9007199254740993, "ok": true},
			check: func(t *testing.T, sent sentRequest) {
				assert.Equal(t, "/orders/1042", sent.path)
				assert.Equal(t, "expand=items", sent.query)
				assert.Equal(t, "Bearer tok_abc123", sent.auth)
				assert.Equal(t, "hf-step-key", sent.key)
			},
		},
		{
			name: "JSON body keeps a whole template's type", params: `{"method": "POST", "url": "{{ base }}/", "body": {"order": "{{ input.order }}", "note": "n{{ input.order }}"}}`,
			answer: fakeAnswer{201, map[string]string{"Content-Type": "text/plain"}, "created"}, want: "created",
			check: func(t *testing.T, sent sentRequest) {
				assert.Equal(t, map[string]any{"order": float64(1042), "note": "n1042"}, sent.body)
			},
		},
		{
			name: "binary answers are base64", params: `{"url": "{{ base }}/logo.png"}`,
			answer: fakeAnswer{200, map[string]string{"Content-Type": "image/png"}, png},
			want:   map[string]any{"base64": base64.StdEncoding.EncodeToString([]byte(png)), "content_type": "image/png", "truncated": false},
		},
		{
			name: "invalid JSON stays text", params: `{"url": "{{ base }}/"}`,
			answer: fakeAnswer{200, map[string]string{"Content-Type": "application/json"}, "{nope"}, want: "{nope",
		},
		{
			name: "404 is final", params: `{"url": "{{ base }}/"}`,
			answer: fakeAnswer{404, nil, "no such order"}, wantErr: "404 Not Found: no such order", final: true,
		},
		{
			name: "any status as output", params: `{"url": "{{ base }}/", "accept_any_status": true}`,
			answer: fakeAnswer{404, map[string]string{"Content-Type": "text/plain"}, "no such order"}, want: "no such order",
		},
		{
			name: "503 is retried", params: `{"url": "{{ base }}/"}`, answer: fakeAnswer{503, nil, "busy"}, wantErr: "503",
		},
		{
			name: "429 waits as Retry-After says", params: `{"url": "{{ base }}/"}`,
			answer: fakeAnswer{429, map[string]string{"Retry-After": "7"}, ""}, wantErr: "429", retryIn: 7 * time.Second,
		},
		{
			name: "basic auth", params: `{"url": "{{ base }}/", "credential": "basic"}`,
			answer: fakeAnswer{200, nil, ""}, want: nil,
			check: func(t *testing.T, sent sentRequest) { assert.Equal(t, "Basic YWRhOnB3", sent.auth) },
		},
		{
			name: "a credential of another type", params: `{"url": "{{ base }}/", "credential": "slack"}`,
			wantErr: "is of type slack", final: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := &fakeAPI{answers: []fakeAnswer{tt.answer}}
			srv := httptest.NewServer(api)
			defer srv.Close()
			in := messageInput(t, srv, dbCreds{
				"bearer": {Name: "bearer", Type: CredentialHTTPBearer, Data: map[string]any{"token": "tok_abc123"}, Secrets: []string{"tok_abc123"}},
				"basic":  {Name: "basic", Type: CredentialHTTPBasic, Data: map[string]any{"username": "ada", "password": "pw"}},
				"slack":  {Name: "slack", Type: CredentialSlack, Data: map[string]any{"token": "xoxb-1"}},
			})
			params := strings.ReplaceAll(tt.params, "{{ base }}", srv.URL)
			res, err := build(t, "http.request", params).Run(context.Background(), in)
			if !checkFailure(t, err, tt.wantErr, tt.final, tt.retryIn) {
				return
			}
			out := res.Output.(map[string]any)
			assert.Equal(t, tt.want, out["body"])
			assert.Equal(t, tt.answer.status, out["status"])
			if tt.check != nil {
				tt.check(t, api.sent()[0])
			}
		})
	}
}

func TestHTTPRequestGuards(t *testing.T) {
	t.Parallel()
	api := &fakeAPI{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	refused := errors.New("refused: loopback")
	in := messageInput(t, srv, nil)
	in.Services.CheckURL = func(*url.URL) error { return refused }
	_, err := build(t, "http.request", `{"url": "`+srv.URL+`/"}`).Run(context.Background(), in)
	require.ErrorIs(t, err, refused)
	assert.True(t, IsPermanent(err))
	assert.Empty(t, api.sent(), "nothing was sent")

	// A network failure may pass later.
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	_, err = build(t, "http.request", `{"url": "`+closed.URL+`/"}`).Run(context.Background(), messageInput(t, srv, nil))
	require.Error(t, err)
	assert.False(t, IsPermanent(err), "%v", err)

	for params, field := range map[string]string{
		`{"url": "ftp://example.com/"}`:                                   "url",
		`{"url": "https://x.example/", "headers": {"bad name": "v"}}`:     "headers",
		`{"url": "https://x.example/", "body_type": "form", "body": [1]}`: "body",
		`{}`: "url",
	} {
		errs := buildErrors(t, "http.request", params)
		require.NotEmpty(t, errs, params)
		assert.Equal(t, field, errs[0].Field, "%s: %v", params, errs)
	}
}
