package nodes

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"net/textproto"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"github.com/hookflow/hookflow/engine/expression"
)

// KindEmailSend is the kind that sends an email over SMTP.
const KindEmailSend = "email.send"

// Security modes of an smtp credential.
const (
	// SMTPStartTLS connects in the clear and requires STARTTLS before
	// anything else is said: submission on port 587.
	SMTPStartTLS = "starttls"
	// SMTPTLS speaks TLS from the first byte: submissions on port 465.
	SMTPTLS = "tls"
	// SMTPNone never encrypts: a relay on a trusted network only.
	SMTPNone = "none"
)

// Authentication mechanisms of an smtp credential.
const (
	SMTPAuthAuto  = "auto"
	SMTPAuthPlain = "plain"
	SMTPAuthLogin = "login"
	SMTPAuthNone  = "none"
)

// Limits of a message.
const (
	// maxAttachmentBytes is the most attachment data, decoded, one message
	// carries: most providers refuse messages over 10 to 25 MB, and base64
	// adds a third.
	maxAttachmentBytes = 10 << 20
	// defaultSMTPTimeout bounds each exchange with the server when the
	// step has no deadline.
	defaultSMTPTimeout = time.Minute
)

var emailSendSpec = Spec{
	Kind:     KindEmailSend,
	Icon:     "mail",
	Category: CategoryAction,
	Title:    "Send email",
	Summary:  "Sends an email over SMTP, in text and/or HTML with attachments, and outputs its Message-ID and recipients.",
	Attempts: 3,
	Fields: []Field{
		{Name: "credential", Type: TypeCredential, Label: "SMTP credential", Required: true,
			CredentialTypes: []string{CredentialSMTP}, Help: "The SMTP server, its login, and the default sender."},
		{Name: "to", Type: TypeTemplate, Label: "To",
			Help: "Comma-separated addresses (Ann <ann@example.com>, bob@example.com), or one {{ expression }} giving a list of them.", Placeholder: "{{ trigger.body.email }}"},
		{Name: "cc", Type: TypeTemplate, Label: "Cc", Help: "Like To; every recipient sees these."},
		{Name: "bcc", Type: TypeTemplate, Label: "Bcc", Help: "Like To; sent to, but named in no header."},
		{Name: "subject", Type: TypeTemplate, Label: "Subject", Required: true, Min: Bound(1),
			Help: "One line; may hold {{ templates }}.", Placeholder: "Your order {{ trigger.body.id }}"},
		{Name: "text", Type: TypeTemplate, Label: "Text", Multiline: true,
			Help: "The plain-text body; may hold {{ templates }}. Give text, html or both.", Placeholder: "Thanks for your order, {{ trigger.body.name }}."},
		{Name: "html", Type: TypeTemplate, Label: "HTML", Multiline: true,
			Help: "The HTML body; may hold {{ templates }}. With text too, mail clients show the one they prefer."},
		{Name: "from", Type: TypeTemplate, Label: "From", Advanced: true,
			Help: "The sender, instead of the credential's; the server may only let you send as its own addresses.", Placeholder: "Shop <orders@shop.example>"},
		{Name: "reply_to", Type: TypeTemplate, Label: "Reply-To", Advanced: true, Help: "Where replies go, when not to the sender."},
		{Name: "attachments", Type: TypeExpression, Label: "Attachments",
			Help:        `An expression giving a list of {"filename", "content"}: content is base64, or a binary body of http.request (steps.fetch.body); "text" instead of content attaches text as it is; "content_type" is optional. At most 10 MiB in all.`,
			Placeholder: `[{"filename": "invoice.pdf", "content": steps.invoice.body}]`},
	},
}

type emailSendParams struct {
	Credential  string `json:"credential"`
	To          string `json:"to"`
	Cc          string `json:"cc"`
	Bcc         string `json:"bcc"`
	Subject     string `json:"subject"`
	Text        string `json:"text"`
	HTML        string `json:"html"`
	From        string `json:"from"`
	ReplyTo     string `json:"reply_to"`
	Attachments string `json:"attachments"`
}

type emailSendNode struct {
	credential  string
	to, cc, bcc *expression.Template
	subject     *expression.Template
	text, html  *expression.Template
	from        *expression.Template
	replyTo     *expression.Template
	attachments *expression.Program
}

var _ Node = (*emailSendNode)(nil)

func buildEmailSend(b *Builder, p *emailSendParams) Node {
	n := &emailSendNode{
		credential:  p.Credential,
		to:          b.Template("to", p.To),
		cc:          b.Template("cc", p.Cc),
		bcc:         b.Template("bcc", p.Bcc),
		subject:     b.Template("subject", p.Subject),
		text:        b.Template("text", p.Text),
		html:        b.Template("html", p.HTML),
		from:        b.Template("from", p.From),
		replyTo:     b.Template("reply_to", p.ReplyTo),
		attachments: b.Expression("attachments", p.Attachments),
	}
	if strings.TrimSpace(p.To+p.Cc+p.Bcc) == "" {
		b.Fail("to", "give at least one recipient, in to, cc or bcc")
	}
	if strings.TrimSpace(p.Text+p.HTML) == "" {
		b.Fail("text", "give the message's text, its HTML, or both")
	}
	// Addresses and a subject without templates are checked now; templated
	// ones when the node runs.
	for _, f := range []struct {
		name string
		t    *expression.Template
	}{{"to", n.to}, {"cc", n.cc}, {"bcc", n.bcc}, {"from", n.from}, {"reply_to", n.replyTo}} {
		if f.t != nil && f.t.IsStatic() {
			if _, err := parseAddresses(f.t.Source()); err != nil {
				b.Fail(f.name, "%v", err)
			}
		}
	}
	if n.from != nil && n.from.IsStatic() && strings.Contains(p.From, ",") {
		b.Fail("from", "give one sender")
	}
	if n.subject != nil && n.subject.IsStatic() && strings.ContainsAny(p.Subject, "\r\n") {
		b.Fail("subject", "is one line: it may not hold a line break")
	}
	return n
}

// parseAddresses reads a list of addresses: text of comma-separated
// addresses, or a list whose elements are each such text. Nil and empty
// text are no addresses. A line break anywhere is refused, so no value can
// add a header of its own.
func parseAddresses(v any) ([]*mail.Address, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		if strings.TrimSpace(v) == "" {
			return nil, nil
		}
		if strings.ContainsAny(v, "\r\n") {
			return nil, errors.New("an address may not hold a line break")
		}
		list, err := mail.ParseAddressList(v)
		if err != nil {
			return nil, fmt.Errorf("%q is not a list of email addresses: %w", v, err)
		}
		return list, nil
	case []any:
		var out []*mail.Address
		for i, item := range v {
			s, ok := item.(string)
			if !ok {
				return nil, fmt.Errorf("element %d is %s, not an email address", i, expression.TypeName(item))
			}
			list, err := parseAddresses(s)
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			out = append(out, list...)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("is %s, not email addresses", expression.TypeName(v))
	}
}

// email is a message rendered for one attempt.
type email struct {
	from              *mail.Address
	to, cc, bcc       []*mail.Address
	replyTo           []*mail.Address
	subject           string
	text, html        string
	attachments       []attachment
	envelopeRecipient []string
}

type attachment struct {
	filename    string
	contentType string
	data        []byte
}

// Run sends the message and outputs message_id, from, accepted (the
// envelope recipients) and the server's answer to it.
func (n *emailSendNode) Run(ctx context.Context, in *Input) (Result, error) {
	cred, err := in.Credential(ctx, n.credential, CredentialSMTP)
	if err != nil {
		return Result{}, err
	}
	cfg, err := smtpConfigOf(cred)
	if err != nil {
		return Result{}, Permanent(fmt.Errorf("credential %q: %w", n.credential, err))
	}
	msg, err := n.render(ctx, in, cred)
	if err != nil {
		return Result{}, Permanent(err)
	}
	m, err := msg.compose(in.IdempotencyKey)
	if err != nil {
		return Result{}, Permanent(err)
	}
	response, err := cfg.send(ctx, in, m, msg)
	if err != nil {
		return Result{}, hideSecret(err, cfg.password, base64.StdEncoding.EncodeToString([]byte(cfg.password)))
	}
	accepted := make([]any, len(msg.envelopeRecipient))
	for i, r := range msg.envelopeRecipient {
		accepted[i] = r
	}
	return Result{Output: map[string]any{
		"message_id": m.GetMessageID(),
		"from":       msg.from.Address,
		"accepted":   accepted,
		"response":   response,
	}}, nil
}

// render evaluates the message's templates and checks what they give. Every
// failure is the flow's to fix: final.
func (n *emailSendNode) render(ctx context.Context, in *Input, cred *Credential) (*email, error) {
	msg := &email{}
	addresses := func(field string, t *expression.Template) ([]*mail.Address, error) {
		if t == nil {
			return nil, nil
		}
		v, err := t.Eval(ctx, in.Scope)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		switch list := v.(type) {
		case nil, string, []any:
		case []string: // split(…) gives one
			items := make([]any, len(list))
			for i, s := range list {
				items[i] = s
			}
			v = items
		default:
			v = expression.Stringify(v)
		}
		list, err := parseAddresses(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		return list, nil
	}
	var err error
	if msg.to, err = addresses("to", n.to); err != nil {
		return nil, err
	}
	if msg.cc, err = addresses("cc", n.cc); err != nil {
		return nil, err
	}
	if msg.bcc, err = addresses("bcc", n.bcc); err != nil {
		return nil, err
	}
	if msg.replyTo, err = addresses("reply_to", n.replyTo); err != nil {
		return nil, err
	}
	from, err := addresses("from", n.from)
	if err != nil {
		return nil, err
	}
	if len(from) == 0 && cred.String("from") != "" {
		if from, err = parseAddresses(cred.String("from")); err != nil {
			return nil, fmt.Errorf("credential %q: from: %w", n.credential, err)
		}
	}
	switch len(from) {
	case 0:
		return nil, errors.New("from: no sender: give one in the node, or in the credential")
	case 1:
		msg.from = from[0]
	default:
		return nil, errors.New("from: give one sender")
	}
	seen := map[string]bool{}
	for _, list := range [][]*mail.Address{msg.to, msg.cc, msg.bcc} {
		for _, a := range list {
			if key := strings.ToLower(a.Address); !seen[key] {
				seen[key] = true
				msg.envelopeRecipient = append(msg.envelopeRecipient, a.Address)
			}
		}
	}
	if len(msg.envelopeRecipient) == 0 {
		return nil, errors.New("to: no recipient: to, cc and bcc are all empty")
	}

	text := func(field string, t *expression.Template) (string, error) {
		if t == nil {
			return "", nil
		}
		v, err := t.Eval(ctx, in.Scope)
		if err != nil {
			return "", fmt.Errorf("%s: %w", field, err)
		}
		return expression.Stringify(v), nil
	}
	if msg.subject, err = text("subject", n.subject); err != nil {
		return nil, err
	}
	switch {
	case strings.TrimSpace(msg.subject) == "":
		return nil, errors.New("subject: the subject is empty")
	case strings.ContainsAny(msg.subject, "\r\n"):
		return nil, errors.New("subject: is one line: it may not hold a line break")
	}
	if msg.text, err = text("text", n.text); err != nil {
		return nil, err
	}
	if msg.html, err = text("html", n.html); err != nil {
		return nil, err
	}
	if strings.TrimSpace(msg.text) == "" && strings.TrimSpace(msg.html) == "" {
		return nil, errors.New("text: the message is empty: text and html are both empty")
	}
	if n.attachments != nil {
		v, err := n.attachments.Eval(ctx, in.Scope)
		if err != nil {
			return nil, fmt.Errorf("attachments: %w", err)
		}
		if msg.attachments, err = readAttachments(v); err != nil {
			return nil, fmt.Errorf("attachments%w", err)
		}
	}
	return msg, nil
}

// readAttachments reads the value of the attachments expression. Its
// errors start with the element's index: "[1].content …".
func readAttachments(v any) ([]attachment, error) {
	var items []any
	switch v := v.(type) {
	case nil:
		return nil, nil
	case []any:
		items = v
	case map[string]any:
		return nil, errors.New(": give a list of attachments, [{…}], not one object")
	default:
		return nil, fmt.Errorf(": is %s, not a list of attachments", expression.TypeName(v))
	}
	out := make([]attachment, 0, len(items))
	total := 0
	for i, item := range items {
		a, err := readAttachment(item)
		if err != nil {
			return nil, fmt.Errorf("[%d]%w", i, err)
		}
		total += len(a.data)
		if total > maxAttachmentBytes {
			return nil, fmt.Errorf(": the attachments are over %d MiB in all, the most one message carries here", maxAttachmentBytes>>20)
		}
		out = append(out, a)
	}
	return out, nil
}

func readAttachment(item any) (attachment, error) {
	obj, ok := item.(map[string]any)
	if !ok {
		return attachment{}, fmt.Errorf(": is %s, not an object with filename and content", expression.TypeName(item))
	}
	for key := range obj {
		if !slices.Contains([]string{"filename", "content", "text", "content_type"}, key) {
			return attachment{}, fmt.Errorf(".%s: unknown key; an attachment has filename, content or text, and content_type", key)
		}
	}
	var a attachment
	a.filename, _ = obj["filename"].(string)
	switch {
	case strings.TrimSpace(a.filename) == "":
		return a, errors.New(".filename: give the file's name")
	case strings.ContainsFunc(a.filename, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return a, errors.New(".filename: may not hold a line break or control character")
	}
	a.contentType, _ = obj["content_type"].(string)
	if obj["content_type"] != nil && a.contentType == "" {
		return a, fmt.Errorf(".content_type: is %s, not text", expression.TypeName(obj["content_type"]))
	}
	content, hasContent := obj["content"]
	text, hasText := obj["text"]
	switch {
	case hasContent && hasText:
		return a, errors.New(": give content (base64) or text, not both")
	case hasText:
		s, ok := text.(string)
		if !ok {
			return a, fmt.Errorf(".text: is %s, not text", expression.TypeName(text))
		}
		a.data = []byte(s)
		if a.contentType == "" {
			a.contentType = mime.TypeByExtension(filepath.Ext(a.filename))
			if a.contentType == "" || !strings.HasPrefix(a.contentType, "text/") {
				a.contentType = "text/plain; charset=utf-8"
			}
		}
	case hasContent:
		var encoded string
		switch c := content.(type) {
		case string:
			encoded = c
		case map[string]any:
			// An http.request answer that is neither JSON nor text:
			// {"base64", "content_type", "truncated"}.
			encoded, ok = c["base64"].(string)
			if !ok {
				return a, errors.New(".content: an object here is a binary body of http.request, with base64; this one has none")
			}
			if truncated, _ := c["truncated"].(bool); truncated {
				return a, fmt.Errorf(".content: the body was cut at %d MiB by http.request (truncated), so the file would be incomplete", maxBinaryBytes>>20)
			}
			if ct, _ := c["content_type"].(string); a.contentType == "" {
				a.contentType = ct
			}
		default:
			return a, fmt.Errorf(".content: is %s, not base64 text", expression.TypeName(content))
		}
		if base64.StdEncoding.DecodedLen(len(encoded)) > maxAttachmentBytes+3 {
			return a, fmt.Errorf(": is over %d MiB, the most one message carries here", maxAttachmentBytes>>20)
		}
		data, err := decodeBase64(encoded)
		if err != nil {
			return a, fmt.Errorf(".content: is not base64: %w", err)
		}
		a.data = data
	default:
		return a, errors.New(": give its content, base64, or its text")
	}
	if a.contentType == "" {
		a.contentType = mime.TypeByExtension(filepath.Ext(a.filename))
	}
	if a.contentType == "" {
		a.contentType = "application/octet-stream"
	}
	if strings.ContainsAny(a.contentType, "\r\n\"") {
		return a, errors.New(".content_type: is not a media type")
	}
	if _, _, err := mime.ParseMediaType(a.contentType); err != nil {
		return a, fmt.Errorf(".content_type: %q is not a media type: %w", a.contentType, err)
	}
	return a, nil
}

// decodeBase64 reads standard or URL-safe base64, padded or not, across
// line breaks.
func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, s)
	data, err := base64.StdEncoding.DecodeString(s)
	if err == nil {
		return data, nil
	}
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if d, e := enc.DecodeString(s); e == nil {
			return d, nil
		}
	}
	return nil, err
}

// compose makes the MIME message. Its Message-ID is made of the step's
// idempotency key, so every attempt of the step sends the same one and a
// receiver that has already taken the message can tell a retry from a
// second message.
func (e *email) compose(key string) (*gomail.Msg, error) {
	m := gomail.NewMsg()
	m.SetUserAgent(userAgent)
	m.FromMailAddress(e.from)
	m.ToMailAddress(e.to...)
	if len(e.cc) > 0 {
		m.CcMailAddress(e.cc...)
	}
	if len(e.bcc) > 0 {
		m.BccMailAddress(e.bcc...)
	}
	if len(e.replyTo) > 0 {
		m.ReplyToMailAddress(e.replyTo...)
	}
	m.Subject(e.subject)
	m.SetDate()
	m.SetMessageIDWithValue(messageID(key, e.from.Address))
	switch {
	case e.text != "" && e.html != "":
		m.SetBodyString(gomail.TypeTextPlain, e.text)
		m.AddAlternativeString(gomail.TypeTextHTML, e.html)
	case e.html != "":
		m.SetBodyString(gomail.TypeTextHTML, e.html)
	default:
		m.SetBodyString(gomail.TypeTextPlain, e.text)
	}
	for i, a := range e.attachments {
		if err := m.AttachReader(a.filename, bytes.NewReader(a.data), gomail.WithFileContentType(gomail.ContentType(a.contentType))); err != nil {
			return nil, fmt.Errorf("attachments[%d]: %w", i, err)
		}
	}
	return m, nil
}

// messageID is the Message-ID's value, without its angle brackets: the
// step's key at the sender's domain, as RFC 5322 suggests.
func messageID(key, from string) string {
	domain := "hookflow.invalid"
	if at := strings.LastIndexByte(from, '@'); at >= 0 && at < len(from)-1 {
		domain = from[at+1:]
	}
	valid := func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_'
	}
	if strings.IndexFunc(domain, func(r rune) bool { return !valid(r) }) >= 0 {
		domain = "hookflow.invalid"
	}
	if key == "" || strings.IndexFunc(key, func(r rune) bool { return !valid(r) }) >= 0 {
		key = "hf-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	return key + "@" + domain
}

// smtpConfig is an smtp credential, read.
type smtpConfig struct {
	host, addr         string
	port               int
	security           string
	auth               string
	username, password string
	helo               string // empty: go-mail's, the machine's host name
	tls                *tls.Config
}

// smtpConfigOf reads an smtp credential, with its defaults.
func smtpConfigOf(cred *Credential) (*smtpConfig, error) {
	c := &smtpConfig{
		host:     strings.TrimSpace(cred.String("host")),
		security: cred.String("security"),
		auth:     cred.String("auth"),
		username: cred.String("username"),
		password: cred.String("password"),
		helo:     strings.TrimSpace(cred.String("helo_name")),
	}
	if c.security == "" {
		c.security = SMTPStartTLS
	}
	if c.auth == "" {
		c.auth = SMTPAuthAuto
	}
	if c.auth == SMTPAuthAuto && c.username == "" {
		c.auth = SMTPAuthNone
	}
	if errs := checkSMTPCredential(cred.Data); len(errs) > 0 {
		return nil, errs
	}
	c.port = 587
	if c.security == SMTPTLS {
		c.port = 465
	}
	if p, ok := number(cred.Data["port"]); ok {
		c.port = int(p)
	}
	c.addr = net.JoinHostPort(c.host, strconv.Itoa(c.port))
	c.tls = credentialTLS(cred, c.host)
	return c, nil
}

// heloName is what a client may greet with: a domain, or an address
// literal. Nothing else reaches the EHLO line, which a line break would
// end early.
var heloName = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$|^\[[0-9A-Fa-f:.]+\]$`)

// checkSMTPCredential checks what the schema of an smtp credential cannot.
func checkSMTPCredential(data map[string]any) FieldErrors {
	host, _ := data["host"].(string)
	host = strings.TrimSpace(host)
	if _, err := checkSMTPHost(host); err != nil {
		return FieldErrors{{Field: "host", Message: err.Error()}}
	}
	if p, ok := number(data["port"]); ok && (p < 1 || p > 65535 || p != float64(int(p))) {
		return FieldErrors{{Field: "port", Message: "must be a port number, 1 to 65535"}}
	}
	if from, _ := data["from"].(string); from != "" {
		if strings.ContainsAny(from, "\r\n") {
			return FieldErrors{{Field: "from", Message: "may not hold a line break"}}
		}
		if _, err := mail.ParseAddress(from); err != nil {
			return FieldErrors{{Field: "from", Message: fmt.Sprintf("is not one email address: %v", err)}}
		}
	}
	auth, _ := data["auth"].(string)
	user, _ := data["username"].(string)
	if (auth == SMTPAuthPlain || auth == SMTPAuthLogin) && user == "" {
		return FieldErrors{{Field: "username", Message: "give the username to log in with"}}
	}
	if helo, _ := data["helo_name"].(string); helo != "" && !heloName.MatchString(strings.TrimSpace(helo)) {
		return FieldErrors{{Field: "helo_name", Message: "is not a host name (mail.example.com) or an address in brackets ([192.0.2.1])"}}
	}
	return checkCACertificate(data)
}

// checkSMTPHost checks an SMTP server's host: a name or an IP address, without
// a scheme, port or path.
func checkSMTPHost(host string) (string, error) {
	switch {
	case host == "":
		return "", errors.New("give the SMTP server's host name")
	case net.ParseIP(host) != nil:
		return host, nil
	case strings.Contains(host, "://"):
		return "", errors.New("is a host name, such as smtp.example.com, without a scheme")
	case strings.Contains(host, ":"):
		return "", errors.New("is a host name without a port: give the port in port")
	case strings.ContainsAny(host, "/ \t\r\n@"):
		return "", errors.New("is not a host name, such as smtp.example.com")
	}
	return host, nil
}

// smtpSession follows one connection, for the errors to say which step of
// it failed.
type smtpSession struct {
	mu          sync.Mutex
	authStarted bool
	stops       []func() bool
}

// send delivers m to the envelope recipients through the server of c and
// returns the server's answer to the message.
func (c *smtpConfig) send(ctx context.Context, in *Input, m *gomail.Msg, msg *email) (string, error) {
	s := &smtpSession{}
	defer func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, stop := range s.stops {
			stop()
		}
	}()
	// The step's context ends the exchange (dial closes the connection
	// then). go-mail's own timeout per command is a backstop just past the
	// step's deadline, so that a silent server is always reported as the
	// step running out of time, whichever fires first by a hair.
	timeout := defaultSMTPTimeout
	if deadline, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(deadline), time.Millisecond) + time.Second
	}
	opts := []gomail.Option{
		gomail.WithPort(c.port),
		gomail.WithTimeout(timeout),
		gomail.WithTLSConfig(c.tls),
		gomail.WithDialContextFunc(func(dialCtx context.Context, network, addr string) (net.Conn, error) {
			return c.dial(ctx, dialCtx, in, s, network, addr)
		}),
	}
	if c.helo != "" {
		opts = append(opts, gomail.WithHELO(c.helo))
	}
	switch c.security {
	case SMTPTLS:
		// The dialler speaks TLS itself; go-mail then skips STARTTLS.
		opts = append(opts, gomail.WithSSL())
	case SMTPNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if c.auth != SMTPAuthNone {
		opts = append(opts, gomail.WithSMTPAuthCustom(&smtpAuth{config: c, session: s}))
	}
	client, err := gomail.NewClient(c.host, opts...)
	if err != nil {
		return "", Permanent(fmt.Errorf("SMTP %s: %w", c.addr, err))
	}
	conn, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return "", c.connectError(ctx, in, s, err)
	}
	defer conn.Close()
	response, err := c.deliver(conn, msg, m)
	if err != nil {
		if ctx.Err() != nil {
			return "", c.timeoutError(ctx)
		}
		return "", err
	}
	_ = conn.Quit() // The message is the server's already.
	return response, nil
}

// dial opens the connection through the SSRF guard, in TLS for implicit
// TLS, and closes it when the step's context ends: go-mail only bounds
// each exchange by its timeout.
func (c *smtpConfig) dial(stepCtx, dialCtx context.Context, in *Input, s *smtpSession, network, addr string) (net.Conn, error) {
	conn, err := in.Services.DialContext(dialCtx, network, addr)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(stepCtx, func() { _ = conn.Close() })
	s.mu.Lock()
	s.stops = append(s.stops, stop)
	s.mu.Unlock()
	if c.security != SMTPTLS {
		return conn, nil
	}
	tc := tls.Client(conn, c.tls)
	if err := tc.HandshakeContext(dialCtx); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return tc, nil
}

// deliver says MAIL FROM, RCPT TO for each recipient and DATA. A recipient
// the server refuses fails the whole message before DATA, so a retry never
// sends twice to those it took.
func (c *smtpConfig) deliver(conn *smtp.Client, msg *email, m *gomail.Msg) (string, error) {
	if err := conn.Mail(msg.from.Address); err != nil {
		return "", c.replyError(err, fmt.Sprintf("the sender %s", msg.from.Address))
	}
	var refused []string
	var codes []*textproto.Error
	for _, rcpt := range msg.envelopeRecipient {
		err := conn.Rcpt(rcpt)
		if err == nil {
			continue
		}
		var reply *textproto.Error
		if !errors.As(err, &reply) {
			return "", c.networkError(err)
		}
		refused = append(refused, fmt.Sprintf("%s (%s)", rcpt, replyText(reply)))
		codes = append(codes, reply)
	}
	if len(refused) > 0 {
		_ = conn.Reset()
		what := "the recipient "
		if len(refused) > 1 {
			what = "the recipients "
		}
		err := fmt.Errorf("SMTP %s: the server refused %s%s", c.addr, what, strings.Join(refused, ", "))
		if slices.ContainsFunc(codes, func(r *textproto.Error) bool { return r.Code >= 500 }) {
			return "", Permanent(err)
		}
		return "", err
	}
	w, err := conn.Data()
	if err != nil {
		return "", c.replyError(err, "the message")
	}
	if _, err := m.WriteTo(w); err != nil {
		return "", c.networkError(err)
	}
	if err := w.Close(); err != nil {
		return "", c.replyError(err, "the message")
	}
	if dc, ok := w.(*smtp.DataCloser); ok {
		return dc.ServerResponse(), nil
	}
	return "", nil
}

// replyText is a reply as the server wrote it: code and text.
func replyText(r *textproto.Error) string {
	return strings.TrimSpace(fmt.Sprintf("%03d %s", r.Code, strings.ReplaceAll(r.Msg, "\n", " ")))
}

// replyError is the failure a reply to a command about what means: a 4xx
// is retried (421 and 45x are how servers rate-limit), a 5xx is final.
func (c *smtpConfig) replyError(err error, what string) error {
	var reply *textproto.Error
	if !errors.As(err, &reply) {
		return c.networkError(err)
	}
	if reply.Code == 421 {
		return fmt.Errorf("SMTP %s: the server asks to try again later (%s)", c.addr, replyText(reply))
	}
	e := fmt.Errorf("SMTP %s: the server refused %s (%s)", c.addr, what, replyText(reply))
	if reply.Code >= 500 {
		return Permanent(e)
	}
	return e
}

// networkError is a failure of the connection: retried.
func (c *smtpConfig) networkError(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("SMTP %s: the server did not answer in time: %w", c.addr, err)
	}
	return fmt.Errorf("SMTP %s: the server did not answer: %w", c.addr, err)
}

// timeoutError is the step's context ending while the server was talking.
func (c *smtpConfig) timeoutError(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("SMTP %s: the server did not answer in time: %w", c.addr, context.Cause(ctx))
	}
	return fmt.Errorf("SMTP %s: stopped waiting for the server: %w", c.addr, context.Cause(ctx))
}

// connectError is the failure to connect, greet, secure or log in.
func (c *smtpConfig) connectError(ctx context.Context, in *Input, s *smtpSession, err error) error {
	s.mu.Lock()
	authStarted := s.authStarted
	s.mu.Unlock()
	var (
		reply  *textproto.Error
		config *smtpAuthError
		alert  tls.AlertError
	)
	switch {
	case in.Services.refused(err):
		return Permanent(fmt.Errorf("SMTP %s: %w", c.addr, err))
	case errors.As(err, &config):
		return Permanent(fmt.Errorf("SMTP %s: %w", c.addr, config))
	case authStarted && errors.As(err, &reply):
		e := fmt.Errorf("SMTP %s: the server refused the credentials (%s)", c.addr, replyText(reply))
		if reply.Code >= 500 {
			return Permanent(e)
		}
		return fmt.Errorf("SMTP %s: the server could not check the credentials for now (%s)", c.addr, replyText(reply))
	case errors.As(err, &reply):
		return c.replyError(err, "the connection")
	case ctx.Err() != nil:
		return c.timeoutError(ctx)
	case strings.Contains(err.Error(), "does not support STARTTLS"):
		return Permanent(fmt.Errorf("SMTP %s: the server does not offer STARTTLS: set the credential's security to tls (port 465), or to none for a relay on a trusted network", c.addr))
	case certificateRefused(err):
		return Permanent(fmt.Errorf("SMTP %s: the server's TLS certificate was not accepted: %w; give its CA in the credential's ca_certificate", c.addr, err))
	case errors.As(err, &alert):
		return Permanent(fmt.Errorf("SMTP %s: TLS failed: %w", c.addr, err))
	}
	return c.networkError(err)
}

// smtpAuthError is a login that cannot work with what the server offers.
type smtpAuthError struct{ msg string }

func (e *smtpAuthError) Error() string { return e.msg }

// smtpAuth logs in with PLAIN or LOGIN: the mechanism the credential names,
// or for auto the first of them the server offers.
type smtpAuth struct {
	config  *smtpConfig
	session *smtpSession
	inner   smtp.Auth
}

func (a *smtpAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	a.session.mu.Lock()
	a.session.authStarted = true
	a.session.mu.Unlock()
	c := a.config
	offers := func(mech string) bool {
		return slices.ContainsFunc(server.Auth, func(m string) bool { return strings.EqualFold(m, mech) })
	}
	if len(server.Auth) == 0 {
		return "", nil, &smtpAuthError{"the server offers no login (no AUTH): set the credential's auth to none, or check its security"}
	}
	mech := c.auth
	if mech == SMTPAuthAuto {
		switch {
		case offers("PLAIN"):
			mech = SMTPAuthPlain
		case offers("LOGIN"):
			mech = SMTPAuthLogin
		default:
			return "", nil, &smtpAuthError{fmt.Sprintf("the server offers neither PLAIN nor LOGIN login, only %s", strings.Join(server.Auth, ", "))}
		}
	} else if !offers(mech) {
		return "", nil, &smtpAuthError{fmt.Sprintf("the server does not offer %s login, only %s", strings.ToUpper(mech), strings.Join(server.Auth, ", "))}
	}
	// Unencrypted only when the credential says so; otherwise the
	// connection is TLS by now.
	clear := c.security == SMTPNone
	if mech == SMTPAuthLogin {
		a.inner = smtp.LoginAuth(c.username, c.password, c.host, clear)
	} else {
		a.inner = smtp.PlainAuth("", c.username, c.password, c.host, clear)
	}
	return a.inner.Start(server)
}

func (a *smtpAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	return a.inner.Next(fromServer, more)
}
