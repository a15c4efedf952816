package journeys

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/granarycdp/cdp/campaigns"
	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/ingest/wecom/wecomtest"
)

func extID(p uint32) string { return fmt.Sprintf("wmEXT%06d", p) }

// withWeCom makes persons 1..n WeCom contacts of staff members s0..s4, in
// the platform's records and in a fake WeCom the campaigns send to.
func (f *fixture) withWeCom(n int) *wecomtest.Server {
	f.t.Helper()
	fake := wecomtest.New("wwcorp", "secret")
	f.t.Cleanup(fake.Close)
	fake.SetClock(f.clock.Now)
	var rows [][]any
	for p := uint32(1); p <= uint32(n); p++ {
		staff := fmt.Sprintf("s%d", p%5)
		rows = append(rows, []any{fmt.Sprint("k", p), start.Add(-72 * time.Hour), "add_external_contact", "wwcorp", staff, extID(p), "", "", "", p})
		fake.AddContact(wecomtest.Contact{ExternalUserID: extID(p), FollowUser: staff})
	}
	f.insert("wecom_contact_events", "dedup_key, ts, change_type, corp_id, staff_userid, external_userid, state, name, unionid, person_id", rows)
	client, err := wecom.NewClient("wwcorp", "secret", wecom.ClientOptions{BaseURL: fake.URL, HTTPClient: &http.Client{Timeout: 10 * time.Second}})
	if err != nil {
		f.t.Fatal(err)
	}
	f.camps.Channels = &campaigns.Channels{WeCom: client, Wait: func(int, error) time.Duration { return 10 * time.Millisecond }}
	return fake
}

// perCustomer counts each customer's messages at the fake WeCom.
func perCustomer(fake *wecomtest.Server) map[string]int {
	out := map[string]int{}
	for _, t := range fake.Tasks() {
		for _, id := range t.ExternalUserIDs {
			out[id]++
		}
	}
	return out
}

var errCrash = errors.New("crash")

// TestCrashAtEveryStepSendsEachStepOnce crashes the executor once at each
// of its steps (after a send step's plan, after a batch's steps are
// recorded, after its runs are) and starts a new one on the same data, as
// a restart would: every customer gets each WeCom message exactly once,
// counted at the fake WeCom, and every run ends.
func TestCrashAtEveryStepSendsEachStepOnce(t *testing.T) {
	for _, at := range []string{"planned", "steps", "runs"} {
		t.Run(at, func(t *testing.T) {
			f := newFixture(t, 40)
			fake := f.withWeCom(40)
			send := func(id, next string) Node {
				n := f.send(id, next)
				n.Send.Channel, n.Send.Template = campaigns.ChannelWeCom, "您好，我是{{staff}}：{{offer}}"
				return n
			}
			j := f.launch(f.segmentJourney(send("hello", "pause"), Node{ID: "pause", Type: NodeWait, Next: "again", Wait: &Wait{Duration: "1d"}},
				send("again", "out"), exit("out")))
			crashes := 0
			crashOnce := func(step string) error {
				if step == at && crashes < 2 {
					crashes++
					return errCrash
				}
				return nil
			}
			f.svc.crashAfter = crashOnce
			if err := f.svc.Round(f.ctx); !errors.Is(err, errCrash) {
				t.Fatalf("round: %v, want the crash", err)
			}
			f.svc = f.service() // a restart: memory rebuilt from ClickHouse
			f.round()
			f.clock.Advance(25 * time.Hour)
			f.svc.crashAfter = crashOnce
			if err := f.svc.Round(f.ctx); !errors.Is(err, errCrash) {
				t.Fatalf("second round: %v, want the crash", err)
			}
			f.svc = f.service()
			f.round()
			per := perCustomer(fake)
			for p := uint32(1); p <= 40; p++ {
				if per[extID(p)] != 2 {
					t.Fatalf("customer %d got %d messages, want 2 (one per send step)", p, per[extID(p)])
				}
			}
			if done := f.runs(j, stateDone, "out"); done != 40 {
				t.Fatalf("%d runs ended, want 40", done)
			}
		})
	}
}
