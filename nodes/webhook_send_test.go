package nodes

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/engine/expression"
)

// TestStandardSignatureReferenceVector signs the test vector of the
// Standard Webhooks reference libraries (github.com/standard-webhooks).
func TestStandardSignatureReferenceVector(t *testing.T) {
	t.Parallel()
	sig, err := StandardSignature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	require.NoError(t, err)
	assert.Equal(t, Signature{Timestamp: "1614265330", Value: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}, sig)
	_, err = StandardSignature("whsec_not base64!", "msg", time.Now(), nil)
	assert.ErrorContains(t, err, "not whsec_ followed by base64")
}

// receiver answers webhooks with scripted statuses and keeps what came.
type receiver struct {
	mu       sync.Mutex
	statuses []int
	got      []*http.Request
	bodies   [][]byte
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	status := http.StatusOK
	if len(r.got) < len(r.statuses) {
		status = r.statuses[len(r.got)]
	}
	r.got, r.bodies = append(r.got, req), append(r.bodies, body)
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, `{"received": true}`)
}

func TestWebhookSend(t *testing.T) {
	t.Parallel()
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	creds := dbCreds{
		"signing": {Name: "signing", Type: CredentialSecret, Data: map[string]any{"secret": secret}, Secrets: []string{secret}},
		"plain":   {Name: "plain", Type: CredentialSecret, Data: map[string]any{"secret": "s3cret"}, Secrets: []string{"s3cret"}},
		"bad":     {Name: "bad", Type: CredentialSecret, Data: map[string]any{"secret": "not base64!"}, Secrets: []string{"not base64!"}},
	}
	for _, tc := range []struct {
		name     string
		params   string
		attempt  int
		statuses []int
		wantErr  string
		final    bool
		retryIn  time.Duration
	}{
		{name: "delivered", params: `{"credential": "signing"}`, attempt: 1},
		{name: "hmac in a header", params: `{"credential": "plain", "signing": "hmac-sha256", "signature_header": "X-Sig"}`, attempt: 1},
		{name: "not signed", params: `{"signing": "none"}`, attempt: 1},
		{name: "a failure waits as the schedule says", params: `{"credential": "signing"}`, attempt: 4, statuses: []int{500},
			wantErr: "the receiver answered 500", retryIn: 2 * time.Hour},
		{name: "a 4xx is retried too, as Svix does", params: `{"credential": "signing"}`, attempt: 1, statuses: []int{400},
			wantErr: "the receiver answered 400", retryIn: 5 * time.Second},
		{name: "410 stops", params: `{"credential": "signing"}`, attempt: 2, statuses: []int{410},
			wantErr: "410 Gone: it takes no more webhooks", final: true},
		{name: "the schedule's end is final", params: `{"credential": "signing", "retry_schedule_ms": [10, 20]}`, attempt: 3,
			statuses: []int{503}, wantErr: "gave up after 3 attempts", final: true},
		{name: "a secret that is not whsec_ base64", params: `{"credential": "bad"}`, attempt: 1,
			wantErr: "not whsec_ followed by base64", final: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &receiver{statuses: tc.statuses}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			node := build(t, KindWebhookSend, `{"url": "`+srv.URL+`/hooks", "body": {"type": "order.paid", "id": "{{ input.id }}"}, `+tc.params[1:])
			in := &Input{
				Scope:    &expression.Scope{Input: map[string]any{"id": 7}, Run: expression.RunInfo{Attempt: tc.attempt}},
				Logger:   slog.New(slog.DiscardHandler),
				Services: &Services{Credentials: creds, HTTP: srv.Client()}, Secrets: &Secrets{}, IdempotencyKey: "hf-0123abcd",
			}
			result, err := node.Run(context.Background(), in)
			if !checkFailure(t, err, tc.wantErr, tc.final, tc.retryIn) {
				assert.Equal(t, tc.retryIn != 0, IsScheduled(err), "a schedule's wait is the node's own")
				assert.NotContains(t, err.Error(), "s3cret")
				return
			}
			require.Len(t, rec.got, 1)
			req, body := rec.got[0], rec.bodies[0]
			assert.JSONEq(t, `{"type": "order.paid", "id": 7}`, string(body))
			assert.Equal(t, map[string]any{"status": 200, "id": "msg_0123abcd", "attempt": tc.attempt, "body": map[string]any{"received": true}}, result.Output)
			switch {
			case req.Header.Get("webhook-signature") != "":
				assert.Equal(t, "msg_0123abcd", req.Header.Get("webhook-id"), "the same id in every attempt")
				ts, err := strconv.ParseInt(req.Header.Get("webhook-timestamp"), 10, 64)
				require.NoError(t, err)
				assert.WithinDuration(t, time.Now(), time.Unix(ts, 0), time.Minute, "signed now")
				want, err := StandardSignature(secret, "msg_0123abcd", time.Unix(ts, 0), body)
				require.NoError(t, err)
				assert.Equal(t, want.Value, req.Header.Get("webhook-signature"))
			case req.Header.Get("X-Sig") != "":
				m := hmac.New(sha256.New, []byte("s3cret"))
				m.Write(body)
				assert.Equal(t, hex.EncodeToString(m.Sum(nil)), req.Header.Get("X-Sig"))
			default:
				assert.Equal(t, "msg_0123abcd", req.Header.Get("Idempotency-Key"))
			}
		})
	}
}

func TestWebhookSendParams(t *testing.T) {
	t.Parallel()
	for params, want := range map[string]string{
		`{"url": "https://x.example", "body": {}}`:                                                                         "credential: is required to sign with standard-webhooks",
		`{"url": "ftp://x.example", "body": {}, "signing": "none"}`:                                                        "url: must start with http:// or https://",
		`{"url": "https://x.example", "body": {}, "credential": "c", "signing": "hmac-sha256", "signature_header": "a b"}`: `signature_header: "a b" is not a header name`,
		`{"url": "https://x.example", "body": {}, "credential": "c", "retry_schedule_ms": [-1]}`:                           "retry_schedule_ms[0]",
	} {
		assert.Contains(t, buildErrors(t, KindWebhookSend, params).Error(), want, params)
	}
}
