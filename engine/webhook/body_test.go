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

func TestBracketedFormNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		want       map[string]any
	}{
		{"object", "customer[name]=Ada&customer[email]=ada%40example.com",
			map[string]any{"customer": map[string]any{"name": "Ada", "email": "ada@example.com"}}},
		{"nested object", "a[b][c]=1&a[b][d]=2&a[e]=3",
			map[string]any{"a": map[string]any{"b": map[string]any{"c": "1", "d": "2"}, "e": "3"}}},
		{"list", "tags[]=red&tags[]=blue", map[string]any{"tags": []any{"red", "blue"}}},
		{"list of one", "tags[]=red", map[string]any{"tags": []any{"red"}}},
		{"stripe's indexes", "metadata[order_id]=6735&items[0][price]=price_1&items[0][quantity]=2&items[1][price]=price_2",
			map[string]any{"metadata": map[string]any{"order_id": "6735"},
				"items": []any{map[string]any{"price": "price_1", "quantity": "2"}, map[string]any{"price": "price_2"}}}},
		{"indexes in their order", "a[2]=c&a[0]=a&a[1]=b", map[string]any{"a": []any{"a", "b", "c"}}},
		{"sparse indexes close up", "a[1]=x&a[5]=y", map[string]any{"a": []any{"x", "y"}}},
		{"big index is a key", "a[0]=x&a[99999]=y", map[string]any{"a": map[string]any{"0": "x", "99999": "y"}}},
		{"not quite an index", "a[01]=x", map[string]any{"a": map[string]any{"01": "x"}}},
		{"rails groups", "items[][sku]=A&items[][qty]=1&items[][sku]=B&items[][qty]=2",
			map[string]any{"items": []any{map[string]any{"sku": "A", "qty": "1"}, map[string]any{"sku": "B", "qty": "2"}}}},
		{"plain and bracketed stay apart", "a=1&a[b]=2", map[string]any{"a": "1", "a[b]": "2"}},
		{"object then list clash", "a[b]=1&a[]=2", map[string]any{"a": map[string]any{"b": "1"}, "a[]": "2"}},
		{"repeated key", "a[b]=1&a[b]=2", map[string]any{"a": map[string]any{"b": "1"}, "a[b]": "2"}},
		{"not brackets", "[a]=1&a[b=2&a]b[=3&a[b]c=4&a[b[c]]=5",
			map[string]any{"[a]": "1", "a[b": "2", "a]b[": "3", "a[b]c": "4", "a[b[c]]": "5"}},
		{"too deep", "a[1][2][3][4][5][6][7][8][9][10][11]=x", map[string]any{"a[1][2][3][4][5][6][7][8][9][10][11]": "x"}},
		{"escaped brackets", "a%5Bb%5D=1", map[string]any{"a": map[string]any{"b": "1"}}},
		{"numeric names at the top stay an object", "0=a&1=b", map[string]any{"0": "a", "1": "b"}},
	}
	for _, tt := range tests {
		got, err := ParseBody("application/x-www-form-urlencoded", []byte(tt.body))
		require.NoError(t, err, tt.name)
		assert.Equal(t, tt.want, got, tt.name)
	}
	_, err := ParseBody("application/x-www-form-urlencoded", []byte("a=%zz"))
	assert.ErrorContains(t, err, "body is not valid form data")
}

func TestParseMultipart(t *testing.T) {
	t.Parallel()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	require.NoError(t, w.WriteField("name", "Ada"))
	require.NoError(t, w.WriteField("tag", "a"))
	require.NoError(t, w.WriteField("tag", "b"))
	require.NoError(t, w.WriteField("address[city]", "London"))
	file, err := w.CreateFormFile("avatar", "ada.png")
	require.NoError(t, err)
	_, err = file.Write(bytes.Repeat([]byte{0x89}, 1234))
	require.NoError(t, err)
	require.NoError(t, w.Close())

	got, err := ParseBody(w.FormDataContentType(), body.Bytes())
	require.NoError(t, err)
	assert.Equal(t, map[string]any{
		"name":    "Ada",
		"tag":     []any{"a", "b"},
		"address": map[string]any{"city": "London"},
		"avatar":  map[string]any{"filename": "ada.png", "content_type": "application/octet-stream", "size": 1234},
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

// FuzzFormFields checks that nesting keeps every field: each value of a
// form body is somewhere in what the flow sees, whatever the names.
func FuzzFormFields(f *testing.F) {
	for _, seed := range []string{"a[b]=1&a[]=2&a=3", "items[][x]=1&items[][x]=2&items[0]=z", "a[0][1][]=x&a[0][1][y]=z", "=&[]=&a[=]"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		fields, err := parseFormFields(body)
		if err != nil {
			return
		}
		got := nestFields(fields)
		assert.Equal(t, len(fields), countLeaves(got), "body %q gave %v", body, got)
	})
}

func countLeaves(v any) int {
	switch v := v.(type) {
	case map[string]any:
		n := 0
		for _, e := range v {
			n += countLeaves(e)
		}
		return n
	case []any:
		n := 0
		for _, e := range v {
			n += countLeaves(e)
		}
		return n
	}
	return 1
}
