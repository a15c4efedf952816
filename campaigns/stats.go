package campaigns

import "math"

// z95 is the normal quantile of a two-sided 95% interval.
const z95 = 1.959963984540054

// alpha is the error rate of every interval and sequence: 5%.
const alpha = 0.05

// Arm is one group's outcome.
type Arm struct {
	Persons   int     `json:"persons"`
	Converted int     `json:"converted"`
	Rate      float64 `json:"rate"`
	Revenue   float64 `json:"revenue"`
	// RevenuePerPerson is revenue from matching orders per person of the
	// group (everyone assigned to it, delivered or not).
	RevenuePerPerson float64 `json:"revenue_per_person"`
	// Reached counts the treatment persons sent or delivered to.
	Reached int `json:"reached,omitempty"`
}

// Uplift compares treatment with holdout by intention to treat: the
// treatment is everyone assigned to it, whether or not the message reached
// them, so that it stays comparable with the holdout.
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
	// Conversion is the effect on the conversion rate and Revenue the
	// effect on revenue per person, each with a fixed-horizon interval, an
	// anytime-valid confidence sequence, the CUPED-adjusted estimate and
	// the complier average effect; Measure fills them.
	Conversion *Effect `json:"conversion,omitempty"`
	Revenue    *Effect `json:"revenue_per_person,omitempty"`
	// Sends counts the treatment's sends by state (planned, sending,
	// sent, delivered, failed) and failures by reason (failed:not_friend,
	// failed:wecom_cap, ...); Results fills it.
	Sends map[string]int `json:"sends,omitempty"`
	// Excluded counts the plan's exclusions by reason; HoldoutExcluded
	// those of holdout persons a cap, quiet hours or the send limit would
	// have kept from a send (they left the holdout as their twins left
	// treatment).
	Excluded        map[string]int `json:"excluded,omitempty"`
	HoldoutExcluded map[string]int `json:"holdout_excluded,omitempty"`
}

// Interval is an estimate with its standard error, its fixed-horizon 95%
// interval (normal, unequal variances: valid when read once, at the end of
// the attribution window) and its anytime-valid 95% confidence sequence
// (valid however often it is read while the campaign runs; csMultiplier).
type Interval struct {
	Estimate float64    `json:"estimate"`
	SE       float64    `json:"se"`
	CI95     [2]float64 `json:"ci95"`
	CS95     [2]float64 `json:"cs95"`
}

// Effect is a difference between treatment and holdout means (of the
// conversion indicator, or of revenue per person), by intention to treat.
type Effect struct {
	Interval
	// Significant tells whether the confidence sequence (of the CUPED
	// estimate when there is one) excludes zero: the console's badge.
	Significant bool `json:"significant"`
	// CUPED is the estimate adjusted for each person's pre-campaign orders
	// and spend in the offer's items; nil when nobody had any.
	CUPED *Adjusted `json:"cuped,omitempty"`
	// Complier is the effect on those actually reached; nil when the
	// treatment reached nobody.
	Complier *Complier `json:"complier,omitempty"`
}

// Adjusted is a CUPED (regression-adjusted) estimate.
type Adjusted struct {
	Interval
	// VarianceReduction is 1 - (adjusted SE / unadjusted SE)^2, and
	// Narrowing 1 - adjusted SE / unadjusted SE: how much narrower both
	// intervals got.
	VarianceReduction float64 `json:"variance_reduction"`
	Narrowing         float64 `json:"narrowing"`
}

// Complier is the complier average causal effect: the intention-to-treat
// effect divided by the share of the treatment actually reached (the
// holdout is never reached, so this is the effect on the reached under
// one-sided noncompliance), with its delta-method 95% interval.
type Complier struct {
	DeliveryRate float64    `json:"delivery_rate"`
	Estimate     float64    `json:"estimate"`
	SE           float64    `json:"se"`
	CI95         [2]float64 `json:"ci95"`
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

// ArmSums are one arm's sufficient statistics, summed over its persons:
// conversion c (0 or 1), revenue r, reached d (0 or 1) and the two
// pre-campaign covariates x (orders, spend in the offer's items).
type ArmSums struct {
	N, Reached  float64
	Conv, ConvD float64 // Σc, Σc·d
	Rev, Rev2   float64 // Σr, Σr²
	RevD        float64 // Σr·d
	X           [2]float64
	XX          [2][2]float64
	ConvX, RevX [2]float64 // Σc·x, Σr·x
}

// Add adds one person's outcome to the sums.
func (s *ArmSums) Add(conv, rev, reached float64, x [2]float64) {
	s.N++
	s.Reached += reached
	s.Conv += conv
	s.ConvD += conv * reached
	s.Rev += rev
	s.Rev2 += rev * rev
	s.RevD += rev * reached
	for i := range 2 {
		s.X[i] += x[i]
		s.ConvX[i] += conv * x[i]
		s.RevX[i] += rev * x[i]
		for j := range 2 {
			s.XX[i][j] += x[i] * x[j]
		}
	}
}

// moments are an arm's sums for one outcome y.
type moments struct {
	n, d, y, yy, yd float64
	x               [2]float64
	xx              [2][2]float64
	yx              [2]float64
}

func (s ArmSums) conversion() moments {
	return moments{n: s.N, d: s.Reached, y: s.Conv, yy: s.Conv, yd: s.ConvD, x: s.X, xx: s.XX, yx: s.ConvX}
}

func (s ArmSums) revenue() moments {
	return moments{n: s.N, d: s.Reached, y: s.Rev, yy: s.Rev2, yd: s.RevD, x: s.X, xx: s.XX, yx: s.RevX}
}

// sampleCov is the unbiased covariance from sums of a, b and a·b over n.
func sampleCov(n, sa, sb, sab float64) float64 {
	if n < 2 {
		return 0
	}
	return (sab - sa*sb/n) / (n - 1)
}

// Measure compares treatment and holdout from their sums: the counts and
// rates of ComputeUplift, and the conversion and revenue effects. tStar is
// the number of persons at which the confidence sequence is tightest (the
// plan's size for a campaign sent once).
func Measure(t, h ArmSums, tStar float64) Uplift { return MeasureOneOf(t, h, tStar, 1) }

// MeasureOneOf is Measure for one of m comparisons made together (the
// later arms of an A/B/n split, each against the first): each confidence
// sequence, and so Significant, holds at α/m (Bonferroni), so that the
// chance that any of the m shows a difference where there is none stays
// under α however often the results are read. The fixed-sample CI95 stay
// per comparison.
func MeasureOneOf(t, h ArmSums, tStar float64, m int) Uplift {
	u := ComputeUplift(int(t.N), int(t.Conv), t.Rev, int(h.N), int(h.Conv), h.Rev)
	u.Treatment.Reached = int(t.Reached)
	a := alpha / float64(max(m, 1))
	if t.N >= 2 && h.N >= 2 {
		u.Conversion = effect(t.conversion(), h.conversion(), tStar, a)
		u.Revenue = effect(t.revenue(), h.revenue(), tStar, a)
	}
	return u
}

func interval(est, se, k float64) [2]float64 { return [2]float64{est - k*se, est + k*se} }

// effect is the difference of means of treatment t and holdout h, its
// confidence sequence at error rate a.
func effect(t, h moments, tStar, a float64) *Effect {
	m1, m0 := t.y/t.n, h.y/h.n
	v1, v0 := sampleCov(t.n, t.y, t.y, t.yy), sampleCov(h.n, h.y, h.y, h.yy)
	e := &Effect{Interval: Interval{Estimate: m1 - m0, SE: math.Sqrt(v1/t.n + v0/h.n)}}
	cs := csMultiplier(t.n+h.n, tStar, a)
	e.CI95, e.CS95 = interval(e.Estimate, e.SE, z95), interval(e.Estimate, e.SE, cs)
	e.Significant = e.CS95[0] > 0 || e.CS95[1] < 0
	if a := cuped(t, h); a != nil && e.SE > 0 {
		a.CI95, a.CS95 = interval(a.Estimate, a.SE, z95), interval(a.Estimate, a.SE, cs)
		a.VarianceReduction = 1 - (a.SE*a.SE)/(e.SE*e.SE)
		a.Narrowing = 1 - a.SE/e.SE
		e.CUPED = a
		e.Significant = a.CS95[0] > 0 || a.CS95[1] < 0
	}
	if t.d > 0 {
		// g = (m1 - m0) / δ, δ the delivery rate: by the delta method,
		// Var g ≈ (Var m1 + Var m0 + g² Var δ - 2g Cov(m1, δ)) / δ².
		delta := t.d / t.n
		g := e.Estimate / delta
		covYD := sampleCov(t.n, t.y, t.d, t.yd) / t.n
		varD := delta * (1 - delta) / t.n
		se := math.Sqrt(math.Max(0, v1/t.n+v0/h.n+g*g*varD-2*g*covYD)) / delta
		e.Complier = &Complier{DeliveryRate: delta, Estimate: g, SE: se, CI95: interval(g, se, z95)}
	}
	return e
}

// cuped adjusts the difference of means for the covariates x (Deng et al.
// 2013, "Improving the sensitivity of online controlled experiments by
// utilizing pre-experiment data"): y - θ·(x - x̄), θ the pooled regression
// of y on x, with the covariates that vary (nil when none does).
func cuped(t, h moments) *Adjusted {
	n := t.n + h.n
	var sxx [2][2]float64
	var sxy [2]float64
	for i := range 2 {
		sxy[i] = sampleCov(n, t.x[i]+h.x[i], t.y+h.y, t.yx[i]+h.yx[i])
		for j := range 2 {
			sxx[i][j] = sampleCov(n, t.x[i]+h.x[i], t.x[j]+h.x[j], t.xx[i][j]+h.xx[i][j])
		}
	}
	var theta [2]float64
	switch det := sxx[0][0]*sxx[1][1] - sxx[0][1]*sxx[1][0]; {
	case det > 1e-9*sxx[0][0]*sxx[1][1] && det > 0:
		theta[0] = (sxx[1][1]*sxy[0] - sxx[0][1]*sxy[1]) / det
		theta[1] = (sxx[0][0]*sxy[1] - sxx[1][0]*sxy[0]) / det
	case sxx[1][1] > 0:
		theta[1] = sxy[1] / sxx[1][1]
	case sxx[0][0] > 0:
		theta[0] = sxy[0] / sxx[0][0]
	default:
		return nil
	}
	// Per arm: mean of y - θ·x and its variance.
	adj := func(m moments) (mean, v float64) {
		mean = m.y / m.n
		v = sampleCov(m.n, m.y, m.y, m.yy)
		for i := range 2 {
			mean -= theta[i] * m.x[i] / m.n
			v -= 2 * theta[i] * sampleCov(m.n, m.y, m.x[i], m.yx[i])
			for j := range 2 {
				v += theta[i] * theta[j] * sampleCov(m.n, m.x[i], m.x[j], m.xx[i][j])
			}
		}
		return mean, math.Max(v, 0)
	}
	a1, v1 := adj(t)
	a0, v0 := adj(h)
	return &Adjusted{Interval: Interval{Estimate: a1 - a0, SE: math.Sqrt(v1/t.n + v0/h.n)}}
}

// csMultiplier turns a standard error into the half-width of the
// asymptotic confidence sequence of Waudby-Smith, Arnold, Wu, Wang and
// Ramdas ("Time-uniform central limit theory and asymptotic confidence
// sequences", Annals of Statistics 2024, Theorem 2.2): with n persons and
// σ̂ their outcome's standard deviation (σ̂ = SE·√n),
//
//	half-width = σ̂ · √( 2(nρ²+1)/(n²ρ²) · log(√(nρ²+1)/α) ),
//
// which holds simultaneously for every n with probability 1-α
// (asymptotically). ρ sets where the sequence is tightest; it is chosen
// (their Appendix B) to minimise the width at tStar persons:
// ρ² = (-2 log α + log(-2 log α + 1)) / tStar.
func csMultiplier(n, tStar, alpha float64) float64 {
	if n < 1 {
		return math.Inf(1)
	}
	if tStar < 1 {
		tStar = n
	}
	l := -2 * math.Log(alpha)
	rho2 := (l + math.Log(l+1)) / tStar
	nr := n * rho2
	return math.Sqrt(2 * (nr + 1) / nr * math.Log(math.Sqrt(nr+1)/alpha))
}
