package campaigns

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/granarycdp/cdp/segments"
	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// benchPersons is the audience size of the campaign benchmarks
// (CDP_BENCH_PERSONS, default 1,000,000).
func benchPersons() int {
	if n, err := strconv.Atoi(os.Getenv("CDP_BENCH_PERSONS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// benchFixture loads n persons who each watched a video, each a WeCom
// contact of one of 50 staff members, and a segment of all of them.
func benchFixture(b *testing.B, db *store.DB, n int) (*fixture, string) {
	b.Helper()
	ctx := context.Background()
	load := func(table, cols string, row func(p uint32) []any) {
		for from := 1; from <= n; from += 500_000 {
			batch, err := db.Conn.PrepareBatch(ctx, "INSERT INTO "+db.Table(table)+" ("+cols+")")
			if err != nil {
				b.Fatal(err)
			}
			for p := from; p < from+500_000 && p <= n; p++ {
				if err := batch.Append(row(uint32(p))...); err != nil {
					b.Fatal(err)
				}
			}
			if err := batch.Send(); err != nil {
				b.Fatal(err)
			}
		}
	}
	start := time.Now()
	load("persons", "person_id, parent, canonical, version", func(p uint32) []any { return []any{p, p, p, uint64(1)} })
	load("events", "message_id, type, event, ts, received_at, source, person_id, properties, spool_seq", func(p uint32) []any {
		return []any{fmt.Sprint("e", p), "track", "video_complete", launchTime.Add(-48 * time.Hour), launchTime, "douyin", p, `{"topic":"控糖"}`, uint64(p)}
	})
	load("wecom_contact_events", "dedup_key, ts, change_type, corp_id, staff_userid, external_userid, person_id", func(p uint32) []any {
		return []any{fmt.Sprint("k", p), launchTime.Add(-72 * time.Hour), "add_external_contact", "wwcorp", fmt.Sprintf("staff%02d", p%50), extID(p), p}
	})
	b.Logf("loaded %d persons, events and contacts in %v", n, time.Since(start).Round(time.Millisecond))
	opts := segments.DefaultOptions()
	opts.Now = func() time.Time { return launchTime }
	segs, err := segments.NewStore(ctx, db, opts)
	if err != nil {
		b.Fatal(err)
	}
	w := store.NewWriter(db, store.WriterOptions{})
	b.Cleanup(func() { w.Close(context.Background()) })
	// WeCom's daily cap would exclude everyone planned by the previous
	// iteration; the benchmark plans the same audience again and again.
	svc := &Service{DB: db, Writer: w, Segments: segs, Logger: storetest.Logger(), Now: func() time.Time { return launchTime },
		Channels: &Channels{WeComDailyCap: 1 << 30}}
	seg, err := segs.Save(ctx, segments.Definition{Name: "viewers", Rule: `did("video_complete", 30) >= 1`}, "bench")
	if err != nil {
		b.Fatal(err)
	}
	return &fixture{db: db, svc: svc, ctx: ctx}, seg.ID
}

// BenchmarkCampaignPlan plans a WeCom campaign for every member of a
// 1,000,000-person segment (holdout, consent, caps, WeCom's daily cap, the
// owning staff member of each customer) and writes the plan to the send
// log: what Launch does before the first send.
//
//	go test ./campaigns -run '^$' -bench CampaignPlan -benchtime 3x
func BenchmarkCampaignPlan(b *testing.B) {
	storetest.Topologies(b, campaignPlanOn)
}

func campaignPlanOn(b *testing.B, db *store.DB) {
	n := benchPersons()
	f, seg := benchFixture(b, db, n)
	offer, err := f.svc.SaveOffer(f.ctx, Offer{Name: "低GI大米试用装", SKUs: []string{"LGI-TRIAL"}})
	if err != nil {
		b.Fatal(err)
	}
	var treat, i int
	for b.Loop() {
		c := Campaign{ID: fmt.Sprint("bench", i), Name: "bench", OfferID: offer.ID, SegmentID: seg, Channel: ChannelWeCom,
			Template: "x", HoldoutPercent: 10, CapPerWeek: 1000, Trigger: TriggerOnce}
		i++
		p, err := f.svc.plan(f.ctx, c, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := f.svc.writePlan(f.ctx, c, p, "plan:"+c.ID); err != nil {
			b.Fatal(err)
		}
		treat = p.Counts[GroupTreatment]
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(treat), "treatment")
	b.ReportMetric(float64(n), "persons")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heapMB")
}

// BenchmarkSegmentEntryTrigger measures what happens between a segment
// entry and its send being queued (planned in the send log, where the
// sender picks it up): the loop's round for one entering person, with a
// million-person audience and a million planned sends already in the
// tables. Reports p50/p99 over the iterations.
//
//	go test ./campaigns -run '^$' -bench SegmentEntryTrigger -benchtime 200x
func BenchmarkSegmentEntryTrigger(b *testing.B) {
	n := benchPersons()
	f, seg := benchFixture(b, storetest.Migrated(b), n)
	offer, _ := f.svc.SaveOffer(f.ctx, Offer{Name: "低GI大米试用装", SKUs: []string{"LGI-TRIAL"}})
	big := Campaign{ID: "earlier", Name: "earlier", OfferID: offer.ID, SegmentID: seg, Channel: ChannelOutbox, Template: "x", Trigger: TriggerOnce, CapPerWeek: 1000}
	p, err := f.svc.plan(f.ctx, big, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := f.svc.writePlan(f.ctx, big, p, "plan:earlier"); err != nil {
		b.Fatal(err)
	}
	c, err := f.svc.SaveCampaign(f.ctx, Campaign{Name: "entry", OfferID: offer.ID, SegmentID: seg, Channel: ChannelOutbox,
		Template: "{{name}}您好，{{offer}}", Trigger: TriggerSegmentEntry, CapPerWeek: 1000}, "bench")
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := f.svc.Launch(f.ctx, c.ID, "bench"); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		person := uint32(1 + i*7919%n)
		start := time.Now()
		f.svc.SegmentChanged(segments.Change{Segment: seg, Entered: []uint32{person}})
		if err := f.svc.Round(f.ctx, time.Hour); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	var sent uint64
	if err := f.db.Conn.QueryRow(f.ctx, "SELECT count() FROM "+f.db.Table("campaign_outbox")+" FINAL WHERE campaign_id = ?", c.ID).Scan(&sent); err != nil || sent == 0 {
		b.Fatalf("%d entries sent (%v)", sent, err)
	}
}
