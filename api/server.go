// Package api is the platform's HTTP server: ingest endpoints (/v1, write
// keys), the management API (/api, bearer tokens with roles), health,
// metrics and the OpenAPI document.
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/granarycdp/cdp/analytics"
	"github.com/granarycdp/cdp/campaigns"
	"github.com/granarycdp/cdp/demand"
	"github.com/granarycdp/cdp/identity"
	"github.com/granarycdp/cdp/ingest"
	"github.com/granarycdp/cdp/journeys"
	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/segments"
	"github.com/granarycdp/cdp/sidebar"
	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/web"
	"github.com/granarycdp/cdp/wecomops"
)

//go:embed openapi.json
var openAPIDoc []byte

// Options configure a Server.
type Options struct {
	DB          *store.DB
	Credentials *Credentials
	// Collector takes ingest calls (/v1); nil leaves them out.
	Collector *ingest.Collector
	// WeCom verifies and decrypts /wecom/callback; nil answers 404.
	WeCom *ingest.WeCom
	// Identity serves profiles, merges and erasure; nil leaves them out.
	Identity *identity.Service
	// Segments serves estimates and segment definitions; nil leaves them out.
	Segments *segments.Store
	// Campaigns serves offers, campaigns, results and consents; nil
	// leaves them out.
	Campaigns *campaigns.Service
	// Journeys serves journeys (it needs Campaigns); nil leaves them out.
	Journeys *journeys.Service
	// WeComOps serves the corp tag library and tag syncs; nil leaves them
	// out.
	WeComOps *wecomops.Service
	// Sidebar serves the staff sidebar's session, signatures and cards
	// (/api/sidebar); nil leaves them out.
	Sidebar *sidebar.Service
	// RateLimits limit calls per write key and per API token (zero: none).
	RateLimits RateLimits
	// EstimateTimeout is the deadline of an estimate or overlap
	// (DefaultEstimateTimeout when 0).
	EstimateTimeout time.Duration
	// AnalyticsTimeout is the deadline of an analysis (funnel, retention,
	// ...) or of saving a funnel step's people (DefaultAnalyticsTimeout
	// when 0).
	AnalyticsTimeout time.Duration
	// Version is the platform's build version, shown by /healthz.
	Version string
	// Gatherer serves /metrics (nil: prometheus.DefaultGatherer).
	Gatherer prometheus.Gatherer
	// MetricsToken, when set, is the bearer token /metrics needs, on the
	// API's address and on MetricsHandler's. Empty: /metrics answers 404
	// on the API's address and is open on MetricsHandler's.
	MetricsToken string
	Logger       *slog.Logger
}

// Server routes the platform's HTTP API.
type Server struct {
	db        *store.DB
	creds     *Credentials
	collector *ingest.Collector
	wecom     *ingest.WeCom
	identity  *identity.Service
	segments  *segments.Store
	campaigns *campaigns.Service
	journeys  *journeys.Service
	wecomOps  *wecomops.Service
	sidebar   *sidebar.Service
	analytics *analytics.Service
	demand    *demand.Service
	opts      Options
	limits    *rateLimiters
	healthLog healthLog
	logger    *slog.Logger
	engine    *gin.Engine
}

// New builds the server's routes.
func New(opts Options) *Server {
	opts = opts.withDefaults()
	gin.SetMode(gin.ReleaseMode)
	g := gin.New()
	// No proxy is trusted unless configured: ClientIP is the peer address.
	_ = g.SetTrustedProxies(nil)
	s := &Server{db: opts.DB, creds: opts.Credentials, collector: opts.Collector, wecom: opts.WeCom, identity: opts.Identity, segments: opts.Segments, campaigns: opts.Campaigns, journeys: opts.Journeys, wecomOps: opts.WeComOps, sidebar: opts.Sidebar, opts: opts, logger: opts.Logger, engine: g}
	s.limits = newRateLimiters(opts.RateLimits)
	g.Use(s.recover(), s.accessLog())
	s.fallbackRoutes(g)
	g.GET("/healthz", s.healthz)
	g.GET("/metrics", s.metrics(false))
	g.GET("/api/openapi.json", func(c *gin.Context) { c.Data(http.StatusOK, "application/json", openAPIDoc) })
	if s.collector != nil {
		s.ingestRoutes(g)
	}
	if s.sidebar != nil {
		s.sidebarRoutes(g)
	}
	v1 := g.Group("/api/v1", s.requireToken(RoleAnalyst), s.rateLimit("api"))
	v1.GET("/whoami", s.whoami)
	if s.identity != nil {
		s.identityRoutes(v1)
	}
	if s.segments != nil {
		s.segmentRoutes(v1)
	}
	if s.campaigns != nil {
		s.campaignRoutes(v1)
	}
	if s.journeys != nil {
		s.journeyRoutes(v1)
	}
	if s.wecomOps != nil {
		s.wecomOpsRoutes(v1)
		s.contactWayRoutes(v1)
		s.wecomGroupRoutes(v1)
		s.momentRoutes(v1)
	}
	s.analyticsRoutes(v1)
	s.demandRoutes(v1)
	s.consoleRoutes(v1)
	s.adminRoutes(v1.Group("", requireRole(RoleAdmin)))
	return s
}

// withDefaults fills in the options left zero: a discarding logger, the
// default Prometheus gatherer, DefaultEstimateTimeout, DefaultAnalyticsTimeout.
func (opts Options) withDefaults() Options {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Gatherer == nil {
		opts.Gatherer = prometheus.DefaultGatherer
	}
	if opts.EstimateTimeout <= 0 {
		opts.EstimateTimeout = DefaultEstimateTimeout
	}
	if opts.AnalyticsTimeout <= 0 {
		opts.AnalyticsTimeout = DefaultAnalyticsTimeout
	}
	return opts
}

// fallbackRoutes answer what no route takes: the web console for its
// paths, 404 and 405 as API errors otherwise.
func (s *Server) fallbackRoutes(g *gin.Engine) {
	console := web.Handler()
	g.NoRoute(func(c *gin.Context) {
		if consolePath(c.Request) {
			console.ServeHTTP(c.Writer, c.Request)
			return
		}
		fail(c, http.StatusNotFound, CodeNotFound, "no such endpoint: "+c.Request.Method+" "+c.Request.URL.Path, "")
	})
	g.HandleMethodNotAllowed = true
	g.NoMethod(func(c *gin.Context) {
		fail(c, http.StatusMethodNotAllowed, CodeInvalid, "method "+c.Request.Method+" not allowed here", "")
	})
}

// ingestRoutes are /v1 (write keys) and the WeCom callback.
func (s *Server) ingestRoutes(g *gin.Engine) {
	// Client keys (SDKs) send behaviour only; orders and imports need
	// a server key.
	in := g.Group("/v1", s.requireWriteKey(), s.rateLimit("ingest"))
	for _, typ := range []string{"track", "identify", "page", "screen", "group", "alias", "batch"} {
		in.POST("/"+typ, s.segment(typ))
	}
	server := in.Group("", requireServerKey())
	server.POST("/orders", s.orders)
	server.POST("/import/events", s.importFile("events"))
	server.POST("/import/orders", s.importFile("orders"))
	server.POST("/import/wecom-archive", s.importFile("wecom-archive"))
	server.POST("/import/preview", s.importPreview)
	g.GET("/wecom/callback", s.callbackRateLimit(), s.wecomVerify)
	g.POST("/wecom/callback", s.callbackRateLimit(), s.wecomCallback)
}

// identityRoutes are profiles, merges and erasure.
func (s *Server) identityRoutes(v1 *gin.RouterGroup) {
	v1.GET("/profiles/lookup", s.rateLimit("lookup"), s.profileLookup)
	v1.GET("/profiles/:id", s.profile)
	v1.GET("/profiles/:id/merges", s.personMerges)
	v1.GET("/identity/rules", s.identityRules)
	v1.POST("/merges/:id/unmerge", requireRole(RoleAdmin), s.unmerge)
	v1.DELETE("/profiles/:id", requireRole(RoleAdmin), s.erase)
	v1.POST("/profiles/:id/reveal-phone", requireRole(RoleAdmin), s.revealPhone)
}

// segmentRoutes are estimates and segment definitions.
func (s *Server) segmentRoutes(v1 *gin.RouterGroup) {
	marketer := requireRole(RoleMarketer)
	estimates := s.rateLimit("estimate")
	v1.POST("/segments/estimate", estimates, s.estimate)
	v1.POST("/segments/overlap", estimates, s.overlap)
	v1.GET("/segments", s.listSegments)
	v1.POST("/segments", marketer, s.saveSegment)
	v1.GET("/segments/:id", s.getSegment)
	v1.PUT("/segments/:id", marketer, s.saveSegment)
	v1.DELETE("/segments/:id", marketer, s.deleteSegment)
	v1.GET("/segments/:id/versions", s.segmentVersions)
	v1.GET("/segments/:id/members", s.segmentMembers)
	v1.POST("/segments/:id/recompute", marketer, s.recomputeSegment)
}

// campaignRoutes are offers, campaigns, results and consents.
func (s *Server) campaignRoutes(v1 *gin.RouterGroup) {
	marketer := requireRole(RoleMarketer)
	v1.GET("/offers", s.listOffers)
	v1.POST("/offers", marketer, s.saveOffer)
	v1.PUT("/offers/:id", marketer, s.saveOffer)
	v1.GET("/campaigns", s.listCampaigns)
	v1.POST("/campaigns", marketer, s.saveCampaign)
	v1.GET("/campaigns/:id", s.getCampaign)
	v1.PUT("/campaigns/:id", marketer, s.saveCampaign)
	v1.POST("/campaigns/:id/preview", marketer, s.previewCampaign)
	v1.POST("/campaigns/:id/launch", marketer, s.launchCampaign)
	v1.GET("/campaigns/:id/results", s.campaignResults)
	v1.GET("/campaigns/:id/tasks", s.campaignTasks)
	v1.GET("/campaigns/:id/group-sends", s.campaignGroupSends)
	v1.PUT("/profiles/:id/consent", marketer, s.setConsent)
}

// consoleRoutes are the web console's read models (console.go).
func (s *Server) consoleRoutes(v1 *gin.RouterGroup) {
	v1.GET("/overview", s.overview)
	v1.GET("/settings/wecom", s.weComSettings)
	v1.GET("/settings/sensitive-tags", s.sensitiveTags)
	if s.identity != nil {
		v1.POST("/profiles/summaries", s.personSummaries)
	}
	if s.campaigns != nil {
		v1.GET("/campaigns/:id/results/daily", s.campaignResultsDaily)
		v1.GET("/settings/channels", s.channelSettings)
	}
}

// adminRoutes are API tokens, write keys and the audit log (admin only).
func (s *Server) adminRoutes(admin *gin.RouterGroup) {
	admin.GET("/tokens", s.listCredentials(false))
	admin.POST("/tokens", s.createToken)
	admin.DELETE("/tokens/:id", s.revokeCredential("api_tokens"))
	admin.GET("/write-keys", s.listCredentials(true))
	admin.POST("/write-keys", s.createWriteKey)
	admin.DELETE("/write-keys/:id", s.revokeCredential("write_keys"))
	admin.GET("/admin/audit", s.listAudit)
}

// consolePath tells whether a request the API does not route is for the
// web console: a GET or HEAD outside the API, ingest and WeCom paths
// (/api, /v1 and everything under them and under /wecom/). /wecom itself
// is the console's 企业微信 page; WeCom's paths are below it.
func consolePath(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	for _, prefix := range []string{"/api/", "/v1/", "/wecom/"} {
		if strings.HasPrefix(r.URL.Path, prefix) || (r.URL.Path+"/" == prefix && prefix != "/wecom/") {
			return false
		}
	}
	return true
}

// Handler is the server's http.Handler.
func (s *Server) Handler() http.Handler { return s.engine }

// Routes lists "METHOD /path" for every route, for the OpenAPI check.
func (s *Server) Routes() []gin.RouteInfo { return s.engine.Routes() }

// Serve listens on addr until ctx ends, then shuts down gracefully,
// giving requests in flight up to 10 s. ready, when not nil, receives the
// bound address once the listener is open.
func (s *Server) Serve(ctx context.Context, addr string, ready func(net.Addr)) error {
	return s.serve(ctx, addr, s.engine, ready)
}

// ServeMetrics serves MetricsHandler on addr as Serve does.
func (s *Server) ServeMetrics(ctx context.Context, addr string, ready func(net.Addr)) error {
	return s.serve(ctx, addr, s.MetricsHandler(), ready)
}

// MetricsHandler serves only GET /metrics, for a listener of its own
// (CDP_METRICS_ADDR) whose address keeps scrapers apart from API callers:
// open there unless a MetricsToken is set.
func (s *Server) MetricsHandler() http.Handler {
	g := gin.New()
	g.Use(s.recover())
	g.GET("/metrics", s.metrics(true))
	g.NoRoute(func(c *gin.Context) {
		fail(c, http.StatusNotFound, CodeNotFound, "this address serves only GET /metrics", "")
	})
	return g
}

// metrics serves the Prometheus metrics: record counts by source, rate
// limits, spool and writer state, the process. With a MetricsToken every
// scrape needs it (Prometheus: authorization: {credentials: ...}); without
// one they are served only where open (the metrics listener).
func (s *Server) metrics(open bool) gin.HandlerFunc {
	h := promhttp.HandlerFor(s.opts.Gatherer, promhttp.HandlerOpts{})
	want := sha256.Sum256([]byte(s.opts.MetricsToken))
	return func(c *gin.Context) {
		switch {
		case s.opts.MetricsToken != "":
			got, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
			if sum := sha256.Sum256([]byte(got)); !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
				c.Header("WWW-Authenticate", `Bearer realm="cdp metrics"`)
				fail(c, http.StatusUnauthorized, CodeUnauthorized, "metrics need the metrics token (CDP_METRICS_TOKEN) as Authorization: Bearer <token>", "Authorization")
				return
			}
		case !open:
			fail(c, http.StatusNotFound, CodeNotFound, "metrics are not served on this address: set CDP_METRICS_TOKEN to scrape them here with a bearer token, or CDP_METRICS_ADDR to serve them on an address of their own", "")
			return
		}
		h.ServeHTTP(c.Writer, c.Request)
	}
}

func (s *Server) serve(ctx context.Context, addr string, h http.Handler, ready func(net.Addr)) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      5 * time.Minute, // exports stream for a while
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	if ready != nil {
		ready(l.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdown)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

func (s *Server) recover() gin.HandlerFunc {
	return gin.CustomRecoveryWithWriter(nil, func(c *gin.Context, v any) {
		s.logger.Error("BUG: handler panicked", "path", c.Request.URL.Path, "panic", v)
		fail(c, http.StatusInternalServerError, CodeInternal, "internal error; see the server log", "")
	})
}

func (s *Server) accessLog() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		s.logger.Debug("http", "method", c.Request.Method, "path", c.Request.URL.Path,
			"status", c.Writer.Status(), "ms", time.Since(start).Milliseconds(), "peer", c.ClientIP())
	}
}

// Health is /healthz's answer.
type Health struct {
	Status            string `json:"status"`
	Version           string `json:"version"`
	ClickHouseVersion string `json:"clickhouse_version,omitempty"`
	SchemaVersion     int    `json:"schema_version"`
	Error             string `json:"error,omitempty"`
}

func (s *Server) healthz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	h := Health{Status: "ok", Version: s.opts.Version}
	var err error
	if h.ClickHouseVersion, err = s.db.ServerVersion(ctx); err == nil {
		h.SchemaVersion, err = schema.Version(ctx, s.db.Conn, schema.Target{Database: s.db.Database})
	}
	if err != nil {
		// /healthz answers anyone: the driver's error names internal hosts
		// and ports, so it goes to the log, not into the answer.
		s.healthLog.report(s.logger, err)
		h = Health{Status: "unavailable", Version: s.opts.Version, Error: "ClickHouse unavailable; see the server log"}
		c.JSON(http.StatusServiceUnavailable, h)
		return
	}
	c.JSON(http.StatusOK, h)
}

// healthLog logs /healthz's ClickHouse error when it changes, and at most
// once a minute while it stays the same, however often probes ask.
type healthLog struct {
	mu   sync.Mutex
	last string
	at   time.Time
}

func (l *healthLog) report(logger *slog.Logger, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	msg := err.Error()
	if msg == l.last && time.Since(l.at) < time.Minute {
		return
	}
	l.last, l.at = msg, time.Now()
	logger.Warn("healthz: ClickHouse unavailable", "err", err)
}

func (s *Server) whoami(c *gin.Context) { c.JSON(http.StatusOK, principal(c)) }

// audit records a management action; a failure is logged, not hidden.
func (s *Server) audit(c *gin.Context, action, objectType, objectID string, detail any) {
	d, _ := json.Marshal(detail)
	err := s.db.Conn.Exec(c.Request.Context(), "INSERT INTO "+s.db.Table("audit_log")+
		" (ts, actor, action, object_type, object_id, detail) VALUES (fromUnixTimestamp64Milli(?), ?, ?, ?, ?, ?)",
		time.Now().UnixMilli(), principal(c).ID, action, objectType, objectID, string(d))
	if err != nil {
		s.logger.Error("audit log write failed", "action", action, "object", objectID, "err", err)
	}
}
