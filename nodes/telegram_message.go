package nodes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookflow/hookflow/engine/expression"
)

// KindTelegramMessage is the kind that sends a Telegram message.
const KindTelegramMessage = "telegram.message"

// DefaultTelegramAPIURL is the base of Telegram's Bot API.
const DefaultTelegramAPIURL = "https://api.telegram.org"

// telegramMaxText is the most characters sendMessage takes in a message's
// text, after entities are parsed.
const telegramMaxText = 4096

// Parse modes of a Telegram message.
const (
	TelegramPlain      = "none"
	TelegramMarkdownV2 = "MarkdownV2"
	TelegramHTML       = "HTML"
)

// telegramToken is the shape of a bot token: the bot's id, a colon, a
// secret. Holding tokens to it keeps a stray slash or query out of the URL
// the token is a path segment of.
var telegramToken = regexp.MustCompile(`^[0-9]+:[A-Za-z0-9_-]+$`)

var telegramMessageSpec = Spec{
	Kind:     KindTelegramMessage,
	Icon:     "send-horizontal",
	Category: CategoryAction,
	Title:    "Telegram message",
	Summary:  "Sends a message to a Telegram chat with a bot (sendMessage), and outputs the message with its id.",
	Attempts: 3,
	Fields: []Field{
		{Name: "credential", Type: TypeCredential, Label: "Telegram credential", Required: true,
			CredentialTypes: []string{CredentialTelegram}, Help: "The bot's token, from @BotFather."},
		{Name: "chat_id", Type: TypeTemplate, Label: "Chat", Required: true, Min: Bound(1),
			Help: "The chat's id (a number; groups' are negative) or a channel's @username; may hold {{ templates }}.", Placeholder: "-1001234567890"},
		{Name: "text", Type: TypeTemplate, Label: "Text", Required: true, Min: Bound(1), Multiline: true,
			Help: "The message, up to 4,096 characters; may hold {{ templates }}.", Placeholder: "New order {{ input.id }}"},
		{Name: "parse_mode", Type: TypeSelect, Label: "Formatting", Default: TelegramPlain, Options: []Option{
			{Value: TelegramPlain, Label: "Plain text"},
			{Value: TelegramMarkdownV2, Label: "MarkdownV2", Help: "*bold* _italic_ `code` [link](https://…); escape _*[]()~`>#+-=|{}.! with a backslash."},
			{Value: TelegramHTML, Label: "HTML", Help: "<b>, <i>, <code>, <pre>, <a href>; escape <, > and & as entities."},
		}},
		{Name: "disable_notification", Type: TypeBoolean, Label: "Silent", Advanced: true,
			Help: "Deliver without a sound."},
	},
}

type telegramMessageParams struct {
	Credential          string `json:"credential"`
	ChatID              string `json:"chat_id"`
	Text                string `json:"text"`
	ParseMode           string `json:"parse_mode"`
	DisableNotification bool   `json:"disable_notification"`
}

type telegramMessageNode struct {
	credential          string
	chatID              *expression.Template
	text                *expression.Template
	parseMode           string
	disableNotification bool
}

var _ Node = (*telegramMessageNode)(nil)

func buildTelegramMessage(b *Builder, p *telegramMessageParams) Node {
	n := &telegramMessageNode{
		credential:          p.Credential,
		chatID:              b.Template("chat_id", p.ChatID),
		text:                b.Template("text", p.Text),
		parseMode:           p.ParseMode,
		disableNotification: p.DisableNotification,
	}
	// Text without templates is checked now; templated text when it runs.
	if n.text != nil && n.text.IsStatic() {
		if err := n.checkText(p.Text); err != nil {
			b.Fail("text", "%v", err)
		}
	}
	return n
}

// checkText holds plain text to Telegram's limit. Formatted text counts
// after its markup is parsed, which only Telegram does: it answers a longer
// one with a 400, a final failure as well.
func (n *telegramMessageNode) checkText(text string) error {
	if n.parseMode != TelegramPlain {
		return nil
	}
	if c := utf8.RuneCountInString(text); c > telegramMaxText {
		return fmt.Errorf("is %d characters; Telegram takes at most %d", c, telegramMaxText)
	}
	return nil
}

// Run sends the message. The output is the message Telegram made:
// message_id, chat, date, text and the rest of its Message object.
func (n *telegramMessageNode) Run(ctx context.Context, in *Input) (Result, error) {
	cred, err := in.Credential(ctx, n.credential, CredentialTelegram)
	if err != nil {
		return Result{}, err
	}
	token := cred.String("bot_token")
	if !telegramToken.MatchString(token) {
		return Result{}, Permanent(fmt.Errorf("credential %q: the bot token is not of the form 123456789:AA…", n.credential))
	}
	msg, err := n.render(ctx, in)
	if err != nil {
		return Result{}, err
	}
	base := cred.String("api_url")
	if base == "" {
		base = DefaultTelegramAPIURL
	}
	out, err := n.post(ctx, in, strings.TrimSuffix(base, "/")+"/bot"+token+"/sendMessage", msg)
	// The token is a segment of the URL, which errors of the request name.
	return out, hideSecret(err, token)
}

// render evaluates the message and checks it against Telegram's limits.
func (n *telegramMessageNode) render(ctx context.Context, in *Input) (map[string]any, error) {
	msg := map[string]any{}
	if err := renderInto(ctx, in, msg, "chat_id", n.chatID); err != nil {
		return nil, err
	}
	if err := renderInto(ctx, in, msg, "text", n.text); err != nil {
		return nil, err
	}
	if msg["chat_id"] == nil {
		return nil, Permanent(errors.New("chat_id: the chat id is empty"))
	}
	text, _ := msg["text"].(string)
	if strings.TrimSpace(text) == "" {
		return nil, Permanent(errors.New("text: the message is empty"))
	}
	if err := n.checkText(text); err != nil {
		return nil, Permanent(fmt.Errorf("text %w", err))
	}
	if n.parseMode != TelegramPlain {
		msg["parse_mode"] = n.parseMode
	}
	if n.disableNotification {
		msg["disable_notification"] = true
	}
	return msg, nil
}

// telegramAnswer is the envelope of every Bot API answer.
type telegramAnswer struct {
	OK          bool           `json:"ok"`
	Result      map[string]any `json:"result"`
	ErrorCode   int            `json:"error_code"`
	Description string         `json:"description"`
	Parameters  struct {
		RetryAfter      *float64 `json:"retry_after"`
		MigrateToChatID *int64   `json:"migrate_to_chat_id"`
	} `json:"parameters"`
}

func (n *telegramMessageNode) post(ctx context.Context, in *Input, target string, msg map[string]any) (Result, error) {
	resp, err := postJSON(ctx, in, target, msg, maxResponseBytes)
	if err != nil {
		return Result{}, err
	}
	var answer telegramAnswer
	if err := json.Unmarshal(resp.body, &answer); err != nil {
		// Not the Bot API speaking: a proxy or load balancer in the way.
		return Result{}, statusError("Telegram sendMessage", resp, "")
	}
	if resp.status == http.StatusOK && answer.OK && answer.Result != nil {
		return Result{Output: answer.Result}, nil
	}
	return Result{}, telegramError(resp, &answer)
}

// telegramError is the failure a Bot API answer means. Telegram sets the
// HTTP status to its error_code; a 429 says in parameters.retry_after how
// many seconds to wait.
func telegramError(resp *response, answer *telegramAnswer) error {
	code := resp.status
	if code == http.StatusOK && answer.ErrorCode != 0 {
		code = answer.ErrorCode
	}
	detail := answer.Description
	if detail == "" {
		detail = http.StatusText(code)
	}
	err := fmt.Errorf("Telegram sendMessage: %d %s", code, detail)
	switch {
	case code == http.StatusUnauthorized || code == http.StatusNotFound:
		return Permanent(fmt.Errorf("Telegram sendMessage: the bot token was refused (%d %s)", code, detail))
	case code == http.StatusBadRequest && answer.Parameters.MigrateToChatID != nil:
		return Permanent(fmt.Errorf("%w: the group is now a supergroup, whose chat id is %d", err, *answer.Parameters.MigrateToChatID))
	case code == http.StatusTooManyRequests:
		if s := answer.Parameters.RetryAfter; s != nil && *s >= 0 {
			return RetryAfter(time.Duration(*s*float64(time.Second)), err)
		}
		if after, ok := retryAfter(resp.header, time.Now()); ok {
			return RetryAfter(after, err)
		}
		return err
	case code >= 500:
		return err
	default:
		return Permanent(err)
	}
}
