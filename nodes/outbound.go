package nodes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Limits of outbound answers.
const (
	// maxResponseBytes is the most of an answer's body an action reads;
	// a longer text or JSON answer fails the step, since outputs are kept
	// whole (and capped at 4 MiB as JSON).
	maxResponseBytes = 3 << 20
	// maxBinaryBytes is how much of a binary answer is kept, as base64.
	maxBinaryBytes = 1 << 20
	// errorBodyChars is how much of a failed answer an error message quotes.
	errorBodyChars = 300
	userAgent      = "Hookflow"
)

// response is an outbound answer, read.
type response struct {
	status int
	header http.Header
	body   []byte
	// truncated is set when the body was longer than was read.
	truncated bool
}

// send makes an outbound request on behalf of a step: through the guarded
// client, after the SSRF guard's check of the URL, with the step's
// Idempotency-Key. It reads up to limit bytes of the answer. Failures to
// reach the other side are retryable, except a destination the guard
// refuses, which is final.
func send(ctx context.Context, in *Input, req *http.Request, limit int64) (*response, error) {
	if in.Services == nil || in.Services.HTTP == nil {
		return nil, Permanent(errors.New("outbound requests are not available here"))
	}
	if check := in.Services.CheckURL; check != nil {
		if err := check(req.URL); err != nil {
			return nil, Permanent(err)
		}
	}
	if req.Header.Get("Idempotency-Key") == "" && in.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", in.IdempotencyKey)
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", userAgent)
	}
	resp, err := in.Services.HTTP.Do(req.WithContext(ctx))
	if err != nil {
		if in.Services.refused(err) {
			return nil, Permanent(unwrapURLError(err))
		}
		return nil, fmt.Errorf("%s %s: %w", req.Method, redactedURL(req.URL), unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", req.Method, redactedURL(req.URL), err)
	}
	r := &response{status: resp.StatusCode, header: resp.Header, body: body}
	if int64(len(body)) > limit {
		r.body, r.truncated = body[:limit], true
	}
	return r, nil
}

// unwrapURLError drops the *url.Error wrapper, whose message repeats the
// URL the caller already names.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redactedURL is a URL fit for an error message: without user info.
func redactedURL(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

// statusError is the failure an answer's status means: 429 waits as the
// sender asks and retries, 5xx retries, any other status is final. what
// names the request in the message; detail is the sender's own account of
// the failure, if it gave one.
func statusError(what string, r *response, detail string) error {
	if detail == "" {
		detail = snippet(r.body)
	}
	err := fmt.Errorf("%s: %d %s", what, r.status, http.StatusText(r.status))
	if detail != "" {
		err = fmt.Errorf("%w: %s", err, detail)
	}
	switch {
	case r.status == http.StatusTooManyRequests:
		if after, ok := retryAfter(r.header, time.Now()); ok {
			return RetryAfter(after, err)
		}
		return err
	case r.status >= 500:
		return err
	default:
		return Permanent(err)
	}
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		return waitOf(secs, time.Second)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// maxHeaderWait bounds a wait read from a header, far above any the
// executor keeps to, so the conversion cannot overflow.
const maxHeaderWait = 24 * time.Hour

// waitOf is n units of time, from a header: a number that is negative, not
// a number or infinite is no wait at all.
func waitOf(n float64, unit time.Duration) (time.Duration, bool) {
	if !(n >= 0) || math.IsInf(n, 1) {
		return 0, false
	}
	return time.Duration(min(n*float64(unit), float64(maxHeaderWait))), true
}

// snippet is the start of a body, for an error message.
func snippet(body []byte) string {
	s := strings.TrimSpace(strings.ToValidUTF8(string(body), "�"))
	if len([]rune(s)) > errorBodyChars {
		s = string([]rune(s)[:errorBodyChars]) + "…"
	}
	return s
}

// jsonRequest is a POST of v as JSON.
func jsonRequest(ctx context.Context, target string, v any) (*http.Request, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, Permanent(fmt.Errorf("encode message: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(data))
	if err != nil {
		return nil, Permanent(fmt.Errorf("request: %w", err))
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	return req, nil
}

// postJSON sends msg as JSON to target on behalf of a step, and reads up
// to limit bytes of the answer.
func postJSON(ctx context.Context, in *Input, target string, msg any, limit int64) (*response, error) {
	req, err := jsonRequest(ctx, target, msg)
	if err != nil {
		return nil, err
	}
	return send(ctx, in, req, limit)
}

// redactedError is an error whose message has a secret taken out. It
// unwraps to the original, so Permanent, RetryAfter and context errors
// still steer the executor.
type redactedError struct {
	err  error
	text string
}

func (e *redactedError) Error() string { return e.text }
func (e *redactedError) Unwrap() error { return e.err }

// hideSecret takes each secret, in each form it may take in a URL or JSON, out
// of err's message: for a credential that is, or is part of, the URL a
// request names in its errors. Run records redact credentials anyway;
// this keeps them out of errors that reach logs first.
func hideSecret(err error, secrets ...string) error {
	if err == nil {
		return err
	}
	var s Secrets
	s.Add(secrets...)
	text := s.Redact(err.Error())
	if text == err.Error() {
		return err
	}
	return &redactedError{err: err, text: text}
}
