package campaigns

import (
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/granarycdp/cdp/identity"
	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/ingest/wecom/wecomtest"
	"github.com/granarycdp/cdp/segments"
)

func extID(p uint32) string { return fmt.Sprintf("wmEXT%06d", p) }

// withWeCom makes persons 1..n WeCom contacts: staffFor(p) owns p in the
// platform's records, and in the fake WeCom too unless inWeCom (not nil)
// names another staff member.
func (f *fixture) withWeCom(n int, staffFor, inWeCom func(p uint32) string) *wecomtest.Server {
	f.t.Helper()
	fake := wecomtest.New("wwcorp", "secret")
	f.t.Cleanup(fake.Close)
	fake.SetClock(func() time.Time { return launchTime })
	var rows [][]any
	for p := uint32(1); p <= uint32(n); p++ {
		staff := staffFor(p)
		rows = append(rows, []any{fmt.Sprint("k", p), launchTime.Add(-72 * time.Hour), "add_external_contact", "wwcorp", staff, extID(p), "", "", "", p})
		if inWeCom != nil {
			staff = inWeCom(p)
		}
		fake.AddContact(wecomtest.Contact{ExternalUserID: extID(p), FollowUser: staff})
	}
	insertRows(f.t, f.db, "wecom_contact_events", "dedup_key, ts, change_type, corp_id, staff_userid, external_userid, state, name, unionid, person_id", rows)
	client, err := wecom.NewClient("wwcorp", "secret", wecom.ClientOptions{BaseURL: fake.URL, HTTPClient: &http.Client{Timeout: 300 * time.Millisecond}})
	if err != nil {
		f.t.Fatal(err)
	}
	f.svc.Channels = &Channels{WeCom: client, Wait: func(int, error) time.Duration { return 10 * time.Millisecond }}
	return fake
}

func (f *fixture) weComCampaign(seg string, holdout float64) Campaign {
	f.t.Helper()
	if seg == "" {
		s, err := f.svc.Segments.Save(f.ctx, segments.Definition{Name: "viewers", Rule: `did("video_complete", 30) >= 1`}, "test")
		if err != nil {
			f.t.Fatal(err)
		}
		seg = s.ID
	}
	offer, err := f.svc.SaveOffer(f.ctx, Offer{Name: "低GI大米试用装", SKUs: []string{"LGI-TRIAL"}, Link: "https://s.example/t"})
	if err != nil {
		f.t.Fatal(err)
	}
	c, err := f.svc.SaveCampaign(f.ctx, Campaign{Name: "企微试用", OfferID: offer.ID, SegmentID: seg, Channel: ChannelWeCom,
		Template: "您好，我是{{staff}}，{{offer}}免费领：{{link}}", HoldoutPercent: holdout}, "tok_test")
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// recipients returns each customer's number of add_msg_template tasks.
func recipients(tasks []wecomtest.Task) map[string]int {
	out := map[string]int{}
	for _, t := range tasks {
		for _, id := range t.ExternalUserIDs {
			out[id]++
		}
	}
	return out
}

// TestWeComCampaignEndToEnd: segment -> campaign -> one task per staff
// member and 10,000 customers -> confirmation -> delivery results ->
// orders -> uplift equal to a hand computation; a second campaign the
// same day meets WeCom's cap of one mass message a day.
func TestWeComCampaignEndToEnd(t *testing.T) {
	const n = 12000
	f := newFixture(t, n)
	// zhangsan owns 1..11500 (two tasks), lisi the rest; in WeCom, 50 of
	// lisi's customers are no longer his contacts (moved to wangwu).
	fake := f.withWeCom(n, func(p uint32) string {
		if p <= 11500 {
			return "zhangsan"
		}
		return "lisi"
	}, func(p uint32) string {
		switch {
		case p <= 11500:
			return "zhangsan"
		case p <= 11950:
			return "lisi"
		}
		return "wangwu"
	})
	fake.AddStaff("zhangsan", "lisi", "wangwu")
	c := f.weComCampaign("", 10)
	_, plan, err := f.svc.Launch(f.ctx, c.ID, "tok_test")
	if err != nil {
		t.Fatal(err)
	}
	treat := plan.Counts[GroupTreatment]
	if treat+plan.Counts[GroupHoldout] != n || plan.Counts[GroupHoldout] < 1000 || plan.Counts[GroupHoldout] > 1400 {
		t.Fatalf("plan %+v %+v", plan.Counts, plan.Excluded)
	}
	tasks := fake.Tasks()
	bySender := map[string]int{}
	for _, tk := range tasks {
		bySender[tk.Sender]++
		if len(tk.ExternalUserIDs) > wecom.MaxMsgTemplateRecipients {
			t.Fatalf("task of %d customers", len(tk.ExternalUserIDs))
		}
		if tk.Text != "您好，我是"+tk.Sender+"，低GI大米试用装免费领：https://s.example/t" {
			t.Fatalf("task text %q", tk.Text)
		}
	}
	if len(tasks) != 3 || bySender["zhangsan"] != 2 || bySender["lisi"] != 1 {
		t.Fatalf("tasks by sender %v, want zhangsan 2 (over 10,000 customers), lisi 1", bySender)
	}
	got := recipients(tasks)
	if len(got) != treat {
		t.Fatalf("%d customers in tasks, %d planned", len(got), treat)
	}
	for id, k := range got {
		if k != 1 {
			t.Fatalf("%s in %d tasks", id, k)
		}
	}
	// Nothing is delivered until the staff confirm.
	if moved, err := f.svc.SyncDeliveries(f.ctx); err != nil || moved != 0 {
		t.Fatalf("before confirmation: %d moved (%v)", moved, err)
	}
	fake.ConfirmAll()
	if _, err := f.svc.SyncDeliveries(f.ctx); err != nil {
		t.Fatal(err)
	}
	notFriend := 0
	for p := uint32(11951); p <= n; p++ {
		if got[extID(p)] == 1 {
			notFriend++
		}
	}
	delivered := f.count("SELECT count() FROM "+f.db.Table("campaign_sends")+" FINAL WHERE campaign_id = ? AND state = 'delivered'", c.ID)
	failed := f.count("SELECT count() FROM "+f.db.Table("campaign_sends")+" FINAL WHERE campaign_id = ? AND state = 'failed' AND detail = 'not_friend'", c.ID)
	if delivered != treat-notFriend || failed != notFriend || notFriend == 0 {
		t.Fatalf("delivered %d, not a friend %d; want %d and %d", delivered, failed, treat-notFriend, notFriend)
	}
	for _, tk := range f.mustTasks(c.ID) {
		if tk.State != taskDone || tk.Ref == "" {
			t.Fatalf("task %+v not done after every result came back", tk)
		}
	}
	// Orders: every 4th person buys the trial pack within the window.
	var orders, lines [][]any
	for p := uint32(4); p <= n; p += 4 {
		id := fmt.Sprint("o", p)
		at := launchTime.Add(3 * 24 * time.Hour)
		orders = append(orders, []any{"douyin", id, uint64(1), "paid", at, at, "9.90", "杭州", p})
		lines = append(lines, []any{"douyin", id, uint16(1), uint64(1), "LGI-TRIAL", "低GI大米试用装", "1", "9.90", "9.90", at, p})
	}
	insertRows(t, f.db, "orders", "channel, order_id, version, status, ordered_at, status_at, amount, city, person_id", orders)
	insertRows(t, f.db, "order_lines", "channel, order_id, line_no, version, sku, category, quantity, unit_price, amount, ordered_at, person_id", lines)
	u, err := f.svc.Results(f.ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	var tn, tk, hn, hk int
	for _, e := range plan.Entries {
		conv := e.Person%4 == 0
		switch {
		case e.Group == GroupHoldout:
			hn++
			if conv {
				hk++
			}
		case e.Group == GroupTreatment: // delivered or not: intention to treat
			tn++
			if conv {
				tk++
			}
		}
	}
	want := ComputeUplift(tn, tk, float64(tk)*9.9, hn, hk, float64(hk)*9.9)
	if u.Sends["delivered"] != delivered || u.Sends["failed:not_friend"] != notFriend || u.Sends["failed"] != notFriend {
		t.Fatalf("send states %v; want %d delivered, %d failed as not a friend", u.Sends, delivered, notFriend)
	}
	if u.Treatment.Persons != want.Treatment.Persons || u.Treatment.Converted != want.Treatment.Converted ||
		u.Holdout.Persons != want.Holdout.Persons || u.Holdout.Converted != want.Holdout.Converted ||
		math.Abs(u.Absolute-want.Absolute) > 1e-9 || math.Abs(u.Treatment.Revenue-want.Treatment.Revenue) > 0.01 {
		t.Fatalf("results %+v\nwant %+v", u, want)
	}
	if u.Treatment.Reached != delivered || u.Conversion == nil || u.Conversion.Complier == nil ||
		math.Abs(u.Conversion.Complier.DeliveryRate-float64(delivered)/float64(tn)) > 1e-9 {
		t.Fatalf("reached %d of %d; complier %+v", u.Treatment.Reached, tn, u.Conversion)
	}
	// The same day, WeCom would refuse a second mass message: planning
	// excludes the recipients of the first and says why, from both arms
	// (the holdout must not keep people messaged this morning).
	c2 := f.weComCampaign(c.SegmentID, 20)
	_, plan2, err := f.svc.Launch(f.ctx, c2.ID, "tok_test")
	if err != nil {
		t.Fatal(err)
	}
	capped := plan2.Excluded[ReasonChannelCapLimit] + plan2.HoldoutExcluded[ReasonChannelCapLimit]
	inArms := plan2.Counts[GroupTreatment] + plan2.Counts[GroupHoldout]
	if capped != delivered || inArms != n-delivered-plan2.Excluded[ReasonCap]-plan2.HoldoutExcluded[ReasonCap] {
		t.Fatalf("second campaign %+v %+v %+v; %d already received one today", plan2.Counts, plan2.Excluded, plan2.HoldoutExcluded, delivered)
	}
	messaged := map[uint32]bool{}
	for _, e := range plan.Entries {
		messaged[e.Person] = e.Group == GroupTreatment && !(e.Person >= 11951 && got[extID(e.Person)] == 1)
	}
	for _, e := range plan2.Entries {
		if e.Group == GroupHoldout && messaged[e.Person] {
			t.Fatalf("the second campaign's holdout holds person %d, messaged this morning (%+v)", e.Person, plan2.Counts)
		}
	}
	if share := float64(plan2.Counts[GroupHoldout]) / float64(inArms); share < 0.15 || share > 0.25 {
		t.Fatalf("second campaign's holdout %.2f of those it could reach, want 20%%", share)
	}
}

func (f *fixture) mustTasks(id string) []Task {
	f.t.Helper()
	ts, err := f.svc.Tasks(f.ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return ts
}

// TestWeComSendIsExactlyOnceThroughCrashesAndFaults: a crash after a task
// was journalled but before WeCom was called, a crash after WeCom created
// a task but before it was recorded, a lost answer (timeout), 45009, a
// 5xx refusal and an expired token: every customer ends up in exactly one
// task, and every planned send is recorded sent.
func TestWeComSendIsExactlyOnceThroughCrashesAndFaults(t *testing.T) {
	const n = 600
	f := newFixture(t, n)
	staff := []string{"s1", "s2", "s3", "s4", "s5", "s6"}
	fake := f.withWeCom(n, func(p uint32) string { return staff[int(p)%len(staff)] }, nil)
	f.svc.Chunk = 100 // each round's chunk spreads over the six staff
	c := f.weComCampaign("", 0)
	crash := errors.New("simulated crash")
	phase, journals := "launch", 0
	f.svc.crashAfter = func(step string) error {
		switch {
		case step == "journal" && (phase == "launch" || phase == "slow"):
			if journals++; journals == 2 {
				return crash // the second task is journalled, WeCom not called
			}
		case step == "channel" && phase == "resume":
			return crash // WeCom created the task; it is not recorded
		}
		return nil
	}
	_, plan, err := f.svc.Launch(f.ctx, c.ID, "t")
	if !errors.Is(err, crash) {
		t.Fatalf("launch: %v, want the crash after a journal entry", err)
	}
	phase = "resume"
	if err := f.svc.Resume(f.ctx); !errors.Is(err, crash) {
		t.Fatalf("resume 1: %v, want the crash after WeCom created a task", err)
	}
	// A slow WeCom: the call times out after WeCom created the task; the
	// task is found in get_groupmsg_list_v2 instead of being sent again.
	phase, journals = "slow", 0
	fake.Delay(wecomtest.PathAddMsgTemplate, time.Second)
	if err := f.svc.Resume(f.ctx); !errors.Is(err, crash) {
		t.Fatalf("resume 2: %v, want the crash after the second journal entry", err)
	}
	fake.Delay(wecomtest.PathAddMsgTemplate, 0)
	// Then 45009 (nothing created: wait and call again), a 502 before
	// anything was created (not in the list: call again) and an expired
	// token (refresh, call again).
	phase = "faults"
	fake.FailNext(wecomtest.PathAddMsgTemplate, wecom.ErrCodeRateLimited, 1)
	fake.Fail5xx(wecomtest.PathAddMsgTemplate, 1)
	fake.ExpireToken()
	if err := f.svc.Resume(f.ctx); err != nil {
		t.Fatal(err)
	}
	if fake.Calls(wecomtest.PathGetGroupMsgList) == 0 {
		t.Fatal("no reconciliation with WeCom's task list happened")
	}
	treat := plan.Counts[GroupTreatment]
	got := recipients(fake.Tasks())
	if len(got) != treat {
		t.Fatalf("%d customers in tasks, %d planned", len(got), treat)
	}
	for id, k := range got {
		if k != 1 {
			t.Fatalf("%s is in %d tasks: sent twice", id, k)
		}
	}
	if sent := f.count("SELECT count() FROM "+f.db.Table("campaign_sends")+" FINAL WHERE campaign_id = ? AND state = 'sent'", c.ID); sent != treat {
		t.Fatalf("%d sends recorded sent, %d planned", sent, treat)
	}
	seen := map[string]bool{}
	for _, tk := range f.mustTasks(c.ID) {
		if tk.State != taskCreated || tk.Ref == "" || seen[tk.Ref] {
			t.Fatalf("task %+v: want created with its own msgid", tk)
		}
		seen[tk.Ref] = true
	}
	if got, _ := f.svc.Campaign(f.ctx, c.ID); got.Status != StatusFinished {
		t.Fatalf("status %s", got.Status)
	}
}

// withPhones gives persons 1..n a phone (1380013pppp) in identity_links
// and pii_vault and returns the protector that encrypted them.
func (f *fixture) withPhones(n int) *identity.Protector {
	f.t.Helper()
	prot, err := identity.NewProtector(make([]byte, 32))
	if err != nil {
		f.t.Fatal(err)
	}
	var links, vault [][]any
	for p := uint32(1); p <= uint32(n); p++ {
		ph, err := prot.ProtectPhone(fmt.Sprintf("1380013%04d", p))
		if err != nil {
			f.t.Fatal(err)
		}
		links = append(links, []any{"phone", ph.Hash, p, uint8(0), launchTime, "t", uint64(1)})
		vault = append(vault, []any{ph.Hash, "phone", ph.Masked, ph.Ciphertext, launchTime})
	}
	insertRows(f.t, f.db, "identity_links", "id_type, id_value, person_id, contested, linked_at, ref, version", links)
	insertRows(f.t, f.db, "pii_vault", "hash, type, masked, ciphertext, updated_at", vault)
	return prot
}

// TestWebhookDoesNotFollowRedirect: a webhook post carries decrypted
// phones, so a receiver answering 307 (which would make an HTTP client
// post the same body to the new location) or 302 must not move them
// anywhere: the redirect is not followed, the batch fails with a reason
// that says so, and nothing reaches the other host.
func TestWebhookDoesNotFollowRedirect(t *testing.T) {
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusFound} {
		f := newFixture(t, 10)
		prot := f.withPhones(10)
		var stolen atomic.Int32
		elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { stolen.Add(1) }))
		defer elsewhere.Close()
		var posts atomic.Int32
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			posts.Add(1)
			http.Redirect(w, r, elsewhere.URL+"/collect", status)
		}))
		defer hook.Close()
		f.svc.Channels = &Channels{Webhooks: map[string]Webhook{"sms": {URL: hook.URL, Secret: "whsec-test"}}, Reveal: prot.Decrypt,
			Wait: func(int, error) time.Duration { return time.Millisecond }}
		c := f.campaign(0)
		c.Channel, c.Targets = ChannelWebhook, []string{"sms"}
		c, err := f.svc.SaveCampaign(f.ctx, c, "t")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.svc.Launch(f.ctx, c.ID, "t"); err != nil {
			t.Fatalf("%d: launch: %v", status, err)
		}
		if n := stolen.Load(); n != 0 || posts.Load() != 1 {
			t.Fatalf("%d: %d posts to the webhook, %d followed to the redirect's host; want 1 and 0", status, posts.Load(), n)
		}
		tasks := f.mustTasks(c.ID)
		if len(tasks) != 1 || tasks[0].State != taskFailed || !strings.Contains(tasks[0].Detail, "redirect") {
			t.Fatalf("%d: tasks %+v, want one failed task saying the redirect was not followed", status, tasks)
		}
		if n := f.count("SELECT count() FROM "+f.db.Table("campaign_sends")+" FINAL WHERE campaign_id = ? AND state = 'failed' AND detail = 'webhook_redirect'", c.ID); n != 10 {
			t.Fatalf("%d: %d sends failed as webhook_redirect, want 10", status, n)
		}
	}
}

// TestWebhookChannelSignsRetriesAndCarriesTheKey: a 503 and a 500 are
// retried with the same Idempotency-Key; the receiver verifies the
// signature, sees each recipient's decrypted phone and, deduplicating on
// the key, takes each message once even after a crash between its post
// and its record.
func TestWebhookChannelSignsRetriesAndCarriesTheKey(t *testing.T) {
	f := newFixture(t, 40)
	prot := f.withPhones(30) // persons 31..40 have no phone

	const secret = "whsec-test"
	var mu sync.Mutex
	posts, fails := 0, 2
	byKey := map[string]WebhookPayload{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		posts++
		want := SignWebhook(secret, r.Header.Get(HeaderTimestamp), body)
		if !hmac.Equal([]byte(want), []byte(r.Header.Get(HeaderSignature))) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		if fails > 0 {
			fails--
			http.Error(w, "busy", []int{http.StatusServiceUnavailable, http.StatusInternalServerError}[fails])
			return
		}
		var p WebhookPayload
		if err := json.Unmarshal(body, &p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		byKey[r.Header.Get(HeaderIdempotency)] = p // a repeat replaces, never adds
	}))
	defer srv.Close()
	f.svc.Channels = &Channels{Webhooks: map[string]Webhook{"sms": {URL: srv.URL, Secret: secret}}, Reveal: prot.Decrypt,
		Wait: func(int, error) time.Duration { return time.Millisecond }}
	seg, _ := f.svc.Segments.Save(f.ctx, segments.Definition{Name: "all", Rule: `did("video_complete", 30) >= 1`}, "t")
	offer, _ := f.svc.SaveOffer(f.ctx, Offer{Name: "试用装", SKUs: []string{"X"}, Coupons: []string{"C1", "C2", "C3"}})
	c, err := f.svc.SaveCampaign(f.ctx, Campaign{Name: "短信", OfferID: offer.ID, SegmentID: seg.ID, Channel: ChannelWebhook, Targets: []string{"sms"},
		Template: "【粮油】{{offer}}券码{{coupon}}"}, "t")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SaveCampaign(f.ctx, Campaign{Name: "x", OfferID: offer.ID, SegmentID: seg.ID, Channel: ChannelWebhook, Targets: []string{"nope"}, Template: "x"}, "t"); err == nil {
		t.Fatal("a campaign naming an unconfigured webhook was saved")
	}
	crash := errors.New("crash")
	f.svc.crashAfter = func(s string) error {
		if s == "channel" {
			return crash
		}
		return nil
	}
	_, plan, err := f.svc.Launch(f.ctx, c.ID, "t")
	if !errors.Is(err, crash) {
		t.Fatalf("launch: %v", err)
	}
	f.svc.crashAfter = nil
	if err := f.svc.Resume(f.ctx); err != nil {
		t.Fatal(err)
	}
	if plan.Counts[GroupTreatment] != 30 || plan.Excluded[ReasonNoAddress] != 10 {
		t.Fatalf("plan %+v %+v", plan.Counts, plan.Excluded)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(byKey) != 1 || posts != 4 { // 503, 500, taken, taken again after the crash (same key)
		t.Fatalf("%d keys over %d posts", len(byKey), posts)
	}
	var phones []string
	for _, p := range byKey {
		for _, m := range p.Messages {
			phones = append(phones, m.Phone)
			if m.Text[len(m.Text)-2:] != "C1" && m.Text[len(m.Text)-2:] != "C2" && m.Text[len(m.Text)-2:] != "C3" {
				t.Fatalf("message %q has no coupon", m.Text)
			}
		}
	}
	sort.Strings(phones)
	if len(phones) != 30 || phones[0] != "+8613800130001" {
		t.Fatalf("phones %v", phones)
	}
}

// TestSegmentEntryTriggerPlansAndSendsOnce: a person entering the segment
// is planned and sent within the round the entry wakes; entering again
// sends nothing more; entries during quiet hours wait for them to end.
func TestSegmentEntryTriggerPlansAndSendsOnce(t *testing.T) {
	f := newFixture(t, 10)
	now := launchTime
	var clock sync.Mutex
	f.svc.Now = func() time.Time { clock.Lock(); defer clock.Unlock(); return now }
	c := f.campaign(0)
	c.Trigger, c.QuietStart, c.QuietEnd = TriggerSegmentEntry, 21, 8
	c, err := f.svc.SaveCampaign(f.ctx, c, "t")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.Launch(f.ctx, c.ID, "t"); err != nil {
		t.Fatal(err)
	}
	if n := f.count("SELECT count() FROM "+f.db.Table("campaign_sends")+" WHERE campaign_id = ?", c.ID); n != 0 {
		t.Fatalf("a segment-entry campaign planned %d current members at launch", n)
	}
	f.svc.SegmentChanged(segments.Change{Segment: c.SegmentID, Entered: []uint32{3, 4}})
	if err := f.svc.Round(f.ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	if n := f.count("SELECT count() FROM "+f.db.Table("campaign_outbox")+" FINAL WHERE campaign_id = ?", c.ID); n != 2 {
		t.Fatalf("%d sent after two entries", n)
	}
	f.svc.SegmentChanged(segments.Change{Segment: c.SegmentID, Entered: []uint32{3}})
	clock.Lock()
	now = time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC) // 22:00 in Shanghai
	clock.Unlock()
	f.svc.SegmentChanged(segments.Change{Segment: c.SegmentID, Entered: []uint32{5}})
	if err := f.svc.Round(f.ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	planned := f.count("SELECT count() FROM "+f.db.Table("campaign_sends")+" FINAL WHERE campaign_id = ? AND state = 'planned'", c.ID)
	sent := f.count("SELECT count() FROM "+f.db.Table("campaign_outbox")+" FINAL WHERE campaign_id = ?", c.ID)
	if planned != 1 || sent != 2 {
		t.Fatalf("in quiet hours: %d planned, %d sent; want person 5 waiting and no repeat for 3", planned, sent)
	}
	clock.Lock()
	now = time.Date(2026, 11, 21, 1, 0, 0, 0, time.UTC) // 09:00
	clock.Unlock()
	if err := f.svc.Round(f.ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	if n := f.count("SELECT count() FROM "+f.db.Table("campaign_outbox")+" FINAL WHERE campaign_id = ?", c.ID); n != 3 {
		t.Fatalf("%d sent after the quiet hours", n)
	}
}

// TestEntryRoundSendsItsEntriesAndAFailureMakesTheNextRoundFull: a round
// woken by segment entries sends the rows it planned for them and does not
// sweep the send log (a row planned elsewhere waits for the next full
// round) and its messages carry the names it read while planning; after a
// send that failed midway, the next entry round sends
// everything still planned, the failed chunk included, each person once.
func TestEntryRoundSendsItsEntriesAndAFailureMakesTheNextRoundFull(t *testing.T) {
	f := newFixture(t, 10)
	c := f.campaign(0)
	c.Trigger = TriggerSegmentEntry
	c, err := f.svc.SaveCampaign(f.ctx, c, "t")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.Launch(f.ctx, c.ID, "t"); err != nil {
		t.Fatal(err)
	}
	c, _ = f.svc.Campaign(f.ctx, c.ID)
	if err := f.svc.Round(f.ctx, time.Hour); err != nil { // the process's first round is full
		t.Fatal(err)
	}
	// A row planned outside the rounds (as a plan whose send never ran).
	if err := f.svc.writePlan(f.ctx, c, Plan{Entries: []Entry{{Person: 7, Group: GroupTreatment, Address: Address{To: "person:7"}}}}, "elsewhere"); err != nil {
		t.Fatal(err)
	}
	state := func(p uint32) string {
		t.Helper()
		var st string
		if err := f.db.Conn.QueryRow(f.ctx, "SELECT state FROM "+f.db.Table("campaign_sends")+" FINAL WHERE campaign_id = ? AND person_id = ?", c.ID, p).Scan(&st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	insertRows(t, f.db, "events", "id_types, id_values, message_id, type, event, ts, received_at, source, person_id, user_id, anonymous_id, properties, traits, context, spool_seq",
		[][]any{{[]string{"member_no"}, []string{"m3"}, "id3", "identify", "", launchTime.Add(-time.Hour), launchTime, "app", uint32(3), "", "", "", `{"name":"张三"}`, "", uint64(1000)}})
	f.svc.SegmentChanged(segments.Change{Segment: c.SegmentID, Entered: []uint32{3}})
	if err := f.svc.round(f.ctx, time.Hour, false); err != nil {
		t.Fatal(err)
	}
	if st3, st7 := state(3), state(7); st3 != "sent" || st7 != "planned" {
		t.Fatalf("after an entry round: person 3 %s, person 7 %s; want the entry sent and the other row left to a full round", st3, st7)
	}
	var msg string
	if err := f.db.Conn.QueryRow(f.ctx, "SELECT message FROM "+f.db.Table("campaign_outbox")+" FINAL WHERE campaign_id = ? AND person_id = 3", c.ID).Scan(&msg); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(msg, "张三您好") {
		t.Fatalf("entry round's message %q; want it addressed by the name read ahead", msg)
	}
	crash := errors.New("channel down")
	f.svc.crashAfter = func(step string) error {
		if step == "channel" {
			return crash
		}
		return nil
	}
	f.svc.SegmentChanged(segments.Change{Segment: c.SegmentID, Entered: []uint32{4}})
	if err := f.svc.round(f.ctx, time.Hour, false); !errors.Is(err, crash) {
		t.Fatalf("entry round with the channel failing: %v", err)
	}
	f.svc.crashAfter = nil
	f.svc.SegmentChanged(segments.Change{Segment: c.SegmentID, Entered: []uint32{5}})
	if err := f.svc.round(f.ctx, time.Hour, false); err != nil {
		t.Fatal(err)
	}
	for _, p := range []uint32{3, 4, 5, 7} {
		if st := state(p); st != "sent" {
			t.Fatalf("person %d %s after the round that followed the failure; want sent", p, st)
		}
	}
	rows := f.count("SELECT count() FROM "+f.db.Table("campaign_outbox")+" FINAL WHERE campaign_id = ?", c.ID)
	distinct := f.count("SELECT uniqExact(person_id) FROM "+f.db.Table("campaign_outbox")+" WHERE campaign_id = ?", c.ID)
	if rows != 4 || distinct != 4 {
		t.Fatalf("outbox %d rows for %d persons; want 4 and 4", rows, distinct)
	}
}

// TestReplenishmentRemindsHouseholdsComingDue: a household buying rice
// every 20 days, last 18 days ago, is due in 2 days (within the lead of
// 3); one that bought 5 days ago is not; oil buyers are not rice buyers.
func TestReplenishmentRemindsHouseholdsComingDue(t *testing.T) {
	f := newFixture(t, 5)
	var orders, lines [][]any
	add := func(p uint32, cat string, daysAgo ...int) {
		for _, d := range daysAgo {
			id := fmt.Sprintf("r%d-%d-%s", p, d, cat)
			at := launchTime.Add(-time.Duration(d) * 24 * time.Hour)
			orders = append(orders, []any{"tmall", id, uint64(1), "completed", at, at, "59", "上海", p})
			lines = append(lines, []any{"tmall", id, uint16(1), uint64(1), "SKU-" + cat, cat, "1", "59", "59", at, p})
		}
	}
	add(1, "五常大米", 58, 38, 18) // due in 2 days
	add(2, "五常大米", 45, 25, 5)  // due in 15 days
	add(3, "花生油", 98, 49)      // oil: not a rice reminder
	insertRows(t, f.db, "orders", "channel, order_id, version, status, ordered_at, status_at, amount, city, person_id", orders)
	insertRows(t, f.db, "order_lines", "channel, order_id, line_no, version, sku, category, quantity, unit_price, amount, ordered_at, person_id", lines)
	offer, _ := f.svc.SaveOffer(f.ctx, Offer{Name: "大米复购券", Categories: []string{"五常大米"}})
	c, err := f.svc.SaveCampaign(f.ctx, Campaign{Name: "大米补货提醒", OfferID: offer.ID, Channel: ChannelOutbox, Trigger: TriggerReplenishment,
		ReplenishKind: "rice", Template: "{{name}}您好，家里的米快吃完了吧？{{offer}}"}, "t")
	if err != nil {
		t.Fatal(err)
	}
	if c.LeadDays != 3 {
		t.Fatalf("lead days %d", c.LeadDays)
	}
	_, plan, err := f.svc.Launch(f.ctx, c.ID, "t")
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Entries) != 1 || plan.Entries[0].Person != 1 {
		t.Fatalf("replenishment plan %+v", plan.Entries)
	}
	if n := f.count("SELECT count() FROM "+f.db.Table("campaign_outbox")+" FINAL WHERE campaign_id = ? AND person_id = 1", c.ID); n != 1 {
		t.Fatal("the reminder was not sent")
	}
	if got, _ := f.svc.Campaign(f.ctx, c.ID); got.Status != StatusRunning {
		t.Fatalf("a replenishment campaign is %s after its first round, want running", got.Status)
	}
}

// TestRobotPostsOncePerGroup: a post per robot; 45009 waits and retries;
// a relaunch round posts nothing again.
func TestRobotPostsOncePerGroup(t *testing.T) {
	f := newFixture(t, 1)
	fake := wecomtest.New("wwcorp", "secret")
	defer fake.Close()
	fake.AddRobot("k1", "k2")
	fake.FailNext(wecomtest.PathRobotWebhook, wecom.ErrCodeRateLimited, 1)
	f.svc.Channels = &Channels{Robots: map[string]string{"团购1群": fake.URL + wecomtest.PathRobotWebhook + "?key=k1", "团购2群": fake.URL + wecomtest.PathRobotWebhook + "?key=k2"},
		Wait: func(int, error) time.Duration { return time.Millisecond }}
	offer, _ := f.svc.SaveOffer(f.ctx, Offer{Name: "双11低GI大米", SKUs: []string{"X"}, Link: "https://s.example/11"})
	c, err := f.svc.SaveCampaign(f.ctx, Campaign{Name: "群发", OfferID: offer.ID, Channel: ChannelRobot, Targets: []string{"团购1群", "团购2群"},
		Template: "**{{offer}}** 今晚8点开抢：{{link}}"}, "t")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.Launch(f.ctx, c.ID, "t"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Resume(f.ctx); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"k1", "k2"} {
		msgs := fake.RobotMessages(k)
		if len(msgs) != 1 || msgs[0].Content != "**双11低GI大米** 今晚8点开抢：https://s.example/11" {
			t.Fatalf("robot %s got %+v", k, msgs)
		}
	}
	for _, tk := range f.mustTasks(c.ID) {
		if tk.State != taskDone {
			t.Fatalf("task %+v", tk)
		}
	}
}
