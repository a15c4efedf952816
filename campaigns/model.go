package campaigns

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/granarycdp/cdp/segments"
)

// Offer is what a campaign promotes and what counts as a conversion.
type Offer struct {
	ID         string    `json:"id"`
	Version    uint32    `json:"version"`
	Name       string    `json:"name"`
	SKUs       []string  `json:"skus"`       // an order line with one of these converts
	Categories []string  `json:"categories"` // or with one of these categories
	Link       string    `json:"link,omitempty"`
	Coupons    []string  `json:"coupons,omitempty"` // a pool of coupon codes, one per recipient
	ValidFrom  time.Time `json:"valid_from"`
	ValidTo    time.Time `json:"valid_to"`
}

// Triggers: what makes a running campaign send.
const (
	// TriggerOnce sends to the segment's members at launch (the default).
	TriggerOnce = "once"
	// TriggerSegmentEntry sends to each person entering the segment while
	// the campaign runs, within seconds of the record that moved them.
	TriggerSegmentEntry = "segment_entry"
	// TriggerReplenishment sends to each household whose predicted next
	// purchase of rice or oil falls within LeadDays (person_next_purchase).
	TriggerReplenishment = "replenishment"
	// TriggerDemandSurge sends, for each demand surge alert Surge selects,
	// to the segment's members in the alert's region (DemandSurge).
	TriggerDemandSurge = "demand_surge"
)

// Campaign statuses.
const (
	StatusDraft     = "draft"
	StatusScheduled = "scheduled" // launched, waiting for StartAt
	StatusRunning   = "running"
	StatusFinished  = "finished"
	StatusCancelled = "cancelled"
)

// Campaign sends an offer to a segment.
type Campaign struct {
	ID        string `json:"id"`
	Version   uint32 `json:"version"`
	Name      string `json:"name"`
	OfferID   string `json:"offer_id"`
	SegmentID string `json:"segment_id"` // optional for replenishment and group-channel (robot) campaigns
	Channel   string `json:"channel"`    // a registered channel: outbox, wecom, webhook, robot, ...
	// Targets name the configured robots (robot channel) or the one
	// webhook (webhook channel) the campaign posts to.
	Targets []string `json:"targets,omitempty"`
	Trigger string   `json:"trigger"` // once (default), segment_entry, replenishment, demand_surge
	// Surge selects a demand-surge campaign's alerts (product class, and
	// optionally province and city).
	Surge *SurgeFilter `json:"surge,omitempty"`
	// ReplenishKind (rice or oil) and LeadDays (default 3) select a
	// replenishment campaign's recipients: predicted next purchase of the
	// kind within LeadDays from today.
	ReplenishKind string `json:"replenish_kind,omitempty"`
	LeadDays      int    `json:"lead_days,omitempty"`
	// StartAt delays the launch's sending (status scheduled until then);
	// EndAt stops a triggered campaign (status finished).
	StartAt              time.Time `json:"start_at,omitzero"`
	EndAt                time.Time `json:"end_at,omitzero"`
	Template             string    `json:"template"` // {{name}}, {{staff}}, {{offer}}, {{link}}, {{coupon}}
	HoldoutPercent       float64   `json:"holdout_percent"`
	GlobalControlPercent float64   `json:"global_control_percent"`
	// Caps count a person's campaign messages across all campaigns: today
	// (Beijing time), the last 7 days (0: 2) and the last 30 days; 0 for
	// day and month means no cap.
	CapPerDay       int       `json:"cap_per_day,omitempty"`
	CapPerWeek      int       `json:"cap_per_week"`
	CapPerMonth     int       `json:"cap_per_month,omitempty"`
	QuietStart      int       `json:"quiet_start"` // hour in Asia/Shanghai
	QuietEnd        int       `json:"quiet_end"`
	SendLimit       int       `json:"send_limit"`
	AttributionDays int       `json:"attribution_days"` // 0: 14
	Status          string    `json:"status"`
	LaunchedAt      time.Time `json:"launched_at,omitzero"`
	CreatedBy       string    `json:"created_by"`
	// StepSensitive, set by the caller of a step (PlanStep), says why the
	// persons reaching the step were selected by a sensitive category (a
	// journey's branch on a sensitive condition): planning then needs
	// separate consent, as for a sensitive segment. Never stored.
	StepSensitive *segments.Finding `json:"-"`
}

// Defaults: a grain-and-oil household buys rice every 2-3 weeks, so 14
// days of attribution catch the purchase an offer prompts; two campaign
// messages a week per person keeps WeCom customers from deleting staff.
const (
	defaultAttributionDays = 14
	defaultCapPerWeek      = 2
	defaultLeadDays        = 3
)

// ErrInvalid wraps a campaign or offer field problem; Field names it.
type FieldError struct {
	Field, Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// ErrNotFound is returned for an unknown offer or campaign.
var ErrNotFound = errors.New("campaigns: not found")

func (o *Offer) validate() error {
	o.Name = strings.TrimSpace(o.Name)
	if o.Name == "" || utf8.RuneCountInString(o.Name) > 100 {
		return &FieldError{"name", "is required (at most 100 characters)"}
	}
	if len(o.SKUs)+len(o.Categories) == 0 {
		return &FieldError{"skus", "an offer needs SKUs or categories that count as a conversion"}
	}
	if !o.ValidTo.IsZero() && o.ValidTo.Before(o.ValidFrom) {
		return &FieldError{"valid_to", "is before valid_from"}
	}
	return nil
}

// validate checks a campaign's fields, its channel's own (ch lists the
// channels), and sets the defaults.
func (c *Campaign) validate(ch *Channels) error {
	c.Name = strings.TrimSpace(c.Name)
	checks, unknown := ch.checks(*c)
	switch {
	case c.Name == "" || utf8.RuneCountInString(c.Name) > 100:
		return &FieldError{"name", "is required (at most 100 characters)"}
	case c.OfferID == "":
		return &FieldError{"offer_id", "is required"}
	case unknown != nil:
		return unknown
	case c.SegmentID == "" && c.Trigger != TriggerReplenishment && !ch.isGroup(c.Channel):
		return &FieldError{"segment_id", "is required"}
	case c.Trigger != "" && c.Trigger != TriggerOnce && c.Trigger != TriggerSegmentEntry && c.Trigger != TriggerReplenishment && c.Trigger != TriggerDemandSurge:
		return &FieldError{"trigger", fmt.Sprintf("must be %s, %s, %s or %s", TriggerOnce, TriggerSegmentEntry, TriggerReplenishment, TriggerDemandSurge)}
	case (c.Trigger == TriggerSegmentEntry || c.Trigger == TriggerDemandSurge) && c.SegmentID == "":
		return &FieldError{"segment_id", "a segment-entry or demand-surge campaign needs its segment"}
	case c.Trigger == TriggerDemandSurge && c.Surge == nil:
		return &FieldError{"surge.class", "a demand-surge campaign needs the product class of its surges"}
	case c.Trigger != TriggerDemandSurge && c.Surge != nil:
		return &FieldError{"surge", "only a demand_surge campaign has a surge filter"}
	case c.Surge != nil && c.Surge.validate() != nil:
		return c.Surge.validate()
	case c.Trigger == TriggerReplenishment && c.ReplenishKind != "rice" && c.ReplenishKind != "oil":
		return &FieldError{"replenish_kind", "must be rice or oil"}
	case c.LeadDays < 0 || c.LeadDays > 30:
		return &FieldError{"lead_days", "must be 0..30"}
	case !c.EndAt.IsZero() && !c.StartAt.IsZero() && !c.EndAt.After(c.StartAt):
		return &FieldError{"end_at", "is not after start_at"}
	case strings.TrimSpace(c.Template) == "":
		return &FieldError{"template", "is required"}
	}
	if err := checks.Validate(*c); err != nil {
		return err
	}
	switch {
	case c.HoldoutPercent < 0 || c.HoldoutPercent > 50:
		return &FieldError{"holdout_percent", "must be 0..50"}
	case c.GlobalControlPercent < 0 || c.GlobalControlPercent > 20:
		return &FieldError{"global_control_percent", "must be 0..20"}
	case c.QuietStart < 0 || c.QuietStart > 23 || c.QuietEnd < 0 || c.QuietEnd > 23:
		return &FieldError{"quiet_start", "quiet hours are 0..23"}
	case c.SendLimit < 0 || c.CapPerDay < 0 || c.CapPerWeek < 0 || c.CapPerMonth < 0 || c.AttributionDays < 0:
		return &FieldError{"send_limit", "limits must not be negative"}
	}
	c.setDefaults()
	return nil
}

func (c *Campaign) setDefaults() {
	if c.Trigger == "" {
		c.Trigger = TriggerOnce
	}
	if c.Trigger == TriggerReplenishment && c.LeadDays == 0 {
		c.LeadDays = defaultLeadDays
	}
	if c.AttributionDays == 0 {
		c.AttributionDays = defaultAttributionDays
	}
	if c.CapPerWeek == 0 {
		c.CapPerWeek = defaultCapPerWeek
	}
}

// Render personalises a template for one recipient.
func Render(template string, vars map[string]string) string {
	pairs := make([]string, 0, 2*len(vars))
	for k, v := range vars {
		pairs = append(pairs, "{{"+k+"}}", v)
	}
	return strings.NewReplacer(pairs...).Replace(template)
}
