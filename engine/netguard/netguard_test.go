package netguard

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustGuard(t *testing.T, allowPrivate bool, allowed ...string) *Guard {
	t.Helper()
	g, err := New(allowPrivate, allowed)
	require.NoError(t, err)
	return g
}

func TestCheckURLRefusesEverySpelling(t *testing.T) {
	t.Parallel()
	g := mustGuard(t, false)
	tests := []struct {
		url    string
		reason string // empty: allowed
	}{
		{"http://127.0.0.1/", "loopback"},
		{"http://2130706433/", "loopback"},
		{"http://0x7f000001/", "loopback"},
		{"http://0177.0.0.1/", "loopback"},
		{"http://0x7f.0.0.1/", "loopback"},
		{"http://127.1/", "loopback"},
		{"http://127.0.1/", "loopback"},
		{"http://127.0.0.1./", "loopback"},
		{"http://[::1]/", "loopback"},
		{"http://[::ffff:127.0.0.1]/", "IPv4-mapped loopback"},
		{"http://[::ffff:7f00:1]/", "IPv4-mapped loopback"},
		{"http://[fe80::1%25eth0]/", "link-local"},
		{"http://0/", "unspecified"},
		{"http://0.0.0.0:8080/", "unspecified"},
		{"http://[::]/", "unspecified"},
		{"http://169.254.169.254/latest/meta-data/", "cloud metadata"},
		{"http://[fd00:ec2::254]/", "cloud metadata"},
		{"http://2852039166/", "cloud metadata"}, // 169.254.169.254 in decimal
		{"http://169.254.1.1/", "link-local"},
		{"http://10.1.2.3/", "private"},
		{"http://172.16.0.1/", "private"},
		{"http://192.168.1.1/", "private"},
		{"http://012.0.0.1/", "private"}, // octal 012 = 10
		{"http://[fd12:3456::1]/", "private"},
		{"http://100.64.0.1/", "carrier-grade NAT"},
		{"http://224.0.0.1/", "multicast"},
		{"http://255.255.255.255/", "broadcast"},
		{"http://[2002:7f00:1::]/", "IPv6-embedded loopback"},
		{"http://[64:ff9b::a00:1]/", "IPv6-embedded private"},
		{"http://93.184.216.34/", ""},
		{"https://example.com/", ""},
		{"http://[2606:4700::1111]/", ""},
		{"http://1.1.1.1:8080/x", ""},
		{"http://0x5db8d822/", ""}, // 93.184.216.34 in hex
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		require.NoError(t, err, tt.url)
		err = g.CheckURL(u)
		if tt.reason == "" {
			assert.NoError(t, err, tt.url)
			continue
		}
		var blocked *BlockedError
		if assert.ErrorAs(t, err, &blocked, tt.url) {
			assert.Equal(t, tt.reason, blocked.Reason, tt.url)
			assert.Contains(t, err.Error(), "HOOKFLOW_ALLOW_PRIVATE_NETWORKS", "the message says how to allow it")
		}
		assert.NoError(t, mustGuard(t, true).CheckURL(u), "allowPrivate lets %s through", tt.url)
	}
}

func TestCheckURLRefusesOtherSchemes(t *testing.T) {
	t.Parallel()
	g := mustGuard(t, true)
	for _, raw := range []string{"file:///etc/passwd", "gopher://127.0.0.1:70/", "ftp://example.com/", "http:///nohost"} {
		u, err := url.Parse(raw)
		require.NoError(t, err)
		assert.Error(t, g.CheckURL(u), raw)
	}
}

func TestAllowList(t *testing.T) {
	t.Parallel()
	g := mustGuard(t, false, "10.1.0.0/16", "192.168.5.5", "hooks.internal", "*.corp.example")
	tests := map[string]bool{
		"http://10.1.200.3/":          true,
		"http://10.2.0.1/":            false,
		"http://192.168.5.5/":         true,
		"http://192.168.5.6/":         false,
		"http://[::ffff:10.1.0.9]/":   true,
		"http://127.0.0.1/":           false,
		"http://hooks.internal/":      true,
		"http://api.corp.example/":    true,
		"http://corp.example.evil/":   true, // a name: judged when dialled
		"http://169.254.169.254/":     false,
		"http://2130706433/":          false,
		"http://api.corp.example:81/": true,
	}
	for raw, ok := range tests {
		u, _ := url.Parse(raw)
		err := g.CheckURL(u)
		assert.Equal(t, ok, err == nil, "%s: %v", raw, err)
	}
	_, err := New(false, []string{"not a host!"})
	assert.ErrorContains(t, err, "not a host!")
	_, err = New(false, []string{"10.0.0.0/33"})
	assert.Error(t, err)
}

// TestDialChecksTheAddressActuallyDialled reaches a loopback server by a
// name: CheckURL cannot know where "localhost" goes, the dialer does.
func TestDialChecksTheAddressActuallyDialled(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("inside")) }))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	byName := "http://localhost:" + port + "/"

	_, err := mustGuard(t, false).Client(5 * time.Second).Get(byName)
	var blocked *BlockedError
	require.ErrorAs(t, err, &blocked, "a name resolving to loopback is refused when dialled")
	assert.Equal(t, "loopback", blocked.Reason)

	res, err := mustGuard(t, true).Client(5 * time.Second).Get(byName)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)

	// A host name on the allow-list reaches it; the same server by address does not.
	allowed := mustGuard(t, false, "localhost").Client(5 * time.Second)
	res, err = allowed.Get(byName)
	require.NoError(t, err)
	res.Body.Close()
	_, err = allowed.Get(srv.URL)
	require.ErrorAs(t, err, &blocked)
}

func TestRedirects(t *testing.T) {
	t.Parallel()
	inside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("secret")) }))
	defer inside.Close()
	var chain *httptest.Server
	chain = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/to-inside":
			http.Redirect(w, r, inside.URL+"/", http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/hop/"):
			var n int
			fmt.Sscanf(r.URL.Path, "/hop/%d", &n)
			if n == 0 {
				_, _ = w.Write([]byte("arrived"))
				return
			}
			http.Redirect(w, r, fmt.Sprintf("/hop/%d", n-1), http.StatusFound)
		}
	}))
	defer chain.Close()
	port := chain.URL[strings.LastIndex(chain.URL, ":")+1:]
	viaName := "http://localhost:" + port

	// The first hop is allowed by name; the redirect to 127.0.0.1 is not.
	_, err := mustGuard(t, false, "localhost").Client(5 * time.Second).Get(viaName + "/to-inside")
	var blocked *BlockedError
	require.ErrorAs(t, err, &blocked, "a redirect into the private network is refused")

	open := mustGuard(t, true).Client(5 * time.Second)
	res, err := open.Get(chain.URL + "/hop/5")
	require.NoError(t, err, "five redirects are followed")
	res.Body.Close()
	_, err = open.Get(chain.URL + "/hop/6")
	require.ErrorContains(t, err, "stopped after 5 redirects")
	assert.False(t, errors.As(err, &blocked))
}

func TestParseIPv4Loose(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"2130706433": "127.0.0.1", "0x7f000001": "127.0.0.1", "0177.0.0.1": "127.0.0.1", "127.1": "127.0.0.1",
		"127.0.1": "127.0.0.1", "10.0x10.1": "10.16.0.1", "0": "0.0.0.0", "1.2.3.4": "1.2.3.4",
		"4294967295": "255.255.255.255", "4294967296": "", "256.1.1.1": "", "1.2.3.4.5": "", "08.1.1.1": "",
		"0x": "", "": "", "1..2": "", "example.com": "", "1.2.3.256": "", "1.65536": "1.1.0.0", "1.16777216": "", "1.2.65536": "", "1.65535": "1.0.255.255",
	}
	for in, want := range tests {
		got, ok := parseIPv4Loose(in)
		if want == "" {
			assert.False(t, ok, in)
			continue
		}
		require.True(t, ok, in)
		assert.Equal(t, netip.MustParseAddr(want), got, in)
	}
}

func FuzzParseIPv4Loose(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "2130706433", "0x7f.1", "0177.0.0.1", "1.2.3", "", "..."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, ok := parseIPv4Loose(s)
		if !ok {
			return
		}
		if !a.Is4() {
			t.Fatalf("%q gave a non-IPv4 address %v", s, a)
		}
		if std, err := netip.ParseAddr(s); err == nil && std != a {
			t.Fatalf("%q: loose %v, standard %v", s, a, std)
		}
	})
}
