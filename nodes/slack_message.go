package nodes

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/hookflow/hookflow/engine/expression"
)

// KindSlackMessage is the kind that posts a Slack message.
const KindSlackMessage = "slack.message"

// DefaultSlackAPIURL is the base of Slack's Web API.
const DefaultSlackAPIURL = "https://slack.com/api"

var slackMessageSpec = Spec{
	Kind:     KindSlackMessage,
	Icon:     "hash",
	Category: CategoryAction,
	Title:    "Slack message",
	Summary:  "Posts a message to Slack, through an incoming webhook or with a bot token (chat.postMessage).",
	Attempts: 3,
	Fields: []Field{
		{Name: "credential", Type: TypeCredential, Label: "Slack credential", Required: true,
			CredentialTypes: []string{CredentialSlack},
			Help:            "An incoming webhook URL (the message goes to its channel) or a bot token (the message goes to Channel)."},
		{Name: "channel", Type: TypeTemplate, Label: "Channel",
			Help: "With a bot token: a channel id or name such as #deploys; may hold {{ templates }}. Ignored by incoming webhooks.", Placeholder: "#deploys"},
		{Name: "text", Type: TypeTemplate, Label: "Text", Multiline: true,
			Help: "The message, in Slack's mrkdwn; may hold {{ templates }}. With blocks, it is the notification's fallback text.", Placeholder: "New order {{ input.id }}"},
		{Name: "blocks", Type: TypeJSON, Label: "Blocks", Advanced: true,
			Help: "Block Kit blocks: a list whose strings may hold {{ templates }}."},
		{Name: "thread_ts", Type: TypeTemplate, Label: "Thread", Advanced: true,
			Help: "With a bot token: the ts of the message to reply to in its thread."},
	},
}

type slackMessageParams struct {
	Credential string `json:"credential"`
	Channel    string `json:"channel"`
	Text       string `json:"text"`
	Blocks     any    `json:"blocks"`
	ThreadTS   string `json:"thread_ts"`
}

type slackMessageNode struct {
	credential string
	channel    *expression.Template
	text       *expression.Template
	blocks     *expression.Value
	threadTS   *expression.Template
}

var _ Node = (*slackMessageNode)(nil)

func buildSlackMessage(b *Builder, p *slackMessageParams) Node {
	if p.Text == "" && p.Blocks == nil {
		b.Fail("text", "give the message's text, or blocks")
	}
	blocks := b.Value("blocks", p.Blocks)
	if _, isList := p.Blocks.([]any); p.Blocks != nil && !isList && blocks != nil && !blocks.KeepsType() {
		b.Fail("blocks", "Block Kit blocks are a list")
	}
	return &slackMessageNode{
		credential: p.Credential,
		channel:    b.Template("channel", p.Channel),
		text:       b.Template("text", p.Text),
		blocks:     blocks,
		threadTS:   b.Template("thread_ts", p.ThreadTS),
	}
}

// Run posts the message. The output is {"ok": true} for an incoming
// webhook, and chat.postMessage's answer (channel, ts, message) for a bot.
func (n *slackMessageNode) Run(ctx context.Context, in *Input) (Result, error) {
	cred, err := in.Credential(ctx, n.credential, CredentialSlack)
	if err != nil {
		return Result{}, err
	}
	msg := map[string]any{}
	if err := renderInto(ctx, in, msg, "text", n.text); err != nil {
		return Result{}, err
	}
	blocks, err := n.blocks.Eval(ctx, in.Scope)
	if err != nil {
		return Result{}, fmt.Errorf("blocks: %w", err)
	}
	if blocks != nil {
		msg["blocks"] = blocks
	}
	if hook := cred.String("webhook_url"); hook != "" {
		return n.postWebhook(ctx, in, hook, msg)
	}
	if err := renderInto(ctx, in, msg, "channel", n.channel); err != nil {
		return Result{}, err
	}
	if msg["channel"] == nil {
		return Result{}, Permanent(fmt.Errorf("channel: a bot token posts to a channel; name one"))
	}
	if err := renderInto(ctx, in, msg, "thread_ts", n.threadTS); err != nil {
		return Result{}, err
	}
	return n.postMessage(ctx, in, cred.String("token"), msg)
}

// renderInto sets msg[key] to the template's text, when it gives any.
func renderInto(ctx context.Context, in *Input, msg map[string]any, key string, t *expression.Template) error {
	if t == nil {
		return nil
	}
	v, err := t.Eval(ctx, in.Scope)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	if s := expression.Stringify(v); s != "" {
		msg[key] = s
	}
	return nil
}

// postWebhook sends through an incoming webhook, which answers 200 "ok", or
// an error code as text (invalid_payload, channel_is_archived …).
func (n *slackMessageNode) postWebhook(ctx context.Context, in *Input, hook string, msg map[string]any) (Result, error) {
	req, err := jsonRequest(ctx, hook, msg)
	if err != nil {
		return Result{}, err
	}
	resp, err := send(ctx, in, req, 64<<10)
	if err != nil {
		return Result{}, err
	}
	if resp.status != http.StatusOK {
		return Result{}, statusError("Slack incoming webhook", resp, "")
	}
	return Result{Output: map[string]any{"ok": true}}, nil
}

// slackRetryable are chat.postMessage errors that may pass on another try.
var slackRetryable = map[string]bool{
	"internal_error": true, "fatal_error": true, "service_unavailable": true, "request_timeout": true, "ratelimited": true,
}

// postMessage calls chat.postMessage, which answers 200 with ok: false and
// an error code for most failures.
func (n *slackMessageNode) postMessage(ctx context.Context, in *Input, token string, msg map[string]any) (Result, error) {
	base := DefaultSlackAPIURL
	if in.Services != nil && in.Services.SlackAPIURL != "" {
		base = in.Services.SlackAPIURL
	}
	req, err := jsonRequest(ctx, strings.TrimSuffix(base, "/")+"/chat.postMessage", msg)
	if err != nil {
		return Result{}, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := send(ctx, in, req, maxResponseBytes)
	if err != nil {
		return Result{}, err
	}
	var answer map[string]any
	decodeErr := json.Unmarshal(resp.body, &answer)
	if resp.status != http.StatusOK {
		detail, _ := answer["error"].(string)
		return Result{}, statusError("Slack chat.postMessage", resp, detail)
	}
	if decodeErr != nil {
		return Result{}, fmt.Errorf("Slack chat.postMessage: the answer is not JSON: %s", snippet(resp.body))
	}
	if ok, _ := answer["ok"].(bool); !ok {
		code, _ := answer["error"].(string)
		err := fmt.Errorf("Slack chat.postMessage: %s", code)
		if slackRetryable[code] {
			return Result{}, err
		}
		return Result{}, Permanent(err)
	}
	return Result{Output: answer}, nil
}
