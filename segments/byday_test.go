package segments

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/RoaringBitmap/roaring/v2"

	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// byDayRules are existence leaves read by day from the events' projection
// schema.PersonsByDay, each with the independent SQL of its raw person
// ids: the rows of the event and topics whose ts is in the window.
var byDayRules = []struct {
	rule, event string
	topics      []string // none: any topic
	days        int      // 0: all time
}{
	{`did("video_complete", 30, {"topic": "控糖"}) >= 1`, "video_complete", []string{"控糖"}, 30},
	{`did("video_complete", 7, {"topic": ["控糖", "减脂"]}) == 0`, "video_complete", []string{"控糖", "减脂"}, 7},
	{`never("video_play", 90)`, "video_play", nil, 90},
	{`did("video_play") >= 1`, "video_play", nil, 0},
}

// TestExistenceLeavesReadByDayFollowUnmergeAndErasure checks that an
// existence leaf read from the projection (dayQuery) is the set of the
// raw rows' persons, exactly: with parts that lack the projection (as
// before migration 26's MATERIALIZE reached them) beside parts that have
// it, with the window's first day partial (an event just inside the
// window's start and one just outside it, on the same UTC day), and after
// the mutations of an unmerge (ALTER UPDATE person_id) and an erasure
// (ALTER DELETE), which the engine applies to the projection too. It also
// checks that the engine reads the projection (the query fails under
// force_optimize_projection_name otherwise).
func TestExistenceLeavesReadByDayFollowUnmergeAndErasure(t *testing.T) {
	db := storetest.Migrated(t)
	ctx := context.Background()
	topics := []string{"控糖", "减脂", "宝宝辅食", ""}
	batch := func(from, to uint32) [][]any {
		var rows [][]any
		for p := from; p < to; p++ {
			for i := range 1 + p%4 {
				days := float64((p*7+i*13)%1000) / 10 // 0 to 99.9 days ago
				person := p
				if p%29 == 0 {
					person = 0 // unresolved: never a member
				}
				name := []string{"video_complete", "video_play"}[(p+i)%2]
				rows = append(rows, event(person, name, days, fmt.Sprintf(`{"topic":%q}`, topics[(p/3+i)%4])))
			}
		}
		return rows
	}
	// The first parts lose the projection (as parts written before the
	// migration had none), the next keep theirs.
	storetest.Insert(t, db, "events", eventCols, batch(1, 3000)...)
	if err := db.EachNode(func(conn driver.Conn) error {
		return conn.Exec(ctx, "ALTER TABLE "+db.Local("events")+db.OnCluster()+" CLEAR PROJECTION "+schema.PersonsByDay+" SETTINGS mutations_sync = 2")
	}); err != nil {
		t.Fatal(err)
	}
	storetest.Insert(t, db, "events", eventCols, batch(3000, 6000)...)
	// The 30-day window starts at noon of its first day: 7001 is inside
	// it by two hours, 7002 outside it by two hours, on the same day.
	storetest.Insert(t, db, "events", eventCols,
		video(7001, "控糖", 30-2.0/24, 1, "v1"), video(7002, "控糖", 30+2.0/24, 1, "v1"))

	e := testEngine(db, nil)
	check := func(when string) map[string]uint64 {
		t.Helper()
		sizes := map[string]uint64{}
		for _, r := range byDayRules {
			c, _, err := e.checkSaved(r.rule) // the unbounded one too, as a rule saved before the bounds
			if err != nil {
				t.Fatal(err)
			}
			var leaf *sqlLeaf
			Walk(c.plan, func(n Node) {
				if l, ok := n.(*sqlLeaf); ok {
					leaf = l
				}
			})
			if leaf == nil || !strings.Contains(leaf.query, "toDate(ts) >") && r.days > 0 {
				t.Fatalf("%s: %s: not read by day:\n%v", when, r.rule, leaf)
			}
			got, err := e.computeLeaf(ctx, leaf, testNow)
			if err != nil {
				t.Fatal(err)
			}
			want := rawPersons(t, db, r.event, r.topics, r.days)
			if !got.Equals(want) {
				t.Errorf("%s: %s: leaf has %d persons, the rows %d; leaf only %v, rows only %v", when, r.rule,
					got.GetCardinality(), want.GetCardinality(), firstOf(roaring.AndNot(got, want)), firstOf(roaring.AndNot(want, got)))
			}
			if r.days == 30 && (!got.Contains(7001) || got.Contains(7002)) {
				t.Errorf("%s: %s: the window's first day: 7001 (inside) %v, 7002 (outside) %v", when, r.rule, got.Contains(7001), got.Contains(7002))
			}
			if got.Contains(0) {
				t.Errorf("%s: %s: person id 0 in the leaf", when, r.rule)
			}
			// On each node's own events (a cluster's shards each read
			// their part; the check would fail on a shard's read of the
			// first day alone), with the engine's settings and the check
			// (queryBitmap would set its own settings in place of it).
			forced := clickhouse.Settings{"force_optimize_projection_name": schema.PersonsByDay}
			for k, v := range readSettings {
				forced[k] = v
			}
			local := strings.ReplaceAll(leaf.query, db.Table("events"), db.Local("events"))
			if err := db.EachNode(func(conn driver.Conn) error {
				var state []byte
				return conn.QueryRow(clickhouse.Context(ctx, clickhouse.WithSettings(forced)), local, leaf.args(testNow.UnixMilli(), nil)...).Scan(&state)
			}); err != nil {
				t.Errorf("%s: %s: the projection is not read: %v", when, r.rule, err)
			}
			sizes[r.rule] = got.GetCardinality()
		}
		return sizes
	}
	before := check("mixed parts")

	// Unmerge (re-attribution) and erasure, as identity runs them.
	storetest.Mutate(t, db, "events", "UPDATE person_id = person_id + 100000 WHERE person_id % 7 = 0")
	storetest.Mutate(t, db, "events", "DELETE WHERE person_id % 11 = 0")
	after := check("after the mutations")
	for _, r := range byDayRules[:1] {
		if before[r.rule] == after[r.rule] {
			t.Errorf("%s: %d persons before and after the erasure: the test data does not exercise it", r.rule, after[r.rule])
		}
	}
}

// rawPersons is the set of person ids of the events of event with one of
// topics (any when none) in the window of days days (0: all time).
func rawPersons(t *testing.T, db *store.DB, event string, topics []string, days int) *roaring.Bitmap {
	t.Helper()
	q := "SELECT groupUniqArray(person_id) FROM " + db.Table("events") + " WHERE person_id != 0 AND event = {event:String}"
	args := []any{clickhouse.Named("event", event)}
	if len(topics) > 0 {
		q += " AND topic IN {topics:Array(String)}"
		args = append(args, clickhouse.Named("topics", topics))
	}
	if days > 0 {
		q += " AND ts >= {since:DateTime64(3, 'UTC')}"
		args = append(args, clickhouse.Named("since", testNow.AddDate(0, 0, -days)))
	}
	var ids []uint32
	if err := db.Conn.QueryRow(context.Background(), q+" SETTINGS optimize_use_projections = 0", args...).Scan(&ids); err != nil {
		t.Fatal(err)
	}
	return roaring.BitmapOf(ids...)
}

func firstOf(b *roaring.Bitmap) []uint32 {
	a := b.ToArray()
	return a[:min(len(a), 10)]
}
