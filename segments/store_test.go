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
