package campaigns

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/granarycdp/cdp/segments"
	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var launchTime = time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC) // 11:00 in Shanghai

type fixture struct {
	t   *testing.T
	db  *store.DB
	svc *Service
	ctx context.Context
}

func insertRows(t *testing.T, db *store.DB, table, cols string, rows [][]any) {
	t.Helper()
	storetest.Insert(t, db, table, cols, rows...)
}

// newFixture: persons 1..n watched a 控糖 video; a segment of them; an
// offer of the low-GI trial pack.
func newFixture(t *testing.T, n int) *fixture {
	return fixtureOn(t, storetest.Migrated(t), n)
}

// fixtureOn is newFixture on a migrated database.
func fixtureOn(t *testing.T, db *store.DB, n int) *fixture {
	var persons, events [][]any
	for p := uint32(1); p <= uint32(n); p++ {
		persons = append(persons, []any{p, p, p, uint64(1)})
		events = append(events, []any{[]string{"member_no"}, []string{fmt.Sprint("m", p)}, fmt.Sprint("e", p), "track", "video_complete",
			launchTime.Add(-48 * time.Hour), launchTime, "douyin", p, "", "", `{"topic":"健康饮食"}`, "", "", uint64(p)})
	}
	insertRows(t, db, "persons", "person_id, parent, canonical, version", persons)
	insertRows(t, db, "events", "id_types, id_values, message_id, type, event, ts, received_at, source, person_id, user_id, anonymous_id, properties, traits, context, spool_seq", events)
	opts := segments.DefaultOptions()
	opts.Now = func() time.Time { return launchTime }
	segs, err := segments.NewStore(context.Background(), db, opts)
	if err != nil {
		t.Fatal(err)
	}
	w := store.NewWriter(db, store.WriterOptions{})
	t.Cleanup(func() { w.Close(context.Background()) })
	svc := &Service{DB: db, Writer: w, Segments: segs, Logger: storetest.Logger(), Now: func() time.Time { return launchTime }}
	return &fixture{t: t, db: db, svc: svc, ctx: context.Background()}
}

func (f *fixture) count(q string, args ...any) int {
	f.t.Helper()
	return storetest.Count(f.t, f.db, q, args...)
}

func (f *fixture) campaign(holdout float64) Campaign {
	f.t.Helper()
	seg, err := f.svc.Segments.Save(f.ctx, segments.Definition{Name: "viewers", Rule: `did("video_complete", 30) >= 1`}, "test")
	if err != nil {
		f.t.Fatal(err)
	}
	offer, err := f.svc.SaveOffer(f.ctx, Offer{Name: "低GI大米试用装", Categories: []string{"低GI大米"}, SKUs: []string{"LGI-TRIAL"}})
	if err != nil {
		f.t.Fatal(err)
	}
	c, err := f.svc.SaveCampaign(f.ctx, Campaign{Name: "试用装", OfferID: offer.ID, SegmentID: seg.ID, Channel: ChannelOutbox,
		Template: "{{name}}您好，{{offer}}免费领：{{link}}", HoldoutPercent: holdout}, "tok_test")
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// TestCampaignEndToEndWithUplift: segment -> campaign -> plan -> outbox ->
// orders -> uplift equal to a hand computation from the send log.
func TestCampaignEndToEndWithUplift(t *testing.T) {
	f := newFixture(t, 2000)
	if err := f.svc.SetConsent(f.ctx, 7, Consent{Kind: KindOptOut, Granted: true, Source: "api"}); err != nil {
		t.Fatal(err)
	}
	c := f.campaign(20)
	c, plan, err := f.svc.Launch(f.ctx, c.ID, "tok_test")
	if err != nil {
		t.Fatal(err)
	}
	treat, hold := plan.Counts[GroupTreatment], plan.Counts[GroupHoldout]
	if treat+hold+plan.Counts[GroupExcluded] != 2000 || hold < 300 || hold > 500 || plan.Excluded[ReasonOptedOut] != 1 {
		t.Fatalf("plan %+v %+v", plan.Counts, plan.Excluded)
	}
	if got, _ := f.svc.Campaign(f.ctx, c.ID); got.Status != StatusFinished {
		t.Fatalf("status %s", got.Status)
	}
	if n := f.count("SELECT count() FROM "+f.db.Table("campaign_outbox")+" FINAL WHERE campaign_id = ?", c.ID); n != treat {
		t.Fatalf("%d outbox messages, %d planned", n, treat)
	}
	if n := f.count("SELECT count() FROM "+f.db.Table("campaign_sends")+" FINAL WHERE campaign_id = ? AND person_id = 7 AND reason = 'opted_out'", c.ID); n != 1 {
		t.Fatal("the opted-out person is not in the log with the reason")
	}
	var msg string
	f.db.Conn.QueryRow(f.ctx, "SELECT message FROM "+f.db.Table("campaign_outbox")+" FINAL WHERE campaign_id = ? LIMIT 1", c.ID).Scan(&msg)
	if msg != "您好，低GI大米试用装免费领：" {
		t.Fatalf("message %q", msg)
	}
	f.insertOrders()
	u, err := f.svc.Results(f.ctx, c.ID)

	if err != nil {
		t.Fatal(err)
	}
	// Hand computation from the send log.
	groups := map[string][]uint32{}
	rows, _ := f.db.Conn.Query(f.ctx, "SELECT group, person_id FROM "+f.db.Table("campaign_sends")+" FINAL WHERE campaign_id = ? AND group != 'excluded'", c.ID)
	for rows.Next() {
		var g string
		var p uint32
		rows.Scan(&g, &p)
		groups[g] = append(groups[g], p)
	}
	rows.Close()
	conv := func(ps []uint32) (n, k int, rev float64) {
		for _, p := range ps {
			n++
			if p%3 == 0 {
				k++
				rev += 19.90
			}
		}
		return
	}
	tn, tk, tr := conv(groups[GroupTreatment])
	hn, hk, hr := conv(groups[GroupHoldout])
	want := ComputeUplift(tn, tk, tr, hn, hk, hr)
	if u.Treatment.Persons != want.Treatment.Persons || u.Treatment.Converted != want.Treatment.Converted ||
		u.Holdout.Converted != want.Holdout.Converted || math.Abs(u.Treatment.Revenue-want.Treatment.Revenue) > 0.01 ||
		math.Abs(u.Absolute-want.Absolute) > 1e-9 {
		t.Fatalf("results %+v\nwant %+v", u, want)
	}
}

// TestCrashBetweenPlanAndSendAndMidSend: a crash after the plan is written,
// and one after a chunk reached the channel but before its state moved;
// Resume completes with no duplicate and no missing send.
func TestCrashBetweenPlanAndSendAndMidSend(t *testing.T) {
	f := newFixture(t, 1000)
	f.svc.Chunk = 100
	c := f.campaign(10)
	crash := errors.New("simulated crash")
	f.svc.crashAfter = func(step string) error {
		if step == "plan" {
			return crash
		}
		return nil
	}
	_, plan, err := f.svc.Launch(f.ctx, c.ID, "t")
	if !errors.Is(err, crash) {
		t.Fatalf("launch: %v", err)
	}
	if n := f.count("SELECT count() FROM "+f.db.Table("campaign_outbox")+" WHERE campaign_id = ?", c.ID); n != 0 {
		t.Fatalf("%d sent before the crash", n)
	}
	chunks := 0
	f.svc.crashAfter = func(step string) error {
		if step == "channel" {
			chunks++
			if chunks == 3 {
				return crash
			}
		}
		return nil
	}
	if err := f.svc.Resume(f.ctx); !errors.Is(err, crash) {
		t.Fatalf("resume 1: %v", err)
	}
	f.svc.crashAfter = nil
	if err := f.svc.Resume(f.ctx); err != nil {
		t.Fatal(err)
	}
	treat := plan.Counts[GroupTreatment]
	rows := f.count("SELECT count() FROM "+f.db.Table("campaign_outbox")+" FINAL WHERE campaign_id = ?", c.ID)
	distinct := f.count("SELECT uniqExact(person_id) FROM "+f.db.Table("campaign_outbox")+" WHERE campaign_id = ?", c.ID)
	sent := f.count("SELECT count() FROM "+f.db.Table("campaign_sends")+" FINAL WHERE campaign_id = ? AND state = 'sent'", c.ID)
	if rows != treat || distinct != treat || sent != treat {
		t.Fatalf("outbox %d rows, %d persons, %d sent; want %d each", rows, distinct, sent, treat)
	}
}

func TestSensitiveAudienceNeedsConsentAndCapsHold(t *testing.T) {
	f := newFixture(t, 100)
	seg, err := f.svc.Segments.Save(f.ctx, segments.Definition{Name: "控糖", Rule: `did("video_complete", 30) >= 1 && !tag("控糖拒绝")`}, "t")
	if err != nil {
		t.Fatal(err)
	}
	offer, _ := f.svc.SaveOffer(f.ctx, Offer{Name: "试用装", Categories: []string{"低GI大米"}})
	for _, p := range []uint32{1, 2, 3} {
		if err := f.svc.SetConsent(f.ctx, p, Consent{Kind: KindSensitiveConsent, Granted: true, Source: "paper_form", Evidence: "form 1"}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := f.svc.SaveCampaign(f.ctx, Campaign{Name: "控糖试用", OfferID: offer.ID, SegmentID: seg.ID, Channel: ChannelOutbox, Template: "x", CapPerWeek: 1}, "t")
	if err != nil {
		t.Fatal(err)
	}
	_, plan, err := f.svc.Launch(f.ctx, c.ID, "t")
	if err != nil {
		t.Fatal(err)
	}
	if plan.Counts[GroupTreatment] != 3 || plan.Excluded[ReasonSensitive] != 97 {
		t.Fatalf("sensitive audience: %+v %+v", plan.Counts, plan.Excluded)
	}
	// A second campaign the same week: the three are at their cap of one.
	c2, _ := f.svc.SaveCampaign(f.ctx, Campaign{Name: "again", OfferID: offer.ID, SegmentID: seg.ID, Channel: ChannelOutbox, Template: "x", CapPerWeek: 1}, "t")
	_, plan2, err := f.svc.Launch(f.ctx, c2.ID, "t")
	if err != nil {
		t.Fatal(err)
	}
	if plan2.Counts[GroupTreatment] != 0 || plan2.Excluded[ReasonCap] != 3 {
		t.Fatalf("caps: %+v %+v", plan2.Counts, plan2.Excluded)
	}
	// A daily cap of one holds too, with the weekly cap out of the way...
	c3, _ := f.svc.SaveCampaign(f.ctx, Campaign{Name: "day", OfferID: offer.ID, SegmentID: seg.ID, Channel: ChannelOutbox, Template: "x", CapPerDay: 1, CapPerWeek: 50}, "t")
	if _, plan3, err := f.svc.Launch(f.ctx, c3.ID, "t"); err != nil || plan3.Excluded[ReasonCap] != 3 {
		t.Fatalf("daily cap: %+v (%v)", plan3.Excluded, err)
	}
	// ...and a monthly cap of two: a week later the day's and the week's
	// caps no longer hold, the month's does.
	f.svc.Now = func() time.Time { return launchTime.Add(8 * 24 * time.Hour) }
	c4, _ := f.svc.SaveCampaign(f.ctx, Campaign{Name: "month", OfferID: offer.ID, SegmentID: seg.ID, Channel: ChannelOutbox, Template: "x", CapPerDay: 1, CapPerWeek: 1, CapPerMonth: 1}, "t")
	if _, plan4, err := f.svc.Launch(f.ctx, c4.ID, "t"); err != nil || plan4.Excluded[ReasonCap] != 3 {
		t.Fatalf("monthly cap: %+v (%v)", plan4.Excluded, err)
	}
	c5, _ := f.svc.SaveCampaign(f.ctx, Campaign{Name: "no month cap", OfferID: offer.ID, SegmentID: seg.ID, Channel: ChannelOutbox, Template: "x", CapPerWeek: 1}, "t")
	if _, plan5, err := f.svc.Launch(f.ctx, c5.ID, "t"); err != nil || plan5.Counts[GroupTreatment] != 3 {
		t.Fatalf("a week later without a monthly cap: %+v %+v (%v)", plan5.Counts, plan5.Excluded, err)
	}
}

func TestOptOutKeywordInAChatExcludesFromWeCom(t *testing.T) {
	f := newFixture(t, 3)
	insertRows(t, f.db, "wecom_messages", "msgid, action, from, tolist, msgtime, msgtype, content, external_userid, staff_userid, person_id",
		[][]any{
			{"m1", "send", "wmA", []string{"staff"}, launchTime, "text", "不需要了，退订", "wmA", "staff", uint32(1)},
			{"m2", "send", "staff", []string{"wmB"}, launchTime, "text", "回复退订可取消", "wmB", "staff", uint32(2)}, // staff's own words
		})
	n, err := f.svc.ScanOptOuts(f.ctx, []uint32{1, 2, 3})
	if err != nil || n != 1 {
		t.Fatalf("opt-outs %d (%v), want person 1 only", n, err)
	}
	members := f.count("SELECT count() FROM " + f.db.Table("consents") + " FINAL WHERE kind = 'opt_out' AND person_id = 1 AND channel = 'wecom' AND granted = 1")
	if members != 1 {
		t.Fatal("opt-out not recorded")
	}
}

// TestPreviewPersonalisesWithNameAndStaff: samples name the recipient (the
// identify trait first, else the WeCom name) and their WeCom staff member.
func TestPreviewPersonalisesWithNameAndStaff(t *testing.T) {
	f := newFixture(t, 3)
	insertRows(t, f.db, "events", "message_id, type, event, ts, received_at, source, person_id, traits, spool_seq", [][]any{
		{"id1", "identify", "", launchTime.Add(-time.Hour), launchTime, "app", uint32(1), `{"name":"王阿姨"}`, uint64(100)},
	})
	insertRows(t, f.db, "wecom_contact_events", "dedup_key, ts, change_type, corp_id, staff_userid, external_userid, name, person_id", [][]any{
		{"k1", launchTime.Add(-2 * time.Hour), "add_external_contact", "ww", "lisi", "wmA", "阿姨的微信", uint32(1)},
		{"k2", launchTime.Add(-2 * time.Hour), "add_external_contact", "ww", "zhangsan", "wmB", "小米粒", uint32(2)},
	})
	c := f.campaign(0)
	c.Template = "{{name}}您好，我是{{staff}}"
	c, err := f.svc.SaveCampaign(f.ctx, c, "t")
	if err != nil {
		t.Fatal(err)
	}
	_, samples, err := f.svc.Preview(f.ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"王阿姨您好，我是lisi", "小米粒您好，我是zhangsan", "您好，我是"}
	if strings.Join(samples, "|") != strings.Join(want, "|") {
		t.Fatalf("samples %q, want %q", samples, want)
	}
}

// TestRelaunchAfterAFailedLaunchSendsOnlyTheNewPlan: a launch writes its
// plan and dies before the campaign is marked running (still a draft).
// Before the next launch person 3 leaves the segment: the new launch's
// plan lacks him, and the row the failed launch planned for him is not
// sent.
func TestRelaunchAfterAFailedLaunchSendsOnlyTheNewPlan(t *testing.T) {
	f := newFixture(t, 10)
	seg, err := f.svc.Segments.Save(f.ctx, segments.Definition{Name: "viewers", Rule: `did("video_complete", 30) >= 1 && !tag("退出")`}, "t")
	if err != nil {
		t.Fatal(err)
	}
	offer, _ := f.svc.SaveOffer(f.ctx, Offer{Name: "试用装", SKUs: []string{"X"}})
	c, err := f.svc.SaveCampaign(f.ctx, Campaign{Name: "c", OfferID: offer.ID, SegmentID: seg.ID, Channel: ChannelOutbox, Template: "x"}, "t")
	if err != nil {
		t.Fatal(err)
	}
	crash := errors.New("crash")
	f.svc.crashAfter = func(step string) error {
		if step == "planned" {
			return crash
		}
		return nil
	}
	if _, _, err := f.svc.Launch(f.ctx, c.ID, "t"); !errors.Is(err, crash) {
		t.Fatalf("launch: %v", err)
	}
	f.svc.crashAfter = nil
	if got, _ := f.svc.Campaign(f.ctx, c.ID); got.Status != StatusDraft {
		t.Fatalf("after the failed launch the campaign is %s, want draft", got.Status)
	}
	insertRows(t, f.db, "person_tags", "person_id, tag, source, sensitive, deleted, ts", [][]any{{uint32(3), "退出", "manual", uint8(0), uint8(0), launchTime}})
	f.svc.Segments.Engine().Invalidate()
	if _, err := f.svc.Segments.Recompute(f.ctx, seg.ID); err != nil {
		t.Fatal(err)
	}
	_, plan, err := f.svc.Launch(f.ctx, c.ID, "t")
	if err != nil {
		t.Fatal(err)
	}
	if plan.Counts[GroupTreatment] != 9 {
		t.Fatalf("new plan %+v", plan.Counts)
	}
	if n := f.count("SELECT count() FROM "+f.db.Table("campaign_outbox")+" FINAL WHERE campaign_id = ? AND person_id = 3", c.ID); n != 0 {
		t.Fatal("person 3, planned only by the failed launch, was sent to")
	}
	if n := f.count("SELECT count() FROM "+f.db.Table("campaign_sends")+" FINAL WHERE campaign_id = ? AND person_id = 3 AND reason = 'replanned'", c.ID); n != 1 {
		t.Fatal("person 3's row of the failed launch is not marked replanned")
	}
	if n := f.count("SELECT count() FROM "+f.db.Table("campaign_outbox")+" FINAL WHERE campaign_id = ?", c.ID); n != 9 {
		t.Fatalf("%d sent, want 9", n)
	}
}

// TestResultsFollowMergesAndCountEveryoneAssigned: persons merged into
// another after planning keep their arm and bring the merged person's
// orders, in both arms; a treatment person whose send failed still counts
// (intention to treat), so failures cannot empty treatment of anyone.
func TestResultsFollowMergesAndCountEveryoneAssigned(t *testing.T) {
	f := newFixture(t, 600)
	c := f.campaign(40)
	_, plan, err := f.svc.Launch(f.ctx, c.ID, "tok_test")
	if err != nil {
		t.Fatal(err)
	}
	// After planning: every 3rd person is merged into a new person
	// 50,000+p, who orders; every 3rd+1 orders under their own id; every
	// 4th treatment send failed (the channel refused it).
	later := launchTime.Add(time.Hour)
	var persons, failed, orders, lines [][]any
	for _, e := range plan.Entries {
		p := e.Person
		buyer := p
		if p%3 == 0 {
			buyer = 50_000 + p
			persons = append(persons, []any{p, buyer, buyer, uint64(2)}, []any{buyer, buyer, buyer, uint64(1)})
		}
		if e.Group == GroupTreatment && p%4 == 0 {
			failed = append(failed, []any{c.ID, p, GroupTreatment, "", ChannelOutbox, e.Address.To, "", "failed", "channel_refused", "", launchTime, later})
		}
		if p%3 != 2 {
			id := fmt.Sprint("o", p)
			at := launchTime.Add(24 * time.Hour)
			orders = append(orders, []any{"tmall", id, uint64(1), "paid", at, at, "10", "上海", buyer})
			lines = append(lines, []any{"tmall", id, uint16(1), uint64(1), "LGI-TRIAL", "低GI大米试用装", "1", "10", "10", at, buyer})
		}
	}
	insertRows(t, f.db, "persons", "person_id, parent, canonical, version", persons)
	insertRows(t, f.db, "campaign_sends", strings.Join(sendColumns, ", "), failed)
	insertRows(t, f.db, "orders", "channel, order_id, version, status, ordered_at, status_at, amount, city, person_id", orders)
	insertRows(t, f.db, "order_lines", "channel, order_id, line_no, version, sku, category, quantity, unit_price, amount, ordered_at, person_id", lines)
	u, err := f.svc.Results(f.ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]int{}
	for _, e := range plan.Entries {
		w := want[e.Group]
		w[0]++
		if e.Person%3 != 2 {
			w[1]++
		}
		want[e.Group] = w
	}
	for g, a := range map[string]Arm{GroupTreatment: u.Treatment, GroupHoldout: u.Holdout} {
		if a.Persons != want[g][0] || a.Converted != want[g][1] {
			t.Fatalf("%s: %d persons, %d converted; want %v (merged persons followed, failed sends counted)", g, a.Persons, a.Converted, want[g])
		}
	}
	if u.Treatment.Reached != want[GroupTreatment][0]-len(failed) || u.Sends["failed:channel_refused"] != len(failed) {
		t.Fatalf("reached %d, sends %v; %d failed", u.Treatment.Reached, u.Sends, len(failed))
	}
	// Person by person, as the results count them: merged persons under
	// the id they are merged into.
	outcomes, err := f.svc.Outcomes(f.ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]int{}
	for _, o := range outcomes {
		w := got[o.Group]
		w[0]++
		if o.Converted {
			w[1]++
		}
		got[o.Group] = w
		if o.Person < 50_000 && o.Person%3 == 0 {
			t.Fatalf("person %d not followed into their merge", o.Person)
		}
	}
	if got[GroupTreatment] != want[GroupTreatment] || got[GroupHoldout] != want[GroupHoldout] {
		t.Fatalf("outcomes %v, want %v", got, want)
	}
}

// TestMembersAsOfPlansTheAudienceAsItWas: a campaign launched in the past
// (the demo's) is planned for its segment as of its launch when
// MembersAsOf says so; the segment's current members (today, the window
// has passed) are none.
func TestMembersAsOfPlansTheAudienceAsItWas(t *testing.T) {
	f := newFixture(t, 100)
	opts := segments.DefaultOptions()
	opts.Now = func() time.Time { return launchTime.Add(40 * 24 * time.Hour) }
	today, err := segments.NewStore(f.ctx, f.db, opts)
	if err != nil {
		t.Fatal(err)
	}
	f.svc.Segments = today
	c := f.campaign(20)
	if p, _, err := f.svc.Preview(f.ctx, c.ID); err != nil || p.Counts[GroupTreatment]+p.Counts[GroupHoldout]+p.Counts[GroupExcluded] != 0 {
		t.Fatalf("today's members: %+v (%v)", p.Counts, err)
	}
	opts.Now = func() time.Time { return launchTime }
	then := segments.NewEngine(f.db, opts)
	f.svc.MembersAsOf = func(ctx context.Context, id string) (*roaring.Bitmap, error) {
		d, err := today.Get(id)
		if err != nil {
			return nil, err
		}
		compiled, err := then.Check(d.Rule)
		if err != nil {
			return nil, err
		}
		return then.Evaluate(ctx, compiled)
	}
	_, p, err := f.svc.Launch(f.ctx, c.ID, "t")
	if err != nil {
		t.Fatal(err)
	}
	if p.Counts[GroupTreatment]+p.Counts[GroupHoldout] != 100 || p.Counts[GroupHoldout] == 0 {
		t.Fatalf("members as of the launch: %+v %+v", p.Counts, p.Excluded)
	}
}

// insertOrders: every 3rd of persons 1..2000 buys the trial pack 2 days
// after launch, every 7th buys other rice, every 11th buys the trial pack
// 30 days later (outside the 14-day window).
func (f *fixture) insertOrders() {
	var orders, lines [][]any
	for p := uint32(1); p <= 2000; p++ {
		add := func(sku, cat string, days int) {
			id := fmt.Sprintf("o%d-%s-%d", p, sku, days)
			at := launchTime.Add(time.Duration(days) * 24 * time.Hour)
			orders = append(orders, []any{"tmall", id, uint64(1), "completed", at, at, "19.90", "上海", p})
			lines = append(lines, []any{"tmall", id, uint16(1), uint64(1), sku, cat, "1", "19.90", "19.90", at, p})
		}
		if p%3 == 0 {
			add("LGI-TRIAL", "低GI大米试用装", 2)
		}
		if p%7 == 0 {
			add("WC-5", "五常大米", 2)
		}
		if p%11 == 0 {
			add("LGI-2.5", "低GI大米", 30)
		}
	}
	insertRows(f.t, f.db, "orders", "channel, order_id, version, status, ordered_at, status_at, amount, city, person_id", orders)
	insertRows(f.t, f.db, "order_lines", "channel, order_id, line_no, version, sku, category, quantity, unit_price, amount, ordered_at, person_id", lines)
}
