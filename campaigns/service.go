package campaigns

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/RoaringBitmap/roaring/v2"

	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/segments"
	"github.com/granarycdp/cdp/store"
)

// Service stores offers and campaigns, plans and sends them, and reports
// results. It is safe for concurrent use.
type Service struct {
	DB       *store.DB
	Writer   *store.Writer
	Segments *segments.Store
	Logger   *slog.Logger
	Now      func() time.Time
	// MembersAsOf, when set, gives the members a campaign is planned for
	// when none are given: its segment's rule evaluated as of the
	// service's clock rather than the segment's current members (the
	// demo, whose campaigns are launched in the past, plans them for
	// their audience as it was then).
	MembersAsOf func(ctx context.Context, segmentID string) (*roaring.Bitmap, error)
	// Chunk is how many sends go per step (default 50,000).
	Chunk int
	// Channels configure WeCom, robots and webhooks and hold the channels
	// registered beside the built-in ones (nil: none configured, so of the
	// built-in channels only the outbox sends).
	Channels *Channels

	mu     sync.Mutex // serialises planning: launches and trigger rounds
	sendMu sync.Mutex // serialises sending

	looping       atomic.Bool // Run is active: it sends
	sweep         atomic.Bool // a launch or schedule asked Run for a full round
	wakeMu        sync.Mutex
	wake          chan struct{}
	entered       map[string]*roaring.Bitmap // segment -> persons who entered, not yet planned
	recovered     map[string]bool            // campaign -> entries logged before this process caught up (recoverEntries)
	lastReplenish map[string]time.Time
	// settled holds the campaigns whose last send in this process went
	// through: nothing of theirs is left "sending" but by a crash before
	// the process started, which their first send settled. Under sendMu.
	settled map[string]bool

	stampMu   sync.Mutex
	lastStamp time.Time
	// crashAfter, in tests, fails a launch at a named step as a crash
	// would (see crash).
	crashAfter func(step string) error
}

// now is the service's clock in UTC (ClickHouse knows zones by IANA name
// only, not fixed offsets).
func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// stamp is the clock for row versions (updated_at): strictly increasing,
// so that a later state of a row always replaces an earlier one even
// within one millisecond or under a test's fixed clock.
func (s *Service) stamp() time.Time {
	s.stampMu.Lock()
	defer s.stampMu.Unlock()
	t := s.now().Truncate(time.Millisecond)
	if !t.After(s.lastStamp) {
		t = s.lastStamp.Add(time.Millisecond)
	}
	s.lastStamp = t
	return t
}

func newID(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// SaveOffer creates (no id) or versions an offer.
func (s *Service) SaveOffer(ctx context.Context, o Offer) (Offer, error) {
	if err := o.validate(); err != nil {
		return Offer{}, err
	}
	if o.ID == "" {
		o.ID, o.Version = newID("off_"), 1
	} else {
		old, err := s.Offer(ctx, o.ID)
		if err != nil {
			return Offer{}, err
		}
		o.Version = old.Version + 1
	}
	def, _ := json.Marshal(o)
	return o, s.exec(ctx, "write an offer", "INSERT INTO "+s.DB.Table("offers")+" (offer_id, version, definition, deleted, ts)"+
		" VALUES ({offer:String}, {version:UInt32}, {definition:String}, 0, {ts:DateTime64(3, 'UTC')})",
		named("offer", o.ID), named("version", o.Version), named("definition", string(def)), named("ts", s.now()))
}

// Offer returns the current version of an offer.
func (s *Service) Offer(ctx context.Context, id string) (Offer, error) {
	var def string
	if err := s.one(ctx, "read an offer", "SELECT argMax(definition, version) FROM "+s.DB.Table("offers")+" WHERE offer_id = {offer:String}",
		[]any{named("offer", id)}, &def); err != nil {
		return Offer{}, err
	}
	if def == "" {
		return Offer{}, ErrNotFound
	}
	var o Offer
	return o, json.Unmarshal([]byte(def), &o)
}

// Offers lists the current offers.
func (s *Service) Offers(ctx context.Context) ([]Offer, error) {
	return listJSON[Offer](ctx, s, "list offers", "SELECT argMax(definition, version) FROM "+s.DB.Table("offers")+" GROUP BY offer_id")
}

// SaveCampaign creates (no id) or versions a draft campaign.
func (s *Service) SaveCampaign(ctx context.Context, c Campaign, by string) (Campaign, error) {
	if err := c.validate(s.channels()); err != nil {
		return Campaign{}, err
	}
	if _, err := s.Offer(ctx, c.OfferID); err != nil {
		return Campaign{}, &FieldError{"offer_id", "no such offer"}
	}
	if c.SegmentID != "" {
		if _, err := s.Segments.Get(c.SegmentID); err != nil {
			return Campaign{}, &FieldError{"segment_id", "no such segment"}
		}
	}
	if err := s.channels().configured(c); err != nil {
		return Campaign{}, err
	}
	if c.ID == "" {
		c.ID, c.Version, c.Status = newID("cmp_"), 0, StatusDraft
	} else {
		old, err := s.Campaign(ctx, c.ID)
		if err != nil {
			return Campaign{}, err
		}
		if old.Status != StatusDraft {
			return Campaign{}, &FieldError{"status", "only a draft campaign can be edited; it is " + old.Status}
		}
		c.Version, c.Status = old.Version, StatusDraft
	}
	c.CreatedBy = by
	return c, s.writeCampaign(ctx, &c, by)
}

func (s *Service) writeCampaign(ctx context.Context, c *Campaign, by string) error {
	c.Version++
	def, _ := json.Marshal(c)
	return s.exec(ctx, "write a campaign", "INSERT INTO "+s.DB.Table("campaigns")+" (campaign_id, version, definition, status, ts, by)"+
		" VALUES ({campaign:String}, {version:UInt32}, {definition:String}, {status:String}, {ts:DateTime64(3, 'UTC')}, {by:String})",
		named("campaign", c.ID), named("version", c.Version), named("definition", string(def)), named("status", c.Status), named("ts", s.now()), named("by", by))
}

// Campaign returns the current version of a campaign.
func (s *Service) Campaign(ctx context.Context, id string) (Campaign, error) {
	var def string
	if err := s.one(ctx, "read a campaign", "SELECT argMax(definition, version) FROM "+s.DB.Table("campaigns")+" WHERE campaign_id = {campaign:String}",
		[]any{named("campaign", id)}, &def); err != nil {
		return Campaign{}, err
	}
	if def == "" {
		return Campaign{}, ErrNotFound
	}
	var c Campaign
	return c, json.Unmarshal([]byte(def), &c)
}

// Campaigns lists the current campaigns.
func (s *Service) Campaigns(ctx context.Context) ([]Campaign, error) {
	return listJSON[Campaign](ctx, s, "list campaigns", "SELECT argMax(definition, version) FROM "+s.DB.Table("campaigns")+" GROUP BY campaign_id")
}

// Preview plans a campaign without writing anything: counts by group and
// by exclusion reason, and rendered sample messages.
func (s *Service) Preview(ctx context.Context, id string) (Plan, []string, error) {
	c, err := s.Campaign(ctx, id)
	if err != nil {
		return Plan{}, nil, err
	}
	p, err := s.plan(ctx, c, nil)
	if err != nil {
		return Plan{}, nil, err
	}
	offer, _ := s.Offer(ctx, c.OfferID)
	var sample []Recipient
	for _, e := range p.Entries {
		if e.Group == GroupTreatment && len(sample) < 3 {
			sample = append(sample, Recipient{Person: e.Person, Sender: e.Address.Sender})
		}
	}
	if len(sample) == 0 {
		return p, nil, nil
	}
	samples, err := s.dispatch(c, offer).messages(ctx, sample)
	if err != nil {
		return p, nil, err
	}
	return p, samples, nil
}

// plan plans members (nil: the segment's members) of campaign c. A
// triggered campaign's quiet hours delay its sends instead of excluding
// people (the sender waits for them to end); its send limit counts the
// sends planned before.
func (s *Service) plan(ctx context.Context, c Campaign, members *roaring.Bitmap) (Plan, error) {
	a, sensitive, err := s.audience(ctx, c, members)
	if err != nil {
		return Plan{}, err
	}
	o := PlanOptions{CampaignID: c.ID, HoldoutPercent: c.HoldoutPercent, GlobalControlPercent: c.GlobalControlPercent,
		Sensitive: sensitive != nil, QuietStart: c.QuietStart, QuietEnd: c.QuietEnd, SendLimit: c.SendLimit, Now: s.now()}
	if c.Trigger != TriggerOnce && c.Trigger != "" {
		o.QuietStart, o.QuietEnd = 0, 0
		if c.SendLimit > 0 {
			var n uint64
			if err := s.one(ctx, "count the sends planned before", "SELECT count() FROM "+s.DB.Table("campaign_sends")+
				" FINAL WHERE campaign_id = {campaign:String} AND group = 'treatment'", []any{named("campaign", c.ID)}, &n); err != nil {
				return Plan{}, err
			}
			if o.SendLimit -= int(n); o.SendLimit <= 0 {
				o.SendLimit = -1 // nothing left
			}
		}
	}
	p := MakePlan(a, o)
	p.Sensitive = sensitive
	return p, nil
}

// PersonsWhoWrote returns the persons (canonical) who wrote any of the
// keywords to a staff member in a WeCom chat (recalled messages excluded).
func (s *Service) PersonsWhoWrote(ctx context.Context, keywords ...string) ([]uint32, error) {
	return s.wrote(ctx, nil, keywords)
}

// wrote returns the persons (canonical) among persons (nil: all) who wrote
// any of the keywords to a staff member in a WeCom chat.
func (s *Service) wrote(ctx context.Context, persons []uint32, keywords []string) ([]uint32, error) {
	among, args := "", []any{named("keywords", keywords)}
	if persons != nil {
		among, args = " AND m.person_id IN {persons:Array(UInt32)}", append(args, named("persons", persons))
	}
	bm, err := s.bitmap(ctx, "read who wrote the keywords", "SELECT DISTINCT p.canonical AS person_id FROM "+s.DB.Table("wecom_messages_visible")+" AS m"+
		" INNER JOIN "+schema.Canonical(s.DB.Table("persons"), "")+" AS p ON p.person_id = m.person_id"+
		" WHERE m.person_id != 0"+among+" AND m.from = m.external_userid AND multiSearchAnyUTF8(m.content, {keywords:Array(String)})", args...)
	if err != nil {
		return nil, err
	}
	return bm.ToArray(), nil
}

// Received is one campaign a person was planned into.
type Received struct {
	CampaignID string    `json:"campaign_id"`
	Name       string    `json:"name"`
	Group      string    `json:"group"`
	Reason     string    `json:"reason,omitempty"`
	State      string    `json:"state"`
	PlannedAt  time.Time `json:"planned_at"`
}

// ReceivedBy lists the campaigns persons (one person's merged ids) were
// planned into, newest first: sent, held out or excluded, and why.
func (s *Service) ReceivedBy(ctx context.Context, persons []uint32) ([]Received, error) {
	return collect(ctx, s, "read the campaigns persons were planned into", `SELECT s.campaign_id, JSONExtractString(c.def, 'name'), s.group, s.reason, s.state, s.planned_at
		FROM `+s.DB.Table("campaign_sends")+` AS s FINAL
		LEFT JOIN (SELECT campaign_id, argMax(definition, version) AS def FROM `+s.DB.Table("campaigns")+` GROUP BY campaign_id) AS c
			ON c.campaign_id = s.campaign_id
		WHERE s.person_id IN {persons:Array(UInt32)} ORDER BY s.planned_at DESC LIMIT 100`, []any{named("persons", persons)},
		func(rows driver.Rows, r *Received) error {
			return rows.Scan(&r.CampaignID, &r.Name, &r.Group, &r.Reason, &r.State, &r.PlannedAt)
		})
}
