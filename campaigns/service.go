package campaigns

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

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
	// Channels configure WeCom, robots and webhooks (nil: outbox only).
	Channels *Channels

	mu     sync.Mutex // serialises planning: launches and trigger rounds
	sendMu sync.Mutex // serialises sending

	looping       atomic.Bool // Run is active: it sends
	wakeMu        sync.Mutex
	wake          chan struct{}
	entered       map[string]*roaring.Bitmap // segment -> persons who entered, not yet planned
	lastReplenish map[string]time.Time

	stampMu   sync.Mutex
	lastStamp time.Time
	// crashAfter, in tests, fails a launch at a named step as a crash
	// would ("plan": after the plan is written; "channel": after a chunk
	// reached the channel, before its state moved).
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
	err := s.DB.Conn.Exec(ctx, "INSERT INTO "+s.DB.Table("offers")+" (offer_id, version, definition, deleted, ts) VALUES (?, ?, ?, 0, ?)",
		o.ID, o.Version, string(def), s.now())
	return o, err
}

// Offer returns the current version of an offer.
func (s *Service) Offer(ctx context.Context, id string) (Offer, error) {
	var def string
	err := s.DB.Conn.QueryRow(ctx, "SELECT argMax(definition, version) FROM "+s.DB.Table("offers")+" WHERE offer_id = ?", id).Scan(&def)
	if err != nil {
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
	return listJSON[Offer](ctx, s.DB, "SELECT argMax(definition, version) FROM "+s.DB.Table("offers")+" GROUP BY offer_id")
}

func listJSON[T any](ctx context.Context, db *store.DB, query string) ([]T, error) {
	rows, err := db.Conn.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		var def string
		if err := rows.Scan(&def); err != nil {
			return nil, err
		}
		var v T
		if err := json.Unmarshal([]byte(def), &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// SaveCampaign creates (no id) or versions a draft campaign.
func (s *Service) SaveCampaign(ctx context.Context, c Campaign, by string) (Campaign, error) {
	if err := c.validate(); err != nil {
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
	if err := s.channels().checkTargets(c); err != nil {
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
	return s.DB.Conn.Exec(ctx, "INSERT INTO "+s.DB.Table("campaigns")+" (campaign_id, version, definition, status, ts, by) VALUES (?, ?, ?, ?, ?, ?)",
		c.ID, c.Version, string(def), c.Status, s.now(), by)
}

// Campaign returns the current version of a campaign.
func (s *Service) Campaign(ctx context.Context, id string) (Campaign, error) {
	var def string
	err := s.DB.Conn.QueryRow(ctx, "SELECT argMax(definition, version) FROM "+s.DB.Table("campaigns")+" WHERE campaign_id = ?", id).Scan(&def)
	if err != nil {
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
	return listJSON[Campaign](ctx, s.DB, "SELECT argMax(definition, version) FROM "+s.DB.Table("campaigns")+" GROUP BY campaign_id")
}

// bitmapQuery runs a query returning person ids as one bitmap.
func (s *Service) bitmapQuery(ctx context.Context, query string, args ...any) (*roaring.Bitmap, error) {
	var raw string
	q := "SELECT toString(groupBitmapState(toUInt32(person_id))) FROM (" + query + ")"
	if err := s.DB.Conn.QueryRow(ctx, q, args...).Scan(&raw); err != nil {
		return nil, err
	}
	return segments.DecodeGroupBitmap([]byte(raw))
}

// audience gathers what planning needs for a campaign, for members (nil:
// the campaign's segment's current members).
// The second result says why the campaign needs separate consent (nil:
// it does not).
func (s *Service) audience(ctx context.Context, c Campaign, members *roaring.Bitmap) (Audience, *segments.Finding, error) {
	var sensitive *segments.Finding
	if c.SegmentID != "" {
		var err error
		if sensitive, err = s.sensitivity(ctx, c.SegmentID); err != nil {
			return Audience{}, nil, err
		}
		switch {
		case members != nil:
		case s.MembersAsOf != nil:
			if members, err = s.MembersAsOf(ctx, c.SegmentID); err != nil {
				return Audience{}, nil, err
			}
		default:
			if members, err = s.Segments.Members(c.SegmentID); err != nil {
				return Audience{}, nil, err
			}
		}
	}
	if members == nil {
		members = roaring.New()
	}
	a := Audience{Members: members}
	scope, err := s.scope(ctx, members)
	if err != nil {
		return a, nil, err
	}
	canon := "SELECT p.canonical AS person_id FROM %s AS x INNER JOIN (SELECT person_id, canonical FROM " + s.DB.Table("persons") + " FINAL WHERE 1" + scope + ") AS p ON p.person_id = x.person_id WHERE %s"
	// Each person's latest decision per row (the campaign's channel and
	// every channel, '*'), then both rows together, each way erring on the
	// safe side: opted out when either row says so; consented only when
	// no row's latest decision withdraws it.
	consents := "(SELECT person_id, max(granted) AS any_granted, min(granted) AS all_granted FROM (SELECT person_id, argMax(granted, ts) AS granted FROM " +
		s.DB.Table("consents") + " WHERE kind = ? AND channel IN (?, '*')" + scope + " GROUP BY person_id, channel) GROUP BY person_id)"
	if a.OptedOut, err = s.bitmapQuery(ctx, fmt.Sprintf(canon, consents, "x.any_granted = 1"), "opt_out", c.Channel); err != nil {
		return a, nil, fmt.Errorf("opt-outs: %w", err)
	}
	if a.Consented, err = s.bitmapQuery(ctx, fmt.Sprintf(canon, consents, "x.all_granted = 1"), "sensitive_consent", c.Channel); err != nil {
		return a, nil, fmt.Errorf("consents: %w", err)
	}
	sends := "(SELECT person_id, count() AS n FROM " + s.DB.Table("campaign_sends") + " FINAL WHERE group = 'treatment' AND state IN ('planned', 'sending', 'sent', 'delivered') AND planned_at >= ?%s" + scope + " GROUP BY person_id)"
	// Caps across campaigns: today (Beijing time), the last 7 and 30 days.
	y, m, d := s.now().In(shanghai).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, shanghai)
	windows := "(SELECT person_id, countIf(planned_at >= ?) AS nd, countIf(planned_at >= ?) AS nw, count() AS nm FROM " + s.DB.Table("campaign_sends") +
		" FINAL WHERE group = 'treatment' AND state IN ('planned', 'sending', 'sent', 'delivered') AND planned_at >= ?" + scope + " GROUP BY person_id)"
	capped := "(? > 0 AND x.nd >= ?) OR x.nw >= ? OR (? > 0 AND x.nm >= ?)"
	if a.AtCap, err = s.bitmapQuery(ctx, fmt.Sprintf(canon, windows, capped), today, s.now().Add(-7*24*time.Hour), s.now().Add(-30*24*time.Hour),
		c.CapPerDay, c.CapPerDay, c.CapPerWeek, c.CapPerMonth, c.CapPerMonth); err != nil {
		return a, nil, fmt.Errorf("caps: %w", err)
	}
	switch c.Channel {
	case ChannelOutbox:
		a.Addresses = func(p uint32) (Address, bool) { return Address{To: fmt.Sprintf("person:%d", p)}, true }
	case ChannelWeCom:
		// WeCom's own cap: mass messages a customer receives per day
		// (Beijing time), counting every campaign's WeCom sends.
		if a.AtChannelCap, err = s.bitmapQuery(ctx, fmt.Sprintf(canon, fmt.Sprintf(sends, " AND channel = 'wecom'"), "x.n >= ?"), today, s.channels().dailyCap()); err != nil {
			return a, nil, fmt.Errorf("wecom caps: %w", err)
		}
		addr, err := s.wecomAddresses(ctx, members, scope)
		if err != nil {
			return a, nil, err
		}
		a.Addresses = func(p uint32) (Address, bool) { v, ok := addr[p]; return v, ok }
	case ChannelWebhook:
		addr, err := s.phoneAddresses(ctx, scope)
		if err != nil {
			return a, nil, err
		}
		a.Addresses = func(p uint32) (Address, bool) { v, ok := addr[p]; return v, ok }
	}
	return a, sensitive, nil
}

// narrowAudience is the largest audience whose queries are narrowed to its
// persons (a trigger's entries); larger ones read the tables whole.
const narrowAudience = 20_000

// scope returns a filter (" AND person_id IN (...)") on the person ids
// (before merges) of members when they are few, else "".
func (s *Service) scope(ctx context.Context, members *roaring.Bitmap) (string, error) {
	if members.GetCardinality() > narrowAudience {
		return "", nil
	}
	if members.IsEmpty() {
		return " AND 0", nil
	}
	rows, err := s.DB.Conn.Query(ctx, "SELECT person_id FROM "+s.DB.Table("persons")+" FINAL WHERE canonical IN ?", members.ToArray())
	if err != nil {
		return "", err
	}
	defer rows.Close()
	ids := members.Clone()
	for rows.Next() {
		var p uint32
		if err := rows.Scan(&p); err != nil {
			return "", err
		}
		ids.Add(p)
	}
	var b strings.Builder
	b.WriteString(" AND person_id IN (")
	it := ids.Iterator()
	for first := true; it.HasNext(); first = false {
		if !first {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(uint64(it.Next()), 10))
	}
	b.WriteByte(')')
	return b.String(), rows.Err()
}

// wecomAddresses finds each member's WeCom external user id and the staff
// member who owns them (the latest add or edit not followed by a delete).
func (s *Service) wecomAddresses(ctx context.Context, members *roaring.Bitmap, scope string) (map[uint32]Address, error) {
	rows, err := s.DB.Conn.Query(ctx, `SELECT p.canonical, argMax(c.external_userid, c.ts), argMax(c.staff_userid, c.ts), argMax(c.change_type, c.ts)
		FROM (SELECT * FROM `+s.DB.Table("wecom_contact_events")+` WHERE person_id != 0`+scope+`) AS c
		INNER JOIN (SELECT person_id, canonical FROM `+s.DB.Table("persons")+` FINAL WHERE 1`+scope+`) AS p ON p.person_id = c.person_id
		GROUP BY p.canonical`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[uint32]Address{}
	for rows.Next() {
		var p uint32
		var ext, staff, change string
		if err := rows.Scan(&p, &ext, &staff, &change); err != nil {
			return nil, err
		}
		if members.Contains(p) && change != "del_external_contact" && change != "del_follow_user" {
			out[p] = Address{To: ext, Sender: staff}
		}
	}
	return out, rows.Err()
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
	var sample []pendingSend
	for _, e := range p.Entries {
		if e.Group == GroupTreatment && len(sample) < 3 {
			sample = append(sample, pendingSend{person: e.Person, sender: e.Address.Sender})
		}
	}
	if len(sample) == 0 {
		return p, nil, nil
	}
	who, err := s.recipients(ctx, personsOf(sample))
	if err != nil {
		return p, nil, err
	}
	samples := make([]string, len(sample))
	for i, r := range sample {
		samples[i] = Render(c.Template, vars(who[r.person], r.sender, offer, coupon(offer, c.ID, r.person)))
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
			if err := s.DB.Conn.QueryRow(ctx, "SELECT count() FROM "+s.DB.Table("campaign_sends")+" FINAL WHERE campaign_id = ? AND group = 'treatment'", c.ID).Scan(&n); err != nil {
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
	among, args := "", []any{keywords}
	if persons != nil {
		among, args = " AND m.person_id IN ?", []any{persons, keywords}
	}
	bm, err := s.bitmapQuery(ctx, "SELECT DISTINCT p.canonical AS person_id FROM "+s.DB.Table("wecom_messages_visible")+" AS m"+
		" INNER JOIN (SELECT person_id, canonical FROM "+s.DB.Table("persons")+" FINAL) AS p ON p.person_id = m.person_id"+
		" WHERE m.person_id != 0"+among+" AND m.from = m.external_userid AND multiSearchAnyUTF8(m.content, ?)", args...)
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
	rows, err := s.DB.Conn.Query(ctx, `SELECT s.campaign_id, JSONExtractString(c.def, 'name'), s.group, s.reason, s.state, s.planned_at
		FROM `+s.DB.Table("campaign_sends")+` AS s FINAL
		LEFT JOIN (SELECT campaign_id, argMax(definition, version) AS def FROM `+s.DB.Table("campaigns")+` GROUP BY campaign_id) AS c
			ON c.campaign_id = s.campaign_id
		WHERE s.person_id IN ? ORDER BY s.planned_at DESC LIMIT 100`, persons)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Received{}
	for rows.Next() {
		var r Received
		if err := rows.Scan(&r.CampaignID, &r.Name, &r.Group, &r.Reason, &r.State, &r.PlannedAt); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
