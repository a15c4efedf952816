package demand

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/granarycdp/cdp/campaigns"
	"github.com/granarycdp/cdp/gen"
	"github.com/granarycdp/cdp/journeys"
	"github.com/granarycdp/cdp/segments"
	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// TestGeneratedSurgeIsAlertedOnceThroughClickHouse runs the whole path on
// the engine: a generated world's 高油酸花生油 searches, with the issue's
// surge in 成都 (×4 over 5 days), go in as Douyin search events with their
// location; the materialized view sums them; DetectAt, run every 6 hours
// as a job would, alerts the surge once, within 24 hours of its onset,
// with 成都's neighbour in 四川 as evidence.
//
// The rounds are the loop's (Service.Round: detect, record, deliver) with
// the in-process campaigns and journeys targets: a running demand-surge
// campaign for 高油酸花生油, over a segment of persons in 成都, 绵阳 and 北京,
// plans the alert's region's persons (成都) once, and a running journey
// with a demand_surge entry over the same segment (re-entry after exit,
// its runs ending at once) enters them once; the later rounds, and the
// same alert handed over again (as after a crash before the journal's
// write), plan and enter nobody more.
func TestGeneratedSurgeIsAlertedOnceThroughClickHouse(t *testing.T) {
	db := storetest.Migrated(t)
	ctx := context.Background()
	s := New(db, nil)
	camp := surgeCampaign(t, db)
	jrn := camp.surgeJourney(t)
	notifier := &Notifier{DB: db, Targets: []Target{Campaigns(camp.svc), Journeys(jrn.svc)}}
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
	const step = 6
	from, to := onset.Add(-24*time.Hour).Truncate(24*time.Hour), onset.Add(6*24*time.Hour)
	var last time.Time
	for at := from; at.Before(to); at = at.Add(step * time.Hour) {
		last = at
		if err := s.Round(ctx, at, RunOptions{Notifier: notifier, Step: step, Detect: DefaultDetectOptions()}); err != nil {
			t.Fatal(err)
		}
		if err := jrn.svc.Round(ctx); err != nil { // the entered runs exit: they could enter again
			t.Fatal(err)
		}
	}
	alerts, err := s.Alerts(ctx, from, 1000)
	if err != nil {
		t.Fatal(err)
	}
	// The same rounds in one pass (the demo's catch-up) find the same alerts.
	once, err := s.DetectBetween(ctx, from.Add(-time.Hour), last, step, DefaultDetectOptions())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := alertIDs(once), alertIDs(alerts); !slices.Equal(got, want) {
		t.Errorf("DetectBetween over the rounds' hours found %v, the rounds %v", got, want)
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
	camp.check(t, a)
	jrn.check(t, a)
	t.Logf("%d search events; alert %s on %s: observed %.0f, expected %.1f, q %.2g, delay %s; %d other alerts over %d series-days",
		len(rows), a.ID, a.To.Format(time.DateTime), a.Observed, a.Expected, a.Q, delay, len(alerts)-1, 44*7)
}

// surgeRig is a running demand-surge campaign for 高油酸花生油 over a
// segment of 30 persons whose latest orders are in 成都 (1-10), 绵阳 (11-20,
// the same province) and 北京 (21-30).
type surgeRig struct {
	db      *store.DB
	svc     *campaigns.Service
	id      string
	chengdu []uint32
}

func surgeCampaign(t *testing.T, db *store.DB) surgeRig {
	ctx := context.Background()
	at := time.Date(2024, 12, 1, 2, 0, 0, 0, time.UTC)
	var persons, orders [][]any
	r := surgeRig{db: db}
	for p := uint32(1); p <= 30; p++ {
		pl := [][2]string{{"四川", "成都"}, {"四川", "绵阳"}, {"北京", "北京"}}[(p-1)/10]
		if pl[1] == "成都" {
			r.chengdu = append(r.chengdu, p)
		}
		persons = append(persons, []any{p, p, p, uint64(1)})
		orders = append(orders, []any{"tmall", fmt.Sprintf("so%d", p), uint64(1), "paid", at, at, "100", "CNY", pl[0], pl[1], p, "tmall", at})
	}
	insert(t, db, "persons", "person_id, parent, canonical, version", persons...)
	insert(t, db, "orders", orderCols, orders...)
	segs, err := segments.NewStore(ctx, db, segments.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	seg, err := segs.Save(ctx, segments.Definition{Name: "oil buyers", Rule: `city in ["成都", "绵阳", "北京"]`}, "test")
	if err != nil {
		t.Fatal(err)
	}
	w := store.NewWriter(db, store.WriterOptions{})
	t.Cleanup(func() { w.Close(context.Background()) })
	r.svc = &campaigns.Service{DB: db, Writer: w, Segments: segs, Logger: storetest.Logger()}
	offer, err := r.svc.SaveOffer(ctx, campaigns.Offer{Name: "高油酸花生油 5L", Categories: []string{"高油酸花生油"}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.svc.SaveCampaign(ctx, campaigns.Campaign{Name: "surge", OfferID: offer.ID, SegmentID: seg.ID, Channel: "outbox",
		Trigger: campaigns.TriggerDemandSurge, Surge: &campaigns.SurgeFilter{Class: "高油酸花生油"}, Template: "{{offer}}"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.svc.Launch(ctx, c.ID, "test"); err != nil {
		t.Fatal(err)
	}
	r.id = c.ID
	return r
}

// counts counts the rows of from (a table or subquery with person_id)
// whose id column equals id: all of them, those of distinct persons, and
// those of 成都's persons.
func (r surgeRig) counts(t *testing.T, from, id string) (rows, persons, chengdu int) {
	q := "SELECT count(), uniqExact(person_id), countIf(has(?, person_id)) FROM " + from
	var n [3]uint64
	if err := r.db.Conn.QueryRow(context.Background(), q, r.chengdu, id).Scan(&n[0], &n[1], &n[2]); err != nil {
		t.Fatal(err)
	}
	return int(n[0]), int(n[1]), int(n[2])
}

// checkOnce: rows (of a send log, of runs) hold 成都's persons once each
// and nobody else, and the alert handed over again (again) adds none.
func (r surgeRig) checkOnce(t *testing.T, what string, rows func() (rows, persons, chengdu int), again func() (int, error)) {
	t.Helper()
	n, persons, chengdu := rows()
	if n != len(r.chengdu) || persons != n || chengdu != n {
		t.Fatalf("the surge in 成都 %s %d rows for %d persons, %d of 成都; want its %d persons once each", what, n, persons, chengdu, len(r.chengdu))
	}
	if m, err := again(); err != nil || m != 0 {
		t.Fatalf("the alert handed over again %s %d persons (%v), want none", what, m, err)
	}
	if more, _, _ := rows(); more != n {
		t.Fatalf("%d rows after the alert was handed over again, want %d", more, n)
	}
}

// check: the campaign planned 成都's persons once each and nobody else,
// and handing the alert over again plans nobody.
func (r surgeRig) check(t *testing.T, a Alert) {
	t.Helper()
	r.checkOnce(t, "planned", func() (int, int, int) {
		return r.counts(t, r.db.Table("campaign_sends")+" WHERE campaign_id = ?", r.id)
	}, func() (int, error) { return r.svc.DemandSurge(context.Background(), a.Surge()) })
}

// journeyRig is a running journey with a demand_surge entry for
// 高油酸花生油 over the campaign rig's segment, whose runs exit at once
// and may enter again after they exit: only the once-per-surge rule keeps
// a surge from entering a person twice.
type journeyRig struct {
	surgeRig
	svc *journeys.Service
	jid string
}

func (r surgeRig) surgeJourney(t *testing.T) journeyRig {
	ctx := context.Background()
	c, err := r.svc.Campaign(ctx, r.id)
	if err != nil {
		t.Fatal(err)
	}
	w := store.NewWriter(r.db, store.WriterOptions{})
	t.Cleanup(func() { w.Close(context.Background()) })
	svc := &journeys.Service{DB: r.db, Writer: w, Campaigns: r.svc, Segments: r.svc.Segments, Logger: storetest.Logger()}
	d := journeys.Definition{Name: "surge journey",
		Entry:    journeys.Entry{Type: journeys.EntryDemandSurge, SegmentID: c.SegmentID, Surge: &campaigns.SurgeFilter{Class: "高油酸花生油"}, Next: "out"},
		Nodes:    []journeys.Node{{ID: "out", Type: journeys.NodeExit}},
		Settings: journeys.Settings{GoalOfferID: c.OfferID, ReEntry: journeys.ReEntryAfterExit}}
	j, err := svc.Save(ctx, "", d, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Launch(ctx, j.ID, "test"); err != nil {
		t.Fatal(err)
	}
	return journeyRig{surgeRig: r, svc: svc, jid: j.ID}
}

// check: the journey entered 成都's persons once each (one run each) and
// nobody else, and handing the alert over again, then a round, enters
// nobody.
func (r journeyRig) check(t *testing.T, a Alert) {
	t.Helper()
	r.checkOnce(t, "entered", func() (int, int, int) {
		return r.counts(t, "(SELECT DISTINCT person_id, entry FROM "+r.db.Table("journey_runs")+" FINAL WHERE journey_id = ?)", r.jid)
	}, func() (int, error) {
		n, err := r.svc.DemandSurge(context.Background(), a.Surge())
		if err == nil {
			err = r.svc.Round(context.Background())
		}
		return n, err
	})
}

// alertIDs are the alerts' ids, sorted.
func alertIDs(alerts []Alert) []string {
	ids := make([]string, len(alerts))
	for i, a := range alerts {
		ids[i] = a.ID
	}
	slices.Sort(ids)
	return ids
}
