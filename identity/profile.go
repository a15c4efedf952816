package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/granarycdp/cdp/schema"
)

// Profile is the 360° view of one person.
type Profile struct {
	PersonID    uint32              `json:"person_id"`
	Persons     []uint32            `json:"persons"` // ids merged into it
	Identifiers []ProfileIdentifier `json:"identifiers"`
	Traits      json.RawMessage     `json:"traits"` // latest identify traits (identifiers masked)
	Computed    Computed            `json:"computed"`
	Timeline    []TimelineItem      `json:"timeline"`
	Orders      []OrderSummary      `json:"orders"`
	Chats       []ChatItem          `json:"chats"`
	Merges      []Merge             `json:"merges"`
	Conflicts   []Conflict          `json:"conflicts"`
}

// ProfileIdentifier is an identifier as shown: masked as the reader's
// Disclosure asks (see mask.go).
type ProfileIdentifier struct {
	Type      string    `json:"type"`
	Value     string    `json:"value"`
	Masked    bool      `json:"masked"` // Value is a mask, not the identifier`
	Contested bool      `json:"contested"`
	LinkedAt  time.Time `json:"linked_at"`
	Ref       string    `json:"record"`
	Person    uint32    `json:"person"`
}

// ChannelStats is orders and spend in one channel.
type ChannelStats struct {
	Orders int     `json:"orders"`
	Spend  float64 `json:"spend"`
}

// Computed are traits derived from the person's records, computed when
// the profile is read, so they are always current.
type Computed struct {
	FirstSeen          time.Time               `json:"first_seen"`
	LastSeen           time.Time               `json:"last_seen"`
	Orders             int                     `json:"orders"`
	LifetimeValue      float64                 `json:"lifetime_value"`
	AverageOrderValue  float64                 `json:"average_order_value"`
	ByChannel          map[string]ChannelStats `json:"by_channel"`
	RepurchaseDays     float64                 `json:"repurchase_interval_days"` // 0: fewer than two orders
	LastCategories     []string                `json:"last_categories"`
	RFM                RFM                     `json:"rfm"`
	NextRicePurchase   *time.Time              `json:"next_rice_purchase,omitempty"`
	NextOilPurchase    *time.Time              `json:"next_oil_purchase,omitempty"`
	AcquisitionChannel string                  `json:"acquisition_channel,omitempty"` // WeCom State tag
	OwnerStaff         string                  `json:"owner_staff,omitempty"`
	TopTopics          []string                `json:"top_topics"`
	CompletedVideos30d int                     `json:"completed_videos_30d"`
}

// RFM scores recency, frequency and monetary value 1..5 each.
type RFM struct {
	RecencyDays int    `json:"recency_days"`
	R           int    `json:"r"`
	F           int    `json:"f"`
	M           int    `json:"m"`
	Score       string `json:"score"` // e.g. "545"
}

// TimelineItem is one thing that happened, any channel.
type TimelineItem struct {
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"` // event, order, wecom_contact, chat
	Channel string    `json:"channel"`
	Title   string    `json:"title"`
	Detail  string    `json:"detail,omitempty"`
}

// OrderSummary is one order's current state.
type OrderSummary struct {
	Channel   string    `json:"channel"`
	OrderID   string    `json:"order_id"`
	Status    string    `json:"status"`
	OrderedAt time.Time `json:"ordered_at"`
	Amount    float64   `json:"amount"`
	City      string    `json:"city"`
	Items     []string  `json:"items"`
}

// ChatItem is a WeCom chat message excerpt.
type ChatItem struct {
	At           time.Time `json:"at"`
	From         string    `json:"from"`          // staff userid, or the customer's external userid (masked as identifiers are)
	FromCustomer bool      `json:"from_customer"` // written by the customer, not by staff
	Content      string    `json:"content"`       // mobile numbers masked
}

// Purchase-cycle priors (domain guidance: a 3-person household finishes
// 5 kg of rice in 2-3 weeks and 5 L of oil in 6-8 weeks) for persons with
// a single purchase; two or more purchases give their own median gap.
const (
	riceCycleDays = 21
	oilCycleDays  = 49
)

// Profile assembles the 360° view of the canonical person of p, its
// personal identifiers masked for a reader under d.
func (s *Service) Profile(ctx context.Context, p uint32, now time.Time, d Disclosure) (*Profile, error) {
	root := s.Graph.Canonical(p)
	cluster := s.Graph.Cluster(root)
	if len(cluster) == 0 {
		return nil, ErrNoSuchPerson
	}
	pr := &Profile{PersonID: root, Persons: cluster, Merges: s.Graph.MergesOf(root)}
	steps := []func(context.Context, *Profile) error{
		s.profileIdentifiers, s.profileTraits, s.profileOrders, s.profileChats, s.profileConflicts,
		s.profileTimeline, func(ctx context.Context, pr *Profile) error { return s.profileComputed(ctx, pr, now) },
	}
	for _, step := range steps {
		if err := step(ctx, pr); err != nil {
			return nil, err
		}
	}
	if len(pr.Identifiers) == 0 && len(pr.Timeline) == 0 {
		return nil, ErrNoSuchPerson // erased
	}
	if err := s.maskProfile(ctx, pr, d); err != nil {
		return nil, err
	}
	return pr, nil
}

func (s *Service) profileIdentifiers(ctx context.Context, pr *Profile) error {
	rows, err := s.DB.Conn.Query(ctx, `SELECT l.id_type, l.id_value, l.contested, l.linked_at, l.ref, l.person_id, v.masked
		FROM `+s.DB.Table("identity_links")+` AS l FINAL
		LEFT JOIN `+schema.Vault(s.DB.Table("pii_vault"), "")+` AS v ON v.hash = l.id_value
		WHERE l.person_id IN ? ORDER BY l.linked_at, l.id_type, l.id_value`, pr.Persons)
	if err != nil {
		return queryErr("profile: read identifiers", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id ProfileIdentifier
		var contested uint8
		var masked string
		if err := rows.Scan(&id.Type, &id.Value, &contested, &id.LinkedAt, &id.Ref, &id.Person, &masked); err != nil {
			return queryErr("profile: read identifiers", err)
		}
		id.Contested = contested != 0
		if id.Type == Phone {
			id.Value = masked // masked again for display by maskProfile
			if id.Value == "" {
				id.Value = "***"
			}
		}
		pr.Identifiers = append(pr.Identifiers, id)
	}
	return queryErr("profile: read identifiers", rows.Err())
}

func (s *Service) profileTraits(ctx context.Context, pr *Profile) error {
	var traits string
	err := s.DB.Conn.QueryRow(ctx, "SELECT argMax(traits, ts) FROM "+s.DB.Table("events")+
		" WHERE person_id IN ? AND traits != ''", pr.Persons).Scan(&traits)
	if err != nil {
		return queryErr("profile: read traits", err)
	}
	if traits == "" {
		traits = "{}"
	}
	pr.Traits = json.RawMessage(traits)
	return nil
}

func (s *Service) profileOrders(ctx context.Context, pr *Profile) error {
	rows, err := s.DB.Conn.Query(ctx, `SELECT o.channel, o.order_id, o.status, o.ordered_at, toFloat64(o.amount), o.city,
			groupArrayIf(concat(l.product_name, ' × ', toString(l.quantity)), l.sku != '') AS items
		FROM (SELECT * FROM `+s.DB.Table("orders")+` FINAL WHERE person_id IN ?) AS o
		LEFT JOIN (SELECT * FROM `+s.DB.Table("order_lines")+` FINAL WHERE person_id IN ?) AS l
			ON l.channel = o.channel AND l.order_id = o.order_id
		GROUP BY o.channel, o.order_id, o.status, o.ordered_at, o.amount, o.city
		ORDER BY o.ordered_at DESC, o.channel, o.order_id LIMIT 100`, pr.Persons, pr.Persons)
	if err != nil {
		return queryErr("profile: read orders", err)
	}
	defer rows.Close()
	for rows.Next() {
		var o OrderSummary
		if err := rows.Scan(&o.Channel, &o.OrderID, &o.Status, &o.OrderedAt, &o.Amount, &o.City, &o.Items); err != nil {
			return queryErr("profile: read orders", err)
		}
		pr.Orders = append(pr.Orders, o)
	}
	return queryErr("profile: read orders", rows.Err())
}

func (s *Service) profileChats(ctx context.Context, pr *Profile) error {
	rows, err := s.DB.Conn.Query(ctx, "SELECT msgtime, from, content FROM "+s.DB.Table("wecom_messages_visible")+
		" WHERE person_id IN ? AND msgtype = 'text' ORDER BY msgtime DESC LIMIT 50", pr.Persons)
	if err != nil {
		return queryErr("profile: read chats", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c ChatItem
		if err := rows.Scan(&c.At, &c.From, &c.Content); err != nil {
			return queryErr("profile: read chats", err)
		}
		pr.Chats = append(pr.Chats, c)
	}
	return queryErr("profile: read chats", rows.Err())
}

func (s *Service) profileConflicts(ctx context.Context, pr *Profile) error {
	rows, err := s.DB.Conn.Query(ctx, "SELECT ts, ref, id_type, id_value, person_a, person_b, reason FROM "+s.DB.Table("identity_conflicts")+
		" WHERE person_a IN ? OR person_b IN ? ORDER BY ts DESC LIMIT 50", pr.Persons, pr.Persons)
	if err != nil {
		return queryErr("profile: read conflicts", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c Conflict
		if err := rows.Scan(&c.At, &c.Ref, &c.Identifier.Type, &c.Identifier.Value, &c.PersonA, &c.PersonB, &c.Reason); err != nil {
			return queryErr("profile: read conflicts", err)
		}
		pr.Conflicts = append(pr.Conflicts, c)
	}
	return queryErr("profile: read conflicts", rows.Err())
}

// The profile's lists sort rows of the same instant by their other
// columns too: without that their order (and which ones a LIMIT keeps)
// depends on how the rows arrive, which on a sharded cluster differs from
// one run to the next (each shard sends its part when it is ready).
func (s *Service) profileTimeline(ctx context.Context, pr *Profile) error {
	q := `SELECT at, kind, channel, title, detail FROM (
		SELECT ts AS at, 'event' AS kind, toString(source) AS channel, toString(event) AS title,
			trim(BOTH ' ' FROM concat(toString(topic), ' ', keyword)) AS detail
		FROM ` + s.DB.Table("events") + ` WHERE person_id IN ?
		UNION ALL
		SELECT ordered_at, 'order', toString(channel), concat(toString(status), ' ¥', toString(amount)), order_id
		FROM ` + s.DB.Table("orders") + ` FINAL WHERE person_id IN ?
		UNION ALL
		SELECT ts, 'wecom_contact', 'wecom', toString(change_type), concat(toString(staff_userid), ' ', toString(state))
		FROM ` + s.DB.Table("wecom_contact_events") + ` WHERE person_id IN ?
		UNION ALL
		SELECT msgtime, 'chat', 'wecom', from, substring(content, 1, 120)
		FROM ` + s.DB.Table("wecom_messages_visible") + ` WHERE person_id IN ?
	) ORDER BY at DESC, kind, channel, title, detail LIMIT 200`
	rows, err := s.DB.Conn.Query(ctx, q, pr.Persons, pr.Persons, pr.Persons, pr.Persons)
	if err != nil {
		return queryErr("profile: read timeline", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t TimelineItem
		if err := rows.Scan(&t.At, &t.Kind, &t.Channel, &t.Title, &t.Detail); err != nil {
			return queryErr("profile: read timeline", err)
		}
		pr.Timeline = append(pr.Timeline, t)
	}
	return queryErr("profile: read timeline", rows.Err())
}

func (s *Service) profileComputed(ctx context.Context, pr *Profile, now time.Time) error {
	c := &pr.Computed
	c.ByChannel = map[string]ChannelStats{}
	var times []time.Time
	for _, o := range pr.Orders {
		if !schema.ValidOrderStatus(o.Status) {
			continue
		}
		cs := c.ByChannel[o.Channel]
		cs.Orders++
		cs.Spend += o.Amount
		c.ByChannel[o.Channel] = cs
		c.Orders++
		c.LifetimeValue += o.Amount
		times = append(times, o.OrderedAt)
	}
	if c.Orders > 0 {
		c.AverageOrderValue = round2(c.LifetimeValue / float64(c.Orders))
		c.LifetimeValue = round2(c.LifetimeValue)
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	if len(times) >= 2 {
		c.RepurchaseDays = round2(times[len(times)-1].Sub(times[0]).Hours() / 24 / float64(len(times)-1))
	}
	for _, t := range pr.Timeline {
		if c.FirstSeen.IsZero() || t.At.Before(c.FirstSeen) {
			c.FirstSeen = t.At
		}
		if t.At.After(c.LastSeen) {
			c.LastSeen = t.At
		}
	}
	c.RFM = rfm(times, pr.Orders, now)
	if err := s.purchaseCycles(ctx, pr, now); err != nil {
		return err
	}
	return s.behaviourTraits(ctx, pr, now)
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

// rfm scores the last year's orders with fixed thresholds suited to a
// grain-and-oil brand (rice every 2-3 weeks is a loyal buyer).
func rfm(times []time.Time, orders []OrderSummary, now time.Time) RFM {
	var r RFM
	if len(times) == 0 {
		r.Score = "000"
		return r
	}
	r.RecencyDays = int(now.Sub(times[len(times)-1]).Hours() / 24)
	freq, spend := 0, 0.0
	for _, o := range orders {
		if schema.ValidOrderStatus(o.Status) && now.Sub(o.OrderedAt) <= 365*24*time.Hour {
			freq++
			spend += o.Amount
		}
	}
	r.R = score(float64(-r.RecencyDays), -180, -90, -60, -30)
	r.F = score(float64(freq), 2, 3, 5, 8)
	r.M = score(spend, 100, 200, 500, 1000)
	r.Score = fmt.Sprintf("%d%d%d", r.R, r.F, r.M)
	return r
}

// score is 1 below the first threshold, 5 at or above the last.
func score(v float64, thresholds ...float64) int {
	s := 1
	for _, t := range thresholds {
		if v >= t {
			s++
		}
	}
	return s
}

// purchaseCycles predicts the next rice and oil purchase from the
// person's own median gap between purchases of that kind, or the priors.
func (s *Service) purchaseCycles(ctx context.Context, pr *Profile, now time.Time) error {
	rows, err := s.DB.Conn.Query(ctx, `SELECT multiIf(positionUTF8(category, '米') > 0, 'rice', positionUTF8(category, '油') > 0, 'oil', '') AS kind,
			arraySort(groupUniqArray(toDate(ordered_at))) AS days,
			groupUniqArray(category) AS cats
		FROM `+s.DB.Table("order_lines")+` FINAL
		WHERE person_id IN ? AND (channel, order_id) IN (SELECT channel, order_id FROM `+s.DB.Table("orders")+` FINAL
			WHERE person_id IN ? AND `+schema.ValidOrder+`)
		GROUP BY kind`, pr.Persons, pr.Persons)
	if err != nil {
		return queryErr("profile: read purchase cycles", err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind string
		var days []time.Time
		var cats []string
		if err := rows.Scan(&kind, &days, &cats); err != nil {
			return queryErr("profile: read purchase cycles", err)
		}
		if kind == "" || len(days) == 0 {
			continue
		}
		cycle := float64(riceCycleDays)
		if kind == "oil" {
			cycle = oilCycleDays
		}
		if len(days) >= 2 {
			gaps := make([]float64, 0, len(days)-1)
			for i := 1; i < len(days); i++ {
				gaps = append(gaps, days[i].Sub(days[i-1]).Hours()/24)
			}
			sort.Float64s(gaps)
			cycle = gaps[len(gaps)/2]
		}
		next := days[len(days)-1].Add(time.Duration(cycle*24) * time.Hour)
		if kind == "rice" {
			pr.Computed.NextRicePurchase = &next
		} else {
			pr.Computed.NextOilPurchase = &next
		}
	}
	if err := rows.Err(); err != nil {
		return queryErr("profile: read purchase cycles", err)
	}
	// Categories of the last three orders.
	seen := map[string]bool{}
	for i, o := range pr.Orders {
		if i >= 3 {
			break
		}
		for _, item := range o.Items {
			name, _, _ := strings.Cut(item, " × ")
			if !seen[name] {
				seen[name] = true
				pr.Computed.LastCategories = append(pr.Computed.LastCategories, name)
			}
		}
	}
	return nil
}

func (s *Service) behaviourTraits(ctx context.Context, pr *Profile, now time.Time) error {
	c := &pr.Computed
	var topics []string
	var completed uint64
	err := s.DB.Conn.QueryRow(ctx, `SELECT topK(3)(topic), countIf(event = 'video_complete' AND ts >= ?)
		FROM `+s.DB.Table("events")+` WHERE person_id IN ? AND topic != ''`, now.Add(-30*24*time.Hour), pr.Persons).Scan(&topics, &completed)
	if err != nil {
		return queryErr("profile: read behaviour", err)
	}
	c.TopTopics, c.CompletedVideos30d = topics, int(completed)
	var state, staff string
	err = s.DB.Conn.QueryRow(ctx, `SELECT argMinIf(state, ts, change_type = 'add_external_contact'),
			argMaxIf(staff_userid, ts, change_type IN ('add_external_contact', 'edit_external_contact'))
		FROM `+s.DB.Table("wecom_contact_events")+` WHERE person_id IN ?`, pr.Persons).Scan(&state, &staff)
	if err != nil {
		return queryErr("profile: read WeCom contacts", err)
	}
	c.AcquisitionChannel, c.OwnerStaff = state, staff
	return nil
}
