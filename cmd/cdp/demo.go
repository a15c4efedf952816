package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/granarycdp/cdp/api"
	"github.com/granarycdp/cdp/campaigns"
	"github.com/granarycdp/cdp/gen"
	"github.com/granarycdp/cdp/ingest"
	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/ingest/wecom/wecomtest"
	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/segments"
	"github.com/granarycdp/cdp/store"
)

// demoEnd is the fixed end of the demo period: the same seed gives the
// same data on every machine (records more than 3 years old would be
// refused, so move it forward when the demo gets old).
var demoEnd = time.Date(2026, 11, 25, 0, 0, 0, 0, schema.Beijing)

// demoWeCom returns the WeCom callback settings the demo signs contact
// events with: the configured ones, or fresh demo credentials when WeCom is
// not configured (the callback path is the real one either way).
func demoWeCom(cfg config) (*ingest.WeCom, error) {
	if w, err := wecomConfig(cfg); w != nil || err != nil {
		return w, err
	}
	var key [32]byte
	_, _ = rand.Read(key[:])
	aes := strings.TrimRight(base64.StdEncoding.EncodeToString(key[:]), "=")
	crypto, err := wecom.NewCrypto("demo-token", aes, demoCorp)
	if err != nil {
		return nil, err
	}
	return &ingest.WeCom{Crypto: crypto, CorpID: demoCorp}, nil
}

// demoCorp and demoSecret name the demo's generated WeCom corp.
const demoCorp, demoSecret = "wwdemocorp", "demo-contact-secret"

// demoWeComCorp is the demo's own WeCom corp, for a platform without a
// configured one: the callback settings the demo signs contact events
// with, and a stand-in for the corp's WeCom API, which does not exist.
//
// The stand-in (wecomtest.Server) listens on loopback and answers what
// WeCom answers the platform (externalcontact/get with each customer's
// name and unionid, add_msg_template, get_groupmsg_list_v2,
// get_groupmsg_send_result) for the generated customers; a goroutine plays
// the staff confirming mass-message tasks every 30 seconds. With it the
// demo's WeCom contacts get their unionid (and join their mini-program
// orders, as real ones do) and the WeCom campaign channel can be tried.
type demoWeComCorp struct {
	wecom *ingest.WeCom // with Client pointed at the stand-in
	fake  *wecomtest.Server
	stop  context.CancelFunc
	done  chan struct{} // closed when the staff goroutine has returned
}

// startDemoCorp starts the demo's WeCom corp, or returns nil when WeCom is
// configured (the demo then uses the configured corp). Close stops it.
func startDemoCorp(cfg config, logger *slog.Logger) (*demoWeComCorp, error) {
	if configured, err := wecomConfig(cfg); err != nil || configured != nil {
		return nil, err
	}
	w, err := demoWeCom(cfg)
	if err != nil {
		return nil, err
	}
	fake := wecomtest.New(demoCorp, demoSecret)
	contacts, err := demoContacts(cfg, fake)
	if err == nil {
		opts := wecom.DefaultClientOptions()
		opts.BaseURL = fake.URL
		w.Client, err = wecom.NewClient(demoCorp, demoSecret, opts)
	}
	if err != nil {
		fake.Close()
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	c := &demoWeComCorp{wecom: w, fake: fake, stop: stop, done: make(chan struct{})}
	go c.confirmTasks(ctx)
	logger.Info("demo: a stand-in for the demo corp's WeCom API serves its generated customers", "url", fake.URL, "contacts", contacts)
	return c, nil
}

// demoContacts makes the generated customers known to the stand-in and
// returns how many there are.
func demoContacts(cfg config, fake *wecomtest.Server) (int, error) {
	g := gen.New(gen.Config{Seed: uint64(cfg.DemoSeed), Households: cfg.DemoHouseholds, End: demoEnd, CorpID: demoCorp})
	contacts := 0
	err := g.Each(func(it gen.Item) error {
		if c := it.Contact; c != nil && c.ExternalUserID != "" && c.ChangeType == "add_external_contact" {
			fake.AddContact(wecomtest.Contact{ExternalUserID: c.ExternalUserID, Name: c.Name, UnionID: c.UnionID, FollowUser: c.UserID, State: c.State})
			contacts++
		}
		return nil
	})
	return contacts, err
}

// confirmTasks plays the staff: every 30 seconds they confirm the
// mass-message tasks waiting for them, until ctx ends.
func (c *demoWeComCorp) confirmTasks(ctx context.Context) {
	defer close(c.done)
	every(ctx, 30*time.Second, c.fake.ConfirmAll)
}

// Close stops the staff and the stand-in. The platform must no longer
// call the corp's API: close ingest (its campaign loop) first.
func (c *demoWeComCorp) Close() {
	c.stop()
	<-c.done
	c.fake.Close()
}

// loadDemo generates households and loads them through the platform's
// ingest endpoints at base, printing a progress bar to out.
func loadDemo(ctx context.Context, base, writeKey string, sourceKeys map[string]string, w *ingest.WeCom, households int, seed uint64, out io.Writer, logger *slog.Logger) error {
	g := gen.New(gen.Config{Seed: seed, Households: households, End: demoEnd, CorpID: w.CorpID})
	var total int64
	if err := g.Each(func(gen.Item) error { total++; return nil }); err != nil {
		return err
	}
	logger.Info("loading demo data through the ingest API", "households", households, "items", total)
	t := gen.Target{BaseURL: base, WriteKey: writeKey, WriteKeys: sourceKeys, WeCom: w.Crypto, AgentID: "1000002"}
	n, err := g.Load(ctx, t, total, func(p gen.Progress) {
		pct := float64(p.Items) / float64(max(p.Total, 1))
		bar := strings.Repeat("█", int(pct*30)) + strings.Repeat("░", 30-int(pct*30))
		fmt.Fprintf(out, "\r  demo data %s %5.1f%%  %d/%d records  %.0f/s ", bar, pct*100, p.Items, p.Total, float64(p.Items)/max(p.Elapsed.Seconds(), 0.001))
	})
	fmt.Fprintln(out)
	if err != nil {
		return fmt.Errorf("demo load: %w", err)
	}
	logger.Info("demo data loaded", "records", n)
	return nil
}

// demoSources are the channels the demo's events arrive from, each under
// a write key of its own, as a brand's Douyin and mini-program collectors
// would send them.
var demoSources = []string{"douyin", "mini_program"}

// demoWriteKeys makes sure write keys exist for the demo loader: the
// configured one (or a new "demo" server key) for orders and imports, and a
// client key per event source, as its SDK would carry.
func demoWriteKeys(ctx context.Context, creds *api.Credentials, configured string) (string, map[string]string, error) {
	keys := map[string]string{}
	for _, src := range demoSources {
		secret := api.NewSecret("cdp_wk_")
		if err := creds.PutWriteKey(ctx, api.Principal{ID: "wk_demo_" + src, Name: "demo loader (" + src + ")", Source: src, Scope: api.ScopeClient}, secret, "demo"); err != nil {
			return "", nil, err
		}
		keys[src] = secret
	}
	if configured != "" {
		return configured, keys, nil
	}
	secret := api.NewSecret("cdp_wk_")
	err := creds.PutWriteKey(ctx, api.Principal{ID: "wk_demo", Name: "demo loader", Source: "demo", Scope: api.ScopeServer}, secret, "demo")
	return secret, keys, err
}

func databaseEmpty(ctx context.Context, db *store.DB) (bool, error) {
	var n uint64
	if err := db.Conn.QueryRow(ctx, "SELECT count() FROM "+db.Table("events")).Scan(&n); err != nil {
		return false, fmt.Errorf("demo: count events: %w", err)
	}
	return n == 0, nil
}

// demoSegmentDefs are the example segments of the demo: the flagship
// audience and two everyday ones.
var demoSegmentDefs = []segments.Definition{
	{Name: "高潜控糖人群 (high-potential blood-sugar control)", Live: true,
		Description: "完播控糖视频≥2次/30天，或企微咨询血糖，或买过低GI大米但近60天未复购；一线城市；LTV>300",
		Rule:        `(did("video_complete", 30, {"topic": "控糖"}) >= 2 || chat("血糖", 30) || lapsed("低GI大米", 60)) && city_tier == 1 && ltv > 300`},
	{Name: "抖音控糖兴趣未购 (Douyin blood-sugar viewers, no order yet)", Live: true,
		Description: "30天内完播控糖视频，但从未下单",
		Rule:        `did("video_complete", 30, {"topic": "控糖"}) >= 1 && orders() == 0`},
	{Name: "食用油复购提醒 (oil buyers due to repurchase)", Live: true,
		Description: "买过花生油或高油酸花生油，但近45天未再买",
		Rule:        `lapsed("高油酸花生油", 45) || lapsed("花生油", 45)`},
}

// demoSegments creates the example segments once.
func demoSegments(ctx context.Context, store *segments.Store, logger *slog.Logger) error {
	if len(store.List()) > 0 {
		return nil
	}
	for _, d := range demoSegmentDefs {
		saved, err := store.Save(ctx, d, "demo")
		if err != nil {
			return fmt.Errorf("demo segment %q: %w", d.Name, err)
		}
		logger.Info("demo segment created", "segment", saved.ID, "name", saved.Name, "members", saved.Size)
	}
	return nil
}

// demoCampaign sends the demo's two offers (demoExamples) on the outbox
// channel as of 30 days before the demo's end, so that the generated
// orders after it show a result against the holdout, and writes what each
// offer truly did to demoTruthFile. It does nothing when a campaign exists
// already or the demo segments do not.
func demoCampaign(ctx context.Context, cfg config, svc *campaigns.Service, segs *segments.Store, logger *slog.Logger) error {
	existing, err := svc.Campaigns(ctx)
	if err != nil || len(existing) > 0 {
		return err
	}
	byRule := map[string]string{}
	for _, d := range segs.List() {
		byRule[d.Rule] = d.ID
	}
	flagship, oil := byRule[demoSegmentDefs[0].Rule], byRule[demoSegmentDefs[2].Rule]
	if flagship == "" || oil == "" {
		return nil
	}
	launch := demoEnd.Add(-30*24*time.Hour + 10*time.Hour) // 10:00, outside quiet hours
	back := demoAsOf(svc, segs, launch, logger)
	if err := demoGrantConsents(ctx, back); err != nil {
		return err
	}
	g := gen.New(gen.Config{Seed: uint64(cfg.DemoSeed), Households: cfg.DemoHouseholds, End: demoEnd})
	truth := []demoTruth{}
	for _, ex := range demoExamples(flagship, oil) {
		t, err := demoLaunch(ctx, back, g, ex, logger)
		if err != nil {
			return err
		}
		truth = append(truth, t)
	}
	if err := writeDemoTruth(cfg.DataDir, truth); err != nil {
		return err
	}
	logger.Info("demo truth written", "path", filepath.Join(cfg.DataDir, demoTruthFile))
	return nil
}

// demoAsOf is the campaigns service as of launch: the campaigns go to
// their audiences as they were then, since a segment's windows (watched in
// the last 30 days, not bought in the last 45) are measured from then, not
// from today.
func demoAsOf(svc *campaigns.Service, segs *segments.Store, launch time.Time, logger *slog.Logger) *campaigns.Service {
	opts := segments.DefaultOptions()
	opts.Logger, opts.Now = logger, func() time.Time { return launch }
	then := segments.NewEngine(svc.DB, opts)
	return &campaigns.Service{DB: svc.DB, Writer: svc.Writer, Segments: svc.Segments, Logger: svc.Logger,
		Now: func() time.Time { return launch },
		MembersAsOf: func(ctx context.Context, id string) (*roaring.Bitmap, error) {
			d, err := segs.Get(id)
			if err != nil {
				return nil, err
			}
			c, err := then.Check(d.Rule)
			if err != nil {
				return nil, err
			}
			return then.Evaluate(ctx, c)
		}}
}

// demoGrantConsents records separate consent to health-topic offers (PIPL
// art. 29), as a brand collects it: customers who asked a staff member
// about blood sugar, and about 60% of WeCom contacts, who ticked it in the
// welcome message's form. The health-interest campaign may reach only
// them.
func demoGrantConsents(ctx context.Context, svc *campaigns.Service) error {
	consented, err := demoConsents(ctx, svc)
	if err != nil {
		return err
	}
	return svc.SetConsents(ctx, consented, campaigns.Consent{Channel: "*", Kind: campaigns.KindSensitiveConsent, Granted: true,
		Source: "demo_welcome_form", Evidence: "demo: generated answers to the WeCom welcome message's consent form"})
}

// demoConsents picks the demo's persons with separate consent.
func demoConsents(ctx context.Context, svc *campaigns.Service) ([]uint32, error) {
	asked, err := svc.PersonsWhoWrote(ctx, "血糖", "控糖", "低GI")
	if err != nil {
		return nil, err
	}
	rows, err := svc.DB.Conn.Query(ctx, "SELECT DISTINCT p.canonical FROM "+svc.DB.Table("wecom_contact_events")+" AS c"+
		" INNER JOIN "+schema.Canonical(svc.DB.Table("persons"), "")+" AS p ON p.person_id = c.person_id"+
		" WHERE c.person_id != 0 AND cityHash64(p.canonical, 'demo-consent') % 10 < 6")
	if err != nil {
		return nil, fmt.Errorf("demo: read consenting WeCom contacts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p uint32
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("demo: read consenting WeCom contacts: %w", err)
		}
		asked = append(asked, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("demo: read consenting WeCom contacts: %w", err)
	}
	return asked, nil
}

// demoExample is one demo campaign: its offer, audience and message, and
// the offer's true effect.
type demoExample struct {
	offer    campaigns.Offer
	name     string
	segment  string
	template string
	effect   gen.Effect
}

// demoExamples are the demo's campaigns: the low-GI rice trial pack to the
// flagship audience and a peanut-oil repurchase coupon to oil buyers due.
func demoExamples(flagship, oil string) []demoExample {
	return []demoExample{
		{campaigns.Offer{Name: "低GI大米试用装 500g", Categories: []string{"低GI大米", "低GI大米试用装"}, Link: "https://example.com/lgi-trial"},
			"控糖人群低GI试用装 (low-GI trial pack)", flagship,
			"{{name}}您好，我是您的营养顾问{{staff}}。控糖期间主食很关键，送您一份{{offer}}，点此领取：{{link}}", gen.LowGITrialEffect},
		{campaigns.Offer{Name: "高油酸花生油 5L 复购立减 20 元", Categories: []string{"高油酸花生油", "花生油"}, Link: "https://example.com/oil-repurchase"},
			"花生油复购券 (peanut oil repurchase coupon)", oil,
			"{{name}}您好，家里的花生油快用完了吧？{{offer}}，点此领取：{{link}}", gen.PeanutOilCouponEffect},
	}
}

// demoLaunch saves and launches one demo campaign, valid for the demo's
// last 30 days, and applies its offer's true effect (demoRespond).
func demoLaunch(ctx context.Context, back *campaigns.Service, g *gen.Generator, ex demoExample, logger *slog.Logger) (demoTruth, error) {
	ex.offer.ValidFrom, ex.offer.ValidTo = demoEnd.Add(-30*24*time.Hour), demoEnd
	offer, err := back.SaveOffer(ctx, ex.offer)
	if err != nil {
		return demoTruth{}, err
	}
	c, err := back.SaveCampaign(ctx, campaigns.Campaign{Name: ex.name, OfferID: offer.ID, SegmentID: ex.segment,
		Channel: campaigns.ChannelOutbox, HoldoutPercent: 20, QuietStart: 21, QuietEnd: 8, Template: ex.template}, "demo")
	if err != nil {
		return demoTruth{}, err
	}
	c, plan, err := back.Launch(ctx, c.ID, "demo")
	if err != nil {
		return demoTruth{}, err
	}
	logger.Info("demo campaign sent", "campaign", c.ID, "name", c.Name, "treatment", plan.Counts[campaigns.GroupTreatment],
		"holdout", plan.Counts[campaigns.GroupHoldout], "excluded", plan.Counts[campaigns.GroupExcluded])
	t, err := demoRespond(ctx, back, g, c, ex.effect)
	if err != nil {
		return demoTruth{}, fmt.Errorf("demo response to %s: %w", c.Name, err)
	}
	logger.Info("demo campaign's true effect", "campaign", c.ID, "natural_rate", t.NaturalRate, "multiplier", t.ConversionMultiplier,
		"responders", t.Responders, "true_conversion_effect", t.ConversionEffect, "true_revenue_effect", t.RevenueEffect)
	return t, nil
}

// demoTruth is the truth of one demo campaign: its offer's effect and
// what it comes to in the campaign's audience.
type demoTruth struct {
	CampaignID string `json:"campaign_id"`
	Campaign   string `json:"campaign"`
	gen.EffectTruth
}

// demoTruthFile, in the data directory, holds the demo campaigns' truth.
const demoTruthFile = "demo-truth.json"

// writeDemoTruth writes the truth whole or not at all: a reader never sees
// a file half-written (written beside, then renamed over the old one).
func writeDemoTruth(dir string, truth []demoTruth) error {
	b, err := json.MarshalIndent(truth, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, demoTruthFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, demoTruthFile))
}

// demoInsert inserts rows into a table in one batch.
func demoInsert(ctx context.Context, db *store.DB, table, columns string, rows [][]any) error {
	b, err := db.Conn.PrepareBatch(ctx, "INSERT INTO "+db.Table(table)+" ("+columns+")")
	if err != nil {
		return fmt.Errorf("demo: insert into %s: %w", table, err)
	}
	defer b.Close()
	for _, r := range rows {
		if err := b.Append(r...); err != nil {
			return fmt.Errorf("demo: insert into %s: %w", table, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("demo: insert into %s: %w", table, err)
	}
	return nil
}

// demoRespond applies an offer's true effect to a launched demo campaign:
// the generator decides which reached treatment persons respond (at the
// rate that multiplies the audience's natural conversion as declared),
// and their response orders are written as a channel's orders would be.
// The holdout is left as generated.
func demoRespond(ctx context.Context, svc *campaigns.Service, g *gen.Generator, c campaigns.Campaign, e gen.Effect) (demoTruth, error) {
	outcomes, err := svc.Outcomes(ctx, c.ID)
	if err != nil {
		return demoTruth{}, err
	}
	var persons, treatment, reached, natural int
	for _, o := range outcomes {
		persons++
		if o.Converted {
			natural++
		}
		if o.Group == campaigns.GroupTreatment {
			treatment++
			if o.Reached {
				reached++
			}
		}
	}
	p0 := float64(natural) / float64(max(persons, 1))
	var orders, lines [][]any
	for _, o := range outcomes {
		if o.Group != campaigns.GroupTreatment || !o.Reached {
			continue
		}
		r, ok := g.Respond(e, fmt.Sprint(o.Person), c.LaunchedAt, c.AttributionDays, o.Converted, p0)
		if !ok {
			continue
		}
		id, amount := fmt.Sprintf("resp-%s-%d", c.ID, o.Person), fmt.Sprintf("%.2f", r.Amount)
		orders = append(orders, []any{"mini_program", id, uint64(1), "paid", r.At.UTC(), r.At.UTC(), amount, "demo_response", o.Person})
		lines = append(lines, []any{"mini_program", id, uint16(1), uint64(1), e.SKU, e.Category, "1", amount, amount, r.At.UTC(), o.Person})
	}
	if len(orders) > 0 {
		// Not through the shared writer: ingest registered these tables
		// with all their columns.
		if err := demoInsert(ctx, svc.DB, "orders", "channel, order_id, version, status, ordered_at, status_at, amount, source, person_id", orders); err != nil {
			return demoTruth{}, err
		}
		if err := demoInsert(ctx, svc.DB, "order_lines", "channel, order_id, line_no, version, sku, category, quantity, unit_price, amount, ordered_at, person_id", lines); err != nil {
			return demoTruth{}, err
		}
	}
	return demoTruth{CampaignID: c.ID, Campaign: c.Name, EffectTruth: e.Truth(persons, treatment, reached, p0, len(orders))}, nil
}
