package nodes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/engine/netguard"
)

const openAITestKey = "sk-proj-TestKeyValue0123456789abcdefXYZ"

// openAICredential is an openai credential whose API is at base/v1.
func openAICredential(base string) *Credential {
	return &Credential{Name: "c", Type: CredentialOpenAI, Secrets: []string{openAITestKey},
		Data: map[string]any{"base_url": base + "/v1", "api_key": openAITestKey}}
}

// completion is a chat completion as OpenAI documents it
// (https://platform.openai.com/docs/api-reference/chat/object), whose one
// choice says content and finished for finish.
func completion(content, finish string) fakeAnswer {
	text, _ := json.Marshal(content)
	return fakeAnswer{status: 200, header: map[string]string{"Content-Type": "application/json", "x-request-id": "req_123"},
		body: `{"id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT", "object": "chat.completion", "created": 1741569952,
  "model": "gpt-4o-mini-2024-07-18",
  "choices": [{"index": 0, "message": {"role": "assistant", "content": ` + string(text) + `, "refusal": null, "annotations": []},
    "logprobs": null, "finish_reason": "` + finish + `"}],
  "usage": {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
  "service_tier": "default", "system_fingerprint": "fp_06737a9306"}`}
}

// openAIError is an error answer as OpenAI documents them:
// {"error": {"message", "type", "param", "code"}}.
func openAIError(status int, message, typ, code string, header map[string]string) fakeAnswer {
	h := map[string]string{"Content-Type": "application/json"}
	for k, v := range header {
		h[k] = v
	}
	c := "null"
	if code != "" {
		c = `"` + code + `"`
	}
	m, _ := json.Marshal(message)
	return fakeAnswer{status: status, header: h,
		body: fmt.Sprintf(`{"error": {"message": %s, "type": %q, "param": null, "code": %s}}`, m, typ, c)}
}

const totalSchema = `{"type": "object", "properties": {"total": {"type": "number"}, "currency": {"type": "string"}},
	"required": ["total", "currency"], "additionalProperties": false}`

func TestLLMChat(t *testing.T) {
	t.Parallel()
	invoice := `{"credential": "c", "model": "gpt-4o-mini", "user": "Invoice {{ input.order }}", "response_format": "json_schema", "json_schema": ` + totalSchema + `}`
	tests := []messageCase{
		{
			name: "text completion",
			params: `{"credential": "c", "model": "{{ \"gpt-4o\" + \"-mini\" }}", "system": "You answer in {{ \"French\" }}.",
				"user": "Summarize order {{ input.order }}", "temperature": 0.2, "max_tokens": 100}`,
			answers: []fakeAnswer{completion("Commande 1042 : deux articles.", "stop")}, wantSent: true,
			check: func(t *testing.T, out any, sent sentRequest) {
				assert.Equal(t, "/v1/chat/completions", sent.path)
				assert.Equal(t, "Bearer "+openAITestKey, sent.auth)
				assert.Equal(t, "hf-step-key", sent.key)
				assert.Equal(t, map[string]any{
					"model": "gpt-4o-mini",
					"messages": []any{
						map[string]any{"role": "system", "content": "You answer in French."},
						map[string]any{"role": "user", "content": "Summarize order 1042"},
					},
					"temperature": 0.2,
					"max_tokens":  float64(100),
				}, sent.body, "no stream, no response_format; max_tokens for a server not OpenAI's")
				assert.Equal(t, map[string]any{
					"id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT", "model": "gpt-4o-mini-2024-07-18",
					"content": "Commande 1042 : deux articles.", "finish_reason": "stop",
					"usage": map[string]any{"prompt_tokens": int64(19), "completion_tokens": int64(10), "total_tokens": int64(29)},
				}, out)
			},
		},
		{
			name:    "a text answer cut off at the limit succeeds",
			params:  `{"credential": "c", "model": "gpt-4o-mini", "user": "Tell a story", "max_tokens": 5}`,
			answers: []fakeAnswer{completion("Once upon a time", "length")}, wantSent: true,
			check: func(t *testing.T, out any, _ sentRequest) {
				assert.Equal(t, "length", out.(map[string]any)["finish_reason"])
			},
		},
		{
			name: "earlier messages",
			params: `{"credential": "c", "model": "gpt-4o-mini", "system": "Be brief.", "user": "And the second?",
				"messages": "[{role: 'user', content: 'Name two colours'}, {role: 'assistant', content: 'Red and blue.'}]"}`,
			answers: []fakeAnswer{completion("Blue.", "stop")}, wantSent: true,
			check: func(t *testing.T, _ any, sent sentRequest) {
				assert.Equal(t, []any{
					map[string]any{"role": "system", "content": "Be brief."},
					map[string]any{"role": "user", "content": "Name two colours"},
					map[string]any{"role": "assistant", "content": "Red and blue."},
					map[string]any{"role": "user", "content": "And the second?"},
				}, sent.body["messages"])
			},
		},
		{
			name:    "structured output",
			params:  invoice,
			answers: []fakeAnswer{completion(`{"total": 12.5, "currency": "EUR"}`, "stop")}, wantSent: true,
			check: func(t *testing.T, out any, sent sentRequest) {
				var schema any
				require.NoError(t, json.Unmarshal([]byte(totalSchema), &schema))
				assert.Equal(t, map[string]any{"type": "json_schema", "json_schema": map[string]any{
					"name": "answer", "strict": true, "schema": schema,
				}}, sent.body["response_format"])
				o := out.(map[string]any)
				assert.Equal(t, map[string]any{"total": 12.5, "currency": "EUR"}, o["json"])
				assert.Equal(t, `{"total": 12.5, "currency": "EUR"}`, o["content"])
			},
		},
		{
			name: "structured output that does not match the schema", params: invoice,
			answers: []fakeAnswer{completion(`{"total": "12.50 EUR"}`, "stop")}, wantSent: true,
			wantErr: "llm.chat: the model's answer does not match the schema: currency is required; total must be a number, not string",
		},
		{
			name: "structured output that is not JSON", params: invoice,
			answers: []fakeAnswer{completion(`Sure! {"total": 12.5}`, "stop")}, wantSent: true,
			wantErr: "llm.chat: the model's answer is not JSON",
		},
		{
			name: "structured output cut off at the limit", params: invoice,
			answers: []fakeAnswer{completion(`{"total": 12.5, "curr`, "length")}, wantSent: true,
			wantErr: "cut off at the token limit (finish_reason length)", final: true,
		},
		{
			name:    "JSON object",
			params:  `{"credential": "c", "model": "gpt-4o-mini", "user": "Answer in JSON: {{ input.order }}", "response_format": "json_object"}`,
			answers: []fakeAnswer{completion(`{"order": 1042}`, "stop")}, wantSent: true,
			check: func(t *testing.T, out any, sent sentRequest) {
				assert.Equal(t, map[string]any{"type": "json_object"}, sent.body["response_format"])
				assert.Equal(t, map[string]any{"order": float64(1042)}, out.(map[string]any)["json"])
			},
		},
		{
			name:    "JSON that is not an object",
			params:  `{"credential": "c", "model": "gpt-4o-mini", "user": "JSON please", "response_format": "json_object"}`,
			answers: []fakeAnswer{completion(`[1, 2]`, "stop")}, wantSent: true,
			wantErr: "the model's answer is an array, not a JSON object",
		},
		{
			name: "refusal", params: invoice, wantSent: true,
			answers: []fakeAnswer{{status: 200, header: map[string]string{"Content-Type": "application/json"},
				body: `{"id": "chatcmpl-1", "object": "chat.completion", "created": 1741569952, "model": "gpt-4o-2024-08-06",
					"choices": [{"index": 0, "message": {"role": "assistant", "content": null, "refusal": "I'm sorry, I cannot assist with that request."},
					"logprobs": null, "finish_reason": "stop"}], "usage": {"prompt_tokens": 81, "completion_tokens": 11, "total_tokens": 92}}`}},
			wantErr: "llm.chat: the model refused: I'm sorry, I cannot assist with that request.", final: true,
		},
		{
			name: "content filter", params: `{"credential": "c", "model": "gpt-4o-mini", "user": "x"}`, wantSent: true,
			answers: []fakeAnswer{completion("", "content_filter")},
			wantErr: "withheld by the API's content filter", final: true,
		},
		{
			name: "key refused", params: `{"credential": "c", "model": "gpt-4o-mini", "user": "x"}`, wantSent: true,
			answers: []fakeAnswer{openAIError(401, "Incorrect API key provided: sk-proj-********************************************cXYZ. You can find your API key at https://platform.openai.com/account/api-keys.",
				"invalid_request_error", "invalid_api_key", nil)},
			wantErr: "llm.chat: the API refused the key (401 invalid_api_key)", final: true,
		},
		{
			name: "rate limited with retry-after", params: `{"credential": "c", "model": "gpt-4o-mini", "user": "x"}`, wantSent: true,
			answers: []fakeAnswer{openAIError(429, "Rate limit reached for gpt-4o-mini in organization org-123 on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.",
				"requests", "rate_limit_exceeded", map[string]string{"retry-after": "20", "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "20s"})},
			wantErr: "llm.chat: 429 Too Many Requests: Rate limit reached for gpt-4o-mini", retryIn: 20 * time.Second,
		},
		{
			name: "rate limited with retry-after-ms", params: `{"credential": "c", "model": "gpt-4o-mini", "user": "x"}`, wantSent: true,
			answers: []fakeAnswer{openAIError(429, "Rate limit reached.", "requests", "rate_limit_exceeded", map[string]string{"retry-after-ms": "1500", "retry-after": "2"})},
			wantErr: "(rate_limit_exceeded)", retryIn: 1500 * time.Millisecond,
		},
		{
			name: "rate limited on tokens, by the reset headers", params: `{"credential": "c", "model": "gpt-4o-mini", "user": "x"}`, wantSent: true,
			answers: []fakeAnswer{openAIError(429, "Rate limit reached on tokens per min (TPM).", "tokens", "rate_limit_exceeded", map[string]string{
				"x-ratelimit-remaining-requests": "59", "x-ratelimit-reset-requests": "1s",
				"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "6m0s"})},
			wantErr: "429", retryIn: 6 * time.Minute,
		},
		{
			name: "rate limited without a hint", params: `{"credential": "c", "model": "gpt-4o-mini", "user": "x"}`, wantSent: true,
			answers: []fakeAnswer{openAIError(429, "Rate limit reached.", "requests", "rate_limit_exceeded", nil)},
			wantErr: "429",
		},
		{
			name: "quota used up", params: `{"credential": "c", "model": "gpt-4o-mini", "user": "x"}`, wantSent: true,
			answers: []fakeAnswer{openAIError(429, "You exceeded your current quota, please check your plan and billing details.", "insufficient_quota", "insufficient_quota", nil)},
			wantErr: "You exceeded your current quota", final: true,
		},
		{
			name: "context too long", params: `{"credential": "c", "model": "gpt-4o-mini", "user": "x"}`, wantSent: true,
			answers: []fakeAnswer{openAIError(400, "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens. Please reduce the length of the messages.",
				"invalid_request_error", "context_length_exceeded", nil)},
			wantErr: "llm.chat: 400 Bad Request: This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens. Please reduce the length of the messages. (context_length_exceeded)", final: true,
		},
		{
			name: "unknown model", params: `{"credential": "c", "model": "gpt-9", "user": "x"}`, wantSent: true,
			answers: []fakeAnswer{openAIError(404, "The model `gpt-9` does not exist or you do not have access to it.", "invalid_request_error", "model_not_found", nil)},
			wantErr: "404 Not Found: The model `gpt-9` does not exist or you do not have access to it. (model_not_found)", final: true,
		},
		{
			name: "no API at the base URL", params: `{"credential": "c", "model": "gpt-4o-mini", "user": "x"}`, wantSent: true,
			answers: []fakeAnswer{{status: 404, header: map[string]string{"Content-Type": "text/plain"}, body: "404 page not found"}},
			wantErr: "no chat completions API at this base URL", final: true,
		},
		{
			name: "server error", params: `{"credential": "c", "model": "gpt-4o-mini", "user": "x"}`, wantSent: true,
			answers: []fakeAnswer{openAIError(500, "The server had an error while processing your request. Sorry about that!", "server_error", "", nil)},
			wantErr: "llm.chat: 500 Internal Server Error: The server had an error while processing your request.",
		},
		{
			name: "overloaded", params: `{"credential": "c", "model": "gpt-4o-mini", "user": "x"}`, wantSent: true,
			answers: []fakeAnswer{openAIError(503, "The engine is currently overloaded, please try again later.", "server_error", "", nil)},
			wantErr: "llm.chat: 503 Service Unavailable: The engine is currently overloaded",
		},
		{
			name: "bad gateway in front of the API", params: `{"credential": "c", "model": "gpt-4o-mini", "user": "x"}`, wantSent: true,
			answers: []fakeAnswer{{status: 502, header: map[string]string{"Content-Type": "text/html"}, body: "<html><body><h1>502 Bad Gateway</h1></body></html>"}},
			wantErr: "llm.chat: 502 Bad Gateway: <html><body><h1>502 Bad Gateway</h1></body></html>",
		},
		{
			name: "a web page, not the API", params: `{"credential": "c", "model": "gpt-4o-mini", "user": "x"}`, wantSent: true,
			answers: []fakeAnswer{{status: 200, header: map[string]string{"Content-Type": "text/html"}, body: "<html><body>Open WebUI</body></html>"}},
			wantErr: "is not a chat completion (200, text/html)", final: true,
		},
		{
			name: "an answer without choices", params: `{"credential": "c", "model": "gpt-4o-mini", "user": "x"}`, wantSent: true,
			answers: []fakeAnswer{{status: 200, header: map[string]string{"Content-Type": "application/json"}, body: `{"id": "x", "object": "chat.completion", "choices": []}`}},
			wantErr: "the answer holds no choices", final: true,
		},
		{
			name:    "user message that renders empty",
			params:  `{"credential": "c", "model": "gpt-4o-mini", "user": "{{ input.missing }}"}`,
			wantErr: "user: the message is empty", final: true,
		},
		{
			name:    "model that renders empty",
			params:  `{"credential": "c", "model": "{{ input.missing }}", "user": "x"}`,
			wantErr: "model: the model's name is empty", final: true,
		},
		{
			name:    "earlier messages that are not messages",
			params:  `{"credential": "c", "model": "gpt-4o-mini", "user": "x", "messages": "[{role: 'robot', content: 'hi'}]"}`,
			wantErr: `messages[0].role: "robot" is not system, developer, user or assistant`, final: true,
		},
	}
	for _, tt := range tests {
		runMessageCase(t, KindLLMChat, tt, openAICredential)
	}
}

// TestLLMChatCountsTokens reports each answer's usage, under the model
// that answered, also when its structured output then fails the schema.
func TestLLMChatCountsTokens(t *testing.T) {
	t.Parallel()
	api := &fakeAPI{answers: []fakeAnswer{completion(`{"total": 1, "currency": "EUR"}`, "stop"), completion(`{"total": "x"}`, "stop"),
		openAIError(500, "oops", "server_error", "", nil)}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	in := messageInput(t, srv, dbCreds{"c": openAICredential(srv.URL)})
	var mu sync.Mutex
	var counted []string
	in.Services.Tokens = func(model string, prompt, completion int64) {
		mu.Lock()
		defer mu.Unlock()
		counted = append(counted, fmt.Sprintf("%s %d %d", model, prompt, completion))
	}
	node := build(t, KindLLMChat, `{"credential": "c", "model": "gpt-4o-mini", "user": "x", "response_format": "json_schema", "json_schema": `+totalSchema+`}`)
	_, err := node.Run(context.Background(), in)
	require.NoError(t, err)
	_, err = node.Run(context.Background(), in)
	require.ErrorContains(t, err, "does not match the schema")
	_, err = node.Run(context.Background(), in)
	require.ErrorContains(t, err, "500")
	assert.Equal(t, []string{"gpt-4o-mini-2024-07-18 19 10", "gpt-4o-mini-2024-07-18 19 10"}, counted, "an error answer used no tokens")
}

// TestLLMChatTokenLimit sends the answer's limit as max_completion_tokens
// to OpenAI and Azure OpenAI, whose reasoning models refuse max_tokens, and
// as max_tokens to every other server.
func TestLLMChatTokenLimit(t *testing.T) {
	t.Parallel()
	node := build(t, KindLLMChat, `{"credential": "c", "model": "gpt-4o-mini", "user": "x", "max_tokens": 50}`).(*llmChatNode)
	tests := []struct{ base, param string }{
		{"https://api.openai.com/v1", "max_completion_tokens"},
		{"https://contoso.openai.azure.com/openai/v1/", "max_completion_tokens"},
		{"https://contoso.cognitiveservices.azure.com/openai/v1/", "max_completion_tokens"},
		{"http://localhost:11434/v1", "max_tokens"},
		{"http://vllm.internal:8000/v1", "max_tokens"},
		{"https://openrouter.ai/api/v1", "max_tokens"},
	}
	for _, tt := range tests {
		base, err := url.Parse(tt.base)
		require.NoError(t, err)
		in := &Input{Scope: newScope(nil)}
		body, err := node.request(context.Background(), in, base)
		require.NoError(t, err)
		data, err := json.Marshal(body)
		require.NoError(t, err)
		var sent map[string]any
		require.NoError(t, json.Unmarshal(data, &sent))
		assert.Equal(t, float64(50), sent[tt.param], tt.base)
		assert.Len(t, sent, 3, "%s: model, messages and the one limit: %s", tt.base, data)
	}
}

// TestLLMChatKeyNeverInErrors fails the call in every way and finds the key
// in no error, even when the API quotes it back.
func TestLLMChatKeyNeverInErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		answer *fakeAnswer // nil: the API is unreachable
	}{
		{"unauthorized", &fakeAnswer{status: 401, header: map[string]string{"Content-Type": "application/json"},
			body: `{"error": {"message": "Incorrect API key provided: ` + openAITestKey + `.", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}`}},
		{"bad request quoting the key", &fakeAnswer{status: 400, header: map[string]string{"Content-Type": "application/json"},
			body: `{"error": {"message": "Bad header Authorization: Bearer ` + openAITestKey + `", "type": "invalid_request_error", "param": null, "code": null}}`}},
		{"rate limited", &fakeAnswer{status: 429, header: map[string]string{"Retry-After": "1"}, body: `{"error": {"message": "slow down", "type": "requests", "param": null, "code": "rate_limit_exceeded"}}`}},
		{"unreachable", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in, err := runAgainst(t, KindLLMChat, `{"credential": "c", "model": "gpt-4o-mini", "user": "x"}`, tt.answer, openAICredential)
			assert.NotContains(t, err.Error(), openAITestKey)
			assert.NotContains(t, err.Error(), "TestKeyValue")
			if tt.answer == nil {
				assert.Contains(t, err.Error(), "llm.chat: POST http://127.0.0.1:1/v1/chat/completions: ")
				assert.False(t, IsPermanent(err), "an unreachable API is retried")
			}
			assert.Equal(t, Redacted, in.Secrets.Redact(openAITestKey), "the run's records redact the key")
		})
	}
}

// TestLLMChatIgnoresTheServersEnvironment keeps the operator's own OpenAI
// settings out of flows: a credential without a key sends none, to its own
// base URL, whatever OPENAI_API_KEY and OPENAI_BASE_URL say.
func TestLLMChatIgnoresTheServersEnvironment(t *testing.T) {
	elsewhere := &fakeAPI{}
	other := httptest.NewServer(elsewhere)
	defer other.Close()
	t.Setenv("OPENAI_API_KEY", "sk-operators-own-key-0123456789")
	t.Setenv("OPENAI_BASE_URL", other.URL+"/v1")
	t.Setenv("OPENAI_ORG_ID", "org-operator")
	api := &fakeAPI{answers: []fakeAnswer{completion("hi", "stop")}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	cred := &Credential{Name: "c", Type: CredentialOpenAI, Data: map[string]any{"base_url": srv.URL + "/v1"}}
	in := messageInput(t, srv, dbCreds{"c": cred})
	_, err := build(t, KindLLMChat, `{"credential": "c", "model": "llama3.2", "user": "x"}`).Run(context.Background(), in)
	require.NoError(t, err)
	require.Len(t, api.sent(), 1)
	assert.Empty(t, api.sent()[0].auth, "no key is sent")
	assert.Empty(t, elsewhere.sent())
}

// TestLLMChatRequest sends the request as the API documents it: a
// temperature of 0, no stream, an empty earlier message, and a reasoning
// model's name with parameters it may refuse (the API, or a proxy,
// decides); with the organization, the step's Idempotency-Key and
// Hookflow's User-Agent, as JSON.
func TestLLMChatRequest(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var header http.Header
	var body map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		header = r.Header.Clone()
		assert.NoError(t, json.NewDecoder(r.Body).Decode(&body))
		a := completion("ok", "stop")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(a.body))
	}))
	defer srv.Close()
	cred := openAICredential(srv.URL)
	cred.Data["organization"] = "org-123"
	in := messageInput(t, srv, dbCreds{"c": cred})
	_, err := build(t, KindLLMChat, `{"credential": "c", "model": "o3-mini", "user": "x", "temperature": 0, "max_tokens": 10,
		"messages": "[{role: 'assistant', content: ''}]"}`).Run(context.Background(), in)
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, map[string]any{
		"model":       "o3-mini",
		"messages":    []any{map[string]any{"role": "assistant", "content": ""}, map[string]any{"role": "user", "content": "x"}},
		"temperature": float64(0),
		"max_tokens":  float64(10),
	}, body)
	assert.Equal(t, "org-123", header.Get("OpenAI-Organization"))
	assert.Equal(t, "hf-step-key", header.Get("Idempotency-Key"))
	assert.Equal(t, "Hookflow", header.Get("User-Agent"))
	mediaType, _, err := mime.ParseMediaType(header.Get("Content-Type"))
	require.NoError(t, err)
	assert.Equal(t, "application/json", mediaType)
}

// TestLLMChatAnswerTooLong stops reading an answer, or an error answer,
// longer than an action may keep: final.
func TestLLMChatAnswerTooLong(t *testing.T) {
	t.Parallel()
	long := `{"id": "x", "object": "chat.completion", "choices": [], "padding": "` + strings.Repeat("a", maxResponseBytes) + `"}`
	for _, status := range []int{200, 500} {
		api := &fakeAPI{answers: []fakeAnswer{{status: status, header: map[string]string{"Content-Type": "application/json"}, body: long}}}
		srv := httptest.NewServer(api)
		in := messageInput(t, srv, dbCreds{"c": openAICredential(srv.URL)})
		_, err := build(t, KindLLMChat, `{"credential": "c", "model": "gpt-4o-mini", "user": "x"}`).Run(context.Background(), in)
		srv.Close()
		require.Error(t, err, status)
		assert.Contains(t, err.Error(), "llm.chat: the answer is longer than 3 MiB", status)
		assert.True(t, IsPermanent(err), status)
	}
}

// TestLLMChatSSRFGuard sends nothing to an address the guard refuses: a
// literal loopback address before any request, a name resolving to one
// when it is dialled. Both are final.
func TestLLMChatSSRFGuard(t *testing.T) {
	t.Parallel()
	api := &fakeAPI{answers: []fakeAnswer{completion("hi", "stop")}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	guard, err := netguard.New(false, nil)
	require.NoError(t, err)
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	for _, base := range []string{srv.URL, "http://localhost" + port} {
		in := messageInput(t, srv, dbCreds{"c": openAICredential(base)})
		in.Services.HTTP = guard.Client(10 * time.Second)
		in.Services.CheckURL = guard.CheckURL
		in.Services.Refused = func(err error) bool {
			var blocked *netguard.BlockedError
			return errors.As(err, &blocked)
		}
		_, err := build(t, KindLLMChat, `{"credential": "c", "model": "gpt-4o-mini", "user": "x"}`).Run(context.Background(), in)
		require.Error(t, err, base)
		assert.True(t, IsPermanent(err), "%s: %v", base, err)
		assert.Contains(t, err.Error(), "llm.chat: ", base)
	}
	assert.Empty(t, api.sent(), "nothing reached the server")
}

func TestLLMChatParamsAtSave(t *testing.T) {
	t.Parallel()
	const ok = `"credential": "c", "model": "gpt-4o-mini", "user": "x"`
	tests := []struct{ params, field string }{
		{`{"credential": "c", "user": "x"}`, "model"},
		{`{"credential": "c", "model": "gpt-4o-mini"}`, "user"},
		{`{"credential": "c", "model": "", "user": "x"}`, "model"},
		{`{"model": "gpt-4o-mini", "user": "x"}`, "credential"},
		{`{` + ok + `, "temperature": 2.5}`, "temperature"},
		{`{` + ok + `, "temperature": -1}`, "temperature"},
		{`{` + ok + `, "max_tokens": 0}`, "max_tokens"},
		{`{` + ok + `, "max_tokens": 1.5}`, "max_tokens"},
		{`{` + ok + `, "response_format": "xml"}`, "response_format"},
		{`{` + ok + `, "response_format": "json_schema"}`, "json_schema"},
		{`{` + ok + `, "response_format": "json_schema", "json_schema": "an object"}`, "json_schema"},
		{`{` + ok + `, "response_format": "json_schema", "json_schema": {"type": "nope"}}`, "json_schema"},
		{`{` + ok + `, "response_format": "json_schema", "json_schema": {"$ref": "file:///etc/passwd"}}`, "json_schema"},
		{`{` + ok + `, "json_schema": {"type": "object"}}`, "json_schema"},
		{`{` + ok + `, "response_format": "json_schema", "json_schema": {"type": "object"}, "schema_name": "my schema"}`, "schema_name"},
		{`{` + ok + `, "messages": "[{role: "}`, "messages"},
		{`{` + ok + `, "system": "{{ input. }}"}`, "system"},
		{`{` + ok + `, "stream": true}`, "stream"},
	}
	for _, tt := range tests {
		errs := buildErrors(t, KindLLMChat, tt.params)
		require.NotEmpty(t, errs, tt.params)
		assert.Equal(t, tt.field, errs[0].Field, "%.120s: %v", tt.params, errs)
	}
	build(t, KindLLMChat, `{`+ok+`, "temperature": 0, "max_tokens": 1, "response_format": "json_object"}`)
	build(t, KindLLMChat, `{`+ok+`, "response_format": "json_schema", "json_schema": `+totalSchema+`, "schema_name": "invoice-total_2", "strict": false}`)
}

func TestOpenAICredentialType(t *testing.T) {
	t.Parallel()
	ct, ok := builtins(t).CredentialType(CredentialOpenAI)
	require.True(t, ok)
	checkCredentialCases(t, ct, []credentialCase{
		{map[string]any{"api_key": openAITestKey}, ""},
		{map[string]any{"api_key": openAITestKey, "organization": "org-123"}, ""},
		{map[string]any{"base_url": "https://contoso.openai.azure.com/openai/v1/", "api_key": "0123456789abcdef"}, ""},
		{map[string]any{"base_url": "http://ollama.internal:11434/v1"}, ""},
		{map[string]any{}, "api_key"},
		{map[string]any{"base_url": "ftp://models.example.com/v1"}, "base_url"},
		{map[string]any{"base_url": "https://user:pass@models.example.com/v1"}, "base_url"},
		{map[string]any{"base_url": "https://contoso.openai.azure.com/openai?api-version=2024-10-21", "api_key": "k"}, "base_url"},
		{map[string]any{"api_key": openAITestKey, "model": "gpt-4o"}, "model"},
	})
	assert.Equal(t, []string{openAITestKey}, ct.SecretValues(map[string]any{"api_key": openAITestKey, "base_url": "https://api.openai.com/v1"}))
}

func TestLLMRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header map[string]string
		want   time.Duration
		ok     bool
	}{
		{"retry-after-ms first", map[string]string{"Retry-After-Ms": "250", "Retry-After": "3"}, 250 * time.Millisecond, true},
		{"retry-after in seconds", map[string]string{"Retry-After": "3"}, 3 * time.Second, true},
		{"retry-after as a date", map[string]string{"Retry-After": now.Add(time.Minute).Format(http.TimeFormat)}, time.Minute, true},
		{"a bad retry-after-ms falls back", map[string]string{"Retry-After-Ms": "NaN", "Retry-After": "2"}, 2 * time.Second, true},
		{"the limit used up", map[string]string{"X-Ratelimit-Remaining-Requests": "0", "X-Ratelimit-Reset-Requests": "2s",
			"X-Ratelimit-Remaining-Tokens": "9000", "X-Ratelimit-Reset-Tokens": "6m0s"}, 2 * time.Second, true},
		{"neither used up: the later", map[string]string{"X-Ratelimit-Reset-Requests": "20ms", "X-Ratelimit-Reset-Tokens": "1.5s"}, 1500 * time.Millisecond, true},
		{"infinite", map[string]string{"Retry-After-Ms": "+Inf"}, 0, false},
		{"huge", map[string]string{"Retry-After": "1e300"}, maxHeaderWait, true},
		{"negative", map[string]string{"Retry-After": "-5"}, 0, false},
		{"none", nil, 0, false},
	}
	for _, tt := range tests {
		h := http.Header{}
		for k, v := range tt.header {
			h.Set(k, v)
		}
		got, ok := llmRetryAfter(h, now)
		assert.Equal(t, tt.ok, ok, tt.name)
		assert.Equal(t, tt.want, got, tt.name)
	}
}

// FuzzLLMRetryAfter reads any rate-limit headers without a panic or a
// negative wait.
func FuzzLLMRetryAfter(f *testing.F) {
	f.Add("250", "3", "1s", "6m0s")
	f.Add("+Inf", "1e400", "-1s", "9999999h")
	f.Add("", "Wed, 21 Oct 2015 07:28:00 GMT", "", "")
	f.Fuzz(func(t *testing.T, ms, after, resetRequests, resetTokens string) {
		h := http.Header{}
		h.Set("Retry-After-Ms", ms)
		h.Set("Retry-After", after)
		h.Set("X-Ratelimit-Reset-Requests", resetRequests)
		h.Set("X-Ratelimit-Reset-Tokens", resetTokens)
		got, ok := llmRetryAfter(h, time.Now())
		if ok {
			require.GreaterOrEqual(t, got, time.Duration(0))
		}
	})
}
