package campaigns

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/ingest/wecom/wecomtest"
)

// groupSendStates returns each group's latest state in campaign id.
func (f *fixture) groupSendStates(id string) map[string]string {
	f.t.Helper()
	sends, err := f.svc.GroupSends(f.ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]string{}
	for _, g := range sends {
		out[g.ChatID] = g.State
	}
	return out
}

// A group mass message goes once per owner into the campaign's groups
// through a crash after the journal, WeCom faults (5xx, 45009, 42001) and
// a crash after WeCom created the task; a group that already had its
// mass message of the day is skipped, in this campaign and the next.
func TestWeComGroupSendIsExactlyOnceAndKeepsTheDailyLimit(t *testing.T) {
	f := newFixture(t, 1)
	fake := wecomtest.New("wwcorp", "secret")
	defer fake.Close()
	fake.SetClock(func() time.Time { return launchTime })
	g1, g2, g3 := fake.AddGroup("大米福利1群", "s1"), fake.AddGroup("大米福利2群", "s1"), fake.AddGroup("油品群", "s2")
	bj := f.svc.beijingDay()
	var chats [][]any
	for _, g := range []struct{ id, owner string }{{g1, "s1"}, {g2, "s1"}, {g3, "s2"}} {
		chats = append(chats, []any{g.id, "群", g.owner, "", launchTime, uint8(0), uint32(2), uint8(0), launchTime})
	}
	insertRows(t, f.db, "wecom_group_chats", "chat_id, name, owner, notice, created_at, status, members, dismissed, ts", chats)
	// Another campaign sent into g3 today.
	insertRows(t, f.db, "wecom_group_sends", "campaign_id, task_id, chat_id, owner, day, state, msgid, ts",
		[][]any{{"other", "t", g3, "s2", bj, "sent", "m", launchTime}})
	client, err := wecom.NewClient("wwcorp", "secret", wecom.ClientOptions{BaseURL: fake.URL, HTTPClient: &http.Client{Timeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	f.svc.Channels = &Channels{WeCom: client, Wait: func(int, error) time.Duration { return 10 * time.Millisecond }}
	offer, _ := f.svc.SaveOffer(f.ctx, Offer{Name: "新米上市", SKUs: []string{"X"}, Link: "https://s.example/new"})
	c, err := f.svc.SaveCampaign(f.ctx, Campaign{Name: "群发新米", OfferID: offer.ID, Channel: ChannelWeComGroup,
		Targets: []string{g1, g2, g3, "wrUNKNOWN"}, Template: "{{offer}} 今天到店：{{link}}"}, "t")
	if err != nil {
		t.Fatal(err)
	}
	crash := errors.New("simulated crash")
	phase := "launch"
	f.svc.crashAfter = func(step string) error {
		if (phase == "launch" && step == "journal") || (phase == "faults" && step == "channel") {
			return crash
		}
		return nil
	}
	if _, _, err := f.svc.Launch(f.ctx, c.ID, "t"); !errors.Is(err, crash) {
		t.Fatalf("launch: %v, want the crash after the journal", err)
	}
	phase = "faults"
	fake.ExpireToken()
	fake.Fail5xx(wecomtest.PathAddMsgTemplate, 1)
	fake.FailNext(wecomtest.PathAddMsgTemplate, wecom.ErrCodeRateLimited, 1)
	if err := f.svc.Resume(f.ctx); !errors.Is(err, crash) {
		t.Fatalf("resume: %v, want the crash after WeCom created the task", err)
	}
	phase = "final"
	if err := f.svc.Resume(f.ctx); err != nil {
		t.Fatal(err)
	}
	tasks := fake.Tasks()
	if len(tasks) != 1 || tasks[0].Sender != "s1" || tasks[0].ChatType != "group" || strings.Join(tasks[0].ChatIDs, ",") != g1+","+g2 {
		t.Fatalf("WeCom tasks = %+v; want one for s1 into %s and %s", tasks, g1, g2)
	}
	if fake.Calls(wecomtest.PathGetGroupMsgList) == 0 {
		t.Fatal("the lost answer was not looked up in WeCom's task list")
	}
	want := map[string]string{g1: groupSent, g2: groupSent, g3: groupSkipped, "wrUNKNOWN": groupFailed}
	if got := f.groupSendStates(c.ID); len(got) != 4 || got[g1] != want[g1] || got[g2] != want[g2] || got[g3] != want[g3] || got["wrUNKNOWN"] != want["wrUNKNOWN"] {
		t.Fatalf("group sends = %v, want %v", got, want)
	}
	// The owner confirms; the results come back per group.
	fake.ConfirmAll()
	if n, err := f.svc.SyncDeliveries(f.ctx); err != nil || n != 2 {
		t.Fatalf("SyncDeliveries = %d, %v; want 2 groups", n, err)
	}
	if got := f.groupSendStates(c.ID); got[g1] != groupDelivered || got[g2] != groupDelivered {
		t.Fatalf("after the results: %v", got)
	}
	for _, tk := range f.mustTasks(c.ID) {
		if tk.State != taskDone || tk.Ref == "" {
			t.Fatalf("task %+v, want done with its msgid", tk)
		}
	}
	// A second campaign the same day: g1 had its message, nothing is sent.
	c2, err := f.svc.SaveCampaign(f.ctx, Campaign{Name: "再发", OfferID: offer.ID, Channel: ChannelWeComGroup,
		Targets: []string{TargetAllGroups}, Template: "{{offer}}"}, "t")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.Launch(f.ctx, c2.ID, "t"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Resume(f.ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.Tasks()); n != 1 {
		t.Fatalf("%d WeCom tasks after the second campaign, want still 1", n)
	}
	if got := f.groupSendStates(c2.ID); got[g1] != groupSkipped || got[g2] != groupSkipped || got[g3] != groupSkipped {
		t.Fatalf("second campaign's groups = %v, want all skipped", got)
	}
	// What WeCom would refuse is refused when the campaign is saved.
	if _, err := f.svc.SaveCampaign(f.ctx, Campaign{Name: "x", OfferID: offer.ID, Channel: ChannelWeComGroup, Template: "{{name}}"}, "t"); err == nil {
		t.Fatal("a campaign without targets was saved")
	}
}
