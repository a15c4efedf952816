package api

// Read models the web console needs beyond the resource endpoints: the
// overview, campaign results over time, short person summaries for
// sample members, and read-only settings views. Each is a few queries
// over tables other packages own; if one grows logic of its own it
// belongs in that package.

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/granarycdp/cdp/campaigns"
	"github.com/granarycdp/cdp/identity"
)

// shanghai is the marketers' calendar: "today" starts at 00:00 in China.
var shanghai = time.FixedZone("Asia/Shanghai", 8*3600)

// ChannelCount is a number of records from one channel.
type ChannelCount struct {
	Channel string `json:"channel"`
	Kind    string `json:"kind"` // event, order, wecom_contact, chat
	Count   uint64 `json:"count"`
}

// DayCount is a number of records of one channel on one day.
type DayCount struct {
	Day     string `json:"day"` // YYYY-MM-DD in Asia/Shanghai
	Channel string `json:"channel"`
	Count   uint64 `json:"count"`
}

// Overview is the console's home page.
type Overview struct {
	Persons     uint64 `json:"persons"`     // OneID persons (after merges)
	Identifiers int    `json:"identifiers"` // identifiers known to the graph
	Segments    int    `json:"segments"`
	// RecordsToday are the records received since 00:00 Asia/Shanghai,
	// by channel: events by source (Douyin when they carry a Douyin
	// openid), orders by sales channel, WeCom contacts and chats.
	RecordsToday []ChannelCount `json:"records_today"`
	// Last30Days counts records by the day they happened, by channel.
	Last30Days      []DayCount           `json:"last_30_days"`
	Merges          uint64               `json:"merges"`
	MergesUndone    uint64               `json:"merges_undone"`
	Conflicts       uint64               `json:"conflicts"`
	Campaigns       map[string]int       `json:"campaigns"` // by status
	ActiveCampaigns []campaigns.Campaign `json:"active_campaigns"`
	GeneratedAt     time.Time            `json:"generated_at"`
}

// recordSources are the channel expressions of each record table.
var recordSources = []struct{ kind, table, channel, at, received string }{
	{"event", "events", "if(has(id_types, 'douyin_openid'), 'douyin', toString(source))", "ts", "received_at"},
	{"order", "orders", "toString(channel)", "ordered_at", "received_at"},
	{"wecom_contact", "wecom_contact_events", "'wecom'", "ts", "received_at"},
	{"chat", "wecom_messages", "'wecom'", "msgtime", "received_at"},
}

func (s *Server) overview(c *gin.Context) {
	ctx := c.Request.Context()
	now := time.Now().In(shanghai)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, shanghai)
	o := Overview{RecordsToday: []ChannelCount{}, Last30Days: []DayCount{}, Campaigns: map[string]int{}, ActiveCampaigns: []campaigns.Campaign{}, GeneratedAt: now}
	if err := s.db.Conn.QueryRow(ctx, "SELECT uniqExact(canonical) FROM "+s.db.Table("persons")+" FINAL").Scan(&o.Persons); err != nil {
		s.internal(c, err)
		return
	}
	for _, src := range recordSources {
		// orders are versioned: a status change is not a new record.
		final := ""
		if src.kind == "order" {
			final = " FINAL"
		}
		rows, err := s.db.Conn.Query(ctx, "SELECT "+src.channel+" AS ch, count() FROM "+s.db.Table(src.table)+final+
			" WHERE "+src.received+" >= ? GROUP BY ch ORDER BY ch", today.UTC())
		if err != nil {
			s.internal(c, err)
			return
		}
		for rows.Next() {
			cc := ChannelCount{Kind: src.kind}
			if err := rows.Scan(&cc.Channel, &cc.Count); err != nil {
				rows.Close()
				s.internal(c, err)
				return
			}
			o.RecordsToday = append(o.RecordsToday, cc)
		}
		rows.Close()
		rows, err = s.db.Conn.Query(ctx, "SELECT toString(toDate("+src.at+", 'Asia/Shanghai')) AS d, "+src.channel+" AS ch, count() FROM "+
			s.db.Table(src.table)+final+" WHERE "+src.at+" >= ? AND "+src.at+" < ? GROUP BY d, ch ORDER BY d, ch",
			today.AddDate(0, 0, -29).UTC(), today.AddDate(0, 0, 1).UTC())
		if err != nil {
			s.internal(c, err)
			return
		}
		for rows.Next() {
			var dc DayCount
			if err := rows.Scan(&dc.Day, &dc.Channel, &dc.Count); err != nil {
				rows.Close()
				s.internal(c, err)
				return
			}
			o.Last30Days = append(o.Last30Days, dc)
		}
		rows.Close()
	}
	// Chats and contacts share the channel "wecom": add them up per day.
	o.Last30Days = sumDays(o.Last30Days)
	err := s.db.Conn.QueryRow(ctx, "SELECT count(), countIf(undone = 1) FROM "+s.db.Table("identity_merges")+" FINAL").Scan(&o.Merges, &o.MergesUndone)
	if err == nil {
		err = s.db.Conn.QueryRow(ctx, "SELECT count() FROM "+s.db.Table("identity_conflicts")).Scan(&o.Conflicts)
	}
	if err != nil {
		s.internal(c, err)
		return
	}
	if s.identity != nil {
		o.Identifiers = s.identity.Graph.Identifiers()
	}
	if s.segments != nil {
		o.Segments = len(s.segments.List())
	}
	if s.campaigns != nil {
		list, err := s.campaigns.Campaigns(ctx)
		if err != nil {
			s.internal(c, err)
			return
		}
		for _, cm := range list {
			o.Campaigns[cm.Status]++
			if cm.Status == campaigns.StatusRunning {
				o.ActiveCampaigns = append(o.ActiveCampaigns, cm)
			}
		}
	}
	c.JSON(http.StatusOK, o)
}

func sumDays(in []DayCount) []DayCount {
	idx := map[[2]string]int{}
	out := []DayCount{}
	for _, d := range in {
		k := [2]string{d.Day, d.Channel}
		if i, ok := idx[k]; ok {
			out[i].Count += d.Count
			continue
		}
		idx[k] = len(out)
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Day != out[j].Day {
			return out[i].Day < out[j].Day
		}
		return out[i].Channel < out[j].Channel
	})
	return out
}

func (s *Server) campaignResultsDaily(c *gin.Context) {
	out, err := s.campaigns.ResultsDaily(c.Request.Context(), c.Param("id"))
	if s.answerCampaignErr(c, err) {
		return
	}
	c.JSON(http.StatusOK, out)
}

// PersonSummary is a line about a person for member lists: phones masked
// to their last four digits.
type PersonSummary struct {
	PersonID  uint32    `json:"person_id"`
	Name      string    `json:"name,omitempty"`  // WeCom name
	Phone     string    `json:"phone,omitempty"` // masked
	City      string    `json:"city,omitempty"`
	Orders    uint64    `json:"orders"`
	Spend     float64   `json:"spend"`
	LastOrder time.Time `json:"last_order,omitzero"`
}

type summariesRequest struct {
	IDs []uint32 `json:"ids"`
}

// personSummaries describes up to 100 persons (e.g. an estimate's sample).
func (s *Server) personSummaries(c *gin.Context) {
	var req summariesRequest
	if !bindJSON(c, &req) {
		return
	}
	if len(req.IDs) > 100 {
		fail(c, http.StatusBadRequest, CodeInvalid, "at most 100 ids", "ids")
		return
	}
	ctx := c.Request.Context()
	owner := map[uint32]uint32{} // person id -> canonical asked for
	all := []uint32{}
	byID := map[uint32]*PersonSummary{}
	out := make([]*PersonSummary, 0, len(req.IDs))
	for _, id := range req.IDs {
		root := s.identity.Graph.Canonical(id)
		if byID[root] != nil {
			continue
		}
		ps := &PersonSummary{PersonID: root}
		byID[root] = ps
		out = append(out, ps)
		for _, p := range s.identity.Graph.Cluster(root) {
			owner[p] = root
			all = append(all, p)
		}
	}
	if len(all) == 0 {
		c.JSON(http.StatusOK, gin.H{"items": out})
		return
	}
	if err := s.summaryQueries(ctx, all, owner, byID); err != nil {
		s.internal(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": out})
}

func (s *Server) summaryQueries(ctx context.Context, all []uint32, owner map[uint32]uint32, byID map[uint32]*PersonSummary) error {
	rows, err := s.db.Conn.Query(ctx, `SELECT l.person_id, any(v.masked)
		FROM `+s.db.Table("identity_links")+` AS l FINAL
		INNER JOIN (SELECT hash, any(masked) AS masked FROM `+s.db.Table("pii_vault")+` GROUP BY hash) AS v ON v.hash = l.id_value
		WHERE l.person_id IN ? AND l.id_type = 'phone' GROUP BY l.person_id`, all)
	if err != nil {
		return fmt.Errorf("phones: %w", err)
	}
	for rows.Next() {
		var p uint32
		var masked string
		if err := rows.Scan(&p, &masked); err != nil {
			rows.Close()
			return err
		}
		if ps := byID[owner[p]]; ps != nil && ps.Phone == "" {
			ps.Phone = identity.MaskPhone(masked)
		}
	}
	rows.Close()
	rows, err = s.db.Conn.Query(ctx, `SELECT person_id, argMax(name, ts) FROM `+s.db.Table("wecom_contact_events")+
		` WHERE person_id IN ? AND name != '' GROUP BY person_id`, all)
	if err != nil {
		return fmt.Errorf("names: %w", err)
	}
	for rows.Next() {
		var p uint32
		var name string
		if err := rows.Scan(&p, &name); err != nil {
			rows.Close()
			return err
		}
		if ps := byID[owner[p]]; ps != nil && ps.Name == "" {
			ps.Name = name
		}
	}
	rows.Close()
	rows, err = s.db.Conn.Query(ctx, `SELECT person_id, countIf(status NOT IN ('refunded', 'cancelled')),
			sumIf(toFloat64(amount), status NOT IN ('refunded', 'cancelled')), max(ordered_at), argMaxIf(toString(city), ordered_at, city != '')
		FROM `+s.db.Table("orders")+` FINAL WHERE person_id IN ? GROUP BY person_id`, all)
	if err != nil {
		return fmt.Errorf("orders: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p uint32
		var n uint64
		var spend float64
		var last time.Time
		var city string
		if err := rows.Scan(&p, &n, &spend, &last, &city); err != nil {
			return err
		}
		ps := byID[owner[p]]
		if ps == nil {
			continue
		}
		ps.Orders += n
		ps.Spend += spend
		if last.After(ps.LastOrder) {
			ps.LastOrder = last
			if city != "" {
				ps.City = city
			}
		}
	}
	return rows.Err()
}

// WeComSettings shows how WeCom is configured, secrets masked. The
// settings come from CDP_WECOM_* at start; the console cannot change them.
type WeComSettings struct {
	Configured       bool     `json:"configured"`        // callbacks verified and decrypted
	CorpID           string   `json:"corp_id,omitempty"` // masked but recognisable
	CallbackURL      string   `json:"callback_path"`     // path to enter in WeCom's admin console
	ContactAPI       bool     `json:"contact_api"`       // CDP_WECOM_SECRET set: contact details, mass messages
	Token            string   `json:"token"`             // "已配置"-style mask, never the value
	AESKey           string   `json:"aes_key"`           // likewise
	Secret           string   `json:"secret"`            // likewise
	Settings         string   `json:"settings"`          // how to change them
	SettingVariables []string `json:"setting_variables"` // the environment variables
}

const maskedSecret = "••••••••"

func maskMiddle(s string) string {
	r := []rune(s)
	if len(r) <= 6 {
		return strings.Repeat("•", len(r))
	}
	return string(r[:4]) + strings.Repeat("•", len(r)-6) + string(r[len(r)-2:])
}

func (s *Server) weComSettings(c *gin.Context) {
	w := WeComSettings{CallbackURL: "/wecom/callback",
		Settings:         "set in the environment (or flags) of `cdp serve` and restart; see `cdp help`",
		SettingVariables: []string{"CDP_WECOM_CORP_ID", "CDP_WECOM_TOKEN", "CDP_WECOM_AES_KEY", "CDP_WECOM_SECRET", "CDP_WECOM_API_URL"}}
	if wc := s.wecom; wc != nil && wc.Crypto != nil {
		w.Configured, w.CorpID = true, maskMiddle(wc.CorpID)
		w.Token, w.AESKey = maskedSecret, maskedSecret
		if wc.Client != nil {
			w.ContactAPI, w.Secret = true, maskedSecret
		}
	}
	c.JSON(http.StatusOK, w)
}

// SensitiveTag is a health-interest term or tag: campaigns on segments
// that read it reach only persons with separate consent (PIPL art. 28-29).
type SensitiveTag struct {
	Tag     string `json:"tag"`
	Source  string `json:"source"`  // "term" (built in) or "tag" (person_tags marked sensitive)
	Persons uint64 `json:"persons"` // persons carrying the tag (tags only)
}

func (s *Server) sensitiveTags(c *gin.Context) {
	out := []SensitiveTag{}
	for _, t := range campaigns.SensitiveTerms {
		out = append(out, SensitiveTag{Tag: t, Source: "term"})
	}
	rows, err := s.db.Conn.Query(c.Request.Context(), "SELECT toString(tag), uniqExactIf(person_id, deleted = 0) FROM "+s.db.Table("person_tags")+
		" FINAL WHERE sensitive = 1 GROUP BY tag ORDER BY tag")
	if err != nil {
		s.internal(c, err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var t SensitiveTag
		if err := rows.Scan(&t.Tag, &t.Persons); err != nil {
			s.internal(c, err)
			return
		}
		t.Source = "tag"
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		s.internal(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": out, "consent_kind": "sensitive_consent"})
}

// ChannelSettings says which campaign channels can send: whether WeCom's
// contact API is configured (mass messages), its daily cap per customer,
// and the NAMES of the configured group robots and webhooks a campaign can
// name in its targets. Never their URLs, keys or secrets: those stay in
// CDP_WECOM_ROBOTS and CDP_WEBHOOKS.
type ChannelSettings struct {
	WeCom         bool     `json:"wecom"`
	WeComDailyCap int      `json:"wecom_daily_cap"`
	Robots        []string `json:"robots"`
	Webhooks      []string `json:"webhooks"`
}

func (s *Server) channelSettings(c *gin.Context) {
	out := ChannelSettings{WeComDailyCap: 1, Robots: []string{}, Webhooks: []string{}}
	if ch := s.campaigns.Channels; ch != nil {
		out.WeCom = ch.WeCom != nil
		if ch.WeComDailyCap > 0 {
			out.WeComDailyCap = ch.WeComDailyCap
		}
		for name := range ch.Robots {
			out.Robots = append(out.Robots, name)
		}
		for name := range ch.Webhooks {
			out.Webhooks = append(out.Webhooks, name)
		}
	}
	sort.Strings(out.Robots)
	sort.Strings(out.Webhooks)
	c.JSON(http.StatusOK, out)
}
