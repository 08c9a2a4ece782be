package nodes

import (
	"fmt"

	"github.com/hookflow/hookflow/engine/schema"
)

// CredentialType describes a kind of credential as data: the form the
// editor draws and the JSON Schema its data is checked against. Every field
// of a credential is write-only: the API never returns it.
type CredentialType struct {
	Name    string  `json:"name"`
	Title   string  `json:"title"`
	Summary string  `json:"summary"`
	Fields  []Field `json:"fields"`
	// Validate, when set, checks what the schema cannot say, such as "one
	// of these two fields".
	Validate func(data map[string]any) FieldErrors `json:"-"`

	schema *schema.Schema
}

// Credential type names.
const (
	CredentialSecret     = "secret"
	CredentialHTTPBasic  = "http_basic"
	CredentialHTTPBearer = "http_bearer"
	CredentialHTTPHeader = "http_header"
	CredentialSlack      = "slack"
	CredentialDiscord    = "discord"
	CredentialDatabase   = "database"
	CredentialTelegram   = "telegram"
	CredentialTeams      = "teams"
	CredentialSMTP       = "smtp"
	CredentialOpenAI     = "openai"
)

var builtinCredentialTypes = []CredentialType{
	{
		Name: CredentialSecret, Title: "Secret", Summary: "A signing secret, token or key, such as a webhook's signing secret.",
		Fields: []Field{{Name: "secret", Type: TypeString, Label: "Secret", Required: true, Secret: true, Min: Bound(1)}},
	},
	{
		Name: CredentialHTTPBasic, Title: "Basic auth", Summary: "A username and password.",
		Fields: []Field{
			{Name: "username", Type: TypeString, Label: "Username", Required: true, Min: Bound(1)},
			{Name: "password", Type: TypeString, Label: "Password", Required: true, Secret: true},
		},
	},
	{
		Name: CredentialHTTPBearer, Title: "Bearer token", Summary: "Sent as Authorization: Bearer <token>.",
		Fields: []Field{{Name: "token", Type: TypeString, Label: "Token", Required: true, Secret: true, Min: Bound(1)}},
	},
	{
		Name: CredentialHTTPHeader, Title: "Header", Summary: "A header sent with each request, such as X-Api-Key.",
		Fields: []Field{
			{Name: "name", Type: TypeString, Label: "Header name", Required: true, Min: Bound(1), Placeholder: "X-Api-Key"},
			{Name: "value", Type: TypeString, Label: "Value", Required: true, Secret: true, Min: Bound(1)},
		},
		Validate: func(data map[string]any) FieldErrors {
			if name, _ := data["name"].(string); !validHeaderName(name) {
				return FieldErrors{{Field: "name", Message: "is not a header name"}}
			}
			return nil
		},
	},
	{
		Name: CredentialSlack, Title: "Slack", Summary: "An incoming webhook URL, or a bot token for chat.postMessage.",
		Fields: []Field{
			{Name: "webhook_url", Type: TypeString, Label: "Incoming webhook URL", Secret: true,
				Help: "https://hooks.slack.com/services/…; messages go to the webhook's channel.", Placeholder: "https://hooks.slack.com/services/T000/B000/XXXX"},
			{Name: "token", Type: TypeString, Label: "Bot token", Secret: true,
				Help: "xoxb-…, with the chat:write scope; messages go to the node's channel.", Placeholder: "xoxb-…"},
		},
		Validate: func(data map[string]any) FieldErrors {
			hook, _ := data["webhook_url"].(string)
			token, _ := data["token"].(string)
			switch {
			case hook == "" && token == "":
				return FieldErrors{{Field: "webhook_url", Message: "give an incoming webhook URL or a bot token"}}
			case hook != "" && token != "":
				return FieldErrors{{Field: "token", Message: "give an incoming webhook URL or a bot token, not both"}}
			case hook != "" && checkHTTPURL(hook) != nil:
				return FieldErrors{{Field: "webhook_url", Message: "must be an http or https URL"}}
			}
			return nil
		},
	},
	{
		Name: CredentialDiscord, Title: "Discord", Summary: "A channel's webhook URL.",
		Fields: []Field{{Name: "webhook_url", Type: TypeString, Label: "Webhook URL", Required: true, Secret: true,
			Placeholder: "https://discord.com/api/webhooks/<id>/<token>"}},
		Validate: func(data map[string]any) FieldErrors {
			if hook, _ := data["webhook_url"].(string); checkHTTPURL(hook) != nil {
				return FieldErrors{{Field: "webhook_url", Message: "must be an http or https URL"}}
			}
			return nil
		},
	},
	{
		Name: CredentialDatabase, Title: "Database", Summary: "A Postgres, MySQL/MariaDB or SQLite database that db.query reads and db.write writes to.",
		Fields: []Field{{Name: "url", Type: TypeString, Label: "Database URL", Required: true, Secret: true,
			Help:        "postgres://user:password@host:5432/db, mysql://user:password@host:3306/db (MySQL or MariaDB), or sqlite:///absolute/path/to/file.db. A database on a private network must be allowed by the operator (HOOKFLOW_ALLOWED_HOSTS).",
			Placeholder: "postgres://user:password@host:5432/db"}},
		Validate: func(data map[string]any) FieldErrors {
			raw, _ := data["url"].(string)
			if _, _, err := DatabaseDSN(raw); err != nil {
				return FieldErrors{{Field: "url", Message: err.Error()}}
			}
			return nil
		},
	},
	{
		Name: CredentialTelegram, Title: "Telegram", Summary: "A bot's token for the Bot API, and the API's URL when it is a server of your own.",
		Fields: []Field{
			{Name: "bot_token", Type: TypeString, Label: "Bot token", Required: true, Secret: true, Min: Bound(1),
				Help: "From @BotFather: the bot's id, a colon, then the secret.", Placeholder: "123456789:AAE…"},
			{Name: "api_url", Type: TypeString, Label: "Bot API URL", Advanced: true,
				Help: "A self-hosted Bot API server; empty for https://api.telegram.org.", Placeholder: DefaultTelegramAPIURL},
		},
		Validate: func(data map[string]any) FieldErrors {
			if token, _ := data["bot_token"].(string); !telegramToken.MatchString(token) {
				return FieldErrors{{Field: "bot_token", Message: "is not a bot token: the bot's id, a colon, then letters, digits, - and _"}}
			}
			if api, _ := data["api_url"].(string); api != "" && checkHTTPURL(api) != nil {
				return FieldErrors{{Field: "api_url", Message: "must be an http or https URL"}}
			}
			return nil
		},
	},
	{
		Name: CredentialTeams, Title: "Microsoft Teams", Summary: "A channel's incoming webhook URL, or a Workflows (Power Automate) webhook URL.",
		Fields: []Field{{Name: "webhook_url", Type: TypeString, Label: "Webhook URL", Required: true, Secret: true,
			Help:        "From the channel's Workflows app (\"Post to a channel when a webhook request is received\") or its Incoming Webhook connector.",
			Placeholder: "https://….webhook.office.com/webhookb2/…"}},
		Validate: func(data map[string]any) FieldErrors {
			if hook, _ := data["webhook_url"].(string); checkHTTPURL(hook) != nil {
				return FieldErrors{{Field: "webhook_url", Message: "must be an http or https URL"}}
			}
			return nil
		},
	},
	{
		Name: CredentialSMTP, Title: "SMTP", Summary: "An SMTP server that email.send submits messages to, its login, and the default sender.",
		Fields: []Field{
			{Name: "host", Type: TypeString, Label: "SMTP server", Required: true, Min: Bound(1), Placeholder: "smtp.example.com"},
			{Name: "port", Type: TypeInteger, Label: "Port", Min: Bound(1), Max: Bound(65535),
				Help: "Empty: 587, or 465 with TLS from the start."},
			{Name: "security", Type: TypeSelect, Label: "Security", Default: SMTPStartTLS, Options: []Option{
				{Value: SMTPStartTLS, Label: "STARTTLS", Help: "Connect, then require STARTTLS before logging in (port 587); a server that does not offer it is refused."},
				{Value: SMTPTLS, Label: "TLS", Help: "TLS from the first byte (port 465)."},
				{Value: SMTPNone, Label: "None", Help: "No encryption: for a relay on a network you trust (localhost, a Postfix next door). The password, if any, crosses the network in the clear."},
			}},
			{Name: "username", Type: TypeString, Label: "Username"},
			{Name: "password", Type: TypeString, Label: "Password", Secret: true},
			{Name: "auth", Type: TypeSelect, Label: "Login", Default: SMTPAuthAuto, Options: []Option{
				{Value: SMTPAuthAuto, Label: "Automatic", Help: "With a username: PLAIN, or LOGIN where the server offers only that; without: no login."},
				{Value: SMTPAuthPlain, Label: "PLAIN"},
				{Value: SMTPAuthLogin, Label: "LOGIN"},
				{Value: SMTPAuthNone, Label: "None", Help: "A relay that takes mail without a login."},
			}},
			{Name: "from", Type: TypeString, Label: "Default sender", Placeholder: "Shop <orders@shop.example>",
				Help: "The From of messages whose node names no sender."},
			{Name: "ca_certificate", Type: TypeString, Label: "CA certificate", Advanced: true, Multiline: true,
				Help: "PEM of the CA (or the self-signed certificate) the server's certificate is checked against, instead of the system's CAs.", Placeholder: "-----BEGIN CERTIFICATE-----"},
			{Name: "helo_name", Type: TypeString, Label: "Greeting name", Advanced: true, Placeholder: "hookflow.example.com",
				Help: "The host name Hookflow greets the server with (EHLO); empty: this machine's. Strict servers refuse a container's short name."},
			{Name: "skip_verify", Type: TypeBoolean, Label: "Skip certificate check", Advanced: true,
				Help: "Accept any certificate. Discouraged: whoever sits between Hookflow and the server can then read the password and the mail; give a CA certificate instead."},
		},
		Validate: checkSMTPCredential,
	},
	{
		Name: CredentialOpenAI, Title: "OpenAI-compatible API", Summary: "The base URL and key of OpenAI's API or a compatible one: Azure OpenAI, Ollama, vLLM, LM Studio …",
		Fields: []Field{
			{Name: "base_url", Type: TypeString, Label: "Base URL",
				Help:        "Empty for OpenAI (https://api.openai.com/v1). Azure OpenAI: https://RESOURCE.openai.azure.com/openai/v1/; Ollama: http://HOST:11434/v1; vLLM: http://HOST:8000/v1; LM Studio: http://HOST:1234/v1. A server on a private address must be allowed by the operator (HOOKFLOW_ALLOWED_HOSTS).",
				Placeholder: DefaultOpenAIBaseURL},
			{Name: "api_key", Type: TypeString, Label: "API key", Secret: true,
				Help: "Sent as Authorization: Bearer. OpenAI's sk-…, or the Azure resource's key; empty for a server that takes none (Ollama).", Placeholder: "sk-…"},
			{Name: "organization", Type: TypeString, Label: "Organization", Advanced: true,
				Help: "OpenAI only: the organization (org-…) to bill, for a key that belongs to several.", Placeholder: "org-…"},
		},
		Validate: func(data map[string]any) FieldErrors {
			base, _ := data["base_url"].(string)
			if _, err := openAIBaseURL(base); err != nil {
				return FieldErrors{{Field: "base_url", Message: err.Error()}}
			}
			if key, _ := data["api_key"].(string); base == "" && key == "" {
				return FieldErrors{{Field: "api_key", Message: "is required for OpenAI's API; only a server of your own may take none"}}
			}
			return nil
		},
	},
	redisCredentialType,
	rabbitCredentialType,
	natsCredentialType,
	mqttCredentialType,
}

// JSONSchema is the schema of the credential type's data.
func (c *CredentialType) JSONSchema() map[string]any {
	s := objectSchema(c.Fields)
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["title"] = c.Title
	return s
}

// Check validates credential data against the type's schema.
func (c *CredentialType) Check(data any) FieldErrors {
	var errs FieldErrors
	for _, v := range c.schema.Check(data) {
		errs = append(errs, FieldError{Field: v.Field, Message: v.Message})
	}
	if obj, ok := data.(map[string]any); ok && len(errs) == 0 && c.Validate != nil {
		errs = c.Validate(obj)
	}
	return errs
}

// RegisterCredentialType adds a credential type.
func (r *Registry) RegisterCredentialType(c CredentialType) error {
	if _, dup := r.credentials[c.Name]; dup {
		return fmt.Errorf("register credential type %q: already registered", c.Name)
	}
	if err := checkFields(c.Fields); err != nil {
		return fmt.Errorf("register credential type %q: %w", c.Name, err)
	}
	compiled, err := schema.Compile(c.JSONSchema())
	if err != nil {
		return fmt.Errorf("register credential type %q: %w", c.Name, err)
	}
	c.schema = compiled
	r.credentials[c.Name] = &c
	r.credentialOrder = append(r.credentialOrder, c.Name)
	return nil
}

// CredentialType finds a credential type by name.
func (r *Registry) CredentialType(name string) (*CredentialType, bool) {
	c, ok := r.credentials[name]
	return c, ok
}

// CredentialTypes lists the credential types in registration order.
func (r *Registry) CredentialTypes() []*CredentialType {
	out := make([]*CredentialType, len(r.credentialOrder))
	for i, name := range r.credentialOrder {
		out[i] = r.credentials[name]
	}
	return out
}
