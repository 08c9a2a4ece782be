package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"path/filepath"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/hookflow/hookflow/accounts"
	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/engine/consumers"
	"github.com/hookflow/hookflow/engine/ingress"
	"github.com/hookflow/hookflow/engine/metrics"
	"github.com/hookflow/hookflow/engine/vault"
	"github.com/hookflow/hookflow/nodes"
	"github.com/hookflow/hookflow/store"
)

func serveCommand(stdout, stderr io.Writer) *ffcli.Command {
	var cfg serveConfig
	fs := flag.NewFlagSet("hookflow serve", flag.ContinueOnError)
	cfg.register(fs)
	return &ffcli.Command{
		Name:       "serve",
		ShortUsage: "hookflow serve [flags]",
		ShortHelp:  "Serve the editor, the API and the webhook ingress (the default command)",
		LongHelp:   "Every flag may also be set by the environment variable named in its help.",
		FlagSet:    fs,
		Options:    ffOptions,
		Exec: func(ctx context.Context, args []string) error {
			if len(args) > 0 {
				return usageError("serve takes no arguments, got %q", args)
			}
			return serve(ctx, &cfg, stdout, stderr)
		},
	}
}

// openStore opens and migrates the database, returning the migrations it
// applied. m, if not nil, observes the store's commit batches.
func openStore(ctx context.Context, cfg *databaseConfig, log *slog.Logger, m *metrics.Metrics) (*store.DB, []int64, error) {
	opts := cfg.storeOptions(log)
	if m != nil {
		opts.OnCommitBatch = m.CommitBatch
	}
	db, err := store.Open(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	applied, err := db.Migrate(ctx)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	if len(applied) > 0 {
		log.Info("applied migrations", "dialect", db.Dialect(), "versions", applied)
	}
	return db, applied, nil
}

// open is openStore for the maintenance commands, logging to stderr.
func (c *databaseConfig) open(ctx context.Context, stderr io.Writer) (*store.DB, []int64, error) {
	log, err := c.logger(stderr)
	if err != nil {
		return nil, nil, usageError("%v", err)
	}
	return openStore(ctx, c, log, nil)
}

func serve(ctx context.Context, cfg *serveConfig, stdout, stderr io.Writer) error {
	if err := cfg.check(); err != nil {
		return usageError("%v", err)
	}
	log, err := cfg.logger(stderr)
	if err != nil {
		return usageError("%v", err)
	}
	// One set of metrics for the whole process, served at GET /metrics.
	m := metrics.New()
	db, _, err := openStore(ctx, &cfg.databaseConfig, log, m)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := m.CollectQueue(db, log); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}

	if err := api.EnsureAdminToken(ctx, db, cfg.AdminToken); err != nil {
		return err
	}
	key, created, err := vault.LoadKey(cfg.SecretKey, cfg.DataDir)
	if err != nil {
		return usageError("%s: %v", envName("secret-key"), err)
	}
	if created {
		log.Warn("made a new key for credentials; back it up, and set HOOKFLOW_SECRET_KEY to it when several instances share a database",
			"file", filepath.Join(cfg.DataDir, vault.KeyFile))
	}
	sealer, err := vault.New(key)
	if err != nil {
		return err
	}
	registry := nodes.NewRegistry()
	nodes.RegisterBuiltins(registry)
	credentials := engine.NewCredentials(db, registry, sealer)
	if err := credentials.CheckKey(ctx); err != nil {
		log.Error("credentials cannot be opened: flows that use them will fail until the right key is set", "error", err)
	}
	services, err := actionServices(cfg.AllowPrivateNetworks, cfg.AllowedHosts, cfg.SlackAPIURL, credentials)
	if err != nil {
		return usageError("%s: %v", envName("allowed-hosts"), err)
	}
	defer services.Databases.Close()
	defer services.Brokers.Close()
	// Counted around the guarded transport, whose dialer still checks
	// every address.
	services.HTTP.Transport = m.Transport(services.HTTP.Transport)
	services.Tokens = m.LLMTokens
	// Resume URLs are signed with a key derived from the credentials key,
	// which every instance sharing the database has.
	links := engine.NewResumeLinks(key)
	runner := engine.New(engine.Options{
		Store: db, Registry: registry, Logger: log, MaxInFlight: cfg.MaxInFlight, InFlightMemory: int64(cfg.InFlightMemoryMiB) << 20,
		Env: cfg.expressionEnv(), LeaseTTL: cfg.LeaseTTL,
		Services: services, Metrics: m, Links: links,
	})
	if err := m.CollectInFlight(runner.InFlight); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	flows := engine.NewFlows(db, registry)
	hooks := ingress.New(ingress.Options{Store: db, Engine: runner, Credentials: credentials, Logger: log, PublicURL: cfg.publicURL()})
	flows.OnChange(hooks.Forget)
	scheduler := engine.NewScheduler(db, runner, log)
	flows.OnChange(scheduler.Sync)
	brokers := consumers.New(consumers.Options{
		Store: db, Engine: runner, Ingress: hooks, Services: services, Metrics: m, Logger: log,
		MaxBodyBytes: cfg.MaxBodyBytes,
	})
	flows.OnChange(brokers.Sync)
	pruner := engine.NewPruner(db, log, engine.Retention{MaxAge: cfg.RunRetention, RunsPerFlow: cfg.RunsPerFlow, AuditMaxAge: cfg.AuditRetention})

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	publicURL := cfg.PublicURL
	if publicURL == "" {
		publicURL = (&serveConfig{Addr: ln.Addr().String()}).publicURL()
	}
	hooks.SetPublicURL(publicURL)
	links.SetBase(publicURL)
	people := accounts.New(db, accounts.Options{PublicURL: publicURL, Logger: log})
	setupToken, err := people.EnsureSetupInvitation(ctx)
	if err != nil {
		ln.Close()
		return fmt.Errorf("make the setup link: %w", err)
	}
	app, err := api.New(api.Options{
		Store:          db,
		Registry:       registry,
		Engine:         runner,
		Flows:          flows,
		Credentials:    credentials,
		Ingress:        hooks,
		Logger:         log,
		PublicURL:      publicURL,
		MaxBodyBytes:   cfg.MaxBodyBytes,
		Metrics:        m,
		Consumers:      brokers,
		Accounts:       people,
		TrustedProxies: cfg.trustedProxies(),
	})
	if err != nil {
		ln.Close()
		return err
	}

	if cfg.PprofAddr != "" {
		go servePprof(cfg.PprofAddr, log)
	}
	if err := runner.Start(); err != nil {
		ln.Close()
		return fmt.Errorf("start the engine: %w", err)
	}
	scheduler.Start()
	brokers.Start()
	pruner.Start()
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()
	log.Info("serving", "addr", ln.Addr().String(), "public_url", publicURL, "database", db.Dialect(), "version", version)
	setupURL := ""
	if setupToken != "" {
		setupURL = people.JoinURL(setupToken)
	}
	printBanner(stdout, publicURL, ln.Addr().String(), cfg.AdminToken != "", setupURL)

	var serveErr error
	select {
	case serveErr = <-served:
	case <-ctx.Done():
	}
	// Two phases: stop taking webhooks (they get 503 from now on, and
	// /readyz too) and stop firing schedules; then give the steps under way
	// the grace period. Runs go back to the queue as their steps end, and
	// whatever is left stays queued for the next start.
	log.Info("shutting down", "grace", cfg.ShutdownGrace)
	grace, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	// The engine first: once webhooks and /readyz answer 503, no further
	// step starts.
	runner.Drain()
	hooks.Drain()
	brokers.Stop()
	scheduler.Stop()
	pruner.Stop()
	runner.Stop(grace)
	if serveErr == nil {
		// Requests still open (a long poll, a webhook awaiting its run's
		// answer) get what is left of the grace period.
		if err := app.ShutdownWithContext(grace); err != nil {
			log.Error("stop serving", "error", err)
		}
		if err := <-served; err != nil && !errors.Is(err, net.ErrClosed) {
			serveErr = err
		}
	}
	if serveErr != nil {
		return fmt.Errorf("serve: %w", serveErr)
	}
	log.Info("stopped")
	return nil
}

// servePprof serves Go's profiling endpoints on their own listener, away
// from the public port.
func servePprof(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	log.Info("serving pprof", "addr", addr)
	if err := http.ListenAndServe(addr, mux); err != nil {
		log.Error("pprof", "error", err)
	}
}

// printBanner tells the person who started the server where to go and how
// to log in. While there is no user, it prints the link that creates the
// owner: valid once, for a week, and made anew at each start until used.
func printBanner(w io.Writer, publicURL, addr string, tokenFromEnv bool, setupURL string) {
	fmt.Fprintf(w, "Hookflow %s is listening on %s\n", version, addr)
	fmt.Fprintf(w, "  Editor:  %s/\n", publicURL)
	fmt.Fprintf(w, "  API:     %s/api/v1\n", publicURL)
	if setupURL != "" {
		fmt.Fprintf(w, "  Create the owner account (link valid once, for 7 days): %s\n", setupURL)
	}
	if tokenFromEnv {
		fmt.Fprintf(w, "  Admin token: the value of %s\n", envName("admin-token"))
	}
}

func migrateCommand(stdout, stderr io.Writer) *ffcli.Command {
	var cfg databaseConfig
	fs := flag.NewFlagSet("hookflow migrate", flag.ContinueOnError)
	cfg.register(settings{fs})
	return &ffcli.Command{
		Name:       "migrate",
		ShortUsage: "hookflow migrate [flags]",
		ShortHelp:  "Apply pending database migrations (serve also does this on start)",
		FlagSet:    fs,
		Options:    ffOptions,
		Exec: func(ctx context.Context, _ []string) error {
			db, applied, err := cfg.open(ctx, stderr)
			if err != nil {
				return err
			}
			defer db.Close()
			current, _, err := db.SchemaVersion(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s schema at version %d (applied now: %d)\n", db.Dialect(), current, len(applied))
			return nil
		},
	}
}

func tokenCommand(stdout, stderr io.Writer) *ffcli.Command {
	var cfg databaseConfig
	fs := flag.NewFlagSet("hookflow token reset", flag.ContinueOnError)
	cfg.register(settings{fs})
	reset := &ffcli.Command{
		Name:       "reset",
		ShortUsage: "hookflow token reset [flags]",
		ShortHelp:  "Replace the admin token with a new one and print it",
		FlagSet:    fs,
		Options:    ffOptions,
		Exec: func(ctx context.Context, _ []string) error {
			db, _, err := cfg.open(ctx, stderr)
			if err != nil {
				return err
			}
			defer db.Close()
			token, err := api.ResetAdminToken(ctx, db)
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, token)
			return nil
		},
	}
	return &ffcli.Command{
		Name:        "token",
		ShortUsage:  "hookflow token reset [flags]",
		ShortHelp:   "Manage the admin API token",
		Subcommands: []*ffcli.Command{reset},
		Exec:        func(context.Context, []string) error { return flag.ErrHelp },
	}
}
