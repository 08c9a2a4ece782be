package api_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// fixtures are the real sender deliveries of engine/webhook/testdata.
const fixtures = "../engine/webhook/testdata"

func senderFixture(t *testing.T, body, headers string) ([]byte, http.Header) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtures, body))
	require.NoError(t, err)
	h := http.Header{}
	file, err := os.Open(filepath.Join(fixtures, headers))
	require.NoError(t, err)
	defer file.Close()
	comment := regexp.MustCompile(`\s+#.*$`)
	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		line := scanner.Text()
		if strings.HasPrefix(line, "#") || strings.HasPrefix(line, "POST ") || strings.TrimSpace(line) == "" {
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		h.Set(strings.TrimSpace(name), strings.TrimSpace(comment.ReplaceAllString(value, "")))
	}
	return data, h
}

func hmacHex(newHash func() hash.Hash, key string, parts ...string) string {
	m := hmac.New(newHash, []byte(key))
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return hex.EncodeToString(m.Sum(nil))
}

// post sends a request to a trigger URL and returns the status, headers
// and body.
func (f *fixture2) post(method, url string, header http.Header, body []byte) (int, http.Header, []byte) {
	f.t.Helper()
	req := httptest.NewRequest(method, strings.TrimPrefix(url, publicURL), bytes.NewReader(body))
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	res, err := f.app.Test(req, -1)
	require.NoError(f.t, err)
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	require.NoError(f.t, err)
	return res.StatusCode, res.Header, data
}

// fixture2 is the API fixture with webhook helpers.
type fixture2 struct{ *fixture }

func hooks(t *testing.T, db *store.DB) *fixture2 { return &fixture2{setup(t, db)} }

// activeFlow saves and activates a flow and returns its id and trigger URL.
func (f *fixture2) activeFlow(doc string) (string, string) {
	f.t.Helper()
	status, body := f.do("POST", "/api/v1/flows", doc)
	require.Equal(f.t, http.StatusCreated, status, "%v", body)
	id := body["id"].(string)
	status, _ = f.do("POST", "/api/v1/flows/"+id+"/activate", "")
	require.Equal(f.t, http.StatusOK, status)
	return id, body["triggers"].([]any)[0].(map[string]any)["url"].(string)
}

// runOf waits for a run to finish and returns it with its steps.
func (f *fixture2) runOf(id string) map[string]any {
	f.t.Helper()
	var run map[string]any
	require.Eventually(f.t, func() bool {
		_, run = f.do("GET", "/api/v1/runs/"+id, "")
		s := run["status"]
		return s == "succeeded" || s == "failed" || s == "canceled"
	}, 10*time.Second, 10*time.Millisecond)
	return run
}

func stepOutput(run map[string]any, node string) any {
	for _, s := range run["steps"].([]any) {
		if step := s.(map[string]any); step["node_id"] == node {
			return step["output"]
		}
	}
	return nil
}

// latestDelivery returns the newest delivery of a flow, whole.
func (f *fixture2) latestDelivery(flowID string) map[string]any {
	f.t.Helper()
	status, list := f.do("GET", "/api/v1/deliveries?flow_id="+flowID+"&limit=1", "")
	require.Equal(f.t, http.StatusOK, status)
	require.NotEmpty(f.t, list["deliveries"])
	id := list["deliveries"].([]any)[0].(map[string]any)["id"].(string)
	_, d := f.do("GET", "/api/v1/deliveries/"+id, "")
	return d
}

func verifiedFlow(scheme, credential, extra string) string {
	return `{"name": "` + scheme + `", "nodes": [
		{"id": "hook", "type": "trigger.webhook", "params": {"verify": {"scheme": "` + scheme + `", "credential": "` + credential + `"` + extra + `}}},
		{"id": "seen", "type": "transform", "params": {"fields": {"body": "trigger.body", "path": "trigger.path"}}}],
		"edges": [{"from": "hook", "to": "seen"}]}`
}

// TestEverySchemeWithRealDeliveries posts each sender's real payload with a
// correct signature (fresh where the scheme signs a timestamp), then
// tampered, stale and unsigned copies: each of those gets 401 and a
// recorded rejection with its reason.
func TestEverySchemeWithRealDeliveries(t *testing.T) {
	t.Parallel()
	type signed struct {
		header http.Header
		body   []byte
	}
	tests := []struct {
		scheme, credType, credData, extra string
		// sign returns the delivery as the sender would send it to url, at
		// timestamp ts.
		sign            func(t *testing.T, url, ts string) signed
		signatureHeader string
		staleable       bool
	}{
		{
			scheme: "github", credType: "secret", credData: `{"secret": "It's a Secret to Everybody"}`, signatureHeader: "X-Hub-Signature-256",
			sign: func(t *testing.T, _, _ string) signed {
				body, h := senderFixture(t, "github-push.json", "github-push.headers")
				return signed{h, body} // the fixture's own signature
			},
		},
		{
			scheme: "stripe", credType: "secret", credData: `{"secret": "whsec_test_secret_for_fixtures"}`, signatureHeader: "Stripe-Signature", staleable: true,
			sign: func(t *testing.T, _, ts string) signed {
				body, h := senderFixture(t, "stripe-event-payment_intent.succeeded.COMPOSED.json", "stripe-event-payment_intent.succeeded.COMPOSED.headers")
				h.Set("Stripe-Signature", "t="+ts+",v1="+hmacHex(sha256.New, "whsec_test_secret_for_fixtures", ts+".", string(body)))
				return signed{h, body}
			},
		},
		{
			scheme: "slack", credType: "secret", credData: `{"secret": "8f742231b10e8888abcd99yyyzzz85a5"}`, signatureHeader: "X-Slack-Signature", staleable: true,
			sign: func(t *testing.T, _, ts string) signed {
				body, h := senderFixture(t, "slack-url_verification.json", "slack-url_verification.headers")
				h.Set("X-Slack-Request-Timestamp", ts)
				h.Set("X-Slack-Signature", "v0="+hmacHex(sha256.New, "8f742231b10e8888abcd99yyyzzz85a5", "v0:"+ts+":", string(body)))
				return signed{h, body}
			},
		},
		{
			scheme: "shopify", credType: "secret", credData: `{"secret": "shpss_test_secret_for_fixtures"}`, signatureHeader: "X-Shopify-Hmac-Sha256",
			sign: func(t *testing.T, _, _ string) signed {
				body, h := senderFixture(t, "shopify-orders-create.TRIMMED.json", "shopify-orders-create.TRIMMED.headers")
				return signed{h, body}
			},
		},
		{
			scheme: "standard-webhooks", credType: "secret", credData: `{"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}`,
			signatureHeader: "Webhook-Signature", staleable: true,
			sign: func(t *testing.T, _, ts string) signed {
				body := []byte(`{"type": "invoice.paid", "data": {"id": "in_1"}}`)
				key, _ := base64.StdEncoding.DecodeString("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
				m := hmac.New(sha256.New, key)
				m.Write([]byte("msg_1." + ts + "."))
				m.Write(body)
				h := http.Header{"Content-Type": {"application/json"}, "Webhook-Id": {"msg_1"}, "Webhook-Timestamp": {ts},
					"Webhook-Signature": {"v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))}}
				return signed{h, body}
			},
		},
		{
			scheme: "twilio", credType: "secret", credData: `{"secret": "12345"}`, signatureHeader: "X-Twilio-Signature",
			sign: func(t *testing.T, target, _ string) signed {
				body, h := senderFixture(t, "twilio-sms-inbound.COMPOSED.form", "twilio-sms-inbound.COMPOSED.headers")
				form, err := url.ParseQuery(string(body))
				require.NoError(t, err)
				m := hmac.New(sha1.New, []byte("12345"))
				m.Write([]byte(target + twilioParams(form)))
				h.Set("X-Twilio-Signature", base64.StdEncoding.EncodeToString(m.Sum(nil)))
				return signed{h, body}
			},
		},
		{
			scheme: "gitlab", credType: "secret", credData: `{"secret": "my-secret-token"}`, signatureHeader: "X-Gitlab-Token",
			sign: func(t *testing.T, _, _ string) signed {
				body, h := senderFixture(t, "gitlab-push.json", "gitlab-push.headers")
				return signed{h, body}
			},
		},
		{
			scheme: "hmac", credType: "secret", credData: `{"secret": "k3y"}`, signatureHeader: "X-Signature", staleable: true,
			extra: `, "header": "X-Signature", "prefix": "sha256=", "timestamp_header": "X-Timestamp", "signed_string": "{timestamp}.{body}"`,
			sign: func(_ *testing.T, _, ts string) signed {
				body := []byte(`{"order": 7}`)
				return signed{http.Header{"Content-Type": {"application/json"}, "X-Timestamp": {ts},
					"X-Signature": {"sha256=" + hmacHex(sha256.New, "k3y", ts+".", string(body))}}, body}
			},
		},
		{
			scheme: "header", credType: "secret", credData: `{"secret": "tok-123"}`, signatureHeader: "X-Api-Key", extra: `, "header": "X-Api-Key"`,
			sign: func(*testing.T, string, string) signed {
				return signed{http.Header{"Content-Type": {"text/plain"}, "X-Api-Key": {"tok-123"}}, []byte("ping")}
			},
		},
		{
			scheme: "basic", credType: "http_basic", credData: `{"username": "hook", "password": "s3cret"}`, signatureHeader: "Authorization",
			sign: func(*testing.T, string, string) signed {
				return signed{http.Header{"Content-Type": {"application/json"},
					"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("hook:s3cret"))}}, []byte(`{}`)}
			},
		},
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := hooks(t, db)
		for _, tt := range tests {
			t.Run(tt.scheme, func(t *testing.T) {
				f := &fixture2{&fixture{t: t, app: f.app, store: f.store}}
				// Signed now, not when the test began: a parallel test may
				// wait its turn longer than the schemes' five minutes'
				// tolerance on a busy machine.
				now := time.Now()
				ts := strconv.FormatInt(now.Unix(), 10)
				stale := strconv.FormatInt(now.Add(-10*time.Minute).Unix(), 10)
				f.credential(tt.scheme+"-cred", tt.credType, tt.credData)
				flowID, url := f.activeFlow(verifiedFlow(tt.scheme, tt.scheme+"-cred", tt.extra))

				good := tt.sign(t, url, ts)
				status, _, body := f.post("POST", url, good.header, good.body)
				require.Equal(t, http.StatusAccepted, status, "%s", body)
				assert.Equal(t, "accepted", f.latestDelivery(flowID)["status"], "the delivery is recorded under its own flow")
				var accepted map[string]any
				require.NoError(t, json.Unmarshal(body, &accepted))
				run := f.runOf(accepted["run_id"].(string))
				assert.Equal(t, "succeeded", run["status"], "%v", run["error"])
				assert.NotNil(t, stepOutput(run, "seen").(map[string]any)["body"], "the run sees the parsed body")

				rejectedWith := func(what string, s signed) {
					t.Helper()
					status, _, body := f.post("POST", url, s.header, s.body)
					assert.Equal(t, http.StatusUnauthorized, status, "%s: %s", what, body)
					assert.JSONEq(t, `{"error": "the request is not authenticated"}`, string(body), "%s: the sender learns nothing more", what)
					d := f.latestDelivery(flowID)
					assert.Equal(t, "rejected", d["status"], what)
					assert.Equal(t, float64(401), d["http_status"], what)
					assert.Contains(t, d["reason"], "bad signature", what)
				}
				tampered := tt.sign(t, url, ts)
				if tt.scheme == "gitlab" || tt.scheme == "header" || tt.scheme == "basic" {
					tampered.header.Set(tt.signatureHeader, tampered.header.Get(tt.signatureHeader)+"x")
				} else {
					tampered.body = append(bytes.TrimSpace(tampered.body), ' ', '1')
				}
				rejectedWith("tampered", tampered)
				missing := tt.sign(t, url, ts)
				missing.header.Del(tt.signatureHeader)
				rejectedWith("missing", missing)
				if tt.staleable {
					rejectedWith("stale", tt.sign(t, url, stale))
				}
			})
		}
	})
}

// twilioParams signs a form as Twilio's documentation describes, written
// out here apart from the server's own code.
func twilioParams(form url.Values) string {
	names := make([]string, 0, len(form))
	for k := range form {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		for _, v := range form[k] {
			b.WriteString(k + v)
		}
	}
	return b.String()
}

func TestBodiesAreParsedByContentType(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := hooks(t, db)
		_, url := f.activeFlow(`{"name": "bodies", "nodes": [
			{"id": "hook", "type": "trigger.webhook", "params": {"methods": ["POST", "PUT"]}},
			{"id": "seen", "type": "transform", "params": {"fields": {"body": "trigger.body", "raw": "trigger.raw",
				"method": "trigger.method", "path": "trigger.path", "query": "trigger.query", "agent": "trigger.headers['user-agent']"}}}],
			"edges": [{"from": "hook", "to": "seen"}]}`)

		var multi bytes.Buffer
		w := multipart.NewWriter(&multi)
		require.NoError(t, w.WriteField("name", "Ada"))
		file, _ := w.CreateFormFile("cv", "cv.pdf")
		_, _ = file.Write(bytes.Repeat([]byte("%"), 300))
		require.NoError(t, w.Close())
		salesforce, sfHeaders := senderFixture(t, "salesforce-outbound-message.COMPOSED.xml", "salesforce-outbound-message.COMPOSED.headers")

		tests := []struct {
			name, contentType, path string
			body                    []byte
			want                    any
		}{
			{"json", "application/json", "", []byte(`{"id": 820982911946154508, "ok": true}`),
				map[string]any{"id": float64(820982911946154508), "ok": true}},
			{"form", "application/x-www-form-urlencoded", "", []byte("a=1&a=2&b=x+y"), map[string]any{"a": []any{"1", "2"}, "b": "x y"}},
			{"multipart", w.FormDataContentType(), "", multi.Bytes(),
				map[string]any{"name": "Ada", "cv": map[string]any{"filename": "cv.pdf", "content_type": "application/octet-stream", "size": float64(300)}}},
			{"text", "text/plain", "/sub/path", []byte("hello"), "hello"},
		}
		for _, tt := range tests {
			status, _, body := f.post("POST", url+tt.path+"?x=1", http.Header{"Content-Type": {tt.contentType}, "User-Agent": {"tester/1"}}, tt.body)
			require.Equal(t, http.StatusAccepted, status, "%s: %s", tt.name, body)
			var res map[string]any
			require.NoError(t, json.Unmarshal(body, &res))
			seen := stepOutput(f.runOf(res["run_id"].(string)), "seen").(map[string]any)
			assert.Equal(t, tt.want, seen["body"], tt.name)
			assert.Equal(t, string(tt.body), seen["raw"], "%s: raw always holds the text", tt.name)
			assert.Equal(t, "POST", seen["method"])
			assert.Equal(t, map[string]any{"x": "1"}, seen["query"])
			assert.Equal(t, "tester/1", seen["agent"], "header names are lower-case")
			if tt.path != "" {
				assert.Equal(t, tt.path, seen["path"])
			} else {
				assert.Equal(t, "/", seen["path"])
			}
		}

		status, _, body := f.post("PUT", url, sfHeaders, salesforce)
		require.Equal(t, http.StatusAccepted, status, "%s", body)
		var res map[string]any
		require.NoError(t, json.Unmarshal(body, &res))
		seen := stepOutput(f.runOf(res["run_id"].(string)), "seen").(map[string]any)
		envelope := seen["body"].(map[string]any)["Envelope"].(map[string]any)
		notification := envelope["Body"].(map[string]any)["notifications"].(map[string]any)
		assert.Equal(t, "00Dxx0000001gPLEAY", notification["OrganizationId"], "XML becomes nested maps")
	})
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := hooks(t, db)
		flowID, url := f.activeFlow(`{"name": "refusals", "nodes": [{"id": "hook", "type": "trigger.webhook"}], "edges": []}`)
		json := http.Header{"Content-Type": {"application/json"}}
		tests := []struct {
			name, method, url, reason string
			header                    http.Header
			body                      []byte
			status                    int
		}{
			{"unknown key", "POST", publicURL + "/hooks/nosuchkey", "", json, []byte(`{}`), 404},
			{"method", "GET", url, "method GET is not accepted", json, nil, 405},
			{"media type", "POST", url, "content type \"image/png\"", http.Header{"Content-Type": {"image/png"}}, []byte("\x89PNG"), 415},
			{"malformed json", "POST", url, "body is not valid JSON", json, []byte(`{"a":`), 400},
			{"malformed xml", "POST", url, "body is not valid XML", http.Header{"Content-Type": {"text/xml"}}, []byte(`<a><b></a>`), 400},
		}
		for _, tt := range tests {
			status, header, body := f.post(tt.method, tt.url, tt.header, tt.body)
			assert.Equal(t, tt.status, status, "%s: %s", tt.name, body)
			assert.Contains(t, string(body), `"error"`, tt.name)
			if tt.status == 405 {
				assert.Equal(t, "POST", header.Get("Allow"))
			}
			if tt.reason == "" {
				continue
			}
			d := f.latestDelivery(flowID)
			assert.Equal(t, "rejected", d["status"], tt.name)
			assert.Contains(t, d["reason"], tt.reason, tt.name)
			assert.Equal(t, float64(tt.status), d["http_status"], tt.name)
		}

		// A body over HOOKFLOW_MAX_BODY_BYTES is refused while it is read,
		// so this takes a real connection; the refusal is still recorded.
		base := serveOnLoopback(t, f.app)
		conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		require.NoError(t, err)
		defer conn.Close()
		_, err = fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
			strings.TrimPrefix(url, publicURL), 3<<20)
		require.NoError(t, err)
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err)
		tooLarge, _ := io.ReadAll(res.Body)
		res.Body.Close()
		assert.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
		assert.JSONEq(t, `{"error": "the body is larger than 2097152 bytes"}`, string(tooLarge))
		d := f.latestDelivery(flowID)
		assert.Equal(t, "rejected", d["status"])
		assert.Equal(t, float64(413), d["http_status"])
		assert.Equal(t, float64(3<<20), d["body_size"])

		status, _ := f.do("POST", "/api/v1/flows/"+flowID+"/deactivate", "")
		require.Equal(t, http.StatusOK, status)
		status, _, body := f.post("POST", url, json, []byte(`{}`))
		assert.Equal(t, http.StatusNotFound, status, "an inactive flow's trigger refuses: %s", body)
		assert.JSONEq(t, `{"error": "no trigger at this URL"}`, string(body), "the sender learns no more than for a URL that never was")
		d = f.latestDelivery(flowID)
		assert.Equal(t, "rejected", d["status"], "the owner sees the request and why it was refused")
		assert.Equal(t, float64(404), d["http_status"])
		assert.Equal(t, "the flow is not active", d["reason"])

		_, list := f.do("GET", "/api/v1/deliveries?flow_id="+flowID+"&status=accepted", "")
		assert.Empty(t, list["deliveries"], "nothing was accepted")
	})
}

// TestEachKeyReachesItsOwnFlow posts to many trigger URLs at once: every
// delivery must be recorded under, and run, the flow whose URL it used.
func TestEachKeyReachesItsOwnFlow(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := hooks(t, db)
		const flows, posts = 12, 5
		ids, urls := make([]string, flows), make([]string, flows)
		for i := range flows {
			ids[i], urls[i] = f.activeFlow(fmt.Sprintf(`{"name": "flow %d", "nodes": [{"id": "hook", "type": "trigger.webhook",
				"params": {"dedupe_window_ms": 0}}], "edges": []}`, i))
		}
		var wg sync.WaitGroup
		for p := range posts {
			for i := range flows {
				wg.Go(func() {
					status, _, body := f.post("POST", urls[i], http.Header{"Content-Type": {"application/json"}},
						[]byte(fmt.Sprintf(`{"flow": %d, "post": %d}`, i, p)))
					assert.Equal(t, http.StatusAccepted, status, "%s", body)
				})
			}
		}
		wg.Wait()
		for i, id := range ids {
			_, list := f.do("GET", "/api/v1/deliveries?flow_id="+id+"&limit=100", "")
			deliveries := list["deliveries"].([]any)
			require.Len(t, deliveries, posts, "flow %d", i)
			for _, d := range deliveries {
				_, full := f.do("GET", "/api/v1/deliveries/"+d.(map[string]any)["id"].(string), "")
				assert.Contains(t, *ptr(full["body"]), fmt.Sprintf(`"flow": %d,`, i), "a delivery of flow %d holds its own body", i)
			}
		}
	})
}

func ptr(v any) *string {
	s, _ := v.(string)
	return &s
}

func TestDedupe(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := hooks(t, db)
		flowID, url := f.activeFlow(`{"name": "dedupe", "nodes": [{"id": "hook", "type": "trigger.webhook"}], "edges": []}`)
		body, header := senderFixture(t, "github-ping.json", "github-ping.headers")

		status, _, first := f.post("POST", url, header, body)
		require.Equal(t, http.StatusAccepted, status)
		var firstRes map[string]any
		require.NoError(t, json.Unmarshal(first, &firstRes))
		status, _, again := f.post("POST", url, header, body)
		assert.Equal(t, http.StatusOK, status)
		assert.JSONEq(t, fmt.Sprintf(`{"duplicate": true, "run_id": %q}`, firstRes["run_id"]), string(again))
		d := f.latestDelivery(flowID)
		assert.Equal(t, "duplicate", d["status"])
		assert.Equal(t, "github:72d3162e-cc78-11e3-81ab-4c9367dc0958", d["dedupe_key"])

		header.Set("X-GitHub-Delivery", "another-delivery")
		status, _, _ = f.post("POST", url, header, body)
		assert.Equal(t, http.StatusAccepted, status, "another delivery id is another delivery")

		_, byExpr := f.activeFlow(`{"name": "dedupe by expression", "nodes": [{"id": "hook", "type": "trigger.webhook",
			"params": {"dedupe": "trigger.body.order_id"}}], "edges": []}`)
		status, _, _ = f.post("POST", byExpr, http.Header{"Content-Type": {"application/json"}}, []byte(`{"order_id": 7, "try": 1}`))
		assert.Equal(t, http.StatusAccepted, status)
		status, _, _ = f.post("POST", byExpr, http.Header{"Content-Type": {"application/json"}}, []byte(`{"order_id": 7, "try": 2}`))
		assert.Equal(t, http.StatusOK, status, "the expression names the delivery")

		_, off := f.activeFlow(`{"name": "no dedupe", "nodes": [{"id": "hook", "type": "trigger.webhook",
			"params": {"dedupe_window_ms": 0}}], "edges": []}`)
		for range 2 {
			status, _, _ = f.post("POST", off, header, body)
			assert.Equal(t, http.StatusAccepted, status, "a window of 0 turns dedupe off")
		}
	})
}

func TestRespondWhenDone(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := hooks(t, db)
		// Slack's Events API handshake: answer the challenge.
		_, slack := f.activeFlow(`{"name": "slack events", "nodes": [
			{"id": "hook", "type": "trigger.webhook", "params": {"respond": "when_done"}},
			{"id": "handshake", "type": "if", "params": {"condition": "trigger.body.type == 'url_verification'"}},
			{"id": "answer", "type": "respond", "params": {"body": {"challenge": "{{ trigger.body.challenge }}"}}}],
			"edges": [{"from": "hook", "to": "handshake"}, {"from": "handshake", "port": "true", "to": "answer"}]}`)
		body, header := senderFixture(t, "slack-url_verification.json", "slack-url_verification.headers")
		status, resHeader, answer := f.post("POST", slack, header, body)
		assert.Equal(t, http.StatusOK, status)
		assert.Equal(t, "application/json", resHeader.Get("Content-Type"))
		assert.JSONEq(t, `{"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}`, string(answer))

		// Salesforce outbound messages want a SOAP <Ack> back.
		ack, err := os.ReadFile(filepath.Join(fixtures, "salesforce-outbound-message.ACK-response.xml"))
		require.NoError(t, err)
		ackJSON, _ := json.Marshal(string(ack))
		_, sf := f.activeFlow(`{"name": "salesforce", "nodes": [
			{"id": "hook", "type": "trigger.webhook", "params": {"respond": "when_done"}},
			{"id": "ack", "type": "respond", "params": {"headers": {"Content-Type": "text/xml; charset=utf-8"}, "body": ` + string(ackJSON) + `}}],
			"edges": [{"from": "hook", "to": "ack"}]}`)
		body, header = senderFixture(t, "salesforce-outbound-message.COMPOSED.xml", "salesforce-outbound-message.COMPOSED.headers")
		status, resHeader, answer = f.post("POST", sf, header, body)
		assert.Equal(t, http.StatusOK, status)
		assert.Equal(t, "text/xml; charset=utf-8", resHeader.Get("Content-Type"))
		assert.Equal(t, string(ack), string(answer), "the <Ack> goes back as it is")

		// Without a respond node, the last output answers.
		_, last := f.activeFlow(`{"name": "last output", "nodes": [
			{"id": "hook", "type": "trigger.webhook", "params": {"respond": "when_done"}},
			{"id": "double", "type": "transform", "params": {"fields": {"n": "trigger.body.n * 2"}}}],
			"edges": [{"from": "hook", "to": "double"}]}`)
		status, _, answer = f.post("POST", last, http.Header{"Content-Type": {"application/json"}}, []byte(`{"n": 21}`))
		assert.Equal(t, http.StatusOK, status)
		assert.JSONEq(t, `{"n": 42}`, string(answer))

		// A run that outlasts the timeout is answered 202 with its id.
		_, slow := f.activeFlow(`{"name": "slow", "nodes": [
			{"id": "hook", "type": "trigger.webhook", "params": {"respond": "when_done", "respond_timeout_ms": 200}},
			{"id": "wait", "type": "delay", "params": {"duration_ms": 60000}}],
			"edges": [{"from": "hook", "to": "wait"}]}`)
		status, _, answer = f.post("POST", slow, http.Header{"Content-Type": {"application/json"}}, []byte(`{}`))
		assert.Equal(t, http.StatusAccepted, status)
		assert.Contains(t, string(answer), `"run_id"`)
	})
}

func TestListenCapturesTheNextRequest(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := hooks(t, db)
		status, flow := f.do("POST", "/api/v1/flows", `{"name": "draft", "nodes": [{"id": "hook", "type": "trigger.webhook"}], "edges": []}`)
		require.Equal(t, http.StatusCreated, status)
		id := flow["id"].(string)
		url := flow["triggers"].([]any)[0].(map[string]any)["url"].(string)

		status, _ = f.do("GET", "/api/v1/flows/"+id+"/sample", "")
		assert.Equal(t, http.StatusNoContent, status, "no sample yet")

		type answer struct {
			status int
			body   map[string]any
		}
		listened := make(chan answer, 1)
		go func() {
			status, body := f.do("POST", "/api/v1/flows/"+id+"/listen?wait_ms=10000", "")
			listened <- answer{status, body}
		}()
		// The flow is inactive; once someone listens, its trigger captures.
		var captured []byte
		require.Eventually(t, func() bool {
			status, _, body := f.post("POST", url+"?ref=test", http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer hidden"}},
				[]byte(`{"event": "sample", "n": 1}`))
			captured = body
			return status == http.StatusOK
		}, 10*time.Second, 20*time.Millisecond)
		assert.JSONEq(t, `{"captured": true}`, stripField(t, captured, "delivery_id"))

		got := <-listened
		require.Equal(t, http.StatusOK, got.status, "%v", got.body)
		assert.Equal(t, "captured", got.body["status"])
		assert.Equal(t, "ref=test", got.body["query"])
		trigger := got.body["trigger"].(map[string]any)
		assert.Equal(t, map[string]any{"event": "sample", "n": float64(1)}, trigger["body"])
		assert.Equal(t, "[redacted]", trigger["headers"].(map[string]any)["authorization"], "credentials never reach records")

		status, sample := f.do("GET", "/api/v1/flows/"+id+"/sample", "")
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, got.body["id"], sample["id"], "the capture is the sample")
		_, runs := f.do("GET", "/api/v1/runs?flow_id="+id, "")
		assert.Empty(t, runs["runs"], "a capture starts no run")

		status, _ = f.do("POST", "/api/v1/flows/"+id+"/listen?wait_ms=50", "")
		assert.Equal(t, http.StatusNoContent, status, "nothing came")
	})
}

func stripField(t *testing.T, data []byte, field string) string {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	assert.NotEmpty(t, m[field])
	delete(m, field)
	out, _ := json.Marshal(m)
	return string(out)
}

func TestCredentialsAPI(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := hooks(t, db)
		const secret = "whsec_never_shown_anywhere_123"
		status, created := f.do("POST", "/api/v1/credentials", `{"name": "stripe-signing", "type": "secret", "data": {"secret": "`+secret+`"}}`)
		require.Equal(t, http.StatusCreated, status, "%v", created)
		assert.Equal(t, map[string]any{"name": "stripe-signing", "type": "secret"}, map[string]any{"name": created["name"], "type": created["type"]})
		assert.NotContains(t, created, "data")

		status, body := f.do("POST", "/api/v1/credentials", `{"name": "stripe-signing", "type": "secret", "data": {"secret": "x"}}`)
		assert.Equal(t, http.StatusConflict, status)
		assert.Contains(t, body["error"], "already exists")

		status, body = f.do("POST", "/api/v1/credentials", `{"name": "bad name!", "type": "nope", "data": {}}`)
		assert.Equal(t, http.StatusUnprocessableEntity, status)
		assert.Len(t, body["problems"], 2)
		status, body = f.do("POST", "/api/v1/credentials", `{"name": "b", "type": "http_basic", "data": {"username": "u", "extra": 1}}`)
		assert.Equal(t, http.StatusUnprocessableEntity, status)
		fields := []string{}
		for _, p := range body["problems"].([]any) {
			fields = append(fields, p.(map[string]any)["field"].(string))
		}
		assert.ElementsMatch(t, []string{"data.password", "data.extra"}, fields)

		status, body = f.do("PUT", "/api/v1/credentials/stripe-signing", `{"type": "secret", "data": {"secret": "`+secret+`2"}}`)
		require.Equal(t, http.StatusOK, status, "%v", body)
		status, _ = f.do("PUT", "/api/v1/credentials/nope", `{"type": "secret", "data": {"secret": "x"}}`)
		assert.Equal(t, http.StatusNotFound, status)

		for _, path := range []string{"/api/v1/credentials", "/api/v1/credentials/stripe-signing", "/api/v1/credential-types"} {
			req := httptest.NewRequest("GET", path, nil)
			req.Header.Set("Authorization", "Bearer "+testToken)
			res, err := f.app.Test(req, -1)
			require.NoError(t, err)
			data, _ := io.ReadAll(res.Body)
			assert.Equal(t, http.StatusOK, res.StatusCode, path)
			assert.NotContains(t, string(data), secret, "%s never shows a secret", path)
		}
		stored, err := db.GetCredential(t.Context(), "stripe-signing")
		require.NoError(t, err)
		assert.NotContains(t, string(stored.Data), secret, "the database holds it sealed")

		status, _ = f.do("DELETE", "/api/v1/credentials/stripe-signing", "")
		assert.Equal(t, http.StatusNoContent, status)
		status, _ = f.do("GET", "/api/v1/credentials/stripe-signing", "")
		assert.Equal(t, http.StatusNotFound, status)
	})
}

// TestAWebhookRunShowsItsTriggerData: the run of a webhook shows what its
// expressions saw as trigger, kept once with its delivery: as the run's
// trigger data, as the trigger step's output, and as the input of the step
// after it. (The run view once showed an empty trigger.)
func TestAWebhookRunShowsItsTriggerData(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := hooks(t, db)
		_, url := f.activeFlow(`{"name": "shown", "nodes": [{"id": "hook", "type": "trigger.webhook"},
			{"id": "pick", "type": "transform", "params": {"fields": {"n": "trigger.body.n"}}}], "edges": [{"from": "hook", "to": "pick"}]}`)
		status, _, body := f.post("POST", url+"/orders?src=shop", http.Header{"Content-Type": {"application/json"}, "X-Shop": {"one"}},
			[]byte(`{"n": 7}`))
		require.Equal(t, http.StatusAccepted, status, "%s", body)
		var reply struct {
			RunID string `json:"run_id"`
		}
		require.NoError(t, json.Unmarshal(body, &reply))
		run := f.runOf(reply.RunID)
		trigger := run["trigger"].(map[string]any)
		assert.Equal(t, "webhook", trigger["type"])
		data := trigger["data"].(map[string]any)
		assert.Equal(t, map[string]any{"n": float64(7)}, data["body"])
		assert.Equal(t, "/orders", data["path"])
		assert.Equal(t, "one", data["headers"].(map[string]any)["x-shop"])
		assert.Equal(t, map[string]any{"src": "shop"}, data["query"])
		assert.Equal(t, data, stepOutput(run, "hook"), "the trigger step's output is the trigger data")
		for _, s := range run["steps"].([]any) {
			if step := s.(map[string]any); step["node_id"] == "pick" {
				assert.Equal(t, data, step["input"], "the next step's input is the trigger step's output")
			}
		}
	})
}

// TestARespondNodeAnswersBeforeTheRunEnds: a webhook waiting for its run
// gets the respond node's answer as soon as the node has run, and the side
// effects before it are on disk, while the run goes on with a slow step.
func TestARespondNodeAnswersBeforeTheRunEnds(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := hooks(t, db)
		release := make(chan struct{})
		var calls atomic.Int32
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			if r.URL.Path == "/slow" {
				<-release
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"ok": true}`))
		}))
		t.Cleanup(slow.Close)
		t.Cleanup(func() { close(release) })

		for name, tc := range map[string]struct {
			nodes, edges string
			answer       string
		}{
			"answered first": {
				nodes:  `{"id": "reply", "type": "respond", "params": {"status": 201, "body": {"got": "{{ trigger.body.n }}"}}}`,
				edges:  `{"from": "hook", "to": "reply"}, {"from": "reply", "to": "slow"}`,
				answer: `{"got": 1}`,
			},
			"answered after a side effect": {
				nodes: `{"id": "fast", "type": "http.request", "params": {"method": "POST", "url": "` + slow.URL + `/fast"}},
					{"id": "reply", "type": "respond", "params": {"status": 201, "body": {"fast": "{{ steps.fast.body.ok }}"}}}`,
				edges:  `{"from": "hook", "to": "fast"}, {"from": "fast", "to": "reply"}, {"from": "reply", "to": "slow"}`,
				answer: `{"fast": true}`,
			},
		} {
			_, url := f.activeFlow(`{"name": "` + name + `", "nodes": [
				{"id": "hook", "type": "trigger.webhook", "params": {"respond": "when_done", "respond_timeout_ms": 60000}},
				` + tc.nodes + `,
				{"id": "slow", "type": "http.request", "params": {"method": "POST", "url": "` + slow.URL + `/slow", "request_timeout_ms": 120000}}],
				"edges": [` + tc.edges + `]}`)
			status, _, answer := f.post("POST", url, http.Header{"Content-Type": {"application/json"}}, []byte(`{"n": 1}`))
			require.Equal(t, http.StatusCreated, status, "%s: %s", name, answer)
			assert.JSONEq(t, tc.answer, string(answer), name)
			runs, err := db.ListRuns(context.Background(), store.RunFilter{Limit: 1})
			require.NoError(t, err)
			assert.Equal(t, store.RunRunning, runs[0].Status, "%s: the run goes on with its slow step", name)
			if name == "answered after a side effect" {
				steps, err := db.ListSteps(context.Background(), runs[0].ID)
				require.NoError(t, err)
				var durable []string
				for _, s := range steps {
					durable = append(durable, s.NodeID+" "+s.Status)
				}
				assert.Contains(t, durable, "fast succeeded", "the side effect the answer reports was on disk first")
			}
		}
	})
}

// TestADeletedFlowsRunsAndDeliveriesStay: deleting a flow keeps its runs
// and deliveries readable, with the flow's name and flow_deleted, refuses
// to replay them, and closes the flow's trigger URL.
func TestADeletedFlowsRunsAndDeliveriesStay(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := hooks(t, db)
		id, url := f.activeFlow(`{"name": "soon gone", "nodes": [{"id": "hook", "type": "trigger.webhook"},
			{"id": "pick", "type": "transform", "params": {"fields": {"n": "trigger.body.n"}}}], "edges": [{"from": "hook", "to": "pick"}]}`)
		status, _, body := f.post("POST", url, http.Header{"Content-Type": {"application/json"}}, []byte(`{"n": 3}`))
		require.Equal(t, http.StatusAccepted, status, "%s", body)
		var reply struct {
			RunID string `json:"run_id"`
		}
		require.NoError(t, json.Unmarshal(body, &reply))
		f.runOf(reply.RunID)

		status, _ = f.do("DELETE", "/api/v1/flows/"+id, "")
		require.Equal(t, http.StatusNoContent, status)

		run := f.runOf(reply.RunID)
		assert.Equal(t, "succeeded", run["status"])
		assert.Equal(t, "soon gone", run["flow_name"])
		assert.Equal(t, true, run["flow_deleted"])
		assert.Equal(t, map[string]any{"n": float64(3)}, stepOutput(run, "pick"), "its steps stay readable")
		_, version := f.do("GET", "/api/v1/flows/"+id+"/versions/1", "")
		assert.NotEmpty(t, version["nodes"], "the version it ran can still be drawn")

		_, list := f.do("GET", "/api/v1/runs?flow_id="+id, "")
		require.Len(t, list["runs"], 1)
		assert.Equal(t, true, list["runs"].([]any)[0].(map[string]any)["flow_deleted"])
		_, deliveries := f.do("GET", "/api/v1/deliveries?flow_id="+id, "")
		require.Len(t, deliveries["deliveries"], 1)
		assert.Equal(t, "soon gone", deliveries["deliveries"].([]any)[0].(map[string]any)["flow_name"])

		status, replay := f.do("POST", "/api/v1/runs/"+reply.RunID+"/replay", "")
		assert.Equal(t, http.StatusConflict, status)
		assert.Contains(t, replay["error"], "its flow was deleted")

		status, _, _ = f.post("POST", url, http.Header{"Content-Type": {"application/json"}}, []byte(`{"n": 4}`))
		assert.Equal(t, http.StatusNotFound, status, "the trigger URL is closed")
		_, flows := f.do("GET", "/api/v1/flows", "")
		assert.Empty(t, flows["flows"])
	})
}
