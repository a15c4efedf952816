package campaigns

import "math"

// z95 is the normal quantile of a two-sided 95% interval.
const z95 = 1.959963984540054

// Arm is one group's outcome.
type Arm struct {
	Persons   int     `json:"persons"`
	Converted int     `json:"converted"`
	Rate      float64 `json:"rate"`
	Revenue   float64 `json:"revenue"`
	// RevenuePerPerson is revenue from matching orders per person of the
	// group (recipient, for the treatment).
	RevenuePerPerson float64 `json:"revenue_per_person"`
}

// Uplift compares treatment with holdout.
type Uplift struct {
	Treatment Arm `json:"treatment"`
	Holdout   Arm `json:"holdout"`
	// Absolute is the difference of conversion rates, with its 95%
	// interval by Newcombe's hybrid score method (good at small counts).
	Absolute     float64    `json:"absolute"`
	AbsoluteCI95 [2]float64 `json:"absolute_ci95"`
	// Relative is treatment rate / holdout rate - 1, with its 95% interval
	// from the log rate ratio; absent when the holdout converted nobody.
	Relative     *float64    `json:"relative,omitempty"`
	RelativeCI95 *[2]float64 `json:"relative_ci95,omitempty"`
	// Sends counts the treatment's sends by state (planned, sending,
	// sent, delivered, failed) and failures by reason (failed:not_friend,
	// failed:wecom_cap, ...); Results fills it.
	Sends map[string]int `json:"sends,omitempty"`
}

func arm(persons, converted int, revenue float64) Arm {
	a := Arm{Persons: persons, Converted: converted, Revenue: revenue}
	if persons > 0 {
		a.Rate = float64(converted) / float64(persons)
		a.RevenuePerPerson = revenue / float64(persons)
	}
	return a
}

// wilson is the Wilson score interval of x successes in n.
func wilson(x, n int) (lo, hi float64) {
	if n == 0 {
		return 0, 1
	}
	fn, fx, z2 := float64(n), float64(x), z95*z95
	center := (fx + z2/2) / (fn + z2)
	half := z95 / (fn + z2) * math.Sqrt(fx*(fn-fx)/fn+z2/4)
	return math.Max(0, center-half), math.Min(1, center+half)
}

// ComputeUplift compares a treatment and a holdout group.
func ComputeUplift(tPersons, tConverted int, tRevenue float64, hPersons, hConverted int, hRevenue float64) Uplift {
	u := Uplift{Treatment: arm(tPersons, tConverted, tRevenue), Holdout: arm(hPersons, hConverted, hRevenue)}
	p1, p0 := u.Treatment.Rate, u.Holdout.Rate
	u.Absolute = p1 - p0
	l1, u1 := wilson(tConverted, tPersons)
	l0, u0 := wilson(hConverted, hPersons)
	u.AbsoluteCI95 = [2]float64{
		u.Absolute - math.Sqrt((p1-l1)*(p1-l1)+(u0-p0)*(u0-p0)),
		u.Absolute + math.Sqrt((u1-p1)*(u1-p1)+(p0-l0)*(p0-l0)),
	}
	if tConverted > 0 && hConverted > 0 && tPersons > 0 && hPersons > 0 {
		rr := p1 / p0
		rel := rr - 1
		se := math.Sqrt(1/float64(tConverted) - 1/float64(tPersons) + 1/float64(hConverted) - 1/float64(hPersons))
		ci := [2]float64{math.Exp(math.Log(rr)-z95*se) - 1, math.Exp(math.Log(rr)+z95*se) - 1}
		u.Relative, u.RelativeCI95 = &rel, &ci
	}
	return u
}
