package demand

import (
	"math"
	"testing"

	"github.com/granarycdp/cdp/gen"
)

// unitsOf is a generated world's units ordered as a matrix.
func unitsOf(w *gen.DemandWorld) *Daily {
	return &Daily{Start: w.Start, Days: w.Days, Series: seriesOf(w, w.Units)}
}

// TestForecastBeatsSeasonalNaive backtests the 14-day forecast of units
// ordered on a generated world (220 series, origins every 14 days through
// the second year, every calendar peak): MASE (scaled by the in-sample
// mean absolute weekly difference of the year before the origin) of the
// forecast against the seasonal-naive forecast (the same weekday of the
// last known week), and the coverage of the 80% and 95% intervals.
func TestForecastBeatsSeasonalNaive(t *testing.T) {
	o := DefaultDetectOptions()
	w := gen.GenerateDemand(gen.DemandConfig{Seed: 300, Start: simStart, Days: simDays})
	d := unitsOf(w)
	var model, naive, n, in80, in95 float64
	for origin := 400; origin+Horizon <= simDays; origin += 14 {
		for _, fc := range ForecastAll(d, origin, o) {
			s := d.Series[fc.Key]
			var scale float64
			for i := origin - 365; i < origin; i++ {
				scale += math.Abs(s[i] - s[i-7])
			}
			scale /= 365
			if scale == 0 {
				continue
			}
			for h, day := range fc.Days {
				y := s[origin+h]
				snaive := s[origin+h-7*(h/7+1)]
				model += math.Abs(y-day.Expected) / scale
				naive += math.Abs(y-snaive) / scale
				n++
				if y >= day.P80[0] && y <= day.P80[1] {
					in80++
				}
				if y >= day.P95[0] && y <= day.P95[1] {
					in95++
				}
			}
		}
	}
	mase, naiveMASE := model/n, naive/n
	c80, c95 := in80/n, in95/n
	t.Logf("%.0f forecast days: MASE %.3f, seasonal naive %.3f (ratio %.3f); coverage 80%%: %.3f, 95%%: %.3f", n, mase, naiveMASE, mase/naiveMASE, c80, c95)
	if mase >= naiveMASE {
		t.Errorf("MASE %.3f is not below the seasonal naive's %.3f", mase, naiveMASE)
	}
	if c80 < 0.75 || c80 > 0.88 || c95 < 0.92 || c95 > 0.99 {
		t.Errorf("coverage 80%%: %.3f, 95%%: %.3f: the intervals are not calibrated", c80, c95)
	}
}

// TestForecastLevelsCoverProvincesAndTheNation: ForecastLevels forecasts
// every city, every province and the nation, and a sum's forecast is
// close to the sum of its cities' (each fitted on its own).
func TestForecastLevelsCoverProvincesAndTheNation(t *testing.T) {
	w := gen.GenerateDemand(gen.DemandConfig{Seed: 301, Start: simStart, Days: 500})
	d := &Daily{Start: w.Start, Days: w.Days, Series: seriesOf(w, w.Units)}
	fs := ForecastLevels(d, 480, DefaultDetectOptions())
	n := map[string]int{}
	sum := map[Key]float64{}
	for _, f := range fs {
		n[f.Key.Level()]++
		if f.Key.Level() == LevelCity {
			sum[Key{Class: f.Key.Class}] += f.Days[0].Expected
		}
	}
	if n[LevelCity] != len(d.Series) || n[LevelProvince] != len(Aggregate(d, LevelProvince).Series) || n[LevelNation] != len(gen.DemandClasses) {
		t.Fatalf("forecasts by level: %v", n)
	}
	for _, f := range fs {
		if s := sum[f.Key]; f.Key.Level() == LevelNation && math.Abs(f.Days[0].Expected-s) > 0.1*s {
			t.Errorf("%s: the nation's forecast %.1f, its cities' sum %.1f", f.Key.Class, f.Days[0].Expected, s)
		}
	}
}
