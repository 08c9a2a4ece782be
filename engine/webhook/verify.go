package webhook

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hookflow/hookflow/nodes"
)

// Header reads request headers, case-insensitively. http.Header is one.
type Header interface {
	Get(name string) string
}

// Request is what a signature covers.
type Request struct {
	// URL is the URL the sender called, as it knows it: the public URL
	// with the path and the query.
	URL    string
	Header Header
	Body   []byte
}

// Secret is a verification credential's data.
type Secret struct {
	// Secret is the signing secret, token or public key.
	Secret string
	// Username and Password are for basic auth.
	Username string
	Password string
}

// VerifyError is a request that failed verification. Reason is for the
// delivery record, where the flow's owner reads it; the sender is told only
// that the request was not authenticated.
type VerifyError struct{ Reason string }

func (e *VerifyError) Error() string { return "signature verification failed: " + e.Reason }

func fail(format string, args ...any) error {
	return &VerifyError{Reason: fmt.Sprintf(format, args...)}
}

// Verify checks a request against a trigger's verification settings, at
// time now.
func Verify(p *nodes.VerifyParams, secret Secret, req *Request, now time.Time) error {
	tolerance := time.Duration(p.ToleranceS) * time.Second
	switch p.Scheme {
	case nodes.SchemeGitHub:
		return verifyGitHub(secret.Secret, req)
	case nodes.SchemeStripe:
		return verifyStripe(secret.Secret, req, now, tolerance)
	case nodes.SchemeSlack:
		return verifySlack(secret.Secret, req, now, tolerance)
	case nodes.SchemeShopify:
		return verifyShopify(secret.Secret, req)
	case nodes.SchemeStandardWebhooks:
		return verifyStandardWebhooks(secret.Secret, req, now, tolerance)
	case nodes.SchemeTwilio:
		return verifyTwilio(secret.Secret, req)
	case nodes.SchemeGitLab:
		return verifyToken(secret.Secret, req.Header.Get("X-Gitlab-Token"), "X-Gitlab-Token")
	case nodes.SchemeDiscord:
		return verifyDiscord(secret.Secret, req, now, tolerance)
	case nodes.SchemeHMAC:
		return verifyHMAC(p, secret.Secret, req, now, tolerance)
	case nodes.SchemeHeader:
		return verifyToken(secret.Secret, req.Header.Get(p.Header), p.Header)
	case nodes.SchemeBasic:
		return verifyBasic(secret, req)
	}
	return fail("unknown scheme %q", p.Scheme)
}

func mac(newHash func() hash.Hash, key []byte, parts ...[]byte) []byte {
	m := hmac.New(newHash, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// equal compares in constant time.
func equal(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// fresh checks a signed Unix timestamp against the tolerance.
func fresh(timestamp int64, now time.Time, tolerance time.Duration) error {
	skew := now.Sub(time.Unix(timestamp, 0))
	if skew < 0 {
		skew = -skew
	}
	if skew > tolerance {
		return fail("timestamp is %s from now; the tolerance is %s", skew.Round(time.Second), tolerance)
	}
	return nil
}

func parseUnix(s string) (int64, error) {
	t, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || t <= 0 || t > math.MaxInt64/int64(time.Second) {
		return 0, fail("timestamp %q is not a Unix time", s)
	}
	return t, nil
}

// verifyGitHub: X-Hub-Signature-256 is "sha256=" and the hex HMAC-SHA256 of
// the body (docs.github.com, "Validating webhook deliveries").
func verifyGitHub(secret string, req *Request) error {
	header := req.Header.Get("X-Hub-Signature-256")
	sig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return fail("no X-Hub-Signature-256 header with a sha256= signature")
	}
	got, err := hex.DecodeString(sig)
	if err != nil || !equal(got, mac(sha256.New, []byte(secret), req.Body)) {
		return fail("X-Hub-Signature-256 does not match the body")
	}
	return nil
}

// StripeHeader is a parsed Stripe-Signature header: "t=…,v1=…[,v1=…]".
type StripeHeader struct {
	Timestamp  int64
	Signatures [][]byte // v1 only; v0 (test mode's legacy scheme) is ignored
}

// ParseStripeHeader parses a Stripe-Signature header.
func ParseStripeHeader(header string) (StripeHeader, error) {
	var h StripeHeader
	for _, item := range strings.Split(header, ",") {
		key, value, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			continue
		}
		switch key {
		case "t":
			t, err := parseUnix(value)
			if err != nil {
				return h, err
			}
			h.Timestamp = t
		case "v1":
			sig, err := hex.DecodeString(value)
			if err != nil {
				continue
			}
			h.Signatures = append(h.Signatures, sig)
		}
	}
	if h.Timestamp == 0 {
		return h, fail("no t= in Stripe-Signature")
	}
	if len(h.Signatures) == 0 {
		return h, fail("no v1= signature in Stripe-Signature")
	}
	return h, nil
}

// verifyStripe: HMAC-SHA256 of "t.body" with the whsec_ secret used as it
// is; any v1 may match, since Stripe signs with every secret it still
// honours while one is rotated (docs.stripe.com, "Check the webhook
// signatures").
func verifyStripe(secret string, req *Request, now time.Time, tolerance time.Duration) error {
	h, err := ParseStripeHeader(req.Header.Get("Stripe-Signature"))
	if err != nil {
		return err
	}
	want := mac(sha256.New, []byte(secret), []byte(strconv.FormatInt(h.Timestamp, 10)), []byte("."), req.Body)
	matched := 0
	for _, sig := range h.Signatures {
		if equal(sig, want) {
			matched = 1
		}
	}
	if matched == 0 {
		return fail("no v1 signature in Stripe-Signature matches the body")
	}
	return fresh(h.Timestamp, now, tolerance)
}

// verifySlack: X-Slack-Signature is "v0=" and the hex HMAC-SHA256 of
// "v0:timestamp:body" (api.slack.com, "Verifying requests from Slack").
func verifySlack(secret string, req *Request, now time.Time, tolerance time.Duration) error {
	ts := req.Header.Get("X-Slack-Request-Timestamp")
	timestamp, err := parseUnix(ts)
	if err != nil {
		return err
	}
	sig, ok := strings.CutPrefix(req.Header.Get("X-Slack-Signature"), "v0=")
	if !ok {
		return fail("no X-Slack-Signature header with a v0= signature")
	}
	got, err := hex.DecodeString(sig)
	if err != nil || !equal(got, mac(sha256.New, []byte(secret), []byte("v0:"+strings.TrimSpace(ts)+":"), req.Body)) {
		return fail("X-Slack-Signature does not match the body")
	}
	return fresh(timestamp, now, tolerance)
}

// verifyShopify: X-Shopify-Hmac-Sha256 is the base64 HMAC-SHA256 of the
// body (shopify.dev, "Verify webhooks").
func verifyShopify(secret string, req *Request) error {
	got, err := base64.StdEncoding.DecodeString(req.Header.Get("X-Shopify-Hmac-Sha256"))
	if err != nil || len(got) == 0 || !equal(got, mac(sha256.New, []byte(secret), req.Body)) {
		return fail("X-Shopify-Hmac-Sha256 does not match the body")
	}
	return nil
}

// ParseStandardSignatures parses a webhook-signature header: a space-
// separated list of "v1,<base64>" entries; other versions are skipped.
func ParseStandardSignatures(header string) [][]byte {
	var sigs [][]byte
	for _, entry := range strings.Fields(header) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		if b, err := base64.StdEncoding.DecodeString(sig); err == nil {
			sigs = append(sigs, b)
		}
	}
	return sigs
}

// verifyStandardWebhooks: the Standard Webhooks spec (also Svix's): the
// key is the base64 after "whsec_"; the signed content is "id.timestamp.body";
// webhook-* headers, or svix-* ones.
func verifyStandardWebhooks(secret string, req *Request, now time.Time, tolerance time.Duration) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return fail("the credential's secret is not base64 after whsec_")
	}
	header := func(name string) string {
		if v := req.Header.Get("webhook-" + name); v != "" {
			return v
		}
		return req.Header.Get("svix-" + name)
	}
	id, ts := header("id"), header("timestamp")
	if id == "" {
		return fail("no webhook-id header")
	}
	timestamp, err := parseUnix(ts)
	if err != nil {
		return err
	}
	want := mac(sha256.New, key, []byte(id+"."+strings.TrimSpace(ts)+"."), req.Body)
	matched := 0
	for _, sig := range ParseStandardSignatures(header("signature")) {
		if equal(sig, want) {
			matched = 1
		}
	}
	if matched == 0 {
		return fail("no v1 signature in webhook-signature matches the body")
	}
	return fresh(timestamp, now, tolerance)
}

// verifyTwilio: X-Twilio-Signature is the base64 HMAC-SHA1 of the URL
// followed by the form parameters sorted by name, each name then value
// (twilio.com, "Webhooks security"). A JSON request carries bodySHA256 in
// its URL instead: the URL alone is signed, and the body must hash to it.
// Like Twilio's own libraries, the URL is tried with and without the
// scheme's default port, which some proxies add or drop.
func verifyTwilio(authToken string, req *Request) error {
	got, err := base64.StdEncoding.DecodeString(req.Header.Get("X-Twilio-Signature"))
	if err != nil || len(got) == 0 {
		return fail("no X-Twilio-Signature header")
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		return fail("the request URL does not parse")
	}
	var params string
	if bodyHash := u.Query().Get("bodySHA256"); bodyHash != "" {
		sum := sha256.Sum256(req.Body)
		if !equal([]byte(strings.ToLower(bodyHash)), []byte(hex.EncodeToString(sum[:]))) {
			return fail("the body does not match bodySHA256")
		}
	} else {
		form, err := url.ParseQuery(string(req.Body))
		if err != nil {
			return fail("the body is not form data")
		}
		params = twilioParams(form)
	}
	matched := 0
	for _, candidate := range twilioURLs(u) {
		if equal(got, mac(sha1.New, []byte(authToken), []byte(candidate+params))) {
			matched = 1
		}
	}
	if matched == 0 {
		return fail("X-Twilio-Signature does not match the URL and parameters")
	}
	return nil
}

// twilioParams concatenates form parameters as Twilio signs them: sorted by
// name, each name followed by its value; a repeated name's distinct values
// sorted.
func twilioParams(form url.Values) string {
	names := make([]string, 0, len(form))
	for name := range form {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		values := append([]string(nil), form[name]...)
		sort.Strings(values)
		for i, v := range values {
			if i > 0 && v == values[i-1] {
				continue
			}
			b.WriteString(name)
			b.WriteString(v)
		}
	}
	return b.String()
}

// twilioURLs returns the URL with and without its scheme's default port.
func twilioURLs(u *url.URL) []string {
	with, without := *u, *u
	without.Host = u.Hostname()
	if u.Port() == "" {
		port := "443"
		if u.Scheme == "http" {
			port = "80"
		}
		with.Host = u.Host + ":" + port
	}
	return []string{without.String(), with.String()}
}

// verifyToken compares a header with the secret: GitLab's X-Gitlab-Token,
// or any header the trigger names.
func verifyToken(secret, got, header string) error {
	if got == "" {
		return fail("no %s header", header)
	}
	if !equal([]byte(got), []byte(secret)) {
		return fail("%s does not match", header)
	}
	return nil
}

// verifyDiscord: an Ed25519 signature (hex, X-Signature-Ed25519) of the
// timestamp (X-Signature-Timestamp) followed by the body, with the
// application's public key (discord.com/developers, "Security and
// Authorization" of interactions).
func verifyDiscord(publicKey string, req *Request, now time.Time, tolerance time.Duration) error {
	key, err := hex.DecodeString(strings.TrimSpace(publicKey))
	if err != nil || len(key) != ed25519.PublicKeySize {
		return fail("the credential's secret is not a hex Ed25519 public key")
	}
	sig, err := hex.DecodeString(req.Header.Get("X-Signature-Ed25519"))
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fail("no X-Signature-Ed25519 header with a signature")
	}
	ts := req.Header.Get("X-Signature-Timestamp")
	timestamp, err := parseUnix(ts)
	if err != nil {
		return err
	}
	message := append([]byte(strings.TrimSpace(ts)), req.Body...)
	if !ed25519.Verify(key, message, sig) {
		return fail("X-Signature-Ed25519 does not match the body")
	}
	return fresh(timestamp, now, tolerance)
}

// verifyHMAC is the generic scheme: a header holds the HMAC of the signed
// string, encoded and prefixed as the trigger says.
func verifyHMAC(p *nodes.VerifyParams, secret string, req *Request, now time.Time, tolerance time.Duration) error {
	header := req.Header.Get(p.Header)
	sig, ok := strings.CutPrefix(strings.TrimSpace(header), p.Prefix)
	if header == "" || !ok {
		return fail("no %s header with a signature", p.Header)
	}
	var got []byte
	var err error
	if p.Encoding == "base64" {
		got, err = base64.StdEncoding.DecodeString(sig)
	} else {
		got, err = hex.DecodeString(strings.ToLower(sig))
	}
	if err != nil {
		return fail("%s is not %s", p.Header, p.Encoding)
	}
	var ts string
	if p.TimestampHeader != "" {
		ts = strings.TrimSpace(req.Header.Get(p.TimestampHeader))
		timestamp, err := parseUnix(ts)
		if err != nil {
			return err
		}
		if err := fresh(timestamp, now, tolerance); err != nil {
			return err
		}
	}
	newHash := map[string]func() hash.Hash{"sha1": sha1.New, "sha256": sha256.New, "sha512": sha512.New}[p.Algorithm]
	if newHash == nil {
		return fail("unknown algorithm %q", p.Algorithm)
	}
	if !equal(got, mac(newHash, []byte(secret), SignedString(p.SignedString, ts, req.Body))) {
		return fail("%s does not match the body", p.Header)
	}
	return nil
}

// SignedString builds what the generic scheme signs: the template with
// {timestamp} and {body} in place.
func SignedString(template, timestamp string, body []byte) []byte {
	var out []byte
	rest := template
	for rest != "" {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			out = append(out, rest...)
			break
		}
		out = append(out, rest[:i]...)
		rest = rest[i:]
		switch {
		case strings.HasPrefix(rest, "{body}"):
			out = append(out, body...)
			rest = rest[len("{body}"):]
		case strings.HasPrefix(rest, "{timestamp}"):
			out = append(out, timestamp...)
			rest = rest[len("{timestamp}"):]
		default:
			out = append(out, '{')
			rest = rest[1:]
		}
	}
	return out
}

// verifyBasic checks HTTP basic authentication.
func verifyBasic(secret Secret, req *Request) error {
	encoded, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Basic ")
	if !ok {
		return fail("no Authorization: Basic header")
	}
	decoded, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encoded))
	if err != nil {
		return fail("Authorization is not base64")
	}
	user, pass, _ := strings.Cut(string(decoded), ":")
	// Both comparisons run, whatever the first one finds.
	userOK := equal([]byte(user), []byte(secret.Username))
	passOK := equal([]byte(pass), []byte(secret.Password))
	if !userOK || !passOK {
		return fail("the username or password does not match")
	}
	return nil
}

// IsVerifyError reports whether err is a verification failure.
func IsVerifyError(err error) bool {
	var v *VerifyError
	return errors.As(err, &v)
}
