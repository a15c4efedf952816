package demand

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/granarycdp/cdp/gen"
	"github.com/granarycdp/cdp/store/storetest"
)

// TestGeneratedSurgeIsAlertedOnceThroughClickHouse runs the whole path on
// the engine: a generated world's 高油酸花生油 searches, with the issue's
// surge in 成都 (×4 over 5 days), go in as Douyin search events with their
// location; the materialized view sums them; DetectDay, run for each day
// as the daily job would, alerts the surge once, on its first or second
// day, with 成都's neighbours in 四川 as evidence.
func TestGeneratedSurgeIsAlertedOnceThroughClickHouse(t *testing.T) {
	db := storetest.Migrated(t)
	ctx := context.Background()
	s := New(db, nil)
	const days = 445
	onset := simStart.AddDate(0, 0, 430).Add(10 * time.Hour)
	surge := gen.Surge{Class: "高油酸花生油", Province: "四川", City: "成都", Onset: onset, Days: 5, Factor: 4, OrderLag: 7, OrderFactor: 2.5}
	w := gen.GenerateDemand(gen.DemandConfig{Seed: 9, Start: simStart, Days: days, Scale: 6, Surges: []gen.Surge{surge}})
	r := rand.New(rand.NewPCG(5, 6))
	var rows [][]any
	n := 0
	for _, k := range w.Keys {
		if k.Class != surge.Class {
			continue
		}
		loc := fmt.Sprintf(`{"location":{"region":%q,"city":%q}}`, k.Province, k.City)
		for d, c := range w.Searches[k] {
			for range c {
				at := w.Start.AddDate(0, 0, d).Add(time.Duration(r.IntN(24*3600)) * time.Second)
				n++
				rows = append(rows, []any{fmt.Sprintf("g%d", n), "track", "search", at, at, "douyin", uint32(0), `{"keyword":"高油酸花生油"}`, loc})
			}
		}
	}
	for i := 0; i < len(rows); i += 50_000 {
		insert(t, db, "events", eventCols, rows[i:min(i+50_000, len(rows))]...)
	}
	var alerts []Alert
	for d := 425; d < days; d++ {
		got, err := s.DetectDay(ctx, w.Start.AddDate(0, 0, d), DefaultDetectOptions())
		if err != nil {
			t.Fatal(err)
		}
		alerts = append(alerts, got...)
	}
	var ours []Alert
	for _, a := range alerts {
		if a.Key == (Key{surge.Class, surge.Province, surge.City}) {
			ours = append(ours, a)
		} else {
			t.Logf("other alert: %s %v observed %.0f expected %.1f", a.Day.Format(time.DateOnly), a.Key, a.Observed, a.Expected)
		}
	}
	if len(ours) != 1 {
		t.Fatalf("%d alerts for the surge in 成都, want one: %+v", len(ours), ours)
	}
	a := ours[0]
	delay := a.Day.AddDate(0, 0, 1).Sub(onset)
	if delay <= 0 || delay > 38*time.Hour {
		t.Errorf("alert on %s for a surge from %s", a.Day, onset)
	}
	if len(a.Neighbours) == 0 || a.Neighbours[0].City != "绵阳" || a.Ratio < 2 {
		t.Errorf("evidence: ratio %.2f, neighbours %+v", a.Ratio, a.Neighbours)
	}
	t.Logf("%d search events; alert %s on %s: observed %.0f, expected %.1f, q %.2g, delay %s; %d other alerts over %d series-days",
		len(rows), a.ID, a.Day.Format(time.DateOnly), a.Observed, a.Expected, a.Q, delay, len(alerts)-1, 44*(days-425))
}
