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
	active := activeRegressors(keys, x, names, lo, origin)
	p := len(active)
	if p == 0 {
		return nil
	}
	w := newFitWindow(d, keys, f, x, active, lo, origin)
	beta := make([]float64, p)
	var h, b [][]float64
	rows := make([]fitObs, 0, len(keys)*(origin-lo))
	// The offsets depend on β (the levels are taken at no effect), so
	// each round takes them at the current β, then refits β on them.
	for range 3 {
		rows = w.observations(beta, rows[:0])
		if len(rows) < 10*p {
			return nil
		}
		var ok bool
		if h, b, ok = poissonIRLS(w, rows, beta); !ok {
			return nil
		}
	}
	return sandwich(active, beta, h, b)
}

// activeRegressors are those of names with a value other than 0 on some
// series of keys in the training days [lo, origin).
func activeRegressors(keys []Key, x map[Key]map[string][]float64, names []string, lo, origin int) []string {
	var active []string
	for _, name := range names {
		if varies(keys, x, name, lo, origin) {
			active = append(active, name)
		}
	}
	return active
}

// varies tells whether regressor name is other than 0 on some series of
// keys in the days [lo, origin).
func varies(keys []Key, x map[Key]map[string][]float64, name string, lo, origin int) bool {
	for _, k := range keys {
		c := x[k][name]
		if c == nil {
			continue
		}
		for t := lo; t < origin; t++ {
			if c[t] != 0 {
				return true
			}
		}
	}
	return false
}

// fitWindow is a class's training data: its series with the active
// regressors' values and each day's weekday × calendar multiplier, on
// the fitted days [lo, origin) and the fitLevelDays before them (from
// on) that their trailing levels are taken over.
type fitWindow struct {
	d    *Daily
	keys []Key
	// cols[i][j] is series keys[i]'s values of active[j] (nil: all 0).
	cols [][][]float64
	// mult[t] is day t's weekday and calendar factor (set from on).
	mult             []float64
	from, lo, origin int
}

// newFitWindow gathers the training data of the series keys of one class
// (factors f) for the days [lo, origin).
func newFitWindow(d *Daily, keys []Key, f *Factors, x map[Key]map[string][]float64, active []string, lo, origin int) *fitWindow {
	w := &fitWindow{d: d, keys: keys, from: lo - fitLevelDays, lo: lo, origin: origin}
	w.mult = make([]float64, origin)
	for i := w.from; i < origin; i++ {
		w.mult[i] = f.multiplier(d, i)
	}
	w.cols = make([][][]float64, len(keys))
	for i, k := range keys {
		w.cols[i] = make([][]float64, len(active))
		for j, name := range active {
			w.cols[i][j] = x[k][name]
		}
	}
	return w
}

// row sets row to series keys[i]'s regressor values on day t.
func (w *fitWindow) row(i, t int, row []float64) {
	for j, c := range w.cols[i] {
		row[j] = 0
		if c != nil {
			row[j] = c[t]
		}
	}
}

// fitObs is a training day t of series keys[i]: its units y and its
// offset, the log of its baseline.
type fitObs struct {
	i, t   int
	y, off float64
}

// observations appends to rows every training day with a positive
// baseline: its trailing level (at no effect, with the current β) × its
// weekday and calendar factor.
func (w *fitWindow) observations(beta []float64, rows []fitObs) []fitObs {
	row := make([]float64, len(beta))
	// Prefix sums of a series' units and of their multipliers at β.
	py, pw := make([]float64, w.origin+1), make([]float64, w.origin+1)
	for i, k := range w.keys {
		s := w.d.Series[k]
		for t := w.from; t < w.origin; t++ {
			w.row(i, t, row)
			py[t+1], pw[t+1] = py[t]+s[t], pw[t]+w.mult[t]*math.Exp(dot(beta, row))
		}
		for t := w.lo; t < w.origin; t++ {
			m := pw[t] - pw[t-fitLevelDays]
			if m <= 0 || w.mult[t] <= 0 {
				continue
			}
			if l := (py[t] - py[t-fitLevelDays]) / m; l > 0 {
				rows = append(rows, fitObs{i, t, s[t], math.Log(l * w.mult[t])})
			}
		}
	}
	return rows
}

// poissonIRLS moves beta by four Newton steps of the Poisson regression
// of rows' units on w's regressors with rows' offsets. It returns the
// last step's H (the Fisher information, Σμ·xxᵀ) and B (the squared
// residuals' outer products, Σ(y-μ)²·xxᵀ), both at β before that step;
// false when H is singular.
func poissonIRLS(w *fitWindow, rows []fitObs, beta []float64) (h, b [][]float64, ok bool) {
	p := len(beta)
	row := make([]float64, p)
	for range 4 {
		h, b = square(p), square(p)
		g := make([]float64, p) // the score, Σ(y-μ)·x
		for _, r := range rows {
			w.row(r.i, r.t, row)
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
			return nil, nil, false
		}
		for j := range beta {
			beta[j] += step[j]
		}
	}
	return h, b, true
}

// sandwich is the fit of active with beta and the sandwich covariance
// H⁻¹ B H⁻¹ (B the squared residuals' outer products): honest whatever
// the counts' dispersion; nil when H is singular.
func sandwich(active []string, beta []float64, h, b [][]float64) *classFit {
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
