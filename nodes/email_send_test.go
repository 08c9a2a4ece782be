package nodes

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/engine/netguard"
	"github.com/hookflow/hookflow/nodes/smtptest"
)

const smtpTestPassword = "s3cret-SMTP-passw0rd"

// smtpCredential is an smtp credential for srv, logging in as shop with
// smtpTestPassword, trusting srv's certificate; extra overrides its data.
func smtpCredential(srv *smtptest.Server, extra map[string]any) *Credential {
	data := map[string]any{
		"host": srv.Host, "port": float64(srv.Port), "security": SMTPStartTLS,
		"username": "shop", "password": smtpTestPassword, "from": "Shop <orders@shop.example>",
		"ca_certificate": srv.CertPEM,
	}
	for k, v := range extra {
		if v == nil {
			delete(data, k)
		} else {
			data[k] = v
		}
	}
	return &Credential{Name: "c", Type: CredentialSMTP, Data: data, Secrets: []string{smtpTestPassword}}
}

// bigAttachment is 4 MiB of data in base64: three are over the limit.
var bigAttachment = base64.StdEncoding.EncodeToString(make([]byte, 4<<20))

// emailInput is the input of an email.send step: the scope's input holds
// an order, its customer's addresses and a PDF fetched by http.request.
func emailInput(cred *Credential, services *Services) *Input {
	if services == nil {
		services = &Services{}
	}
	services.Credentials = dbCreds{"c": cred}
	return &Input{
		Scope: newScope(map[string]any{
			"order": 1042, "email": "ann@example.com", "emails": []any{"Ann <ann@example.com>", "bob@example.com"},
			"invoice": map[string]any{"base64": base64.StdEncoding.EncodeToString([]byte("%PDF-1.7 invoice 1042")), "content_type": "application/pdf", "truncated": false},
			"cut":     map[string]any{"base64": "AAAA", "content_type": "application/pdf", "truncated": true},
			"evil":    "Hi\r\nBcc: victim@example.com",
			"big":     bigAttachment,
		}),
		Logger:         slog.New(slog.DiscardHandler),
		Services:       services,
		Secrets:        &Secrets{},
		IdempotencyKey: "hf-step-key",
	}
}

func smtpServer(t *testing.T, security smtptest.Security, mechanisms ...string) *smtptest.Server {
	return smtptest.Start(t, smtptest.Options{Security: security, Mechanisms: mechanisms, Username: "shop", Password: smtpTestPassword})
}

// readMIME parses a message as a mail client would: its header, and each
// leaf part with its header and decoded body.
type mimePart struct {
	header mail.Header
	body   string
}

func readMIME(t *testing.T, data []byte) (mail.Header, []mimePart) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	require.NoError(t, err)
	var parts []mimePart
	var walk func(header map[string][]string, body io.Reader)
	walk = func(header map[string][]string, body io.Reader) {
		h := mail.Header(header)
		mediaType, params, err := mime.ParseMediaType(h.Get("Content-Type"))
		require.NoError(t, err)
		if strings.HasPrefix(mediaType, "multipart/") {
			r := multipart.NewReader(body, params["boundary"])
			for {
				p, err := r.NextRawPart()
				if errors.Is(err, io.EOF) {
					return
				}
				require.NoError(t, err)
				walk(p.Header, p)
			}
		}
		var decoded io.Reader = body
		switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
		case "base64":
			decoded = base64.NewDecoder(base64.StdEncoding, body)
		case "quoted-printable":
			decoded = quotedprintable.NewReader(body)
		}
		data, err := io.ReadAll(decoded)
		require.NoError(t, err)
		parts = append(parts, mimePart{header: h, body: string(data)})
	}
	walk(msg.Header, msg.Body)
	return msg.Header, parts
}

func TestEmailSend(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		security   smtptest.Security
		mechanisms []string
		cred       map[string]any
		params     string
		check      func(t *testing.T, out map[string]any, msg smtptest.Message)
	}{
		{
			name: "text, html, cc, bcc and attachments over STARTTLS with PLAIN", security: smtptest.StartTLS, mechanisms: []string{"PLAIN", "LOGIN"},
			params: `{"credential": "c", "to": "{{ input.email }}", "cc": "Sales <sales@shop.example>", "bcc": "archive@shop.example",
				"reply_to": "help@shop.example", "subject": "Your order {{ input.order }} – merci", "text": "Thanks for order {{ input.order }}.",
				"html": "<p>Thanks for order <b>{{ input.order }}</b>.</p>",
				"attachments": "[{\"filename\": \"invoice-1042.pdf\", \"content\": input.invoice}, {\"filename\": \"items.csv\", \"text\": \"sku,qty\\nA1,2\\n\"}, {\"filename\": \"logo.png\", \"content\": \"iVBORw0KGgo=\"}]"}`,
			check: func(t *testing.T, out map[string]any, msg smtptest.Message) {
				assert.Equal(t, "<hf-step-key@shop.example>", out["message_id"])
				assert.Equal(t, "orders@shop.example", out["from"])
				assert.Equal(t, []any{"ann@example.com", "sales@shop.example", "archive@shop.example"}, out["accepted"])
				assert.Contains(t, out["response"], "OK")

				assert.Equal(t, "orders@shop.example", msg.From)
				assert.Equal(t, []string{"ann@example.com", "sales@shop.example", "archive@shop.example"}, msg.To, "bcc is a recipient of the envelope")
				assert.Equal(t, "PLAIN shop", msg.Login)
				assert.True(t, msg.TLS, "STARTTLS before the login")

				header, parts := readMIME(t, msg.Data)
				assert.Equal(t, `"Shop" <orders@shop.example>`, header.Get("From"))
				assert.Equal(t, "<ann@example.com>", header.Get("To"))
				assert.Equal(t, `"Sales" <sales@shop.example>`, header.Get("Cc"))
				assert.Empty(t, header.Get("Bcc"), "bcc is named in no header")
				assert.NotContains(t, string(msg.Data), "archive@")
				assert.Equal(t, "<help@shop.example>", header.Get("Reply-To"))
				assert.Equal(t, "<hf-step-key@shop.example>", header.Get("Message-Id"))
				subject, err := new(mime.WordDecoder).DecodeHeader(header.Get("Subject"))
				require.NoError(t, err)
				assert.Equal(t, "Your order 1042 – merci", subject)
				require.Len(t, parts, 5)
				assert.Equal(t, "text/plain; charset=UTF-8", parts[0].header.Get("Content-Type"))
				assert.Equal(t, "Thanks for order 1042.", parts[0].body)
				assert.Equal(t, "text/html; charset=UTF-8", parts[1].header.Get("Content-Type"))
				assert.Equal(t, "<p>Thanks for order <b>1042</b>.</p>", parts[1].body)
				for i, want := range []struct{ name, contentType, body string }{
					{"invoice-1042.pdf", "application/pdf", "%PDF-1.7 invoice 1042"},
					{"items.csv", "text/csv; charset=utf-8", "sku,qty\nA1,2\n"},
					{"logo.png", "image/png", "\x89PNG\r\n\x1a\n"},
				} {
					p := parts[2+i]
					disposition, params, err := mime.ParseMediaType(p.header.Get("Content-Disposition"))
					require.NoError(t, err)
					assert.Equal(t, "attachment", disposition)
					assert.Equal(t, want.name, params["filename"])
					mediaType, _, err := mime.ParseMediaType(p.header.Get("Content-Type"))
					require.NoError(t, err)
					wantType, _, _ := mime.ParseMediaType(want.contentType)
					assert.Equal(t, wantType, mediaType, want.name)
					assert.Equal(t, want.body, p.body, want.name)
				}
			},
		},
		{
			name: "LOGIN where the server offers only that", security: smtptest.StartTLS, mechanisms: []string{"LOGIN"},
			params: `{"credential": "c", "to": "{{ input.emails }}", "subject": "Order {{ input.order }}", "html": "<p>Order</p>"}`,
			check: func(t *testing.T, out map[string]any, msg smtptest.Message) {
				assert.Equal(t, "LOGIN shop", msg.Login)
				assert.Equal(t, []string{"ann@example.com", "bob@example.com"}, msg.To, "a list of addresses from an expression")
				header, parts := readMIME(t, msg.Data)
				assert.Equal(t, `"Ann" <ann@example.com>, <bob@example.com>`, header.Get("To"))
				require.Len(t, parts, 1, "html alone")
				assert.Equal(t, "text/html; charset=UTF-8", parts[0].header.Get("Content-Type"))
			},
		},
		{
			name: "recipients split from one text", security: smtptest.StartTLS, mechanisms: []string{"PLAIN"},
			params: `{"credential": "c", "to": "{{ split(\"ann@example.com;bob@example.com\", \";\") }}", "subject": "x", "text": "x"}`,
			check: func(t *testing.T, _ map[string]any, msg smtptest.Message) {
				assert.Equal(t, []string{"ann@example.com", "bob@example.com"}, msg.To)
			},
		},
		{
			name: "LOGIN when the credential says so", security: smtptest.StartTLS, mechanisms: []string{"PLAIN", "LOGIN"}, cred: map[string]any{"auth": SMTPAuthLogin},
			params: `{"credential": "c", "to": "ann@example.com", "subject": "x", "text": "x"}`,
			check: func(t *testing.T, _ map[string]any, msg smtptest.Message) {
				assert.Equal(t, "LOGIN shop", msg.Login)
			},
		},
		{
			name: "implicit TLS, certificate unchecked", security: smtptest.ImplicitTLS, mechanisms: []string{"PLAIN"},
			cred:   map[string]any{"security": SMTPTLS, "ca_certificate": nil, "skip_verify": true},
			params: `{"credential": "c", "to": "ann@example.com", "from": "Billing <billing@shop.example>", "subject": "x", "text": "x"}`,
			check: func(t *testing.T, out map[string]any, msg smtptest.Message) {
				assert.True(t, msg.TLS)
				assert.Equal(t, "PLAIN shop", msg.Login)
				assert.Equal(t, "billing@shop.example", msg.From, "the node's sender wins")
				assert.Equal(t, "<hf-step-key@shop.example>", out["message_id"])
			},
		},
		{
			name: "a relay without TLS or login", security: smtptest.Plain,
			cred:   map[string]any{"security": SMTPNone, "username": nil, "password": nil},
			params: `{"credential": "c", "to": "ann@example.com", "subject": "x", "text": "x"}`,
			check: func(t *testing.T, _ map[string]any, msg smtptest.Message) {
				assert.False(t, msg.TLS)
				assert.Empty(t, msg.Login)
			},
		},
		{
			name: "the greeting name the credential gives", security: smtptest.StartTLS, mechanisms: []string{"PLAIN"},
			cred:   map[string]any{"helo_name": "hookflow.shop.example"},
			params: `{"credential": "c", "to": "ann@example.com", "subject": "x", "text": "x"}`,
			check: func(t *testing.T, _ map[string]any, msg smtptest.Message) {
				assert.Equal(t, "hookflow.shop.example", msg.Helo)
			},
		},
		{
			name: "a relay without TLS, with a login", security: smtptest.Plain, mechanisms: []string{"PLAIN"},
			cred:   map[string]any{"security": SMTPNone},
			params: `{"credential": "c", "to": "ann@example.com", "subject": "x", "text": "x"}`,
			check: func(t *testing.T, _ map[string]any, msg smtptest.Message) {
				assert.Equal(t, "PLAIN shop", msg.Login)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := smtpServer(t, tt.security, tt.mechanisms...)
			res, err := build(t, KindEmailSend, tt.params).Run(context.Background(), emailInput(smtpCredential(srv, tt.cred), nil))
			require.NoError(t, err)
			msgs := srv.Messages()
			require.Len(t, msgs, 1)
			tt.check(t, res.Output.(map[string]any), msgs[0])
		})
	}
}

// TestEmailSendFailures fails in each way a send can, and holds each
// failure to its message and to whether it is retried.
func TestEmailSendFailures(t *testing.T) {
	t.Parallel()
	const simple = `{"credential": "c", "to": "ann@example.com, bob@example.com", "subject": "x", "text": "x"}`
	tests := []struct {
		name       string
		security   smtptest.Security
		mechanisms []string
		script     func(srv *smtptest.Server)
		cred       map[string]any
		params     string
		services   func(t *testing.T) *Services
		wantErr    string
		final      bool
	}{
		{
			name: "wrong password", security: smtptest.StartTLS, mechanisms: []string{"PLAIN"}, cred: map[string]any{"password": "wrong-password"},
			wantErr: "the server refused the credentials (535 5.7.8 Authentication failed)", final: true,
		},
		{
			name: "wrong password with LOGIN", security: smtptest.StartTLS, mechanisms: []string{"LOGIN"}, cred: map[string]any{"password": "wrong-password"},
			wantErr: "the server refused the credentials (535 5.7.8 Authentication failed)", final: true,
		},
		{
			name: "a login the server does not offer", security: smtptest.StartTLS, mechanisms: []string{"LOGIN"}, cred: map[string]any{"auth": SMTPAuthPlain},
			wantErr: "the server does not offer PLAIN login, only LOGIN", final: true,
		},
		{
			name: "a login the server does not take", security: smtptest.StartTLS,
			wantErr: "the server offers no login (no AUTH)", final: true,
		},
		{
			name: "no login where the server wants one", security: smtptest.StartTLS, mechanisms: []string{"PLAIN"}, cred: map[string]any{"auth": SMTPAuthNone},
			wantErr: "the server refused the sender orders@shop.example (502 5.7.0 Please authenticate first)", final: true,
		},
		{
			name: "STARTTLS required, not offered", security: smtptest.Plain, mechanisms: []string{"PLAIN"},
			wantErr: "the server does not offer STARTTLS", final: true,
		},
		{
			name: "a certificate of no trusted CA", security: smtptest.StartTLS, mechanisms: []string{"PLAIN"}, cred: map[string]any{"ca_certificate": nil},
			wantErr: "the server's TLS certificate was not accepted", final: true,
		},
		{
			name: "no such recipient", security: smtptest.StartTLS, mechanisms: []string{"PLAIN"},
			script:  func(srv *smtptest.Server) { srv.Fail("RCPT bob@example.com", 550, "No such user") },
			wantErr: "the server refused the recipient bob@example.com (550 5.0.0 No such user)", final: true,
		},
		{
			name: "a recipient refused for now", security: smtptest.StartTLS, mechanisms: []string{"PLAIN"},
			script:  func(srv *smtptest.Server) { srv.Fail("RCPT ann@example.com", 450, "Mailbox busy") },
			wantErr: "the server refused the recipient ann@example.com (450 4.0.0 Mailbox busy)",
		},
		{
			name: "one recipient refused for now, another for good", security: smtptest.StartTLS, mechanisms: []string{"PLAIN"},
			script: func(srv *smtptest.Server) {
				srv.Fail("RCPT ann@example.com", 452, "Too many recipients")
				srv.Fail("RCPT bob@example.com", 550, "No such user")
			},
			wantErr: "the server refused the recipients ann@example.com (452 4.0.0 Too many recipients), bob@example.com (550 5.0.0 No such user)", final: true,
		},
		{
			name: "rate limited", security: smtptest.StartTLS, mechanisms: []string{"PLAIN"},
			script:  func(srv *smtptest.Server) { srv.Fail("MAIL", 421, "Too many messages, try again later") },
			wantErr: "the server asks to try again later (421 4.0.0 Too many messages, try again later)",
		},
		{
			name: "too many connections", security: smtptest.StartTLS, mechanisms: []string{"PLAIN"},
			script: func(srv *smtptest.Server) {
				srv.Fail("EHLO", 421, "Too many connections")
				srv.Fail("EHLO", 421, "Too many connections")
			},
			wantErr: "try again later (421 4.0.0 Too many connections)",
		},
		{
			name: "the message refused", security: smtptest.StartTLS, mechanisms: []string{"PLAIN"},
			script:  func(srv *smtptest.Server) { srv.Fail("DATA", 554, "Message rejected as spam") },
			wantErr: "the server refused the message (554 5.0.0 Message rejected as spam)", final: true,
		},
		{
			name: "the message deferred", security: smtptest.StartTLS, mechanisms: []string{"PLAIN"},
			script:  func(srv *smtptest.Server) { srv.Fail("DATA", 451, "Local error in processing") },
			wantErr: "the server refused the message (451 4.0.0 Local error in processing)",
		},
		{
			name: "a private address, refused by the guard", security: smtptest.StartTLS, mechanisms: []string{"PLAIN"},
			services: func(t *testing.T) *Services {
				guard, err := netguard.New(false, nil)
				require.NoError(t, err)
				return &Services{Dial: guard.DialContext, Refused: func(err error) bool {
					var blocked *netguard.BlockedError
					return errors.As(err, &blocked)
				}}
			},
			wantErr: "(127.0.0.1) is a loopback address, which flows may not reach", final: true,
		},
		{
			name: "a subject that would add a header", params: `{"credential": "c", "to": "ann@example.com", "subject": "{{ input.evil }}", "text": "x"}`,
			wantErr: "subject: is one line: it may not hold a line break", final: true,
		},
		{
			name: "an address that would add a header", params: `{"credential": "c", "to": "{{ input.evil }}", "subject": "x", "text": "x"}`,
			wantErr: "to: an address may not hold a line break", final: true,
		},
		{
			name: "not an address", params: `{"credential": "c", "to": "{{ input.order }}", "subject": "x", "text": "x"}`,
			wantErr: `to: "1042" is not a list of email addresses`, final: true,
		},
		{
			name: "no sender anywhere", cred: map[string]any{"from": nil},
			wantErr: "from: no sender", final: true,
		},
		{
			name: "an empty message", params: `{"credential": "c", "to": "ann@example.com", "subject": "x", "text": "{{ input.missing }}"}`,
			wantErr: "the message is empty", final: true,
		},
		{
			name: "no recipient", params: `{"credential": "c", "to": "{{ input.missing }}", "subject": "x", "text": "x"}`,
			wantErr: "no recipient", final: true,
		},
		{
			name: "an attachment that is not base64", params: `{"credential": "c", "to": "ann@example.com", "subject": "x", "text": "x", "attachments": "[{\"filename\": \"a.pdf\", \"content\": \"not base64!\"}]"}`,
			wantErr: "attachments[0].content: is not base64", final: true,
		},
		{
			name: "a body http.request cut short", params: `{"credential": "c", "to": "ann@example.com", "subject": "x", "text": "x", "attachments": "[{\"filename\": \"a.pdf\", \"content\": input.cut}]"}`,
			wantErr: "attachments[0].content: the body was cut at 1 MiB by http.request", final: true,
		},
		{
			name: "attachments over the limit", params: `{"credential": "c", "to": "ann@example.com", "subject": "x", "text": "x", "attachments": "[{\"filename\": \"a.bin\", \"content\": input.big}, {\"filename\": \"b.bin\", \"content\": input.big}, {\"filename\": \"c.bin\", \"content\": input.big}]"}`,
			wantErr: "attachments: the attachments are over 10 MiB in all", final: true,
		},
		{
			name: "an attachment without a name", params: `{"credential": "c", "to": "ann@example.com", "subject": "x", "text": "x", "attachments": "[{\"content\": \"AAAA\"}]"}`,
			wantErr: "attachments[0].filename: give the file's name", final: true,
		},
		{
			name: "an attachment with a misspelt key", params: `{"credential": "c", "to": "ann@example.com", "subject": "x", "text": "x", "attachments": "[{\"name\": \"a.pdf\", \"content\": \"AAAA\"}]"}`,
			wantErr: "attachments[0].name: unknown key", final: true,
		},
		{
			name: "one attachment, not a list", params: `{"credential": "c", "to": "ann@example.com", "subject": "x", "text": "x", "attachments": "{\"filename\": \"a.pdf\", \"content\": \"AAAA\"}"}`,
			wantErr: "attachments: give a list of attachments", final: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mechanisms := tt.mechanisms
			if tt.security == smtptest.Plain && mechanisms == nil {
				mechanisms = []string{"PLAIN"}
			}
			srv := smtpServer(t, tt.security, mechanisms...)
			if tt.script != nil {
				tt.script(srv)
			}
			params := tt.params
			if params == "" {
				params = simple
			}
			var services *Services
			if tt.services != nil {
				services = tt.services(t)
			}
			in := emailInput(smtpCredential(srv, tt.cred), services)
			_, err := build(t, KindEmailSend, params).Run(context.Background(), in)
			checkFailure(t, err, tt.wantErr, tt.final, 0)
			assert.NotContains(t, err.Error(), smtpTestPassword)
			assert.NotContains(t, err.Error(), "wrong-password")
			assert.Empty(t, srv.Messages(), "nothing was sent")
		})
	}
}

// TestEmailSendUnreachable fails to reach a server: nothing listens, or
// something listens and never answers. Both are retried.
func TestEmailSendUnreachable(t *testing.T) {
	t.Parallel()
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = silent.Close() })
	// The step that is waiting for a greeting; canceled once accepted.
	cancelWaiting := make(chan context.CancelFunc, 1)
	go func() {
		for {
			conn, err := silent.Accept()
			if err != nil {
				return
			}
			select {
			case cancel := <-cancelWaiting:
				cancel()
			default:
			}
			t.Cleanup(func() { _ = conn.Close() }) // Accepted, never greeted.
		}
	}()
	_, silentPort, _ := net.SplitHostPort(silent.Addr().String())
	tests := []struct {
		name, port, wantErr string
		deadline            bool
	}{
		{"nothing listens", "1", "the server did not answer", true},
		{"no greeting before the step's deadline", silentPort, "the server did not answer in time: context deadline exceeded", true},
		// Without a deadline go-mail waits a minute for each answer; the
		// step's context ends the wait.
		{"no greeting before the step is canceled", silentPort, "stopped waiting for the server: context canceled", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port, err := strconv.Atoi(tt.port)
			require.NoError(t, err)
			cred := &Credential{Name: "c", Type: CredentialSMTP, Data: map[string]any{"host": "127.0.0.1", "port": float64(port), "from": "orders@shop.example"}}
			ctx, cancel := context.WithCancel(context.Background())
			if tt.deadline {
				ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
			} else {
				cancelWaiting <- cancel
			}
			defer cancel()
			_, err = build(t, KindEmailSend, `{"credential": "c", "to": "ann@example.com", "subject": "x", "text": "x"}`).Run(ctx, emailInput(cred, nil))
			checkFailure(t, err, tt.wantErr, false, 0)
			assert.Contains(t, err.Error(), "SMTP 127.0.0.1:"+tt.port)
		})
	}
}

// TestEmailSendKeepsItsMessageID sends twice as two attempts of one step
// would, and once as another step: the attempts share a Message-ID, so a
// retried send is the same message to whoever took the first.
func TestEmailSendKeepsItsMessageID(t *testing.T) {
	t.Parallel()
	srv := smtpServer(t, smtptest.StartTLS, "PLAIN")
	node := build(t, KindEmailSend, `{"credential": "c", "to": "ann@example.com", "subject": "x", "text": "x"}`)
	var ids []string
	for _, key := range []string{"hf-step-1", "hf-step-1", "hf-step-2"} {
		in := emailInput(smtpCredential(srv, nil), nil)
		in.IdempotencyKey = key
		res, err := node.Run(context.Background(), in)
		require.NoError(t, err)
		ids = append(ids, res.Output.(map[string]any)["message_id"].(string))
	}
	assert.Equal(t, []string{"<hf-step-1@shop.example>", "<hf-step-1@shop.example>", "<hf-step-2@shop.example>"}, ids)
	for i, msg := range srv.Messages() {
		header, _ := readMIME(t, msg.Data)
		assert.Equal(t, ids[i], header.Get("Message-Id"))
	}
}

// TestEmailSendPasswordNeverInErrors fails the login with LOGIN and PLAIN
// and finds the password in no error, and redacted from the run's records.
func TestEmailSendPasswordNeverInErrors(t *testing.T) {
	t.Parallel()
	for _, mech := range []string{"PLAIN", "LOGIN"} {
		t.Run(mech, func(t *testing.T) {
			t.Parallel()
			srv := smtptest.Start(t, smtptest.Options{Security: smtptest.StartTLS, Mechanisms: []string{mech}, Username: "shop", Password: "another-password"})
			in := emailInput(smtpCredential(srv, nil), nil)
			_, err := build(t, KindEmailSend, `{"credential": "c", "to": "ann@example.com", "subject": "x", "text": "x"}`).Run(context.Background(), in)
			checkFailure(t, err, "the server refused the credentials", true, 0)
			for _, form := range []string{smtpTestPassword, base64.StdEncoding.EncodeToString([]byte(smtpTestPassword)),
				base64.StdEncoding.EncodeToString([]byte("\x00shop\x00" + smtpTestPassword))} {
				assert.NotContains(t, err.Error(), form)
			}
			assert.Equal(t, Redacted, in.Secrets.Redact(smtpTestPassword), "the run's records redact the password")
		})
	}
}

func TestEmailSendParamsAtSave(t *testing.T) {
	t.Parallel()
	tests := []struct{ params, field string }{
		{`{"credential": "c", "subject": "x", "text": "x"}`, "to"},
		{`{"credential": "c", "to": "a@example.com", "text": "x"}`, "subject"},
		{`{"credential": "c", "to": "a@example.com", "subject": "", "text": "x"}`, "subject"},
		{`{"credential": "c", "to": "a@example.com", "subject": "x"}`, "text"},
		{`{"to": "a@example.com", "subject": "x", "text": "x"}`, "credential"},
		{`{"credential": "c", "to": "not an address", "subject": "x", "text": "x"}`, "to"},
		{`{"credential": "c", "to": "a@example.com", "cc": "a@example.com; b@example.com", "subject": "x", "text": "x"}`, "cc"},
		{`{"credential": "c", "to": "a@example.com", "bcc": "x@", "subject": "x", "text": "x"}`, "bcc"},
		{`{"credential": "c", "to": "a@example.com", "from": "a@example.com, b@example.com", "subject": "x", "text": "x"}`, "from"},
		{`{"credential": "c", "to": "a@example.com", "reply_to": "<>", "subject": "x", "text": "x"}`, "reply_to"},
		{`{"credential": "c", "to": "a@example.com\r\nBcc: b@example.com", "subject": "x", "text": "x"}`, "to"},
		{`{"credential": "c", "to": "a@example.com", "subject": "x\r\nBcc: b@example.com", "text": "x"}`, "subject"},
		{`{"credential": "c", "to": "a@example.com", "subject": "x", "text": "x", "attachments": "[{"}`, "attachments"},
		{`{"credential": "c", "to": "a@example.com", "subject": "x", "text": "x", "headers": {}}`, "headers"},
	}
	for _, tt := range tests {
		errs := buildErrors(t, KindEmailSend, tt.params)
		require.NotEmpty(t, errs)
		assert.Equal(t, tt.field, errs[0].Field, "%.80s: %v", tt.params, errs)
	}
	build(t, KindEmailSend, `{"credential": "c", "bcc": "Ann <a@example.com>, b@example.com", "subject": "x", "html": "<p>x</p>"}`)
	build(t, KindEmailSend, `{"credential": "c", "to": "{{ trigger.body.email }}", "subject": "{{ trigger.body.subject }}", "text": "x"}`)
}

func TestSMTPCredentialType(t *testing.T) {
	t.Parallel()
	ct, ok := builtins(t).CredentialType(CredentialSMTP)
	require.True(t, ok)
	srv := smtpServer(t, smtptest.StartTLS)
	checkCredentialCases(t, ct, []credentialCase{
		{map[string]any{"host": "smtp.example.com"}, ""},
		{map[string]any{"host": "smtp.example.com", "port": 465, "security": "tls", "username": "u", "password": "p", "auth": "login",
			"from": "Shop <orders@shop.example>", "ca_certificate": srv.CertPEM, "skip_verify": false}, ""},
		{map[string]any{"host": "10.0.0.25", "port": 25, "security": "none", "auth": "none"}, ""},
		{map[string]any{}, "host"},
		{map[string]any{"host": ""}, "host"},
		{map[string]any{"host": "smtp.example.com:587"}, "host"},
		{map[string]any{"host": "smtps://smtp.example.com"}, "host"},
		{map[string]any{"host": "unix:///var/run/smtp.sock"}, "host"},
		{map[string]any{"host": "smtp.example.com", "port": 0}, "port"},
		{map[string]any{"host": "smtp.example.com", "port": 70000}, "port"},
		{map[string]any{"host": "smtp.example.com", "security": "ssl"}, "security"},
		{map[string]any{"host": "smtp.example.com", "auth": "cram-md5"}, "auth"},
		{map[string]any{"host": "smtp.example.com", "auth": "plain"}, "username"},
		{map[string]any{"host": "smtp.example.com", "from": "not an address"}, "from"},
		{map[string]any{"host": "smtp.example.com", "from": "a@example.com, b@example.com"}, "from"},
		{map[string]any{"host": "smtp.example.com", "ca_certificate": "not PEM"}, "ca_certificate"},
		{map[string]any{"host": "smtp.example.com", "helo_name": "hookflow.shop.example"}, ""},
		{map[string]any{"host": "smtp.example.com", "helo_name": "[192.0.2.1]"}, ""},
		{map[string]any{"host": "smtp.example.com", "helo_name": "my host"}, "helo_name"},
		{map[string]any{"host": "smtp.example.com", "helo_name": "x\r\nRCPT TO:<all@example.com>"}, "helo_name"},
	})
	assert.Equal(t, []string{"p"}, ct.SecretValues(map[string]any{"host": "h", "username": "u", "password": "p"}))
}

// FuzzParseAddresses feeds address lists to the parser: it never panics,
// and what it accepts can add no header.
func FuzzParseAddresses(f *testing.F) {
	for _, seed := range []string{"a@example.com", "Ann <ann@example.com>, bob@example.com", `"Doe, J" <j@example.com>`,
		"a@example.com\r\nBcc: b@example.com", "=?utf-8?q?Ren=C3=A9?= <r@example.com>", "<>", "", " , "} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		list, err := parseAddresses(s)
		if err != nil {
			return
		}
		for _, a := range list {
			assert.NotContains(t, a.String(), "\r")
			assert.NotContains(t, a.String(), "\n")
			assert.NotContains(t, a.Address, "\n")
			assert.Contains(t, a.Address, "@")
		}
	})
}
