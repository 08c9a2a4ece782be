package engine

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/nodes/smtptest"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// idempotencyKeyPattern matches a step's idempotency key, which holds the run's id.
var idempotencyKeyPattern = regexp.MustCompile(`hf-[0-9a-f]{32}`)

// TestEmailRun fetches an invoice as a PDF with http.request and mails it
// as an attachment on each store: the server defers the first attempt
// (451), the retry delivers the same message, and the SMTP password lands
// in no record.
func TestEmailRun(t *testing.T) {
	t.Parallel()
	const password = "s3cret-SMTP-passw0rd"
	pdf := []byte("%PDF-1.7\n\x00\x01binary invoice 1042\n%%EOF")
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/pdf")
				_, _ = w.Write(pdf)
			}))
			defer files.Close()
			srv := smtptest.Start(t, smtptest.Options{Security: smtptest.StartTLS, Mechanisms: []string{"PLAIN", "LOGIN"},
				Username: "shop", Password: password})
			srv.Fail("DATA", 451, "Local error in processing")
			creds := fakeCredentials{"shop-mail": {Name: "shop-mail", Type: nodes.CredentialSMTP, Secrets: []string{password},
				Data: map[string]any{"host": srv.Host, "port": float64(srv.Port), "username": "shop", "password": password,
					"from": "Shop <orders@shop.example>", "ca_certificate": srv.CertPEM}}}
			e := newHarness(t).engineFor(t, storetest.Open(t, dialect), Options{Services: actionServices(creds)})
			doc := `{"name": "invoice by mail", "nodes": [
				{"id": "hook", "type": "trigger.webhook"},
				{"id": "invoice", "type": "http.request", "params": {"url": "` + files.URL + `/invoices/{{ trigger.body.order }}.pdf"}},
				{"id": "mail", "type": "email.send", "params": {"credential": "shop-mail", "to": "{{ trigger.body.email }}",
					"bcc": "archive@shop.example", "subject": "Invoice {{ trigger.body.order }}",
					"text": "Your invoice for order {{ trigger.body.order }} is attached.",
					"attachments": "[{\"filename\": \"invoice-\" + string(trigger.body.order) + \".pdf\", \"content\": steps.invoice.body}]"},
					"retry": {"max_attempts": 3, "backoff_ms": 10}}],
				"edges": [{"from": "hook", "to": "invoice"}, {"from": "invoice", "to": "mail"}]}`
			run := waitRun(t, e, startRun(t, e, doc, `{"order": 1042, "email": "Ann <ann@example.com>"}`).ID)
			require.Equal(t, store.RunSucceeded, run.Status, run.Error)
			got := idempotencyKeyPattern.ReplaceAllString(trace(t, e, run), "hf-<key>")
			got = strings.ReplaceAll(got, ":"+strconv.Itoa(srv.Port), ":<port>")
			got = regexp.MustCompile(`"headers":\{[^}]*\}`).ReplaceAllString(got, `"headers":{…}`)
			assert.Equal(t, `status: succeeded
steps:
  hook             1 succeeded port=""
  invoice          1 succeeded port="" output={"body":{"base64":"`+base64.StdEncoding.EncodeToString(pdf)+`","content_type":"application/pdf","truncated":false},"headers":{…},"status":200} log="request" log="answer"
  mail             1 failed retried error="SMTP 127.0.0.1:<port>: the server refused the message (451 4.0.0 Local error in processing)"
  mail             2 succeeded port="" output={"accepted":["ann@example.com","archive@shop.example"],"from":"orders@shop.example","message_id":"\u003chf-<key>@shop.example\u003e","response":"2.0.0 OK: queued"}
`, got)

			steps, err := e.store.ListSteps(context.Background(), run.ID)
			require.NoError(t, err)
			for _, s := range steps {
				record := fmt.Sprintf("%s %s %s %s", s.Input, s.Output, s.Error, s.Logs)
				assert.NotContains(t, record, password)
				assert.NotContains(t, record, base64.StdEncoding.EncodeToString([]byte(password)))
			}

			msgs := srv.Messages()
			require.Len(t, msgs, 1)
			assert.Equal(t, []string{"ann@example.com", "archive@shop.example"}, msgs[0].To)
			assert.Equal(t, "PLAIN shop", msgs[0].Login)
			msg, err := mail.ReadMessage(bytes.NewReader(msgs[0].Data))
			require.NoError(t, err)
			assert.Regexp(t, `^<hf-[0-9a-f]{32}@shop\.example>$`, msg.Header.Get("Message-Id"))
			_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
			require.NoError(t, err)
			parts := multipart.NewReader(msg.Body, params["boundary"])
			_, err = parts.NextPart() // the text
			require.NoError(t, err)
			file, err := parts.NextRawPart()
			require.NoError(t, err)
			assert.Equal(t, `attachment; filename="invoice-1042.pdf"`, file.Header.Get("Content-Disposition"))
			var encoded bytes.Buffer
			_, err = encoded.ReadFrom(file)
			require.NoError(t, err)
			data, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(strings.TrimSpace(encoded.String()), "\r\n", ""))
			require.NoError(t, err)
			assert.Equal(t, pdf, data, "the file as http.request fetched it")
		})
	}
}

// TestEmailAuthFailureIsFinal stops at a refused login: the step is not
// tried again, and its error says so.
func TestEmailAuthFailureIsFinal(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.Options{Security: smtptest.StartTLS, Mechanisms: []string{"PLAIN"}, Username: "shop", Password: "the-right-one"})
	const password = "s3cret-SMTP-passw0rd"
	creds := fakeCredentials{"shop-mail": {Name: "shop-mail", Type: nodes.CredentialSMTP, Secrets: []string{password},
		Data: map[string]any{"host": srv.Host, "port": float64(srv.Port), "username": "shop", "password": password,
			"from": "orders@shop.example", "ca_certificate": srv.CertPEM}}}
	e := newHarness(t).engineFor(t, storetest.Open(t, store.DialectSQLite), Options{Services: actionServices(creds)})
	doc := `{"name": "mail", "nodes": [
		{"id": "hook", "type": "trigger.webhook"},
		{"id": "mail", "type": "email.send", "params": {"credential": "shop-mail", "to": "ann@example.com", "subject": "x", "text": "x"},
			"retry": {"max_attempts": 3, "backoff_ms": 10}}],
		"edges": [{"from": "hook", "to": "mail"}]}`
	run := waitRun(t, e, startRun(t, e, doc, `{}`).ID)
	got := strings.ReplaceAll(trace(t, e, run), ":"+strconv.Itoa(srv.Port), ":<port>")
	assert.Equal(t, `status: failed
error: node mail failed: SMTP 127.0.0.1:<port>: the server refused the credentials (535 5.7.8 Authentication failed)
steps:
  hook             1 succeeded port=""
  mail             1 failed error="SMTP 127.0.0.1:<port>: the server refused the credentials (535 5.7.8 Authentication failed)"
`, got)
	assert.Empty(t, srv.Messages())
}
