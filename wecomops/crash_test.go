package wecomops

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/ingest/wecom/wecomtest"
	"github.com/granarycdp/cdp/segments"
	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// The crash test runs the tag sync in a child process (this test binary
// again) that it SIGKILLs mid-sync.
const (
	childEnv = "WECOMOPS_CHILD"
	dsnEnv   = "WECOMOPS_DSN"
	fakeEnv  = "WECOMOPS_FAKE"
	// childModeEnv "welcome" makes the child run RunWelcome instead.
	childModeEnv = "WECOMOPS_CHILD_MODE"
)

// childBatch is the child's journal batch: after a SIGKILL at most this
// many calls are made again.
const childBatch = 40

// runChild is the child: Run on the database and fake the parent names,
// until it is killed.
func runChild() int {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx := context.Background()
	db, err := store.Open(os.Getenv(dsnEnv), logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	segs, err := segments.NewStore(ctx, db, segments.DefaultOptions())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	client, err := wecom.NewClient(corpID, secret, wecom.ClientOptions{BaseURL: os.Getenv(fakeEnv)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	svc, err := New(Options{DB: db, Client: client, Segments: segs, Logger: logger, Workers: 4, Batch: childBatch, ReadEvery: time.Hour})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if os.Getenv(childModeEnv) == "welcome" {
		svc.RunWelcome(ctx)
		return 0
	}
	svc.Run(ctx)
	return 0
}

// startChild starts the sync in a child process, with env added to its
// environment.
func (f *fixture) startChild(env ...string) *exec.Cmd {
	f.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", dsnEnv+"="+storetest.DSN(f.t, f.db.Database), fakeEnv+"="+f.fake.URL)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

func kill(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
}

// waitFor polls cond until it holds, failing after a minute.
func (f *fixture) waitFor(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			f.t.Fatalf("timed out waiting for %s (tagged pairs: %d, pending intents: %d)", what, f.fake.TaggedPairs("ettag1"), f.pendingIntents())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pendingIntents counts pairs whose latest mark is an intent.
func (f *fixture) pendingIntents() int {
	return storetest.Count(f.t, f.db, "SELECT count() FROM (SELECT argMax(state, ts) AS s FROM "+f.db.Table("wecom_tag_marks")+
		" GROUP BY tag_id, external_userid, staff_userid) WHERE s IN ('adding', 'removing')")
}

// A SIGKILL in the middle of a tag sync loses nothing and repeats at most
// one journal batch of calls; after members leave, only the tags the
// record says the platform added are removed: a staff member's own tag on
// a leaving member's pair stays.
func TestTagSyncIsIdempotentAcrossSIGKILL(t *testing.T) {
	f := newFixture(t, Options{})
	f.fake.SetClock(time.Now)
	tag := f.fake.AddCorpTag("复购", "米复购28天")
	const n = 300
	var ids []uint32
	var vip [][]any
	for p := uint32(1); p <= n; p++ {
		ids = append(ids, p)
		if p <= 200 {
			vip = append(vip, []any{p, "vip", "manual", uint8(0), uint8(0), f.clock.Now()})
		}
	}
	f.persons(ids...)
	pairs := 0 // pairs of persons 1..200
	for p := uint32(1); p <= n; p++ {
		ext := fmt.Sprintf("wm%03d", p)
		f.contact(wecom.ChangeAddExternalContact, fmt.Sprintf("staff%d", p%5), ext, p)
		if p%4 == 0 {
			f.contact(wecom.ChangeAddExternalContact, "manager", ext, p)
		}
		if p <= 200 {
			pairs += 1 + boolInt(p%4 == 0)
		}
	}
	storetest.Insert(t, f.db, "person_tags", "person_id, tag, source, sensitive, deleted, ts", vip...)
	f.fake.TagByHand("staff0", "wm050", tag, true) // person 50, who will leave
	_, err := f.svc.RefreshLibrary(f.ctx)
	f.must(err)
	_, err = f.svc.ReadCustomerTags(f.ctx, 1000)
	f.must(err)
	seg, err := f.segs.Save(f.ctx, segments.Definition{Name: "vip", Rule: `tag("vip")`}, "test")
	f.must(err)
	_, err = f.svc.CreateSync(f.ctx, seg.ID, tag, "test")
	f.must(err)

	f.fake.Delay(wecomtest.PathMarkTag, 3*time.Millisecond)
	child := f.startChild()
	f.waitFor("a third of the calls", func() bool { return f.fake.Calls(wecomtest.PathMarkTag) >= pairs/3 })
	kill(t, child)
	killedAt := f.fake.Calls(wecomtest.PathMarkTag)
	if killedAt >= pairs {
		t.Fatalf("the kill came after all %d calls", killedAt)
	}
	child = f.startChild()
	f.waitFor("every member's pair tagged", func() bool {
		return f.fake.TaggedPairs(tag) == pairs && f.pendingIntents() == 0
	})
	kill(t, child)
	calls := f.fake.Calls(wecomtest.PathMarkTag)
	t.Logf("%d pairs: %d calls (killed after %d)", pairs, calls, killedAt)
	if calls < pairs-1 || calls > pairs-1+childBatch {
		t.Fatalf("%d mark_tag calls for %d pairs (one of them tagged by hand): want at most one batch (%d) repeated", calls, pairs, childBatch)
	}

	// Persons 1..100 leave.
	var gone [][]any
	for p := uint32(1); p <= 100; p++ {
		gone = append(gone, []any{p, "vip", "manual", uint8(0), uint8(1), f.clock.Now().Add(time.Second)})
	}
	storetest.Insert(t, f.db, "person_tags", "person_id, tag, source, sensitive, deleted, ts", gone...)
	f.must(f.segs.Engine().Refresh(f.ctx, ids[:100], segments.KindTags))
	_, err = f.segs.Recompute(f.ctx, seg.ID)
	f.must(err)
	if m, _ := f.segs.Members(seg.ID); m.GetCardinality() != 100 {
		t.Fatalf("%d members after persons 1..100 left, want 100", m.GetCardinality())
	}
	left := 0
	for p := 101; p <= 200; p++ {
		left += 1 + boolInt(p%4 == 0)
	}
	child = f.startChild()
	f.waitFor("the leavers' tags removed", func() bool {
		return f.fake.TaggedPairs(tag) == left+1 && f.pendingIntents() == 0
	})
	kill(t, child)
	if got := f.fake.PairTags("staff0", "wm050"); len(got) != 1 || got[0] != tag {
		t.Fatalf("the hand-set tag of staff0/wm050 = %v: the sync removed a staff member's own tag", got)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
