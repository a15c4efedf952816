package campaigns

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
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

// Channels a campaign can use.
const (
	ChannelOutbox = "outbox" // records what would be sent (demo, review)
	ChannelWeCom  = "wecom"  // WeCom one-to-one mass send through the owning staff
)

// Campaign statuses.
const (
	StatusDraft     = "draft"
	StatusRunning   = "running"
	StatusFinished  = "finished"
	StatusCancelled = "cancelled"
)

// Campaign sends an offer to a segment.
type Campaign struct {
	ID                   string    `json:"id"`
	Version              uint32    `json:"version"`
	Name                 string    `json:"name"`
	OfferID              string    `json:"offer_id"`
	SegmentID            string    `json:"segment_id"`
	Channel              string    `json:"channel"`
	Template             string    `json:"template"` // {{name}}, {{staff}}, {{offer}}, {{link}}, {{coupon}}
	HoldoutPercent       float64   `json:"holdout_percent"`
	GlobalControlPercent float64   `json:"global_control_percent"`
	CapPerWeek           int       `json:"cap_per_week"` // campaign messages per person per 7 days (0: 2)
	QuietStart           int       `json:"quiet_start"`  // hour in Asia/Shanghai
	QuietEnd             int       `json:"quiet_end"`
	SendLimit            int       `json:"send_limit"`
	AttributionDays      int       `json:"attribution_days"` // 0: 14
	Status               string    `json:"status"`
	LaunchedAt           time.Time `json:"launched_at,omitzero"`
	CreatedBy            string    `json:"created_by"`
}

// Defaults: a grain-and-oil household buys rice every 2-3 weeks, so 14
// days of attribution catch the purchase an offer prompts; two campaign
// messages a week per person keeps WeCom customers from deleting staff.
const (
	defaultAttributionDays = 14
	defaultCapPerWeek      = 2
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

func (c *Campaign) validate() error {
	c.Name = strings.TrimSpace(c.Name)
	switch {
	case c.Name == "" || utf8.RuneCountInString(c.Name) > 100:
		return &FieldError{"name", "is required (at most 100 characters)"}
	case c.OfferID == "":
		return &FieldError{"offer_id", "is required"}
	case c.SegmentID == "":
		return &FieldError{"segment_id", "is required"}
	case c.Channel != ChannelOutbox && c.Channel != ChannelWeCom:
		return &FieldError{"channel", fmt.Sprintf("must be %s or %s", ChannelOutbox, ChannelWeCom)}
	case strings.TrimSpace(c.Template) == "":
		return &FieldError{"template", "is required"}
	case c.HoldoutPercent < 0 || c.HoldoutPercent > 50:
		return &FieldError{"holdout_percent", "must be 0..50"}
	case c.GlobalControlPercent < 0 || c.GlobalControlPercent > 20:
		return &FieldError{"global_control_percent", "must be 0..20"}
	case c.QuietStart < 0 || c.QuietStart > 23 || c.QuietEnd < 0 || c.QuietEnd > 23:
		return &FieldError{"quiet_start", "quiet hours are 0..23"}
	case c.SendLimit < 0 || c.CapPerWeek < 0 || c.AttributionDays < 0:
		return &FieldError{"send_limit", "limits must not be negative"}
	}
	if c.AttributionDays == 0 {
		c.AttributionDays = defaultAttributionDays
	}
	if c.CapPerWeek == 0 {
		c.CapPerWeek = defaultCapPerWeek
	}
	return nil
}

// Render personalises a template for one recipient.
func Render(template string, vars map[string]string) string {
	pairs := make([]string, 0, 2*len(vars))
	for k, v := range vars {
		pairs = append(pairs, "{{"+k+"}}", v)
	}
	return strings.NewReplacer(pairs...).Replace(template)
}
