package segments

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/granarycdp/cdp/store/storetest"
)

// TestWindowExpiryProducesExit: person 13 searched for 低GI大米 3 days
// before testNow. As the clock moves past the 7-day window, with no new
// record at all, the live segment reports the exit.
func TestWindowExpiryProducesExit(t *testing.T) {
	db := population(t)
	var mu sync.Mutex
	clock := testNow
	opts := DefaultOptions()
	opts.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	opts.LeafMaxAge = time.Nanosecond // every evaluation recomputes leaves
	s, err := NewStore(context.Background(), db, opts)
	if err != nil {
		t.Fatal(err)
	}
	s.ExpiryEvery = 5 * time.Millisecond
	changes := make(chan Change, 8)
	s.OnChange = func(c Change) { changes <- c }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seg, err := s.Save(ctx, Definition{Name: "searched low-GI rice this week", Rule: `did("search", 7, {"keyword": "低GI大米"}) >= 1`, Live: true}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if c := <-changes; len(c.Entered) != 1 || c.Entered[0] != 13 || seg.Size != 1 {
		t.Fatalf("creation: %+v size %d", c, seg.Size)
	}
	go s.RunLive(ctx)
	mu.Lock()
	clock = testNow.Add(5 * 24 * time.Hour) // the search is now 8 days old
	mu.Unlock()
	select {
	case c := <-changes:
		if c.Segment != seg.ID || len(c.Exited) != 1 || c.Exited[0] != 13 || len(c.Entered) != 0 {
			t.Fatalf("expiry change %+v", c)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit when the window passed")
	}
	// BI sees both changes and the (now empty) current membership.
	var enters, exits, current uint64
	err = db.Conn.QueryRow(ctx, "SELECT countIf(change = 'enter'), countIf(change = 'exit') FROM "+db.Table("segment_changes")+" WHERE segment_id = ? AND person_id = 13", seg.ID).Scan(&enters, &exits)
	if err != nil || enters != 1 || exits != 1 {
		t.Fatalf("segment_changes: %d enters, %d exits (%v)", enters, exits, err)
	}
	if err := db.Conn.QueryRow(ctx, "SELECT count() FROM "+db.Table("segment_members_current")+" WHERE segment_id = ?", seg.ID).Scan(&current); err != nil || current != 0 {
		t.Fatalf("segment_members_current: %d (%v)", current, err)
	}
}

// TestTouchedPersonsEnterWithinTheLiveLoop: a record for a person is
// followed by that person's entry, through Touched and RunLive only.
func TestTouchedPersonsEnterWithinTheLiveLoop(t *testing.T) {
	db := population(t)
	opts := DefaultOptions()
	opts.Now = func() time.Time { return testNow }
	s, err := NewStore(context.Background(), db, opts)
	if err != nil {
		t.Fatal(err)
	}
	changes := make(chan Change, 8)
	s.OnChange = func(c Change) { changes <- c }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := s.Save(ctx, Definition{Name: "liked", Rule: `did("like", 30) >= 1`, Live: true}, "test"); err != nil {
		t.Fatal(err)
	}
	go s.RunLive(ctx)
	storetest.Insert(t, db, "events", eventCols, event(3, "like", 1, `{}`))
	start := time.Now()
	s.Touched([]uint32{3}, []string{KindEvents})
	select {
	case c := <-changes:
		if len(c.Entered) != 1 || c.Entered[0] != 3 {
			t.Fatalf("change %+v", c)
		}
		t.Logf("entry %s after the touch", time.Since(start))
	case <-time.After(30 * time.Second):
		t.Fatal("no entry")
	}
}

// TestMembershipWrittenAfterForgetLeavesTheErasedOut: a live round that
// evaluated a segment before a person's erasure writes its result after
// Forget (its records were read before the erasure deleted them). The
// person must not come back: not in memory, not in the snapshot written,
// not as an enter or exit in the change log written after Forget.
func TestMembershipWrittenAfterForgetLeavesTheErasedOut(t *testing.T) {
	db := population(t)
	ctx := context.Background()
	var mu sync.Mutex
	clock := testNow
	tick := func() { mu.Lock(); clock = clock.Add(time.Second); mu.Unlock() } // each write its own computed_at
	opts := DefaultOptions()
	opts.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	s, err := NewStore(ctx, db, opts)
	if err != nil {
		t.Fatal(err)
	}
	seg, err := s.Save(ctx, Definition{Name: "searched low-GI rice", Rule: `did("search", 7, {"keyword": "低GI大米"}) >= 1`}, "test")
	if err != nil {
		t.Fatal(err)
	}
	before, err := s.Members(seg.ID)
	if err != nil || !before.Contains(13) {
		t.Fatalf("person 13 is not a member before the erasure: %v (%v)", before, err)
	}
	stale := before.Clone() // the live round's result, computed before the erasure
	tick()
	if err := s.Forget(ctx, []uint32{13}); err != nil {
		t.Fatal(err)
	}
	var logged uint64
	count := func() uint64 {
		var n uint64
		if err := db.Conn.QueryRow(ctx, "SELECT count() FROM "+db.Table("segment_changes")+" WHERE person_id = 13").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	logged = count()
	tick()
	if _, err := s.setMembers(ctx, seg.ID, stale); err != nil {
		t.Fatal(err)
	}
	if now, _ := s.Members(seg.ID); now.Contains(13) {
		t.Error("the stale write put the erased person back in memory")
	}
	var inSnapshot uint8
	err = db.Conn.QueryRow(ctx, "SELECT bitmapContains(groupBitmapMergeState(members), toUInt32(13)) FROM "+db.Table("segment_members")+
		" WHERE segment_id = ? AND computed_at = (SELECT max(computed_at) FROM "+db.Table("segment_members")+" WHERE segment_id = ?)", seg.ID, seg.ID).Scan(&inSnapshot)
	if err != nil {
		t.Fatal(err)
	}
	if inSnapshot != 0 {
		t.Error("the latest membership snapshot holds the erased person")
	}
	if n := count(); n != logged {
		t.Errorf("the stale write logged %d changes of the erased person", n-logged)
	}
}

// TestLiveRoundsWaitLiveEvery: with LiveEvery set, records touched after
// a round wait until LiveEvery after its start and then enter together,
// in one round (one Change), instead of a round each.
func TestLiveRoundsWaitLiveEvery(t *testing.T) {
	db := population(t)
	opts := DefaultOptions()
	opts.Now = func() time.Time { return testNow }
	s, err := NewStore(context.Background(), db, opts)
	if err != nil {
		t.Fatal(err)
	}
	s.LiveEvery = time.Hour
	asked, fire := make(chan time.Duration, 1), make(chan time.Time)
	s.after = func(d time.Duration) <-chan time.Time { asked <- d; return fire }
	changes := make(chan Change, 8)
	s.OnChange = func(c Change) { changes <- c }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := s.Save(ctx, Definition{Name: "liked", Rule: `did("like", 30) >= 1`, Live: true}, "test"); err != nil {
		t.Fatal(err)
	}
	go s.RunLive(ctx)
	next := func(what string) Change {
		select {
		case c := <-changes:
			return c
		case <-time.After(30 * time.Second):
			t.Fatalf("no change: %s", what)
		}
		return Change{}
	}
	storetest.Insert(t, db, "events", eventCols, event(3, "like", 1, `{}`))
	s.Touched([]uint32{3}, []string{KindEvents}) // the first round starts at once
	if c := next("first round"); len(c.Entered) != 1 || c.Entered[0] != 3 {
		t.Fatalf("first round: %+v", c)
	}
	storetest.Insert(t, db, "events", eventCols, event(4, "like", 1, `{}`), event(5, "like", 1, `{}`))
	s.Touched([]uint32{4}, []string{KindEvents})
	select {
	case d := <-asked:
		if d <= 0 || d > time.Hour {
			t.Fatalf("waits %s", d)
		}
	case c := <-changes:
		t.Fatalf("a round started within LiveEvery of the last: %+v", c)
	case <-time.After(30 * time.Second):
		t.Fatal("the round after the first did not wait")
	}
	s.Touched([]uint32{5}, []string{KindEvents}) // arrives while the round waits
	select {
	case c := <-changes:
		t.Fatalf("a change before the wait ended: %+v", c)
	default:
	}
	fire <- testNow
	if c := next("round after the wait"); len(c.Entered) != 2 || c.Entered[0] != 4 || c.Entered[1] != 5 {
		t.Fatalf("round after the wait: %+v (want 4 and 5 together)", c)
	}
}
