package campaigns

import (
	"context"
	"time"
)

// population is the subquery of a campaign's persons whose conversions
// count: the holdout, and the treatment actually sent (sent or delivered).
// Its argument is the campaign id.
func (s *Service) population() string {
	return `(SELECT person_id, group, planned_at FROM ` + s.DB.Table("campaign_sends") + ` FINAL
		WHERE campaign_id = ? AND (group = 'holdout' OR (group = 'treatment' AND state IN ('sent', 'delivered'))))`
}

// matchedOrders is the subquery of order lines matching an offer (SKU or
// category), of orders not refunded or cancelled, by canonical person:
// person_id, ordered_at, amount. Its arguments are the SKUs and categories.
func (s *Service) matchedOrders() string {
	return `(SELECT p.canonical AS person_id, o.ordered_at AS ordered_at, toFloat64(l.amount) AS amount
		FROM (SELECT * FROM ` + s.DB.Table("order_lines") + ` FINAL WHERE sku IN ? OR category IN ?) AS l
		INNER JOIN (SELECT * FROM ` + s.DB.Table("orders") + ` FINAL WHERE status NOT IN ('refunded', 'cancelled')) AS o
			ON o.channel = l.channel AND o.order_id = l.order_id
		INNER JOIN (SELECT person_id, canonical FROM ` + s.DB.Table("persons") + ` FINAL) AS p ON p.person_id = o.person_id)`
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

// Results measures a campaign: conversions are persons with an order line
// matching the offer (SKU or category), not refunded or cancelled, within
// the attribution window after their send (treatment) or their assignment
// (holdout); revenue is the matching lines' amount.
func (s *Service) Results(ctx context.Context, id string) (Uplift, error) {
	c, err := s.Campaign(ctx, id)
	if err != nil {
		return Uplift{}, err
	}
	offer, err := s.Offer(ctx, c.OfferID)
	if err != nil {
		return Uplift{}, err
	}
	skus, cats := offerItems(offer)
	q := `SELECT s.group,
			uniqExact(s.person_id),
			uniqExactIf(s.person_id, m.ordered_at >= s.planned_at AND m.ordered_at < s.planned_at + toIntervalDay(?)),
			sumIf(m.amount, m.ordered_at >= s.planned_at AND m.ordered_at < s.planned_at + toIntervalDay(?))
		FROM ` + s.population() + ` AS s
		LEFT JOIN ` + s.matchedOrders() + ` AS m ON m.person_id = s.person_id
		GROUP BY s.group`
	rows, err := s.DB.Conn.Query(ctx, q, c.AttributionDays, c.AttributionDays, c.ID, skus, cats)
	if err != nil {
		return Uplift{}, err
	}
	defer rows.Close()
	type arm struct {
		n, conv uint64
		rev     float64
	}
	by := map[string]arm{}
	for rows.Next() {
		var g string
		var a arm
		if err := rows.Scan(&g, &a.n, &a.conv, &a.rev); err != nil {
			return Uplift{}, err
		}
		by[g] = a
	}
	if err := rows.Err(); err != nil {
		return Uplift{}, err
	}
	t, h := by[GroupTreatment], by[GroupHoldout]
	u := ComputeUplift(int(t.n), int(t.conv), t.rev, int(h.n), int(h.conv), h.rev)
	u.Sends, err = s.sendStates(ctx, c.ID)
	return u, err
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
	Treatment       int         `json:"treatment"` // persons sent to
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
	skus, cats := offerItems(offer)
	q := `SELECT group, count(), groupArrayIf(toString(toDate(conv, 'Asia/Shanghai')), conv > toDateTime64(0, 3, 'UTC')), min(planned_at)
		FROM (
			SELECT s.person_id, s.group AS group, any(s.planned_at) AS planned_at,
				minIf(m.ordered_at, m.ordered_at >= s.planned_at AND m.ordered_at < s.planned_at + toIntervalDay(?)) AS conv
			FROM ` + s.population() + ` AS s
			LEFT JOIN ` + s.matchedOrders() + ` AS m ON m.person_id = s.person_id
			GROUP BY s.person_id, s.group
		) GROUP BY group`
	rows, err := s.DB.Conn.Query(ctx, q, c.AttributionDays, c.ID, skus, cats)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	byDay := map[string]*ResultDay{}
	var start time.Time
	for rows.Next() {
		var group string
		var n uint64
		var days []string
		var first time.Time
		if err := rows.Scan(&group, &n, &days, &first); err != nil {
			return out, err
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
			continue
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
	}
	if err := rows.Err(); err != nil {
		return out, err
	}
	if start.IsZero() {
		return out, nil // not launched
	}
	first := start.In(shanghai)
	end := first.AddDate(0, 0, c.AttributionDays)
	if now := s.now().In(shanghai); end.After(now) {
		end = now
	}
	var tCum, hCum int
	for d := time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, shanghai); !d.After(end); d = d.AddDate(0, 0, 1) {
		key := d.Format("2006-01-02")
		day := ResultDay{Day: key}
		if got := byDay[key]; got != nil {
			day = *got
		}
		tCum += day.TreatmentConversions
		hCum += day.HoldoutConversions
		if out.Treatment > 0 {
			day.TreatmentRate = float64(tCum) / float64(out.Treatment)
		}
		if out.Holdout > 0 {
			day.HoldoutRate = float64(hCum) / float64(out.Holdout)
		}
		out.Days = append(out.Days, day)
	}
	return out, nil
}

// sendStates counts a campaign's treatment sends by state, and failed ones
// by reason too.
func (s *Service) sendStates(ctx context.Context, id string) (map[string]int, error) {
	rows, err := s.DB.Conn.Query(ctx, "SELECT state, detail, count() FROM "+s.DB.Table("campaign_sends")+
		" FINAL WHERE campaign_id = ? AND group = 'treatment' GROUP BY state, detail", id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var state, detail string
		var n uint64
		if err := rows.Scan(&state, &detail, &n); err != nil {
			return nil, err
		}
		out[state] += int(n)
		if state == "failed" && detail != "" {
			out["failed:"+detail] += int(n)
		}
	}
	return out, rows.Err()
}
