package journeys

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/granarycdp/cdp/campaigns"
	"github.com/granarycdp/cdp/segments"
	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// start is 11:00 in Beijing.
var start = time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)

// testClock is the clock tests move instead of sleeping.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	t     testing.TB
	ctx   context.Context
	db    *store.DB
	clock *testClock
	w     *store.Writer
	segs  *segments.Store
	camps *campaigns.Service
	svc   *Service
	seg   string // a segment of every person
	offer campaigns.Offer
	// inserts counts the test's own inserts (their deduplication tokens).
	inserts int
}

// insert writes rows into table (its columns named by cols, comma
// separated) through the fixture's writer, as the platform writes.
func (f *fixture) insert(table, cols string, rows [][]any) {
	f.t.Helper()
	f.inserts++
	if err := f.w.Table(table, strings.Split(cols, ", ")...).Insert(f.ctx, fmt.Sprintf("test:%s:%d", table, f.inserts), rows); err != nil {
		f.t.Fatal(err)
	}
}

// newFixture: persons 1..n, each a video viewer, a segment of all of them
// and the low-GI rice trial offer; the services on a clock at start.
func newFixture(t testing.TB, n int) *fixture {
	db := storetest.Migrated(t)
	f := &fixture{t: t, ctx: context.Background(), db: db, clock: &testClock{t: start}}
	f.w = store.NewWriter(db, store.WriterOptions{})
	t.Cleanup(func() { f.w.Close(context.Background()) })
	for first := 1; first <= n; first += 100_000 {
		var persons, events [][]any
		for p := uint32(first); p <= uint32(min(n, first+99_999)); p++ {
			persons = append(persons, []any{p, p, p, uint64(1)})
			events = append(events, []any{fmt.Sprint("e", p), "track", "video_complete", start.Add(-48 * time.Hour), start.Add(-48 * time.Hour), "douyin", p, "{}"})
		}
		f.insert("persons", "person_id, parent, canonical, version", persons)
		f.insert("events", "message_id, type, event, ts, received_at, source, person_id, properties", events)
	}
	opts := segments.DefaultOptions()
	opts.Now = f.clock.Now
	segs, err := segments.NewStore(f.ctx, db, opts)
	if err != nil {
		t.Fatal(err)
	}
	f.segs = segs
	f.camps = &campaigns.Service{DB: db, Writer: f.w, Segments: segs, Logger: storetest.Logger(), Now: f.clock.Now}
	f.svc = f.service()
	seg, err := segs.Save(f.ctx, segments.Definition{Name: "viewers", Rule: `did("video_complete", 30) >= 1`}, "test")
	if err != nil {
		t.Fatal(err)
	}
	f.seg = seg.ID
	if f.offer, err = f.camps.SaveOffer(f.ctx, campaigns.Offer{Name: "低GI大米试用装", SKUs: []string{"LGI-TRIAL"}, Categories: []string{"低GI大米"}}); err != nil {
		t.Fatal(err)
	}
	return f
}

// service is a journeys service on the fixture's parts, as after a start.
func (f *fixture) service() *Service {
	return &Service{DB: f.db, Writer: f.w, Campaigns: f.camps, Segments: f.segs, Logger: storetest.Logger(), Now: f.clock.Now}
}

// round runs one round, failing the test on error.
func (f *fixture) round() {
	f.t.Helper()
	if err := f.svc.Round(f.ctx); err != nil {
		f.t.Fatal(err)
	}
}

// advance moves the clock and runs a round.
func (f *fixture) advance(d time.Duration) {
	f.t.Helper()
	f.clock.Advance(d)
	f.round()
}

func (f *fixture) count(q string, args ...any) int {
	f.t.Helper()
	return storetest.Count(f.t, f.db, q, args...)
}

// outbox counts the outbox messages of a journey's node.
func (f *fixture) outbox(j Journey, node string) int {
	return f.count("SELECT count() FROM "+f.db.Table("campaign_outbox")+" FINAL WHERE startsWith(campaign_id, ?)", j.ID+"/v"+fmt.Sprint(j.Version)+"/"+node+"/")
}

// runs counts a journey's runs in a state (and at a node, unless "").
func (f *fixture) runs(j Journey, state, node string) int {
	return f.count("SELECT count() FROM "+f.db.Table("journey_runs")+" FINAL WHERE journey_id = ? AND state = ? AND (? = '' OR node = ?)", j.ID, state, node, node)
}

// launch saves d and launches it.
func (f *fixture) launch(d Definition) Journey {
	f.t.Helper()
	j, err := f.svc.Save(f.ctx, "", d, "tok_test")
	if err != nil {
		f.t.Fatal(err)
	}
	if j, err = f.svc.Launch(f.ctx, j.ID, "tok_test"); err != nil {
		f.t.Fatal(err)
	}
	return j
}

// order records an order of sku for person p at t.
func (f *fixture) order(p uint32, sku, category string, at time.Time) {
	f.t.Helper()
	id := fmt.Sprintf("o%d-%s-%d", p, sku, at.UnixMilli())
	f.insert("orders", "channel, order_id, version, status, ordered_at, status_at, amount, city, person_id",
		[][]any{{"tmall", id, uint64(1), "paid", at, at, "19.90", "上海", p}})
	f.insert("order_lines", "channel, order_id, line_no, version, sku, category, quantity, unit_price, amount, ordered_at, person_id",
		[][]any{{"tmall", id, uint16(1), uint64(1), sku, category, "1", "19.90", "19.90", at, p}})
}

// send is a send node on the outbox.
func (f *fixture) send(id, next string) Node {
	return Node{ID: id, Type: NodeSend, Next: next, Send: &Send{Channel: campaigns.ChannelOutbox, Template: "{{name}}您好，{{offer}}", OfferID: f.offer.ID}}
}

// segmentJourney is a journey entering the segment's current members.
func (f *fixture) segmentJourney(nodes ...Node) Definition {
	return Definition{Name: "测试旅程", Entry: Entry{Type: EntrySegment, SegmentID: f.seg, IncludeCurrent: true, Next: nodes[0].ID},
		Nodes: nodes, Settings: Settings{GoalOfferID: f.offer.ID, CapPerWeek: 10}}
}

func exit(id string) Node { return Node{ID: id, Type: NodeExit} }
