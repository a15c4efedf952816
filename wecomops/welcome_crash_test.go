package wecomops

import (
	"fmt"
	"testing"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom/wecomtest"
)

// A SIGKILL while welcome messages go out: every code's message reaches
// WeCom exactly once (counted at the fake), every journal entry ends sent
// or used, and each "used" is exactly one call repeated after the kill
// (at most one chunk of them). The child runs on the wall clock, as the
// fake's 20 s window does.
func TestWelcomeExactlyOnceAcrossSIGKILL(t *testing.T) {
	f := newFixture(t, Options{})
	f.fake.SetClock(time.Now)
	f.clock.mu.Lock()
	f.clock.now = time.Now()
	f.clock.mu.Unlock()
	_, err := f.svc.SetWelcome(f.ctx, Welcome{State: "batch-2611", Text: "欢迎！扫码领新人礼"}, "t")
	f.must(err)
	const n = 40
	var es []WelcomeEntry
	for i := range n {
		code, ext := fmt.Sprintf("wc%03d", i), fmt.Sprintf("wm%03d", i)
		ev := f.addEvent("staff1", ext, "batch-2611", code)
		es = append(es, WelcomeEntry{Code: code, State: ev.State, Staff: ev.UserID, External: ext, ReceivedAt: time.Now().UTC(), Status: WelcomePending})
	}
	f.must(f.svc.writeEntries(f.ctx, es))
	f.fake.Delay(wecomtest.PathSendWelcomeMsg, 20*time.Millisecond)

	child := f.startChild(childModeEnv + "=welcome")
	f.waitFor("a third of the welcome messages", func() bool { return f.fake.Calls(wecomtest.PathSendWelcomeMsg) >= n/3 })
	kill(t, child)
	killedAt := f.fake.Calls(wecomtest.PathSendWelcomeMsg)
	if killedAt >= n {
		t.Fatalf("the kill came after all %d calls", killedAt)
	}
	child = f.startChild(childModeEnv + "=welcome")
	f.waitFor("every entry settled", func() bool {
		open, err := f.svc.WelcomeJournal(f.ctx, true, 1000)
		return err == nil && len(open) == 0
	})
	kill(t, child)

	used := 0
	for code, e := range f.entries() {
		if got := len(f.fake.WelcomeSends(code)); got != 1 {
			t.Errorf("%s: %d welcome messages at WeCom (entry %+v)", code, got, e)
		}
		switch e.Status {
		case WelcomeSent:
		case WelcomeUsed:
			used++
		default:
			t.Errorf("%s ended %s (%s)", code, e.Status, e.Error)
		}
	}
	calls := f.fake.Calls(wecomtest.PathSendWelcomeMsg)
	t.Logf("%d codes: %d calls (killed after %d), %d recorded used", n, calls, killedAt, used)
	// One chunk of 10 at most was cut off (welcomeChunk, written here as a
	// number so that the test notices the constant growing).
	if calls != n+used || used > 10 {
		t.Fatalf("%d calls for %d codes with %d used: want one call per code plus one per used, at most 10 used", calls, n, used)
	}
}
