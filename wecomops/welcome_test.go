package wecomops

import (
	"strings"
	"testing"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/ingest/wecom/wecomtest"
)

// addEvent is the add_external_contact callback of ext added by staff
// through state with code (none when "").
func (f *fixture) addEvent(staff, ext, state, code string) wecom.Event {
	f.fake.AddContact(wecomtest.Contact{ExternalUserID: ext, FollowUser: staff})
	if code != "" {
		f.fake.IssueWelcomeCode(code)
	}
	return wecom.Event{MsgType: "event", Event: wecom.EventChangeExternalContact, ChangeType: wecom.ChangeAddExternalContact,
		FromUserName: "sys", CreateTime: f.clock.Now().Truncate(time.Second), UserID: staff, ExternalUserID: ext, State: state, WelcomeCode: code}
}

func (f *fixture) entries() map[string]WelcomeEntry {
	f.t.Helper()
	es, err := f.svc.WelcomeJournal(f.ctx, false, 1000)
	f.must(err)
	out := map[string]WelcomeEntry{}
	for _, e := range es {
		out[e.Code] = e
	}
	return out
}

// A State's welcome message goes out once per WelcomeCode, whatever
// WeCom's callback retries, with the State's tags; past 20 s it is
// recorded expired without a call; 45009 and 5xx are tried again within
// the window; a code used elsewhere is recorded used; a State without a
// welcome is skipped; an add without a code still gets the tags.
func TestWelcomeMessages(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := f.ctx
	tag := f.fake.AddCorpTag("渠道", "门店扫码")
	_, err := f.svc.RefreshLibrary(ctx)
	f.must(err)
	for _, tc := range []struct {
		w     Welcome
		field string
	}{
		{Welcome{Text: "hi"}, "state"},
		{Welcome{State: "s1"}, "text"},
		{Welcome{State: "s1", Text: strings.Repeat("米", 1400)}, "text"},
		{Welcome{State: "s1", Text: "hi", Link: &wecom.LinkAttachment{Title: "t"}}, "attachments"},
		{Welcome{State: "s1", Text: "hi", TagIDs: []string{"ettag999"}}, "tag_ids"},
	} {
		if _, err := f.svc.SetWelcome(ctx, tc.w, "t"); fieldOf(err) != tc.field {
			t.Errorf("SetWelcome(%+v) = %v, want a %s error", tc.w, err, tc.field)
		}
	}
	_, err = f.svc.SetWelcome(ctx, Welcome{State: "store-1", Text: "欢迎光临！", TagIDs: []string{tag},
		Link: &wecom.LinkAttachment{Title: "新人礼", URL: "https://example.com/gift"}}, "t")
	f.must(err)

	ev := f.addEvent("staff1", "wm1", "store-1", "code1")
	for range 3 { // WeCom's retries of the callback
		f.must(f.svc.OnContactEvent(ctx, ev))
	}
	_, err = f.svc.SendWelcomes(ctx)
	f.must(err)
	late := f.addEvent("staff1", "wm2", "store-1", "code2")
	f.must(f.svc.OnContactEvent(ctx, late))
	f.clock.Advance(wecom.WelcomeCodeTTL)
	busy := f.addEvent("staff1", "wm3", "store-1", "code3")
	f.must(f.svc.OnContactEvent(ctx, busy))
	elsewhere := f.addEvent("staff1", "wm4", "store-1", "code4")
	f.must(f.svc.OnContactEvent(ctx, elsewhere))
	f.must(f.svc.o.Client.SendWelcomeMsg(ctx, "code4", wecom.WelcomeMessage{Text: "another app"}))
	f.must(f.svc.OnContactEvent(ctx, f.addEvent("staff1", "wm5", "nowelcome", "code5")))
	f.must(f.svc.OnContactEvent(ctx, f.addEvent("staff2", "wm6", "store-1", "")))
	f.fake.FailNext(wecomtest.PathSendWelcomeMsg, wecom.ErrCodeRateLimited, 1)
	f.fake.Fail5xx(wecomtest.PathSendWelcomeMsg, 1)

	for pass := 0; pass < 3; pass++ {
		_, err := f.svc.SendWelcomes(ctx)
		f.must(err)
	}
	es := f.entries()
	want := map[string]string{"code1": WelcomeSent, "code2": WelcomeExpired, "code3": WelcomeSent, "code4": WelcomeUsed, "code5": WelcomeSkipped}
	for code, st := range want {
		if es[code].Status != st {
			t.Errorf("%s: %+v, want %s", code, es[code], st)
		}
	}
	if len(es) != 6 {
		t.Fatalf("%d journal entries, want 6: %+v", len(es), es)
	}
	for _, code := range []string{"code1", "code3", "code4"} {
		if n := len(f.fake.WelcomeSends(code)); n != 1 {
			t.Errorf("%s: %d welcome messages at WeCom", code, n)
		}
	}
	if s := f.fake.WelcomeSends("code1"); len(s) == 1 && (s[0].Text != "欢迎光临！" || s[0].Attachments != 1) {
		t.Errorf("code1 sent %+v", s[0])
	}
	if n := len(f.fake.WelcomeSends("code2")); n != 0 {
		t.Errorf("the expired code was sent %d times", n)
	}
	// code1 once, code3 three times (45009, 503, ok), code4 twice (the
	// other app's, then ours: 41051).
	if n := f.fake.Calls(wecomtest.PathSendWelcomeMsg); n != 1+1+3+1 {
		t.Errorf("%d send_welcome_msg calls, want 6", n)
	}
	for _, p := range [][2]string{{"staff1", "wm1"}, {"staff1", "wm2"}, {"staff1", "wm3"}, {"staff1", "wm4"}, {"staff2", "wm6"}} {
		if got := f.fake.PairTags(p[0], p[1]); len(got) != 1 || got[0] != tag {
			t.Errorf("%v carries %v, want the State's tag", p, got)
		}
	}
	if got := f.fake.PairTags("staff1", "wm5"); len(got) != 0 {
		t.Errorf("a State without a welcome tagged %v", got)
	}
	for code, e := range es {
		if e.TagsApplied == tagsTodo {
			t.Errorf("%s: tags still to apply", code)
		}
	}
	if open, _ := f.svc.WelcomeJournal(ctx, true, 100); len(open) != 0 {
		t.Fatalf("open entries left: %+v", open)
	}
}
