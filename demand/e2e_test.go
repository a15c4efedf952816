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
// location; the materialized view sums them; DetectAt, run every 6 hours
// as a job would, alerts the surge once, within 24 hours of its onset,
// with 成都's neighbour in 四川 as evidence.
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
	const step = 6
	from, to := onset.Add(-24*time.Hour).Truncate(24*time.Hour), onset.Add(6*24*time.Hour)
	for at := from; at.Before(to); at = at.Add(step * time.Hour) {
		got, err := s.DetectAt(ctx, at, step, DefaultDetectOptions())
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
			t.Logf("other alert: %s %v observed %.0f expected %.1f", a.To.Format(time.DateTime), a.Key, a.Observed, a.Expected)
		}
	}
	if len(ours) != 1 {
		t.Fatalf("%d alerts for the surge in 成都, want one: %+v", len(ours), ours)
	}
	a := ours[0]
	delay := a.To.Sub(onset)
	if delay <= 0 || delay > 24*time.Hour {
		t.Errorf("alert for the window to %s for a surge from %s", a.To, onset)
	}
	if len(a.Neighbours) == 0 || a.Neighbours[0].City != "绵阳" || a.Ratio < 2 {
		t.Errorf("evidence: ratio %.2f, neighbours %+v", a.Ratio, a.Neighbours)
	}
	t.Logf("%d search events; alert %s on %s: observed %.0f, expected %.1f, q %.2g, delay %s; %d other alerts over %d series-days",
		len(rows), a.ID, a.To.Format(time.DateTime), a.Observed, a.Expected, a.Q, delay, len(alerts)-1, 44*7)
}
