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

// TestSIGKILLDuringJourneySendsAndWaitsSendsEachStepOnce runs a journey
// (a WeCom message, a 60-second wait, a second WeCom message, exit) in a
// real `cdp serve` against the fake WeCom. The platform is SIGKILLed while
// the first step's add_msg_template calls are in flight (WeCom answers
// each after 300 ms), and again while the runs wait. After each restart
// the journey goes on: every customer is in exactly one WeCom task per
// step, counted at the fake WeCom, and every run ends at the exit.
func TestSIGKILLDuringJourneySendsAndWaitsSendsEachStepOnce(t *testing.T) {
	t.Parallel() // mostly the journey's 60-second wait: see parallelNote
	r := startLoadedRig(t, "wwjourneycorp", 12, 400, "CDP_WECOM_DAILY_CAP=5")
	fake := r.fake
	fake.SetDailyCap(5)
	id := launchSlowWeComJourney(r.api, fake)
	until(t, time.Minute, "two WeCom tasks", func() bool { return len(fake.Tasks()) >= 2 })
	r.restartAfterSIGKILL()
	first := r.count("SELECT count() FROM {db}.campaign_sends FINAL WHERE startsWith(campaign_id, ?) AND group = 'treatment'", id+"/v1/hello/")
	if first < 100 {
		t.Fatalf("%d customers planned for the first message: too few to crash in the middle", first)
	}
	until(t, 2*time.Minute, "the first message sent to everyone", func() bool {
		return r.count("SELECT count() FROM {db}.campaign_sends FINAL WHERE startsWith(campaign_id, ?) AND group = 'treatment' AND state = 'sent'", id+"/v1/hello/") == first
	})
	if waiting := r.count("SELECT count() FROM {db}.journey_runs FINAL WHERE journey_id = ? AND state = 'waiting'", id); waiting == 0 {
		t.Fatal("no run is waiting: the wait ended before the second kill")
	}
	r.restartAfterSIGKILL()
	until(t, 3*time.Minute, "every run at the exit", func() bool {
		return r.count("SELECT count() FROM {db}.journey_runs FINAL WHERE journey_id = ? AND state != 'done'", id) == 0
	})
	until(t, time.Minute, "the second message sent", func() bool {
		return r.count("SELECT count() FROM {db}.campaign_sends FINAL WHERE startsWith(campaign_id, ?) AND group = 'treatment' AND state IN ('planned', 'sending')", id+"/") == 0
	})
	per := map[string]map[string]int{} // step text -> customer -> tasks
	for _, tk := range fake.Tasks() {
		step := "first"
		if strings.Contains(tk.Text, "第二") {
			step = "second"
		}
		if per[step] == nil {
			per[step] = map[string]int{}
		}
		for _, c := range tk.ExternalUserIDs {
			per[step][c]++
		}
	}
	for step, customers := range per {
		for c, n := range customers {
			if n != 1 {
				t.Fatalf("customer %s got the %s message %d times", c, step, n)
			}
		}
	}
	second := r.count("SELECT count() FROM {db}.campaign_sends FINAL WHERE startsWith(campaign_id, ?) AND group = 'treatment' AND state = 'sent'", id+"/v1/again/")
	if len(per["first"]) != first || len(per["second"]) != second || second < first*9/10 {
		t.Fatalf("WeCom holds %d first and %d second messages; the platform sent %d and %d", len(per["first"]), len(per["second"]), first, second)
	}
	t.Logf("%d customers; %d first and %d second messages, each once, across two SIGKILLs; %d WeCom list lookups",
		first, len(per["first"]), len(per["second"]), fake.Calls(wecomtest.PathGetGroupMsgList))
}

// restartAfterSIGKILL kills the platform with SIGKILL, waits for its
// orphaned engine child to exit and starts it again on the same data.
func (r *campaignRig) restartAfterSIGKILL() {
	r.t.Helper()
	orphan := r.p.child(r.t)
	r.p.stop(syscall.SIGKILL)
	until(r.t, time.Minute, "the orphaned engine child to exit", func() bool {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", orphan))
		return err != nil || strings.Contains(string(stat), ") Z ")
	})
	r.start()
}

// launchSlowWeComJourney launches, through the management API, a journey
// entering every customer: a WeCom message, a 60-second wait, a second
// one, exit; the fake answers each add_msg_template after 300 ms. It
// returns the journey's id.
func launchSlowWeComJourney(api func(method, path string, body, out any), fake *wecomtest.Server) string {
	var seg, offer, j struct {
		ID string `json:"id"`
	}
	api("POST", "/api/v1/segments", map[string]any{"name": "everyone", "rule": "bucket(100) >= 0"}, &seg)
	api("POST", "/api/v1/offers", map[string]any{"name": "低GI大米试用装", "skus": []string{"LGI-TRIAL"}, "link": "https://s.example/t"}, &offer)
	send := func(id, next, text string) map[string]any {
		return map[string]any{"id": id, "type": "send", "next": next, "send": map[string]any{"channel": "wecom", "offer_id": offer.ID,
			"template": "您好，我是{{staff}}：{{offer}} {{link}}（" + text + "）"}}
	}
	api("POST", "/api/v1/journeys", map[string]any{"name": "企微两步",
		"entry":    map[string]any{"type": "segment", "segment_id": seg.ID, "include_current": true, "next": "hello"},
		"settings": map[string]any{"goal_offer_id": offer.ID, "cap_per_week": 5},
		"nodes": []map[string]any{send("hello", "pause", "第一封"), {"id": "pause", "type": "wait", "next": "again", "wait": map[string]any{"duration": "60s"}},
			send("again", "out", "第二封"), {"id": "out", "type": "exit"}}}, &j)
	fake.Delay(wecomtest.PathAddMsgTemplate, 300*time.Millisecond)
	api("POST", "/api/v1/journeys/"+j.ID+"/launch", nil, nil)
	return j.ID
}
