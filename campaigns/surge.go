package campaigns

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/granarycdp/cdp/segments"
)

// SurgeFilter selects the demand surge alerts (docs/demand.md) that start a
// demand-surge campaign: alerts of Class, and of Province and City when
// they are set. A province filter takes the province's city alerts and
// its province-wide ones; a city filter only that city's.
type SurgeFilter struct {
	Class    string `json:"class"`
	Province string `json:"province,omitempty"`
	City     string `json:"city,omitempty"`
}

// Surge is a demand surge alert as a campaign or journey sees it: its id
// (the idempotency key of its hand-over), its series and the end of its
// window. An empty City is a province-wide alert, an empty Province too a
// national one.
type Surge struct {
	ID       string    `json:"id"`
	Class    string    `json:"class"`
	Province string    `json:"province"`
	City     string    `json:"city"`
	At       time.Time `json:"at,omitzero"`
}

func (f *SurgeFilter) validate() error { return f.Validate("surge", "a demand-surge campaign") }

// Validate trims the filter and checks it; the FieldError names the field
// under prefix (surge.class, entry.surge.class), what the message for a
// missing class calls its owner.
func (f *SurgeFilter) Validate(prefix, owner string) error {
	for _, v := range []struct {
		name string
		v    *string
	}{{"class", &f.Class}, {"province", &f.Province}, {"city", &f.City}} {
		*v.v = strings.TrimSpace(*v.v)
		if utf8.RuneCountInString(*v.v) > 64 {
			return &FieldError{prefix + "." + v.name, "at most 64 characters"}
		}
	}
	if f.Class == "" {
		return &FieldError{prefix + ".class", owner + " needs the product class of its surges"}
	}
	return nil
}

// Matches says whether the filter selects the surge.
func (f SurgeFilter) Matches(s Surge) bool {
	return f.Class == s.Class && (f.Province == "" || f.Province == s.Province) && (f.City == "" || f.City == s.City)
}

// RegionRule is the segment rule of the persons living in the surge's
// region: the city of their latest order for a city alert, its province
// for a province-wide one; "" (everyone) for a national alert.
func (s Surge) RegionRule() string {
	switch {
	case s.City != "":
		return "city == " + strconv.Quote(s.City)
	case s.Province != "":
		return "province == " + strconv.Quote(s.Province)
	}
	return ""
}

// DemandSurge starts the running demand-surge campaigns whose filter
// selects the surge: each plans its segment's members living in the
// surge's region (the city or province trait: of their latest order),
// except those in its send log, and the loop is woken to send. It returns
// how many persons were planned. Handing the same surge over again plans
// nobody (a person is planned once per campaign), so the caller may repeat
// a hand-over a crash cut off: the demand notifier journals it per alert
// id and repeats it until it returns nil. A campaign launched after the
// alert does not receive it.
func (s *Service) DemandSurge(ctx context.Context, sg Surge) (int, error) {
	list, err := s.Campaigns(ctx)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	planned := 0
	var region *roaring.Bitmap
	for _, c := range list {
		if c.Status != StatusRunning || c.Trigger != TriggerDemandSurge || c.Surge == nil || !c.Surge.Matches(sg) ||
			(!c.EndAt.IsZero() && !s.now().Before(c.EndAt)) {
			continue
		}
		members, err := s.Segments.Members(c.SegmentID)
		if err != nil {
			return planned, fmt.Errorf("campaign %s: surge %s: %w", c.ID, sg.ID, err)
		}
		if region == nil {
			if region, err = SurgeRegion(ctx, s.Segments, sg); err != nil {
				return planned, fmt.Errorf("campaign %s: surge %s: %w", c.ID, sg.ID, err)
			}
		}
		persons := members.Clone()
		persons.And(region)
		p, err := s.planTriggered(ctx, c, persons)
		if err != nil {
			return planned, err
		}
		n := p.Counts[GroupTreatment] + p.Counts[GroupHoldout]
		planned += n
		s.Logger.Info("demand surge planned", "campaign", c.ID, "surge", sg.ID, "class", sg.Class, "province", sg.Province, "city", sg.City, "persons", n)
	}
	if planned > 0 {
		s.kick()
	}
	return planned, nil
}

// SurgeRegion returns the persons living in the surge's region
// (RegionRule): what a demand-surge campaign or journey narrows its
// segment's members to. A national surge's region is everyone: the
// members of a rule that always holds are not evaluated then, the
// returned bitmap holds every person id instead.
func SurgeRegion(ctx context.Context, segs *segments.Store, sg Surge) (*roaring.Bitmap, error) {
	rule := sg.RegionRule()
	if rule == "" {
		all := roaring.New()
		all.AddRange(0, 1<<32)
		return all, nil
	}
	c, err := segs.Engine().Check(rule)
	if err != nil {
		return nil, fmt.Errorf("region: %w", err)
	}
	bm, err := segs.Engine().Evaluate(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("region: %w", err)
	}
	return bm, nil
}
