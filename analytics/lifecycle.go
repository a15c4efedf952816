package analytics

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/granarycdp/cdp/schema"
)

// LTV is the LTV curves of customer cohorts: the average yuan of valid
// orders per customer, cumulated by calendar month since the first order
// (the default cohort: channel).
type LTV struct{ Cohorts }

// LTV computes LTV curves.
func (s *Service) LTV(ctx context.Context, q LTV, refresh bool) (CohortResult, error) {
	expr, from, to, err := s.cohorts(&q.Cohorts, CohortChannel)
	if err != nil {
		return CohortResult{}, err
	}
	res, meta, err := cached(s, keyOf("ltv", q), refresh, func() (CohortResult, error) { return s.ltv(ctx, q, expr, from, to) })
	res.Meta = meta
	return res, err
}

func (s *Service) ltv(ctx context.Context, q LTV, expr string, from, to time.Time) (CohortResult, error) {
	res := CohortResult{Cohort: q.Cohort, Months: q.Months, Rows: []CohortRow{}}
	rows, err := s.db.Conn.Query(s.readContext(ctx), "SELECT "+expr+" AS cohort, cohort_month, month_index, countIf(month_index = 0), sum(spend) FROM "+
		schema.CustomerMonths(s.db.Table, q.Cohort == CohortCategory)+" WHERE cohort_month BETWEEN ? AND ? AND month_index <= ? GROUP BY ALL",
		from.Format(dateLayout), to.Format(dateLayout), q.Months)
	if err != nil {
		return res, fmt.Errorf("analytics: ltv: %w", err)
	}
	defer rows.Close()
	type cell struct {
		month time.Time
		index uint32
		size  uint64
		spend float64
	}
	cells := map[string][]cell{}
	for rows.Next() {
		var c string
		var x cell
		if err := rows.Scan(&c, &x.month, &x.index, &x.size, &x.spend); err != nil {
			return res, fmt.Errorf("analytics: ltv: %w", err)
		}
		cells[c] = append(cells[c], x)
	}
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("analytics: ltv: %w", err)
	}
	this := s.thisMonth()
	for c, list := range cells {
		cv := CohortRow{Cohort: c, Value: make([]float64, q.Months+1), Eligible: make([]uint64, q.Months+1)}
		for _, x := range list {
			cv.Size += x.size
		}
		for k := 0; k <= q.Months; k++ {
			var spend float64
			for _, x := range list {
				if x.month.AddDate(0, k, 0).After(this) {
					continue
				}
				cv.Eligible[k] += x.size
				if int(x.index) <= k {
					spend += x.spend
				}
			}
			if cv.Eligible[k] > 0 {
				cv.Value[k] = spend / float64(cv.Eligible[k])
			}
		}
		res.Rows = append(res.Rows, cv)
	}
	slices.SortFunc(res.Rows, func(a, b CohortRow) int { return strings.Compare(a.Cohort, b.Cohort) })
	return res, nil
}

// Lifecycle counts customers per period by lifecycle state
// (schema.Lifecycle).
type Lifecycle struct {
	// Audience is buyers (valid orders; the default) or engaged
	// (behaviour events or their own WeCom messages).
	Audience string `json:"audience,omitempty"`
	// Period is week (Monday to Sunday, Beijing; the default) or month.
	Period string `json:"period,omitempty"`
	// From and To bound the periods shown (YYYY-MM-DD, the periods that
	// contain them); To defaults to today, From to 12 periods before.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// LifecyclePeriod is one period's counts. Dormant customers were active
// in the period before but not in this one.
type LifecyclePeriod struct {
	Period       string `json:"period"`
	New          uint64 `json:"new"`
	Returning    uint64 `json:"returning"`
	Resurrecting uint64 `json:"resurrecting"`
	Dormant      uint64 `json:"dormant"`
}

// LifecycleResult is the periods in order.
type LifecycleResult struct {
	Audience string            `json:"audience"`
	Period   string            `json:"period"`
	Periods  []LifecyclePeriod `json:"periods"`
	Meta
}

// Lifecycle computes lifecycle states per period.
func (s *Service) Lifecycle(ctx context.Context, q Lifecycle, refresh bool) (LifecycleResult, error) {
	if q.Audience == "" {
		q.Audience = schema.AudienceBuyers
	}
	if q.Audience != schema.AudienceBuyers && q.Audience != schema.AudienceEngaged {
		return LifecycleResult{}, invalid("audience", "buyers or engaged, not %q", q.Audience)
	}
	if q.Period == "" {
		q.Period = schema.PeriodWeek
	}
	if q.Period != schema.PeriodWeek && q.Period != schema.PeriodMonth {
		return LifecycleResult{}, invalid("period", "week or month, not %q", q.Period)
	}
	def := 7 * 12
	if q.Period == schema.PeriodMonth {
		def = 366
	}
	r, err := s.parseRange(q.From, q.To, def)
	if err != nil {
		return LifecycleResult{}, err
	}
	from, to := periodStart(r.from, q.Period), periodStart(r.to, q.Period)
	if now := periodStart(s.today(), q.Period); to.After(now) {
		to = now
	}
	q.From, q.To = from.Format(dateLayout), to.Format(dateLayout)
	res, meta, err := cached(s, keyOf("lifecycle", q), refresh, func() (LifecycleResult, error) { return s.lifecycle(ctx, q) })
	res.Meta = meta
	return res, err
}

// periodStart is the Monday of t's week or the first of its month.
func periodStart(t time.Time, unit string) time.Time {
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	if unit == schema.PeriodMonth {
		return d.AddDate(0, 0, 1-d.Day())
	}
	return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
}

func (s *Service) lifecycle(ctx context.Context, q Lifecycle) (LifecycleResult, error) {
	res := LifecycleResult{Audience: q.Audience, Period: q.Period, Periods: []LifecyclePeriod{}}
	rows, err := s.db.Conn.Query(s.readContext(ctx), "SELECT toString(period), state, persons FROM "+schema.Lifecycle(s.db.Table, q.Audience, q.Period)+
		" WHERE period BETWEEN ? AND ? ORDER BY period", q.From, q.To)
	if err != nil {
		return res, fmt.Errorf("analytics: lifecycle: %w", err)
	}
	defer rows.Close()
	index := map[string]int{}
	for d, _ := time.Parse(dateLayout, q.From); !d.After(mustDate(q.To)); d = nextPeriod(d, q.Period) {
		index[d.Format(dateLayout)] = len(res.Periods)
		res.Periods = append(res.Periods, LifecyclePeriod{Period: d.Format(dateLayout)})
	}
	for rows.Next() {
		var period, state string
		var n uint64
		if err := rows.Scan(&period, &state, &n); err != nil {
			return res, fmt.Errorf("analytics: lifecycle: %w", err)
		}
		i, ok := index[period]
		if !ok {
			continue
		}
		p := &res.Periods[i]
		*map[string]*uint64{"new": &p.New, "returning": &p.Returning, "resurrecting": &p.Resurrecting, "dormant": &p.Dormant}[state] = n
	}
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("analytics: lifecycle: %w", err)
	}
	return res, nil
}

func mustDate(s string) time.Time {
	t, _ := time.Parse(dateLayout, s)
	return t
}

func nextPeriod(d time.Time, unit string) time.Time {
	if unit == schema.PeriodMonth {
		return d.AddDate(0, 1, 0)
	}
	return d.AddDate(0, 0, 7)
}
