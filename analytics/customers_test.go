package analytics

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/store/storetest"
)

// TestCustomerOrdersAgreeWithThePlainRows: random orders of 200 persons
// (10 of them merged into another later), each in one to three versions
// whose last may refund or cancel it, some at the same instant as another
// of the person's orders; schema.CustomerOrders (what the engine's
// retention reads) gives per customer the first order, its month and
// channel, and the months with a valid order, as computed in Go from the
// raw rows: the latest version of each order, valid, on the survivor's
// OneID. The retention table then equals the one counted in Go. Both
// again after persons 191-195 are unmerged (a new persons version, their
// own OneID again) and person 7 is erased (their orders' person_id set
// to 0, as identity.Erase does).
func TestCustomerOrdersAgreeWithThePlainRows(t *testing.T) {
	db := storetest.Migrated(t)
	r := rand.New(rand.NewPCG(22, 10))
	unmerged, erased := map[uint32]bool{}, map[uint32]bool{}
	canonical := func(p uint32) uint32 {
		if p > 190 && !unmerged[p] {
			return p - 100
		}
		return p
	}
	var persons [][]any
	for p := uint32(1); p <= 200; p++ {
		persons = append(persons, []any{p, canonical(p), canonical(p), uint64(1)})
	}
	type order struct {
		channel, id string
		at          time.Time
		person      uint32
		valid       bool
	}
	var latest []order
	var rows [][]any
	start := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	channels := []string{"tmall", "pos", "douyin_shop"}
	for i := 0; i < 1200; i++ {
		p := uint32(1 + r.IntN(200))
		at := start.Add(time.Duration(r.IntN(500*24)) * time.Hour) // whole hours: some orders of a person tie
		o := order{channel: channels[r.IntN(3)], id: fmt.Sprintf("o%04d", r.IntN(10000)), at: at, person: p}
		if slices.ContainsFunc(latest, func(x order) bool { return x.channel == o.channel && x.id == o.id }) {
			continue
		}
		versions := 1 + r.IntN(3)
		for v := 1; v <= versions; v++ {
			status := "paid"
			if v == versions && r.IntN(4) == 0 {
				status = []string{"refunded", "cancelled"}[r.IntN(2)]
			}
			o.valid = status == "paid"
			rows = append(rows, []any{o.channel, o.id, uint64(v), status, o.at, o.at.Add(time.Duration(v) * time.Hour), decimal.NewFromInt(int64(10 + r.IntN(90))),
				"CNY", "", "", p, "test", o.at})
		}
		latest = append(latest, o)
	}
	insert(t, db, "persons", personCols, persons...)
	insert(t, db, "orders", orderCols, rows...)

	check := func(state string) {
		type customer struct {
			first          order
			cohort         time.Time
			months         []time.Time
			firstDate, day time.Time
		}
		month := func(at time.Time) time.Time {
			b := at.In(schema.Beijing)
			return time.Date(b.Year(), b.Month(), 1, 0, 0, 0, 0, time.UTC)
		}
		want := map[uint32]*customer{}
		for _, o := range latest {
			if !o.valid || erased[o.person] {
				continue
			}
			c := want[canonical(o.person)]
			if c == nil {
				c = &customer{first: o}
				want[canonical(o.person)] = c
			}
			if o.at.Before(c.first.at) || (o.at.Equal(c.first.at) && o.id < c.first.id) {
				c.first = o
			}
			if m := month(o.at); !slices.ContainsFunc(c.months, m.Equal) {
				c.months = append(c.months, m)
			}
		}
		for _, c := range want {
			slices.SortFunc(c.months, func(a, b time.Time) int { return a.Compare(b) })
			c.cohort = month(c.first.at)
		}

		s := New(Options{DB: db, Now: func() time.Time { return time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC) }})
		ctx := s.readContext(context.Background())
		got, err := db.Conn.Query(ctx, "SELECT person_id, first_order_at, cohort_month, first_channel, first_order, months FROM "+schema.CustomerOrders(db.Table, false))
		if err != nil {
			t.Fatal(err)
		}
		defer got.Close()
		n := 0
		for got.Next() {
			var p uint32
			var at, cohort time.Time
			var ch, id string
			var months []time.Time
			if err := got.Scan(&p, &at, &cohort, &ch, &id, &months); err != nil {
				t.Fatal(err)
			}
			n++
			c := want[p]
			switch {
			case c == nil:
				t.Errorf("%s: person %d: a customer, plain: none", state, p)
			case !at.Equal(c.first.at) || ch != c.first.channel || id != c.first.id || !cohort.Equal(c.cohort):
				t.Errorf("%s: person %d: first %v %s/%s cohort %v, plain %v %s/%s cohort %v", state, p, at, ch, id, cohort, c.first.at, c.first.channel, c.first.id, c.cohort)
			case !slices.EqualFunc(months, c.months, func(a, b time.Time) bool { return a.Equal(b) }):
				t.Errorf("%s: person %d: months %v, plain %v", state, p, months, c.months)
			}
		}
		if err := got.Err(); err != nil {
			t.Fatal(err)
		}
		if n != len(want) || n < 150 {
			t.Errorf("%s: %d customers, plain %d", state, n, len(want))
		}

		res, err := s.Retention(context.Background(), Retention{Cohorts{Months: 6, From: "2025-06-01", To: "2026-10-01"}}, true)
		if err != nil {
			t.Fatal(err)
		}
		plain := map[string][]uint64{}
		for _, c := range want {
			k := c.cohort.Format(dateLayout)
			if plain[k] == nil {
				plain[k] = make([]uint64, 7)
			}
			for i := range 7 {
				if slices.ContainsFunc(c.months, c.cohort.AddDate(0, i, 0).Equal) {
					plain[k][i]++
				}
			}
		}
		if len(res.Rows) != len(plain) {
			t.Errorf("%s: %d cohorts, plain %d", state, len(res.Rows), len(plain))
		}
		for _, row := range res.Rows {
			if !slices.Equal(row.Retained, plain[row.Cohort]) {
				t.Errorf("%s: cohort %s: retained %v, plain %v", state, row.Cohort, row.Retained, plain[row.Cohort])
			}
		}
	}
	check("as written")
	var versions [][]any
	for p := uint32(191); p <= 195; p++ {
		unmerged[p] = true
		versions = append(versions, []any{p, p, p, uint64(2)})
	}
	insert(t, db, "persons", personCols, versions...)
	erased[7] = true
	if err := db.Conn.Exec(context.Background(), "ALTER TABLE "+db.Table("orders")+" UPDATE person_id = 0 WHERE person_id = 7 SETTINGS mutations_sync = 2"); err != nil {
		t.Fatal(err)
	}
	check("after an unmerge and an erasure")
}

// TestQueriesKeepTheJoinSides: the test engine (ClickHouse 26.7) knows
// query_plan_join_swap_table, so the service's queries carry it as false
// (and do_not_merge_across_partitions_select_final as 1).
func TestQueriesKeepTheJoinSides(t *testing.T) {
	db := storetest.Migrated(t)
	s := New(Options{DB: db})
	var swap string
	var final uint64
	if err := db.Conn.QueryRow(s.readContext(context.Background()), "SELECT toString(getSetting('query_plan_join_swap_table')), toUInt64(getSetting('do_not_merge_across_partitions_select_final'))").Scan(&swap, &final); err != nil {
		t.Fatal(err)
	}
	if swap != "false" && swap != "0" || final != 1 {
		t.Errorf("query_plan_join_swap_table %q, do_not_merge_across_partitions_select_final %d", swap, final)
	}
}

// TestBIViewsReadWithTheEngineSettings: every analytics view carries the
// engine's read settings (schema.AnalyticsViewSettings), and ClickHouse
// applies a view's SETTINGS to the reads inside it when the view is read
// (a probe view written as the analytics views are).
func TestBIViewsReadWithTheEngineSettings(t *testing.T) {
	db := storetest.Migrated(t)
	ctx := context.Background()
	bi := "`" + schema.BIDatabase(db.Database) + "`"
	for _, v := range []string{"actions", "customer_cohorts", "customer_months", "repurchases", "lifecycle"} {
		var ddl string
		if err := db.Conn.QueryRow(ctx, "SELECT create_table_query FROM system.tables WHERE database = ? AND name = ?", schema.BIDatabase(db.Database), v).Scan(&ddl); err != nil {
			t.Fatal(v, err)
		}
		if !strings.Contains(ddl, "SETTINGS "+schema.AnalyticsViewSettings) {
			t.Errorf("view %s does not read with the engine's settings: %s", v, ddl)
		}
	}
	if err := db.Conn.Exec(ctx, "CREATE VIEW "+bi+".settings_probe AS SELECT * FROM (SELECT toString(getSetting('query_plan_join_swap_table')) AS swap, "+
		"toUInt64(getSetting('do_not_merge_across_partitions_select_final')) AS final)\nSETTINGS "+schema.AnalyticsViewSettings); err != nil {
		t.Fatal(err)
	}
	var swap string
	var final uint64
	if err := db.Conn.QueryRow(ctx, "SELECT swap, final FROM "+bi+".settings_probe").Scan(&swap, &final); err != nil {
		t.Fatal(err)
	}
	if swap != "false" && swap != "0" || final != 1 {
		t.Errorf("read through a view: query_plan_join_swap_table %q, do_not_merge_across_partitions_select_final %d", swap, final)
	}
}
