package sidebar

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/granarycdp/cdp/campaigns"
	"github.com/granarycdp/cdp/identity"
	"github.com/granarycdp/cdp/journeys"
	"github.com/granarycdp/cdp/schema"
)

// MaxCardOrders is how many of the latest orders a card lists.
const MaxCardOrders = 10

// OfferLeadDays: an offer is suggested for a class whose predicted next
// purchase falls within this many days (or has passed).
const OfferLeadDays = 14

// Card is what the sidebar shows of a customer. Every identifier is
// masked (identity.MaskAll): phones are never in clear.
type Card struct {
	ExternalUserID string                  `json:"external_userid"`
	PersonID       uint32                  `json:"person_id"`
	Name           string                  `json:"name"` // the customer's WeCom name, as the staff member sees it in the chat
	Identifiers    []Identifier            `json:"identifiers"`
	Orders         []identity.OrderSummary `json:"orders"` // the latest MaxCardOrders
	OrderCount     int                     `json:"order_count"`
	LifetimeValue  float64                 `json:"lifetime_value"`
	Predictions    []Prediction            `json:"predictions"`
	Segments       []SegmentRef            `json:"segments"`
	Journeys       []journeys.Place        `json:"journeys"`
	Offer          *Suggestion             `json:"offer,omitempty"`
}

// Identifier is one of the customer's identifiers, masked. The profile's
// record references are left out: they may quote an identifier in clear
// (a callback's deduplication key names the external_userid).
type Identifier struct {
	Type  string `json:"type"`
	Value string `json:"value"` // masked
}

// Prediction is the predicted next purchase of rice or oil: the person's
// own median interval between purchase days of that class added to the
// last one, or the class's prior (21 days rice, 49 oil) after a single
// purchase day (identity's purchase cycles, the profile's next_*_purchase).
type Prediction struct {
	Kind string    `json:"kind"` // rice or oil
	Date time.Time `json:"date"`
	Days int       `json:"days"` // from today; negative when overdue
}

// SegmentRef names a segment the customer is in.
type SegmentRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Suggestion is the offer the sidebar suggests and why.
type Suggestion struct {
	OfferID string `json:"offer_id"`
	Name    string `json:"name"`
	Kind    string `json:"kind"` // the class it is for
	Days    int    `json:"days"` // that class's prediction, days from today
	Link    string `json:"link,omitempty"`
}

// contactChanges are the change types that make or end a contact pair.
const contactChanges = "('add_external_contact', 'edit_external_contact', 'add_half_external_contact', 'del_external_contact', 'del_follow_user')"

// pair reads the platform's record of the (staff member, customer) pair:
// whether it is current (its latest contact change is an add or an edit:
// not deleted by either side, not a half-added contact), the person it
// resolved to and the customer's WeCom name.
func (s *Service) pair(ctx context.Context, staff, ext string) (current bool, person uint32, name string, err error) {
	var last string
	err = s.opts.DB.Conn.QueryRow(ctx, `SELECT argMaxIf(change_type, ts, change_type IN `+contactChanges+`),
			argMaxIf(person_id, ts, person_id != 0), argMaxIf(name, ts, name != '')
		FROM `+s.opts.DB.Table("wecom_contact_events")+` WHERE external_userid = ? AND staff_userid = ?`, ext, staff).Scan(&last, &person, &name)
	if err != nil {
		return false, 0, "", fmt.Errorf("sidebar: read contact pair: %w", err)
	}
	return last == "add_external_contact" || last == "edit_external_contact", person, name, nil
}

// Card answers the card of customer ext for staff member staff. A customer
// who is not currently the staff member's is ErrNotYours, whether or not
// the platform knows them (the answer tells nothing of other staff
// members' customers); one whose person is not resolved yet ErrNoProfile.
func (s *Service) Card(ctx context.Context, staff, ext string) (*Card, error) {
	if strings.TrimSpace(ext) == "" {
		return nil, &FieldError{Field: "external_userid", Message: "external_userid is required: getCurExternalContact's userId"}
	}
	current, person, name, err := s.pair(ctx, staff, ext)
	switch {
	case err != nil:
		return nil, err
	case !current:
		return nil, ErrNotYours
	case person == 0:
		return nil, ErrNoProfile
	}
	now := s.opts.Now()
	pr, err := s.opts.Identity.Profile(ctx, person, now, identity.MaskAll)
	if errors.Is(err, identity.ErrNoSuchPerson) {
		return nil, ErrNoProfile
	}
	if err != nil {
		return nil, fmt.Errorf("sidebar: profile: %w", err)
	}
	card := &Card{ExternalUserID: ext, PersonID: pr.PersonID, Name: identity.MaskPhonesInText(name), Identifiers: []Identifier{},
		Orders: pr.Orders[:min(len(pr.Orders), MaxCardOrders)], OrderCount: pr.Computed.Orders, LifetimeValue: pr.Computed.LifetimeValue,
		Predictions: predictions(pr.Computed, now), Segments: []SegmentRef{}, Journeys: []journeys.Place{}}
	for _, id := range pr.Identifiers {
		card.Identifiers = append(card.Identifiers, Identifier{Type: id.Type, Value: id.Value})
	}
	if s.opts.Segments != nil {
		for _, d := range s.opts.Segments.SegmentsOf(pr.PersonID) {
			card.Segments = append(card.Segments, SegmentRef{ID: d.ID, Name: d.Name})
		}
	}
	if s.opts.Journeys != nil {
		if card.Journeys, err = s.opts.Journeys.PlacesOf(ctx, pr.PersonID); err != nil {
			return nil, fmt.Errorf("sidebar: journeys: %w", err)
		}
	}
	if s.opts.Campaigns != nil {
		offers, err := s.opts.Campaigns.Offers(ctx)
		if err != nil {
			return nil, fmt.Errorf("sidebar: offers: %w", err)
		}
		card.Offer = suggest(card.Predictions, offers, now)
	}
	return card, nil
}

// predictions are the profile's rice and oil predictions, soonest first.
func predictions(c identity.Computed, now time.Time) []Prediction {
	out := []Prediction{}
	today := dayOf(now)
	for _, p := range []struct {
		kind string
		at   *time.Time
	}{{"rice", c.NextRicePurchase}, {"oil", c.NextOilPurchase}} {
		if p.at != nil {
			out = append(out, Prediction{Kind: p.kind, Date: *p.at, Days: int(dayOf(*p.at).Sub(today).Hours() / 24)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Days < out[j].Days })
	return out
}

// dayOf is the day of t in Beijing, as a UTC midnight.
func dayOf(t time.Time) time.Time {
	y, m, d := t.In(schema.Beijing).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// suggest picks, for the soonest class due within OfferLeadDays (or
// overdue), the valid offer for that class (an offer category of the
// class, schema.PurchaseKindOf) that ends last; nil when no class is due
// or no offer fits. A rule a staff member can read off the card, not a
// model.
func suggest(preds []Prediction, offers []campaigns.Offer, now time.Time) *Suggestion {
	for _, p := range preds {
		if p.Days > OfferLeadDays {
			continue
		}
		var best *campaigns.Offer
		for i, o := range offers {
			if !offerValid(o, now) || !offerFor(o, p.Kind) {
				continue
			}
			if best == nil || o.ValidTo.IsZero() || (!best.ValidTo.IsZero() && o.ValidTo.After(best.ValidTo)) {
				best = &offers[i]
			}
		}
		if best != nil {
			return &Suggestion{OfferID: best.ID, Name: best.Name, Kind: p.Kind, Days: p.Days, Link: best.Link}
		}
	}
	return nil
}

func offerValid(o campaigns.Offer, now time.Time) bool {
	return (o.ValidFrom.IsZero() || !now.Before(o.ValidFrom)) && (o.ValidTo.IsZero() || now.Before(o.ValidTo))
}

func offerFor(o campaigns.Offer, kind string) bool {
	for _, c := range o.Categories {
		if schema.PurchaseKindOf(c) == kind {
			return true
		}
	}
	return false
}
