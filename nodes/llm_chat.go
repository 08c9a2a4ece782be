package nodes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hookflow/hookflow/engine/expression"
	"github.com/hookflow/hookflow/engine/schema"
)

// KindLLMChat is the kind that asks a language model for a chat completion.
const KindLLMChat = "llm.chat"

// DefaultOpenAIBaseURL is the base of OpenAI's API, which an openai
// credential without a base_url talks to.
const DefaultOpenAIBaseURL = "https://api.openai.com/v1"

// Response formats of llm.chat.
const (
	LLMText       = "text"
	LLMJSONObject = "json_object"
	LLMJSONSchema = "json_schema"
)

// llmMaxMessages is the most earlier turns the messages param may give.
const llmMaxMessages = 1000

// llmSchemaName is what OpenAI takes as a response format's name.
var llmSchemaName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

var llmChatSpec = Spec{
	Kind:     KindLLMChat,
	Icon:     "bot",
	Category: CategoryAction,
	Title:    "LLM chat",
	Summary:  "Asks a model for a chat completion through OpenAI's API or any compatible one (Azure OpenAI, Ollama, vLLM, LM Studio …), optionally as JSON checked against a schema.",
	Attempts: 3,
	Fields: []Field{
		{Name: "credential", Type: TypeCredential, Label: "OpenAI-compatible API", Required: true,
			CredentialTypes: []string{CredentialOpenAI}, Help: "The API's base URL and key."},
		{Name: "model", Type: TypeTemplate, Label: "Model", Required: true, Min: Bound(1),
			Help: "The model's name (gpt-4o-mini, llama3.2 …); on Azure OpenAI, the deployment's name. May hold {{ templates }}.", Placeholder: "gpt-4o-mini"},
		{Name: "system", Type: TypeTemplate, Label: "System message", Multiline: true,
			Help: "Instructions the model follows; may hold {{ templates }}.", Placeholder: "You sort support tickets."},
		{Name: "user", Type: TypeTemplate, Label: "User message", Required: true, Min: Bound(1), Multiline: true,
			Help: "What the model answers; may hold {{ templates }}.", Placeholder: "Ticket: {{ trigger.body.text }}"},
		{Name: "messages", Type: TypeExpression, Label: "Earlier messages", Advanced: true,
			Help:        "An expression giving the conversation so far, sent between the system and the user message: a list of {role, content}, role system, developer, user or assistant.",
			Placeholder: "steps.history.messages"},
		{Name: "temperature", Type: TypeNumber, Label: "Temperature", Min: Bound(0), Max: Bound(2),
			Help: "0 to 2: lower is more predictable. Empty: the model's default."},
		{Name: "max_tokens", Type: TypeInteger, Label: "Max tokens", Min: Bound(1),
			Help: "The most tokens the answer may have. Empty: the model's limit."},
		{Name: "response_format", Type: TypeSelect, Label: "Answer as", Default: LLMText, Options: []Option{
			{Value: LLMText, Label: "Text"},
			{Value: LLMJSONObject, Label: "JSON object", Help: "Any JSON object; the messages must ask for JSON."},
			{Value: LLMJSONSchema, Label: "JSON matching a schema", Help: "Structured output: the answer is checked against the schema before the step succeeds."},
		}},
		{Name: "json_schema", Type: TypeJSON, Label: "Schema",
			Help: "With JSON matching a schema: a JSON Schema of the answer, an object at the top. Templates are not rendered in it."},
		{Name: "schema_name", Type: TypeString, Label: "Schema name", Default: "answer", Advanced: true,
			Help: "The name the API gets with the schema: letters, digits, _ and -, up to 64."},
		{Name: "strict", Type: TypeBoolean, Label: "Strict schema", Default: true, Advanced: true,
			Help: "Ask the API to keep to the schema exactly (OpenAI's strict mode takes a subset of JSON Schema: every property required, additionalProperties false)."},
	},
}

type llmChatParams struct {
	Credential     string   `json:"credential"`
	Model          string   `json:"model"`
	System         string   `json:"system"`
	User           string   `json:"user"`
	Messages       string   `json:"messages"`
	Temperature    *float64 `json:"temperature"`
	MaxTokens      *int64   `json:"max_tokens"`
	ResponseFormat string   `json:"response_format"`
	JSONSchema     any      `json:"json_schema"`
	SchemaName     string   `json:"schema_name"`
	Strict         bool     `json:"strict"`
}

type llmChatNode struct {
	credential  string
	model       *expression.Template
	system      *expression.Template
	user        *expression.Template
	messages    *expression.Program
	temperature *float64
	maxTokens   *int64
	format      string
	// schemaJSON is the schema as the user wrote it, sent to the API;
	// schema is the same compiled, which the answer is checked against.
	schemaJSON json.RawMessage
	schema     *schema.Schema
	schemaName string
	strict     bool
}

var _ Node = (*llmChatNode)(nil)

func buildLLMChat(b *Builder, p *llmChatParams) Node {
	n := &llmChatNode{
		credential:  p.Credential,
		model:       b.Template("model", p.Model),
		user:        b.Template("user", p.User),
		messages:    b.Expression("messages", p.Messages),
		temperature: p.Temperature,
		maxTokens:   p.MaxTokens,
		format:      p.ResponseFormat,
		schemaName:  p.SchemaName,
		strict:      p.Strict,
	}
	if p.System != "" {
		n.system = b.Template("system", p.System)
	}
	switch {
	case p.ResponseFormat == LLMJSONSchema && p.JSONSchema == nil:
		b.Fail("json_schema", "is required to answer as JSON matching a schema")
	case p.ResponseFormat == LLMJSONSchema:
		doc, ok := p.JSONSchema.(map[string]any)
		if !ok {
			b.Fail("json_schema", "must be a JSON Schema object, not %s", jsonKind(p.JSONSchema))
			break
		}
		compiled, err := schema.Compile(doc)
		if err != nil {
			b.Fail("json_schema", "is not a valid JSON Schema: %v", err)
			break
		}
		data, err := json.Marshal(doc)
		if err != nil {
			b.Fail("json_schema", "cannot be sent as JSON: %v", err)
			break
		}
		n.schemaJSON, n.schema = data, compiled
	case p.JSONSchema != nil:
		b.Fail("json_schema", "is only used to answer as JSON matching a schema (response_format json_schema)")
	}
	if !llmSchemaName.MatchString(p.SchemaName) {
		b.Fail("schema_name", "must be 1 to 64 letters, digits, _ or -")
	}
	return n
}

// jsonKind names the JSON type of a decoded value, for messages.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64, json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	}
	return "an object"
}

// Run asks for the completion. The output is {id, model, content,
// finish_reason, usage {prompt_tokens, completion_tokens, total_tokens}},
// and json, the answer parsed, when it is to be JSON.
func (n *llmChatNode) Run(ctx context.Context, in *Input) (Result, error) {
	cred, err := in.Credential(ctx, n.credential, CredentialOpenAI)
	if err != nil {
		return Result{}, err
	}
	base, err := openAIBaseURL(cred.String("base_url"))
	if err != nil {
		return Result{}, Permanent(fmt.Errorf("credential %q: base_url %w", n.credential, err))
	}
	body, err := n.request(ctx, in, base)
	if err != nil {
		return Result{}, err
	}
	key := cred.String("api_key")
	completion, err := n.call(ctx, in, base, key, cred.String("organization"), body)
	if err != nil {
		// The key travels in a header, which no error quotes; an API
		// echoing it back is still kept from the logs.
		return Result{}, hideSecret(err, key)
	}
	out, err := n.output(in, completion, body.Model)
	if err != nil {
		return Result{}, hideSecret(err, key)
	}
	return Result{Output: out}, nil
}

// openAIBaseURL reads a credential's base_url: the API's root, under which
// chat/completions lies.
func openAIBaseURL(raw string) (*url.URL, error) {
	if raw == "" {
		raw = DefaultOpenAIBaseURL
	}
	if err := checkHTTPURL(raw); err != nil {
		return nil, err
	}
	u, _ := url.Parse(raw)
	switch {
	case u.User != nil:
		return nil, errors.New("must not hold a user or password: put the key in api_key")
	case u.RawQuery != "" || u.Fragment != "":
		return nil, errors.New("must not have a query or fragment")
	}
	return u, nil
}

// llmRequest is a chat completion request, as it is sent: a temperature
// of 0 is sent, and no stream.
type llmRequest struct {
	Model               string             `json:"model"`
	Messages            []llmMessage       `json:"messages"`
	Temperature         *float64           `json:"temperature,omitempty"`
	MaxTokens           *int64             `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int64             `json:"max_completion_tokens,omitempty"`
	ResponseFormat      *llmResponseFormat `json:"response_format,omitempty"`
}

// llmResponseFormat asks for a JSON object, or JSON matching a schema.
type llmResponseFormat struct {
	Type       string         `json:"type"`
	JSONSchema *llmJSONSchema `json:"json_schema,omitempty"`
}

// llmJSONSchema is a response format's schema, sent as the user wrote it.
type llmJSONSchema struct {
	Name   string          `json:"name"`
	Schema json.RawMessage `json:"schema"`
	Strict bool            `json:"strict"`
}

// llmMessage is a message of the conversation: its role and its text.
type llmMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// request renders the chat completion's parameters.
func (n *llmChatNode) request(ctx context.Context, in *Input, base *url.URL) (llmRequest, error) {
	var body llmRequest
	model, err := renderText(ctx, in, "model", n.model)
	if err != nil {
		return body, err
	}
	if model = strings.TrimSpace(model); model == "" {
		return body, Permanent(errors.New("model: the model's name is empty"))
	}
	body.Model = model
	if n.system != nil {
		system, err := renderText(ctx, in, "system", n.system)
		if err != nil {
			return body, err
		}
		if strings.TrimSpace(system) != "" {
			body.Messages = append(body.Messages, llmMessage{"system", system})
		}
	}
	if n.messages != nil {
		earlier, err := n.earlierMessages(ctx, in)
		if err != nil {
			return body, err
		}
		body.Messages = append(body.Messages, earlier...)
	}
	user, err := renderText(ctx, in, "user", n.user)
	if err != nil {
		return body, err
	}
	if strings.TrimSpace(user) == "" {
		return body, Permanent(errors.New("user: the message is empty"))
	}
	body.Messages = append(body.Messages, llmMessage{"user", user})
	body.Temperature = n.temperature
	if n.maxTokens != nil {
		// OpenAI's reasoning models refuse max_tokens, which it has
		// deprecated; most compatible servers know only max_tokens.
		if speaksMaxCompletionTokens(base) {
			body.MaxCompletionTokens = n.maxTokens
		} else {
			body.MaxTokens = n.maxTokens
		}
	}
	switch n.format {
	case LLMJSONObject:
		body.ResponseFormat = &llmResponseFormat{Type: "json_object"}
	case LLMJSONSchema:
		body.ResponseFormat = &llmResponseFormat{Type: "json_schema",
			JSONSchema: &llmJSONSchema{Name: n.schemaName, Schema: n.schemaJSON, Strict: n.strict}}
	}
	return body, nil
}

// speaksMaxCompletionTokens reports whether the API at base is OpenAI's or
// Azure OpenAI's, which take the answer's limit as max_completion_tokens.
func speaksMaxCompletionTokens(base *url.URL) bool {
	host := strings.ToLower(base.Hostname())
	return host == "api.openai.com" || strings.HasSuffix(host, ".openai.azure.com") ||
		strings.HasSuffix(host, ".cognitiveservices.azure.com") || strings.HasSuffix(host, ".services.ai.azure.com")
}

// renderText evaluates a template to text.
func renderText(ctx context.Context, in *Input, field string, t *expression.Template) (string, error) {
	if t == nil {
		return "", nil
	}
	v, err := t.Eval(ctx, in.Scope)
	if err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	return expression.Stringify(v), nil
}

// earlierMessages evaluates the messages param: the conversation so far.
func (n *llmChatNode) earlierMessages(ctx context.Context, in *Input) ([]llmMessage, error) {
	v, err := n.messages.Eval(ctx, in.Scope)
	if err != nil {
		return nil, fmt.Errorf("messages: %w", err)
	}
	if v == nil {
		return nil, nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, Permanent(fmt.Errorf("messages: %q gave %T, not a list of {role, content}", n.messages.Source(), v))
	}
	if rv.Len() > llmMaxMessages {
		return nil, Permanent(fmt.Errorf("messages: %d messages; the limit is %d", rv.Len(), llmMaxMessages))
	}
	out := make([]llmMessage, 0, rv.Len())
	for i := range rv.Len() {
		m, ok := rv.Index(i).Interface().(map[string]any)
		if !ok {
			return nil, Permanent(fmt.Errorf("messages[%d]: is %T, not a {role, content} object", i, rv.Index(i).Interface()))
		}
		role, _ := m["role"].(string)
		content, ok := m["content"].(string)
		if !ok {
			return nil, Permanent(fmt.Errorf("messages[%d].content: must be text", i))
		}
		switch role {
		case "system", "developer", "user", "assistant":
			out = append(out, llmMessage{role, content})
		default:
			return nil, Permanent(fmt.Errorf("messages[%d].role: %q is not system, developer, user or assistant", i, role))
		}
	}
	return out, nil
}

// call posts the request on the path every action's takes (the SSRF
// guard, the guarded client, the step's Idempotency-Key, the answer's cap)
// and reads the completion from the answer. Without a key, a credential
// sends no Authorization: a local server takes none.
func (n *llmChatNode) call(ctx context.Context, in *Input, base *url.URL, key, org string, body llmRequest) (*llmCompletion, error) {
	endpoint := base.JoinPath("chat/completions")
	req, err := jsonRequest(ctx, endpoint.String(), body)
	if err != nil {
		return nil, fmt.Errorf("llm.chat: %w", err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if org != "" {
		req.Header.Set("OpenAI-Organization", org)
	}
	resp, err := send(ctx, in, req, maxResponseBytes)
	if err != nil {
		return nil, fmt.Errorf("llm.chat: %w", err)
	}
	if resp.truncated {
		// Not decoded: the start of an answer may be a whole JSON value.
		return nil, Permanent(fmt.Errorf("llm.chat: the answer is longer than %d MiB", maxResponseBytes>>20))
	}
	if resp.status >= 400 {
		return nil, llmStatusError(resp)
	}
	var c llmCompletion
	if resp.status >= 300 || json.Unmarshal(resp.body, &c) != nil {
		mediaType, _, _ := mime.ParseMediaType(resp.header.Get("Content-Type"))
		return nil, Permanent(fmt.Errorf("llm.chat: the answer of %s is not a chat completion (%d, %s); is the base URL the API's, ending in /v1 for most servers?",
			redactedURL(endpoint), resp.status, mediaType))
	}
	return &c, nil
}

// llmCompletion is what the node reads of a chat completion.
type llmCompletion struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Choices []struct {
		Message struct {
			Content string `json:"content"`
			Refusal string `json:"refusal"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage struct {
		PromptTokens     int64 `json:"prompt_tokens"`
		CompletionTokens int64 `json:"completion_tokens"`
		TotalTokens      int64 `json:"total_tokens"`
	} `json:"usage"`
}

// llmErrorAnswer is the API's error answer: {"error": {"message", "type",
// "param", "code"}}, whose code is text (OpenAI's), a number (some
// servers') or null.
type llmErrorAnswer struct {
	Error struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    any    `json:"code"`
	} `json:"error"`
}

// llmStatusError classes an error answer: the API's, or another (a
// proxy's page), whose start it quotes.
func llmStatusError(r *response) error {
	var answer llmErrorAnswer
	if json.Unmarshal(r.body, &answer) != nil {
		// What a body of another shape left in answer is not the API's.
		answer = llmErrorAnswer{}
	}
	message, typ := answer.Error.Message, answer.Error.Type
	var code string
	switch c := answer.Error.Code.(type) {
	case string:
		code = c
	case float64:
		code = strconv.FormatFloat(c, 'f', -1, 64)
	}
	detail := message
	if detail == "" {
		detail = snippet(r.body)
	}
	if code != "" {
		detail = strings.TrimSpace(detail + " (" + code + ")")
	}
	status := r.status
	err := fmt.Errorf("llm.chat: %d %s", status, http.StatusText(status))
	if detail != "" {
		err = fmt.Errorf("%w: %s", err, detail)
	}
	switch {
	case status == http.StatusUnauthorized:
		// OpenAI's message quotes the start and end of the key: left out.
		reason := code
		if reason == "" {
			reason = http.StatusText(status)
		}
		return Permanent(fmt.Errorf("llm.chat: the API refused the key (401 %s)", reason))
	case status == http.StatusForbidden:
		return Permanent(fmt.Errorf("llm.chat: the API refused access (403 Forbidden): %s", detail))
	case status == http.StatusTooManyRequests && (code == "insufficient_quota" || typ == "insufficient_quota"):
		// The account's quota or credit is used up: no wait will do.
		return Permanent(err)
	case status == http.StatusTooManyRequests:
		if after, ok := llmRetryAfter(r.header, time.Now()); ok {
			return RetryAfter(after, err)
		}
		return err
	case status == http.StatusRequestTimeout || status == http.StatusConflict || status >= 500:
		return err
	case status == http.StatusNotFound && message == "":
		return Permanent(fmt.Errorf("%w: no chat completions API at this base URL; most servers' end in /v1", err))
	}
	return Permanent(err)
}

// llmRetryAfter reads how long a 429 asks to wait: retry-after-ms, then
// Retry-After, then OpenAI's x-ratelimit-reset-requests and
// x-ratelimit-reset-tokens ("1s", "6m0s", "20ms"), of the limit that is
// used up, or the later of the two.
func llmRetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if ms, err := strconv.ParseFloat(strings.TrimSpace(h.Get("Retry-After-Ms")), 64); err == nil {
		if after, ok := waitOf(ms, time.Millisecond); ok {
			return after, true
		}
	}
	if after, ok := retryAfter(h, now); ok {
		return after, true
	}
	var wait, exhausted time.Duration
	found, anyExhausted := false, false
	for _, limit := range []string{"requests", "tokens"} {
		d, err := time.ParseDuration(strings.TrimSpace(h.Get("X-Ratelimit-Reset-" + limit)))
		if err != nil || d < 0 {
			continue
		}
		d = min(d, maxHeaderWait)
		found = true
		wait = max(wait, d)
		if strings.TrimSpace(h.Get("X-Ratelimit-Remaining-"+limit)) == "0" {
			anyExhausted = true
			exhausted = max(exhausted, d)
		}
	}
	if anyExhausted {
		return exhausted, true
	}
	return wait, found
}

// output checks the completion and makes the step's output. Its tokens
// are counted whatever the checks find: they were spent.
func (n *llmChatNode) output(in *Input, c *llmCompletion, asked string) (map[string]any, error) {
	model := c.Model
	if model == "" {
		model = asked
	}
	prompt, completion := c.Usage.PromptTokens, c.Usage.CompletionTokens
	if count := in.Services.Tokens; count != nil {
		count(model, prompt, completion)
	}
	if len(c.Choices) == 0 {
		return nil, Permanent(errors.New("llm.chat: the answer holds no choices"))
	}
	choice := c.Choices[0]
	if choice.Message.Refusal != "" {
		return nil, Permanent(fmt.Errorf("llm.chat: the model refused: %s", choice.Message.Refusal))
	}
	if choice.FinishReason == "content_filter" {
		return nil, Permanent(errors.New("llm.chat: the answer was withheld by the API's content filter (finish_reason content_filter)"))
	}
	out := map[string]any{
		"id":            c.ID,
		"model":         model,
		"content":       choice.Message.Content,
		"finish_reason": choice.FinishReason,
		"usage": map[string]any{
			"prompt_tokens":     prompt,
			"completion_tokens": completion,
			"total_tokens":      c.Usage.TotalTokens,
		},
	}
	if n.format == LLMText {
		return out, nil
	}
	if choice.FinishReason == "length" {
		return nil, Permanent(errors.New("llm.chat: the answer was cut off at the token limit (finish_reason length), so its JSON is incomplete; raise max_tokens"))
	}
	value, err := schema.Decode([]byte(choice.Message.Content))
	if err != nil {
		// Another sample may be JSON: retried, as the node's policy allows.
		return nil, fmt.Errorf("llm.chat: the model's answer is not JSON: %v", err)
	}
	if n.format == LLMJSONObject {
		if _, ok := value.(map[string]any); !ok {
			return nil, fmt.Errorf("llm.chat: the model's answer is %s, not a JSON object", jsonKind(value))
		}
	}
	if n.schema != nil {
		if violations := n.schema.Check(value); len(violations) > 0 {
			return nil, fmt.Errorf("llm.chat: the model's answer does not match the schema: %s", describeViolations(violations))
		}
	}
	var parsed any
	if err := json.Unmarshal([]byte(choice.Message.Content), &parsed); err != nil {
		return nil, fmt.Errorf("llm.chat: the model's answer is not JSON: %v", err)
	}
	out["json"] = parsed
	return out, nil
}

// describeViolations lists a value's violations of a schema, the first few.
func describeViolations(vs []schema.Violation) string {
	const most = 5
	parts := make([]string, 0, min(len(vs), most)+1)
	for i, v := range vs {
		if i == most {
			parts = append(parts, fmt.Sprintf("and %d more", len(vs)-most))
			break
		}
		field := v.Field
		if field == "" {
			field = "the answer"
		}
		parts = append(parts, field+" "+v.Message)
	}
	return strings.Join(parts, "; ")
}
