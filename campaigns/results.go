package campaigns

import (
	"context"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/granarycdp/cdp/schema"
)

// arms is the subquery of campaigns' persons in either arm, by intention
// to treat: everyone assigned to treatment counts, whatever became of
// their send, as everyone in the holdout does. Each row is a campaign, a
// planned person (planned), the canonical person they are now (person_id:
// persons merged after planning are followed, in both arms alike), their
// group, when they were planned and whether a message reached them
// (reached: sent or delivered). Its parameter is {campaigns:Array(String)}.
func (s *Service) arms() string {
	return `(SELECT x.campaign_id AS campaign_id, x.person_id AS planned, if(p.canonical = 0, x.person_id, p.canonical) AS person_id,
			x.group AS group, x.planned_at AS planned_at, toFloat64(x.state IN ('sent', 'delivered')) AS reached
		FROM (SELECT campaign_id, person_id, group, planned_at, state FROM ` + s.DB.Table("campaign_sends") + ` FINAL
			WHERE campaign_id IN {campaigns:Array(String)} AND group IN ('treatment', 'holdout')) AS x
		LEFT JOIN ` + schema.Canonical(s.DB.Table("persons"), "") + ` AS p ON p.person_id = x.person_id)`
}

// matchedOrders is the subquery of order lines matching an offer (SKU or
// category), of orders not refunded or cancelled, by canonical person:
// person_id, channel, order_id, ordered_at, amount. Its parameters are
// {skus:Array(String)} and {categories:Array(String)}.
func (s *Service) matchedOrders() string {
	return `(SELECT p.canonical AS person_id, o.channel AS channel, o.order_id AS order_id, o.ordered_at AS ordered_at, toFloat64(l.amount) AS amount
		FROM (SELECT * FROM ` + s.DB.Table("order_lines") + ` FINAL WHERE sku IN {skus:Array(String)} OR category IN {categories:Array(String)}) AS l
		INNER JOIN (SELECT * FROM ` + s.DB.Table("orders") + ` FINAL WHERE ` + schema.ValidOrder + `) AS o
			ON o.channel = l.channel AND o.order_id = l.order_id
		INNER JOIN ` + schema.Canonical(s.DB.Table("persons"), "") + ` AS p ON p.person_id = o.person_id)`
}

func offerItems(o Offer) (skus, cats []string) {
	skus, cats = o.SKUs, o.Categories
	if skus == nil {
		skus = []string{}
	}
	if cats == nil {
		cats = []string{}
	}
	return skus, cats
}

// preDays is how far back before a person's planning the CUPED
// covariates look: orders and spend in the offer's items over 90 days
// (a household buys rice every 2-3 weeks: some five purchases).
const preDays = 90

// Results measures a campaign by intention to treat: conversions are
// persons with an order line matching the offer (SKU or category), not
// refunded or cancelled, within the attribution window after their
// planning, in either arm; revenue is the matching lines' amount.
func (s *Service) Results(ctx context.Context, id string) (Uplift, error) {
	c, err := s.Campaign(ctx, id)
	if err != nil {
		return Uplift{}, err
	}
	offer, err := s.Offer(ctx, c.OfferID)
	if err != nil {
		return Uplift{}, err
	}
	sums, err := s.armSums(ctx, []string{c.ID}, c.AttributionDays, offer, time.Time{})
	if err != nil {
		return Uplift{}, err
	}
	t, h := sums[c.ID][GroupTreatment], sums[c.ID][GroupHoldout]
	tStar := t.N + h.N
	if c.Trigger != TriggerOnce && c.Trigger != "" {
		tStar = triggeredTStar
	}
	u := Measure(t, h, tStar)
	if u.Sends, err = s.sendStates(ctx, c.ID); err != nil {
		return u, err
	}
	u.Excluded, u.HoldoutExcluded, err = s.exclusions(ctx, c.ID)
	return u, err
}

// triggeredTStar is where a triggered campaign's confidence sequence is
// tightest: its persons arrive over time, so the plan's size is not known
// in advance; 10,000 persons is a large audience's share of a month.
const triggeredTStar = 10_000

// outcomes is the subquery of each planned person's outcome in
// campaigns sent with one offer: campaign_id, planned, group, reached,
// planned_at, converted_at (their first matching order in the attribution window, 0
// if none), conv (0 or 1) and rev (yuan) as of a time, and the CUPED
// covariates xo and xs (matching orders and their yuan in the preDays
// before planning). Its parameters are those of outcomeArgs.
func (s *Service) outcomes() string { return s.outcomesOf(s.arms()) }

// outcomesOf is outcomes over arms, a subquery with the columns of arms.
func (s *Service) outcomesOf(arms string) string {
	const window = `m.ordered_at >= s.planned_at AND m.ordered_at < s.planned_at + toIntervalDay({days:Int64}) AND m.ordered_at < {as_of:DateTime64(3, 'UTC')}`
	const before = `m.ordered_at < s.planned_at AND m.ordered_at >= s.planned_at - toIntervalDay({pre_days:Int64})`
	return `(SELECT s.campaign_id AS campaign_id, s.planned AS planned, s.group AS group, any(s.reached) AS reached, any(s.planned_at) AS planned_at,
			minIf(m.ordered_at, ` + window + `) AS converted_at, toFloat64(converted_at > toDateTime64(0, 3, 'UTC')) AS conv,
			sumIf(m.amount, ` + window + `) AS rev,
			toFloat64(uniqExactIf(m.channel, m.order_id, ` + before + `)) AS xo, sumIf(m.amount, ` + before + `) AS xs
		FROM ` + arms + ` AS s
		LEFT JOIN ` + s.matchedOrders() + ` AS m ON m.person_id = s.person_id
		GROUP BY s.campaign_id, s.planned, s.group)`
}

// outcomeArgs are the parameters of outcomes: campaigns ids sent with one
// offer and an attribution window of days, as of asOf (orders from then
// on do not count yet; zero: all orders).
func outcomeArgs(ids []string, days int, offer Offer, asOf time.Time) []any {
	if asOf.IsZero() {
		asOf = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	skus, cats := offerItems(offer)
	return []any{named("days", days), named("as_of", asOf), named("pre_days", preDays), named("campaigns", ids),
		named("skus", skus), named("categories", cats)}
}

// armSums sums each arm's outcomes of campaigns sent with one offer and
// attribution window, by campaign and group (see outcomeArgs).
func (s *Service) armSums(ctx context.Context, ids []string, days int, offer Offer, asOf time.Time) (map[string]map[string]ArmSums, error) {
	return s.armSumsOf(ctx, s.arms(), ids, days, offer, asOf)
}

// armSumsOf is armSums over arms, a subquery with the columns of arms.
func (s *Service) armSumsOf(ctx context.Context, arms string, ids []string, days int, offer Offer, asOf time.Time) (map[string]map[string]ArmSums, error) {
	q := `SELECT campaign_id, group, count(), sum(reached), sum(conv), sum(conv * reached), sum(rev), sum(rev * rev), sum(rev * reached),
			sum(xo), sum(xs), sum(xo * xo), sum(xo * xs), sum(xs * xs), sum(conv * xo), sum(conv * xs), sum(rev * xo), sum(rev * xs)
		FROM ` + s.outcomesOf(arms) + ` GROUP BY campaign_id, group`
	out := map[string]map[string]ArmSums{}
	err := s.each(ctx, "sum the arms' outcomes", q, outcomeArgs(ids, days, offer, asOf), func(rows driver.Rows) error {
		var id, g string
		var n uint64
		var a ArmSums
		if err := rows.Scan(&id, &g, &n, &a.Reached, &a.Conv, &a.ConvD, &a.Rev, &a.Rev2, &a.RevD,
			&a.X[0], &a.X[1], &a.XX[0][0], &a.XX[0][1], &a.XX[1][1], &a.ConvX[0], &a.ConvX[1], &a.RevX[0], &a.RevX[1]); err != nil {
			return err
		}
		a.N, a.XX[1][0] = float64(n), a.XX[0][1]
		if out[id] == nil {
			out[id] = map[string]ArmSums{}
		}
		out[id][g] = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Outcome is one planned person's outcome in a campaign (see outcomes).
type Outcome struct {
	Person    uint32 // canonical now
	Group     string
	Reached   bool
	Converted bool
}

// Outcomes lists a campaign's persons in either arm with their outcome.
func (s *Service) Outcomes(ctx context.Context, id string) ([]Outcome, error) {
	c, err := s.Campaign(ctx, id)
	if err != nil {
		return nil, err
	}
	offer, err := s.Offer(ctx, c.OfferID)
	if err != nil {
		return nil, err
	}
	return collect(ctx, s, "read the outcomes", "SELECT o.group, o.reached, o.conv, if(p.canonical = 0, o.planned, p.canonical) FROM "+s.outcomes()+
		" AS o LEFT JOIN "+schema.Canonical(s.DB.Table("persons"), "")+" AS p ON p.person_id = o.planned",
		outcomeArgs([]string{c.ID}, c.AttributionDays, offer, time.Time{}), func(rows driver.Rows, o *Outcome) error {
			var reached, conv float64
			err := rows.Scan(&o.Group, &reached, &conv, &o.Person)
			o.Reached, o.Converted = reached == 1, conv == 1
			return err
		})
}

// exclusions counts a campaign's excluded persons by reason: those drawn
// into the holdout apart (they would have been excluded from a send).
func (s *Service) exclusions(ctx context.Context, id string) (excluded, holdout map[string]int, err error) {
	excluded, holdout = map[string]int{}, map[string]int{}
	err = s.each(ctx, "count the exclusions", "SELECT reason, detail = {holdout:String}, count() FROM "+s.DB.Table("campaign_sends")+
		" FINAL WHERE campaign_id = {campaign:String} AND group = 'excluded' GROUP BY reason, detail = {holdout:String}",
		[]any{named("holdout", detailHoldoutArm), named("campaign", id)}, func(rows driver.Rows) error {
			var reason string
			var inHoldout bool
			var n uint64
			if err := rows.Scan(&reason, &inHoldout, &n); err != nil {
				return err
			}
			if inHoldout {
				holdout[reason] += int(n)
			} else {
				excluded[reason] += int(n)
			}
			return nil
		})
	if err != nil {
		return nil, nil, err
	}
	return excluded, holdout, nil
}

// ResultDay is one day of a campaign's results: conversions that day and
// the cumulative conversion rate of each group up to its end.
type ResultDay struct {
	Day                  string  `json:"day"` // YYYY-MM-DD in Asia/Shanghai
	TreatmentConversions int     `json:"treatment_conversions"`
	HoldoutConversions   int     `json:"holdout_conversions"`
	TreatmentRate        float64 `json:"treatment_rate"` // cumulative
	HoldoutRate          float64 `json:"holdout_rate"`   // cumulative
}

// ResultsOverTime are a campaign's conversions by day of the attribution
// window, counted as Results counts them (a person's first matching order
// within the window).
type ResultsOverTime struct {
	CampaignID      string      `json:"campaign_id"`
	AttributionDays int         `json:"attribution_days"`
	Treatment       int         `json:"treatment"` // persons assigned to treatment
	Holdout         int         `json:"holdout"`
	Days            []ResultDay `json:"days"`
}

// ResultsDaily returns a campaign's conversions by day of its attribution
// window (up to today), zero days included.
func (s *Service) ResultsDaily(ctx context.Context, id string) (ResultsOverTime, error) {
	c, err := s.Campaign(ctx, id)
	if err != nil {
		return ResultsOverTime{}, err
	}
	offer, err := s.Offer(ctx, c.OfferID)
	if err != nil {
		return ResultsOverTime{}, err
	}
	out := ResultsOverTime{CampaignID: c.ID, AttributionDays: c.AttributionDays, Days: []ResultDay{}}
	q := `SELECT group, count(), groupArrayIf(toString(` + schema.BeijingDate("converted_at") + `), conv = 1), min(planned_at)
		FROM ` + s.outcomes() + ` GROUP BY group`
	byDay := map[string]*ResultDay{}
	var start time.Time
	err = s.each(ctx, "read conversions by day", q, outcomeArgs([]string{c.ID}, c.AttributionDays, offer, time.Time{}), func(rows driver.Rows) error {
		var group string
		var n uint64
		var days []string
		var first time.Time
		if err := rows.Scan(&group, &n, &days, &first); err != nil {
			return err
		}
		if start.IsZero() || first.Before(start) {
			start = first
		}
		switch group {
		case GroupTreatment:
			out.Treatment = int(n)
		case GroupHoldout:
			out.Holdout = int(n)
		default:
			return nil
		}
		for _, d := range days {
			if byDay[d] == nil {
				byDay[d] = &ResultDay{Day: d}
			}
			if group == GroupTreatment {
				byDay[d].TreatmentConversions++
			} else {
				byDay[d].HoldoutConversions++
			}
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	if start.IsZero() {
		return out, nil // not launched
	}
	out.Days = s.resultDays(start, c.AttributionDays, byDay, out.Treatment, out.Holdout)
	return out, nil
}

// resultDays are the days from start's (Beijing time) to the end of the
// attribution window or today, whichever is first, with the conversions
// of byDay and the cumulative rates of groups of treatment and holdout
// persons.
func (s *Service) resultDays(start time.Time, attributionDays int, byDay map[string]*ResultDay, treatment, holdout int) []ResultDay {
	first := start.In(schema.Beijing)
	end := first.AddDate(0, 0, attributionDays)
	if now := s.now().In(schema.Beijing); end.After(now) {
		end = now
	}
	out := []ResultDay{}
	var tCum, hCum int
	for d := time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, schema.Beijing); !d.After(end); d = d.AddDate(0, 0, 1) {
		key := d.Format("2006-01-02")
		day := ResultDay{Day: key}
		if got := byDay[key]; got != nil {
			day = *got
		}
		tCum += day.TreatmentConversions
		hCum += day.HoldoutConversions
		if treatment > 0 {
			day.TreatmentRate = float64(tCum) / float64(treatment)
		}
		if holdout > 0 {
			day.HoldoutRate = float64(hCum) / float64(holdout)
		}
		out = append(out, day)
	}
	return out
}

// sendStates counts a campaign's treatment sends by state, and failed ones
// by reason too.
func (s *Service) sendStates(ctx context.Context, id string) (map[string]int, error) {
	out := map[string]int{}
	err := s.each(ctx, "count the sends by state", "SELECT state, detail, count() FROM "+s.DB.Table("campaign_sends")+
		" FINAL WHERE campaign_id = {campaign:String} AND group = 'treatment' GROUP BY state, detail", []any{named("campaign", id)},
		func(rows driver.Rows) error {
			var state, detail string
			var n uint64
			if err := rows.Scan(&state, &detail, &n); err != nil {
				return err
			}
			out[state] += int(n)
			if state == "failed" && detail != "" {
				out["failed:"+detail] += int(n)
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}
