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
// ids: the rows of the event with one of values in column (topic or
// keyword) whose ts is in the window.
var byDayRules = []struct {
	rule, event string
	column      string   // topic or keyword
	values      []string // none: any
	days        int      // 0: all time
	inside      uint32   // a person whose only row is just inside the window's start (30 days)
}{
	{`did("video_complete", 30, {"topic": "控糖"}) >= 1`, "video_complete", "topic", []string{"控糖"}, 30, 7001},
	{`did("video_complete", 7, {"topic": ["控糖", "减脂"]}) == 0`, "video_complete", "topic", []string{"控糖", "减脂"}, 7, 0},
	{`never("video_play", 90)`, "video_play", "", nil, 90, 0},
	{`did("video_play") >= 1`, "video_play", "", nil, 0, 0},
	{`did("search", 30, {"keyword": "低GI大米"}) >= 1`, "search", "keyword", []string{"低GI大米"}, 30, 7003},
	{`did("search", 7, {"keyword": ["五常大米", "控糖食谱"]}) == 0`, "search", "keyword", []string{"五常大米", "控糖食谱"}, 7, 0},
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
	keywords := []string{"低GI大米", "五常大米", "控糖食谱", ""}
	batch := func(from, to uint32) [][]any {
		var rows [][]any
		for p := from; p < to; p++ {
			for i := range 1 + p%4 {
				days := float64((p*7+i*13)%1000) / 10 // 0 to 99.9 days ago
				person := p
				if p%29 == 0 {
					person = 0 // unresolved: never a member
				}
				props := fmt.Sprintf(`{"topic":%q}`, topics[(p/3+i)%4])
				name := []string{"video_complete", "video_play", "search"}[(p+i)%3]
				if name == "search" {
					props = fmt.Sprintf(`{"keyword":%q}`, keywords[(p/3+i)%4])
				}
				rows = append(rows, event(person, name, days, props))
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
	// The 30-day window starts at noon of its first day: 7001 and 7003
	// are inside it by two hours, 7002 and 7004 outside it by two hours,
	// on the same day.
	search := func(person uint32, days float64) []any {
		return event(person, "search", days, `{"keyword":"低GI大米"}`)
	}
	storetest.Insert(t, db, "events", eventCols,
		video(7001, "控糖", 30-2.0/24, 1, "v1"), video(7002, "控糖", 30+2.0/24, 1, "v1"),
		search(7003, 30-2.0/24), search(7004, 30+2.0/24))

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
			got, _, err := e.computeLeaf(ctx, leaf, testNow)
			if err != nil {
				t.Fatal(err)
			}
			want := rawPersons(t, db, r.event, r.column, r.values, r.days)
			if !got.Equals(want) {
				t.Errorf("%s: %s: leaf has %d persons, the rows %d; leaf only %v, rows only %v", when, r.rule,
					got.GetCardinality(), want.GetCardinality(), firstOf(roaring.AndNot(got, want)), firstOf(roaring.AndNot(want, got)))
			}
			if r.inside != 0 && (!got.Contains(r.inside) || got.Contains(r.inside+1)) {
				t.Errorf("%s: %s: the window's first day: %d (inside) %v, %d (outside) %v", when, r.rule,
					r.inside, got.Contains(r.inside), r.inside+1, got.Contains(r.inside+1))
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
	for _, r := range []int{0, 4} {
		r := byDayRules[r]
		if before[r.rule] == after[r.rule] {
			t.Errorf("%s: %d persons before and after the erasure: the test data does not exercise it", r.rule, after[r.rule])
		}
	}
}

// rawPersons is the set of person ids of the events of event with one of
// values in column (any when none) in the window of days days (0: all
// time).
func rawPersons(t *testing.T, db *store.DB, event, column string, values []string, days int) *roaring.Bitmap {
	t.Helper()
	q := "SELECT groupUniqArray(person_id) FROM " + db.Table("events") + " WHERE person_id != 0 AND event = {event:String}"
	args := []any{clickhouse.Named("event", event)}
	if len(values) > 0 {
		q += " AND " + column + " IN {values:Array(String)}"
		args = append(args, clickhouse.Named("values", values))
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
