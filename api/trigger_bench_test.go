package api_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/granarycdp/cdp/campaigns"
	"github.com/granarycdp/cdp/segments"
)

// BenchmarkAckToCampaignSend measures the whole live path: a record's
// acknowledgement -> spool -> ClickHouse -> live segment entry -> the
// segment-entry campaign's round -> the send planned and recorded in the
// outbox. 100 searches by new persons, 10 per second.
//
//	go test ./api -run '^$' -bench AckToCampaignSend -benchtime 1x
func BenchmarkAckToCampaignSend(b *testing.B) {
	f := newBenchFixture(b)
	ts := httptest.NewServer(f.srv.Handler())
	defer ts.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.segs.OnChange = f.camps.SegmentChanged
	go f.camps.Run(ctx, campaigns.RunOptions{})
	offer, err := f.camps.SaveOffer(ctx, campaigns.Offer{Name: "低GI大米试用装", SKUs: []string{"LGI-TRIAL"}})
	if err != nil {
		b.Fatal(err)
	}
	for op := range b.N {
		keyword := fmt.Sprintf("五常大米-%d", op) // not a sensitive (health) term: no consent needed
		seg, err := f.segs.Save(ctx, segments.Definition{Name: keyword, Rule: fmt.Sprintf(`did("search", 30, {"keyword": %q}) >= 1`, keyword), Live: true}, "bench")
		if err != nil {
			b.Fatal(err)
		}
		c, err := f.camps.SaveCampaign(ctx, campaigns.Campaign{Name: keyword, OfferID: offer.ID, SegmentID: seg.ID, Channel: campaigns.ChannelOutbox,
			Template: "{{offer}}", Trigger: campaigns.TriggerSegmentEntry, CapPerWeek: 1000}, "bench")
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := f.camps.Launch(ctx, c.ID, "bench"); err != nil {
			b.Fatal(err)
		}
		const n = 100
		prefix := fmt.Sprintf("cs-%d-", op)
		ackAt := postSearches(b, ts.URL, prefix, keyword, n, 100*time.Millisecond) // 10 records a second
		// The outbox row's ts is when the send was recorded.
		deadline := time.Now().Add(time.Minute)
		var lat []time.Duration
		for i := range n {
			p := f.awaitPerson(fmt.Sprint(prefix, i), deadline)
			for time.Now().Before(deadline) {
				var at time.Time
				err := f.db.Conn.QueryRow(ctx, "SELECT max(ts) FROM "+f.db.Table("campaign_outbox")+" WHERE campaign_id = ? AND person_id = ?", c.ID, p).Scan(&at)
				if err == nil && at.Year() > 2000 {
					lat = append(lat, at.Sub(ackAt[i]))
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		if len(lat) != n {
			b.Fatalf("%d of %d sends seen", len(lat), n)
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		b.ReportMetric(float64(lat[n/2].Milliseconds()), "p50_ms")
		b.ReportMetric(float64(lat[n*99/100].Milliseconds()), "p99_ms")
	}
}
