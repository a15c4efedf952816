package wecomops

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/ingest/wecom/wecomtest"
	"github.com/granarycdp/cdp/segments"
	"github.com/granarycdp/cdp/store/storetest"
)

// link records that customer ext is person's (the identity graph's
// wecom_external_userid edge the contact pipeline writes).
func (f *fixture) link(ext string, person uint32) {
	storetest.Insert(f.t, f.db, "identity_links", "id_type, id_value, person_id, contested, linked_at, ref, version",
		[]any{"wecom_external_userid", ext, person, uint8(0), f.clock.Now(), "c:" + ext, uint64(1)})
}

// tagsWith returns person's live tags starting with prefix.
func (f *fixture) tagsWith(person uint32, prefix string) []string {
	f.t.Helper()
	tags, err := f.svc.liveTags(f.ctx, prefix, []uint32{person})
	f.must(err)
	var out []string
	for k := range tags {
		out = append(out, k.tag)
	}
	sort.Strings(out)
	return out
}

func chatEvent(change, detail, chat string) wecom.Event {
	return wecom.Event{MsgType: wecom.MsgTypeEvent, Event: wecom.EventChangeExternalChat, ChangeType: change, UpdateDetail: detail, ChatID: chat}
}

// Groups and their members are imported, members become person tags
// wecom_group:<name> usable in rules, and the callbacks (a member leaving,
// a rename, a dismissal) bring each change in.
func TestCustomerGroupsBecomePersonTagsAndFollowCallbacks(t *testing.T) {
	f := newFixture(t, Options{})
	record := f.svc.o.Touched
	f.svc.o.Touched = func(p []uint32, kinds []string) { record(p, kinds); f.segs.Touched(p, kinds) }
	f.persons(1, 2)
	f.link("wmA", 1)
	f.link("wmB", 2)
	rice := f.fake.AddGroup("大米福利群", "zhang")
	oil := f.fake.AddGroup("控油交流群", "li")
	f.fake.JoinGroup(rice, "wmA", 2)
	f.fake.JoinGroup(rice, "wmB", 2)
	f.fake.JoinGroup(rice, "li", 1)
	f.fake.JoinGroup(oil, "wmB", 2)
	f.fake.JoinGroup(oil, "wmX", 2) // a customer the platform has no person for

	res, err := f.svc.ImportGroups(f.ctx)
	if err != nil || res.Groups != 2 || res.Tagged != 2 {
		t.Fatalf("ImportGroups = %+v, %v; want 2 groups, 2 persons tagged", res, err)
	}
	if got := f.tagsWith(1, GroupTagPrefix); strings.Join(got, ",") != "wecom_group:大米福利群" {
		t.Fatalf("person 1 group tags = %v", got)
	}
	if got := f.tagsWith(2, GroupTagPrefix); strings.Join(got, ",") != "wecom_group:大米福利群,wecom_group:控油交流群" {
		t.Fatalf("person 2 group tags = %v", got)
	}
	seg, err := f.segs.Save(f.ctx, segments.Definition{Name: "rice group", Rule: `tag("wecom_group:大米福利群")`, Live: true}, "test")
	f.must(err)
	live, stop := context.WithCancel(f.ctx)
	done := make(chan struct{})
	go func() { f.segs.RunLive(live); close(done) }()
	defer func() { stop(); <-done }()
	if m, _ := f.segs.Members(seg.ID); m.GetCardinality() != 2 {
		t.Fatalf("segment members = %v, want [1 2]", m.ToArray())
	}
	groups, err := f.svc.Groups(f.ctx)
	f.must(err)
	if len(groups) != 2 || groups[0].Customers+groups[1].Customers != 4 {
		t.Fatalf("Groups = %+v", groups)
	}

	// A customer leaves: the update callback reads the group again.
	f.fake.LeaveGroup(rice, "wmA")
	f.svc.GroupChanged(chatEvent("update", "del_member", rice))
	if n, err := f.svc.ReadChangedGroups(f.ctx); n != 1 || err != nil {
		t.Fatalf("ReadChangedGroups = %d, %v", n, err)
	}
	if got := f.tagsWith(1, GroupTagPrefix); len(got) != 0 {
		t.Fatalf("person 1 group tags after leaving = %v", got)
	}
	// A rename moves the tag.
	f.fake.RenameGroup(oil, "菜籽油交流群")
	f.svc.GroupChanged(chatEvent("update", "change_name", oil))
	_, err = f.svc.ReadChangedGroups(f.ctx)
	f.must(err)
	if got := f.tagsWith(2, GroupTagPrefix); strings.Join(got, ",") != "wecom_group:大米福利群,wecom_group:菜籽油交流群" {
		t.Fatalf("person 2 group tags after the rename = %v", got)
	}
	// Dismissed: recorded without a call, the tag leaves.
	f.fake.DismissGroup(rice)
	gets := f.fake.Calls(wecomtest.PathGroupChatGet)
	f.svc.GroupChanged(chatEvent("dismiss", "", rice))
	_, err = f.svc.ReadChangedGroups(f.ctx)
	f.must(err)
	if got := f.tagsWith(2, GroupTagPrefix); strings.Join(got, ",") != "wecom_group:菜籽油交流群" {
		t.Fatalf("person 2 group tags after the dismissal = %v", got)
	}
	if f.fake.Calls(wecomtest.PathGroupChatGet) != gets {
		t.Fatal("a dismissed group was read")
	}
	if len(f.touched) == 0 {
		t.Fatal("live segments were not told the persons' tags changed")
	}
	storetest.Eventually(t, 30*time.Second, "the live segment empties after the dismissal", func() bool {
		m, _ := f.segs.Members(seg.ID)
		return m.GetCardinality() == 0
	})
}

// WeCom's refusals: 45009 and 5xx stop a round (what was read is kept,
// the next round reads again), 42001 is renewed by the client, and a
// visible range too large for an unfiltered list (81017) is listed per
// 100 owners.
func TestGroupImportSurvivesRateLimitsOutagesAndLargeCorps(t *testing.T) {
	f := newFixture(t, Options{})
	f.persons(1)
	f.link("wmA", 1)
	var chats []string
	for i := range 3 {
		chat := f.fake.AddGroup(fmt.Sprintf("群%d", i), fmt.Sprintf("staff%d", i))
		f.fake.JoinGroup(chat, "wmA", 2)
		chats = append(chats, chat)
	}
	f.fake.ExpireToken()
	f.fake.SetRateLimit(wecomtest.PathGroupChatGet, 1, 0) // the first get goes, the second meets 45009
	if res, err := f.svc.ImportGroups(f.ctx); !errors.Is(err, wecom.ErrRateLimited) || res.Groups != 1 {
		t.Fatalf("ImportGroups under 45009 = %+v, %v; want 1 group and ErrRateLimited", res, err)
	}
	f.fake.SetRateLimit(wecomtest.PathGroupChatGet, wecomtest.LimitPerMinute, wecomtest.LimitPerHour)
	f.fake.Fail5xx(wecomtest.PathGroupChatList, 1)
	var httpErr *wecom.HTTPError
	if _, err := f.svc.ImportGroups(f.ctx); !errors.As(err, &httpErr) || !wecom.IsRetryable(err) {
		t.Fatalf("ImportGroups under 503 = %v", err)
	}
	// More than 1,000 staff in the visible range: per owner.
	for i := range wecomtest.MaxVisibleOwners + 1 {
		f.fake.AddStaff(fmt.Sprintf("staff%d", i))
	}
	for i := range 3 {
		f.contact(wecom.ChangeAddExternalContact, fmt.Sprintf("staff%d", i), "wmA", 1)
	}
	lists := f.fake.Calls(wecomtest.PathGroupChatList)
	res, err := f.svc.ImportGroups(f.ctx)
	if err != nil || res.Groups != 3 {
		t.Fatalf("ImportGroups past 1,000 staff = %+v, %v", res, err)
	}
	if n := f.fake.Calls(wecomtest.PathGroupChatList) - lists; n != 2 {
		t.Fatalf("groupchat/list calls = %d, want 2 (refused with 81017, then one per 100 owners)", n)
	}
	if got := f.tagsWith(1, GroupTagPrefix); len(got) != 3 {
		t.Fatalf("person 1 group tags = %v, want 3", got)
	}
	// A group dismissed while no callback came: the next import sees it
	// unlisted.
	f.fake.DismissGroup(chats[0])
	res, err = f.svc.ImportGroups(f.ctx)
	if err != nil || res.Dismissed != 1 || len(f.tagsWith(1, GroupTagPrefix)) != 2 {
		t.Fatalf("ImportGroups after an unannounced dismissal = %+v, %v, tags %v", res, err, f.tagsWith(1, GroupTagPrefix))
	}
}

// The client refuses what WeCom would before calling.
func TestGroupClientLimits(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.client()
	owners := make([]string, wecom.MaxGroupChatOwners+1)
	if _, err := c.ListGroupChats(f.ctx, wecom.GroupChatListQuery{Owners: owners}); !errors.Is(err, wecom.ErrOverLimit) {
		t.Fatalf("101 owners: %v", err)
	}
	if _, err := c.ListGroupChats(f.ctx, wecom.GroupChatListQuery{StatusFilter: 4}); !errors.Is(err, wecom.ErrBadField) {
		t.Fatalf("status_filter 4: %v", err)
	}
	if _, err := c.GetGroupChat(f.ctx, "wrNONE"); err == nil || !strings.Contains(err.Error(), "40050") {
		t.Fatalf("unknown chat: %v", err)
	}
	chats := make([]string, wecom.MaxGroupMsgChats+1)
	if _, err := c.AddGroupMsgTemplate(f.ctx, wecom.GroupMsgTemplate{Sender: "zhang", ChatIDs: chats, Text: "x"}); !errors.Is(err, wecom.ErrOverLimit) {
		t.Fatalf("2,001 groups: %v", err)
	}
	if f.fake.Calls(wecomtest.PathAddMsgTemplate) != 0 {
		t.Fatal("a refused template was sent")
	}
}

// Differential check: after random joins, leaves, renames and dismissals,
// told by callbacks or found by full imports, the recorded membership
// equals the fake's and the group tags equal what the truth gives.
func TestGroupMembershipMatchesWeComDifferentially(t *testing.T) {
	f := newFixture(t, Options{})
	rng := rand.New(rand.NewPCG(19, 7))
	const customers, nGroups = 300, 40
	var ids []uint32
	for p := uint32(1); p <= customers; p++ {
		ids = append(ids, p)
	}
	f.persons(ids...)
	for p := uint32(1); p <= customers; p++ {
		if p%10 != 0 { // every tenth customer has no person
			f.link(fmt.Sprintf("wm%03d", p), p)
		}
	}
	var chats []string
	names := map[string]string{}
	dismissed := map[string]bool{}
	for i := range nGroups {
		c := f.fake.AddGroup(fmt.Sprintf("群%02d", i%30), fmt.Sprintf("staff%d", i%7)) // some names shared
		chats, names[c] = append(chats, c), fmt.Sprintf("群%02d", i%30)
		for range 1 + rng.IntN(25) {
			f.fake.JoinGroup(c, fmt.Sprintf("wm%03d", 1+rng.IntN(customers)), 2)
		}
	}
	_, err := f.svc.ImportGroups(f.ctx)
	f.must(err)
	for round := range 6 {
		for range 40 {
			c := chats[rng.IntN(len(chats))]
			if dismissed[c] {
				continue
			}
			ext := fmt.Sprintf("wm%03d", 1+rng.IntN(customers))
			switch r := rng.IntN(20); {
			case r < 10:
				f.fake.JoinGroup(c, ext, 2)
			case r < 17:
				if m := f.fake.GroupMembers(c); len(m) > 1 {
					f.fake.LeaveGroup(c, m[rng.IntN(len(m))])
				}
			case r < 19:
				names[c] = fmt.Sprintf("新群%02d", rng.IntN(30))
				f.fake.RenameGroup(c, names[c])
			default:
				f.fake.DismissGroup(c)
				dismissed[c] = true
			}
			if round%2 == 0 { // callbacks on even rounds, a full import on odd ones
				change := "update"
				if dismissed[c] {
					change = "dismiss"
				}
				f.svc.GroupChanged(chatEvent(change, "", c))
			}
		}
		if round%2 == 0 {
			_, err = f.svc.ReadChangedGroups(f.ctx)
		} else {
			_, err = f.svc.ImportGroups(f.ctx)
		}
		f.must(err)
		f.compareGroups(chats, names, dismissed)
	}
}

// compareGroups checks the recorded members of every live group against
// the fake, and every person's group tags against the truth.
func (f *fixture) compareGroups(chats []string, names map[string]string, dismissed map[string]bool) {
	f.t.Helper()
	recorded := map[string][]string{}
	err := f.svc.each(f.ctx, "test: members", "SELECT chat_id, userid FROM "+f.db.Table("wecom_group_members")+
		" GROUP BY chat_id, userid HAVING argMax(present, ts) = 1 ORDER BY chat_id, userid", nil, func(scan scanFn) error {
		var c, u string
		err := scan(&c, &u)
		recorded[c] = append(recorded[c], u)
		return err
	})
	f.must(err)
	truth := map[uint32]map[string]bool{}
	for _, c := range chats {
		var want []string
		if !dismissed[c] {
			want = f.fake.GroupMembers(c)
		}
		if strings.Join(recorded[c], ",") != strings.Join(want, ",") {
			f.t.Fatalf("group %s members: recorded %v, WeCom %v", c, recorded[c], want)
		}
		for _, u := range want {
			var p uint32
			if _, err := fmt.Sscanf(u, "wm%03d", &p); err == nil && p%10 != 0 {
				if truth[p] == nil {
					truth[p] = map[string]bool{}
				}
				truth[p][GroupTagPrefix+names[c]] = true
			}
		}
	}
	have, err := f.svc.liveTags(f.ctx, GroupTagPrefix, nil)
	f.must(err)
	n := 0
	for _, tags := range truth {
		n += len(tags)
	}
	if len(have) != n {
		f.t.Fatalf("%d group tags, truth %d", len(have), n)
	}
	for k := range have {
		if !truth[k.person][k.tag] {
			f.t.Fatalf("person %d has %s, truth %v", k.person, k.tag, truth[k.person])
		}
	}
}
