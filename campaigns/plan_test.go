package campaigns

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
)

func TestPlanExcludesAndSaysWhy(t *testing.T) {
	members := roaring.New()
	members.AddRange(1, 10_001)
	a := Audience{
		Members:   members,
		OptedOut:  roaring.BitmapOf(10),
		Suppress:  roaring.BitmapOf(11),
		Consented: roaring.New(),
		AtCap:     roaring.BitmapOf(13),
		Addresses: func(p uint32) (Address, bool) {
			if p == 12 {
				return Address{}, false
			}
			return Address{To: "wm" + string(rune('a'+p%26)), Sender: "staff"}, true
		},
	}
	for p := uint32(1); p <= 10_000; p++ {
		if p != 14 {
			a.Consented.Add(p)
		}
	}
	day := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC) // 11:00 in Shanghai
	plan := MakePlan(a, PlanOptions{CampaignID: "c1", HoldoutPercent: 10, Sensitive: true, QuietStart: 21, QuietEnd: 8, Now: day})
	why := map[uint32]string{}
	for _, e := range plan.Entries {
		why[e.Person] = e.Reason
	}
	for p, want := range map[uint32]string{10: ReasonOptedOut, 11: ReasonSuppressed, 12: ReasonNoAddress, 14: ReasonSensitive} {
		if why[p] != want {
			t.Errorf("person %d: %q, want %q", p, why[p], want)
		}
	}
	if why[13] != ReasonCap && why[13] != ReasonHoldout {
		t.Errorf("person 13 at cap: %q", why[13])
	}
	// The holdout is about 10% of the eligible and the same for every run.
	if h := plan.Counts[GroupHoldout]; h < 900 || h > 1100 {
		t.Fatalf("holdout %d of ~9,996 eligible, want about 10%%", h)
	}
	again := MakePlan(a, PlanOptions{CampaignID: "c1", HoldoutPercent: 10, Sensitive: true, QuietStart: 21, QuietEnd: 8, Now: day})
	for i := range plan.Entries {
		if plan.Entries[i] != again.Entries[i] {
			t.Fatalf("plan differs between runs at %d", i)
		}
	}
	other := MakePlan(a, PlanOptions{CampaignID: "c2", HoldoutPercent: 10, Now: day})
	same := 0
	for i := range plan.Entries {
		if plan.Entries[i].Group == GroupHoldout && other.Entries[i].Group == GroupHoldout {
			same++
		}
	}
	if same > plan.Counts[GroupHoldout]/5 {
		t.Fatalf("%d persons in both campaigns' holdouts: the holdout is not per campaign", same)
	}
	night := MakePlan(a, PlanOptions{CampaignID: "c1", QuietStart: 21, QuietEnd: 8, Now: day.Add(12 * time.Hour)})
	if night.Excluded[ReasonQuietHours] == 0 || night.Counts[GroupTreatment] != 0 {
		t.Fatalf("quiet hours at 23:00: %+v", night.Excluded)
	}
	limited := MakePlan(a, PlanOptions{CampaignID: "c1", SendLimit: 100, Now: day})
	if limited.Counts[GroupTreatment] != 100 || limited.Excluded[ReasonSendLimit] == 0 {
		t.Fatalf("send limit: %+v %+v", limited.Counts, limited.Excluded)
	}
	global := MakePlan(a, PlanOptions{CampaignID: "c1", GlobalControlPercent: 5, Now: day})
	if g := global.Excluded[ReasonGlobalControl]; g < 400 || g > 600 {
		t.Fatalf("global control %d of 10,000, want about 5%%", g)
	}
}

// TestUpliftMatchesHandComputation checks against values computed by hand
// (Newcombe 1998, method 10; log rate ratio interval).
func TestUpliftMatchesHandComputation(t *testing.T) {
	u := ComputeUplift(1000, 90, 9000, 200, 6, 500)
	near := func(got, want float64) bool { return math.Abs(got-want) < 5e-4 }
	if !near(u.Absolute, 0.06) || !near(u.Treatment.Rate, 0.09) || !near(u.Holdout.Rate, 0.03) {
		t.Fatalf("rates %+v", u)
	}
	// Wilson 95%: 90/1000 -> [0.073796, 0.109342]; 6/200 -> [0.013820, 0.063894].
	// Newcombe: 0.06 - sqrt(0.016204^2 + 0.033894^2) = 0.022432;
	//           0.06 + sqrt(0.019342^2 + 0.016180^2) = 0.085217.
	if !near(u.AbsoluteCI95[0], 0.022432) || !near(u.AbsoluteCI95[1], 0.085217) {
		t.Fatalf("absolute CI %v", u.AbsoluteCI95)
	}
	// RR = 3, se = sqrt(1/90 - 1/1000 + 1/6 - 1/200) = 0.414461;
	// exp(ln 3 ± 1.959964 * 0.414461) - 1 = [0.331471, 5.759444].
	if !near(*u.Relative, 2) || !near(u.RelativeCI95[0], 0.331471) || !near(u.RelativeCI95[1], 5.759444) {
		t.Fatalf("relative %v CI %v", *u.Relative, *u.RelativeCI95)
	}
	if u.Treatment.RevenuePerPerson != 9 || u.Holdout.RevenuePerPerson != 2.5 {
		t.Fatalf("revenue per person %+v", u)
	}
	if none := ComputeUplift(100, 5, 0, 100, 0, 0); none.Relative != nil {
		t.Fatal("relative uplift without holdout conversions")
	}
}

// TestHoldoutFacesTheSameExclusionsAsTreatment: caps, WeCom's cap and
// quiet hours take persons out of the holdout as they take them out of
// treatment, so that both arms are random halves of the same population.
func TestHoldoutFacesTheSameExclusionsAsTreatment(t *testing.T) {
	members := roaring.New()
	members.AddRange(1, 20_001)
	atCap, atChannelCap := roaring.New(), roaring.New()
	for p := uint32(1); p <= 20_000; p++ {
		switch p % 5 {
		case 0:
			atCap.Add(p)
		case 1, 2:
			atChannelCap.Add(p) // messaged through WeCom this morning
		}
	}
	a := Audience{Members: members, AtCap: atCap, AtChannelCap: atChannelCap,
		Addresses: func(p uint32) (Address, bool) { return Address{To: fmt.Sprint("wm", p)}, p%7 != 0 }}
	day := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	plan := MakePlan(a, PlanOptions{CampaignID: "c2", HoldoutPercent: 20, Now: day})
	for _, e := range plan.Entries {
		if e.Group == GroupHoldout && (atCap.Contains(e.Person) || atChannelCap.Contains(e.Person)) {
			t.Fatalf("holdout holds person %d, whom a cap keeps from any send (%+v)", e.Person, plan.HoldoutExcluded)
		}
	}
	// Holdout share of those who could be sent to: 20%, as drawn.
	treat, hold := plan.Counts[GroupTreatment], plan.Counts[GroupHoldout]
	if share := float64(hold) / float64(treat+hold); share < 0.18 || share > 0.22 {
		t.Fatalf("holdout share %.3f of %d reachable", share, treat+hold)
	}
	if plan.HoldoutExcluded[ReasonChannelCapLimit] < 1200 || plan.HoldoutExcluded[ReasonCap] < 600 {
		t.Fatalf("holdout persons who would have been excluded: %v", plan.HoldoutExcluded)
	}
	night := MakePlan(a, PlanOptions{CampaignID: "c2", HoldoutPercent: 20, QuietStart: 21, QuietEnd: 8, Now: day.Add(12 * time.Hour)})
	if night.Counts[GroupHoldout] != 0 || night.HoldoutExcluded[ReasonQuietHours] == 0 {
		t.Fatalf("in quiet hours the holdout holds %d persons", night.Counts[GroupHoldout])
	}
}

// TestSendLimitPicksTreatmentAtRandom: a send limit takes treatment
// persons across the whole audience, not the lowest ids, and thins the
// holdout by the same share.
func TestSendLimitPicksTreatmentAtRandom(t *testing.T) {
	members := roaring.New()
	members.AddRange(1, 10_001)
	a := Audience{Members: members, Addresses: func(p uint32) (Address, bool) { return Address{To: fmt.Sprint("p", p)}, true }}
	o := PlanOptions{CampaignID: "c1", HoldoutPercent: 20, SendLimit: 1000, Now: time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)}
	plan := MakePlan(a, o)
	var sum, n float64
	for _, e := range plan.Entries {
		if e.Group == GroupTreatment {
			sum += float64(e.Person)
			n++
		}
	}
	if n != 1000 {
		t.Fatalf("%v treated, limit 1000", n)
	}
	// The mean id of 1,000 persons drawn at random from 1..10,000 is
	// 5,000 ± 91 (SD 2,887/sqrt(1,000)).
	if mean := sum / n; mean < 4600 || mean > 5400 {
		t.Fatalf("mean id of the treated %.0f: the send limit favours ids", mean)
	}
	// 1,000 of ~8,000 treatment persons are kept (1/8); so are ~1/8 of
	// the ~2,000 holdout persons.
	if h := plan.Counts[GroupHoldout]; h < 200 || h > 300 {
		t.Fatalf("holdout %d after the send limit, want about 250", h)
	}
	again := MakePlan(a, o)
	for i := range plan.Entries {
		if plan.Entries[i] != again.Entries[i] {
			t.Fatalf("send limit differs between runs at %d", i)
		}
	}
}

// TestHoldoutsOfTwoCampaignsAreIndependent: whether a person is in one
// campaign's holdout says nothing of another's. Of 12,000 persons, a 20%
// holdout holds about 2,400; the share of them in a second campaign's 20%
// holdout is 20% with a standard deviation of 0.8 points, so a share off
// by 3.5 points (over 4 standard deviations) in any of 20 pairs of
// campaigns is structure, not chance.
func TestHoldoutsOfTwoCampaignsAreIndependent(t *testing.T) {
	for k := 0; k < 20; k++ {
		a, b := fmt.Sprintf("cmp_%06d", 2*k), fmt.Sprintf("cmp_%06d", 2*k+1)
		inA, both := 0, 0
		for p := uint32(1); p <= 12000; p++ {
			if bucket(a, p) < 2000 {
				inA++
				if bucket(b, p) < 2000 {
					both++
				}
			}
		}
		if share := float64(both) / float64(inA); math.Abs(share-0.2) > 0.035 {
			t.Errorf("%s and %s: %.3f of %d held out by the first are held out by the second, want 0.200", a, b, share, inA)
		}
	}
}
