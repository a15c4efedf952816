package wecomops

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/ingest/wecom/wecomtest"
	"github.com/granarycdp/cdp/segments"
	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	storetest.Main(m)
}

const corpID, secret = "wwcorp", "secret"

// simClock is a simulated clock: Sleep moves the time on at once, so the
// rate limits' minutes and hours pass without waiting. Safe for
// concurrent use.
type simClock struct {
	mu  sync.Mutex
	now time.Time
}

func newSimClock() *simClock {
	return &simClock{now: time.Date(2026, 11, 3, 2, 0, 0, 0, time.UTC)}
}

func (c *simClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *simClock) Sleep(ctx context.Context, d time.Duration) error {
	if d > 0 {
		c.Advance(d)
	}
	return ctx.Err()
}

// Advance moves the time on by d.
func (c *simClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// fixture is a migrated database, a segment store, the fake WeCom with a
// corp tag library, and a Service on a simulated clock.
type fixture struct {
	t       *testing.T
	ctx     context.Context
	db      *store.DB
	fake    *wecomtest.Server
	segs    *segments.Store
	svc     *Service
	clock   *simClock
	seq     uint64 // spool_seq of the last contact event
	touched []uint32
	mu      sync.Mutex
}

func newFixture(t *testing.T, o Options) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: context.Background(), db: storetest.Migrated(t), clock: newSimClock()}
	f.fake = wecomtest.New(corpID, secret)
	t.Cleanup(f.fake.Close)
	f.fake.SetClock(f.clock.Now)
	segs, err := segments.NewStore(f.ctx, f.db, segments.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	f.segs = segs
	o.DB, o.Segments, o.Clock = f.db, segs, f.clock
	o.Client = f.client()
	o.Touched = func(p []uint32, _ []string) {
		f.mu.Lock()
		f.touched = append(f.touched, p...)
		f.mu.Unlock()
	}
	if o.Logger == nil {
		o.Logger = storetest.Logger()
	}
	f.svc, err = New(o)
	if err != nil {
		t.Fatal(err)
	}
	segs.OnChange = f.svc.SegmentChanged
	return f
}

func (f *fixture) client() *wecom.Client {
	f.t.Helper()
	c, err := wecom.NewClient(corpID, secret, wecom.ClientOptions{BaseURL: f.fake.URL, Now: f.clock.Now})
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// persons inserts unmerged persons ids.
func (f *fixture) persons(ids ...uint32) {
	rows := make([][]any, len(ids))
	for i, p := range ids {
		rows[i] = []any{p, p, p, uint64(1)}
	}
	storetest.Insert(f.t, f.db, "persons", "person_id, parent, canonical, version", rows...)
}

// contact makes staff and customer ext (of person) contacts at the fake
// and records the change the callback would have spooled.
func (f *fixture) contact(change, staff, ext string, person uint32) {
	if change == wecom.ChangeAddExternalContact {
		f.fake.AddContact(wecomtest.Contact{ExternalUserID: ext, FollowUser: staff, Name: "客户" + ext})
	}
	f.seq++
	now := f.clock.Now()
	storetest.Insert(f.t, f.db, "wecom_contact_events",
		"dedup_key, ts, change_type, corp_id, staff_userid, external_userid, state, name, unionid, person_id, received_at, spool_seq",
		[]any{fmt.Sprintf("k%d", f.seq), now, change, corpID, staff, ext, "", "", "", person, now, f.seq})
}

// personTags returns person's live tags with prefix TagPrefix.
func (f *fixture) personTags(person uint32) map[string]bool {
	f.t.Helper()
	rows, err := f.db.Conn.Query(f.ctx, "SELECT tag FROM "+f.db.Table("person_tags")+" FINAL WHERE person_id = ? AND deleted = 0 AND startsWith(tag, 'wecom:')", person)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var tag string
		if err := rows.Scan(&tag); err != nil {
			f.t.Fatal(err)
		}
		out[tag] = true
	}
	return out
}

func (f *fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}
