package main

import (
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
)

// envPrefix is the prefix of every setting's environment variable: the flag
// -max-body-bytes is HOOKFLOW_MAX_BODY_BYTES.
const envPrefix = "HOOKFLOW"

// envName returns the environment variable ff reads for a flag.
func envName(flagName string) string {
	return envPrefix + "_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// ffOptions are the parse options of every command: flags first, then
// HOOKFLOW_* variables.
var ffOptions = []ff.Option{ff.WithEnvVarPrefix(envPrefix)}

// settings registers flags whose help names their variable.
type settings struct{ fs *flag.FlagSet }

func (s settings) usage(name, help string) string { return help + " (" + envName(name) + ")" }

func (s settings) String(p *string, name, value, help string) {
	s.fs.StringVar(p, name, value, s.usage(name, help))
}

func (s settings) Int(p *int, name string, value int, help string) {
	s.fs.IntVar(p, name, value, s.usage(name, help))
}

func (s settings) Bool(p *bool, name string, value bool, help string) {
	s.fs.BoolVar(p, name, value, s.usage(name, help))
}

func (s settings) Duration(p *time.Duration, name string, value time.Duration, help string) {
	s.fs.DurationVar(p, name, value, s.usage(name, help))
}

// databaseConfig is what every command that opens the database needs.
type databaseConfig struct {
	DataDir     string
	DatabaseURL string
	MaxConns    int
	LogLevel    string
	LogFormat   string
}

func (c *databaseConfig) register(s settings) {
	s.String(&c.DataDir, "data-dir", "./hookflow-data", "directory for the SQLite database and the key file")
	s.String(&c.DatabaseURL, "database-url", "", "postgres://user:pass@host/db for Postgres; empty for SQLite in the data dir")
	s.Int(&c.MaxConns, "database-max-conns", store.DefaultMaxConns, fmt.Sprintf("the most connections this process opens to Postgres (at least %d)", store.MinMaxConns))
	s.String(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	s.String(&c.LogFormat, "log-format", "text", "log format: text or json")
}

func (c *databaseConfig) storeOptions(log *slog.Logger) store.Options {
	return store.Options{URL: c.DatabaseURL, DataDir: c.DataDir, Logger: log, MaxConns: c.MaxConns}
}

// logger builds the process logger; logs go to w (stderr).
func (c *databaseConfig) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("%s: %q is not a log level", envName("log-level"), c.LogLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.LogFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("%s: %q is not text or json", envName("log-format"), c.LogFormat)
}

// serveConfig is every setting of `hookflow serve`.
type serveConfig struct {
	databaseConfig
	Addr                 string
	PublicURL            string
	AdminToken           string
	SecretKey            string
	MaxInFlight          int
	InFlightMemoryMiB    int
	MaxBodyBytes         int
	AllowPrivateNetworks bool
	AllowedHosts         string
	SlackAPIURL          string
	RunRetention         time.Duration
	AuditRetention       time.Duration
	TrustedProxies       string
	RunsPerFlow          int
	ShutdownGrace        time.Duration
	LeaseTTL             time.Duration
	ExpressionEnv        string
	PprofAddr            string
}

func (c *serveConfig) register(fs *flag.FlagSet) {
	s := settings{fs}
	s.String(&c.Addr, "addr", ":8080", "address to listen on")
	c.databaseConfig.register(s)
	s.String(&c.PublicURL, "public-url", "", "externally visible base URL, used in trigger URLs; empty means http://localhost and the port of -addr")
	s.String(&c.AdminToken, "admin-token", "", "admin API token, an owner that is no user, for automation; empty keeps the stored one, if any (`hookflow token reset` makes one)")
	s.String(&c.SecretKey, "secret-key", "", "base64 of 32 bytes that encrypts credentials; empty uses a key file in the data dir, made on first start")
	s.Int(&c.MaxInFlight, "max-in-flight", engine.DefaultMaxInFlight, "most runs this process holds at once, those waiting on the network included")
	s.Int(&c.InFlightMemoryMiB, "in-flight-memory", engine.DefaultInFlightMemory>>20,
		"MiB the runs in flight may hold, estimated from their trigger data; beyond it, runs wait in the queue")
	s.Int(&c.MaxBodyBytes, "max-body-bytes", 10<<20, "largest request body accepted; larger ones get 413")
	s.Bool(&c.AllowPrivateNetworks, "allow-private-networks", false, "let actions reach private, loopback, link-local and metadata addresses")
	s.String(&c.AllowedHosts, "allowed-hosts", "", "comma-separated host names (*.example.internal) and CIDRs that actions may reach even though they are private")
	s.String(&c.SlackAPIURL, "slack-api-url", nodes.DefaultSlackAPIURL, "base URL of Slack's Web API, for chat.postMessage")
	s.Duration(&c.RunRetention, "run-retention", 30*24*time.Hour, "how long finished runs and deliveries are kept; 0 keeps them forever")
	s.Duration(&c.AuditRetention, "audit-retention", 365*24*time.Hour, "how long audit log events are kept; 0 keeps them forever")
	s.String(&c.TrustedProxies, "trusted-proxies", "", "comma-separated IPs and CIDRs of reverse proxies whose X-Forwarded-For names the client, for login limits and the audit log")
	s.Int(&c.RunsPerFlow, "runs-per-flow", 10000, "how many finished runs (and deliveries) each flow keeps at most; 0 keeps any number")
	s.Duration(&c.ShutdownGrace, "shutdown-grace", 30*time.Second, "how long running steps may finish after SIGTERM")
	s.Duration(&c.LeaseTTL, "lease-ttl", 30*time.Second, "how long the runs of a process that stopped renewing its registration (a dead one) stay its own before another takes them over")
	s.String(&c.PprofAddr, "pprof-addr", "", "address for Go's pprof profiling endpoints, such as 127.0.0.1:6060; empty turns them off")
	s.String(&c.ExpressionEnv, "expression-env", "", "comma-separated names of environment variables that expressions may read as env.NAME")
}

// expressionEnv reads the allow-listed variables for expressions.
func (c *serveConfig) expressionEnv() map[string]string {
	env := map[string]string{}
	for _, name := range splitList(c.ExpressionEnv) {
		env[name] = os.Getenv(name)
	}
	return env
}

// check refuses settings that cannot work, naming the variable.
func (c *serveConfig) check() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("%s: %q is not host:port: %w", envName("addr"), c.Addr, err)
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s: %q is not an http(s) URL", envName("public-url"), c.PublicURL)
		}
	}
	if c.SecretKey != "" {
		key, err := base64.StdEncoding.DecodeString(c.SecretKey)
		if err != nil || len(key) != 32 {
			return fmt.Errorf("%s: must be base64 of 32 bytes (openssl rand -base64 32)", envName("secret-key"))
		}
	}
	if c.MaxInFlight < 1 {
		return fmt.Errorf("%s: must be at least 1", envName("max-in-flight"))
	}
	if c.InFlightMemoryMiB < 1 {
		return fmt.Errorf("%s: must be at least 1 (MiB)", envName("in-flight-memory"))
	}
	if c.MaxBodyBytes < 1024 {
		return fmt.Errorf("%s: must be at least 1024", envName("max-body-bytes"))
	}
	if c.MaxConns < store.MinMaxConns {
		return fmt.Errorf("%s: must be at least %d", envName("database-max-conns"), store.MinMaxConns)
	}
	if c.LeaseTTL < time.Second {
		return fmt.Errorf("%s: must be at least 1s", envName("lease-ttl"))
	}
	if c.RunRetention < 0 || c.ShutdownGrace < 0 || c.AuditRetention < 0 {
		return fmt.Errorf("%s, %s and %s must not be negative", envName("run-retention"), envName("audit-retention"), envName("shutdown-grace"))
	}
	for _, p := range c.trustedProxies() {
		if net.ParseIP(p) == nil {
			if _, _, err := net.ParseCIDR(p); err != nil {
				return fmt.Errorf("%s: %q is neither an IP address nor a CIDR range", envName("trusted-proxies"), p)
			}
		}
	}
	return nil
}

// trustedProxies lists the proxies whose X-Forwarded-For is believed.
func (c *serveConfig) trustedProxies() []string {
	var out []string
	for _, p := range strings.Split(c.TrustedProxies, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// publicURL returns the configured public URL, or one made from the listen
// address.
func (c *serveConfig) publicURL() string {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/")
	}
	host, port, _ := net.SplitHostPort(c.Addr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}
