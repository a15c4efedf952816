package campaigns

import (
	"context"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/RoaringBitmap/roaring/v2"
	"golang.org/x/sync/errgroup"

	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/segments"
)

// Planning is a campaign being planned, as its channel's Address sees it.
type Planning struct {
	Campaign Campaign
	// Audience is what planning gathers: Members and the bitmaps of the
	// rules every channel shares are set; the channel adds Addresses and,
	// with a cap of its own, AtChannelCap.
	Audience *Audience
	// Today is the start of the planning's day in Beijing time.
	Today time.Time
	s     *Service
	scope scope
}

// countedSends is the condition on campaign_sends rows that count towards
// the caps: treatment sends planned or on their way.
const countedSends = "group = 'treatment' AND state IN ('planned', 'sending', 'sent', 'delivered')"

// perCanonical is the query of the canonical persons of the rows of x (a
// subquery with person_id) that satisfy cond (on x's columns).
func (p *Planning) perCanonical(x, cond string) string {
	return "SELECT p.canonical AS person_id FROM " + x + " AS x INNER JOIN " + schema.Canonical(p.s.DB.Table("persons"), p.scope.cond) +
		" AS p ON p.person_id = x.person_id WHERE " + cond
}

// bitmap runs the query name of the planning's scope (its parameter added
// to args) as one bitmap.
func (p *Planning) bitmap(ctx context.Context, name, query string, args ...any) (*roaring.Bitmap, error) {
	return p.s.bitmap(ctx, name, query, append(args, p.scope.args()...)...)
}

// phoneAddresses sets each member's address to their latest phone (as its
// keyed hash): the address of channels that send to phones.
func (p *Planning) phoneAddresses(ctx context.Context) error {
	s, sc := p.s, p.scope
	addr := map[uint32]Address{}
	err := s.each(ctx, "read phone addresses", `SELECT p.canonical, argMax(l.id_value, l.linked_at)
		FROM (SELECT * FROM `+s.DB.Table("identity_links")+` FINAL WHERE id_type = 'phone' AND contested = 0`+sc.and()+`) AS l
		INNER JOIN `+schema.Canonical(s.DB.Table("persons"), sc.cond)+` AS p ON p.person_id = l.person_id
		GROUP BY p.canonical`, sc.args(), func(rows driver.Rows) error {
		var person uint32
		var h string
		if err := rows.Scan(&person, &h); err != nil {
			return err
		}
		addr[person] = Address{To: h}
		return nil
	})
	p.Audience.Addresses = func(person uint32) (Address, bool) { v, ok := addr[person]; return v, ok }
	return err
}

// audience gathers what planning needs for a campaign, for members (nil:
// the campaign's segment's current members).
// The second result says why the campaign needs separate consent (nil:
// it does not).
func (s *Service) audience(ctx context.Context, c Campaign, members *roaring.Bitmap) (Audience, *segments.Finding, error) {
	members, sensitive, err := s.members(ctx, c, members)
	if err != nil {
		return Audience{}, nil, err
	}
	a := Audience{Members: members}
	sc, err := s.scope(ctx, members)
	if err != nil {
		return a, nil, err
	}
	y, m, d := s.now().In(schema.Beijing).Date()
	p := &Planning{Campaign: c, Audience: &a, Today: time.Date(y, m, d, 0, 0, 0, 0, schema.Beijing), s: s, scope: sc}
	// Opt-outs, consents and caps are independent reads (each sets its
	// own field of the audience): one round trip's wait instead of three,
	// which a segment entry's send waits for.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return p.optOuts(gctx) })
	g.Go(func() error { return p.consented(gctx) })
	g.Go(func() error { return p.caps(gctx) })
	if err := g.Wait(); err != nil {
		return a, nil, err
	}
	if r, ok := s.channels().lookup(c.Channel); ok && r.person != nil {
		if err := r.person.Address(ctx, p); err != nil {
			return a, nil, err
		}
	}
	return a, sensitive, nil
}

// members returns the members to plan (members, else the campaign's
// segment's) and why they need separate consent (nil: they do not): the
// segment's sensitivity, else the step's (StepSensitive).
func (s *Service) members(ctx context.Context, c Campaign, members *roaring.Bitmap) (*roaring.Bitmap, *segments.Finding, error) {
	var sensitive *segments.Finding
	if c.SegmentID != "" {
		var err error
		if sensitive, err = s.sensitivity(ctx, c.SegmentID); err != nil {
			return nil, nil, err
		}
		switch {
		case members != nil:
		case s.MembersAsOf != nil:
			if members, err = s.MembersAsOf(ctx, c.SegmentID); err != nil {
				return nil, nil, err
			}
		default:
			if members, err = s.Segments.Members(c.SegmentID); err != nil {
				return nil, nil, err
			}
		}
	}
	if members == nil {
		members = roaring.New()
	}
	if sensitive == nil {
		sensitive = c.StepSensitive
	}
	return members, sensitive, nil
}

// Consents: each person's latest decision per row (the campaign's
// channel and every channel, '*'), then both rows together, each way
// erring on the safe side: opted out when either row says so (optOuts);
// consented only when no row's latest decision withdraws it (consented).
func (p *Planning) latestConsents() string {
	return "(SELECT person_id, max(granted) AS any_granted, min(granted) AS all_granted FROM (SELECT person_id, argMax(granted, ts) AS granted FROM " +
		p.s.DB.Table("consents") + " WHERE kind = {kind:String} AND channel IN ({channel:String}, '*')" + p.scope.and() +
		" GROUP BY person_id, channel) GROUP BY person_id)"
}

// optOuts reads who opted out of the campaign's channel.
func (p *Planning) optOuts(ctx context.Context) error {
	var err error
	p.Audience.OptedOut, err = p.bitmap(ctx, "read opt-outs", p.perCanonical(p.latestConsents(), "x.any_granted = 1"),
		named("kind", KindOptOut), named("channel", p.Campaign.Channel))
	return err
}

// consented reads who gave separate consent.
func (p *Planning) consented(ctx context.Context) error {
	var err error
	p.Audience.Consented, err = p.bitmap(ctx, "read separate consents", p.perCanonical(p.latestConsents(), "x.all_granted = 1"),
		named("kind", KindSensitiveConsent), named("channel", p.Campaign.Channel))
	return err
}

// caps reads who is at a cap across campaigns: today (Beijing time), the
// last 7 and 30 days.
func (p *Planning) caps(ctx context.Context) error {
	const at = "DateTime64(3, 'UTC')"
	windows := "(SELECT person_id, countIf(planned_at >= {day:" + at + "}) AS nd, countIf(planned_at >= {week:" + at + "}) AS nw, count() AS nm FROM " +
		p.s.DB.Table("campaign_sends") + " FINAL WHERE " + countedSends + " AND planned_at >= {month:" + at + "}" + p.scope.and() + " GROUP BY person_id)"
	capped := "({cap_day:Int64} > 0 AND x.nd >= {cap_day:Int64}) OR x.nw >= {cap_week:Int64} OR ({cap_month:Int64} > 0 AND x.nm >= {cap_month:Int64})"
	c, now := p.Campaign, p.s.now()
	var err error
	p.Audience.AtCap, err = p.bitmap(ctx, "read cap counts", p.perCanonical(windows, capped),
		named("day", p.Today), named("week", now.Add(-7*24*time.Hour)), named("month", now.Add(-30*24*time.Hour)),
		named("cap_day", c.CapPerDay), named("cap_week", c.CapPerWeek), named("cap_month", c.CapPerMonth))
	return err
}

// narrowAudience is the largest audience whose queries are narrowed to its
// persons (a trigger's entries); larger ones read the tables whole.
const narrowAudience = 20_000

// scope narrows the planning queries to an audience's person ids (before
// merges), when the audience is small.
type scope struct {
	cond string   // a condition on person_id; "" for none
	ids  []uint32 // the {scope:Array(UInt32)} parameter of cond
}

// and is the scope's condition after others.
func (sc scope) and() string {
	if sc.cond == "" {
		return ""
	}
	return " AND " + sc.cond
}

// args are the scope's query parameters.
func (sc scope) args() []any {
	if sc.ids == nil {
		return nil
	}
	return []any{named("scope", sc.ids)}
}

// scope narrows queries to the person ids (before merges) of members
// when they are few (the merged ids included), else not at all.
func (s *Service) scope(ctx context.Context, members *roaring.Bitmap) (scope, error) {
	if members.GetCardinality() > narrowAudience {
		return scope{}, nil
	}
	if members.IsEmpty() {
		return scope{cond: "0"}, nil
	}
	ids := members.Clone()
	merged, _, err := s.mergedIDs(ctx, "read the audience's merged ids", members.ToArray())
	ids.AddMany(merged)
	return scope{cond: "person_id IN {scope:Array(UInt32)}", ids: ids.ToArray()}, err
}
