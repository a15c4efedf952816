package analytics

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/granarycdp/cdp/schema"
)

// Cohort dimensions of retention and LTV.
const (
	CohortMonth    = "first_order_month"
	CohortChannel  = "channel"
	CohortCategory = "first_category"
)

// cohortExpr is a cohort dimension over the columns of CustomerOrders (and CustomerMonths).
func cohortExpr(cohort string) (string, bool) {
	switch cohort {
	case CohortMonth:
		return "toString(cohort_month)", true
	case CohortChannel:
		return "first_channel", true
	case CohortCategory:
		return "first_category", true
	}
	return "", false
}

// Cohorts selects customers by their first valid order: grouped by its
// month, channel or first category, first orders in [From, To], followed
// for Months calendar months after the first.
type Cohorts struct {
	// Cohort is first_order_month, channel or first_category (the
	// default depends on the analysis).
	Cohort string `json:"cohort,omitempty"`
	// Months is how many months after the first are shown (1-24; 12).
	Months int `json:"months,omitempty"`
	// From and To bound the first orders' Beijing months (YYYY-MM-DD,
	// any day of the month); To defaults to this month, From to Months
	// months before To.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// normalize fills the defaults and returns the cohort expression and the
// months.
func (s *Service) cohorts(c *Cohorts, def string) (string, time.Time, time.Time, error) {
	if c.Cohort == "" {
		c.Cohort = def
	}
	expr, ok := cohortExpr(c.Cohort)
	if !ok {
		return "", time.Time{}, time.Time{}, invalid("cohort", "first_order_month, channel or first_category, not %q", c.Cohort)
	}
	if c.Months == 0 {
		c.Months = 12
	}
	if c.Months < 1 || c.Months > 24 {
		return "", time.Time{}, time.Time{}, invalid("months", "1 to 24 months, not %d", c.Months)
	}
	from, to, err := s.monthRange(c.From, c.To, c.Months)
	c.From, c.To = from.Format(dateLayout), to.Format(dateLayout)
	return expr, from, to, err
}

// Retention is a cohort retention table: how many of a cohort's customers
// ordered again in each calendar month after their first order's (the
// default cohort: first_order_month).
type Retention struct{ Cohorts }

// CohortRow is one cohort of a retention table or of LTV curves.
type CohortRow struct {
	Cohort string `json:"cohort"`
	Size   uint64 `json:"size"`
	// Eligible[k] counts customers whose k-th month after their first
	// order's month has begun: the denominator of month k.
	Eligible []uint64 `json:"eligible"`
	// Retained[k] (retention) counts customers with a valid order in the
	// k-th calendar month after their first order's (Retained[0] = Size).
	Retained []uint64 `json:"retained,omitempty"`
	// Value[k] (LTV) is the yuan per eligible customer up to the end of
	// month k.
	Value []float64 `json:"value,omitempty"`
}

// CohortResult is a retention table or LTV curves, a row per cohort.
type CohortResult struct {
	Cohort string      `json:"cohort"`
	Months int         `json:"months"`
	Rows   []CohortRow `json:"rows"`
	Meta
}

// monthRange reads From and To as months: [first day of From's month,
// first day of To's month].
func (s *Service) monthRange(from, to string, months int) (time.Time, time.Time, error) {
	r, err := s.parseRange(from, to, 0)
	if from == "" && err == nil {
		r.from = r.to.AddDate(0, -months, 0)
	}
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	first := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC) }
	return first(r.from), first(r.to), nil
}

// Retention computes a retention table from CustomerMonthBits: per
// customer, whether each month after the first order's is among their
// months.
func (s *Service) Retention(ctx context.Context, q Retention, refresh bool) (CohortResult, error) {
	expr, from, to, err := s.cohorts(&q.Cohorts, CohortMonth)
	if err != nil {
		return CohortResult{}, err
	}
	res, meta, err := cached(s, keyOf("retention", q), refresh, func() (CohortResult, error) {
		return s.retention(ctx, q, expr, from, to)
	})
	res.Meta = meta
	return res, err
}

func (s *Service) retention(ctx context.Context, q Retention, expr string, from, to time.Time) (CohortResult, error) {
	// Per customer, r[k] is whether they ordered in the k-th month after
	// their first order's (bit cohort_bit + k of CustomerMonthBits' months
	// counted from the first cohort, from) and e[k] whether that month has
	// begun. From's month to To's is at most 37 months (parseRange keeps
	// a range within three years) and Months at most 24, so every month
	// asked for has its bit.
	if span := monthsBetween(from, to) + q.Months; span >= schema.MonthBitsSpan {
		return CohortResult{}, fmt.Errorf("BUG: analytics: retention over %d months, more than the %d month bits", span+1, schema.MonthBitsSpan)
	}
	var p params
	this := p.add("Date", s.thisMonth().Format(dateLayout))
	base := p.add("Date", from.Format(dateLayout))
	sql := "SELECT " + expr + " AS cohort, count(), sumForEach(r), sumForEach(e) FROM (\n" +
		fmt.Sprintf("SELECT *, arrayMap(k -> toUInt8(bitTest(month_bits, cohort_bit + k)), range(%d)) AS r,\n", q.Months+1) +
		fmt.Sprintf("    arrayMap(k -> toUInt8(addMonths(cohort_month, k) <= %s), range(%d)) AS e\n", this, q.Months+1) +
		"FROM " + schema.CustomerMonthBits(s.db.Table, base, q.Cohort == CohortCategory) + "\nWHERE cohort_month BETWEEN " + base + " AND " + p.add("Date", to.Format(dateLayout)) +
		")\nGROUP BY cohort ORDER BY cohort"
	rows, err := s.db.Conn.Query(s.readContext(ctx), sql, p.list...)
	if err != nil {
		return CohortResult{}, fmt.Errorf("analytics: retention: %w", err)
	}
	defer rows.Close()
	res := CohortResult{Cohort: q.Cohort, Months: q.Months, Rows: []CohortRow{}}
	for rows.Next() {
		var r CohortRow
		if err := rows.Scan(&r.Cohort, &r.Size, &r.Retained, &r.Eligible); err != nil {
			return res, fmt.Errorf("analytics: retention: %w", err)
		}
		res.Rows = append(res.Rows, r)
	}
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("analytics: retention: %w", err)
	}
	return res, nil
}

// monthsBetween is the number of calendar months from a's to b's.
func monthsBetween(a, b time.Time) int {
	return (b.Year()-a.Year())*12 + int(b.Month()) - int(a.Month())
}

// thisMonth is the first day of the clock's Beijing month.
func (s *Service) thisMonth() time.Time {
	t := s.today()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// Repurchase is the repurchase curve of rice or oil: of the customers
// who first bought the kind in [From, To], the share who bought it again
// within N days, for N = 1 .. Days.
type Repurchase struct {
	// Kind is rice (categories naming 米) or oil (naming 油).
	Kind string `json:"kind"`
	// Days is the curve's length (1-365); 0: three of the kind's cycles.
	Days int `json:"days,omitempty"`
	// Cohort splits the curve by first_order_month, channel or
	// first_category; "" for one curve.
	Cohort string `json:"cohort,omitempty"`
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
}

// RepurchaseCurve is the curve of one cohort.
type RepurchaseCurve struct {
	Cohort string `json:"cohort"`
	Buyers uint64 `json:"buyers"`
	// Eligible[n-1] counts buyers whose first purchase was at least n
	// days ago; Repurchased[n-1] those of them who bought again within n
	// days; Rate[n-1] their ratio (0 when none is eligible).
	Eligible    []uint64  `json:"eligible"`
	Repurchased []uint64  `json:"repurchased"`
	Rate        []float64 `json:"rate"`
}

// RepurchaseResult is the curves of a kind with its cycle.
type RepurchaseResult struct {
	Kind string `json:"kind"`
	// CycleDays is the kind's own cycle: the median number of days
	// between two purchase days of the kind over all customers, or the
	// prior (schema.RiceCycleDays, OilCycleDays) when nobody bought twice.
	CycleDays   float64           `json:"cycle_days"`
	CycleSource string            `json:"cycle_source"`
	Days        int               `json:"days"`
	Curves      []RepurchaseCurve `json:"curves"`
	Meta
}

// Repurchase computes a repurchase curve.
func (s *Service) Repurchase(ctx context.Context, q Repurchase, refresh bool) (RepurchaseResult, error) {
	if q.Kind != "rice" && q.Kind != "oil" {
		return RepurchaseResult{}, invalid("kind", "rice or oil, not %q", q.Kind)
	}
	if q.Days < 0 || q.Days > 365 {
		return RepurchaseResult{}, invalid("days", "1 to 365 days, not %d", q.Days)
	}
	if q.Cohort != "" && q.Cohort != CohortMonth && q.Cohort != CohortChannel {
		return RepurchaseResult{}, invalid("cohort", "first_order_month or channel, not %q", q.Cohort)
	}
	r, err := s.parseRange(q.From, q.To, 365)
	if err != nil {
		return RepurchaseResult{}, err
	}
	q.From, q.To = r.from.Format(dateLayout), r.to.Format(dateLayout)
	res, meta, err := cached(s, keyOf("repurchase", q), refresh, func() (RepurchaseResult, error) { return s.repurchase(ctx, q, r) })
	res.Meta = meta
	return res, err
}

func (s *Service) repurchase(ctx context.Context, q Repurchase, r dateRange) (RepurchaseResult, error) {
	res := RepurchaseResult{Kind: q.Kind, Days: q.Days, Curves: []RepurchaseCurve{}}
	var gap float64
	var n uint64
	if err := s.db.Conn.QueryRow(s.readContext(ctx), "SELECT toFloat64(quantileExact(0.5)(g)), count() FROM "+schema.Repurchases(s.db.Table)+
		" ARRAY JOIN gaps AS g WHERE kind = ?", q.Kind).Scan(&gap, &n); err != nil {
		return res, fmt.Errorf("analytics: repurchase cycle: %w", err)
	}
	res.CycleDays, res.CycleSource = gap, "data"
	if n == 0 {
		res.CycleDays, res.CycleSource = map[string]float64{"rice": schema.RiceCycleDays, "oil": schema.OilCycleDays}[q.Kind], "prior"
	}
	if res.Days == 0 {
		res.Days = min(365, max(7, int(3*res.CycleDays+0.5)))
	}
	cohort := map[string]string{"": "''", CohortMonth: "toString(toStartOfMonth(r.first_date))", CohortChannel: "r.first_channel"}[q.Cohort]
	rows, err := s.db.Conn.Query(s.readContext(ctx), "SELECT "+cohort+" AS cohort, r.first_date, ifNull(r.days_to_repurchase, 0), r.days_to_repurchase IS NOT NULL, count() FROM "+
		schema.Repurchases(s.db.Table)+" AS r WHERE r.kind = ? AND r.first_date BETWEEN ? AND ? GROUP BY ALL", q.Kind, r.from.Format(dateLayout), r.to.Format(dateLayout))
	if err != nil {
		return res, fmt.Errorf("analytics: repurchase: %w", err)
	}
	defer rows.Close()
	curves := map[string]*RepurchaseCurve{}
	today := s.today()
	for rows.Next() {
		var c string
		var first time.Time
		var days uint32
		var again bool
		var count uint64
		if err := rows.Scan(&c, &first, &days, &again, &count); err != nil {
			return res, fmt.Errorf("analytics: repurchase: %w", err)
		}
		cv := curves[c]
		if cv == nil {
			cv = &RepurchaseCurve{Cohort: c, Eligible: make([]uint64, res.Days), Repurchased: make([]uint64, res.Days), Rate: make([]float64, res.Days)}
			curves[c] = cv
		}
		cv.Buyers += count
		observed := int(today.Sub(time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, schema.Beijing)).Hours() / 24)
		for d := 1; d <= res.Days && d <= observed; d++ {
			cv.Eligible[d-1] += count
			if again && int(days) <= d {
				cv.Repurchased[d-1] += count
			}
		}
	}
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("analytics: repurchase: %w", err)
	}
	for _, cv := range curves {
		for i := range cv.Rate {
			if cv.Eligible[i] > 0 {
				cv.Rate[i] = float64(cv.Repurchased[i]) / float64(cv.Eligible[i])
			}
		}
		res.Curves = append(res.Curves, *cv)
	}
	slices.SortFunc(res.Curves, func(a, b RepurchaseCurve) int { return strings.Compare(a.Cohort, b.Cohort) })
	return res, nil
}
