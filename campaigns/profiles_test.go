package campaigns

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// profilesFromRows is the names and staff read as it was before the
// latest_name projection: a scan of every event's traits, the projection
// off. It is the reference the projection's read must equal.
func profilesFromRows(t *testing.T, db *store.DB, persons []uint32) map[uint32]profile {
	t.Helper()
	members := schema.Canonical(db.Table("persons"), "canonical IN {persons:Array(UInt32)}")
	q := `SELECT p.canonical,
			argMaxIf(x.trait, x.ts, x.trait != ''), argMaxIf(x.wecom, x.ts, x.wecom != ''), argMaxIf(x.staff, x.ts, x.kind = 'contact')
		FROM (
			SELECT person_id, ts, JSONExtractString(traits, 'name') AS trait, '' AS wecom, '' AS staff, 'event' AS kind
			FROM ` + db.Table("events") + ` WHERE person_id IN (SELECT person_id FROM ` + members + `) AND traits != ''
			UNION ALL
			SELECT person_id, ts, '', name, if(change_type IN ('del_external_contact', 'del_follow_user'), '', staff_userid), 'contact'
			FROM ` + db.Table("wecom_contact_events") + ` WHERE person_id IN (SELECT person_id FROM ` + members + `)
		) AS x
		INNER JOIN ` + members + ` AS p ON p.person_id = x.person_id
		GROUP BY p.canonical
		SETTINGS optimize_use_projections = 0`
	rows, err := db.Conn.Query(context.Background(), q, clickhouse.Named("persons", persons))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[uint32]profile{}
	for rows.Next() {
		var p uint32
		var trait, wecomName, staff string
		if err := rows.Scan(&p, &trait, &wecomName, &staff); err != nil {
			t.Fatal(err)
		}
		r := profile{name: trait, staff: staff}
		if r.name == "" {
			r.name = wecomName
		}
		out[p] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNamesFollowUnmergeAndErasure checks that the names and staff a
// campaign personalises with, read from the events' latest_name
// projection, are those of the raw rows (the read before the projection,
// profilesFromRows), person by person: with parts that lack the
// projection (as before migration 29's MATERIALIZE reached them) beside
// parts that have it, persons merged into others, later events whose
// traits carry no name, WeCom names and staff; then after the mutations
// of an unmerge (ALTER UPDATE person_id) and an erasure (ALTER DELETE),
// which the engine applies to the projection too: an erased person's name
// is gone from the answer and from the projection itself. It also checks
// that the engine reads the projection (the read fails under
// force_optimize_projection_name otherwise).
func TestNamesFollowUnmergeAndErasure(t *testing.T) {
	db := storetest.Migrated(t)
	ctx := context.Background()
	const n = 600
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var persons [][]any
	canonical := func(p uint32) uint32 { // every tenth person merged into the one before
		if p%10 == 0 {
			return p - 1
		}
		return p
	}
	for p := uint32(1); p <= n; p++ {
		persons = append(persons, []any{p, canonical(p), canonical(p), uint64(1)})
	}
	storetest.Insert(t, db, "persons", "person_id, parent, canonical, version", persons...)
	cols := "message_id, type, event, ts, received_at, source, person_id, traits, spool_seq"
	seq := uint64(0)
	batch := func(from, to uint32, round int) [][]any {
		var rows [][]any
		for p := from; p < to; p++ {
			for i := range int(p % 4) {
				seq++
				ts := base.Add(time.Duration(round*10000+int(p)*4+i) * time.Minute)
				traits := ""
				switch (int(p) + i + round) % 5 {
				case 0, 1:
					traits = fmt.Sprintf(`{"name":"客户%d-%d-%d"}`, p, round, i)
				case 2:
					traits = `{"city":"杭州"}` // traits without a name: the name stays
				case 3:
					traits = `{"name":""}`
				}
				rows = append(rows, []any{fmt.Sprint("m", seq), "identify", "", ts, ts, "app", p, traits, seq})
			}
		}
		return rows
	}
	// Each batch comes with 100,000 events without traits of persons 1
	// to 50,000, spread over its granules as in production: the engine
	// reads the projection only when it reads fewer marks than the rows
	// would (the persons' granules of 128 rows against granules of 8,192
	// rows the bloom filter cannot skip).
	filler := func(round int) {
		t.Helper()
		if err := db.Conn.Exec(ctx, "INSERT INTO "+db.Table("events")+" (message_id, type, event, ts, received_at, source, person_id, traits)"+
			" SELECT concat('f', toString({round:UInt8}), '-', toString(number)), 'track', 'video_play', {base:DateTime64(3, 'UTC')} + toIntervalSecond(number), now64(3), 'app', 1 + number % 50000, ''"+
			" FROM numbers(100000)", clickhouse.Named("round", round), clickhouse.Named("base", base)); err != nil {
			t.Fatal(err)
		}
	}
	// The first parts lose the projection, the next keep theirs.
	storetest.Insert(t, db, "events", cols, batch(1, n+1, 0)...)
	filler(0)
	if err := db.EachNode(func(conn driver.Conn) error {
		return conn.Exec(ctx, "ALTER TABLE "+db.Local("events")+db.OnCluster()+" CLEAR PROJECTION "+schema.LatestName+" SETTINGS mutations_sync = 2")
	}); err != nil {
		t.Fatal(err)
	}
	storetest.Insert(t, db, "events", cols, batch(1, n/2, 1)...)
	filler(1)
	storetest.Insert(t, db, "events", cols, batch(n/3, n+1, 2)...)
	filler(2)
	var contacts [][]any
	for p := uint32(1); p <= n; p += 3 {
		ts := base.Add(time.Duration(p) * time.Minute)
		contacts = append(contacts, []any{fmt.Sprint("k", p), ts, "add_external_contact", "ww", fmt.Sprint("staff", p%5), fmt.Sprint("wm", p), fmt.Sprint("微信", p), p})
		if p%2 == 0 {
			contacts = append(contacts, []any{fmt.Sprint("d", p), ts.Add(time.Hour), "del_follow_user", "ww", fmt.Sprint("staff", p%5), fmt.Sprint("wm", p), "", p})
		}
	}
	storetest.Insert(t, db, "wecom_contact_events", "dedup_key, ts, change_type, corp_id, staff_userid, external_userid, name, person_id", contacts...)

	svc := &Service{DB: db, Logger: storetest.Logger()}
	all := make([]uint32, 0, 2*n)
	for p := uint32(1); p <= n; p++ {
		all = append(all, p, p+100000)
	}
	check := func(when string) map[uint32]profile {
		t.Helper()
		got, err := svc.profiles(ctx, all)
		if err != nil {
			t.Fatal(err)
		}
		want := profilesFromRows(t, db, all)
		// A person without a name or staff is absent from one answer
		// and empty in the other (the old read saw only rows with
		// traits): the messages are the same.
		bad := 0
		for _, p := range all {
			if got[p] != want[p] {
				if bad++; bad <= 5 {
					t.Errorf("%s: person %d: %+v, the rows say %+v", when, p, got[p], want[p])
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d of %d persons differ", when, bad, len(all))
		}
		// The read's plan (on a cluster, the initiator's: the shards'
		// reads are checked below) reads the projection.
		if db.Cluster == "" {
			var plan []string
			ids, canonical, err := svc.mergedIDs(ctx, "merged ids", all)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Conn.QueryRow(ctx, "SELECT groupArray(explain) FROM (EXPLAIN projections = 1 "+svc.profilesQuery()+")",
				clickhouse.Named("ids", ids), clickhouse.Named("canonical", canonical)).Scan(&plan); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(strings.Join(plan, "\n"), "ReadFromMergeTree ("+schema.LatestName+")") {
				t.Errorf("%s: the read does not use the projection:\n%s", when, strings.Join(plan, "\n"))
			}
		}
		// On each node's own events, with the check.
		forced := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"force_optimize_projection_name": schema.LatestName}))
		if err := db.EachNode(func(conn driver.Conn) error {
			var names []string
			return conn.QueryRow(forced, "SELECT groupArray(name) FROM (SELECT person_id, "+schema.LatestNameValue+" AS name FROM "+db.Local("events")+
				" WHERE person_id IN {persons:Array(UInt32)} GROUP BY person_id)", clickhouse.Named("persons", all)).Scan(&names)
		}); err != nil {
			t.Errorf("%s: the projection is not read: %v", when, err)
		}
		return got
	}
	before := check("mixed parts")
	named, staffed := 0, 0
	for _, r := range before {
		if strings.HasPrefix(r.name, "客户") {
			named++
		}
		if r.staff != "" {
			staffed++
		}
	}
	if named < n/3 || staffed < n/10 || !strings.HasPrefix(before[9].name, "客户10-") {
		t.Fatalf("%d persons with a name trait, %d with staff, person 9 (with 10 merged into them) %+v: the data says little", named, staffed, before[9])
	}

	// Unmerge (re-attribution to new persons) and erasure, as identity
	// runs them.
	var moved [][]any
	for p := uint32(7); p <= n; p += 7 {
		moved = append(moved, []any{p + 100000, p + 100000, p + 100000, uint64(2)})
	}
	storetest.Insert(t, db, "persons", "person_id, parent, canonical, version", moved...)
	storetest.Mutate(t, db, "events", "UPDATE person_id = person_id + 100000 WHERE person_id % 7 = 0")
	storetest.Mutate(t, db, "events", "DELETE WHERE person_id % 11 = 0")
	after := check("after the mutations")
	if before[14].name == "" || after[100014].name != before[14].name || after[14].name != "" {
		t.Errorf("unmerge: person 14 had %q, now %q; its events' new person 100014 %q", before[14].name, after[14].name, after[100014].name)
	}
	// The erased persons' names: none in the answer, none in the
	// projection (read alone, forced).
	var erased []uint32 // persons none was merged into (the test erases ids, not their merged ids)
	for p := uint32(11); p <= n; p += 11 {
		if p%7 != 0 && canonical(p) == p && p%10 != 9 {
			erased = append(erased, p)
			if strings.HasPrefix(after[p].name, "客户") {
				t.Errorf("erased person %d still named %q", p, after[p].name)
			}
		}
	}
	forced := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"force_optimize_projection_name": schema.LatestName}))
	if err := db.EachNode(func(conn driver.Conn) error {
		// Read with the other persons' ids: a read whose ids no part
		// holds is answered from no part, not from the projection.
		var ids []uint32
		var names []string
		if err := conn.QueryRow(forced, "SELECT groupArray(person_id), groupArray(name) FROM (SELECT person_id, "+schema.LatestNameValue+" AS name FROM "+db.Local("events")+
			" WHERE person_id IN {persons:Array(UInt32)} GROUP BY person_id)", clickhouse.Named("persons", all)).Scan(&ids, &names); err != nil {
			return err
		}
		for i, p := range ids {
			if slices.Contains(erased, p) && names[i] != "" {
				return fmt.Errorf("the projection still names erased person %d %q", p, names[i])
			}
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}
