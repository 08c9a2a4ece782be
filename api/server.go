// Package api serves Hookflow over HTTP with fiber: the REST API under
// /api/v1, health checks, and the embedded web editor. Handlers stay thin:
// they decode, call engine or store, and encode.
package api

import (
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"

	"github.com/hookflow/hookflow/accounts"
	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/engine/consumers"
	"github.com/hookflow/hookflow/engine/ingress"
	"github.com/hookflow/hookflow/engine/metrics"
	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
)

// Options are what the server needs.
type Options struct {
	Store    store.Store
	Registry *nodes.Registry
	// Engine runs flows: test runs, replays and cancellations go to it.
	Engine *engine.Engine
	// Flows saves flows; the ingress and the scheduler follow its changes.
	Flows       *engine.Flows
	Credentials *engine.Credentials
	// Ingress takes requests to trigger URLs.
	Ingress *ingress.Ingress
	Logger  *slog.Logger
	// PublicURL is the externally visible base URL, used in trigger URLs.
	PublicURL string
	// MaxBodyBytes bounds request bodies; larger ones get 413.
	MaxBodyBytes int
	// Metrics, when set, is served at GET /metrics, without
	// authentication, and counts the requests to trigger URLs.
	Metrics *metrics.Metrics
	// Consumers, when set, run the broker triggers: their states show in
	// /readyz and on each flow's trigger.
	Consumers *consumers.Consumers
	// Accounts keeps users, sessions, tokens and the audit log; nil makes
	// one over Store.
	Accounts *accounts.Service
	// TrustedProxies are the addresses (IPs or CIDR ranges) of reverse
	// proxies whose X-Forwarded-For names the client: the address that
	// login limits and the audit log see.
	TrustedProxies []string
}

type server struct {
	store       store.Store
	registry    *nodes.Registry
	flows       *engine.Flows
	engine      *engine.Engine
	credentials *engine.Credentials
	ingress     *ingress.Ingress
	metrics     *metrics.Metrics
	consumers   *consumers.Consumers
	log         *slog.Logger
	publicURL   string
	maxBody     int
	auth        *authenticator
	accounts    *accounts.Service
	// secureCookies marks the session cookie Secure when the server is
	// reached over https.
	secureCookies   bool
	nodeTypes       []byte
	credentialTypes []byte
	openAPI         []byte
}

// New builds the fiber app with every route.
func New(opts Options) (*fiber.App, error) {
	if opts.Store == nil || opts.Registry == nil || opts.Engine == nil || opts.Flows == nil || opts.Credentials == nil || opts.Ingress == nil {
		return nil, errors.New("api: Store, Registry, Engine, Flows, Credentials and Ingress are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &server{
		store:         opts.Store,
		registry:      opts.Registry,
		flows:         opts.Flows,
		engine:        opts.Engine,
		credentials:   opts.Credentials,
		ingress:       opts.Ingress,
		metrics:       opts.Metrics,
		consumers:     opts.Consumers,
		log:           opts.Logger,
		publicURL:     strings.TrimRight(opts.PublicURL, "/"),
		maxBody:       opts.MaxBodyBytes,
		auth:          &authenticator{store: opts.Store},
		accounts:      opts.Accounts,
		secureCookies: strings.HasPrefix(opts.PublicURL, "https://"),
	}
	if s.accounts == nil {
		s.accounts = accounts.New(opts.Store, accounts.Options{PublicURL: opts.PublicURL, Logger: opts.Logger})
	}
	if s.maxBody <= 0 {
		s.maxBody = 10 << 20
	}
	var err error
	if s.nodeTypes, err = nodeTypesJSON(opts.Registry); err != nil {
		return nil, err
	}
	if s.credentialTypes, err = credentialTypesJSON(opts.Registry); err != nil {
		return nil, err
	}
	if s.openAPI, err = OpenAPIDocument(opts.Registry); err != nil {
		return nil, err
	}

	bodyLimit := max(s.maxBody, engine.MaxFlowBytes+64<<10)
	app := fiber.New(fiber.Config{
		AppName: "hookflow",
		// Values from a request (params, headers, body) are copies, not
		// views of fasthttp's buffers, which the next request reuses: the
		// ingress keeps hook keys in its cache, and the committer may
		// read a body after a handler stopped waiting.
		Immutable:             true,
		ErrorHandler:          s.handleError,
		BodyLimit:             bodyLimit,
		DisableStartupMessage: true,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           2 * time.Minute,
		// Behind a trusted proxy, the client is the first address of
		// X-Forwarded-For; otherwise the connection's peer.
		EnableTrustedProxyCheck: true,
		TrustedProxies:          opts.TrustedProxies,
		ProxyHeader:             fiber.HeaderXForwardedFor,
		EnableIPValidation:      true,
	})
	app.Use(requestid.New())
	app.Use(s.logRequests)
	app.Use(recover.New(recover.Config{
		EnableStackTrace: true,
		StackTraceHandler: func(c *fiber.Ctx, r any) {
			s.log.ErrorContext(c.UserContext(), "panic serving request",
				"request_id", requestID(c), "method", c.Method(), "path", c.Path(), "panic", r, "stack", stack())
		},
	}))

	app.Get("/healthz", s.healthz)
	app.Get("/readyz", s.readyz)
	if opts.Metrics != nil {
		// Like the health checks, open to whoever reaches the port: keep
		// it off the public internet (docs/metrics.md).
		app.Get("/metrics", adaptor.HTTPHandler(opts.Metrics.Handler()))
	}
	app.All("/hooks/:key", s.hook)
	app.All("/hooks/:key/*", s.hook)
	// A link in a message is opened with GET; a service calls back with
	// POST or PUT.
	app.Get("/resume/:token", s.resume)
	app.Post("/resume/:token", s.resume)
	app.Put("/resume/:token", s.resume)

	// Logging in and accepting an invitation are the API calls without
	// credentials; they are routed before the group, whose middleware
	// would refuse them.
	for _, r := range publicRoutes(s) {
		app.Add(r.method, "/api/v1"+r.path, r.handler)
	}
	// Asked who it is without credentials, before anyone logs in, the
	// editor is told no one (200); with any, the group authenticates.
	app.Get("/api/v1/session", s.anonymousSession)
	v1 := app.Group("/api/v1", s.auth.middleware)
	for _, r := range s.apiRoutes() {
		if r.method == fiber.MethodGet {
			// As fiber's Get does, HEAD too.
			v1.Head(r.path, authorize(r.need), r.handler)
		}
		v1.Add(r.method, r.path, authorize(r.need), r.handler)
	}
	// Anything else under /api/v1 is a JSON 404, after authentication, so the
	// API's shape is not revealed to strangers.
	v1.Use(func(c *fiber.Ctx) error { return fiber.ErrNotFound })

	editor, err := embeddedEditor()
	if err != nil {
		return nil, err
	}
	if err := mountWeb(app, editor); err != nil {
		return nil, err
	}
	return app, nil
}

// logRequests writes one slog line per request. It answers errors itself,
// through the app's error handler, so the logged status is the one sent.
func (s *server) logRequests(c *fiber.Ctx) error {
	start := time.Now()
	if err := c.Next(); err != nil {
		if herr := c.App().Config().ErrorHandler(c, err); herr != nil {
			_ = c.SendStatus(fiber.StatusInternalServerError)
		}
	}
	status := c.Response().StatusCode()
	level := slog.LevelInfo
	if status >= fiber.StatusInternalServerError {
		level = slog.LevelError
	}
	path := c.Path()
	if strings.HasPrefix(path, "/hooks/") {
		// Trigger URLs are secrets of a sort, and many: log them by route,
		// at debug level unless they fail. Refusing them while shutting
		// down is no failure.
		path = "/hooks/:key"
		if level == slog.LevelInfo || (status == fiber.StatusServiceUnavailable && s.ingress.Draining()) {
			level = slog.LevelDebug
		}
	} else if path == "/metrics" && level == slog.LevelInfo {
		// Prometheus scrapes every few seconds, for ever.
		level = slog.LevelDebug
	}
	if !s.log.Enabled(c.UserContext(), level) {
		return nil
	}
	s.log.Log(c.UserContext(), level, "request",
		"method", c.Method(), "path", path, "status", status,
		"duration_ms", float64(time.Since(start).Microseconds())/1000, "request_id", requestID(c))
	return nil
}

func requestID(c *fiber.Ctx) string {
	id, _ := c.Locals(requestid.ConfigDefault.ContextKey).(string)
	return id
}
