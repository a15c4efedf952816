package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/granarycdp/cdp/campaigns"
	"github.com/granarycdp/cdp/demand"
	"github.com/granarycdp/cdp/identity"
	"github.com/granarycdp/cdp/ingest"
	"github.com/granarycdp/cdp/ingest/spool"
	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/journeys"
	"github.com/granarycdp/cdp/segments"
	"github.com/granarycdp/cdp/sidebar"
	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/wecomops"
)

// ingestParts is the ingest side of `cdp serve`: spool, collector,
// pipeline and writer, the services on them (identity, segments,
// campaigns) and the background work that keeps them current. Every
// goroutine they run belongs to group; Close stops them in order.
type ingestParts struct {
	spool     *spool.Spool
	writer    *store.Writer
	collector *ingest.Collector
	dedup     *ingest.Dedup // the collector's, for its memory and disk figures
	wecom     *ingest.WeCom
	identity  *identity.Service
	segments  *segments.Store
	campaigns *campaigns.Service
	journeys  *journeys.Service
	wecomOps  *wecomops.Service // nil without a WeCom client
	pipeline  *ingest.Pipeline
	optOuts   *optOutScan
	demand    *demand.Service
	demandRun demand.RunOptions

	// group runs the pipeline, the opt-out scan, the campaign loop, the
	// journeys' executor, the live segments, the contact backfill and the
	// WeCom operations (wecomops). Its goroutines run on contexts of their
	// own (not errgroup.WithContext): a failing pipeline must not stop
	// campaigns; its error is Close's.
	group        errgroup.Group
	stopPipeline context.CancelFunc
	pipelineDone chan struct{} // closed when the pipeline has returned
	stopLoops    context.CancelFunc
}

// writerCloseTimeout bounds how long Close waits for ClickHouse to confirm
// what the writer holds.
const writerCloseTimeout = 10 * time.Second

// startIngest wires ingest, identity, segments and campaigns and starts
// their background work. fallback is the WeCom to use when none is
// configured (the demo's), or nil. On error nothing is left running.
func startIngest(ctx context.Context, cfg config, db *store.DB, metrics *store.Metrics, logger *slog.Logger, fallback *ingest.WeCom) (*ingestParts, error) {
	prot, err := protector(cfg)
	if err != nil {
		return nil, err
	}
	p := &ingestParts{}
	spoolID, err := p.openSpool(cfg, logger)
	if err != nil {
		return nil, err
	}
	wopts := store.DefaultWriterOptions()
	wopts.Logger, wopts.Metrics = logger, metrics
	p.writer = store.NewWriter(db, wopts)
	if err := p.wire(ctx, cfg, db, prot, logger, fallback); err != nil {
		closeCtx, cancel := context.WithTimeout(context.Background(), writerCloseTimeout)
		defer cancel()
		return nil, errors.Join(err, p.writer.Close(closeCtx), p.closeCollector(), p.spool.Close())
	}
	p.start(db, spoolID, logger)
	logger.Info("ingest ready", "spool", filepath.Join(cfg.DataDir, "spool"), "pending_records", p.spool.LastSeq()-p.spool.Committed(), "wecom", p.wecom != nil)
	return p, nil
}

// protector is the phone protector of the configured or stored PII key.
func protector(cfg config) (*identity.Protector, error) {
	key, err := identity.LoadOrCreateKey(cfg.PIIKey, filepath.Join(cfg.DataDir, "pii.key"))
	if err != nil {
		return nil, err
	}
	return identity.NewProtector(key)
}

// openSpool opens the ingest spool in the data folder and returns the id
// of its incarnation.
func (p *ingestParts) openSpool(cfg config, logger *slog.Logger) (string, error) {
	sopts := spool.DefaultOptions()
	sopts.Dir = filepath.Join(cfg.DataDir, "spool")
	sopts.MaxBytes = int64(cfg.SpoolMaxMB) << 20
	sopts.Logger = logger
	sp, err := spool.Open(sopts)
	if err != nil {
		return "", fmt.Errorf("ingest spool: %w", err)
	}
	spoolID, err := readOrCreateID(filepath.Join(cfg.DataDir, "spool.id"))
	if err != nil {
		sp.Close()
		return "", err
	}
	p.spool = sp
	return spoolID, nil
}

// wire builds the collector (its deduplication memory warmed), the
// identity graph, the segments store and the campaigns service.
func (p *ingestParts) wire(ctx context.Context, cfg config, db *store.DB, prot *identity.Protector, logger *slog.Logger, fallback *ingest.WeCom) error {
	dopts, err := dedupOptions(cfg, logger)
	if err != nil {
		return err
	}
	dedup, err := ingest.OpenDedup(dopts)
	if err != nil {
		return err
	}
	p.dedup = dedup
	p.collector = ingest.NewCollector(ingest.Options{Spool: p.spool, Protector: prot, Logger: logger, Dedup: dedup})
	if p.wecom, err = wecomConfig(cfg); err != nil {
		return err
	}
	if p.wecom == nil {
		p.wecom = fallback
	}
	keys, err := p.collector.Warm(ctx, db)
	if err != nil {
		return err
	}
	logger.Info("deduplication memory warmed", "keys", keys)
	if err := p.loadIdentity(ctx, cfg, db, prot, logger); err != nil {
		return err
	}
	if p.segments, err = openSegments(ctx, db, logger); err != nil {
		return err
	}
	channels, err := campaignChannels(cfg, p.wecom, prot)
	if err != nil {
		return err
	}
	p.campaigns = &campaigns.Service{DB: db, Writer: p.writer, Segments: p.segments, Logger: logger, Channels: channels}
	p.journeys = &journeys.Service{DB: db, Writer: p.writer, Campaigns: p.campaigns, Segments: p.segments, Logger: logger}
	if p.wecomOps, err = newWeComOps(cfg, db, p.wecom, p.segments, logger); err != nil {
		return err
	}
	if p.wecomOps != nil {
		p.wecom.OnChat = p.wecomOps.GroupChanged // customer groups read again on their callbacks
	}
	p.segments.OnChange = func(ch segments.Change) {
		p.campaigns.SegmentChanged(ch)
		p.journeys.SegmentChanged(ch)
		if p.wecomOps != nil {
			p.wecomOps.SegmentChanged(ch)
		}
	}
	p.optOuts = newOptOutScan(p.campaigns.ScanOptOuts, logger)
	p.demand = demand.New(db, nil)
	n := &demand.Notifier{DB: db, HTTP: channels.HTTP, Targets: []demand.Target{demand.Campaigns(p.campaigns), demand.Journeys(p.journeys)}}
	for _, name := range strings.Split(cfg.SupplyWebhooks, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		hook, ok := channels.Webhooks[name]
		if name == demand.CampaignsTarget || name == demand.JourneysTarget {
			return fmt.Errorf("CDP_SUPPLY_WEBHOOKS: %s is the name of the %s' own surge trigger; name the webhook otherwise", name, name)
		}
		if !ok {
			return fmt.Errorf("CDP_SUPPLY_WEBHOOKS: %s is not a webhook of CDP_WEBHOOKS", name)
		}
		n.Targets = append(n.Targets, demand.Target{Name: name, URL: hook.URL, Secret: hook.Secret})
	}
	if cfg.SupplyRetrySeconds < 1 {
		return fmt.Errorf("CDP_SUPPLY_RETRY_SECONDS=%d: must be at least 1", cfg.SupplyRetrySeconds)
	}
	p.demandRun = demand.RunOptions{Notifier: n, Retry: time.Duration(cfg.SupplyRetrySeconds) * time.Second, Logger: logger.With("component", "demand")}
	return nil
}

// dedupOptions are the deduplication window's options: in the data
// folder, with CDP_DEDUP_FILTER_MB of filters.
func dedupOptions(cfg config, logger *slog.Logger) (ingest.DedupOptions, error) {
	if cfg.DedupFilterMB < 1 {
		return ingest.DedupOptions{}, fmt.Errorf("CDP_DEDUP_FILTER_MB=%d: must be at least 1", cfg.DedupFilterMB)
	}
	return ingest.DedupOptions{Dir: filepath.Join(cfg.DataDir, "dedup"), FilterBytes: int64(cfg.DedupFilterMB) << 20, Logger: logger}, nil
}

// loadIdentity loads the identity graph under the configured rules.
func (p *ingestParts) loadIdentity(ctx context.Context, cfg config, db *store.DB, prot *identity.Protector, logger *slog.Logger) error {
	rules := identity.DefaultRules()
	if cfg.IdentityRules != "" {
		raw, err := os.ReadFile(cfg.IdentityRules)
		if err == nil {
			rules, err = identity.ParseRules(raw)
		}
		if err != nil {
			return fmt.Errorf("CDP_IDENTITY_RULES: %w", err)
		}
	}
	graph, stats, err := identity.Load(ctx, db, rules)
	if err != nil {
		return err
	}
	logger.Info("identity graph loaded", "persons", stats.Persons, "identifiers", stats.Identifiers, "merges", stats.Merges, "ms", stats.Took.Milliseconds())
	p.identity = &identity.Service{DB: db, Graph: graph, Writer: p.writer, Protector: prot, Logger: logger}
	return nil
}

// start runs the background work in group: the pipeline on a context of
// its own, so that Close can stop it before the loops it feeds, and the
// opt-out scan, the campaign loop, the live segments and the contact
// backfill on the loops' context.
func (p *ingestParts) start(db *store.DB, spoolID string, logger *slog.Logger) {
	pipelineCtx, stopPipeline := context.WithCancel(context.Background())
	loopsCtx, stopLoops := context.WithCancel(context.Background())
	p.stopPipeline, p.stopLoops = stopPipeline, stopLoops
	p.pipelineDone = make(chan struct{})
	p.pipeline = ingest.NewPipeline(ingest.PipelineOptions{Spool: p.spool, Writer: p.writer, SpoolID: spoolID, Resolver: p.identity.Graph, Logger: logger,
		AfterCommit: func(c ingest.Committed) {
			p.segments.TouchedTables(c.Persons)
			p.journeys.Touched(c.All(), c.Tables)
			if persons := c.Persons["wecom_messages"]; len(persons) > 0 {
				p.optOuts.Add(persons)
			}
		}})
	p.group.Go(func() error {
		defer close(p.pipelineDone)
		return p.pipeline.Run(pipelineCtx)
	})
	p.group.Go(func() error { p.optOuts.run(loopsCtx); return nil })
	// Run resumes what a restart interrupted, then sends, triggers and
	// reads WeCom delivery results.
	p.group.Go(func() error { p.campaigns.Run(loopsCtx, campaigns.RunOptions{}); return nil })
	// The journeys' executor: entries, timers, waits and steps, its sends
	// made apart by a sender it owns and waits for.
	p.group.Go(func() error { p.journeys.Run(loopsCtx, journeys.RunOptions{}); return nil })
	p.group.Go(func() error { p.segments.RunLive(loopsCtx); return nil })
	p.group.Go(func() error { p.backfillContacts(loopsCtx, db, logger); return nil })
	if p.wecomOps != nil {
		// WeCom tags read into person tags, segments synced to corp tags.
		p.group.Go(func() error { p.wecomOps.Run(loopsCtx); return nil })
		// Welcome messages, loss alerts, pending QR codes, transfers.
		p.group.Go(func() error { p.wecomOps.RunContacts(loopsCtx); return nil })
	}
	// Surge detection every few hours, its alerts delivered to the supply
	// systems.
	p.group.Go(func() error { p.demand.Run(loopsCtx, p.demandRun); return nil })
}

// newWeComOps is the WeCom operations service (wecomops), nil when no
// WeCom client is configured; its loss alerts go to CDP_WECOM_LOSS_ROBOT
// with CDP_WECOM_MANAGERS (lossAlerts).
func newWeComOps(cfg config, db *store.DB, w *ingest.WeCom, segs *segments.Store, logger *slog.Logger) (*wecomops.Service, error) {
	if w == nil || w.Client == nil {
		return nil, nil
	}
	o, err := lossAlerts(cfg)
	if err != nil {
		return nil, err
	}
	o.DB, o.Client, o.Segments, o.Touched, o.Logger = db, w.Client, segs, segs.Touched, logger
	ops, err := wecomops.New(o)
	if err == nil {
		w.OnEvent = ops.OnContactEvent // WelcomeCodes journalled before the callback's answer
	}
	return ops, err
}

// backfillContacts completes, every few minutes, WeCom contacts recorded
// without name and unionid because WeCom's API failed during the callback.
func (p *ingestParts) backfillContacts(ctx context.Context, db *store.DB, logger *slog.Logger) {
	if p.wecom == nil || p.wecom.Client == nil {
		return
	}
	every(ctx, 5*time.Minute, func() {
		n, err := p.collector.BackfillContactDetails(ctx, db, p.wecom, 500)
		if err != nil && ctx.Err() == nil {
			logger.Warn("WeCom contact details backfill stopped; next round in 5 min", "completed", n, "err", err)
		} else if n > 0 {
			logger.Info("WeCom contact details completed", "contacts", n)
		}
	})
}

// every calls f every d, the first time after d, until ctx ends.
func every(ctx context.Context, d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for ctx.Err() == nil {
		select {
		case <-t.C:
			f()
		case <-ctx.Done():
		}
	}
}

// waitIngested waits until every record spooled so far is in ClickHouse.
func (p *ingestParts) waitIngested(ctx context.Context) error {
	return p.pipeline.WaitCommitted(ctx, p.spool.LastSeq())
}

// Close shuts ingest down, each part after those that use it, and returns
// every error on the way. The caller has stopped accepting first (serve
// returns from the HTTP server, which waits for its handlers, before it
// closes ingest), so nothing new is spooled. Then:
//
//  1. The pipeline stops. A batch not yet committed stays in the spool,
//     planned, and is sent again with the same tokens on the next start;
//     nothing is lost and nothing stored twice.
//  2. The opt-out scan drains: the persons of committed chat batches it
//     has not scanned yet are scanned now (for at most
//     optOutDrainTimeout), because no later start would scan them. The
//     pipeline, which adds them, has returned.
//  3. The loops stop: the campaign loop and the journeys' executor (a
//     send in flight is settled by the next start from its journal; a
//     run's state is in journey_runs), the live segments (the next
//     start recomputes them), the contact backfill and the WeCom
//     operations (a mark_tag batch in flight is made again from its
//     journal). They read what the pipeline committed and write through
//     the writer.
//  4. The writer flushes what the loops and the services appended,
//     waits for ClickHouse to confirm it (at most writerCloseTimeout)
//     and stops.
//  5. The spool closes last: the collector appended to it until the
//     server stopped and the pipeline read it until step 1.
func (p *ingestParts) Close() error {
	p.stopPipeline()
	<-p.pipelineDone
	p.optOuts.stop()
	p.stopLoops()
	err := p.group.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), writerCloseTimeout)
	defer cancel()
	return errors.Join(err, p.writer.Close(ctx), p.closeCollector(), p.spool.Close())
}

// closeCollector closes the collector's deduplication store, if wire got
// as far as opening it.
func (p *ingestParts) closeCollector() error {
	if p.collector == nil {
		return nil
	}
	return p.collector.Close()
}

// newSidebar is the staff sidebar (docs/wecom.md), nil unless WeCom's API
// client and CDP_WECOM_AGENT_ID are configured.
func newSidebar(cfg config, db *store.DB, in *ingestParts) (*sidebar.Service, error) {
	if in.wecom == nil || in.wecom.Client == nil || cfg.WeComAgentID == "" {
		return nil, nil
	}
	return sidebar.New(sidebar.Options{DB: db, Client: in.wecom.Client, CorpID: cfg.WeComCorpID, AgentID: cfg.WeComAgentID,
		Identity: in.identity, Segments: in.segments, Journeys: in.journeys, Campaigns: in.campaigns})
}

func wecomConfig(cfg config) (*ingest.WeCom, error) {
	set := 0
	for _, v := range []string{cfg.WeComCorpID, cfg.WeComToken, cfg.WeComAESKey} {
		if v != "" {
			set++
		}
	}
	if set == 0 {
		return nil, nil
	}
	if set < 3 {
		return nil, errors.New("WeCom callbacks need all of CDP_WECOM_CORP_ID, CDP_WECOM_TOKEN and CDP_WECOM_AES_KEY")
	}
	crypto, err := wecom.NewCrypto(cfg.WeComToken, cfg.WeComAESKey, cfg.WeComCorpID)
	if err != nil {
		return nil, fmt.Errorf("CDP_WECOM_AES_KEY: %w", err)
	}
	w := &ingest.WeCom{Crypto: crypto, CorpID: cfg.WeComCorpID}
	if cfg.WeComSecret != "" {
		if w.Client, err = weComClient(cfg); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// weComClient is the WeCom API client of CDP_WECOM_CORP_ID and
// CDP_WECOM_SECRET at CDP_WECOM_API_URL.
func weComClient(cfg config) (*wecom.Client, error) {
	if err := outboundURL(cfg.WeComAPIURL, cfg.AllowLoopbackHTTP); err != nil {
		return nil, fmt.Errorf("CDP_WECOM_API_URL: %w", err)
	}
	opts := wecom.DefaultClientOptions()
	opts.BaseURL = strings.TrimRight(cfg.WeComAPIURL, "/")
	return wecom.NewClient(cfg.WeComCorpID, cfg.WeComSecret, opts)
}

// outboundURL checks a URL the platform sends data to: webhook posts carry
// decrypted phones, robot URLs their key, WeCom API calls the corp secret.
// It must be https, or plain http to a loopback host when
// allowLoopbackHTTP (CDP_ALLOW_LOOPBACK_HTTP). Errors name the scheme and
// host only: the rest of a URL may hold a key.
func outboundURL(raw string, allowLoopbackHTTP bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("not an absolute URL")
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme != "http":
		return fmt.Errorf("scheme %q: use https", u.Scheme)
	case !loopback(u.Hostname()):
		return fmt.Errorf("plain http to %s would carry personal data and keys in clear: use https", u.Host)
	case !allowLoopbackHTTP:
		return fmt.Errorf("plain http to %s: use https, or set CDP_ALLOW_LOOPBACK_HTTP=true to allow plain http to this machine", u.Host)
	}
	return nil
}

// loopback tells whether host names this machine: localhost or a loopback
// address (127.0.0.0/8, ::1).
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// campaignChannels configures the campaign channels: WeCom mass messages
// (with the contact secret), group robots and generic webhooks.
func campaignChannels(cfg config, w *ingest.WeCom, prot *identity.Protector) (*campaigns.Channels, error) {
	ch := &campaigns.Channels{WeComDailyCap: cfg.WeComDailyCap, Robots: map[string]string{}, Webhooks: map[string]campaigns.Webhook{}, Reveal: prot.Decrypt}
	switch {
	case w != nil && w.Client != nil:
		ch.WeCom = w.Client
	case cfg.WeComCorpID != "" && cfg.WeComSecret != "":
		c, err := weComClient(cfg)
		if err != nil {
			return nil, err
		}
		ch.WeCom = c
	}
	if err := settingPairs("CDP_WECOM_ROBOTS", cfg.WeComRobots, func(name, u string) error {
		if !strings.Contains(u, "key=") {
			return errors.New("want the robot's webhook URL with its key")
		}
		if err := outboundURL(u, cfg.AllowLoopbackHTTP); err != nil {
			return err
		}
		ch.Robots[name] = u
		return nil
	}); err != nil {
		return nil, err
	}
	if err := settingPairs("CDP_WEBHOOKS", cfg.Webhooks, func(name, v string) error {
		u, secret, ok := strings.Cut(v, "|")
		if !ok || len(secret) < 16 {
			return errors.New("want URL|secret with a secret of at least 16 characters")
		}
		if err := outboundURL(u, cfg.AllowLoopbackHTTP); err != nil {
			return err
		}
		ch.Webhooks[name] = campaigns.Webhook{URL: u, Secret: secret}
		return nil
	}); err != nil {
		return nil, err
	}
	return ch, nil
}

// readOrCreateID reads a random id kept in a file, creating it once.
func readOrCreateID(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	id := hex.EncodeToString(b[:])
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return "", err
	}
	return id, os.WriteFile(path, []byte(id+"\n"), 0o600)
}

// openSegments opens the platform's segments store.
func openSegments(ctx context.Context, db *store.DB, logger *slog.Logger) (*segments.Store, error) {
	sopt := segments.DefaultOptions()
	sopt.Logger = logger
	// An audience estimate 10 s behind the newest records is what a
	// marketer editing a rule needs; live segments and plans stay exact.
	sopt.EstimateStaleness = 10 * time.Second
	// Every order reaches ClickHouse through the pipeline (spool_seq), so
	// the trait index can be kept between restarts.
	sopt.PersistTraits = true
	s, err := segments.NewStore(ctx, db, sopt)
	if err != nil {
		return nil, err
	}
	// At most one live round a second: under load rounds otherwise run
	// back to back, one per ingest commit (about 3 a second at 10,000
	// events/s), and each costs the engine about the same whatever it
	// holds (its leaf patches scan their windows; the campaign round it
	// wakes reads sends, consents and profiles). Entries show up to 1 s
	// later after their event.
	s.LiveEvery = time.Second
	return s, nil
}
