package nodes

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// Services are what action nodes reach the world through. The server builds
// them once; every run shares them.
type Services struct {
	// Credentials opens stored credentials by name.
	Credentials CredentialOpener
	// HTTP is the outbound client, behind the SSRF guard.
	HTTP *http.Client
	// CheckURL refuses a destination the SSRF guard would refuse, before any
	// request is made, so the error is clear; nil allows every URL.
	CheckURL func(u *url.URL) error
	// Refused reports an error of HTTP that is the SSRF guard refusing the
	// address actually dialled (a redirect, or a name resolving to a
	// private address): final, unlike other failures to connect.
	Refused func(err error) bool
	// Dial opens the connections of nodes that speak other protocols than
	// HTTP (SMTP), behind the same SSRF guard; nil dials without a guard.
	Dial DialFunc
	// Databases holds the connection pools of db.write and db.query, one
	// per credential, which dial through the guard as well.
	Databases *Databases
	// Brokers holds the connections of the message broker kinds, one per
	// credential, which dial through the guard as well.
	Brokers *BrokerConnections
	// SlackAPIURL is the base of Slack's Web API, https://slack.com/api.
	SlackAPIURL string
	// Tokens counts the tokens a chat completion of llm.chat used, as its
	// answer reported them, under the model that answered; nil counts
	// nothing. serve points it at the hookflow_llm_tokens_total metric.
	Tokens func(model string, prompt, completion int64)
}

// DialFunc opens a network connection, as net.Dialer.DialContext does.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// DialContext dials through the services' guarded dialer, or a plain one
// where there is none.
func (s *Services) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if s != nil && s.Dial != nil {
		return s.Dial(ctx, network, addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// refused reports an error that is the SSRF guard refusing the address
// dialled.
func (s *Services) refused(err error) bool {
	return s != nil && s.Refused != nil && s.Refused(err)
}

// CredentialOpener opens a stored credential.
type CredentialOpener interface {
	Open(ctx context.Context, name string) (*Credential, error)
}

// ErrNoCredential is returned by a CredentialOpener for a name that is not
// stored.
var ErrNoCredential = errors.New("no such credential")

// Credential is an opened credential: its data in the clear, for use inside
// the server only.
type Credential struct {
	Name string
	Type string
	Data map[string]any
	// Secrets are the values of the type's secret fields, which run records
	// must never show.
	Secrets []string
}

// String returns a text field of the credential's data.
func (c *Credential) String(field string) string {
	s, _ := c.Data[field].(string)
	return s
}

// SecretValues lists the values of a credential's secret fields.
func (t *CredentialType) SecretValues(data map[string]any) []string {
	var out []string
	for _, f := range t.Fields {
		if s, ok := data[f.Name].(string); ok && f.Secret && s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Credential opens the credential a node's params name, checks that it is of
// one of the types the node takes, and adds its secrets to those the run's
// records redact. A missing or mistyped credential is a permanent failure:
// trying again will not help.
func (in *Input) Credential(ctx context.Context, name string, types ...string) (*Credential, error) {
	if in.Services == nil || in.Services.Credentials == nil {
		return nil, Permanent(fmt.Errorf("credential %q: credentials are not available here", name))
	}
	cred, err := in.Services.Credentials.Open(ctx, name)
	if errors.Is(err, ErrNoCredential) {
		return nil, Permanent(fmt.Errorf("credential %q does not exist", name))
	}
	if err != nil {
		return nil, fmt.Errorf("credential %q: %w", name, err)
	}
	in.Secrets.Add(cred.Secrets...)
	if len(types) > 0 && !slices.Contains(types, cred.Type) {
		return nil, Permanent(fmt.Errorf("credential %q is of type %s; this node takes %s", name, cred.Type, strings.Join(types, " or ")))
	}
	return cred, nil
}

// minSecretLen is the shortest value redacted: shorter ones would blank out
// ordinary text wherever it happens to occur.
const minSecretLen = 4

// Redacted replaces a secret in run records.
const Redacted = "[redacted]"

// Secrets collects the secret values a run has used, in every form they may
// take in a record: as they are, escaped inside JSON and inside URLs, and,
// for a secret that is itself a URL (a Slack or Discord webhook URL), its
// token-like path segments and password. It is safe for concurrent use.
type Secrets struct {
	mu       sync.Mutex
	values   map[string]bool
	replacer *strings.Replacer
}

// Add records secret values.
func (s *Secrets) Add(values ...string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range values {
		for _, form := range secretForms(v) {
			if len(form) < minSecretLen || s.values[form] {
				continue
			}
			if s.values == nil {
				s.values = map[string]bool{}
			}
			s.values[form] = true
			s.replacer = nil
		}
	}
}

// secretForms lists the strings under which a secret may show in a record.
func secretForms(v string) []string {
	forms := []string{v, jsonEscape(v), url.QueryEscape(v), url.PathEscape(v)}
	if u, err := url.Parse(v); err == nil && u.Host != "" {
		if p, ok := u.User.Password(); ok {
			forms = append(forms, p, url.QueryEscape(p))
		}
		for _, seg := range strings.Split(u.Path, "/") {
			// Webhook URLs carry their token as a long path segment;
			// short segments such as "api" or "services" are not secret.
			if len(seg) >= 16 {
				forms = append(forms, seg)
			}
		}
		if u.RawQuery != "" {
			forms = append(forms, u.RawQuery)
		}
	}
	return forms
}

// jsonEscape is v as it appears inside a JSON string made by encoding/json.
func jsonEscape(v string) string {
	var b strings.Builder
	for _, r := range v {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '<' || r == '>' || r == '&' || r < 0x20 || r == '\u2028' || r == '\u2029':
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Redact replaces every secret in text.
func (s *Secrets) Redact(text string) string {
	r := s.redactor()
	if r == nil || text == "" {
		return text
	}
	return r.Replace(text)
}

// RedactJSON replaces every secret inside JSON data. The secrets are
// replaced in their JSON-escaped form too, so the result stays valid JSON.
func (s *Secrets) RedactJSON(data []byte) []byte {
	r := s.redactor()
	if r == nil || len(data) == 0 {
		return data
	}
	return []byte(r.Replace(string(data)))
}

func (s *Secrets) redactor() *strings.Replacer {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.values) == 0 {
		return nil
	}
	if s.replacer == nil {
		// Longest first, so a secret containing another is replaced whole.
		forms := make([]string, 0, len(s.values))
		for v := range s.values {
			forms = append(forms, v)
		}
		slices.SortFunc(forms, func(a, b string) int { return len(b) - len(a) })
		pairs := make([]string, 0, 2*len(forms))
		for _, v := range forms {
			pairs = append(pairs, v, Redacted)
		}
		s.replacer = strings.NewReplacer(pairs...)
	}
	return s.replacer
}
