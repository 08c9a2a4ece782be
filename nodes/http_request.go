package nodes

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/hookflow/hookflow/engine/expression"
)

// KindHTTPRequest is the kind that calls any HTTP API.
const KindHTTPRequest = "http.request"

// Body types of http.request.
const (
	BodyJSON = "json"
	BodyForm = "form"
	BodyRaw  = "raw"
)

var httpRequestSpec = Spec{
	Kind:     KindHTTPRequest,
	Icon:     "globe",
	Category: CategoryAction,
	Title:    "HTTP request",
	Summary:  "Calls an HTTP API and outputs its answer: status, headers and body.",
	Attempts: 3,
	Fields: []Field{
		{Name: "method", Type: TypeSelect, Label: "Method", Default: http.MethodGet, Options: []Option{
			{Value: http.MethodGet, Label: "GET"}, {Value: http.MethodPost, Label: "POST"},
			{Value: http.MethodPut, Label: "PUT"}, {Value: http.MethodPatch, Label: "PATCH"},
			{Value: http.MethodDelete, Label: "DELETE"}, {Value: http.MethodHead, Label: "HEAD"},
			{Value: http.MethodOptions, Label: "OPTIONS"},
		}},
		{Name: "url", Type: TypeTemplate, Label: "URL", Required: true, Min: Bound(1),
			Help: "http or https; may hold {{ templates }}.", Placeholder: "https://api.example.com/orders/{{ input.id }}"},
		{Name: "query", Type: TypeMap, Label: "Query parameters", Help: "Name → value, added to the URL's query; values may hold {{ templates }}.",
			Items: &Field{Name: "value", Type: TypeTemplate, Label: "Value"}},
		{Name: "headers", Type: TypeMap, Label: "Headers", Help: "Name → value; values may hold {{ templates }}.",
			Items: &Field{Name: "value", Type: TypeTemplate, Label: "Value"}},
		{Name: "body_type", Type: TypeSelect, Label: "Body type", Default: BodyJSON, Options: []Option{
			{Value: BodyJSON, Label: "JSON", Help: "The body as JSON, with Content-Type application/json."},
			{Value: BodyForm, Label: "Form", Help: "An object sent as application/x-www-form-urlencoded."},
			{Value: BodyRaw, Label: "Raw", Help: "Text sent as it is, with the Content-Type of the headers (text/plain by default)."},
		}},
		{Name: "body", Type: TypeJSON, Label: "Body",
			Help: "Any JSON whose strings may hold {{ templates }}; a string that is exactly {{ expr }} keeps the value's type. Empty sends no body."},
		{Name: "credential", Type: TypeCredential, Label: "Authentication",
			CredentialTypes: []string{CredentialHTTPBearer, CredentialHTTPBasic, CredentialHTTPHeader},
			Help:            "A bearer token, basic auth or a header, added to the request."},
		{Name: "request_timeout_ms", Type: TypeDuration, Label: "Request timeout", Advanced: true, Default: 30000,
			Min: Bound(100), Max: Bound(300000), Help: "How long to wait for the answer, redirects included; a timeout is retried."},
		{Name: "accept_any_status", Type: TypeBoolean, Label: "Output any status", Advanced: true, Default: false,
			Help: "Output non-2xx answers instead of failing the step. Otherwise 429 (after its Retry-After) and 5xx are retried and other answers fail the step."},
	},
}

type httpRequestParams struct {
	Method           string            `json:"method"`
	URL              string            `json:"url"`
	Query            map[string]string `json:"query"`
	Headers          map[string]string `json:"headers"`
	BodyType         string            `json:"body_type"`
	Body             any               `json:"body"`
	Credential       string            `json:"credential"`
	RequestTimeoutMS int               `json:"request_timeout_ms"`
	AcceptAnyStatus  bool              `json:"accept_any_status"`
}

type httpRequestNode struct {
	method          string
	url             *expression.Template
	query           []namedTemplate
	headers         []namedTemplate
	bodyType        string
	body            *expression.Value
	credential      string
	timeout         time.Duration
	acceptAnyStatus bool
}

// namedTemplate is one entry of a map of templates, kept in a stable order.
type namedTemplate struct {
	name string
	tmpl *expression.Template
}

var _ Node = (*httpRequestNode)(nil)

func buildHTTPRequest(b *Builder, p *httpRequestParams) Node {
	u := b.Template("url", p.URL)
	if u != nil && u.IsStatic() {
		if err := checkHTTPURL(p.URL); err != nil {
			b.Fail("url", "%v", err)
		}
	}
	for name := range p.Headers {
		if !validHeaderName(name) {
			b.Fail("headers", "%q is not a header name", name)
		}
	}
	body := b.Value("body", p.Body)
	if _, isObject := p.Body.(map[string]any); p.BodyType == BodyForm && p.Body != nil && !isObject && body != nil && !body.KeepsType() {
		b.Fail("body", "a form body is an object of fields")
	}
	return &httpRequestNode{
		method:          p.Method,
		url:             u,
		query:           sortedTemplates(b.Templates("query", p.Query)),
		headers:         sortedTemplates(b.Templates("headers", p.Headers)),
		bodyType:        p.BodyType,
		body:            body,
		credential:      p.Credential,
		timeout:         time.Duration(p.RequestTimeoutMS) * time.Millisecond,
		acceptAnyStatus: p.AcceptAnyStatus,
	}
}

func sortedTemplates(m map[string]*expression.Template) []namedTemplate {
	out := make([]namedTemplate, 0, len(m))
	for name, t := range m {
		out = append(out, namedTemplate{name, t})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// checkHTTPURL refuses what is not an absolute http or https URL.
func checkHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("is not a URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("must start with http:// or https://")
	}
	if u.Host == "" {
		return fmt.Errorf("has no host")
	}
	return nil
}

// Run sends the request and outputs {status, headers, body}.
func (n *httpRequestNode) Run(ctx context.Context, in *Input) (Result, error) {
	req, err := n.request(ctx, in)
	if err != nil {
		return Result{}, err
	}
	if n.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.timeout)
		defer cancel()
	}
	in.Logger.Info("request", "method", req.Method, "url", redactedURL(req.URL))
	resp, err := send(ctx, in, req, maxResponseBytes)
	if err != nil {
		return Result{}, err
	}
	in.Logger.Info("answer", "status", resp.status, "bytes", len(resp.body))
	ok := resp.status >= 200 && resp.status < 300
	if !ok && !n.acceptAnyStatus {
		return Result{}, statusError(req.Method+" "+redactedURL(req.URL), resp, "")
	}
	body, err := decodeAnswer(resp)
	if err != nil {
		return Result{}, err
	}
	return Result{Output: map[string]any{
		"status":  resp.status,
		"headers": flatHeaders(resp.header),
		"body":    body,
	}}, nil
}

// request renders the node's params into a request.
func (n *httpRequestNode) request(ctx context.Context, in *Input) (*http.Request, error) {
	rawURL, err := n.url.Eval(ctx, in.Scope)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	u, err := url.Parse(strings.TrimSpace(expression.Stringify(rawURL)))
	if err == nil {
		err = checkHTTPURL(u.String())
	}
	if err != nil {
		return nil, Permanent(fmt.Errorf("url %q: %v", expression.Stringify(rawURL), err))
	}
	if len(n.query) > 0 {
		q := u.Query()
		for _, e := range n.query {
			v, err := e.tmpl.Eval(ctx, in.Scope)
			if err != nil {
				return nil, fmt.Errorf("query %s: %w", e.name, err)
			}
			q.Add(e.name, expression.Stringify(v))
		}
		u.RawQuery = q.Encode()
	}
	body, contentType, err := n.renderBody(ctx, in)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, n.method, u.String(), body)
	if err != nil {
		return nil, Permanent(fmt.Errorf("request: %w", err))
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, e := range n.headers {
		v, err := e.tmpl.Eval(ctx, in.Scope)
		if err != nil {
			return nil, fmt.Errorf("header %s: %w", e.name, err)
		}
		req.Header.Set(e.name, expression.Stringify(v))
	}
	if n.credential != "" {
		if err := authorize(ctx, in, n.credential, req); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// renderBody evaluates the body and encodes it by the body type. A body
// that renders to nothing sends nothing.
func (n *httpRequestNode) renderBody(ctx context.Context, in *Input) (io.Reader, string, error) {
	v, err := n.body.Eval(ctx, in.Scope)
	if err != nil {
		return nil, "", fmt.Errorf("body: %w", err)
	}
	if v == nil {
		return nil, "", nil
	}
	switch n.bodyType {
	case BodyForm:
		fields, ok := v.(map[string]any)
		if !ok {
			return nil, "", Permanent(fmt.Errorf("body: a form body is an object of fields, not %T", v))
		}
		form := url.Values{}
		for name, value := range fields {
			if list, ok := value.([]any); ok {
				for _, item := range list {
					form.Add(name, expression.Stringify(item))
				}
				continue
			}
			form.Set(name, expression.Stringify(value))
		}
		return strings.NewReader(form.Encode()), "application/x-www-form-urlencoded", nil
	case BodyRaw:
		return strings.NewReader(expression.Stringify(v)), "text/plain; charset=utf-8", nil
	default:
		data, err := json.Marshal(v)
		if err != nil {
			return nil, "", Permanent(fmt.Errorf("body: %w", err))
		}
		return bytes.NewReader(data), "application/json", nil
	}
}

// authorize adds a credential's authentication to a request.
func authorize(ctx context.Context, in *Input, name string, req *http.Request) error {
	cred, err := in.Credential(ctx, name, CredentialHTTPBearer, CredentialHTTPBasic, CredentialHTTPHeader)
	if err != nil {
		return err
	}
	switch cred.Type {
	case CredentialHTTPBearer:
		req.Header.Set("Authorization", "Bearer "+cred.String("token"))
	case CredentialHTTPBasic:
		req.SetBasicAuth(cred.String("username"), cred.String("password"))
	case CredentialHTTPHeader:
		req.Header.Set(cred.String("name"), cred.String("value"))
	}
	return nil
}

// decodeAnswer turns an answer's body into output by its content type: JSON
// becomes a value, text stays text, anything else is base64 (capped).
func decodeAnswer(r *response) (any, error) {
	if len(r.body) == 0 {
		return nil, nil
	}
	mediaType, _, _ := mime.ParseMediaType(r.header.Get("Content-Type"))
	if mediaType == "" {
		mediaType, _, _ = mime.ParseMediaType(http.DetectContentType(r.body))
	}
	switch {
	case isJSONType(mediaType):
		if r.truncated {
			return nil, Permanent(fmt.Errorf("the JSON answer is larger than %d bytes", maxResponseBytes))
		}
		if v, err := expression.DecodeJSON(r.body); err == nil {
			return v, nil
		}
		return string(r.body), nil // Not JSON after all: keep the text.
	case isTextType(mediaType):
		if r.truncated {
			return nil, Permanent(fmt.Errorf("the text answer is larger than %d bytes", maxResponseBytes))
		}
		return strings.ToValidUTF8(string(r.body), "�"), nil
	default:
		data := r.body
		truncated := r.truncated || len(data) > maxBinaryBytes
		if len(data) > maxBinaryBytes {
			data = data[:maxBinaryBytes]
		}
		return map[string]any{
			"base64":       base64.StdEncoding.EncodeToString(data),
			"content_type": r.header.Get("Content-Type"),
			"truncated":    truncated,
		}, nil
	}
}

func isJSONType(t string) bool {
	return t == "application/json" || strings.HasSuffix(t, "+json")
}

func isTextType(t string) bool {
	switch {
	case strings.HasPrefix(t, "text/"), t == "application/xml", strings.HasSuffix(t, "+xml"),
		t == "application/javascript", t == "application/x-www-form-urlencoded":
		return true
	}
	return false
}

// flatHeaders gives answer headers lower-case names and one value each, as
// a webhook's trigger.headers has them.
func flatHeaders(h http.Header) map[string]any {
	out := make(map[string]any, len(h))
	for name, values := range h {
		out[strings.ToLower(name)] = strings.Join(values, ", ")
	}
	return out
}
