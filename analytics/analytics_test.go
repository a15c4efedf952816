package analytics

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/granarycdp/cdp/segments"
)

func testFunnel() Funnel {
	return Funnel{
		Steps: []Step{
			{Kind: "event", Name: "video_play", Filters: []Filter{{Field: "topic", Op: "in", Values: []string{"控糖"}}}},
			{Kind: "event", Name: "search"},
			{Kind: "order", Filters: []Filter{{Field: "category", Op: "in", Values: []string{"低GI大米"}}}},
		},
		WindowHours: 7 * 24, From: "2026-05-16", To: "2026-06-15",
	}
}

func TestFunnelCountsTheHandComputedLevels(t *testing.T) {
	s, _ := world(t)
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		edit  func(*Funnel)
		want  []uint64
		times []uint64
	}{
		{"ordered", func(*Funnel) {}, []uint64{9, 6, 4}, []uint64{0, 0, 0, 3, 0, 1, 0, 0, 0, 0}},
		{"exclusion", func(f *Funnel) { f.Exclusion = &Step{Kind: "wecom", Name: "del_follow_user"} }, []uint64{8, 5, 3}, []uint64{0, 0, 0, 2, 0, 1, 0, 0, 0, 0}},
		{"strict", func(f *Funnel) { f.Order = OrderStrict }, []uint64{9, 5, 3}, nil},
		{"any order", func(f *Funnel) { f.Order = OrderAny }, []uint64{10, 7, 4}, nil},
		{"window 2 hours", func(f *Funnel) { f.WindowHours = 2 }, []uint64{9, 6, 1}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := testFunnel()
			c.edit(&f)
			res, err := s.Funnel(ctx, f, false)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Total.Persons, c.want) {
				t.Errorf("persons %v, want %v", res.Total.Persons, c.want)
			}
			if c.times != nil && !slices.Equal(res.Total.TimeToConvert, c.times) {
				t.Errorf("time to convert %v, want %v", res.Total.TimeToConvert, c.times)
			}
		})
	}
}

func TestFunnelMediansBreakdownsAndCache(t *testing.T) {
	s, _ := world(t)
	ctx := context.Background()
	f := testFunnel()
	f.Breakdown = "channel"
	res, err := s.Funnel(ctx, f, false)
	if err != nil {
		t.Fatal(err)
	}
	// Step 2 after 0.5, 1, 1, 1, 2, 2 hours: quantileExact takes the upper
	// median, 1 h; step 3 after 2, 3, 5, 24 hours: 5 h.
	if !slices.Equal(res.Total.MedianSeconds, []float64{0, 3600, 5 * 3600}) {
		t.Errorf("medians %v", res.Total.MedianSeconds)
	}
	got := map[string][]uint64{}
	for _, b := range res.Breakdown {
		got[b.Value] = b.Persons
	}
	want := map[string][]uint64{"douyin": {7, 5, 4}, "mini_program": {2, 1, 0}}
	if len(got) != len(want) || !slices.Equal(got["douyin"], want["douyin"]) || !slices.Equal(got["mini_program"], want["mini_program"]) {
		t.Errorf("by channel %v, want %v", got, want)
	}
	if res.Cached {
		t.Error("the first answer came from the cache")
	}
	again, err := s.Funnel(ctx, f, false)
	if err != nil || !again.Cached || again.Key != res.Key || !slices.Equal(again.Total.Persons, res.Total.Persons) {
		t.Errorf("second answer cached=%v key %s/%s (%v)", again.Cached, again.Key, res.Key, err)
	}
	for by, want := range map[string]map[string][]uint64{
		"city":      {"上海": {3, 3, 2}, "杭州": {1, 1, 1}, "合肥": {1, 1, 1}, "洛阳": {1, 0, 0}, "": {3, 1, 0}},
		"city_tier": {"1": {3, 3, 2}, "2": {1, 1, 1}, "3": {1, 1, 1}, "4": {1, 0, 0}, "0": {3, 1, 0}},
		"state":     {"store_qr": {1, 1, 1}, "douyin_live": {1, 1, 1}, "": {7, 4, 2}},
	} {
		f.Breakdown = by
		res, err := s.Funnel(ctx, f, false)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]uint64{}
		for _, b := range res.Breakdown {
			got[b.Value] = b.Persons
		}
		for k, w := range want {
			if !slices.Equal(got[k], w) {
				t.Errorf("by %s: %q %v, want %v (all %v)", by, k, got[k], w, got)
			}
		}
	}
}

func TestFunnelPeopleAreTheCountedPersons(t *testing.T) {
	s, _ := world(t)
	ctx := context.Background()
	for _, c := range []struct {
		step    int
		outcome string
		want    []uint32
	}{
		{3, Converted, []uint32{1, 8, 10, 11}},
		{3, Dropped, []uint32{2, 7}},
		{2, Dropped, []uint32{3, 4, 5}},
		{1, Converted, []uint32{1, 2, 3, 4, 5, 7, 8, 10, 11}},
	} {
		bm, err := s.FunnelPeople(ctx, testFunnel(), c.step, c.outcome, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := bm.ToArray(); !slices.Equal(got, c.want) {
			t.Errorf("step %d %s: %v, want %v", c.step, c.outcome, got, c.want)
		}
	}
	f := testFunnel()
	f.Breakdown = "channel"
	v := "mini_program"
	bm, err := s.FunnelPeople(ctx, f, 2, Dropped, &v)
	if err != nil || !slices.Equal(bm.ToArray(), []uint32{3}) {
		t.Errorf("mini_program dropped at 2: %v (%v)", bm, err)
	}
	var ie *InvalidError
	if _, err := s.FunnelPeople(ctx, testFunnel(), 1, Dropped, nil); !errors.As(err, &ie) || ie.Field != "step" {
		t.Errorf("dropped at step 1: %v", err)
	}
}

func TestFunnelRefusesBadDefinitions(t *testing.T) {
	s, _ := world(t)
	for field, edit := range map[string]func(*Funnel){
		"steps":                      func(f *Funnel) { f.Steps = f.Steps[:1] },
		"steps[1].kind":              func(f *Funnel) { f.Steps[1].Kind = "sms" },
		"steps[0].filters[0].field":  func(f *Funnel) { f.Steps[0].Filters[0].Field = "status" },
		"steps[0].filters[0].op":     func(f *Funnel) { f.Steps[0].Filters[0].Op = "like" },
		"steps[2].filters[0].values": func(f *Funnel) { f.Steps[2].Filters[0] = Filter{Field: "amount", Op: "gte", Values: []string{"x"}} },
		"window_hours":               func(f *Funnel) { f.WindowHours = -1 },
		"order":                      func(f *Funnel) { f.Order = "random" },
		"breakdown":                  func(f *Funnel) { f.Breakdown = "age" },
		"segments":                   func(f *Funnel) { f.Breakdown = "segment" },
		"from":                       func(f *Funnel) { f.From = "2026-07-01" },
		"steps[0].name":              func(f *Funnel) { f.Steps[0].Name = "a'b" },
	} {
		f := testFunnel()
		edit(&f)
		var ie *InvalidError
		if _, err := s.Funnel(context.Background(), f, false); !errors.As(err, &ie) || ie.Field != field {
			t.Errorf("%s: %v", field, err)
		}
	}
}

func TestRetentionCohortsByMonth(t *testing.T) {
	s, _ := world(t)
	res, err := s.Retention(context.Background(), Retention{Cohorts{Months: 3, From: "2026-01-01", To: "2026-06-30"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []CohortRow{
		{Cohort: "2026-01-01", Size: 2, Retained: []uint64{2, 1, 1, 1}, Eligible: []uint64{2, 2, 2, 2}},
		{Cohort: "2026-02-01", Size: 3, Retained: []uint64{3, 1, 0, 0}, Eligible: []uint64{3, 3, 3, 3}},
		{Cohort: "2026-06-01", Size: 6, Retained: []uint64{6, 0, 0, 0}, Eligible: []uint64{6, 0, 0, 0}},
	}
	if !rowsEqual(res.Rows, want) {
		t.Errorf("rows %+v, want %+v", res.Rows, want)
	}
	res, err = s.Retention(context.Background(), Retention{Cohorts{Cohort: CohortCategory, Months: 2, From: "2026-01-01", To: "2026-02-28"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	want = []CohortRow{
		{Cohort: "东北大米", Size: 1, Retained: []uint64{1, 0, 0}, Eligible: []uint64{1, 1, 1}},
		{Cohort: "五常大米", Size: 3, Retained: []uint64{3, 2, 0}, Eligible: []uint64{3, 3, 3}},
		{Cohort: "高油酸花生油", Size: 1, Retained: []uint64{1, 0, 1}, Eligible: []uint64{1, 1, 1}},
	}
	if !rowsEqual(res.Rows, want) {
		t.Errorf("by first category %+v, want %+v", res.Rows, want)
	}
}

func rowsEqual(a, b []CohortRow) bool {
	return slices.EqualFunc(a, b, func(x, y CohortRow) bool {
		return x.Cohort == y.Cohort && x.Size == y.Size && slices.Equal(x.Retained, y.Retained) && slices.Equal(x.Eligible, y.Eligible)
	})
}

func TestRepurchaseCurveOfRiceAndOil(t *testing.T) {
	s, _ := world(t)
	rice, err := s.Repurchase(context.Background(), Repurchase{Kind: "rice", From: "2026-01-01", To: "2026-06-15"}, false)
	if err != nil {
		t.Fatal(err)
	}
	// Rice gaps: C21 26 days, C24 18: the upper median is 26; three cycles.
	if rice.CycleDays != 26 || rice.CycleSource != "data" || rice.Days != 78 || len(rice.Curves) != 1 {
		t.Fatalf("rice cycle %v (%s), days %d, %d curves", rice.CycleDays, rice.CycleSource, rice.Days, len(rice.Curves))
	}
	c := rice.Curves[0]
	// Nine rice buyers: C21, C23, C24, C25 in January-February, P1, P8,
	// P10, P11 on June 5 (Beijing) and P5 on June 10.
	for _, x := range []struct {
		n               int
		eligible, again uint64
	}{{5, 9, 0}, {6, 8, 0}, {18, 4, 1}, {25, 4, 1}, {26, 4, 2}, {78, 4, 2}} {
		if c.Eligible[x.n-1] != x.eligible || c.Repurchased[x.n-1] != x.again {
			t.Errorf("rice day %d: %d of %d, want %d of %d", x.n, c.Repurchased[x.n-1], c.Eligible[x.n-1], x.again, x.eligible)
		}
	}
	if c.Buyers != 9 || math.Abs(c.Rate[25]-0.5) > 1e-9 {
		t.Errorf("buyers %d, rate at 26 days %v", c.Buyers, c.Rate[25])
	}
	oil, err := s.Repurchase(context.Background(), Repurchase{Kind: "oil", Days: 40, From: "2026-01-01", To: "2026-06-15"}, false)
	if err != nil {
		t.Fatal(err)
	}
	// Oil: C22 (gaps 3, 34), C21 (04-20), P7 (June 5): median gap 34.
	if oil.CycleDays != 34 || oil.Curves[0].Buyers != 3 || oil.Curves[0].Repurchased[2] != 1 || oil.Curves[0].Eligible[2] != 3 {
		t.Errorf("oil %+v", oil)
	}
}

func TestLTVCurvesByChannel(t *testing.T) {
	s, _ := world(t)
	res, err := s.LTV(context.Background(), LTV{Cohorts{Months: 3, From: "2026-01-01", To: "2026-02-28"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]float64{
		"douyin_shop": {90, 180, 180, 180},
		"pos":         {100, 100, 130, 130},
		"tmall":       {225.0 / 3, 275.0 / 3, 275.0 / 3, 355.0 / 3},
	}
	if len(res.Rows) != 3 {
		t.Fatalf("curves %+v", res.Rows)
	}
	for _, c := range res.Rows {
		for k, v := range want[c.Cohort] {
			if math.Abs(c.Value[k]-v) > 1e-9 {
				t.Errorf("%s month %d: %v, want %v", c.Cohort, k, c.Value[k], v)
			}
		}
	}
}

func TestLifecycleStates(t *testing.T) {
	s, _ := world(t)
	res, err := s.Lifecycle(context.Background(), Lifecycle{Period: "month", From: "2026-01-01", To: "2026-06-30"}, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []LifecyclePeriod{
		{Period: "2026-01-01", New: 2},
		{Period: "2026-02-01", New: 3, Returning: 1, Dormant: 1},
		{Period: "2026-03-01", Returning: 1, Resurrecting: 1, Dormant: 3},
		{Period: "2026-04-01", Resurrecting: 1, Dormant: 2},
		{Period: "2026-05-01", Dormant: 1},
		{Period: "2026-06-01", New: 6},
	}
	if !slices.Equal(res.Periods, want) {
		t.Errorf("buyers by month %+v, want %+v", res.Periods, want)
	}
	res, err = s.Lifecycle(context.Background(), Lifecycle{Audience: "engaged", From: "2026-05-25", To: "2026-06-15"}, false)
	if err != nil {
		t.Fatal(err)
	}
	want = []LifecyclePeriod{
		{Period: "2026-05-25", New: 1},
		{Period: "2026-06-01", New: 10, Dormant: 1},
		{Period: "2026-06-08", Dormant: 10},
		{Period: "2026-06-15"},
	}
	if !slices.Equal(res.Periods, want) {
		t.Errorf("engaged by week %+v, want %+v", res.Periods, want)
	}
}

func TestSavedDropOffIsExactlyTheCountedPeople(t *testing.T) {
	s, db := world(t)
	ctx := context.Background()
	store, err := segments.NewStore(ctx, db, segments.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	f := testFunnel()
	res, err := s.Funnel(ctx, f, false)
	if err != nil {
		t.Fatal(err)
	}
	people, err := s.FunnelPeople(ctx, f, 3, Dropped, nil)
	if err != nil {
		t.Fatal(err)
	}
	about := Describe(f, 3, Dropped, nil)
	def, err := store.SaveList(ctx, "控糖 drop-off", "", about, `{"funnel":{}}`, people, "test")
	if err != nil {
		t.Fatal(err)
	}
	counted := res.Total.Persons[1] - res.Total.Persons[2]
	members, err := store.Members(def.ID)
	if err != nil || def.Size != counted || !members.Equals(people) {
		t.Fatalf("segment %s of %d (%v), funnel counted %d: %v", def.Rule, def.Size, err, counted, members)
	}
	// The list names 控糖 in its description, so targeting it needs the
	// consent a 控糖 rule needs.
	if fd := segments.SegmentSensitivity(def.ID, store, segments.NewVocabulary([]string{"控糖"}, nil)); fd == nil {
		t.Errorf("%s is not sensitive", def.Rule)
	}
	// Person 7 is merged into 2 later: the list counts the survivor once.
	insert(t, db, "persons", personCols, []any{uint32(7), uint32(2), uint32(2), uint64(3)})
	store.Engine().Invalidate()
	if def, err = store.Recompute(ctx, def.ID); err != nil || def.Size != 1 {
		t.Errorf("after a merge: %d members (%v), want 1", def.Size, err)
	}
}

// segmentsOf resolves segments from fixed bitmaps (what segments.Store
// answers from its snapshots).
type segmentsOf map[string]*roaring.Bitmap

func (m segmentsOf) SegmentMembers(_ context.Context, id string) (*roaring.Bitmap, error) {
	if bm, ok := m[id]; ok {
		return bm, nil
	}
	return nil, errors.New("no such segment")
}

func TestFunnelBreakdownBySegment(t *testing.T) {
	_, db := world(t)
	s := New(Options{DB: db, Now: func() time.Time { return testNow }, Segments: segmentsOf{
		"s1": roaring.BitmapOf(1, 2, 3), "s2": roaring.BitmapOf(2, 8),
	}})
	f := testFunnel()
	f.Breakdown, f.Segments = "segment", []string{"s1", "s2"}
	res, err := s.Funnel(context.Background(), f, false)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]uint64{}
	for _, b := range res.Breakdown {
		got[b.Value] = b.Persons
	}
	// P2 is in both; P4, P5, P7, P10 and P11 in neither.
	want := map[string][]uint64{"s1": {3, 2, 1}, "s2": {2, 2, 1}, "": {5, 3, 2}}
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Errorf("segment %q: %v, want %v", k, got[k], w)
		}
	}
	if !slices.Equal(res.Total.Persons, []uint64{9, 6, 4}) {
		t.Errorf("total %v: a person in two segments counts once", res.Total.Persons)
	}
	f.Segments = []string{"gone"}
	var ie *InvalidError
	if _, err := s.Funnel(context.Background(), f, false); !errors.As(err, &ie) || ie.Field != "segments[0]" {
		t.Errorf("unknown segment: %v", err)
	}
}
