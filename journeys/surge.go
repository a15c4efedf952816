package journeys

import (
	"context"
	"fmt"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/granarycdp/cdp/campaigns"
)

// DemandSurge enters, into each running journey whose demand_surge entry
// selects the surge (campaigns.SurgeFilter), the entry segment's members
// living in the surge's region (campaigns.SurgeRegion: the city or
// province of their latest order; everyone for a national surge), as
// admit does for every entry: one active run per person, the re-entry
// policy, and once per surge: a person whose last run entered at or after
// the surge's window end (Surge.At) was entered by it, or by a surge of
// the same window, already. It returns how many persons entered (holdout
// included) and wakes the loop to step them.
//
// Handing the same surge over again enters nobody, so the caller may
// repeat a hand-over a crash cut off: the demand notifier journals it per
// alert id (demand.Journeys) and repeats it until it returns nil. A
// journey launched after the hand-over does not receive the surge.
func (s *Service) DemandSurge(ctx context.Context, sg campaigns.Surge) (int, error) {
	if sg.At.IsZero() {
		return 0, fmt.Errorf("BUG: journeys: surge %s without the end of its window", sg.ID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ensureLoaded(ctx); err != nil {
		return 0, err
	}
	entered := 0
	var region *roaring.Bitmap
	for _, lj := range s.ordered() {
		if lj.st.Status != StatusRunning {
			continue
		}
		c, err := s.version(ctx, lj, lj.st.Version)
		if err != nil {
			return entered, err
		}
		e := c.def.Entry
		if e.Type != EntryDemandSurge || e.Surge == nil || !e.Surge.Matches(sg) {
			continue
		}
		members, err := s.Segments.Members(e.SegmentID)
		if err != nil {
			return entered, fmt.Errorf("journeys: journey %s: surge %s: %w", lj.st.ID, sg.ID, err)
		}
		if region == nil {
			if region, err = campaigns.SurgeRegion(ctx, s.Segments, sg); err != nil {
				return entered, fmt.Errorf("journeys: journey %s: surge %s: %w", lj.st.ID, sg.ID, err)
			}
		}
		persons := roaring.And(members, region)
		cand := make(candidates, persons.GetCardinality())
		for it := persons.Iterator(); it.HasNext(); {
			cand[it.Next()] = sg.At.UnixMilli()
		}
		n, err := s.admit(ctx, lj, c, cand, "demand_surge:"+sg.ID, s.now())
		entered += n
		if err != nil {
			return entered, err
		}
		s.logger().Info("demand surge entered", "journey", lj.st.ID, "surge", sg.ID, "class", sg.Class, "province", sg.Province, "city", sg.City, "persons", n)
	}
	if entered > 0 {
		s.kick()
	}
	return entered, nil
}
