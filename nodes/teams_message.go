package nodes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/hookflow/hookflow/engine/expression"
)

// KindTeamsMessage is the kind that posts a Microsoft Teams message.
const KindTeamsMessage = "teams.message"

// Teams message formats.
const (
	// teamsCardType is the content type of an Adaptive Card attachment.
	teamsCardType = "application/vnd.microsoft.card.adaptive"
	// teamsCardVersion is the Adaptive Card version of cards made from
	// text: the newest every Teams client renders.
	teamsCardVersion = "1.4"
)

var teamsMessageSpec = Spec{
	Kind:     KindTeamsMessage,
	Icon:     "message-square",
	Category: CategoryAction,
	Title:    "Teams message",
	Summary:  "Posts a message or an Adaptive Card to a Microsoft Teams channel through an incoming webhook or a Workflows URL.",
	Attempts: 3,
	Fields: []Field{
		{Name: "credential", Type: TypeCredential, Label: "Teams credential", Required: true,
			CredentialTypes: []string{CredentialTeams}, Help: "The channel's incoming webhook URL, or the URL of a Workflows (Power Automate) flow that posts to it."},
		{Name: "text", Type: TypeTemplate, Label: "Text", Multiline: true,
			Help: "The message, in Teams' Markdown subset; may hold {{ templates }}. Sent as an Adaptive Card holding this text.", Placeholder: "New order {{ input.id }}"},
		{Name: "card", Type: TypeJSON, Label: "Adaptive Card",
			Help: `Instead of text: an Adaptive Card ({"type": "AdaptiveCard", "version": "1.4", "body": […]}); its strings may hold {{ templates }}.`},
	},
}

type teamsMessageParams struct {
	Credential string `json:"credential"`
	Text       string `json:"text"`
	Card       any    `json:"card"`
}

type teamsMessageNode struct {
	credential string
	text       *expression.Template
	card       *expression.Value
}

var _ Node = (*teamsMessageNode)(nil)

func buildTeamsMessage(b *Builder, p *teamsMessageParams) Node {
	switch {
	case p.Text == "" && p.Card == nil:
		b.Fail("text", "give the message's text, or a card")
	case p.Text != "" && p.Card != nil:
		b.Fail("text", "give the message's text or a card, not both: put the text in the card as a TextBlock")
	}
	n := &teamsMessageNode{
		credential: p.Credential,
		text:       b.Template("text", p.Text),
		card:       b.Value("card", p.Card),
	}
	if p.Card != nil && n.card != nil && !n.card.KeepsType() {
		// A card whose templates are inside it has its shape now.
		if err := checkAdaptiveCard(p.Card); err != nil {
			b.Fail("card", "%v", err)
		}
	}
	return n
}

// checkAdaptiveCard catches a card Teams would refuse or show empty: the
// most likely mistake is a whole message, or a card of another kind.
func checkAdaptiveCard(v any) error {
	card, ok := v.(map[string]any)
	if !ok {
		return errors.New(`is an Adaptive Card object: {"type": "AdaptiveCard", "version": "1.4", "body": […]}`)
	}
	if t, _ := card["type"].(string); t != "AdaptiveCard" {
		return fmt.Errorf(`has type %q; an Adaptive Card has "type": "AdaptiveCard"`, t)
	}
	return nil
}

// Run posts the message as an Adaptive Card attachment: the one payload
// that both classic incoming webhooks and the Workflows app's "post to a
// channel when a webhook request is received" take. Text becomes a card of
// one TextBlock. The output is {"status": N}.
func (n *teamsMessageNode) Run(ctx context.Context, in *Input) (Result, error) {
	cred, err := in.Credential(ctx, n.credential, CredentialTeams)
	if err != nil {
		return Result{}, err
	}
	card, err := n.render(ctx, in)
	if err != nil {
		return Result{}, err
	}
	msg := map[string]any{
		"type": "message",
		"attachments": []any{map[string]any{
			"contentType": teamsCardType,
			"contentUrl":  nil,
			"content":     card,
		}},
	}
	if size, err := json.Marshal(msg); err == nil && len(size) > teamsMaxMessage {
		return Result{}, Permanent(fmt.Errorf("the message is %d bytes; Teams takes at most %d (28 KB)", len(size), teamsMaxMessage))
	}
	hook := cred.String("webhook_url")
	out, err := postTeams(ctx, in, hook, msg)
	// The URL is the credential; a request's errors name it.
	return out, hideSecret(err, hook)
}

// render gives the card to send.
func (n *teamsMessageNode) render(ctx context.Context, in *Input) (any, error) {
	if n.text != nil && n.text.Source() != "" {
		v, err := n.text.Eval(ctx, in.Scope)
		if err != nil {
			return nil, fmt.Errorf("text: %w", err)
		}
		text := expression.Stringify(v)
		if strings.TrimSpace(text) == "" {
			return nil, Permanent(errors.New("text: the message is empty"))
		}
		return map[string]any{
			"type":    "AdaptiveCard",
			"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
			"version": teamsCardVersion,
			"body":    []any{map[string]any{"type": "TextBlock", "text": text, "wrap": true}},
		}, nil
	}
	card, err := n.card.Eval(ctx, in.Scope)
	if err != nil {
		return nil, fmt.Errorf("card: %w", err)
	}
	if err := checkAdaptiveCard(card); err != nil {
		return nil, Permanent(fmt.Errorf("card %w", err))
	}
	return card, nil
}

// teamsMaxMessage is the largest message, as JSON, that Teams posts; a
// larger one is refused with 413.
const teamsMaxMessage = 28 << 10

// teamsDeliveryFailed is how a classic incoming webhook reports a failure:
// with 200 OK, and the status Teams gave it in the text.
var teamsDeliveryFailed = regexp.MustCompile(`^Webhook message delivery failed with error: .*?HTTP error (\d{3})`)

// postTeams sends the message. A classic incoming webhook answers 200 "1";
// a Workflows URL answers 202 with no body.
func postTeams(ctx context.Context, in *Input, hook string, msg map[string]any) (Result, error) {
	resp, err := postJSON(ctx, in, hook, msg, 64<<10)
	if err != nil {
		return Result{}, err
	}
	if resp.status >= 200 && resp.status < 300 {
		m := teamsDeliveryFailed.FindSubmatch(resp.body)
		if m == nil {
			return Result{Output: map[string]any{"status": resp.status}}, nil
		}
		// The status the webhook wrapped in its 200 decides, as if it had
		// answered it.
		status, _ := strconv.Atoi(string(m[1]))
		resp = &response{status: status, header: resp.header, body: resp.body}
	}
	return Result{}, statusError("Teams webhook", resp, teamsErrorDetail(resp.body))
}

// teamsErrorDetail is the message of a Workflows error answer,
// {"error": {"code": "…", "message": "…"}}; empty for any other body, which
// statusError quotes as it is.
func teamsErrorDetail(body []byte) string {
	var answer struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &answer) != nil || answer.Error.Message == "" {
		return ""
	}
	if answer.Error.Code != "" {
		return fmt.Sprintf("%s (%s)", answer.Error.Message, answer.Error.Code)
	}
	return answer.Error.Message
}
