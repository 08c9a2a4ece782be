package nodes

import (
	"context"
	"net/http"
	"strings"

	"github.com/hookflow/hookflow/engine/expression"
)

// KindWebhook is the kind of the webhook trigger, whose flows get a trigger
// URL.
const KindWebhook = "trigger.webhook"

// Verification schemes of the webhook trigger.
const (
	SchemeGitHub           = "github"
	SchemeStripe           = "stripe"
	SchemeSlack            = "slack"
	SchemeShopify          = "shopify"
	SchemeStandardWebhooks = "standard-webhooks"
	SchemeTwilio           = "twilio"
	SchemeGitLab           = "gitlab"
	SchemeDiscord          = "discord"
	SchemeHMAC             = "hmac"
	SchemeHeader           = "header"
	SchemeBasic            = "basic"
)

// Reply modes of the webhook trigger.
const (
	RespondImmediately = "immediately"
	RespondWhenDone    = "when_done"
)

var webhookSpec = Spec{
	Kind:     KindWebhook,
	Icon:     "webhook",
	Category: CategoryTrigger,
	Title:    "Webhook",
	Pure:     true,
	Summary:  "Starts the flow when an HTTP request arrives at the flow's trigger URL.",
	Fields: []Field{
		{
			Name: "methods", Type: TypeList, Label: "HTTP methods",
			Help:    "Requests with any other method are refused with 405.",
			Default: []any{http.MethodPost}, Min: Bound(1),
			Items: &Field{Name: "method", Type: TypeSelect, Label: "Method", Options: []Option{
				{Value: http.MethodGet, Label: "GET"}, {Value: http.MethodPost, Label: "POST"},
				{Value: http.MethodPut, Label: "PUT"}, {Value: http.MethodPatch, Label: "PATCH"},
				{Value: http.MethodDelete, Label: "DELETE"}, {Value: http.MethodHead, Label: "HEAD"},
			}},
		},
		{
			Name: "verify", Type: TypeObject, Label: "Verify sender",
			Help: "Check the sender's signature before accepting a request; a request that fails gets 401.",
			Fields: []Field{
				{Name: "scheme", Type: TypeSelect, Label: "Scheme", Required: true, Options: []Option{
					{Value: SchemeGitHub, Label: "GitHub", Help: "X-Hub-Signature-256: HMAC-SHA256 of the body."},
					{Value: SchemeStripe, Label: "Stripe", Help: "Stripe-Signature: t=…,v1=…, with a timestamp tolerance."},
					{Value: SchemeSlack, Label: "Slack", Help: "X-Slack-Signature v0 with X-Slack-Request-Timestamp."},
					{Value: SchemeShopify, Label: "Shopify", Help: "X-Shopify-Hmac-Sha256: base64 HMAC-SHA256 of the body."},
					{Value: SchemeStandardWebhooks, Label: "Standard Webhooks / Svix", Help: "webhook-id, webhook-timestamp and webhook-signature (or svix-*) headers."},
					{Value: SchemeTwilio, Label: "Twilio", Help: "X-Twilio-Signature over the public URL and the form parameters."},
					{Value: SchemeGitLab, Label: "GitLab", Help: "X-Gitlab-Token equals the secret."},
					{Value: SchemeDiscord, Label: "Discord", Help: "Ed25519 signature with the application's public key."},
					{Value: SchemeHMAC, Label: "Generic HMAC", Help: "An HMAC of the body (and optionally a timestamp) in a header you name."},
					{Value: SchemeHeader, Label: "Header token", Help: "A header you name equals the secret."},
					{Value: SchemeBasic, Label: "Basic auth", Help: "HTTP basic authentication with a stored username and password."},
				}},
				{Name: "credential", Type: TypeCredential, Label: "Credential", Required: true,
					CredentialTypes: []string{"secret", "http_basic"},
					Help:            "The stored secret (signing secret, token or public key); for basic auth, a username and password."},
				{Name: "header", Type: TypeString, Label: "Header",
					Help: "For hmac: the header holding the signature. For header: the header holding the token.", Placeholder: "X-Signature"},
				{Name: "algorithm", Type: TypeSelect, Label: "Algorithm", Default: "sha256", Advanced: true, Options: []Option{
					{Value: "sha1", Label: "SHA-1"}, {Value: "sha256", Label: "SHA-256"}, {Value: "sha512", Label: "SHA-512"},
				}},
				{Name: "encoding", Type: TypeSelect, Label: "Signature encoding", Default: "hex", Advanced: true, Options: []Option{
					{Value: "hex", Label: "Hex"}, {Value: "base64", Label: "Base64"},
				}},
				{Name: "prefix", Type: TypeString, Label: "Signature prefix", Advanced: true,
					Help: "Text before the signature in the header, such as sha256=.", Placeholder: "sha256="},
				{Name: "timestamp_header", Type: TypeString, Label: "Timestamp header", Advanced: true,
					Help: "For hmac: a header holding the Unix time of signing, checked against the tolerance."},
				{Name: "signed_string", Type: TypeString, Label: "Signed string", Advanced: true, Default: "{body}",
					Help: "For hmac: what was signed, with {body} and {timestamp} standing for the raw body and the timestamp header."},
				{Name: "tolerance_s", Type: TypeInteger, Label: "Timestamp tolerance (s)", Advanced: true, Default: 300,
					Min: Bound(1), Max: Bound(86400),
					Help: "How far a signed timestamp may be from now."},
			},
		},
		{
			Name: "respond", Type: TypeSelect, Label: "Respond", Default: RespondImmediately, Options: []Option{
				{Value: RespondImmediately, Label: "Immediately", Help: "Answer 202 with the run id as soon as the request is stored."},
				{Value: RespondWhenDone, Label: "When the run is done", Help: "Wait for the run's respond node, or its last output, then answer with it."},
			},
		},
		{
			Name: "respond_timeout_ms", Type: TypeDuration, Label: "Respond timeout", Advanced: true, Default: 10000,
			Min: Bound(100), Max: Bound(120000),
			Help: "With respond when done: how long to wait before answering 202 with the run id.",
		},
		{
			Name: "dedupe", Type: TypeExpression, Label: "Delivery id", Advanced: true,
			Help:        "An expression naming the delivery id, for dropping repeated deliveries. Empty uses the sender's own id: X-GitHub-Delivery, webhook-id, X-Shopify-Event-Id, Stripe's event id …",
			Placeholder: `trigger.headers["x-request-id"]`,
		},
		{
			Name: "dedupe_window_ms", Type: TypeDuration, Label: "Dedupe window", Advanced: true, Default: 86400000,
			Min: Bound(0), Max: Bound(30 * 86400000),
			Help: "How long a delivery id is remembered; 0 turns dedupe off.",
		},
	},
}

// VerifyParams configures signature verification of a webhook trigger.
type VerifyParams struct {
	Scheme          string `json:"scheme"`
	Credential      string `json:"credential"`
	Header          string `json:"header"`
	Algorithm       string `json:"algorithm"`
	Encoding        string `json:"encoding"`
	Prefix          string `json:"prefix"`
	TimestampHeader string `json:"timestamp_header"`
	SignedString    string `json:"signed_string"`
	ToleranceS      int    `json:"tolerance_s"`
}

type webhookParams struct {
	Methods          []string      `json:"methods"`
	Verify           *VerifyParams `json:"verify"`
	Respond          string        `json:"respond"`
	RespondTimeoutMS int           `json:"respond_timeout_ms"`
	Dedupe           string        `json:"dedupe"`
	DedupeWindowMS   int           `json:"dedupe_window_ms"`
}

// WebhookTrigger is a compiled trigger.webhook node. The ingress reads its
// settings; as a step it outputs the trigger data.
type WebhookTrigger struct {
	// Methods are the accepted HTTP methods.
	Methods []string
	// Verify is nil when requests are not verified.
	Verify *VerifyParams
	// Respond is RespondImmediately or RespondWhenDone.
	Respond          string
	RespondTimeoutMS int
	// Dedupe names the delivery id; nil uses the sender's own.
	Dedupe         *expression.Program
	DedupeWindowMS int
}

var _ Node = (*WebhookTrigger)(nil)

func buildWebhook(b *Builder, p *webhookParams) Node {
	if v := p.Verify; v != nil {
		switch v.Scheme {
		case SchemeHMAC, SchemeHeader:
			if v.Header == "" {
				b.Fail("verify.header", "is required for the %s scheme", v.Scheme)
			}
		}
		if v.Scheme == SchemeHMAC && v.TimestampHeader == "" && strings.Contains(v.SignedString, "{timestamp}") {
			b.Fail("verify.signed_string", "uses {timestamp}, so timestamp_header is required")
		}
	}
	seen := map[string]bool{}
	for i, m := range p.Methods {
		if seen[m] {
			b.Fail("methods", "lists %s twice (at %d)", m, i)
		}
		seen[m] = true
	}
	return &WebhookTrigger{
		Methods:          p.Methods,
		Verify:           p.Verify,
		Respond:          p.Respond,
		RespondTimeoutMS: p.RespondTimeoutMS,
		Dedupe:           b.Expression("dedupe", p.Dedupe),
		DedupeWindowMS:   p.DedupeWindowMS,
	}
}

// Run outputs the request the flow was triggered with.
func (w *WebhookTrigger) Run(_ context.Context, in *Input) (Result, error) {
	return Result{Output: in.Scope.Trigger}, nil
}
