package demand

import (
	"context"
	"math"
	"time"
)

// Forecasts (docs/demand.md): each series' next days from its own level,
// the class's weekday and Chinese-calendar factors (the same estimates
// detection uses, fitted on the class's national series), and negative
// binomial prediction intervals with the dispersion pooled over the
// class's series.

// Horizon is the number of days a forecast covers.
const Horizon = 14

// ForecastDay is one day of a forecast: the expected value and the 80%
// and 95% prediction intervals.
type ForecastDay struct {
	Day      time.Time  `json:"day"`
	Expected float64    `json:"expected"`
	P80      [2]float64 `json:"p80"`
	P95      [2]float64 `json:"p95"`
}

// Forecast is a series' forecast for the Horizon days from Start, and
// the fitted effects of its class's regressors (none without).
type Forecast struct {
	Key     Key              `json:"series"`
	Days    []ForecastDay    `json:"days"`
	Effects []ForecastEffect `json:"effects,omitempty"`
}

// ForecastAll forecasts every series of d for the Horizon days from day
// index origin (the first day not known), from the days before it.
func ForecastAll(d *Daily, origin int, o DetectOptions) []Forecast {
	return ForecastWith(d, origin, o, Inputs{})
}

// ForecastWith is ForecastAll with the demand signals and external
// regressors of in: each class's effects are fitted (fitClass) and each
// day's expected value multiplied by exp(β·x) of its regressor values,
// the level taken at no effect; the intervals add the effects' fit
// uncertainty (μ²·xᵀΣx to the variance). A class none of whose
// regressors varies in its last year is forecast as without them.
func ForecastWith(d *Daily, origin int, o DetectOptions, in Inputs) []Forecast {
	factors := classFactors(d, origin)
	keys := d.Keys()
	x, names := design(d, origin, in)
	cfits := map[string]*classFit{}
	if len(names) > 0 {
		byClass := map[string][]Key{}
		for _, k := range keys {
			byClass[k.Class] = append(byClass[k.Class], k)
		}
		for c, ks := range byClass {
			cfits[c] = fitClass(d, ks, origin, factors[c], x, names)
		}
	}
	fits := make([]fit, len(keys))
	adjs := make([][]float64, len(keys))
	excess, e2 := map[string]float64{}, map[string]float64{}
	level := o
	level.Guard = 0
	for i, k := range keys {
		if cf := cfits[k.Class]; cf != nil {
			adjs[i] = adjustment(cf, x[k], origin-level.Reference, origin+Horizon)
		}
		// The fit for the origin: its level over the last Reference days.
		fits[i] = expect(d, d.Series[k], origin, factors[k.Class], level, adjs[i])
		excess[k.Class] += fits[i].excess
		e2[k.Class] += fits[i].e2
	}
	out := make([]Forecast, 0, len(keys))
	for i, k := range keys {
		f, fc, adj, cf := fits[i], Forecast{Key: k}, adjs[i], cfits[k.Class]
		if cf != nil {
			fc.Effects = cf.effects()
		}
		at := func(t int) float64 {
			if adj == nil {
				return 1
			}
			return adj[t]
		}
		base := 0.0
		if m := factors[k.Class].multiplier(d, origin) * at(origin); m > 0 {
			base = f.mu / m
		}
		row := make([]float64, len(cf.namesOf()))
		for h := range Horizon {
			mu := base * factors[k.Class].multiplier(d, origin+h) * at(origin+h)
			phi := 1.0
			if excess[k.Class] > 0 && e2[k.Class] > 0 {
				phi += mu * excess[k.Class] / e2[k.Class]
			}
			if f.n > 0 {
				phi *= 1 + 1/f.n
			}
			if cf != nil {
				// The effects' uncertainty: Var(log μ) ≈ xᵀΣx.
				cf.row(x[k], origin+h, row)
				var v float64
				for a := range row {
					v += row[a] * dot(cf.cov[a], row)
				}
				phi += mu * math.Max(0, v)
			}
			fc.Days = append(fc.Days, ForecastDay{Day: d.window(origin + h), Expected: mu,
				P80: [2]float64{nbQuantile(mu, phi, 0.1), nbQuantile(mu, phi, 0.9)},
				P95: [2]float64{nbQuantile(mu, phi, 0.025), nbQuantile(mu, phi, 0.975)}})
		}
		out = append(out, fc)
	}
	return out
}

// nbQuantile is the smallest count k with P(Y ≤ k) ≥ p for Y negative
// binomial with mean mu and variance phi·mu.
func nbQuantile(mu, phi, p float64) float64 {
	if mu <= 0 {
		return 0
	}
	// P(Y ≤ k) = 1 − P(Y ≥ k+1); search upwards from a normal guess.
	k := math.Max(0, math.Floor(mu+math.Sqrt(phi*mu)*normalQuantile(p))-3)
	for k > 0 && 1-upperTail(k, mu, phi) >= p {
		k--
	}
	for 1-upperTail(k+1, mu, phi) < p {
		k++
	}
	return k
}

// normalQuantile is the standard normal quantile: nbQuantile's first
// guess, which its search then makes exact on counts.
func normalQuantile(p float64) float64 {
	return math.Sqrt2 * math.Erfinv(2*p-1)
}

// adjustment is exp(β·x) of a series on the days [from, to) (1 before
// from), indexed by day.
func adjustment(cf *classFit, x map[string][]float64, from, to int) []float64 {
	adj := make([]float64, to)
	row := make([]float64, len(cf.names))
	for t := range adj {
		adj[t] = 1
		if t >= from {
			cf.row(x, t, row)
			adj[t] = math.Exp(dot(cf.beta, row))
		}
	}
	return adj
}

// row fills row with a series' values of the fit's regressors on day t.
func (c *classFit) row(x map[string][]float64, t int, row []float64) {
	for j, name := range c.names {
		row[j] = 0
		if v := x[name]; v != nil && t < len(v) {
			row[j] = v[t]
		}
	}
}

// namesOf is the fit's regressor names (none for no fit).
func (c *classFit) namesOf() []string {
	if c == nil {
		return nil
	}
	return c.names
}

// ForecastLevels forecasts every city series of d and their province and
// national sums (Aggregate), each level fitted on its own (ForecastAll).
func ForecastLevels(d *Daily, origin int, o DetectOptions) []Forecast {
	return ForecastLevelsWith(d, origin, o, Inputs{})
}

// ForecastLevelsWith is ForecastLevels with signals and regressors
// (ForecastWith): the signals are summed to each level as the units are;
// a province's or the nation's regressor values are those given for it
// (a city's value does not apply to its province's sum).
func ForecastLevelsWith(d *Daily, origin int, o DetectOptions, in Inputs) []Forecast {
	var out []Forecast
	for _, level := range []string{LevelCity, LevelProvince, LevelNation} {
		lin := in
		if in.Signals != nil {
			lin.Signals = Aggregate(in.Signals, level)
		}
		out = append(out, ForecastWith(Aggregate(d, level), origin, o, lin)...)
	}
	return out
}

// ForecastAt forecasts the units ordered of every class and city, province
// and the nation (ForecastLevelsWith) for the Horizon Beijing days from
// the day of at, from the valid orders of the o.History() days before it,
// with the demand signals of those days and the external regressors
// loaded for them and the forecast's days: the pull API of replenishment
// systems.
func (s *Service) ForecastAt(ctx context.Context, at time.Time, o DetectOptions) ([]Forecast, error) {
	days := o.History()
	origin := beijingDay(at)
	start := origin.AddDate(0, 0, -days)
	d, err := s.OrderUnits(ctx, start, days)
	if err != nil {
		return nil, err
	}
	signals, err := s.Signals(ctx, LevelCity, start, days)
	if err != nil {
		return nil, err
	}
	reg, err := s.LoadRegressors(ctx, start, origin.AddDate(0, 0, Horizon))
	if err != nil {
		return nil, err
	}
	return ForecastLevelsWith(d, days, o, Inputs{Signals: signals, Regressors: reg}), nil
}
