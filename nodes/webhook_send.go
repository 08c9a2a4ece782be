package nodes

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hookflow/hookflow/engine/expression"
)

// KindWebhookSend sends a signed webhook: Hookflow as a sender.
const KindWebhookSend = "webhook.send"

// Signing schemes of webhook.send.
const (
	SignStandard = "standard-webhooks"
	SignHMAC     = "hmac-sha256"
	SignNone     = "none"
)

// DefaultWebhookSchedule is the wait before each retry of a webhook that
// failed: Svix's schedule, which Standard Webhooks senders follow (5 s,
// 5 min, 30 min, 2 h, 5 h, 10 h, 10 h): eight attempts over about 27 hours.
var DefaultWebhookSchedule = []int64{5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000}

// maxScheduledAttempts bounds the attempts of a webhook.send: the schedule's
// length plus the first.
const maxScheduledAttempts = 50

var webhookSendSpec = Spec{
	Kind:     KindWebhookSend,
	Icon:     "send",
	Category: CategoryAction,
	Title:    "Send a webhook",
	Summary:  "POSTs a signed event to a receiver (Standard Webhooks, or HMAC-SHA256 in a header) and retries it on Svix's schedule; 410 stops.",
	Attempts: maxScheduledAttempts,
	Fields: []Field{
		{Name: "url", Type: TypeTemplate, Label: "Receiver URL", Required: true, Min: Bound(1),
			Help: "http or https; may hold {{ templates }}.", Placeholder: "https://partner.example.com/webhooks"},
		{Name: "body", Type: TypeJSON, Label: "Payload", Required: true,
			Help: "The event, as JSON whose strings may hold {{ templates }}."},
		{Name: "signing", Type: TypeSelect, Label: "Signing", Default: SignStandard, Options: []Option{
			{Value: SignStandard, Label: "Standard Webhooks", Help: "webhook-id, webhook-timestamp and webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>, with a whsec_ secret."},
			{Value: SignHMAC, Label: "HMAC-SHA256 in a header", Help: "The hex HMAC-SHA256 of the body, with the secret as it is, in the header named below."},
			{Value: SignNone, Label: "Not signed"},
		}},
		{Name: "credential", Type: TypeCredential, Label: "Signing secret", CredentialTypes: []string{CredentialSecret},
			Help: "For Standard Webhooks a whsec_ secret (whsec_ then base64), as receivers' libraries take it."},
		{Name: "signature_header", Type: TypeString, Label: "Signature header", Default: "X-Signature-256", Advanced: true,
			Help: "With HMAC-SHA256: the header the hex signature goes in."},
		{Name: "event_id", Type: TypeTemplate, Label: "Event id", Advanced: true,
			Help: "The webhook-id, the same in every attempt, for the receiver to drop repeats. Empty: one made from the run and the step."},
		{Name: "headers", Type: TypeMap, Label: "Headers", Advanced: true, Help: "Further headers; values may hold {{ templates }}.",
			Items: &Field{Name: "value", Type: TypeTemplate, Label: "Value"}},
		{Name: "retry_schedule_ms", Type: TypeList, Label: "Retry schedule", Advanced: true, Max: Bound(maxScheduledAttempts - 1),
			Help:  "The wait before each retry, in milliseconds; after the last the step fails. Default: Svix's 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.",
			Items: &Field{Name: "wait_ms", Type: TypeDuration, Label: "Wait", Min: Bound(0), Max: Bound(float64(MaxWait.Milliseconds()))}},
	},
}

type webhookSendParams struct {
	URL             string            `json:"url"`
	Body            any               `json:"body"`
	Signing         string            `json:"signing"`
	Credential      string            `json:"credential"`
	SignatureHeader string            `json:"signature_header"`
	EventID         string            `json:"event_id"`
	Headers         map[string]string `json:"headers"`
	RetryScheduleMS []int64           `json:"retry_schedule_ms"`
}

type webhookSendNode struct {
	url             *expression.Template
	body            *expression.Value
	signing         string
	credential      string
	signatureHeader string
	eventID         *expression.Template
	headers         []namedTemplate
	schedule        []time.Duration
}

var _ Node = (*webhookSendNode)(nil)

func buildWebhookSend(b *Builder, p *webhookSendParams) Node {
	u := b.Template("url", p.URL)
	if u != nil && u.IsStatic() {
		if err := checkHTTPURL(p.URL); err != nil {
			b.Fail("url", "%v", err)
		}
	}
	if p.Signing != SignNone && p.Credential == "" {
		b.Fail("credential", "is required to sign with %s", p.Signing)
	}
	if p.Signing == SignHMAC && !validHeaderName(p.SignatureHeader) {
		b.Fail("signature_header", "%q is not a header name", p.SignatureHeader)
	}
	for name := range p.Headers {
		if !validHeaderName(name) {
			b.Fail("headers", "%q is not a header name", name)
		}
	}
	schedule := p.RetryScheduleMS
	if schedule == nil {
		schedule = DefaultWebhookSchedule
	}
	n := &webhookSendNode{
		url: u, body: b.Value("body", p.Body), signing: p.Signing, credential: p.Credential,
		signatureHeader: p.SignatureHeader, eventID: b.Template("event_id", p.EventID),
		headers: sortedTemplates(b.Templates("headers", p.Headers)),
	}
	for _, ms := range schedule {
		n.schedule = append(n.schedule, time.Duration(ms)*time.Millisecond)
	}
	return n
}

// Run sends one attempt, signed anew (a fresh timestamp) under the same
// event id. A failure is retried after the schedule's wait for this
// attempt; 410 Gone, or the schedule's end, is final.
func (n *webhookSendNode) Run(ctx context.Context, in *Input) (Result, error) {
	req, id, err := n.request(ctx, in)
	if err != nil {
		return Result{}, err
	}
	attempt := max(in.Scope.Run.Attempt, 1)
	in.Logger.Info("sending", "url", redactedURL(req.URL), "webhook_id", id, "attempt", attempt)
	resp, err := send(ctx, in, req, maxResponseBytes)
	if err == nil && resp.status >= 200 && resp.status < 300 {
		body, decodeErr := decodeAnswer(resp)
		if decodeErr != nil {
			body = snippet(resp.body)
		}
		return Result{Output: map[string]any{"status": resp.status, "id": id, "attempt": attempt, "body": body}}, nil
	}
	if err == nil {
		if resp.status == http.StatusGone {
			return Result{}, Permanent(fmt.Errorf("the receiver answered 410 Gone: it takes no more webhooks at this URL"))
		}
		err = fmt.Errorf("the receiver answered %d %s", resp.status, http.StatusText(resp.status))
		if detail := snippet(resp.body); detail != "" {
			err = fmt.Errorf("%w: %s", err, detail)
		}
	}
	if IsPermanent(err) {
		return Result{}, err // the SSRF guard refused the destination
	}
	if attempt > len(n.schedule) {
		return Result{}, Permanent(fmt.Errorf("gave up after %d attempts: %w", attempt, err))
	}
	return Result{}, RetryScheduled(n.schedule[attempt-1], err)
}

// request renders the payload and signs it.
func (n *webhookSendNode) request(ctx context.Context, in *Input) (*http.Request, string, error) {
	rawURL, err := n.url.Eval(ctx, in.Scope)
	if err != nil {
		return nil, "", fmt.Errorf("url: %w", err)
	}
	target := strings.TrimSpace(expression.Stringify(rawURL))
	if err := checkHTTPURL(target); err != nil {
		return nil, "", Permanent(fmt.Errorf("url %q: %v", target, err))
	}
	payload, err := n.body.Eval(ctx, in.Scope)
	if err != nil {
		return nil, "", fmt.Errorf("body: %w", err)
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return nil, "", Permanent(fmt.Errorf("encode the payload: %w", err))
	}
	id := "msg_" + strings.TrimPrefix(in.IdempotencyKey, "hf-")
	if n.eventID != nil {
		v, err := n.eventID.Eval(ctx, in.Scope)
		if err != nil {
			return nil, "", fmt.Errorf("event_id: %w", err)
		}
		if s := expression.Stringify(v); s != "" {
			id = s
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, "", Permanent(fmt.Errorf("request: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	for _, h := range n.headers {
		v, err := h.tmpl.Eval(ctx, in.Scope)
		if err != nil {
			return nil, "", fmt.Errorf("header %s: %w", h.name, err)
		}
		req.Header.Set(h.name, expression.Stringify(v))
	}
	if n.signing == SignNone {
		req.Header.Set("Idempotency-Key", id)
		return req, id, nil
	}
	cred, err := in.Credential(ctx, n.credential, CredentialSecret)
	if err != nil {
		return nil, "", err
	}
	secret := cred.String("secret")
	switch n.signing {
	case SignStandard:
		signature, err := StandardSignature(secret, id, time.Now(), body)
		if err != nil {
			return nil, "", Permanent(fmt.Errorf("credential %q: %w", n.credential, err))
		}
		req.Header.Set("webhook-id", id)
		req.Header.Set("webhook-timestamp", signature.Timestamp)
		req.Header.Set("webhook-signature", signature.Value)
	case SignHMAC:
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(body)
		req.Header.Set(n.signatureHeader, hex.EncodeToString(m.Sum(nil)))
		req.Header.Set("Idempotency-Key", id)
	}
	return req, id, nil
}

// Signature is a Standard Webhooks signature and the timestamp it signs.
type Signature struct {
	Timestamp string
	Value     string // v1,<base64>
}

// StandardSignature signs a message as the Standard Webhooks spec says:
// the key is the base64 after whsec_, the signed content id.timestamp.body.
func StandardSignature(secret, id string, at time.Time, body []byte) (Signature, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(key) == 0 {
		return Signature{}, fmt.Errorf("the secret is not whsec_ followed by base64")
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	return Signature{Timestamp: ts, Value: "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))}, nil
}
