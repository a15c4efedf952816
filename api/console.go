package api

// Read models the web console needs beyond the resource endpoints: the
// overview, campaign results over time, short person summaries for
// sample members, and read-only settings views. Each handler calls the
// package that owns the data (identity, ingest, campaigns) and renders
// its answer; logic of their own belongs there.

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/granarycdp/cdp/campaigns"
	"github.com/granarycdp/cdp/identity"
	"github.com/granarycdp/cdp/ingest"
	"github.com/granarycdp/cdp/schema"
)

// ChannelCount is a number of records from one channel.
type ChannelCount = ingest.ChannelCount

// DayCount is a number of records of one channel on one day.
type DayCount = ingest.DayCount

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

// overview answers the console's home page: identity's totals, ingest's
// record counts, the graph's identifiers, segments and campaigns by
// status. The marketers' calendar is Beijing's: "today" starts at 00:00
// there.
func (s *Server) overview(c *gin.Context) {
	ctx := c.Request.Context()
	now := time.Now().In(schema.Beijing)
	counts, err := identity.ReadCounts(ctx, s.db)
	if err != nil {
		s.internal(c, err)
		return
	}
	records, err := ingest.CountRecords(ctx, s.db, now)
	if err != nil {
		s.internal(c, err)
		return
	}
	o := Overview{Persons: counts.Persons, RecordsToday: records.Today, Last30Days: records.Last30Days,
		Merges: counts.Merges, MergesUndone: counts.MergesUndone, Conflicts: counts.Conflicts,
		Campaigns: map[string]int{}, ActiveCampaigns: []campaigns.Campaign{}, GeneratedAt: now}
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

func (s *Server) campaignResultsDaily(c *gin.Context) {
	out, err := s.campaigns.ResultsDaily(c.Request.Context(), c.Param("id"))
	if s.answerCampaignErr(c, err) {
		return
	}
	c.JSON(http.StatusOK, out)
}

// PersonSummary is a line about a person for member lists: phones masked
// to their last four digits.
type PersonSummary = identity.PersonSummary

type summariesRequest struct {
	IDs []uint32 `json:"ids"`
}

// personSummaries describes up to 100 persons (e.g. an estimate's sample).
func (s *Server) personSummaries(c *gin.Context) {
	var req summariesRequest
	if !bindJSON(c, &req) {
		return
	}
	if len(req.IDs) > identity.MaxSummaries {
		fail(c, http.StatusBadRequest, CodeInvalid, "at most "+strconv.Itoa(identity.MaxSummaries)+" ids", "ids")
		return
	}
	out, err := s.identity.Summaries(c.Request.Context(), req.IDs)
	if err != nil {
		s.internal(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": out})
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
		s.internal(c, fmt.Errorf("api: read sensitive tags: %w", err))
		return
	}
	defer rows.Close()
	for rows.Next() {
		var t SensitiveTag
		if err := rows.Scan(&t.Tag, &t.Persons); err != nil {
			s.internal(c, fmt.Errorf("api: read sensitive tags: %w", err))
			return
		}
		t.Source = "tag"
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		s.internal(c, fmt.Errorf("api: read sensitive tags: %w", err))
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
