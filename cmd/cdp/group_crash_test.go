package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom/wecomtest"
)

// groupCrashOwners and groupCrashChats size the group mass-message phase
// of the campaign crash test: one WeCom task per owner, 300 ms each.
const groupCrashOwners, groupCrashChats = 12, 24

// addCrashGroups gives the fake corp customer groups, two per owner, for
// the platform's import at its next start; it returns their chat ids.
func addCrashGroups(fake *wecomtest.Server) []string {
	var chats []string
	for i := range groupCrashChats {
		chats = append(chats, fake.AddGroup(fmt.Sprintf("大米福利%d群", i+1), fmt.Sprintf("owner%02d", i%groupCrashOwners)))
	}
	return chats
}

// groupTasks returns the fake's group mass-message tasks.
func groupTasks(fake *wecomtest.Server) []wecomtest.Task {
	var out []wecomtest.Task
	for _, tk := range fake.Tasks() {
		if tk.ChatType == "group" {
			out = append(out, tk)
		}
	}
	return out
}

// sigkillDuringGroupSends is the group phase of
// TestSIGKILLDuringWeComCampaignSendsEachCustomerOnce, on its rig after
// the one-to-one campaign finished: a wecom_group campaign to every group
// is launched while WeCom answers each add_msg_template after 300 ms, the
// platform is SIGKILLed with group tasks in flight and restarted.
// Counted at the fake: each group is in exactly one task, each owner has
// one task, and the campaign finishes.
func sigkillDuringGroupSends(t *testing.T, r *campaignRig, chats []string) {
	until(t, time.Minute, "the customer groups imported", func() bool {
		return r.count("SELECT count() FROM {db}.wecom_group_chats FINAL WHERE dismissed = 0") >= len(chats)
	})
	var offer, camp struct {
		ID string `json:"id"`
	}
	r.api("POST", "/api/v1/offers", map[string]any{"name": "新米上市", "skus": []string{"NEW-RICE"}, "link": "https://s.example/n"}, &offer)
	r.api("POST", "/api/v1/campaigns", map[string]any{"name": "群发新米", "offer_id": offer.ID, "channel": "wecom_group",
		"targets": []string{"all"}, "template": "{{offer}} 今天到店：{{link}}"}, &camp)
	r.fake.Delay(wecomtest.PathAddMsgTemplate, 300*time.Millisecond)
	r.api("POST", "/api/v1/campaigns/"+camp.ID+"/launch", nil, nil)
	until(t, time.Minute, "three group tasks", func() bool { return len(groupTasks(r.fake)) >= 3 })
	orphan := r.p.child(t)
	r.p.stop(syscall.SIGKILL)
	at := len(groupTasks(r.fake))
	if at >= groupCrashOwners {
		t.Fatalf("all %d group tasks were made before the platform was killed", at)
	}
	until(t, time.Minute, "the orphaned engine child to exit", func() bool {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", orphan))
		return err != nil || strings.Contains(string(stat), ") Z ")
	})
	r.fake.Delay(wecomtest.PathAddMsgTemplate, 0)
	r.start()
	untilFinished(t, r.api, camp.ID)

	perChat, perOwner := map[string]int{}, map[string]int{}
	for _, tk := range groupTasks(r.fake) {
		perOwner[tk.Sender]++
		for _, c := range tk.ChatIDs {
			perChat[c]++
		}
	}
	for _, c := range chats {
		if perChat[c] != 1 {
			t.Fatalf("group %s is in %d WeCom tasks, want exactly one", c, perChat[c])
		}
	}
	for o, n := range perOwner {
		if n != 1 {
			t.Fatalf("owner %s got %d group tasks, want one", o, n)
		}
	}
	if len(perOwner) != groupCrashOwners || len(perChat) != len(chats) {
		t.Fatalf("%d owners, %d groups in WeCom tasks; want %d and %d", len(perOwner), len(perChat), groupCrashOwners, len(chats))
	}
	t.Logf("group phase: %d of %d group tasks made when the platform was killed; %d list lookups in all",
		at, groupCrashOwners, r.fake.Calls(wecomtest.PathGetGroupMsgList))
}
