// Package netguard keeps outbound requests made by flows away from the
// server's own network: loopback, private ranges, link-local and cloud
// metadata addresses, unless the operator allows them.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// maxRedirects is how many redirects a request follows.
const maxRedirects = 5

// BlockedError is a destination the guard refuses.
type BlockedError struct {
	Host   string
	Addr   netip.Addr
	Reason string
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("%s (%s) is a %s address, which flows may not reach; an operator can allow it with HOOKFLOW_ALLOWED_HOSTS or HOOKFLOW_ALLOW_PRIVATE_NETWORKS",
		e.Host, e.Addr, e.Reason)
}

// blockedRanges are refused with their reason; the first match names it.
var blockedRanges = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("169.254.169.254/32"), "cloud metadata"},
	{netip.MustParsePrefix("fd00:ec2::254/128"), "cloud metadata"},
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("192.0.0.0/24"), "reserved"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("fc00::/7"), "private"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// Guard decides which addresses outbound requests may reach. It holds no
// mutable state.
type Guard struct {
	allowPrivate bool
	hosts        []string // lower-case; "*.example.com" matches subdomains
	prefixes     []netip.Prefix
}

// New returns a guard. allowPrivate lets everything through; allowed lists
// host names and CIDRs (or single addresses) that may be reached although
// they are private.
func New(allowPrivate bool, allowed []string) (*Guard, error) {
	g := &Guard{allowPrivate: allowPrivate}
	for _, entry := range allowed {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		if p, err := netip.ParsePrefix(entry); err == nil {
			g.prefixes = append(g.prefixes, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(entry); err == nil {
			g.prefixes = append(g.prefixes, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		if !validHostPattern(entry) {
			return nil, fmt.Errorf("allowed host %q is neither a host name nor a CIDR", entry)
		}
		g.hosts = append(g.hosts, strings.ToLower(strings.TrimSuffix(entry, ".")))
	}
	return g, nil
}

func validHostPattern(s string) bool {
	s = strings.TrimPrefix(s, "*.")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return false
			}
		}
	}
	return true
}

// hostAllowed reports a host name on the allow-list.
func (g *Guard) hostAllowed(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, h := range g.hosts {
		if h == host || strings.HasPrefix(h, "*.") && strings.HasSuffix(host, h[1:]) {
			return true
		}
	}
	return false
}

// Blocked reports why an address is refused, or "" when it may be reached.
func (g *Guard) Blocked(addr netip.Addr) string {
	if g.allowPrivate {
		return ""
	}
	mapped := addr.Is4In6()
	addr = addr.Unmap().WithZone("")
	for _, p := range g.prefixes {
		if p.Contains(addr) {
			return ""
		}
	}
	if addr.Is4() && addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return "broadcast"
	}
	for _, r := range blockedRanges {
		if r.prefix.Contains(addr) {
			if mapped {
				return "IPv4-mapped " + r.reason
			}
			return r.reason
		}
	}
	if addr.Is6() {
		// 6to4 (2002::/16) and NAT64 (64:ff9b::/96) carry an IPv4 address.
		b := addr.As16()
		var embedded netip.Addr
		switch {
		case b[0] == 0x20 && b[1] == 0x02:
			embedded = netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})
		case netip.MustParsePrefix("64:ff9b::/96").Contains(addr):
			embedded = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
		}
		if embedded.IsValid() {
			if reason := g.Blocked(embedded); reason != "" {
				return "IPv6-embedded " + reason
			}
		}
	}
	return ""
}

// CheckURL refuses, before anything is dialled, a URL that is not http or
// https, has no host, or names a refused address in any spelling. Host names
// pass; they are checked when dialled.
func (g *Guard) CheckURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: only http and https URLs may be requested", u.Scheme+"://")
	}
	host := u.Hostname()
	if host == "" {
		return errors.New("the URL has no host")
	}
	if g.hostAllowed(host) {
		return nil
	}
	addr, ok := ParseHost(host)
	if !ok {
		return nil
	}
	if reason := g.Blocked(addr); reason != "" {
		return &BlockedError{Host: host, Addr: addr, Reason: reason}
	}
	return nil
}

// ParseHost reads a URL host that is an IP address, however it is spelled:
// IPv6 (with or without brackets and zone), and IPv4 as inet_aton reads it,
// which is how browsers and curl read 2130706433, 0x7f000001, 0177.0.0.1
// and 127.1.
func ParseHost(host string) (netip.Addr, bool) {
	host = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSuffix(host, "]"), "["), ".")
	if a, err := netip.ParseAddr(host); err == nil {
		return a.WithZone(""), true
	}
	return parseIPv4Loose(host)
}

// parseIPv4Loose reads one to four dot-separated numbers in decimal, octal
// (leading 0) or hex (0x); the last number fills the remaining bytes.
func parseIPv4Loose(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) == 0 || len(parts) > 4 {
		return netip.Addr{}, false
	}
	nums := make([]uint64, len(parts))
	for i, p := range parts {
		n, ok := parseIPv4Part(p)
		if !ok {
			return netip.Addr{}, false
		}
		nums[i] = n
	}
	last := len(nums) - 1
	for _, n := range nums[:last] {
		if n > 0xff {
			return netip.Addr{}, false
		}
	}
	if nums[last] >= 1<<(8*(4-last)) {
		return netip.Addr{}, false
	}
	v := nums[last]
	for i, n := range nums[:last] {
		v |= n << (8 * (3 - i))
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

func parseIPv4Part(p string) (uint64, bool) {
	base := 10
	switch {
	case p == "":
		return 0, false
	case len(p) > 2 && (p[:2] == "0x" || p[:2] == "0X"):
		base, p = 16, p[2:]
	case len(p) > 1 && p[0] == '0':
		base, p = 8, p[1:]
	}
	n, err := strconv.ParseUint(p, base, 32)
	if err != nil {
		return 0, false
	}
	return n, true
}

// DialContext dials like net.Dialer, refusing in the dialer's Control hook
// any connection whose actual remote address is refused: names that
// resolve to private addresses and DNS rebinding are caught there. A host
// name on the allow-list may reach any address.
func (g *Guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if !g.allowPrivate && !g.hostAllowed(host) {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("dial %s: %w", address, err)
			}
			if reason := g.Blocked(ap.Addr()); reason != "" {
				return &BlockedError{Host: host, Addr: ap.Addr().Unmap(), Reason: reason}
			}
			return nil
		}
	}
	return d.DialContext(ctx, network, addr)
}

// Client returns an HTTP client that dials through the guard, never through
// a proxy (which would dial for it), follows at most 5 redirects and checks
// each hop's URL.
func (g *Guard) Client(timeout time.Duration) *http.Client {
	transport := &http.Transport{
		Proxy:             nil,
		DialContext:       g.DialContext,
		ForceAttemptHTTP2: true,
		// Thousands of runs may call one API at once: keep their
		// connections rather than dial anew for each call.
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			return g.CheckURL(req.URL)
		},
	}
}
