package store_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// TestPersonlessEventsSpreadOneEngineAndCluster: events without a person
// (person_id 0) are placed by their message id (schema.ShardKeys), so on
// the 2-shard cluster they are split between both shards rather than all
// on one; a retried batch splits the same way and is dropped by each
// shard; and the same events written through the writer on one engine and
// on the cluster give the same answers to per-event, per-day and
// per-person aggregates. With person_id alone as the key, every
// personless row is on one node and the split check fails.
func TestPersonlessEventsSpreadOneEngineAndCluster(t *testing.T) {
	one, cluster := storetest.OneEngineAndCluster(t)
	const personless, known = 1000, 1000
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	rows := make([][]any, 0, personless+known)
	for i := range personless + known {
		person, anon := uint32(0), []string{"", "anonymous", "guest"}[i%3]
		if i >= personless {
			person, anon = uint32(i%97+1), fmt.Sprint("a", i%97)
		}
		rows = append(rows, []any{fmt.Sprint("m", i), "track", []string{"view", "search", "like"}[i%3],
			day.Add(time.Duration(i) * 37 * time.Minute), person, anon, uint64(i + 1)})
	}
	answers := func(db *store.DB) []string {
		ctx := ctxT(t, 2*time.Minute)
		w := store.NewWriter(db, store.WriterOptions{Logger: storetest.Logger()})
		defer w.Close(ctx)
		tw := w.Table("events", "message_id", "type", "event", "ts", "person_id", "anonymous_id", "spool_seq").Keyed("spool_seq")
		for range 2 { // the batch and its retry
			if err := tw.Insert(ctx, "tok-personless", rows); err != nil {
				t.Fatal(err)
			}
		}
		var out []string
		for _, q := range []string{
			"SELECT toString(groupArray((event, anon, n, ids))) FROM (SELECT event, person_id = 0 AS anon, count() AS n, uniqExact(anonymous_id) AS ids FROM {events} GROUP BY event, anon ORDER BY event, anon)",
			"SELECT toString(groupArray((d, n))) FROM (SELECT toDate(ts) AS d, countIf(person_id = 0) AS n FROM {events} GROUP BY d ORDER BY d)",
			"SELECT toString(groupArray((p, n))) FROM (SELECT person_id AS p, count() AS n FROM {events} WHERE person_id != 0 GROUP BY p ORDER BY p)",
			"SELECT toString((count(), uniqExact(message_id), sum(spool_seq))) FROM {events}",
		} {
			var s string
			if err := db.Conn.QueryRow(ctx, strings.ReplaceAll(q, "{events}", db.Table("events"))).Scan(&s); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			out = append(out, s)
		}
		return out
	}
	a, b := answers(one), answers(cluster)
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("query %d:\none engine %s\ncluster    %s", i+1, a[i], b[i])
		}
	}
	if a[3] != fmt.Sprintf("(%d,%d,%d)", personless+known, personless+known, (personless+known)*(personless+known+1)/2) {
		t.Errorf("count, distinct ids, sum of positions: %s, want every row once", a[3])
	}
	ctx := ctxT(t, time.Minute)
	for i, n := range cluster.Nodes {
		// 1,000 rows over 2 shards: 500 expected, 400 is over 6 deviations off.
		if got := nodeCount(t, ctx, n, "SELECT count() FROM "+cluster.Local("events")+" WHERE person_id = 0"); got < 400 {
			t.Errorf("node %d holds %d of the %d personless events: want them split between the shards", i+1, got, personless)
		}
	}
}
