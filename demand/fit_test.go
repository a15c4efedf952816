package demand

import (
	"bytes"
	"math"
	"testing"

	"github.com/granarycdp/cdp/gen"
)

// regressorWorld is the backtest's world: the forecast backtest's seed and
// span, with 150 promotions, daily rain per province and 60 search surges
// followed by orders a week later, and its regressor CSV parsed as the
// import would.
func regressorWorld(t *testing.T) (*gen.DemandWorld, *Regressors) {
	t.Helper()
	w := gen.GenerateDemand(gen.DemandConfig{Seed: 300, Start: simStart, Days: simDays, Promotions: 150, Weather: true,
		Surges: gen.RandomSurges(300, simStart, 60, 60, simDays-20)})
	values, err := ParseRegressorCSV(bytes.NewReader(w.RegressorCSV()))
	if err != nil {
		t.Fatal(err)
	}
	return w, NewRegressors(values)
}

// searchesOf is a generated world's daily searches as a matrix.
func searchesOf(w *gen.DemandWorld) *Daily {
	return &Daily{Start: w.Start, Days: w.Days, Series: seriesOf(w, w.Searches)}
}

// TestRegressorsAndSignalsImproveTheForecast backtests, on a world with
// promotions, rain and surges whose orders follow their searches by a
// week, the 14-day forecast of units (220 city series, origins every 14
// days through the second year): MASE of the seasonal naive, of the
// forecast without inputs and of the forecast with the demand signals
// and the regressor CSV (promo, rain_mm, with their future values), the
// coverage of the last's 80% and 95% intervals, and the fitted effects
// against the generator's truth.
func TestRegressorsAndSignalsImproveTheForecast(t *testing.T) {
	o := DefaultDetectOptions()
	w, reg := regressorWorld(t)
	d, in := unitsOf(w), Inputs{Signals: searchesOf(w), Regressors: reg}
	var naive, plain, with, n, in80, in95 float64
	var promo, rain, signal []float64
	// The errors on promotion days and on the days of orders that follow a
	// search surge seen before the origin (the signal's days).
	var promoDays, surgeDays [3]float64 // today's model, with, days
	surge := surgeOrderDays(w)
	for origin := 400; origin+Horizon <= simDays; origin += 14 {
		base := ForecastAll(d, origin, o)
		for i, fc := range ForecastWith(d, origin, o, in) {
			if fc.Key != base[i].Key {
				t.Fatalf("BUG: series order differs: %v, %v", fc.Key, base[i].Key)
			}
			s := d.Series[fc.Key]
			scale := weeklyScale(s, origin)
			if scale == 0 {
				continue
			}
			for h, day := range fc.Days {
				y := s[origin+h]
				naive += math.Abs(y-s[origin+h-7*(h/7+1)]) / scale
				plain += math.Abs(y-base[i].Days[h].Expected) / scale
				with += math.Abs(y-day.Expected) / scale
				n++
				if y >= day.P80[0] && y <= day.P80[1] {
					in80++
				}
				if y >= day.P95[0] && y <= day.P95[1] {
					in95++
				}
				errs := [3]float64{math.Abs(y-base[i].Days[h].Expected) / scale, math.Abs(y-day.Expected) / scale, 1}
				if x := reg.series("promo", fc.Key, d.Start, d.Days+Horizon); x != nil && x[origin+h] != 0 {
					for j := range errs {
						promoDays[j] += errs[j]
					}
				}
				if seen, ok := surge[fc.Key][origin+h]; ok && seen < origin {
					for j := range errs {
						surgeDays[j] += errs[j]
					}
				}
			}
			if fc.Key.Province == "四川" && fc.Key.City == "成都" {
				for _, e := range fc.Effects {
					switch e.Name {
					case "promo":
						promo = append(promo, e.Beta)
					case "rain_mm":
						rain = append(rain, e.Beta)
					case SignalRegressor:
						signal = append(signal, e.Beta)
					}
				}
			}
		}
	}
	c80, c95 := in80/n, in95/n
	t.Logf("%.0f forecast days: MASE seasonal naive %.3f, today's model %.3f, with signals and regressors %.3f; coverage 80%%: %.3f, 95%%: %.3f",
		n, naive/n, plain/n, with/n, c80, c95)
	if with >= plain || plain >= naive {
		t.Errorf("MASE with signals and regressors %.3f, without %.3f, seasonal naive %.3f: not in that order", with/n, plain/n, naive/n)
	}
	if c80 < 0.75 || c80 > 0.88 || c95 < 0.92 || c95 > 0.99 {
		t.Errorf("coverage 80%%: %.3f, 95%%: %.3f: the intervals are not calibrated", c80, c95)
	}
	t.Logf("on %.0f promotion days: MASE today's model %.3f, with %.3f; on %.0f surge order days (searches seen before the origin): %.3f, with %.3f",
		promoDays[2], promoDays[0]/promoDays[2], promoDays[1]/promoDays[2], surgeDays[2], surgeDays[0]/surgeDays[2], surgeDays[1]/surgeDays[2])
	if promoDays[1] > 0.8*promoDays[0] {
		t.Errorf("on promotion days MASE %.3f with regressors, %.3f without: not 20%% better", promoDays[1]/promoDays[2], promoDays[0]/promoDays[2])
	}
	if surgeDays[1] > 0.8*surgeDays[0] {
		t.Errorf("on surge order days MASE %.3f with signals, %.3f without: not 20%% better", surgeDays[1]/surgeDays[2], surgeDays[0]/surgeDays[2])
	}
	// The fitted effects (each class's, at every origin) against the truth.
	lift, perMM := math.Exp(median(promo)), median(rain)
	t.Logf("fitted promo lift: median ×%.3f over %d class-origins (truth ×%.2f); rain: median %.4f per mm (truth %.4f); signal: median β %.3f",
		lift, len(promo), w.Truth.PromoLift, perMM, w.Truth.RainPerMM, median(signal))
	if math.Abs(lift/w.Truth.PromoLift-1) > 0.1 {
		t.Errorf("fitted promo lift ×%.3f, truth ×%.2f: more than 10%% off", lift, w.Truth.PromoLift)
	}
	if math.Abs(perMM-w.Truth.RainPerMM) > 0.25*w.Truth.RainPerMM {
		t.Errorf("fitted rain effect %.4f per mm, truth %.4f: more than 25%% off", perMM, w.Truth.RainPerMM)
	}
}

// surgeOrderDays are, per series, the days of a world's order surges,
// each with the day its searches rose (signalLag days before).
func surgeOrderDays(w *gen.DemandWorld) map[Key]map[int]int {
	out := map[Key]map[int]int{}
	for _, s := range w.Surges {
		k := Key{s.Class, s.Province, s.City}
		if out[k] == nil {
			out[k] = map[int]int{}
		}
		first := int(beijingDay(s.Onset).Sub(w.Start).Hours()/24+0.5) + s.OrderLag
		for i := range s.Days {
			out[k][first+i] = first + i - s.OrderLag
		}
	}
	return out
}

// weeklyScale is MASE's scale: series s's mean absolute weekly difference
// over the year before origin.
func weeklyScale(s []float64, origin int) float64 {
	var scale float64
	for i := origin - 365; i < origin; i++ {
		scale += math.Abs(s[i] - s[i-7])
	}
	return scale / 365
}

// TestForecastWithoutRegressorsIsTodays: with no inputs, with regressors
// that apply to no series, or with values that are all 0, the forecast is
// the one without regressors (forecastToday, the model as it was before
// them), to the last bit.
func TestForecastWithoutRegressorsIsTodays(t *testing.T) {
	o := DefaultDetectOptions()
	w := gen.GenerateDemand(gen.DemandConfig{Seed: 302, Start: simStart, Days: 500})
	d := unitsOf(w)
	elsewhere := NewRegressors([]RegressorValue{
		{Name: "promo", Date: simStart.AddDate(0, 0, 470), Province: "西藏", Class: "五常大米", Value: 1},
		{Name: "temp_max_c", Date: simStart.AddDate(0, 0, 480), Class: "玉米油", Value: 30},
		{Name: "rain_mm", Date: simStart.AddDate(0, 0, 460), Province: "四川", Value: 0},
	})
	want := forecastToday(d, 480, o)
	for name, in := range map[string]Inputs{"none": {}, "elsewhere": {Regressors: elsewhere}} {
		got := ForecastWith(d, 480, o, in)
		if len(got) != len(want) {
			t.Fatalf("%s: %d forecasts, want %d", name, len(got), len(want))
		}
		for i := range got {
			if got[i].Effects != nil {
				t.Errorf("%s: %v has effects %v", name, got[i].Key, got[i].Effects)
			}
			for h := range got[i].Days {
				if got[i].Days[h] != want[i].Days[h] {
					t.Fatalf("%s: %v day %d: %+v, want %+v", name, got[i].Key, h, got[i].Days[h], want[i].Days[h])
				}
			}
		}
	}
}

// forecastToday is the forecast as it was before regressors (kept here,
// verbatim but for expect's new argument, as the reference).
func forecastToday(d *Daily, origin int, o DetectOptions) []Forecast {
	factors := classFactors(d, origin)
	keys := d.Keys()
	fits := make([]fit, len(keys))
	excess, e2 := map[string]float64{}, map[string]float64{}
	level := o
	level.Guard = 0
	for i, k := range keys {
		fits[i] = expect(d, d.Series[k], origin, factors[k.Class], level, nil)
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
