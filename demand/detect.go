package demand

import (
	"math"
	"sort"
	"time"

	"github.com/granarycdp/cdp/demand/calendar"
)

// Surge detection (docs/demand.md): for each series and day, the expected
// count from a baseline that knows the weekday and the Chinese calendar,
// an overdispersed-Poisson (negative binomial) upper-tail p-value for the
// observed count, and the Benjamini-Hochberg procedure across all series
// tested that day. After Farrington et al. (1996) and Noufaily et al.
// (2013): a reference window with a guard band, past outbreaks down-
// weighted (here: left out) when fitting the level, dispersion estimated
// from the reference residuals.

// DetectOptions tune detection; DefaultDetectOptions are the documented
// ones the simulation measured.
type DetectOptions struct {
	// Reference is the number of days the level is fitted on, ending
	// Guard days before the day tested (so a surge's first days do not
	// raise its own baseline).
	Reference, Guard int
	// Alpha is the false discovery rate of the Benjamini-Hochberg
	// procedure across the series tested on a day.
	Alpha float64
	// MinCount and MinRatio are what an alarm must also reach: at least
	// MinCount records and MinRatio times the expected count.
	MinCount float64
	MinRatio float64
	// Cooldown is how many days after an alarm the series cannot raise
	// another: a surge is alerted once, not on each of its days.
	Cooldown int
}

// DefaultDetectOptions are the options of the measured figures.
func DefaultDetectOptions() DetectOptions {
	return DetectOptions{Reference: 28, Guard: 7, Alpha: 0.002, MinCount: 5, MinRatio: 1.5, Cooldown: 14}
}

// History is how many days before the tested day detection needs: a
// year for the calendar factors plus the reference window.
func (o DetectOptions) History() int { return 366 + o.Reference + o.Guard + 30 }

// Test is one series' test on one day.
type Test struct {
	Key      Key     `json:"series"`
	Day      int     `json:"-"`
	Observed float64 `json:"observed"`
	Expected float64 `json:"expected"`
	// Dispersion is the quasi-Poisson φ (variance φ·μ), at least 1.
	Dispersion float64 `json:"dispersion"`
	// Ratio is observed / expected; Z the standardised excess
	// (observed − expected) / √(φ·expected).
	Ratio float64 `json:"ratio"`
	Z     float64 `json:"z"`
	// P is the upper-tail p-value, Q the Benjamini-Hochberg adjusted one.
	P float64 `json:"p"`
	Q float64 `json:"q"`
}

// Factors are a class's multipliers of the national series: by weekday
// (Sunday first) and by calendar event and offset from its date.
type Factors struct {
	Weekday  [7]float64
	Calendar map[calendar.Event]map[int]float64
}

// classFactors estimates each class's factors from its national series
// (the sum over regions) before day t: weekday factors from the last 8
// weeks outside calendar windows, calendar factors from the same event a
// year or more earlier, relative to the level before its window. A
// factor not seen in the history is 1.
func classFactors(d *Daily, t int) map[string]*Factors {
	national := map[string][]float64{}
	for k, s := range d.Series {
		n := national[k.Class]
		if n == nil {
			n = make([]float64, d.Days)
			national[k.Class] = n
		}
		for i := range t {
			n[i] += s[i]
		}
	}
	out := map[string]*Factors{}
	for class, n := range national {
		f := &Factors{Calendar: map[calendar.Event]map[int]float64{}}
		var sum [7]float64
		var cnt [7]float64
		var all, alln float64
		for i := max(0, t-56); i < t; i++ {
			if _, _, in := d.near(i); in {
				continue
			}
			w := d.day(i).Weekday()
			sum[w] += n[i]
			cnt[w]++
			all += n[i]
			alln++
		}
		for w := range f.Weekday {
			f.Weekday[w] = 1
			if cnt[w] > 0 && all > 0 {
				f.Weekday[w] = (sum[w] / cnt[w]) / (all / alln)
			}
		}
		calendarFactors(d, n, t, f)
		out[class] = f
	}
	return out
}

// calendarFactors fills f.Calendar from the events whose windows ended
// before day t: the national count on each window day over the weekday-
// adjusted level of the 28 days before the window (outside windows).
func calendarFactors(d *Daily, n []float64, t int, f *Factors) {
	for i := range t {
		ev, off, ok := d.near(i)
		if !ok {
			continue
		}
		w := calendar.Window[ev]
		begin := i - (off - w[0])
		if begin < 28 {
			continue
		}
		var level, weight float64
		for j := begin - 28; j < begin; j++ {
			if _, _, in := d.near(j); !in {
				level += n[j]
				weight += f.Weekday[d.day(j).Weekday()]
			}
		}
		if level <= 0 || weight <= 0 {
			continue
		}
		if f.Calendar[ev] == nil {
			f.Calendar[ev] = map[int]float64{}
		}
		f.Calendar[ev][off] = n[i] / (level / weight * f.Weekday[d.day(i).Weekday()])
	}
}

// multiplier is the weekday and calendar factor of day i.
func (f *Factors) multiplier(d *Daily, i int) float64 {
	m := f.Weekday[d.day(i).Weekday()]
	if ev, off, ok := d.near(i); ok {
		if c, ok := f.Calendar[ev][off]; ok && c > 0 {
			m *= c
		}
	}
	return m
}

// fit is a series' baseline for a day: the expected count, and the
// moments of its reference residuals that the class's dispersion pools.
type fit struct {
	mu float64
	// excess is Σ((y−e)² − e) and e2 Σe² over the kept reference days;
	// n how many were kept.
	excess, e2, n float64
	// drift is the adjusted level of the guard days over the reference
	// level (0 when unknown).
	drift float64
}

// expect fits series s's baseline for day t: the level over the reference
// window (days whose standardised residual exceeds 2.58 on a first fit
// left out, as Farrington's reweighting does to past outbreaks), times
// the day's weekday and calendar multiplier. adj, when not nil, is a
// further multiplier by day index (the forecast's regressor effects);
// the level is then the level at no effect.
func expect(d *Daily, s []float64, t int, f *Factors, o DetectOptions, adj []float64) fit {
	lo, hi := max(0, t-o.Guard-o.Reference), max(0, t-o.Guard)
	if hi-lo < o.Reference/2 {
		return fit{}
	}
	m := make([]float64, hi-lo)
	keep := make([]bool, len(m))
	for i := range m {
		m[i], keep[i] = f.multiplier(d, lo+i), true
		if adj != nil {
			m[i] *= adj[lo+i]
		}
	}
	level := func() float64 {
		var y, w float64
		for i, k := range keep {
			if k {
				y, w = y+s[lo+i], w+m[i]
			}
		}
		if w == 0 {
			return 0
		}
		return y / w
	}
	l := level()
	for i := range keep {
		e := l * m[i]
		keep[i] = e <= 0 || (s[lo+i]-e)/math.Sqrt(e) <= 2.58
	}
	l = level()
	out := fit{mu: l * f.multiplier(d, t)}
	if adj != nil {
		out.mu *= adj[t]
	}
	var gy, gw float64
	for i := hi; i < t; i++ {
		gy, gw = gy+s[i], gw+f.multiplier(d, i)
	}
	if l > 0 && gw > 0 {
		out.drift = gy / gw / l
	}
	for i, k := range keep {
		if e := l * m[i]; k && e > 0 {
			r := s[lo+i] - e
			out.excess += r*r - e
			out.e2 += e * e
			out.n++
		}
	}
	return out
}

// TestDay tests every series of d on day t (an index into d's days) and
// applies Benjamini-Hochberg across them; it returns every test, Q set.
// Counts are negative binomial, variance μ + μ²/θ, with θ pooled over the
// class's series (a moment estimate from their reference residuals: one
// series' four weeks say too little about its own dispersion); the
// variance of the fitted level, μ/n of it, is added. The level is moved
// by the class's drift: the median over its series of the guard week's
// adjusted level against the reference level (the annual cycle and
// trends the four weeks lag behind; a median, so that one region's surge
// does not move the others).
func TestDay(d *Daily, t int, o DetectOptions) []Test {
	tests, _ := testDay(d, t, o, nil)
	benjaminiHochberg(tests)
	return tests
}

// testDay is TestDay without the adjustment (Q unset). It also returns
// each class's pooled overdispersion (the μ² coefficient of the
// variance); floor, when set, is the least one per class.
func testDay(d *Daily, t int, o DetectOptions, floor map[string]float64) ([]Test, map[string]float64) {
	factors := classFactors(d, t)
	keys := d.Keys()
	fits := make([]fit, len(keys))
	excess, e2, drifts := map[string]float64{}, map[string]float64{}, map[string][]float64{}
	for i, k := range keys {
		fits[i] = expect(d, d.Series[k], t, factors[k.Class], o, nil)
		excess[k.Class] += fits[i].excess
		e2[k.Class] += fits[i].e2
		if fits[i].drift > 0 {
			drifts[k.Class] = append(drifts[k.Class], fits[i].drift)
		}
	}
	drift := map[string]float64{}
	for c, ds := range drifts {
		drift[c] = median(ds)
	}
	over := map[string]float64{}
	for c := range e2 {
		if excess[c] > 0 && e2[c] > 0 {
			over[c] = excess[c] / e2[c]
		}
		over[c] = max(over[c], floor[c])
	}
	var tests []Test
	for i, k := range keys {
		f := fits[i]
		if f.mu <= 0 {
			continue
		}
		if dr := drift[k.Class]; dr > 0 {
			f.mu *= dr
		}
		phi := 1 + f.mu*over[k.Class]
		phi *= 1 + 1/f.n
		y := d.Series[k][t]
		tests = append(tests, Test{Key: k, Day: t, Observed: y, Expected: f.mu, Dispersion: phi, Ratio: y / f.mu,
			Z: (y - f.mu) / math.Sqrt(phi*f.mu), P: upperTail(y, f.mu, phi)})
	}
	return tests, over
}

// median is the median of xs (reordered).
func median(xs []float64) float64 {
	sort.Float64s(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// benjaminiHochberg sets each test's Q: the smallest false discovery rate
// at which it would be rejected (the step-up adjusted p-value).
func benjaminiHochberg(tests []Test) {
	idx := make([]int, len(tests))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return tests[idx[a]].P < tests[idx[b]].P })
	m := float64(len(tests))
	q := 1.0
	for r := len(idx) - 1; r >= 0; r-- {
		q = math.Min(q, tests[idx[r]].P*m/float64(r+1))
		tests[idx[r]].Q = q
	}
}

// Alarmed reports whether a test raises an alarm under o (before the
// cooldown, which needs the series' past).
func (o DetectOptions) Alarmed(t Test) bool {
	return t.Q <= o.Alpha && t.Observed >= o.MinCount && t.Ratio >= o.MinRatio
}

// upperTail is P(Y ≥ y) for Y negative binomial with mean mu and variance
// phi·mu (Poisson when phi is 1).
func upperTail(y, mu, phi float64) float64 {
	k := math.Ceil(y)
	if k <= 0 {
		return 1
	}
	// log pmf and the ratio pmf(j+1)/pmf(j).
	var logpmf func(j float64) float64
	var ratio func(j float64) float64
	if phi <= 1+1e-9 {
		logpmf = func(j float64) float64 { lg, _ := math.Lgamma(j + 1); return j*math.Log(mu) - mu - lg }
		ratio = func(j float64) float64 { return mu / (j + 1) }
	} else {
		r, p := mu/(phi-1), 1/phi // size and success probability: mean r(1-p)/p = mu
		logpmf = func(j float64) float64 {
			a, _ := math.Lgamma(j + r)
			b, _ := math.Lgamma(r)
			c, _ := math.Lgamma(j + 1)
			return a - b - c + r*math.Log(p) + j*math.Log1p(-p)
		}
		ratio = func(j float64) float64 { return (j + r) / (j + 1) * (1 - p) }
	}
	if k <= mu {
		// The lower tail is the smaller sum: 1 − P(Y ≤ k−1).
		var lower float64
		for j := 0.0; j < k; j++ {
			lower += math.Exp(logpmf(j))
		}
		return math.Min(1, math.Max(0, 1-lower))
	}
	var sum float64
	term := math.Exp(logpmf(k))
	for j := k; term > sum*1e-15 && j < k+1e6; j++ {
		sum += term
		term *= ratio(j)
	}
	return math.Min(1, sum)
}

// day is the middle of window i: its weekday and calendar day are the
// window's (a window starting at Beijing midnight is that day).
func (d *Daily) day(i int) time.Time { return d.window(i).Add(12 * time.Hour) }

// window is the start of window i.
func (d *Daily) window(i int) time.Time { return d.Start.Add(time.Duration(i) * 24 * time.Hour) }

// nearDay is calendar.Near of a day, cached on the matrix.
type nearDay struct {
	event  calendar.Event
	offset int
	ok     bool
}

// near is calendar.Near of day i (computed once per matrix).
func (d *Daily) near(i int) (calendar.Event, int, bool) {
	if d.cal == nil {
		d.cal = make([]nearDay, d.Days)
		for j := range d.cal {
			e, off, ok := calendar.Near(d.day(j))
			d.cal[j] = nearDay{e, off, ok}
		}
	}
	if i < 0 || i >= len(d.cal) {
		return calendar.Near(d.day(i)) // a forecast's days after the matrix
	}
	n := d.cal[i]
	return n.event, n.offset, n.ok
}
