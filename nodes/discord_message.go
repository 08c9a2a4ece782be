package nodes

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
	"unicode/utf8"

	"github.com/hookflow/hookflow/engine/expression"
)

// KindDiscordMessage is the kind that posts a Discord message.
const KindDiscordMessage = "discord.message"

// Discord's limits on a webhook message.
const (
	discordMaxContent     = 2000
	discordMaxEmbeds      = 10
	discordMaxEmbedsChars = 6000
)

var discordMessageSpec = Spec{
	Kind:     KindDiscordMessage,
	Icon:     "message-circle",
	Category: CategoryAction,
	Title:    "Discord message",
	Summary:  "Posts a message to a Discord channel through its webhook, and outputs the message with its id.",
	Attempts: 3,
	Fields: []Field{
		{Name: "credential", Type: TypeCredential, Label: "Discord credential", Required: true,
			CredentialTypes: []string{CredentialDiscord}, Help: "The channel's webhook URL."},
		{Name: "content", Type: TypeTemplate, Label: "Content", Multiline: true,
			Help: "The message, up to 2,000 characters; may hold {{ templates }}.", Placeholder: "{{ trigger.body.pusher.name }} pushed to {{ trigger.body.repository.full_name }}"},
		{Name: "username", Type: TypeTemplate, Label: "Username", Advanced: true, Help: "Overrides the webhook's name."},
		{Name: "avatar_url", Type: TypeTemplate, Label: "Avatar URL", Advanced: true, Help: "Overrides the webhook's avatar."},
		{Name: "embeds", Type: TypeJSON, Label: "Embeds",
			Help: "Up to 10 embed objects (title, description, url, color, fields …), 6,000 characters in all; strings may hold {{ templates }}."},
		{Name: "allowed_mentions", Type: TypeJSON, Label: "Allowed mentions", Advanced: true,
			Help: `Which mentions notify. Empty allows user mentions only, so no message pings @everyone, @here or a role by accident; {"parse": ["users", "roles", "everyone"]} allows all.`},
	},
}

type discordMessageParams struct {
	Credential      string `json:"credential"`
	Content         string `json:"content"`
	Username        string `json:"username"`
	AvatarURL       string `json:"avatar_url"`
	Embeds          any    `json:"embeds"`
	AllowedMentions any    `json:"allowed_mentions"`
}

type discordMessageNode struct {
	credential      string
	content         *expression.Template
	username        *expression.Template
	avatarURL       *expression.Template
	embeds          *expression.Value
	allowedMentions *expression.Value
}

var _ Node = (*discordMessageNode)(nil)

func buildDiscordMessage(b *Builder, p *discordMessageParams) Node {
	if p.Content == "" && p.Embeds == nil {
		b.Fail("content", "give the message's content, or embeds")
	}
	n := &discordMessageNode{
		credential:      p.Credential,
		content:         b.Template("content", p.Content),
		username:        b.Template("username", p.Username),
		avatarURL:       b.Template("avatar_url", p.AvatarURL),
		embeds:          b.Value("embeds", p.Embeds),
		allowedMentions: b.Value("allowed_mentions", p.AllowedMentions),
	}
	// Text without templates is checked now; templated text when it runs.
	if n.content != nil && n.content.IsStatic() {
		if err := checkDiscordContent(p.Content); err != nil {
			b.Fail("content", "%v", err)
		}
	}
	if n.embeds != nil && n.embeds.IsStatic() && p.Embeds != nil {
		if field, err := checkDiscordEmbeds(p.Embeds); err != nil {
			b.Fail(field, "%v", err)
		}
	}
	if _, isObject := p.AllowedMentions.(map[string]any); p.AllowedMentions != nil && !isObject && n.allowedMentions != nil && !n.allowedMentions.KeepsType() {
		b.Fail("allowed_mentions", "is an object such as {\"parse\": [\"users\"]}")
	}
	return n
}

func checkDiscordContent(content string) error {
	if n := utf8.RuneCountInString(content); n > discordMaxContent {
		return fmt.Errorf("is %d characters; Discord takes at most %d", n, discordMaxContent)
	}
	return nil
}

// checkDiscordEmbeds holds embeds to Discord's limits; it returns the field
// at fault.
func checkDiscordEmbeds(v any) (string, error) {
	list, ok := v.([]any)
	if !ok {
		return "embeds", fmt.Errorf("is a list of embed objects")
	}
	if len(list) > discordMaxEmbeds {
		return "embeds", fmt.Errorf("has %d embeds; Discord takes at most %d", len(list), discordMaxEmbeds)
	}
	total := 0
	for i, item := range list {
		embed, ok := item.(map[string]any)
		if !ok {
			return fmt.Sprintf("embeds[%d]", i), fmt.Errorf("is not an embed object")
		}
		total += embedChars(embed)
	}
	if total > discordMaxEmbedsChars {
		return "embeds", fmt.Errorf("hold %d characters of text; Discord takes at most %d in all embeds", total, discordMaxEmbedsChars)
	}
	return "", nil
}

// embedChars counts the text Discord counts against its 6,000: title,
// description, field names and values, footer text and author name.
func embedChars(embed map[string]any) int {
	count := func(v any) int {
		s, _ := v.(string)
		return utf8.RuneCountInString(s)
	}
	n := count(embed["title"]) + count(embed["description"])
	if fields, ok := embed["fields"].([]any); ok {
		for _, f := range fields {
			if f, ok := f.(map[string]any); ok {
				n += count(f["name"]) + count(f["value"])
			}
		}
	}
	if footer, ok := embed["footer"].(map[string]any); ok {
		n += count(footer["text"])
	}
	if author, ok := embed["author"].(map[string]any); ok {
		n += count(author["name"])
	}
	return n
}

// Run executes the webhook with wait=true, so the answer is the message.
func (n *discordMessageNode) Run(ctx context.Context, in *Input) (Result, error) {
	cred, err := in.Credential(ctx, n.credential, CredentialDiscord)
	if err != nil {
		return Result{}, err
	}
	msg, err := n.render(ctx, in)
	if err != nil {
		return Result{}, err
	}
	target, err := url.Parse(cred.String("webhook_url"))
	if err != nil {
		return Result{}, Permanent(fmt.Errorf("the credential's webhook URL is not a URL"))
	}
	q := target.Query()
	q.Set("wait", "true")
	target.RawQuery = q.Encode()
	req, err := jsonRequest(ctx, target.String(), msg)
	if err != nil {
		return Result{}, err
	}
	resp, err := send(ctx, in, req, maxResponseBytes)
	if err != nil {
		return Result{}, err
	}
	var answer map[string]any
	_ = json.Unmarshal(resp.body, &answer)
	if resp.status < 200 || resp.status >= 300 {
		return Result{}, discordError(resp, answer)
	}
	if answer == nil {
		return Result{}, fmt.Errorf("Discord webhook: the answer is not a message: %s", snippet(resp.body))
	}
	return Result{Output: answer}, nil
}

// render evaluates the message and checks it against Discord's limits.
func (n *discordMessageNode) render(ctx context.Context, in *Input) (map[string]any, error) {
	msg := map[string]any{}
	for _, f := range []struct {
		key string
		t   *expression.Template
	}{{"content", n.content}, {"username", n.username}, {"avatar_url", n.avatarURL}} {
		if err := renderInto(ctx, in, msg, f.key, f.t); err != nil {
			return nil, err
		}
	}
	if content, ok := msg["content"].(string); ok {
		if err := checkDiscordContent(content); err != nil {
			return nil, Permanent(fmt.Errorf("content %w", err))
		}
	}
	embeds, err := n.embeds.Eval(ctx, in.Scope)
	if err != nil {
		return nil, fmt.Errorf("embeds: %w", err)
	}
	if embeds != nil {
		if field, err := checkDiscordEmbeds(embeds); err != nil {
			return nil, Permanent(fmt.Errorf("%s %w", field, err))
		}
		msg["embeds"] = embeds
	}
	if msg["content"] == nil && msg["embeds"] == nil {
		return nil, Permanent(fmt.Errorf("the message is empty: its content and embeds gave nothing"))
	}
	mentions, err := n.allowedMentions.Eval(ctx, in.Scope)
	if err != nil {
		return nil, fmt.Errorf("allowed_mentions: %w", err)
	}
	if mentions == nil {
		mentions = map[string]any{"parse": []any{"users"}}
	}
	msg["allowed_mentions"] = mentions
	return msg, nil
}

// discordError is the failure a Discord answer means. A 429 carries
// retry_after in seconds in its JSON body.
func discordError(resp *response, answer map[string]any) error {
	detail, _ := answer["message"].(string)
	if code, ok := answer["code"].(float64); ok && detail != "" {
		detail = fmt.Sprintf("%s (code %d)", detail, int(code))
	}
	err := statusError("Discord webhook", resp, detail)
	if resp.status == http.StatusTooManyRequests {
		if secs, ok := answer["retry_after"].(float64); ok && secs >= 0 {
			return RetryAfter(time.Duration(secs*float64(time.Second)), err)
		}
	}
	return err
}
