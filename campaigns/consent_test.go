package campaigns

import (
	"fmt"
	"testing"
	"time"

	"github.com/granarycdp/cdp/segments"
)

// The attacks on the health-consent gate: a campaign whose segment singles
// out a health interest in a way the rule's text does not show. Persons
// 1..10 are in every such segment; 1 and 2 gave separate consent. Sends
// are counted where they land: the outbox.

// consentTo records separate consent for persons, as a form import would
// (written to the table directly, so that the test reads the same before
// and after consents had evidence).
func (f *fixture) consentTo(persons ...uint32) {
	f.t.Helper()
	var rows [][]any
	for _, p := range persons {
		rows = append(rows, []any{p, "*", "sensitive_consent", uint8(1), "paper_form", launchTime.Add(-time.Hour)})
	}
	insertRows(f.t, f.db, "consents", "person_id, channel, kind, granted, source, ts", rows)
}

// launchOn launches an outbox campaign on segment and returns the persons
// its outbox reached.
func (f *fixture) launchOn(segment string) map[uint32]bool {
	f.t.Helper()
	offer, err := f.svc.SaveOffer(f.ctx, Offer{Name: "低GI大米试用装", Categories: []string{"低GI大米"}})
	if err != nil {
		f.t.Fatal(err)
	}
	c, err := f.svc.SaveCampaign(f.ctx, Campaign{Name: "试用装", OfferID: offer.ID, SegmentID: segment, Channel: ChannelOutbox, Template: "x"}, "t")
	if err != nil {
		f.t.Fatal(err)
	}
	if _, _, err := f.svc.Launch(f.ctx, c.ID, "t"); err != nil {
		f.t.Fatal(err)
	}
	rows, err := f.db.Conn.Query(f.ctx, "SELECT person_id FROM "+f.db.Table("campaign_outbox")+" FINAL WHERE campaign_id = ?", c.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	got := map[uint32]bool{}
	for rows.Next() {
		var p uint32
		if err := rows.Scan(&p); err != nil {
			f.t.Fatal(err)
		}
		got[p] = true
	}
	return got
}

// reachesOnlyConsented fails unless the outbox holds exactly the
// consented persons 1 and 2 (so the campaign did send, to them only).
func (f *fixture) reachesOnlyConsented(what string, reached map[uint32]bool) {
	f.t.Helper()
	var without []uint32
	for p := range reached {
		if p != 1 && p != 2 {
			without = append(without, p)
		}
	}
	if len(without) > 0 {
		f.t.Errorf("%s: %d persons without separate consent were sent to (%v)", what, len(without), without)
	}
	if !reached[1] || !reached[2] {
		f.t.Errorf("%s: the consented persons 1 and 2 were not sent to: %v", what, reached)
	}
}

func (f *fixture) segment(name, rule string) string {
	f.t.Helper()
	d, err := f.svc.Segments.Save(f.ctx, segments.Definition{Name: name, Rule: rule}, "t")
	if err != nil {
		f.t.Fatalf("%s: %v", rule, err)
	}
	return d.ID
}

// chatted: persons 1..10 wrote "最近在控糖" to their staff member.
func (f *fixture) chatted() {
	var msgs [][]any
	for p := uint32(1); p <= 10; p++ {
		ext := fmt.Sprint("wm", p)
		msgs = append(msgs, []any{fmt.Sprint("m", p), "send", ext, []string{"staff"}, launchTime.Add(-time.Hour), "text", "最近在控糖，主食怎么吃", ext, "staff", p})
	}
	insertRows(f.t, f.db, "wecom_messages", "msgid, action, from, tolist, msgtime, msgtype, content, external_userid, staff_userid, person_id", msgs)
	f.svc.Segments.Engine().Invalidate()
}

// TestEscapedHealthKeywordNeedsSeparateConsent: 控糖 written with \u
// escapes is still 控糖 to the engine, and to the gate.
func TestEscapedHealthKeywordNeedsSeparateConsent(t *testing.T) {
	f := newFixture(t, 10)
	f.chatted()
	f.consentTo(1, 2)
	seg := f.segment("escaped", `chat("\u63a7\u7cd6", 30)`)
	f.reachesOnlyConsented(`chat("\u63a7\u7cd6", 30)`, f.launchOn(seg))
}

// TestInSegmentOfHealthSegmentNeedsSeparateConsent: a segment that only
// says in_segment(<a health segment>), and one whose referenced segment
// became a health segment after the campaign was saved.
func TestInSegmentOfHealthSegmentNeedsSeparateConsent(t *testing.T) {
	f := newFixture(t, 10)
	f.chatted()
	f.consentTo(1, 2)
	health := f.segment("a", `chat("控糖", 30)`)
	outer := f.segment("b", fmt.Sprintf(`in_segment(%q) && did("video_complete", 30) >= 1`, health))
	f.reachesOnlyConsented("in_segment of a health segment", f.launchOn(outer))

	plain := f.segment("c", `did("video_complete", 30) >= 1`)
	wrapper := f.segment("d", fmt.Sprintf(`in_segment(%q)`, plain))
	offer, _ := f.svc.SaveOffer(f.ctx, Offer{Name: "试用装", Categories: []string{"低GI大米"}})
	c, err := f.svc.SaveCampaign(f.ctx, Campaign{Name: "later", OfferID: offer.ID, SegmentID: wrapper, Channel: ChannelOutbox, Template: "x"}, "t")
	if err != nil {
		t.Fatal(err)
	}
	// After the campaign is saved, the segment it reads through becomes
	// a health segment.
	if _, err := f.svc.Segments.Save(f.ctx, segments.Definition{ID: plain, Name: "c", Rule: `chat("控糖", 30)`}, "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Segments.Recompute(f.ctx, wrapper); err != nil {
		t.Fatal(err)
	}
	_, plan, err := f.svc.Launch(f.ctx, c.ID, "t")
	if err != nil {
		t.Fatal(err)
	}
	if n := f.count("SELECT count() FROM "+f.db.Table("campaign_outbox")+" FINAL WHERE campaign_id = ? AND person_id NOT IN (1, 2)", c.ID); n != 0 ||
		plan.Counts[GroupTreatment] != 2 {
		t.Errorf("a segment changed after the campaign was saved: %d sends without consent, plan %+v %+v", n, plan.Counts, plan.Excluded)
	}
	if why := plan.Sensitive; why == nil || why.Term != "控糖" || len(why.Path) != 2 || why.Path[0] != wrapper || why.Path[1] != plain {
		t.Errorf("the plan's reason for consent: %v", why)
	}
}

// TestSensitiveTagNeedsSeparateConsent: a tag marked sensitive, whatever
// its name, makes a campaign on it need separate consent.
func TestSensitiveTagNeedsSeparateConsent(t *testing.T) {
	f := newFixture(t, 10)
	var tags [][]any
	for p := uint32(1); p <= 10; p++ {
		tags = append(tags, []any{p, "孕期", "import", uint8(1), uint8(0), launchTime.Add(-time.Hour)})
	}
	insertRows(t, f.db, "person_tags", "person_id, tag, source, sensitive, deleted, ts", tags)
	f.consentTo(1, 2)
	seg := f.segment("pregnant", `tag("孕期")`)
	f.reachesOnlyConsented(`tag("孕期")`, f.launchOn(seg))
}

// TestCustomerOptInUndoesTheirWeComOptOutOnly: 退订 then 订阅 from the
// customer: opted in again, with the message as evidence. An admin's
// reversal of a later opt-out is not undone by rescanning the old 退订,
// and a mention of 订阅 is no opt-in.
func TestCustomerOptInUndoesTheirWeComOptOutOnly(t *testing.T) {
	f := newFixture(t, 3)
	msg := func(id string, p uint32, at time.Time, text string) []any {
		ext := fmt.Sprint("wm", p)
		return []any{id, "send", ext, []string{"staff"}, at, "text", text, ext, "staff", p}
	}
	cols := "msgid, action, from, tolist, msgtime, msgtype, content, external_userid, staff_userid, person_id"
	optedOut := func(p uint32) bool {
		return f.count("SELECT count() FROM (SELECT argMax(granted, ts) AS g FROM "+f.db.Table("consents")+
			" WHERE kind = 'opt_out' AND channel = 'wecom' AND person_id = ?) WHERE g = 1", p) == 1
	}
	insertRows(t, f.db, "wecom_messages", cols, [][]any{
		msg("a1", 1, launchTime.Add(-3*time.Hour), "退订"),
		msg("b1", 2, launchTime.Add(-3*time.Hour), "退订"),
		msg("b2", 2, launchTime.Add(-2*time.Hour), "取消订阅"), // a mention, not an opt-in
	})
	if n, err := f.svc.ScanOptOuts(f.ctx, []uint32{1, 2, 3}); err != nil || n != 2 || !optedOut(1) || !optedOut(2) {
		t.Fatalf("opt-outs: %d (%v)", n, err)
	}
	f.svc.Now = func() time.Time { return launchTime.Add(time.Hour) }
	// Written after 退订, arrived after the opt-out was recorded.
	insertRows(t, f.db, "wecom_messages", cols, [][]any{msg("a2", 1, launchTime.Add(-time.Hour), " 订阅！")})
	if n, err := f.svc.ScanOptOuts(f.ctx, []uint32{1, 2}); err != nil || n != 1 || optedOut(1) || !optedOut(2) {
		t.Fatalf("after 订阅: %d changes (%v), person 1 opted out %v, person 2 %v", n, err, optedOut(1), optedOut(2))
	}
	if n := f.count("SELECT count() FROM "+f.db.Table("consents")+" WHERE person_id = 1 AND granted = 0 AND source = ? AND evidence = 'wecom message a2'", SourceWeComOptIn); n != 1 {
		t.Fatal("the opt-in's evidence is not recorded")
	}
	// An admin undoes person 2's opt-out; scanning their old messages
	// again changes nothing.
	if err := f.svc.SetConsent(f.ctx, 2, Consent{Channel: ChannelWeCom, Kind: KindOptOut, Granted: false, Source: "api", Reason: "customer called the hotline", Actor: "tok_admin"}); err != nil {
		t.Fatal(err)
	}
	f.svc.Now = func() time.Time { return launchTime.Add(2 * time.Hour) }
	if n, err := f.svc.ScanOptOuts(f.ctx, []uint32{1, 2}); err != nil || n != 0 || optedOut(2) {
		t.Fatalf("rescan after the admin's reversal: %d changes (%v), opted out %v", n, err, optedOut(2))
	}
	// Without a reason, or as the customer without a message, nothing is written.
	for _, c := range []Consent{
		{Channel: ChannelWeCom, Kind: KindOptOut, Granted: false, Source: "api"},
		{Channel: ChannelWeCom, Kind: KindOptOut, Granted: false, Source: SourceWeComOptIn},
		{Kind: KindSensitiveConsent, Granted: true, Source: "paper_form"},
	} {
		if err := f.svc.SetConsent(f.ctx, 3, c); err == nil {
			t.Errorf("%+v was recorded", c)
		}
	}
	if n := f.count("SELECT count() FROM " + f.db.Table("consents") + " WHERE person_id = 3"); n != 0 {
		t.Fatalf("%d rows written for refused changes", n)
	}
}

// TestWithdrawalOnTheChannelOutweighsAConsentForEveryChannel: persons 1-3
// gave separate consent for every channel; person 3 later withdrew it for
// the outbox channel only. A campaign on that channel reaches 1 and 2, not
// 3: a channel's own withdrawal counts even when a row for every channel
// still says granted.
func TestWithdrawalOnTheChannelOutweighsAConsentForEveryChannel(t *testing.T) {
	f := newFixture(t, 10)
	f.chatted()
	f.consentTo(1, 2, 3)
	insertRows(t, f.db, "consents", "person_id, channel, kind, granted, source, ts",
		[][]any{{uint32(3), ChannelOutbox, "sensitive_consent", uint8(0), "api", launchTime.Add(-time.Minute)}})
	seg := f.segment("控糖", `chat("控糖", 30)`)
	f.reachesOnlyConsented("consent withdrawn on the channel", f.launchOn(seg))
}
