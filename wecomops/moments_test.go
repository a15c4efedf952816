package wecomops

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/ingest/wecom/wecomtest"
)

// momentFixture has two staff members, each with customers, some tagged
// 米复购28天 by hand, and the corp tag library read.
func momentFixture(t *testing.T) (*fixture, string) {
	f := newFixture(t, Options{})
	f.fake.AddStaff("zhangsan", "lisi")
	tag := f.fake.AddCorpTag("复购", "米复购28天")
	f.fake.AddCorpTag("复购", "油复购49天")
	for _, c := range []struct {
		staff, ext string
		tagged     bool
	}{{"zhangsan", "wm1", true}, {"zhangsan", "wm2", false}, {"zhangsan", "wm3", true}, {"lisi", "wm4", true}} {
		f.fake.AddContact(wecomtest.Contact{ExternalUserID: c.ext, FollowUser: c.staff})
		f.fake.TagByHand(c.staff, c.ext, tag, c.tagged)
	}
	_, err := f.svc.RefreshLibrary(f.ctx)
	f.must(err)
	return f, tag
}

// A moment task to customers by tag: refused input names the field
// before WeCom is called; 45009 queues the task and a minute later it is
// called again; the job is polled until done (through an expired token);
// the senders WeCom could not use are recorded; results are read after a
// 503, and give who published and how many customers it reached.
func TestMomentTaskToCustomersByTag(t *testing.T) {
	f, tag := momentFixture(t)
	ctx := f.ctx
	for _, c := range []struct {
		in    MomentInput
		field string
	}{
		{MomentInput{Text: "新米上市"}, "tag_ids"},
		{MomentInput{Text: strings.Repeat("米", wecom.MaxMomentTextChars+1), TagIDs: []string{tag}}, "text"},
		{MomentInput{Text: "新米", TagIDs: []string{"etNOPE"}}, "tag_ids[0]"},
		{MomentInput{TagIDs: []string{tag}, Attachments: []wecom.MomentAttachment{{ImageMediaID: "m1"}, {VideoMediaID: "v1"}}}, "attachments"},
		{MomentInput{Text: "新米", TagIDs: []string{tag}, Attachments: []wecom.MomentAttachment{{Link: &wecom.MomentLink{Title: "t", URL: "ftp://x", MediaID: "c"}}}}, "attachments[0].link.url"},
	} {
		if _, err := f.svc.CreateMoment(ctx, c.in, "tok"); fieldOf(err) != c.field {
			t.Fatalf("%+v: want field %s, got %v", c.in, c.field, err)
		}
	}
	if n := f.fake.Calls(wecomtest.PathAddMomentTask); n != 0 {
		t.Fatalf("refused input reached WeCom: %d calls", n)
	}

	f.fake.FailNext(wecomtest.PathAddMomentTask, 45009, 1)
	f.fake.SetMomentJobDelay(30 * time.Second)
	in := MomentInput{Text: "新米上市，老客户专享", TagIDs: []string{tag}, Senders: []string{"zhangsan", "lisi", "ghost"},
		Attachments: []wecom.MomentAttachment{{Link: &wecom.MomentLink{Title: "五常大米", URL: "https://shop.example.com/rice", MediaID: "cover1"}}}}
	m, err := f.svc.CreateMoment(ctx, in, "tok")
	if err != nil || m.Status != MomentQueued {
		t.Fatalf("after 45009: %+v %v", m, err)
	}
	f.pollMoments(0)
	f.clock.Advance(wecom.RateLimitBackoff + time.Second)
	f.pollMoments(1) // called again: submitted
	f.pollMoments(0) // the job is still running
	f.clock.Advance(30 * time.Second)
	f.fake.ExpireToken()
	f.pollMoments(1) // created
	got, err := f.svc.GetMoment(ctx, m.ID)
	f.must(err)
	if got.Status != MomentCreated || got.MomentID == "" || strings.Join(got.InvalidSenders, ",") != "ghost" || got.Attempts != 2 {
		t.Fatalf("created: %+v", got)
	}
	if n := f.fake.Calls(wecomtest.PathAddMomentTask); n != 2 || len(f.fake.Moments()) != 1 {
		t.Fatalf("add_moment_task calls %d, moments %d", n, len(f.fake.Moments()))
	}

	f.fake.PublishMoment(got.MomentID, "zhangsan")
	f.clock.Advance(momentResultsEvery)
	f.fake.Fail5xx(wecomtest.PathGetMomentTask, 1)
	if _, err := f.svc.PollMoments(ctx); err == nil {
		t.Fatal("a 503 reading results was not reported")
	}
	f.pollMoments(0)
	got, err = f.svc.GetMoment(ctx, m.ID)
	f.must(err)
	// zhangsan's tagged customers wm1 and wm3 saw it; lisi has not published.
	if got.Published != 1 || got.Visible != 2 || got.Reached != 2 || len(got.Results) != 2 || got.Results[0].Sender != "lisi" || got.Results[0].Published {
		t.Fatalf("results: %+v", got)
	}
	list, err := f.svc.Moments(ctx, 10)
	f.must(err)
	if len(list) != 1 || list[0].Reached != 2 || list[0].Results != nil {
		t.Fatalf("list: %+v", list)
	}
}

func (f *fixture) pollMoments(want int) {
	f.t.Helper()
	n, err := f.svc.PollMoments(f.ctx)
	if err != nil || n != want {
		f.t.Fatalf("PollMoments: %d changed (want %d), %v", n, want, err)
	}
}

// A moment task is created in WeCom exactly once whatever is lost: a
// crash after WeCom answered (the jobid never recorded), a crash after
// the journal before the call, and a 503. A restarted service settles
// each from WeCom's list of moments once it has stood creating for
// momentSettle.
func TestMomentCreatedOnceAcrossCrashes(t *testing.T) {
	f, tag := momentFixture(t)
	ctx := f.ctx
	create := func(text, crashAt string) Moment {
		t.Helper()
		f.svc.momentCrash = func(p string) bool { return p == crashAt }
		m, err := f.svc.CreateMoment(ctx, MomentInput{Text: text, TagIDs: []string{tag}}, "tok")
		if crashAt != "" && !errors.Is(err, errMomentCrash) || crashAt == "" && err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		return m
	}
	lost := create("答案丢了", "after_call")
	never := create("没调用", "before_call")
	f.fake.Fail5xx(wecomtest.PathAddMomentTask, 1)
	failed := create("503了", "")
	if failed.Status != MomentCreating {
		t.Fatalf("after a 503: %s", failed.Status)
	}
	if n := len(f.fake.Moments()); n != 1 {
		t.Fatalf("WeCom has %d moments, want 1 (the lost answer's)", n)
	}
	// Restart: a new service on the same database.
	svc, err := New(f.svc.o)
	f.must(err)
	f.svc = svc
	f.pollMoments(0) // too early to tell a lost answer from a call under way
	f.clock.Advance(momentSettle + time.Second)
	f.pollMoments(3) // lost: found; never and failed: called again
	f.pollMoments(2) // their jobs done
	for _, m := range []Moment{lost, never, failed} {
		got, err := f.svc.GetMoment(ctx, m.ID)
		f.must(err)
		if got.Status != MomentCreated {
			t.Fatalf("%s: %+v", m.Text, got)
		}
	}
	byText := map[string]int{}
	for _, m := range f.fake.Moments() {
		byText[m.Text]++
	}
	if len(byText) != 3 || byText["答案丢了"] != 1 || byText["没调用"] != 1 || byText["503了"] != 1 {
		t.Fatalf("moments at WeCom: %v", byText)
	}
	if n := f.fake.Calls(wecomtest.PathAddMomentTask); n != 4 {
		t.Fatalf("add_moment_task calls %d, want 4 (one each, and the 503)", n)
	}
}
