// Command cdp is the customer data platform's one binary.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/granarycdp/cdp/api"
	"github.com/granarycdp/cdp/ingest"
	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/store"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = ""

func main() {
	// The supervisor re-executes this binary to host the engine.
	store.RunEngineChildIfRequested()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "cdp:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr, "")
		return errors.New("a command is required")
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "help", "-h", "--help":
		topic := ""
		if len(args) > 0 {
			topic = args[0]
		}
		usage(stdout, topic)
		return nil
	case "version":
		fmt.Fprintf(stdout, "cdp %s\nembedded engine %s@%s (ClickHouse 26.7)\n", buildVersion(), store.EngineLibPackage, store.EngineLibVersion)
		return nil
	case "serve", "migrate", "engine", "demo", "bench":
	default:
		usage(stderr, "")
		return fmt.Errorf("unknown command %q", cmd)
	}
	var cfg config
	rest, err := cfg.parse(cmd, args, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("%s: unexpected arguments %q", cmd, rest)
	}
	logger, err := cfg.logger(stderr)
	if err != nil {
		return err
	}
	switch cmd {
	case "serve":
		return serve(ctx, cfg, logger, stderr)
	case "migrate":
		return migrate(ctx, cfg, logger, stdout)
	case "demo":
		return demoCommand(ctx, cfg, logger, stderr)
	case "bench":
		return benchCommand(ctx, cfg, logger, stdout)
	default:
		return engineOnly(ctx, cfg, logger, stdout)
	}
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" {
			if dirty {
				rev += "-dirty"
			}
			return "dev-" + rev
		}
	}
	return "dev"
}

// clickhouse is the platform's connection and, in embedded mode, the engine.
type clickhouse struct {
	db     *store.DB
	engine *store.Engine // nil with a DSN
}

func (c *clickhouse) Close() error {
	err := c.db.Close()
	if c.engine != nil {
		err = errors.Join(err, c.engine.Close())
	}
	return err
}

func startEngine(ctx context.Context, cfg config, logger *slog.Logger, metrics *store.Metrics) (*store.Engine, error) {
	opts := store.DefaultEngineOptions()
	opts.LibPath = cfg.EngineLib
	opts.DataDir = cfg.DataDir
	opts.TCPPort, opts.HTTPPort = cfg.EngineTCPPort, cfg.EngineHTTPPort
	opts.HungAfter = time.Duration(cfg.EngineHungSeconds) * time.Second // 0: the default
	opts.Logger, opts.Metrics = logger, metrics
	// No BI user (CDP_BI_USER empty, or cdp bench): the engine has the
	// platform's user only.
	bi, where, err := cfg.biUser()
	if err != nil {
		return nil, err
	}
	opts.BI = bi
	if opts.Cluster, err = cfg.engineCluster(); err != nil {
		return nil, err
	}
	e, err := store.StartEngine(ctx, opts)
	if err == nil && bi.Name != "" {
		logger.Info("BI tools: sign in to the embedded engine as the read-only BI user (docs/bi.md)",
			"native", e.TCPAddr(), "http", "http://"+e.HTTPAddr(), "user", bi.Name, "password", where, "database", bi.Databases[0])
	}
	var busy *store.PortInUseError
	if errors.As(err, &busy) {
		setting := "--engine-tcp-port / CDP_ENGINE_TCP_PORT"
		if busy.Protocol == "http" {
			setting = "--engine-http-port / CDP_ENGINE_HTTP_PORT"
		}
		return nil, fmt.Errorf("%w: stop what holds it or choose another port with %s (0 picks a free one)", err, setting)
	}
	return e, err
}

// openClickHouse connects to the configured server, or starts the embedded
// engine and connects to it, and waits until it answers.
func openClickHouse(ctx context.Context, cfg config, logger *slog.Logger, metrics *store.Metrics) (*clickhouse, error) {
	var c clickhouse
	dsn := cfg.ClickHouseDSN
	sharded, err := cfg.sharded()
	if err != nil {
		return nil, err
	}
	if dsn == "" && !sharded {
		if cfg.Cluster != "" {
			return nil, errors.New("CDP_CLICKHOUSE_CLUSTER needs CDP_CLICKHOUSE_DSN: the embedded engine is a single node")
		}
		e, err := startEngine(ctx, cfg, logger, metrics)
		if err != nil {
			return nil, err
		}
		c.engine, dsn = e, e.DSN(store.DefaultDatabase)
	}
	var db *store.DB
	if sharded {
		db, err = openSharded(cfg, logger)
	} else {
		db, err = store.Open(dsn, logger)
	}
	if err != nil {
		if c.engine != nil {
			c.engine.Close()
		}
		return nil, err
	}
	if !sharded {
		db.Cluster = cfg.Cluster
	}
	c.db = db
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := db.WaitReachable(wait)
	if err != nil {
		c.Close()
		return nil, err
	}
	logger.Info("ClickHouse connected", "server_version", v, "database", db.Database, "embedded", c.engine != nil)
	return &c, nil
}

func migrate(ctx context.Context, cfg config, logger *slog.Logger, stdout io.Writer) error {
	ch, err := openClickHouse(ctx, cfg, logger, store.NewMetrics(nil))
	if err != nil {
		return err
	}
	defer ch.Close()
	if cfg.FromSingle {
		return moveToCluster(ctx, ch.db, logger, stdout)
	}
	applied, err := applyMigrations(ctx, ch.db, logger)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintf(stdout, "schema is current (version %d)\n", schema.Latest())
		return nil
	}
	fmt.Fprintf(stdout, "applied migrations %v; schema version %d\n", applied, schema.Latest())
	return nil
}

func engineOnly(ctx context.Context, cfg config, logger *slog.Logger, stdout io.Writer) error {
	e, err := startEngine(ctx, cfg, logger, store.NewMetrics(nil))
	if err != nil {
		return err
	}
	defer e.Close()
	// The password stays in its file: a terminal's scroll-back or a
	// captured log must not hold it.
	fmt.Fprintf(stdout, "embedded ClickHouse running; Ctrl-C stops it\n  native: %s  (clickhouse-client --host 127.0.0.1 --port %s --user %s --password \"$(cat %s)\")\n"+
		"  HTTP:   http://%s\n  DSN:    clickhouse://%s:<password in %s>@%s/%s\n",
		e.TCPAddr(), port(e.TCPAddr()), store.PlatformUser, e.PasswordFile(), e.HTTPAddr(), store.PlatformUser, e.PasswordFile(), e.TCPAddr(), store.DefaultDatabase)
	<-ctx.Done()
	logger.Info("stopping the engine")
	return nil
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// serve runs the platform until ctx ends. It shuts down in the reverse
// order of start (the defers): the HTTP server stops accepting and waits
// for its handlers, the goroutines serve started (metrics listener, demo
// loader) end, ingest closes (ingestParts.Close: pipeline, opt-out scan,
// loops, writer, spool), then the demo corp's WeCom stand-in, which the
// campaign loop may call until ingest closed, and ClickHouse last.
func serve(ctx context.Context, cfg config, logger *slog.Logger, banner io.Writer) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := store.NewMetrics(reg)

	ch, err := openClickHouse(ctx, cfg, logger, metrics)
	if err != nil {
		return err
	}
	defer ch.Close()
	creds, err := prepareDatabase(ctx, cfg, ch.db, logger)
	if err != nil {
		return err
	}
	demo := cfg.Demo == "auto"
	if cfg.Demo != "off" && !demo {
		return fmt.Errorf("CDP_DEMO=%q: use auto or off", cfg.Demo)
	}
	// Without a configured WeCom the demo brings its own corp: callback
	// credentials and a stand-in for its API.
	var fallback *ingest.WeCom
	if demo {
		corp, err := startDemoCorp(cfg, logger)
		if err != nil {
			return err
		}
		if corp != nil {
			defer corp.Close()
			fallback = corp.wecom
		}
	}
	in, err := startIngest(ctx, cfg, ch.db, metrics, logger, fallback)
	if err != nil {
		return err
	}
	defer func() {
		if err := in.Close(); err != nil {
			logger.Error("ingest did not close cleanly", "err", err)
		}
	}()
	limits, err := rateLimits(cfg, reg)
	if err != nil {
		return err
	}
	if fallback != nil && !limits.WeComCallback.Off() {
		// The limit guards a real corp's API quota; the demo corp's
		// callbacks all come from its loader on this machine, and its API
		// is a local stand-in.
		logger.Info("demo: WeCom callbacks of the demo corp are not rate limited", "limit", limits.WeComCallback.String())
		limits.WeComCallback = api.RateLimit{}
	}
	sb, err := newSidebar(cfg, ch.db, in)
	if err != nil {
		return err
	}
	srv := api.New(api.Options{DB: ch.db, Credentials: creds, Collector: in.collector, WeCom: in.wecom, Identity: in.identity, Segments: in.segments, Campaigns: in.campaigns, Journeys: in.journeys, WeComOps: in.wecomOps,
		Sidebar: sb, RateLimits: limits, Version: buildVersion(), Gatherer: reg, MetricsToken: cfg.MetricsToken, Logger: logger})
	var afterStart func(ctx context.Context, base string)
	if demo {
		afterStart = func(ctx context.Context, base string) { serveDemo(ctx, cfg, ch.db, creds, in, base, banner, logger) }
	}
	return serveHTTP(ctx, cfg, srv, ch, afterStart, banner, logger)
}

// prepareDatabase applies the migrations and loads the API credentials,
// creating the configured ones and, on a fresh installation, the first
// admin token.
func prepareDatabase(ctx context.Context, cfg config, db *store.DB, logger *slog.Logger) (*api.Credentials, error) {
	if _, err := applyMigrations(ctx, db, logger); err != nil {
		return nil, err
	}
	creds, err := api.NewCredentials(ctx, db)
	if err != nil {
		return nil, err
	}
	if err := creds.Bootstrap(ctx, cfg.AdminToken, cfg.WriteKey); err != nil {
		return nil, err
	}
	if len(creds.List(false)) == 0 {
		if err := firstAdminToken(ctx, cfg, creds, logger); err != nil {
			return nil, err
		}
	}
	return creds, nil
}

// serveHTTP serves the API (and the metrics on their own address) until
// ctx ends or a listener fails. Once the API listens it runs
// afterStart(ctx, base URL), when set, in the background and announces
// where it serves. The goroutines it
// starts belong to a group it waits for before returning: nothing it
// started uses ingest after serve closes it.
func serveHTTP(ctx context.Context, cfg config, srv *api.Server, ch *clickhouse, afterStart func(ctx context.Context, base string), banner io.Writer, logger *slog.Logger) error {
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var bg errgroup.Group
	if cfg.MetricsAddr != "" {
		bg.Go(func() error {
			err := srv.ServeMetrics(ctx, cfg.MetricsAddr, func(addr net.Addr) {
				logger.Info("metrics served on their own address", "url", "http://"+addr.String()+"/metrics", "token", cfg.MetricsToken != "")
			})
			if err != nil {
				stop(fmt.Errorf("CDP_METRICS_ADDR: %w", err))
			}
			return nil
		})
	}
	err := srv.Serve(ctx, cfg.HTTPAddr, func(addr net.Addr) {
		base := "http://" + addr.String()
		if afterStart != nil {
			bg.Go(func() error { afterStart(ctx, base); return nil })
		}
		announce(cfg, ch, base, banner, logger)
	})
	cause := context.Cause(ctx)
	stop(nil)
	_ = bg.Wait() // its goroutines report through stop and the log
	if err == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return err
}

// announce logs and prints where the platform serves.
func announce(cfg config, ch *clickhouse, base string, banner io.Writer, logger *slog.Logger) {
	attrs := []any{"api", base + "/api/v1", "openapi", base + "/api/openapi.json", "health", base + "/healthz", "metrics", metricsWhere(cfg, base)}
	if ch.engine != nil {
		attrs = append(attrs, "clickhouse_native", ch.engine.TCPAddr(), "clickhouse_http", "http://"+ch.engine.HTTPAddr(), "database", ch.db.Database)
	}
	logger.Info("cdp serving", attrs...)
	fmt.Fprintf(banner, "\n  Granary CDP is up\n  API:      %s/api/v1  (OpenAPI: %s/api/openapi.json)\n  Health:   %s/healthz\n", base, base, base)
	if ch.engine != nil && cfg.BIUser != "" {
		fmt.Fprintf(banner, "  BI:       ClickHouse native %s, HTTP http://%s, database %s, user %s, password in %s (docs/bi.md)\n",
			ch.engine.TCPAddr(), ch.engine.HTTPAddr(), schema.BIDatabase(ch.db.Database), cfg.BIUser, biPasswordWhere(cfg))
	}
	fmt.Fprintln(banner)
}

// metricsWhere says where /metrics is served, for the log.
func metricsWhere(cfg config, base string) string {
	switch {
	case cfg.MetricsAddr != "":
		return "on CDP_METRICS_ADDR " + cfg.MetricsAddr
	case cfg.MetricsToken != "":
		return base + "/metrics with the bearer token CDP_METRICS_TOKEN"
	}
	return "off (set CDP_METRICS_TOKEN or CDP_METRICS_ADDR)"
}

// firstAdminToken gives a fresh installation without CDP_ADMIN_TOKEN an
// admin token, written to <data-dir>/admin-token (mode 0600) so that the
// first sign-in needs no set-up.
func firstAdminToken(ctx context.Context, cfg config, creds *api.Credentials, logger *slog.Logger) error {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return err
	}
	path := filepath.Join(cfg.DataDir, "admin-token")
	secret := api.NewSecret("cdp_at_")
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return fmt.Errorf("write first admin token: %w", err)
	}
	p := api.Principal{ID: "tok_first_admin", Name: "first admin (data-dir/admin-token)", Role: api.RoleAdmin}
	if err := creds.PutToken(ctx, p, secret, "first-run"); err != nil {
		return err
	}
	logger.Warn("no API token existed: created an admin token; sign in with it, then create personal tokens and revoke it", "file", path)
	return nil
}

// serveDemo loads the demo data into this platform when its database has
// no events yet.
func serveDemo(ctx context.Context, cfg config, db *store.DB, creds *api.Credentials, in *ingestParts, base string, out io.Writer, logger *slog.Logger) {
	empty, err := databaseEmpty(ctx, db)
	if err != nil || !empty {
		if err != nil {
			logger.Error("demo: cannot tell whether the database is empty", "err", err)
		}
		return
	}
	key, sourceKeys, err := demoWriteKeys(ctx, creds, cfg.WriteKey)
	if err == nil {
		err = loadDemo(ctx, base, key, sourceKeys, in.wecom, cfg.DemoHouseholds, uint64(cfg.DemoSeed), out, logger)
	}
	if err == nil {
		err = in.waitIngested(ctx)
	}
	if err == nil {
		err = demoSegments(ctx, in.segments, logger)
	}
	// The demand world after the household load, not beside it: its
	// insert and detection pass would compete with the load's callbacks
	// for the engine. Before the campaigns: the demo's truth file,
	// written last, says the whole demo is in.
	if err == nil {
		_, err = demoDemand(ctx, db, in.demand, in.demandRun, uint64(cfg.DemoSeed), time.Now(), logger)
	}
	if err == nil {
		err = demoCampaign(ctx, cfg, in.campaigns, in.segments, logger)
	}
	if err != nil && ctx.Err() == nil {
		logger.Error("demo data not loaded", "err", err)
	}
}

func demoCommand(ctx context.Context, cfg config, logger *slog.Logger, out io.Writer) error {
	if cfg.WriteKey == "" {
		return errors.New(`demo: --write-key / CDP_WRITE_KEY is required: a server key, since the demo posts orders and chat archives (create one with POST /api/v1/write-keys {"scope":"server", ...})`)
	}
	w, err := wecomConfig(cfg)
	if err != nil {
		return err
	}
	if w == nil {
		logger.Warn("WeCom not configured: contact events are skipped (set CDP_WECOM_CORP_ID, CDP_WECOM_TOKEN, CDP_WECOM_AES_KEY as the platform has them)")
		w = &ingest.WeCom{}
	}
	return loadDemo(ctx, strings.TrimRight(cfg.DemoURL, "/"), cfg.WriteKey, nil, w, cfg.DemoHouseholds, uint64(cfg.DemoSeed), out, logger)
}
