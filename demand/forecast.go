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

// Forecast is a series' forecast for the Horizon days from Start.
type Forecast struct {
	Key  Key           `json:"series"`
	Days []ForecastDay `json:"days"`
}

// ForecastAll forecasts every series of d for the Horizon days from day
// index origin (the first day not known), from the days before it.
func ForecastAll(d *Daily, origin int, o DetectOptions) []Forecast {
	factors := classFactors(d, origin)
	keys := d.Keys()
	fits := make([]fit, len(keys))
	excess, e2 := map[string]float64{}, map[string]float64{}
	level := o
	level.Guard = 0
	for i, k := range keys {
		// The fit for the origin: its level over the last Reference days.
		fits[i] = expect(d, d.Series[k], origin, factors[k.Class], level)
		excess[k.Class] += fits[i].excess
		e2[k.Class] += fits[i].e2
	}
	out := make([]Forecast, 0, len(keys))
	for i, k := range keys {
		f, fc := fits[i], Forecast{Key: k}
		base := 0.0
		if m := factors[k.Class].multiplier(d, origin); m > 0 {
			base = f.mu / m
		}
		for h := range Horizon {
			mu := base * factors[k.Class].multiplier(d, origin+h)
			phi := 1.0
			if excess[k.Class] > 0 && e2[k.Class] > 0 {
				phi += mu * excess[k.Class] / e2[k.Class]
			}
			if f.n > 0 {
				phi *= 1 + 1/f.n
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

// ForecastLevels forecasts every city series of d and their province and
// national sums (Aggregate), each level fitted on its own (ForecastAll).
func ForecastLevels(d *Daily, origin int, o DetectOptions) []Forecast {
	var out []Forecast
	for _, level := range []string{LevelCity, LevelProvince, LevelNation} {
		out = append(out, ForecastAll(Aggregate(d, level), origin, o)...)
	}
	return out
}

// ForecastAt forecasts the units ordered of every class and city, province
// and the nation (ForecastLevels) for the Horizon Beijing days from the
// day of at, from the valid orders of the o.History() days before it: the
// pull API of replenishment systems.
func (s *Service) ForecastAt(ctx context.Context, at time.Time, o DetectOptions) ([]Forecast, error) {
	days := o.History()
	origin := beijingDay(at)
	d, err := s.OrderUnits(ctx, origin.AddDate(0, 0, -days), days)
	if err != nil {
		return nil, err
	}
	return ForecastLevels(d, days, o), nil
}
