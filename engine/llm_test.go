package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

const llmKey = "sk-proj-EngineTestKey0123456789abcdefXYZ"

// openAIFake plays OpenAI's chat completions endpoint: it answers its
// scripted answers in turn, as the API documents them, and keeps each
// request's Authorization, Idempotency-Key and body.
type openAIFake struct {
	mu      sync.Mutex
	answers []openAIAnswer
	sent    []openAIRequest
}

type openAIRequest struct {
	path, auth, key string
	body            map[string]any
}

type openAIAnswer struct {
	status int
	header map[string]string
	body   string
}

// completionAnswer is a chat completion whose one choice says content.
func completionAnswer(content string) openAIAnswer {
	text, _ := json.Marshal(content)
	return openAIAnswer{status: http.StatusOK, body: `{"id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", "object": "chat.completion",
		"created": 1741570283, "model": "gpt-4o-mini-2024-07-18",
		"choices": [{"index": 0, "message": {"role": "assistant", "content": ` + string(text) + `, "refusal": null, "annotations": []},
			"logprobs": null, "finish_reason": "stop"}],
		"usage": {"prompt_tokens": 52, "completion_tokens": 9, "total_tokens": 61,
			"prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
			"completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
		"service_tier": "default", "system_fingerprint": "fp_06737a9306"}`}
}

func (f *openAIFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	data, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(data, &body)
	f.mu.Lock()
	f.sent = append(f.sent, openAIRequest{r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Idempotency-Key"), body})
	answer := completionAnswer(`{"total": 12.5, "currency": "EUR"}`)
	if len(f.answers) > 0 {
		answer, f.answers = f.answers[0], f.answers[1:]
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	for k, v := range answer.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(answer.status)
	_, _ = io.WriteString(w, answer.body)
}

func (f *openAIFake) requests() []openAIRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]openAIRequest(nil), f.sent...)
}

const invoiceFlow = `{"name": "invoice totals", "nodes": [
	{"id": "hook", "type": "trigger.webhook"},
	{"id": "read", "type": "llm.chat", "params": {"credential": "openai", "model": "gpt-4o-mini", "temperature": 0,
		"system": "Answer with the invoice's total and currency.", "user": "Invoice {{ trigger.body.number }}: {{ trigger.body.text }}",
		"response_format": "json_schema", "json_schema": {"type": "object",
			"properties": {"total": {"type": "number"}, "currency": {"type": "string"}},
			"required": ["total", "currency"], "additionalProperties": false}}%s},
	{"id": "save", "type": "transform", "params": {"fields": {"total": "steps.read.json.total", "tokens": "steps.read.usage.total_tokens"}}}],
	"edges": [{"from": "hook", "to": "read"}, {"from": "read", "to": "save"}]}`

// llmCredentials is an openai credential for the fake at base.
func llmCredentials(base string) fakeCredentials {
	return fakeCredentials{"openai": {Name: "openai", Type: nodes.CredentialOpenAI, Secrets: []string{llmKey},
		Data: map[string]any{"base_url": base + "/v1", "api_key": llmKey}}}
}

// TestLLMChatRun reads an invoice with a model on each store: the API's
// 429 is waited out as retry-after-ms says, an answer that does not match
// the schema is tried again, the matching one feeds the next step, every
// answer's tokens are counted, and the key lands in no record.
func TestLLMChatRun(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			api := &openAIFake{answers: []openAIAnswer{
				{status: http.StatusTooManyRequests, header: map[string]string{"retry-after-ms": "300", "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "300ms"},
					body: `{"error": {"message": "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3, Requested 1.", "type": "requests", "param": null, "code": "rate_limit_exceeded"}}`},
				completionAnswer(`{"total": "12.50 EUR"}`),
			}}
			srv := httptest.NewServer(api)
			defer srv.Close()
			services := actionServices(llmCredentials(srv.URL))
			var mu sync.Mutex
			var tokens []string
			services.Tokens = func(model string, prompt, completion int64) {
				mu.Lock()
				defer mu.Unlock()
				tokens = append(tokens, fmt.Sprintf("%s %d+%d", model, prompt, completion))
			}
			e := newHarness(t).engineFor(t, storetest.Open(t, dialect), Options{Services: services})
			doc := fmt.Sprintf(invoiceFlow, `, "retry": {"max_attempts": 3, "backoff_ms": 10}`)
			run := waitRun(t, e, startRun(t, e, doc, `{"number": 1042, "text": "Total due: 12.50 EUR"}`).ID)
			require.Equal(t, store.RunSucceeded, run.Status, run.Error)
			assert.Equal(t, `status: succeeded
steps:
  hook             1 succeeded port=""
  read             1 failed retried error="llm.chat: 429 Too Many Requests: Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3, Requested 1. (rate_limit_exceeded)"
  read             2 failed retried error="llm.chat: the model's answer does not match the schema: currency is required; total must be a number, not string"
  read             3 succeeded port="" output={"content":"{\"total\": 12.5, \"currency\": \"EUR\"}","finish_reason":"stop","id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","json":{"currency":"EUR","total":12.5},"model":"gpt-4o-mini-2024-07-18","usage":{"completion_tokens":9,"prompt_tokens":52,"total_tokens":61}}
  save             1 succeeded port="" output={"tokens":61,"total":12.5}
`, trace(t, e, run))

			steps, err := e.store.ListSteps(context.Background(), run.ID)
			require.NoError(t, err)
			for _, s := range steps {
				if s.NodeID == "read" && s.Attempt == 1 {
					require.NotNil(t, s.ResumeAt)
					assert.GreaterOrEqual(t, s.ResumeAt.Sub(s.StartedAt).Milliseconds(), int64(300), "the retry waits as retry-after-ms says")
				}
				record := fmt.Sprintf("%s %s %s %s", s.Input, s.Output, s.Error, s.Logs)
				assert.NotContains(t, record, llmKey)
				assert.NotContains(t, record, "EngineTestKey")
			}

			sent := api.requests()
			require.Len(t, sent, 3)
			var schema any
			require.NoError(t, json.Unmarshal([]byte(`{"type": "object", "properties": {"total": {"type": "number"}, "currency": {"type": "string"}},
				"required": ["total", "currency"], "additionalProperties": false}`), &schema))
			for _, s := range sent {
				assert.Equal(t, "/v1/chat/completions", s.path)
				assert.Equal(t, "Bearer "+llmKey, s.auth)
				assert.Equal(t, sent[0].key, s.key, "every attempt sends the same Idempotency-Key")
				assert.Equal(t, map[string]any{
					"model":       "gpt-4o-mini",
					"temperature": float64(0),
					"messages": []any{
						map[string]any{"role": "system", "content": "Answer with the invoice's total and currency."},
						map[string]any{"role": "user", "content": "Invoice 1042: Total due: 12.50 EUR"},
					},
					"response_format": map[string]any{"type": "json_schema", "json_schema": map[string]any{"name": "answer", "strict": true, "schema": schema}},
				}, s.body, "every attempt sends the same request")
			}
			assert.NotEmpty(t, sent[0].key)
			assert.Equal(t, []string{"gpt-4o-mini-2024-07-18 52+9", "gpt-4o-mini-2024-07-18 52+9"}, tokens, "both answers' tokens, not the 429's")
		})
	}
}

// TestLLMChatFailures fails runs clearly on each store: an answer that never
// matches the schema fails the step once its attempts are spent, and a
// refused key at once, without the key in the error.
func TestLLMChatFailures(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			mismatch := completionAnswer(`{"total": 12.5, "currency": "EUR", "note": "paid"}`)
			api := &openAIFake{answers: []openAIAnswer{mismatch, mismatch}}
			srv := httptest.NewServer(api)
			defer srv.Close()
			e := newHarness(t).engineFor(t, storetest.Open(t, dialect), Options{Services: actionServices(llmCredentials(srv.URL))})
			run := waitRun(t, e, startRun(t, e, fmt.Sprintf(invoiceFlow, `, "retry": {"max_attempts": 2, "backoff_ms": 10}`), `{"number": 7, "text": "x"}`).ID)
			assert.Equal(t, `status: failed
error: node read failed: llm.chat: the model's answer does not match the schema: note is not a known field
steps:
  hook             1 succeeded port=""
  read             1 failed retried error="llm.chat: the model's answer does not match the schema: note is not a known field"
  read             2 failed error="llm.chat: the model's answer does not match the schema: note is not a known field"
`, trace(t, e, run))
			assert.Len(t, api.requests(), 2)

			refused := &openAIFake{answers: []openAIAnswer{{status: http.StatusUnauthorized,
				body: `{"error": {"message": "Incorrect API key provided: sk-proj-********************************************cXYZ. You can find your API key at https://platform.openai.com/account/api-keys.", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}`}}}
			srv2 := httptest.NewServer(refused)
			defer srv2.Close()
			e = newHarness(t).engineFor(t, storetest.Open(t, dialect), Options{Services: actionServices(llmCredentials(srv2.URL))})
			run = waitRun(t, e, startRun(t, e, fmt.Sprintf(invoiceFlow, ""), `{"number": 7, "text": "x"}`).ID)
			assert.Equal(t, `status: failed
error: node read failed: llm.chat: the API refused the key (401 invalid_api_key)
steps:
  hook             1 succeeded port=""
  read             1 failed error="llm.chat: the API refused the key (401 invalid_api_key)"
`, trace(t, e, run))
			assert.Len(t, refused.requests(), 1, "a refused key is not tried again")
		})
	}
}
