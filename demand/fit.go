package demand

import (
	"math"
)

// The forecast's regressors (docs/demand.md): a log-linear multiplier
// exp(β·x) on a series' level × weekday × calendar, β fitted per class
// over its series' last year by Poisson regression (IRLS) with the
// baseline as offset, its covariance a sandwich estimate (robust to the
// counts' overdispersion) that widens the prediction intervals.

// Inputs are what a forecast uses beside the units' own history.
type Inputs struct {
	// Signals are the demand signals (searches, views, chats) of the
	// same series, on the same days (the same Start) as the units; nil:
	// none.
	Signals *Daily
	// Regressors are the external regressors' values; nil: none.
	Regressors *Regressors
}

const (
	// SignalRegressor names the leading demand signal among the fitted
	// effects: the series' signals signalLag days before the day, over
	// their own baseline (the level of the 28 days ending a week before,
	// times the signals' weekday and calendar factors), as the excess of
	// the log ratio over log 2 (0 below a doubling). Searches lead orders
	// by about a week in the generated surges; below a doubling a day's
	// ratio is mostly noise, which would only attenuate the fitted effect.
	SignalRegressor = "signal"
	signalLag       = 7
	// fitDays are the days before the origin β is fitted on: a year, so
	// that every season and calendar peak is in it.
	fitDays = 365
	// fitLevelDays is the trailing window of each training day's level.
	fitLevelDays = 28
)

// ForecastEffect is a fitted regressor effect of a class: units × exp(Beta·x),
// with Beta's standard error.
type ForecastEffect struct {
	Name string  `json:"name"`
	Beta float64 `json:"beta"`
	SE   float64 `json:"se"`
}

// classFit is a class's fitted effects: their names, β and covariance.
type classFit struct {
	names []string
	beta  []float64
	cov   [][]float64
}

// effects lists the fit's effects.
func (c *classFit) effects() []ForecastEffect {
	out := make([]ForecastEffect, len(c.names))
	for j, n := range c.names {
		out[j] = ForecastEffect{Name: n, Beta: c.beta[j], SE: math.Sqrt(math.Max(0, c.cov[j][j]))}
	}
	return out
}

// design is the regressor values of every series of d (by name) on the
// days [0, n), n at least origin + Horizon; days of a signal not yet seen
// at origin are 0.
func design(d *Daily, origin int, in Inputs) (map[Key]map[string][]float64, []string) {
	n := max(d.Days, origin) + Horizon
	out := map[Key]map[string][]float64{}
	names := append([]string(nil), in.Regressors.Names()...)
	for k := range d.Series {
		out[k] = map[string][]float64{}
		for _, name := range in.Regressors.Names() {
			if x := in.Regressors.series(name, k, d.Start, n); x != nil {
				out[k][name] = x
			}
		}
	}
	if in.Signals == nil {
		return out, names
	}
	names = append(names, SignalRegressor)
	factors := classFactors(in.Signals, origin)
	for k := range d.Series {
		s := in.Signals.Series[k]
		f := factors[k.Class]
		if s == nil || f == nil {
			continue
		}
		x := make([]float64, n)
		// Prefix sums of the signals and their multipliers.
		py, pm := make([]float64, origin+1), make([]float64, origin+1)
		m := make([]float64, origin)
		for i := range origin {
			m[i] = f.multiplier(in.Signals, i)
			py[i+1], pm[i+1] = py[i]+s[i], pm[i]+m[i]
		}
		for t := range x {
			u := t - signalLag
			if u < fitLevelDays+signalLag || u >= origin {
				continue
			}
			lo, hi := u-signalLag-fitLevelDays, u-signalLag
			if w := pm[hi] - pm[lo]; w > 0 {
				e := (py[hi] - py[lo]) / w * m[u]
				x[t] = math.Max(0, math.Log((s[u]+1)/(e+1))-math.Ln2)
			}
		}
		out[k][SignalRegressor] = x
	}
	return out, names
}

// fitClass fits the effects of names on the series keys of one class from
// the fitDays days before origin; nil when none of them varies there or
// the fit fails (the forecast is then the one without regressors).
func fitClass(d *Daily, keys []Key, origin int, f *Factors, x map[Key]map[string][]float64, names []string) *classFit {
	lo := max(fitLevelDays+2*signalLag, origin-fitDays) // the first day with a signal's baseline
	if lo >= origin {
		return nil
	}
	// The names with a value other than 0 in the training days.
	var active []string
	for _, name := range names {
		found := false
		for _, k := range keys {
			for t := lo; t < origin && !found; t++ {
				found = x[k][name] != nil && x[k][name][t] != 0
			}
		}
		if found {
			active = append(active, name)
		}
	}
	p := len(active)
	if p == 0 {
		return nil
	}
	from := lo - fitLevelDays
	mult := make([]float64, origin)
	for i := from; i < origin; i++ {
		mult[i] = f.multiplier(d, i)
	}
	// cols[i][j] is series keys[i]'s values of active[j] (nil: all 0).
	cols := make([][][]float64, len(keys))
	for i, k := range keys {
		cols[i] = make([][]float64, p)
		for j, name := range active {
			cols[i][j] = x[k][name]
		}
	}
	xs := func(i, t int, row []float64) {
		for j, c := range cols[i] {
			row[j] = 0
			if c != nil {
				row[j] = c[t]
			}
		}
	}
	beta := make([]float64, p)
	row := make([]float64, p)
	var h, b [][]float64
	type obs struct {
		i, t   int
		y, off float64
	}
	rows := make([]obs, 0, len(keys)*(origin-lo))
	py, pw := make([]float64, origin+1), make([]float64, origin+1)
	for range 3 {
		// Offsets: each day's trailing level (at no effect, with the
		// current β) × its weekday and calendar factor.
		rows = rows[:0]
		for i, k := range keys {
			s := d.Series[k]
			for t := from; t < origin; t++ {
				xs(i, t, row)
				py[t+1], pw[t+1] = py[t]+s[t], pw[t]+mult[t]*math.Exp(dot(beta, row))
			}
			for t := lo; t < origin; t++ {
				w := pw[t] - pw[t-fitLevelDays]
				if w <= 0 || mult[t] <= 0 {
					continue
				}
				if l := (py[t] - py[t-fitLevelDays]) / w; l > 0 {
					rows = append(rows, obs{i, t, s[t], math.Log(l * mult[t])})
				}
			}
		}
		if len(rows) < 10*p {
			return nil
		}
		for range 4 {
			h, b = square(p), square(p)
			g := make([]float64, p)
			for _, r := range rows {
				xs(r.i, r.t, row)
				mu := math.Exp(r.off + dot(beta, row))
				res := r.y - mu
				for a := range p {
					if row[a] == 0 {
						continue
					}
					g[a] += res * row[a]
					for c := range p {
						h[a][c] += mu * row[a] * row[c]
						b[a][c] += res * res * row[a] * row[c]
					}
				}
			}
			step, ok := solve(h, g)
			if !ok {
				return nil
			}
			for j := range beta {
				beta[j] += step[j]
			}
		}
	}
	// Sandwich covariance H⁻¹ B H⁻¹ (B the squared residuals' outer
	// products): honest whatever the counts' dispersion.
	hinv, ok := inverse(h)
	if !ok {
		return nil
	}
	return &classFit{names: active, beta: beta, cov: mul(mul(hinv, b), hinv)}
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func square(n int) [][]float64 {
	m := make([][]float64, n)
	for i := range m {
		m[i] = make([]float64, n)
	}
	return m
}

func mul(a, b [][]float64) [][]float64 {
	out := square(len(a))
	for i := range a {
		for j := range a {
			for k := range a {
				out[i][j] += a[i][k] * b[k][j]
			}
		}
	}
	return out
}

// inverse inverts a small matrix by Gauss-Jordan elimination with partial
// pivoting; false when it is (nearly) singular.
func inverse(a [][]float64) ([][]float64, bool) {
	n := len(a)
	m := square(n)
	inv := square(n)
	for i := range a {
		copy(m[i], a[i])
		inv[i][i] = 1
	}
	for c := range n {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(m[r][c]) > math.Abs(m[p][c]) {
				p = r
			}
		}
		if math.Abs(m[p][c]) < 1e-12 {
			return nil, false
		}
		m[c], m[p] = m[p], m[c]
		inv[c], inv[p] = inv[p], inv[c]
		for r := range n {
			if r == c {
				continue
			}
			q := m[r][c] / m[c][c]
			for k := range n {
				m[r][k] -= q * m[c][k]
				inv[r][k] -= q * inv[c][k]
			}
		}
	}
	for r := range n {
		q := m[r][r]
		for k := range n {
			inv[r][k] /= q
		}
	}
	return inv, true
}

// solve solves a·x = g.
func solve(a [][]float64, g []float64) ([]float64, bool) {
	inv, ok := inverse(a)
	if !ok {
		return nil, false
	}
	x := make([]float64, len(g))
	for i := range inv {
		x[i] = dot(inv[i], g)
	}
	return x, true
}
