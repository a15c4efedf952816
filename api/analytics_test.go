package api_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/granarycdp/cdp/analytics"
	"github.com/granarycdp/cdp/api"
	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/segments"
)

// TestAnalyticsAgreeWithTheBIViews loads the BI population through the
// ingest API (with a merge and a refund) plus repurchases in earlier
// months, then asks the analytics API and, as the read-only BI user, the
// analytics views with the SQL docs/analytics.md gives: the numbers are
// the same. A funnel's drop-off saved as a segment holds exactly the
// persons the funnel counted.
func TestAnalyticsAgreeWithTheBIViews(t *testing.T) {
	f := newIngestFixture(t, 0)
	f.biPopulation()
	var more []string
	for i, m := range []string{"M01", "M02", "M03", "M08"} {
		at := time.Now().AddDate(0, 0, -(70 + 20*i)).Format(time.RFC3339)
		more = append(more, fmt.Sprintf(`{"channel":"douyin_shop","order_id":"R-%s","status":"completed","ordered_at":%q,"amount":"59.00","city":"杭州",
			"buyer":{"member_no":%q},"lines":[{"sku":"LGI-2.5","product_name":"低GI大米 2.5kg","category":"低GI大米","quantity":1,"unit_price":"59.00"}]}`, m, at, m))
	}
	f.ingestAll(nil, more)
	ctx := context.Background()
	bi := biConn(t, clickhouse.HTTP, schema.BIDatabase(f.db.Database))
	today := schema.BeijingDate("now()") // the API's today

	t.Run("funnel and its saved drop-off", func(t *testing.T) {
		funnel := analytics.Funnel{Steps: []analytics.Step{{Kind: "event", Name: "video_complete"}, {Kind: "event", Name: "search"}}}
		var res analytics.FunnelResult
		if rec := f.do("POST", "/api/v1/analytics/funnel", adminToken, funnel, &res); rec.Code != 200 {
			t.Fatalf("funnel: %d %s", rec.Code, rec.Body)
		}
		var levels []string
		q := `SELECT level, count() FROM (
			SELECT person_id, windowFunnel(604800000)(toUInt64(toUnixTimestamp64Milli(ts)), name = 'video_complete' AND date >= ` + today + ` - 30, name = 'search') AS level
			FROM actions WHERE kind = 'event' AND date >= ` + today + ` - 30 GROUP BY person_id) WHERE level > 0 GROUP BY level ORDER BY level`
		levels, err := queryStrings(ctx, bi, q)
		if err != nil {
			t.Fatal(err)
		}
		// M03 (joined to its Douyin identity by a merge), M04 and M05
		// completed a video; nobody searched afterwards.
		if !slices.Equal(res.Total.Persons, []uint64{3, 0}) || !slices.Equal(levels, []string{"1\t3"}) {
			t.Fatalf("API %v, BI %v", res.Total.Persons, levels)
		}
		var seg segments.Definition
		body := api.FunnelSegmentRequest{Funnel: funnel, Step: 2, Outcome: analytics.Dropped, Name: "完播未搜索"}
		if rec := f.do("POST", "/api/v1/analytics/funnel/segment", adminToken, body, &seg); rec.Code != 201 || seg.Size != 3 {
			t.Fatalf("save: %d %s", rec.Code, rec.Body)
		}
		want := []uint32{f.profileOf("member_no", "M03").PersonID, f.profileOf("member_no", "M04").PersonID, f.profileOf("member_no", "M05").PersonID}
		slices.Sort(want)
		var members struct{ Items []uint32 }
		f.do("GET", "/api/v1/segments/"+seg.ID+"/members", adminToken, nil, &members)
		if !slices.Equal(members.Items, want) {
			t.Errorf("members %v, want %v", members.Items, want)
		}
	})

	t.Run("retention", func(t *testing.T) {
		var res analytics.CohortResult
		if rec := f.do("POST", "/api/v1/analytics/retention", adminToken, map[string]any{"months": 3}, &res); rec.Code != 200 {
			t.Fatalf("retention: %d %s", rec.Code, rec.Body)
		}
		var api []string
		for _, r := range res.Rows {
			api = append(api, fmt.Sprintf("%s\t%d\t%d\t%d", r.Cohort, r.Size, r.Retained[1], r.Retained[2]))
		}
		q := `SELECT toString(cohort_month), uniqExact(person_id), uniqExactIf(person_id, month_index = 1), uniqExactIf(person_id, month_index = 2)
			FROM customer_months WHERE cohort_month >= toStartOfMonth(` + today + `) - INTERVAL 3 MONTH GROUP BY cohort_month ORDER BY cohort_month`
		rows, err := queryStrings(ctx, bi, q)
		if err != nil || !slices.Equal(api, rows) || len(rows) < 2 {
			t.Errorf("API %v, BI %v (%v)", api, rows, err)
		}
	})

	t.Run("repurchase", func(t *testing.T) {
		var res analytics.RepurchaseResult
		if rec := f.do("POST", "/api/v1/analytics/repurchase", adminToken, map[string]any{"kind": "rice", "days": 60}, &res); rec.Code != 200 {
			t.Fatalf("repurchase: %d %s", rec.Code, rec.Body)
		}
		q := `SELECT count(), countIf(first_date <= ` + today + ` - 45), countIf(first_date <= ` + today + ` - 45 AND days_to_repurchase <= 45)
			FROM repurchases WHERE kind = 'rice' AND first_date >= ` + today + ` - 365`
		rows, err := queryStrings(ctx, bi, q)
		c := res.Curves[0]
		if got := fmt.Sprintf("%d\t%d\t%d", c.Buyers, c.Eligible[44], c.Repurchased[44]); err != nil || len(rows) != 1 || rows[0] != got || c.Repurchased[44] == 0 {
			t.Errorf("API %s, BI %v (%v)", got, rows, err)
		}
	})

	t.Run("lifecycle", func(t *testing.T) {
		var res analytics.LifecycleResult
		if rec := f.do("POST", "/api/v1/analytics/lifecycle", adminToken, map[string]any{"period": "month"}, &res); rec.Code != 200 {
			t.Fatalf("lifecycle: %d %s", rec.Code, rec.Body)
		}
		var api []string
		for _, p := range res.Periods {
			for state, n := range map[string]uint64{"new": p.New, "returning": p.Returning, "resurrecting": p.Resurrecting, "dormant": p.Dormant} {
				if n > 0 {
					api = append(api, fmt.Sprintf("%s\t%s\t%d", p.Period, state, n))
				}
			}
		}
		slices.Sort(api)
		q := `SELECT toString(period), state, persons FROM lifecycle WHERE audience = 'buyers' AND period_unit = 'month'
			AND period BETWEEN toStartOfMonth(` + today + ` - 366) AND toStartOfMonth(` + today + `) ORDER BY period, state`
		rows, err := queryStrings(ctx, bi, q)
		slices.Sort(rows)
		if err != nil || !slices.Equal(api, rows) || len(rows) < 3 {
			t.Errorf("API %v, BI %v (%v)", api, rows, err)
		}
	})

	t.Run("bad definitions are 400 naming the field", func(t *testing.T) {
		for path, body := range map[string]map[string]any{
			"/api/v1/analytics/funnel":     {"steps": []map[string]any{{"kind": "event"}}},
			"/api/v1/analytics/retention":  {"cohort": "age"},
			"/api/v1/analytics/repurchase": {"kind": "salt"},
			"/api/v1/analytics/lifecycle":  {"period": "day"},
			"/api/v1/analytics/ltv":        {"months": 99},
		} {
			var e api.Error
			if rec := f.do("POST", path, adminToken, body, &e); rec.Code != 400 || e.Field == "" || e.Code != api.CodeInvalid {
				t.Errorf("%s: %d %+v", path, rec.Code, e)
			}
		}
	})
}
