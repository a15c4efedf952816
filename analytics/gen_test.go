package analytics

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/granarycdp/cdp/gen"
	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/store/storetest"
)

// genOrder is the latest version of a generated order.
type genOrder struct {
	Channel   string    `json:"channel"`
	OrderID   string    `json:"order_id"`
	Version   uint64    `json:"version"`
	Status    string    `json:"status"`
	OrderedAt time.Time `json:"ordered_at"`
	Amount    string    `json:"amount"`
	City      string    `json:"city"`
	Lines     []struct {
		Category    string `json:"category"`
		ProductName string `json:"product_name"`
	} `json:"lines"`
	household int
}

// TestAnalysesOnGeneratedHouseholds loads a year of generated orders (every
// version of every order, each household one person) and checks the
// service's retention table, rice repurchase curve and lifecycle against
// the same figures computed in Go from the generator's orders, and the
// rice cycle the platform finds against the households' true cycles
// (gen.Household.RiceDays, the days 5 kg lasts them).
func TestAnalysesOnGeneratedHouseholds(t *testing.T) {
	end := time.Date(2026, 11, 25, 0, 0, 0, 0, schema.Beijing)
	g := gen.New(gen.Config{Seed: 5, Households: 1500, End: end})
	latest := map[string]*genOrder{}
	var ords, lines [][]any
	err := g.Each(func(it gen.Item) error {
		if it.Kind != gen.KindOrder {
			return nil
		}
		var o genOrder
		if err := json.Unmarshal(it.Data, &o); err != nil {
			return err
		}
		o.household = it.Household
		p := uint32(it.Household + 1)
		amount := decimal.RequireFromString(o.Amount)
		ords = append(ords, []any{o.Channel, o.OrderID, o.Version, o.Status, o.OrderedAt, o.OrderedAt, amount, "CNY", "", o.City, p, "gen", end})
		for i, l := range o.Lines {
			lines = append(lines, []any{o.Channel, o.OrderID, uint16(i + 1), o.Version, "", l.ProductName, l.Category, decimal.NewFromInt(1), amount, amount, o.OrderedAt, p})
		}
		// A status update may come without lines: the lines stay those of
		// the version that had them (as order_lines keeps them).
		if prev := latest[o.Channel+"/"+o.OrderID]; prev == nil || prev.Version < o.Version {
			if prev != nil && len(o.Lines) == 0 {
				o.Lines = prev.Lines
			}
			latest[o.Channel+"/"+o.OrderID] = &o
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db := storetest.Migrated(t)
	var persons [][]any
	for p := uint32(1); p <= 1500; p++ {
		persons = append(persons, []any{p, p, p, uint64(1)})
	}
	insert(t, db, "persons", personCols, persons...)
	insert(t, db, "orders", orderCols, ords...)
	insert(t, db, "order_lines", lineCols, lines...)
	s := New(Options{DB: db, Now: func() time.Time { return end }})
	days := plainPurchaseDays(latest)

	t.Run("retention", func(t *testing.T) { checkGenRetention(t, s, days.all) })
	t.Run("rice repurchase", func(t *testing.T) { checkGenRepurchase(t, s, days.rice, end) })
	t.Run("rice cycle against the households' truth", func(t *testing.T) { checkGenCycle(t, s, g, latest) })
}

type purchaseDays struct{ all, rice map[uint32][]time.Time }

// plainPurchaseDays are each person's distinct Beijing days with a valid
// order, and with a valid order of rice, sorted.
func plainPurchaseDays(latest map[string]*genOrder) purchaseDays {
	d := purchaseDays{all: map[uint32][]time.Time{}, rice: map[uint32][]time.Time{}}
	add := func(m map[uint32][]time.Time, p uint32, t time.Time) {
		day := time.Date(t.In(schema.Beijing).Year(), t.In(schema.Beijing).Month(), t.In(schema.Beijing).Day(), 0, 0, 0, 0, time.UTC)
		if !slices.ContainsFunc(m[p], day.Equal) {
			m[p] = append(m[p], day)
		}
	}
	for _, o := range latest {
		if !schema.ValidOrderStatus(o.Status) {
			continue
		}
		p := uint32(o.household + 1)
		add(d.all, p, o.OrderedAt)
		for _, l := range o.Lines {
			if strings.Contains(l.Category, "米") {
				add(d.rice, p, o.OrderedAt)
			}
		}
	}
	for _, m := range []map[uint32][]time.Time{d.all, d.rice} {
		for p := range m {
			slices.SortFunc(m[p], func(a, b time.Time) int { return a.Compare(b) })
		}
	}
	return d
}

func checkGenRetention(t *testing.T, s *Service, all map[uint32][]time.Time) {
	res, err := s.Retention(context.Background(), Retention{Cohorts{Months: 3, From: "2026-01-01", To: "2026-08-31"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]uint64{}
	for _, ds := range all {
		first := time.Date(ds[0].Year(), ds[0].Month(), 1, 0, 0, 0, 0, time.UTC)
		if first.Before(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) || first.After(time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)) {
			continue
		}
		key := first.Format(dateLayout)
		if want[key] == nil {
			want[key] = make([]uint64, 4)
		}
		for k := 0; k <= 3; k++ {
			m := first.AddDate(0, k, 0)
			if slices.ContainsFunc(ds, func(d time.Time) bool { return d.Year() == m.Year() && d.Month() == m.Month() }) {
				want[key][k]++
			}
		}
	}
	if len(res.Rows) != len(want) || len(want) < 6 {
		t.Fatalf("%d cohorts, want %d", len(res.Rows), len(want))
	}
	for _, r := range res.Rows {
		if !slices.Equal(r.Retained, want[r.Cohort]) {
			t.Errorf("cohort %s: %v, plain %v", r.Cohort, r.Retained, want[r.Cohort])
		}
	}
}

func checkGenRepurchase(t *testing.T, s *Service, rice map[uint32][]time.Time, end time.Time) {
	res, err := s.Repurchase(context.Background(), Repurchase{Kind: "rice", Days: 120, From: "2025-11-25", To: "2026-11-24"}, false)
	if err != nil {
		t.Fatal(err)
	}
	today := time.Date(end.Year(), end.Month(), end.Day(), 0, 0, 0, 0, time.UTC)
	var gaps []int
	for _, n := range []int{7, 30, 60, 90, 120} {
		var eligible, again uint64
		for _, ds := range rice {
			if int(today.Sub(ds[0]).Hours()/24) < n {
				continue
			}
			eligible++
			if len(ds) > 1 && int(ds[1].Sub(ds[0]).Hours()/24) <= n {
				again++
			}
		}
		c := res.Curves[0]
		if c.Eligible[n-1] != eligible || c.Repurchased[n-1] != again {
			t.Errorf("day %d: %d of %d, plain %d of %d", n, c.Repurchased[n-1], c.Eligible[n-1], again, eligible)
		}
	}
	for _, ds := range rice {
		for i := 1; i < len(ds); i++ {
			gaps = append(gaps, int(ds[i].Sub(ds[i-1]).Hours()/24))
		}
	}
	sort.Ints(gaps)
	if res.CycleDays != float64(gaps[len(gaps)/2]) {
		t.Errorf("cycle %v, plain median gap %d", res.CycleDays, gaps[len(gaps)/2])
	}
}

// checkGenCycle: each rice-buying household's true cycle is how long its
// usual pack lasts it (RiceDays per 5 kg, scaled by the pack's weight);
// the platform's cycle (the median gap between purchase days) must be
// near the median true cycle. Households skip the brand sometimes and
// promotions pull purchases forward or back, so "near" is within 20%
// (seed 5: 29 days found, 28.9 true).
func checkGenCycle(t *testing.T, s *Service, g *gen.Generator, latest map[string]*genOrder) {
	res, err := s.Repurchase(context.Background(), Repurchase{Kind: "rice"}, false)
	if err != nil {
		t.Fatal(err)
	}
	kg := map[int][]float64{}
	for _, o := range latest {
		for _, l := range o.Lines {
			if strings.Contains(l.Category, "米") {
				kg[o.household] = append(kg[o.household], packKg(l.ProductName))
			}
		}
	}
	var truth []float64
	err = g.Households(func(h *gen.Household) error {
		if w := kg[h.Index]; len(w) >= 2 {
			sort.Float64s(w)
			truth = append(truth, h.RiceDays*w[len(w)/2]/5)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Float64s(truth)
	median := truth[len(truth)/2]
	if math.Abs(res.CycleDays/median-1) > 0.20 {
		t.Errorf("rice cycle %v days, households' median true cycle %.1f (%d households)", res.CycleDays, median, len(truth))
	}
	t.Logf("rice cycle %v days; households' median true cycle %.1f days (%d households)", res.CycleDays, median, len(truth))
}

// packKg reads a rice pack's weight from its product name (5kg, 500g).
func packKg(name string) float64 {
	for _, f := range strings.Fields(name) {
		var x float64
		switch {
		case strings.HasSuffix(f, "kg"):
			if _, err := fmt.Sscan(strings.TrimSuffix(f, "kg"), &x); err == nil {
				return x
			}
		case strings.HasSuffix(f, "g"):
			if _, err := fmt.Sscan(strings.TrimSuffix(f, "g"), &x); err == nil {
				return x / 1000
			}
		}
	}
	return 5
}
