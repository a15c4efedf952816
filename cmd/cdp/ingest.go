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
	"slices"
	"strings"
	"time"

	"github.com/granarycdp/cdp/campaigns"
	"github.com/granarycdp/cdp/identity"
	"github.com/granarycdp/cdp/ingest"
	"github.com/granarycdp/cdp/ingest/spool"
	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/segments"
	"github.com/granarycdp/cdp/store"
)

// ingestParts is the ingest side of `cdp serve`: spool, collector,
// pipeline and writer.
type ingestParts struct {
	spool     *spool.Spool
	writer    *store.Writer
	collector *ingest.Collector
	wecom     *ingest.WeCom
	identity  *identity.Service
	segments  *segments.Store
	campaigns *campaigns.Service
	pipeline  *ingest.Pipeline
	stop      context.CancelFunc
	done      chan error
}

// startIngest wires ingest, identity, segments and campaigns. fallback is
// the WeCom to use when none is configured (the demo's), or nil.
func startIngest(ctx context.Context, cfg config, db *store.DB, metrics *store.Metrics, logger *slog.Logger, fallback *ingest.WeCom) (*ingestParts, error) {
	key, err := identity.LoadOrCreateKey(cfg.PIIKey, filepath.Join(cfg.DataDir, "pii.key"))
	if err != nil {
		return nil, err
	}
	prot, err := identity.NewProtector(key)
	if err != nil {
		return nil, err
	}
	sopts := spool.DefaultOptions()
	sopts.Dir = filepath.Join(cfg.DataDir, "spool")
	sopts.MaxBytes = int64(cfg.SpoolMaxMB) << 20
	sopts.Logger = logger
	sp, err := spool.Open(sopts)
	if err != nil {
		return nil, fmt.Errorf("ingest spool: %w", err)
	}
	spoolID, err := readOrCreateID(filepath.Join(cfg.DataDir, "spool.id"))
	if err != nil {
		sp.Close()
		return nil, err
	}
	wopts := store.DefaultWriterOptions()
	wopts.Logger, wopts.Metrics = logger, metrics
	w := store.NewWriter(db, wopts)
	p := &ingestParts{spool: sp, writer: w, done: make(chan error, 1)}
	dedup, err := ingest.OpenDedup(ingest.DedupOptions{Dir: filepath.Join(cfg.DataDir, "dedup"), Logger: logger})
	if err != nil {
		sp.Close()
		return nil, err
	}
	p.collector = ingest.NewCollector(ingest.Options{Spool: sp, Protector: prot, Logger: logger, Dedup: dedup})
	if p.wecom, err = wecomConfig(cfg); err != nil {
		sp.Close()
		return nil, err
	}
	if p.wecom == nil {
		p.wecom = fallback
	}
	keys, err := p.collector.Warm(ctx, db)
	if err != nil {
		sp.Close()
		return nil, err
	}
	logger.Info("deduplication memory warmed", "keys", keys)
	rules := identity.DefaultRules()
	if cfg.IdentityRules != "" {
		raw, err := os.ReadFile(cfg.IdentityRules)
		if err == nil {
			rules, err = identity.ParseRules(raw)
		}
		if err != nil {
			sp.Close()
			return nil, fmt.Errorf("CDP_IDENTITY_RULES: %w", err)
		}
	}
	graph, stats, err := identity.Load(ctx, db, rules)
	if err != nil {
		sp.Close()
		return nil, err
	}
	logger.Info("identity graph loaded", "persons", stats.Persons, "identifiers", stats.Identifiers, "merges", stats.Merges, "ms", stats.Took.Milliseconds())
	p.identity = &identity.Service{DB: db, Graph: graph, Writer: w, Protector: prot, Logger: logger}
	sopt := segments.DefaultOptions()
	sopt.Logger = logger
	if p.segments, err = segments.NewStore(ctx, db, sopt); err != nil {
		sp.Close()
		return nil, err
	}
	channels, err := campaignChannels(cfg, p.wecom, prot)
	if err != nil {
		sp.Close()
		return nil, err
	}
	p.campaigns = &campaigns.Service{DB: db, Writer: w, Segments: p.segments, Logger: logger, Channels: channels}
	p.segments.OnChange = p.campaigns.SegmentChanged
	runCtx, stop := context.WithCancel(context.Background())
	p.stop = stop
	p.pipeline = ingest.NewPipeline(ingest.PipelineOptions{Spool: sp, Writer: w, SpoolID: spoolID, Resolver: graph, Logger: logger,
		AfterCommit: func(persons []uint32, tables []string) {
			p.segments.Touched(persons, segments.KindsOfTables(tables))
			if slices.Contains(tables, "wecom_messages") {
				p.optOuts(runCtx, persons, logger)
			}
		}})
	// Run resumes what a restart interrupted, then sends, triggers and
	// reads WeCom delivery results.
	go p.campaigns.Run(runCtx, campaigns.RunOptions{})
	go p.segments.RunLive(runCtx)
	go p.backfillContacts(runCtx, db, logger)
	go func() { p.done <- p.pipeline.Run(runCtx) }()
	logger.Info("ingest ready", "spool", sopts.Dir, "pending_records", sp.LastSeq()-sp.Committed(), "wecom", p.wecom != nil)
	return p, nil
}

// backfillContacts completes, every few minutes, WeCom contacts recorded
// without name and unionid because WeCom's API failed during the callback.
func (p *ingestParts) backfillContacts(ctx context.Context, db *store.DB, logger *slog.Logger) {
	if p.wecom == nil || p.wecom.Client == nil {
		return
	}
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := p.collector.BackfillContactDetails(ctx, db, p.wecom, 500)
		if err != nil && ctx.Err() == nil {
			logger.Warn("WeCom contact details backfill stopped; next round in 5 min", "completed", n, "err", err)
		} else if n > 0 {
			logger.Info("WeCom contact details completed", "contacts", n)
		}
	}
}

// optOuts records the opt-outs of customers who wrote 退订 in this
// batch's chats, off the pipeline's goroutine.
func (p *ingestParts) optOuts(ctx context.Context, persons []uint32, logger *slog.Logger) {
	persons = slices.Clone(persons)
	go func() {
		if n, err := p.campaigns.ScanOptOuts(ctx, persons); err != nil && ctx.Err() == nil {
			logger.Error("opt-out keyword scan failed", "err", err)
		} else if n > 0 {
			logger.Info("customers opted out by WeCom message", "persons", n)
		}
	}()
}

// waitIngested waits until every record spooled so far is in ClickHouse.
func (p *ingestParts) waitIngested(ctx context.Context) error {
	return p.pipeline.WaitCommitted(ctx, p.spool.LastSeq())
}

// Close stops the pipeline; records not yet in ClickHouse stay in the
// spool for the next start.
func (p *ingestParts) Close() error {
	p.stop()
	err := <-p.done
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(err, p.writer.Close(ctx), p.collector.Close(), p.spool.Close())
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
	pairs := func(setting, list string, put func(name, value string) error) error {
		for _, item := range strings.Split(list, ";") {
			if item = strings.TrimSpace(item); item == "" {
				continue
			}
			name, value, ok := strings.Cut(item, "=")
			if !ok || strings.TrimSpace(name) == "" || strings.TrimSpace(value) == "" {
				return fmt.Errorf("%s: %q is not name=value", setting, item)
			}
			if err := put(strings.TrimSpace(name), strings.TrimSpace(value)); err != nil {
				return fmt.Errorf("%s: %s: %w", setting, name, err)
			}
		}
		return nil
	}
	if err := pairs("CDP_WECOM_ROBOTS", cfg.WeComRobots, func(name, u string) error {
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
	if err := pairs("CDP_WEBHOOKS", cfg.Webhooks, func(name, v string) error {
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
