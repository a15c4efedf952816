package segments

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/RoaringBitmap/roaring/v2"

	"github.com/granarycdp/cdp/store/storetest"
)

// The population (fixture_test.go), relative to testNow:
//
//	1  上海  orders 200 (100 d, 低GI大米) + 150 (45 d); 控糖 videos ×2 (5, 6 d, v1); tag 控糖
//	2  北京  order 500 (10 d, douyin_shop); a video (12 d); chat "血糖" (5 d)
//	3  广州  order 400 (20 d, 低GI大米); chat "血糖" 40 d ago
//	4  成都  order 800 (35 d, pos); 控糖 videos ×3 (1-3 d, completion 0.5, 0.5, 0.95)
//	5  上海  order 250 (50 d); 控糖 videos ×2 (10, 20 d, v3); tag 控糖 deleted
//	6  深圳  order 600 (5 d); 控糖 videos 7 d and 40 d; staff's "血糖" and a recalled one
//	7  上海  order 320 (15 d); order 200 (12 d, 低GI大米) refunded; 减脂 videos ×2
//	10 上海  order 200 (80 d); 控糖 video 8 d; 11 (merged into 10): order 150 (3 d), 控糖 video 9 d, tag 控糖
//	12 杭州  cancelled order (5 d); 控糖 videos ×5 (1-5 d); video_play 10 d; tag 控糖
//	13 北京  orders 500 (200 d, pos, 低GI大米) + 500 (70 d, douyin_shop); searches 低GI大米 (3 d), 五常大米 (20 d); tag 高端用户
//	14 北京  order 350 (61 d, 低GI大米)
//	15       video_play 100 d
//	16       nothing
//
// plus two events with person_id 0 that belong to nobody.

const flagship = `(did("video_complete", 30, {"topic": "控糖"}) >= 2
  || chat("血糖", 30)
  || lapsed("低GI大米", 60))
&& city_tier == 1
&& ltv > 300`

// TestEachOperatorSelectsExactlyItsMembers checks evaluation, including
// of clauses Check refuses as unbounded (never("video_play"), chat("血糖"),
// ltv >= 2 * aov alone): rules saved before the bounds existed still run
// (checkSaved), so their leaves must stay right.
// TestUnboundedRulesAreRefusedWithABoundedRewrite covers the refusal.
func TestEachOperatorSelectsExactlyItsMembers(t *testing.T) {
	db := population(t)
	e := testEngine(db, fixedSegments{"vip": {2, 13, 11, 999}})
	ctx := context.Background()
	for _, tc := range []struct {
		rule string
		want []uint32
	}{
		// traits: categorical
		{`city == "上海"`, []uint32{1, 5, 7, 10}},
		{`"上海" == city`, []uint32{1, 5, 7, 10}},
		{`city in ["北京", "上海"]`, []uint32{1, 2, 5, 7, 10, 13, 14}},
		{`city != "上海"`, []uint32{2, 3, 4, 6, 12, 13, 14}},
		{`city not in ["上海", "北京"]`, []uint32{3, 4, 6, 12}},
		{`!(city == "上海")`, except(1, 5, 7, 10)},
		{`not (city in ["上海", "北京"])`, except(1, 5, 7, 10, 2, 13, 14)},
		{`province == "广东"`, []uint32{3, 6}},
		{`city startsWith "广"`, []uint32{3}},
		{`city_tier == 1`, []uint32{1, 2, 3, 5, 6, 7, 10, 13, 14}},
		{`city_tier <= 2`, []uint32{1, 2, 3, 4, 5, 6, 7, 10, 12, 13, 14}},
		{`city_tier in [2, 3]`, []uint32{4, 12}},
		// traits: numeric (bit-sliced index)
		{`ltv > 300`, []uint32{1, 2, 3, 4, 6, 7, 10, 13, 14}},
		{`300 < ltv`, []uint32{1, 2, 3, 4, 6, 7, 10, 13, 14}},
		{`ltv >= 100 && ltv < 350`, []uint32{5, 7}},
		{`ltv < 1`, []uint32{12, 15, 16}},
		{`ltv == 350`, []uint32{1, 10, 14}},
		{`ltv == 350.5`, nil},
		{`ltv in 300..400`, []uint32{1, 3, 7, 10, 14}},
		{`ltv != 350`, except(1, 10, 14)},
		{`orders_total >= 2`, []uint32{1, 10, 13}},
		{`orders_total == 0`, []uint32{12, 15, 16}},
		{`aov >= 500`, []uint32{2, 4, 6, 13}},
		{`aov < 200`, []uint32{1, 10}},
		{`days_since_last_order <= 15`, []uint32{2, 6, 7, 10}},
		{`days_since_last_order > 60`, []uint32{13, 14}},
		{`days_since_last_order == 15`, []uint32{7}},
		// traits: per-candidate (expr VM)
		{`ltv >= 2 * aov`, []uint32{1, 10, 13}},
		{`ltv / orders_total > 400`, []uint32{2, 4, 6, 13}},
		// tags
		{`tag("控糖")`, []uint32{1, 10, 12}},
		{`tag("高端用户")`, []uint32{13}},
		{`!tag("控糖")`, except(1, 10, 12)},
		// behaviour counts with filters
		{`did("video_complete", 30, {"topic": "控糖"}) >= 2`, []uint32{1, 4, 5, 10, 12}},
		{`did("video_complete", 30, {topic: "控糖"}) >= 2`, []uint32{1, 4, 5, 10, 12}},
		{`did("video_complete", 30) >= 2`, []uint32{1, 4, 5, 7, 10, 12}},
		{`did("video_complete", 30, {"topic": "控糖"}) < 2`, except(1, 4, 5, 10, 12)},
		{`did("video_complete", 30, {"topic": "控糖"}) == 1`, []uint32{6}},
		{`did("video_complete", 30, {"topic": "控糖"}) in 3..4`, []uint32{4}},
		{`did("video_complete", 30, {"topic": "控糖"}) != 0`, []uint32{1, 4, 5, 6, 10, 12}},
		{`did("video_complete", 30, {"completion": 0.9}) >= 2`, []uint32{1, 5, 7, 10, 12}},
		{`did("video_complete", 30, {"video_id": "v1"}) >= 1`, []uint32{1}},
		{`did("video_complete", 30, {"video_id": ["v1", "v3"]}) >= 1`, []uint32{1, 5}},
		{`did("search", 7, {"keyword": "低GI大米"}) >= 1`, []uint32{13}},
		{`did("search", 30) >= 2`, []uint32{13}},
		{`did("order", 90) >= 2`, []uint32{10}},
		{`did("order", 365, {"channel": "douyin_shop"}) >= 1`, []uint32{2, 13}},
		// never
		{`never("video_play", 90)`, except(12)},
		{`never("video_play")`, except(12, 15)},
		// first and last time
		{`days_since_first("video_play") > 30`, []uint32{15}},
		{`days_since_first("video_complete") >= 20`, []uint32{5, 6}},
		{`days_since_last("order") <= 15`, []uint32{2, 6, 7, 10}},
		{`days_since_last("order") != 15`, []uint32{1, 2, 3, 4, 5, 6, 10, 13, 14}},
		{`days_since_last("video_complete") in 3..7`, []uint32{1, 6}},
		{`days_since_last("video_complete") <= 7`, []uint32{1, 4, 6, 7, 12}},
		{`days_since_last("video_play") < 11`, []uint32{12}},
		{`days_since_last("video_play") <= 99`, []uint32{12}},
		{`days_since_last("video_play") <= 100`, []uint32{12, 15}},
		// purchases
		{`bought("低GI大米", 365) >= 1`, []uint32{1, 3, 13, 14}},
		{`bought("LGI-5KG") >= 1`, []uint32{1, 3, 13, 14}},
		{`bought("低GI大米", 60) == 0`, except(3)},
		{`lapsed("低GI大米", 60)`, []uint32{1, 13, 14}},
		{`bought("低GI大米") >= 1 && !(bought("低GI大米", 60) >= 1)`, []uint32{1, 13, 14}},
		{`orders(90) >= 2`, []uint32{10}},
		{`orders() >= 2`, []uint32{1, 10, 13}},
		{`spend(365) > 300`, []uint32{1, 2, 3, 4, 6, 7, 10, 13, 14}},
		{`spend(60) >= 300`, []uint32{2, 3, 4, 6, 7}},
		{`spend(60) < 200`, except(2, 3, 4, 5, 6, 7)},
		// chats
		{`chat("血糖", 30)`, []uint32{2}},
		{`chat("血糖")`, []uint32{2, 3}},
		// sequences
		{`did_then("video_complete", "order", 7, 30)`, []uint32{2, 6, 10}},
		{`did_then("video_complete", "order", 1, 30)`, nil},
		{`did_then("search", "video_complete", 30)`, nil},
		// other segments, buckets, constants
		{`in_segment("vip")`, []uint32{2, 13}},
		{`in_segment("vip") && !tag("高端用户")`, []uint32{2}},
		{`true`, universe},
		{`false || 1 > 2`, nil},
		// combinations
		{`(tag("控糖") || chat("血糖", 30)) && !(city == "杭州")`, []uint32{1, 2, 10}},
		{flagship, []uint32{1, 2, 10, 13, 14}},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			c, _, err := e.checkSaved(tc.rule)
			if err != nil {
				t.Fatal(err)
			}
			bm, err := e.Evaluate(ctx, c)
			if err != nil {
				t.Fatalf("%v\nplan: %s", err, c)
			}
			if got := bm.ToArray(); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Errorf("got %v, want %v\nplan: %s", got, tc.want, c)
			}
		})
	}
}

func TestBucketIsADeterministicSplitOfEveryone(t *testing.T) {
	db := population(t)
	e := testEngine(db, nil)
	ctx := context.Background()
	parts := map[string]*roaring.Bitmap{}
	for _, rule := range []string{`bucket(4) < 2`, `bucket(4) >= 2`, `bucket(4, "spring") == 0`} {
		c, err := e.Check(rule)
		if err != nil {
			t.Fatal(err)
		}
		if parts[rule], err = e.Evaluate(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	var want []uint32
	for _, p := range universe {
		if Bucket(p, 4, "") < 2 {
			want = append(want, p)
		}
	}
	if got := parts[`bucket(4) < 2`].ToArray(); !slices.Equal(got, want) {
		t.Errorf("bucket(4) < 2 = %v, want %v", got, want)
	}
	if u := roaring.Or(parts[`bucket(4) < 2`], parts[`bucket(4) >= 2`]); u.GetCardinality() != uint64(len(universe)) ||
		parts[`bucket(4) < 2`].Intersects(parts[`bucket(4) >= 2`]) {
		t.Errorf("the two halves are not a partition")
	}
	// Over many ids, a bucket holds its share.
	n := 0
	for id := uint32(0); id < 100000; id++ {
		if Bucket(id, 100, "") < 10 {
			n++
		}
	}
	if n < 9500 || n > 10500 {
		t.Errorf("bucket(100) < 10 holds %d of 100000 ids, want about 10000", n)
	}
}

func TestFlagshipMatchesHandWrittenSQL(t *testing.T) {
	db := population(t)
	e := testEngine(db, nil)
	ctx := context.Background()
	est, err := e.Estimate(ctx, flagship, 3)
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	if err := db.Conn.QueryRow(ctx, flagshipSQL(db.Table), clickhouse.Named("now", testNow.UnixMilli())).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if est.Count != 5 || n != est.Count {
		t.Errorf("engine counts %d, SQL %d, want 5", est.Count, n)
	}
	if est.Universe != uint64(len(universe)) || len(est.Sample) != 3 {
		t.Errorf("universe %d, sample %v", est.Universe, est.Sample)
	}
	wantCity := []Count{{"北京", 3}, {"上海", 2}}
	if !slices.Equal(est.ByCity, wantCity) {
		t.Errorf("by city %v, want %v", est.ByCity, wantCity)
	}
	// 1 tmall; 2 douyin_shop; 10 phone + tmall (11's); 13 pos + douyin_shop; 14 tmall
	wantChannel := []Count{{"tmall", 3}, {"douyin_shop", 2}, {"phone", 1}, {"pos", 1}}
	if !slices.Equal(est.ByChannel, wantChannel) {
		t.Errorf("by channel %v, want %v", est.ByChannel, wantChannel)
	}
}

// flagshipSQL is the flagship rule written by hand as one query, for
// comparison (also in the benchmark).
func flagshipSQL(table func(string) string) string {
	return `WITH fromUnixTimestamp64Milli({now:Int64}, 'UTC') AS t0
SELECT count() FROM (
	SELECT p.canonical AS c,
		countIf(e.event = 'video_complete' AND e.topic = '控糖' AND e.ts >= t0 - INTERVAL 30 DAY) AS videos
	FROM (SELECT person_id, canonical FROM ` + table("persons") + ` FINAL) AS p
	LEFT JOIN (SELECT person_id, event, topic, ts FROM ` + table("events") + ` WHERE event = 'video_complete' AND topic = '控糖'
		AND ts >= t0 - INTERVAL 30 DAY) AS e ON e.person_id = p.person_id
	GROUP BY c
) AS v
INNER JOIN (
	SELECT p.canonical AS c,
		sumIf(o.amount, o.status NOT IN ('refunded', 'cancelled')) AS ltv,
		argMaxIf(o.city, o.ordered_at, o.city != '') AS city
	FROM ` + table("orders") + ` AS o FINAL
	INNER JOIN (SELECT person_id, canonical FROM ` + table("persons") + ` FINAL) AS p ON p.person_id = o.person_id
	GROUP BY c
) AS o ON o.c = v.c
LEFT JOIN (
	SELECT p.canonical AS c, 1 AS chatted
	FROM ` + table("wecom_messages_visible") + ` AS m
	INNER JOIN (SELECT person_id, canonical FROM ` + table("persons") + ` FINAL) AS p ON p.person_id = m.person_id
	WHERE m.from = m.external_userid AND positionUTF8(m.content, '血糖') > 0 AND m.msgtime >= t0 - INTERVAL 30 DAY
	GROUP BY c
) AS ch ON ch.c = v.c
LEFT JOIN (
	SELECT p.canonical AS c, max(l.ordered_at) AS last_lgi
	FROM ` + table("order_lines") + ` AS l FINAL
	INNER JOIN (SELECT person_id, canonical FROM ` + table("persons") + ` FINAL) AS p ON p.person_id = l.person_id
	WHERE l.category = '低GI大米' AND (l.channel, l.order_id) IN
		(SELECT channel, order_id FROM ` + table("orders") + ` FINAL WHERE status NOT IN ('refunded', 'cancelled'))
	GROUP BY c
) AS b ON b.c = v.c
WHERE (v.videos >= 2 OR ch.chatted = 1 OR (b.c != 0 AND b.last_lgi < t0 - INTERVAL 60 DAY))
	AND o.city IN ('北京', '上海', '广州', '深圳')
	AND o.ltv > 300`
}

func TestRefreshPatchesLeavesLikeAFullRecompute(t *testing.T) {
	db := population(t)
	ctx := context.Background()
	e := testEngine(db, nil)
	rules := []string{
		flagship,
		`city == "上海"`,
		`never("video_play", 90)`,
		`tag("控糖")`,
		`orders(90) >= 2`,
		`spend(365) > 300`,
		`days_since_last("order") <= 30`,
		`did_then("video_complete", "order", 7, 30)`,
		`did("search", 30) >= 1`,
		`orders_total >= 1 && ltv >= 2 * aov`,
	}
	compiled := evaluated(t, e, rules)
	before := e.Stats()

	// New records for a few persons: 5 orders again (ltv 350, enters the
	// flagship), 14 buys low-GI rice (no longer lapsed: leaves), 3 asks
	// about blood sugar (enters), 16 searches, 12's tag is deleted, and 15
	// is merged into 13.
	o1, l1 := order{5, "tmall", "o20", 1, "paid", 0.5, "100", "上海", "上海", "五常大米", "WC-5KG"}.rows()
	o2, l2 := order{14, "tmall", "o21", 1, "paid", 0.2, "120", "北京", "北京", "低GI大米", "LGI-5KG"}.rows()
	storetest.Insert(t, db, "orders", orderCols, o1, o2)
	storetest.Insert(t, db, "order_lines", lineCols, l1, l2)
	storetest.Insert(t, db, "wecom_messages", msgCols,
		message("c9", "send", "wmP3", []string{"li"}, 0.1, "我妈血糖高，吃什么米好", "", "wmP3", "li", 3))
	storetest.Insert(t, db, "events", eventCols, event(16, "search", 0.3, `{"keyword":"控糖食谱"}`))
	storetest.Insert(t, db, "person_tags", tagCols, []any{uint32(12), "控糖", "manual", uint8(1), uint8(1), ago(0.1)})
	storetest.Insert(t, db, "persons", personCols, []any{uint32(15), uint32(13), uint32(13), uint64(2)})

	if err := e.Refresh(ctx, []uint32{5, 14, 3, 16, 12, 15, 13}); err != nil {
		t.Fatal(err)
	}
	fresh := testEngine(db, nil)
	for i, c := range compiled {
		sameAsRecomputed(t, e, fresh, rules[i], c)
	}
	after := e.Stats()
	if after.Misses != before.Misses || after.Refreshes == 0 {
		t.Errorf("stats before %+v, after %+v: refreshed leaves should be reused, not recomputed", before, after)
	}
	got, _ := e.Evaluate(ctx, compiled[0])
	if want := []uint32{1, 2, 3, 5, 10, 13}; !slices.Equal(got.ToArray(), want) {
		t.Errorf("flagship after the new records: %v, want %v", got.ToArray(), want)
	}
}

func TestInvalidateDropsOnlyLeavesReadingTheKind(t *testing.T) {
	db := population(t)
	ctx := context.Background()
	e := testEngine(db, nil)
	for _, r := range []string{`tag("控糖")`, `chat("血糖", 90)`, `did("search", 30) >= 1`} {
		c, err := e.Check(r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Evaluate(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.Stats().Leaves; n != 3 {
		t.Fatalf("%d leaves cached, want 3", n)
	}
	e.Invalidate(KindChats)
	if n := e.Stats().Leaves; n != 2 {
		t.Errorf("after invalidating chats, %d leaves, want 2", n)
	}
	e.Invalidate()
	if n := e.Stats().Leaves; n != 0 {
		t.Errorf("after invalidating everything, %d leaves, want 0", n)
	}
}

func TestOverlap(t *testing.T) {
	db := population(t)
	e := testEngine(db, nil)
	a, _ := e.Check(`tag("控糖")`)                                       // 1, 10, 12
	b, _ := e.Check(`did("video_complete", 30, {"topic": "控糖"}) >= 2`) // 1, 4, 5, 10, 12
	o, err := e.Overlap(context.Background(), a, b)
	if err != nil {
		t.Fatal(err)
	}
	want := Overlap{A: 3, B: 5, Both: 3, OnlyA: 0, OnlyB: 2, Either: 5, Jaccard: 0.6}
	if o != want {
		t.Errorf("got %+v, want %+v", o, want)
	}
}

func TestInSegmentErrors(t *testing.T) {
	db := population(t)
	ctx := context.Background()
	c, err := testEngine(db, nil).Check(`in_segment("vip")`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := testEngine(db, nil).Evaluate(ctx, c); !errors.Is(err, ErrNoResolver) {
		t.Errorf("without a resolver: %v", err)
	}
	if _, err := testEngine(db, fixedSegments{}).Evaluate(ctx, c); !errors.Is(err, ErrUnknownSegment) {
		t.Errorf("unknown segment: %v", err)
	}
	if got := c.Segments(); !slices.Equal(got, []string{"vip"}) {
		t.Errorf("segments %v", got)
	}
}

func TestTraitsMatchPersonTraits(t *testing.T) {
	db := population(t)
	ctx := context.Background()
	e := testEngine(db, nil)
	universe, err := e.readUniverse(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows, _, _, err := e.readTraits(ctx, nil, universe)
	if err != nil {
		t.Fatal(err)
	}
	q, err := db.Conn.Query(ctx, "SELECT person_id, toInt64(round(lifetime_value * 100)), toInt64(orders), "+
		"toInt64(round(average_order_value * 100)), ifNull(toUnixTimestamp64Milli(last_order_at), 0) FROM "+
		db.Table("person_traits")+" WHERE orders > 0 ORDER BY person_id")
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	aov := numericColumns(rows)["aov"]
	aovIDs, aovVals := aov()
	checked := 0
	for q.Next() {
		var id uint32
		var ltv, n, avg, last int64
		if err := q.Scan(&id, &ltv, &n, &avg, &last); err != nil {
			t.Fatal(err)
		}
		i, ok := slices.BinarySearch(rows.ids, id)
		j, _ := slices.BinarySearch(aovIDs, id)
		if !ok || rows.ltv[i] != ltv || rows.orders[i] != n || rows.lastMS[i] != last || aovVals[j] != avg {
			t.Errorf("person %d: person_traits %d %d %d %d, engine %v", id, ltv, n, avg, last, ok)
		}
		checked++
	}
	if checked != 10 {
		t.Errorf("checked %d persons with orders, want 10", checked)
	}
}

// TestConcurrentEvaluateRefreshInvalidate runs evaluations, refreshes and
// invalidations at once (run with -race) and then checks the engine still
// agrees with a fresh one.
func TestConcurrentEvaluateRefreshInvalidate(t *testing.T) {
	db := population(t)
	ctx := context.Background()
	e := testEngine(db, fixedSegments{"vip": {2, 13}})
	rules := []string{flagship, `tag("控糖") || in_segment("vip")`, `(orders_total >= 1 && ltv >= 2 * aov) || bucket(3) == 1`, `never("video_play", 90) && city_tier <= 2`}
	var compiled []*Compiled
	for _, r := range rules {
		c, err := e.Check(r)
		if err != nil {
			t.Fatal(err)
		}
		compiled = append(compiled, c)
	}
	errs := make(chan error, 64)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 10 {
				if _, err := e.Evaluate(ctx, compiled[(w+i)%len(compiled)]); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 5 {
			if err := e.Refresh(ctx, []uint32{uint32(1 + i), 10, 11}); err != nil {
				errs <- err
			}
		}
	})
	wg.Go(func() {
		for range 3 {
			e.Invalidate(KindEvents)
			e.Invalidate(KindOrders)
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	fresh := testEngine(db, fixedSegments{"vip": {2, 13}})
	for i, c := range compiled {
		got, err := e.Evaluate(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		want, err := fresh.Evaluate(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equals(want) {
			t.Errorf("%s: %v after the storm, %v fresh", rules[i], got.ToArray(), want.ToArray())
		}
	}
}

// TestRefreshQueriesOnlyTheLeavesThatAreRead: new records mark persons
// dirty in the cached leaves and query nothing; a leaf is patched for them
// when it is next read (one restricted query), and recomputed in full when
// more than patchMax persons are dirty. Before, every Refresh patched
// every cached leaf reading the kind: under sustained ingest the engine
// queried each leaf an analyst had ever estimated, every round. Leaves
// patched for exactly the persons a Refresh marked use its read of their
// canonical persons; leaves patched for the same other set share one
// read until the next Refresh.
func TestRefreshQueriesOnlyTheLeavesThatAreRead(t *testing.T) {
	db := population(t)
	ctx := context.Background()
	e := testEngine(db, nil)
	rules := []string{`did("search", 30) >= 1`, `did("video_complete", 30, {"topic": "控糖"}) >= 2`}
	compiled := evaluated(t, e, rules)
	before := e.Stats()
	storetest.Insert(t, db, "events", eventCols, event(16, "search", 0.3, `{"keyword":"控糖食谱"}`),
		event(7, "video_complete", 0.2, `{"topic":"控糖"}`), event(7, "video_complete", 0.1, `{"topic":"控糖"}`))
	if err := e.Refresh(ctx, []uint32{16, 7}, KindEvents); err != nil {
		t.Fatal(err)
	}
	if s := e.Stats(); s.Refreshes != before.Refreshes || s.Misses != before.Misses {
		t.Fatalf("Refresh queried leaves: stats before %+v, after %+v", before, s)
	}
	fresh := testEngine(db, nil)
	reads := e.canon.reads.Load()
	for i, c := range compiled {
		sameAsRecomputed(t, e, fresh, rules[i], c)
		if s := e.Stats(); s.Refreshes != before.Refreshes+uint64(i+1) || s.Misses != before.Misses {
			t.Errorf("after reading %s: stats %+v, want one more patch each and no miss (before %+v)", rules[i], s, before)
		}
	}
	if n := e.canon.reads.Load() - reads; n != 0 {
		t.Errorf("two leaves patched for the persons the Refresh read read their canonical persons %d times, want none", n)
	}
	// A Refresh may have merged or split them: the next patch uses its read.
	if err := e.Refresh(ctx, []uint32{16, 7}, KindEvents); err != nil {
		t.Fatal(err)
	}
	sameAsRecomputed(t, e, fresh, rules[0], compiled[0])
	if n := e.canon.reads.Load() - reads; n != 0 {
		t.Errorf("a patch after another Refresh: %d reads of canonical persons in all, want none", n)
	}
	// Dirty from two Refreshes: a set neither read; the two leaves share one read.
	for _, p := range []uint32{16, 7} {
		if err := e.Refresh(ctx, []uint32{p}, KindEvents); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range compiled {
		sameAsRecomputed(t, e, fresh, rules[i], c)
	}
	if n := e.canon.reads.Load() - reads; n != 1 {
		t.Errorf("two leaves dirty from two Refreshes: %d reads of canonical persons, want 1", n)
	}
	again := e.Stats()
	if _, err := e.Evaluate(ctx, compiled[0]); err != nil {
		t.Fatal(err)
	}
	if s := e.Stats(); s.Refreshes != again.Refreshes || s.Hits != again.Hits+1 {
		t.Errorf("a clean leaf read again: stats %+v, want one more hit (before %+v)", s, again)
	}
	many := roaring.New()
	many.AddRange(1, patchMax+2)
	e.cache.touch([]string{KindEvents}, many, testNow)
	e.cache.mu.Lock()
	for _, en := range e.cache.entries {
		if !en.full || !en.dirty.IsEmpty() {
			t.Errorf("a leaf with %d dirty persons keeps %d of them (full %v), want none kept and a full recompute", many.GetCardinality(), en.dirty.GetCardinality(), en.full)
		}
	}
	e.cache.mu.Unlock()
	if _, err := e.Evaluate(ctx, compiled[0]); err != nil {
		t.Fatal(err)
	}
	if s := e.Stats(); s.Misses != again.Misses+1 || s.Refreshes != again.Refreshes {
		t.Errorf("over patchMax dirty persons: stats %+v, want a full recompute (before %+v)", s, again)
	}
}

// sameAsRecomputed checks that e's members of c are those a fresh engine
// computes in full.
func sameAsRecomputed(t *testing.T, e, fresh *Engine, rule string, c *Compiled) {
	t.Helper()
	got, err := e.Evaluate(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	want, err := fresh.Evaluate(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equals(want) {
		t.Errorf("%s: patched %v, recomputed %v", rule, got.ToArray(), want.ToArray())
	}
}

// evaluated compiles rules and evaluates each once, so their leaves are
// cached.
func evaluated(t *testing.T, e *Engine, rules []string) []*Compiled {
	t.Helper()
	compiled := make([]*Compiled, len(rules))
	for i, r := range rules {
		var err error
		if compiled[i], err = e.Check(r); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Evaluate(context.Background(), compiled[i]); err != nil {
			t.Fatal(err)
		}
	}
	return compiled
}

// TestEstimatesMayLagByTheirStalenessAndPatchWarmCatchesUp: an estimate
// uses a cached leaf whose new records arrived at most EstimateStaleness
// ago (engine clock), Evaluate never does; PatchWarm patches the dirty
// leaves read more than once, without counting as a read, and leaves a
// leaf read once alone.
func TestEstimatesMayLagByTheirStalenessAndPatchWarmCatchesUp(t *testing.T) {
	db := population(t)
	ctx := context.Background()
	clock := testNow
	opts := DefaultOptions()
	opts.Now = func() time.Time { return clock }
	opts.Logger = storetest.Logger()
	opts.EstimateStaleness = 10 * time.Second
	e := NewEngine(db, opts)
	again, once := `did("search", 30) >= 1`, `did("video_play", 30) >= 1`
	count := func(rule string) uint64 {
		t.Helper()
		est, err := e.Estimate(ctx, rule, 0)
		if err != nil {
			t.Fatal(err)
		}
		return est.Count
	}
	before := count(again)
	count(again) // read twice: PatchWarm keeps it patched
	beforeOnce := count(once)
	storetest.Insert(t, db, "events", eventCols, event(14, "search", 0.01, `{"keyword":"五常大米"}`), event(14, "video_play", 0.01, `{"topic":"控糖"}`))
	if err := e.Refresh(ctx, []uint32{14}, KindEvents); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(5 * time.Second)
	if got := count(again); got != before {
		t.Fatalf("5 s after the new record the estimate is %d, want the cached %d", got, before)
	}
	exact, err := e.Check(again)
	if err != nil {
		t.Fatal(err)
	}
	fresh := testEngine(db, nil)
	if got, _ := fresh.Evaluate(ctx, exact); got.GetCardinality() != before+1 {
		t.Fatalf("person 14 should be a new member: fresh engine counts %d, before %d", got.GetCardinality(), before)
	}
	stats := e.Stats()
	n, err := e.PatchWarm(ctx)
	if err != nil || n != 1 {
		t.Fatalf("PatchWarm patched %d leaves (%v), want the one read twice", n, err)
	}
	if got := count(again); got != before+1 {
		t.Errorf("after PatchWarm the estimate is %d, want %d", got, before+1)
	}
	if s := e.Stats(); s.Refreshes != stats.Refreshes+1 || s.Misses != stats.Misses {
		t.Errorf("stats %+v after PatchWarm and one estimate, want one patch (before %+v)", s, stats)
	}
	if got := count(once); got != beforeOnce {
		t.Errorf("the leaf read once: %d within its staleness, want the cached %d", got, beforeOnce)
	}
	clock = clock.Add(6 * time.Second) // 11 s after the record
	if got := count(once); got != beforeOnce+1 {
		t.Errorf("the leaf read once, 11 s after the record: %d, want %d", got, beforeOnce+1)
	}
}

// TestEstimatesDoNotWaitForAPatchUnderWay: while PatchWarm's patch of a
// leaf waits for the engine (every query slot taken), an estimate whose
// cached bitmap is within its staleness answers from it at once; an
// exact evaluation, and an estimate past its staleness, wait for the
// patch and get its result. Before, every reader waited for the patch
// under way: under sustained ingest PatchWarm recomputes the leaves
// analysts read every 5 s, and their estimates queued behind it.
func TestEstimatesDoNotWaitForAPatchUnderWay(t *testing.T) {
	db := population(t)
	ctx := context.Background()
	var clockMu sync.Mutex
	clock := testNow
	setClock := func(d time.Duration) {
		clockMu.Lock()
		clock = testNow.Add(d)
		clockMu.Unlock()
	}
	opts := DefaultOptions()
	opts.Now = func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return clock }
	opts.Logger = storetest.Logger()
	opts.EstimateStaleness = 10 * time.Second
	e := NewEngine(db, opts)
	rule := `did("search", 30) >= 1`
	count := func(ctx context.Context) (uint64, error) {
		est, err := e.Estimate(ctx, rule, 0)
		return est.Count, err
	}
	before, err := count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := count(ctx); err != nil { // read twice: PatchWarm patches it
		t.Fatal(err)
	}
	storetest.Insert(t, db, "events", eventCols, event(14, "search", 0.01, `{"keyword":"五常大米"}`))
	if err := e.Refresh(ctx, []uint32{14}, KindEvents); err != nil {
		t.Fatal(err)
	}
	for range e.opts.Concurrency { // every query slot taken: the patch waits for one
		if err := e.slots.acquire(ctx, foreground); err != nil {
			t.Fatal(err)
		}
	}
	released := false
	release := func() {
		if !released {
			released = true
			for range e.opts.Concurrency {
				e.slots.release()
			}
		}
	}
	defer release()
	patched := make(chan error, 1)
	go func() {
		n, err := e.PatchWarm(ctx)
		if err == nil && n != 1 {
			err = errors.New("PatchWarm did not patch the leaf read twice")
		}
		patched <- err
	}()
	inFlight := func() bool {
		e.cache.mu.Lock()
		defer e.cache.mu.Unlock()
		return len(e.cache.flights) == 1
	}
	for !inFlight() {
		runtime.Gosched()
	}
	waits := func() uint64 { return e.Stats().Waits }
	setClock(5 * time.Second)
	// Without the change this waits for the patch, which waits for the
	// slots this test holds: the deadline turns the hang into a failure.
	quick, cancel := context.WithTimeout(ctx, 10*time.Second)
	got, err := count(quick)
	cancel()
	if err != nil || got != before {
		t.Fatalf("estimate 5 s after the record with a patch under way: %d (%v), want the cached %d at once", got, err, before)
	}
	if w := waits(); w != 0 {
		t.Fatalf("the estimate within its staleness waited (%d waits)", w)
	}
	exact, err := e.Check(rule)
	if err != nil {
		t.Fatal(err)
	}
	evaluated := make(chan uint64, 1)
	go func() {
		bm, err := e.Evaluate(ctx, exact)
		if err != nil {
			t.Error(err)
			evaluated <- 0
			return
		}
		evaluated <- bm.GetCardinality()
	}()
	for waits() != 1 {
		runtime.Gosched()
	}
	setClock(11 * time.Second)
	late := make(chan uint64, 1)
	go func() {
		n, err := count(ctx)
		if err != nil {
			t.Error(err)
		}
		late <- n
	}()
	for waits() != 2 {
		runtime.Gosched()
	}
	release()
	if err := <-patched; err != nil {
		t.Fatal(err)
	}
	if got := <-evaluated; got != before+1 {
		t.Errorf("the exact evaluation that waited for the patch: %d, want %d", got, before+1)
	}
	if got := <-late; got != before+1 {
		t.Errorf("the estimate 11 s after the record: %d, want the patched %d", got, before+1)
	}
}

// TestPatchWarmSkipsALeafPatchedMeanwhile: a leaf PatchWarm listed as
// dirty that a reader patched before PatchWarm reached it is returned as
// it is (before, the background patch dereferenced its nil dirty set).
func TestPatchWarmSkipsALeafPatchedMeanwhile(t *testing.T) {
	db := population(t)
	ctx := context.Background()
	e := testEngine(db, nil)
	c := evaluated(t, e, []string{`did("search", 30) >= 1`})[0]
	leaves := e.cache.rereadDirty(time.Minute)
	if len(leaves) != 0 {
		t.Fatalf("%d dirty leaves before any record", len(leaves))
	}
	var leaf *sqlLeaf
	Walk(c.plan, func(n Node) {
		if l, ok := n.(*sqlLeaf); ok {
			leaf = l
		}
	})
	stats := e.Stats()
	if _, err := e.leaf(ctx, leaf, testNow, inBackground); err != nil {
		t.Fatal(err)
	}
	if s := e.Stats(); s.Misses != stats.Misses || s.Refreshes != stats.Refreshes {
		t.Errorf("a clean leaf asked for in the background was queried: stats %+v, before %+v", s, stats)
	}
}

// TestStatsCountTheForegroundLeafQueriesAndNotPatchWarms: a cold
// estimate's leaf query counts in Stats' Queries (with its time);
// PatchWarm's patch of the same leaf does not (its queries have their own
// slots and nobody waits for them).
func TestStatsCountTheForegroundLeafQueriesAndNotPatchWarms(t *testing.T) {
	db := population(t)
	ctx := context.Background()
	opts := DefaultOptions()
	opts.Now = func() time.Time { return testNow }
	opts.EstimateStaleness = 10 * time.Second
	e := NewEngine(db, opts)
	rule := `did("search", 30) >= 1`
	for range 2 { // read twice: PatchWarm patches it
		if _, err := e.Estimate(ctx, rule, 0); err != nil {
			t.Fatal(err)
		}
	}
	st := e.Stats()
	if st.Queries != 1 || st.QueryTime <= 0 || st.SlotWait < 0 {
		t.Fatalf("after one cold and one warm estimate: %d queries, %v in them, %v waiting; want 1 query with its time", st.Queries, st.QueryTime, st.SlotWait)
	}
	storetest.Insert(t, db, "events", eventCols, event(14, "search", 0.01, `{"keyword":"五常大米"}`))
	if err := e.Refresh(ctx, []uint32{14}, KindEvents); err != nil {
		t.Fatal(err)
	}
	if n, err := e.PatchWarm(ctx); err != nil || n != 1 {
		t.Fatalf("PatchWarm patched %d leaves (%v); want 1", n, err)
	}
	if after := e.Stats(); after.Queries != 1 || after.Refreshes != st.Refreshes+1 {
		t.Fatalf("after PatchWarm's patch: %d queries, %d patches; want the patch done and not counted", after.Queries, after.Refreshes)
	}
}
