package webhook

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, contentType, body string
		want                    any
		wantErr                 string
	}{
		{name: "json", contentType: "application/json", body: `{"id": 820982911946154508, "ok": true}`,
			want: map[string]any{"id": 820982911946154508, "ok": true}},
		{name: "json with charset", contentType: "application/json; charset=utf-8", body: `[1, "a"]`, want: []any{1, "a"}},
		{name: "json suffix", contentType: "application/vnd.github+json", body: `{}`, want: map[string]any{}},
		{name: "malformed json", contentType: "application/json", body: `{"a":`, wantErr: "body is not valid JSON"},
		{name: "form", contentType: "application/x-www-form-urlencoded", body: "a=1&b=x+y&a=2&c=",
			want: map[string]any{"a": []any{"1", "2"}, "b": "x y", "c": ""}},
		{name: "text", contentType: "text/plain", body: "hello\n", want: "hello\n"},
		{name: "csv is text", contentType: "text/csv", body: "a,b", want: "a,b"},
		{name: "xml", contentType: "application/xml", body: `<order id="7"><item>a</item><item>b</item><note> hi </note><empty/></order>`,
			want: map[string]any{"order": map[string]any{"$": map[string]any{"id": "7"}, "item": []any{"a", "b"}, "note": "hi", "empty": ""}}},
		{name: "xml with text beside children", contentType: "text/xml", body: `<a x="1">text<b>c</b></a>`,
			want: map[string]any{"a": map[string]any{"$": map[string]any{"x": "1"}, "_": "text", "b": "c"}}},
		{name: "malformed xml", contentType: "text/xml", body: `<a><b></a>`, wantErr: "body is not valid XML"},
		{name: "two roots", contentType: "text/xml", body: `<a/><b/>`, wantErr: "more than one root"},
		{name: "empty json", contentType: "application/json", body: "", want: nil},
		{name: "no content type, json", body: `{"a": 1}`, want: map[string]any{"a": 1}},
		{name: "no content type, text", body: `hello`, want: "hello"},
		{name: "no content type, empty", body: ``, want: nil},
		{name: "binary", contentType: "application/octet-stream", body: "\x00\x01", wantErr: "unsupported media type"},
		{name: "image", contentType: "image/png", body: "\x89PNG", wantErr: "unsupported media type"},
		{name: "no content type, binary", body: "\xff\xfe\x00", wantErr: "unsupported media type"},
		{name: "bad content type", contentType: "not/a type;;", body: "x", wantErr: "unsupported media type"},
	}
	for _, tt := range tests {
		got, err := ParseBody(tt.contentType, []byte(tt.body))
		if tt.wantErr != "" {
			assert.ErrorContains(t, err, tt.wantErr, tt.name)
			continue
		}
		require.NoError(t, err, tt.name)
		assert.Equal(t, tt.want, got, tt.name)
	}
}

func TestParseMultipart(t *testing.T) {
	t.Parallel()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	require.NoError(t, w.WriteField("name", "Ada"))
	require.NoError(t, w.WriteField("tag", "a"))
	require.NoError(t, w.WriteField("tag", "b"))
	file, err := w.CreateFormFile("avatar", "ada.png")
	require.NoError(t, err)
	_, err = file.Write(bytes.Repeat([]byte{0x89}, 1234))
	require.NoError(t, err)
	require.NoError(t, w.Close())

	got, err := ParseBody(w.FormDataContentType(), body.Bytes())
	require.NoError(t, err)
	assert.Equal(t, map[string]any{
		"name":   "Ada",
		"tag":    []any{"a", "b"},
		"avatar": map[string]any{"filename": "ada.png", "content_type": "application/octet-stream", "size": 1234},
	}, got)

	_, err = ParseBody("multipart/form-data", body.Bytes())
	assert.ErrorContains(t, err, "no boundary")
	_, err = ParseBody(w.FormDataContentType(), []byte("garbage"))
	assert.ErrorContains(t, err, "multipart")
}

func TestParseSenderBodies(t *testing.T) {
	t.Parallel()
	salesforce := loadFixture(t, "salesforce-outbound-message.COMPOSED.xml", "salesforce-outbound-message.COMPOSED.headers")
	got, err := ParseBody(salesforce.header.Get("Content-Type"), salesforce.body)
	require.NoError(t, err)
	notification := got.(map[string]any)["Envelope"].(map[string]any)["Body"].(map[string]any)["notifications"].(map[string]any)
	assert.Equal(t, "00Dxx0000001gPLEAY", notification["OrganizationId"], "namespace prefixes are dropped")

	twilio := loadFixture(t, "twilio-sms-inbound.COMPOSED.form", "twilio-sms-inbound.COMPOSED.headers")
	got, err = ParseBody(twilio.header.Get("Content-Type"), twilio.body)
	require.NoError(t, err)
	assert.Equal(t, "Hello 👋 world", got.(map[string]any)["Body"])

	shopify := loadFixture(t, "shopify-orders-create.TRIMMED.json", "shopify-orders-create.TRIMMED.headers")
	got, err = ParseBody(shopify.header.Get("Content-Type"), shopify.body)
	require.NoError(t, err)
	assert.IsType(t, 0, got.(map[string]any)["id"], "order ids stay whole numbers")
}

func TestDeliveryID(t *testing.T) {
	t.Parallel()
	json := KindJSON
	tests := []struct {
		name   string
		header http.Header
		body   string
		want   string
	}{
		{"github", http.Header{"X-Github-Delivery": {"72d3"}}, `{}`, "github:72d3"},
		{"standard webhooks", http.Header{"Webhook-Id": {"msg_1"}}, `{}`, "webhook-id:msg_1"},
		{"svix", http.Header{"Svix-Id": {"msg_2"}}, `{}`, "webhook-id:msg_2"},
		{"shopify", http.Header{"X-Shopify-Event-Id": {"9888"}}, `{}`, "shopify:9888"},
		{"gitlab", http.Header{"X-Gitlab-Event-Uuid": {"1379"}}, `{}`, "gitlab:1379"},
		{"stripe", http.Header{"Stripe-Signature": {"t=1,v1=00"}}, `{"id": "evt_1", "object": "event"}`, "stripe:evt_1"},
		{"slack", http.Header{"X-Slack-Signature": {"v0=00"}}, `{"event_id": "Ev1", "type": "event_callback"}`, "slack:Ev1"},
		{"slack handshake has none", http.Header{"X-Slack-Signature": {"v0=00"}}, `{"type": "url_verification"}`, ""},
		{"idempotency key", http.Header{"Idempotency-Key": {"k1"}}, `{}`, "idempotency-key:k1"},
		{"none", http.Header{}, `{"id": "x"}`, ""},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, DeliveryID(tt.header, json, []byte(tt.body)), tt.name)
	}
}

// FuzzParseBody feeds arbitrary bytes through every parser: each must give a
// value or an error, never panic or hang.
func FuzzParseBody(f *testing.F) {
	for _, name := range []string{"github-push.json", "twilio-sms-inbound.COMPOSED.form", "salesforce-outbound-message.COMPOSED.xml"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--b--\r\n"))
	f.Add([]byte(`<a x="1"><b>2</b><b>3</b></a>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, ct := range []string{"application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=b",
			"application/xml", "text/plain", ""} {
			_, _ = ParseBody(ct, body)
		}
	})
}
