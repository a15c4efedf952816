package demand

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/granarycdp/cdp/gen"
)

// simStart is the first day of the simulated worlds: two years, so that
// the second year's calendar peaks have the first year's as reference.
var simStart = time.Date(2024, 1, 1, 0, 0, 0, 0, beijing)

const simDays = 731

// seriesOf converts a generated world's counts (searches by hour, or
// units by day) to a matrix's series.
func seriesOf(w *gen.DemandWorld, counts map[gen.DemandKey][]int) map[Key][]float64 {
	out := map[Key][]float64{}
	for _, k := range w.Keys {
		s := make([]float64, len(counts[k]))
		for i, n := range counts[k] {
			s[i] = float64(n)
		}
		out[Key{k.Class, k.Province, k.City}] = s
	}
	return out
}

// hourlyOf is a generated world's hourly searches as a matrix.
func hourlyOf(w *gen.DemandWorld) *Hourly {
	return &Hourly{Start: w.Start, Hours: 24 * w.Days, Series: seriesOf(w, w.Hourly)}
}

// simStep is the hours between two detection runs in the simulations.
const simStep = 4

// randomSurges draws n surges (×4 for 5 days) on distinct series, with
// onsets at random hours on days [lo, hi).
func randomSurges(r *rand.Rand, keys []gen.DemandKey, n, lo, hi int) []gen.Surge {
	var out []gen.Surge
	for _, i := range r.Perm(len(keys))[:n] {
		k := keys[i]
		onset := simStart.AddDate(0, 0, lo+r.IntN(hi-lo)).Add(time.Duration(r.IntN(24)) * time.Hour)
		out = append(out, gen.Surge{Class: k.Class, Province: k.Province, City: k.City, Onset: onset, Days: 5, Factor: 4})
	}
	return out
}

// TestQuietSeriesStayQuiet measures false alarms per 1,000 series-days on
// worlds without surges (their second year, through every calendar peak),
// detection run every simStep hours over rolling 24-hour windows: the
// goal is at most 1.
func TestQuietSeriesStayQuiet(t *testing.T) {
	o := DefaultDetectOptions()
	var alarms, seriesDays int
	for seed := range uint64(2) {
		w := gen.GenerateDemand(gen.DemandConfig{Seed: 100 + seed, Start: simStart, Days: simDays})
		h := hourlyOf(w)
		alarms += len(DetectRolling(h, 24*400, 24*simDays, simStep, o))
		seriesDays += len(h.Series) * (simDays - 400)
	}
	rate := 1000 * float64(alarms) / float64(seriesDays)
	t.Logf("quiet: %d alerts over %d series-days: %.3f false alarms per 1,000 series-days", alarms, seriesDays, rate)
	if rate > 1 {
		t.Errorf("%.3f false alarms per 1,000 series-days, goal at most 1", rate)
	}
}

// TestInjectedSurgesAreAlertedOnce injects surges at random series and
// hours and checks each is alerted exactly once, measuring the detection
// delay (from the onset to the end of the 24-hour window whose count
// raised the alert) and the false alarms on the other series.
func TestInjectedSurgesAreAlertedOnce(t *testing.T) {
	o := DefaultDetectOptions()
	r := rand.New(rand.NewPCG(7, 8))
	keys := gen.GenerateDemand(gen.DemandConfig{Seed: 1, Start: simStart, Days: 1}).Keys
	surges := randomSurges(r, keys, 40, 420, 700)
	w := gen.GenerateDemand(gen.DemandConfig{Seed: 200, Start: simStart, Days: simDays, Surges: surges})
	h := hourlyOf(w)
	alerts := DetectRolling(h, 24*400, 24*simDays, simStep, o)
	byKey := map[Key][]Alert{}
	for _, a := range alerts {
		byKey[a.Key] = append(byKey[a.Key], a)
	}
	var delays []float64
	missed := 0
	for _, s := range surges {
		k := Key{s.Class, s.Province, s.City}
		var got, other []Alert
		for _, a := range byKey[k] {
			if a.To.After(s.Onset) && !a.To.After(s.Onset.Add(time.Duration(s.Days)*24*time.Hour)) {
				got = append(got, a)
			} else {
				other = append(other, a)
			}
		}
		byKey[k] = other
		if len(got) == 0 {
			missed++
			t.Errorf("surge %s %s at %s: not detected", s.Class, s.City, s.Onset)
			continue
		}
		if len(got) != 1 {
			t.Errorf("surge %s %s at %s: %d alerts, want one", s.Class, s.City, s.Onset, len(got))
		}
		delays = append(delays, got[0].To.Sub(s.Onset).Hours())
		if x := got[0].To.Sub(s.Onset).Hours(); x > 24 {
			t.Logf("slow: %s %s at %s (%s): alerted %.0f h later, observed %.0f expected %.1f", s.Class, s.City, s.Onset.Format(time.DateTime), s.Onset.Weekday(), x, got[0].Observed, got[0].Expected)
		}
	}
	falseAlarms := 0
	for _, as := range byKey {
		falseAlarms += len(as)
	}
	slices.Sort(delays)
	within := 0
	for _, x := range delays {
		if x <= 24 {
			within++
		}
	}
	seriesDays := len(h.Series)*(simDays-400) - len(surges)*5
	t.Logf("surges: %d injected, %d detected; delay median %.1f h, max %.1f h, %d of %d within 24 h; %d false alarms on %d other series-days (%.3f per 1,000)",
		len(surges), len(delays), quantile(delays, 0.5), quantile(delays, 1), within, len(delays), falseAlarms, seriesDays, 1000*float64(falseAlarms)/float64(seriesDays))
	// The goal is 24 h; series of a few records a day need more of the
	// surge to see it (the slow ones are logged above).
	if m := quantile(delays, 0.5); m > 24 || float64(within) < 0.9*float64(len(delays)) {
		t.Errorf("detection delay median %.1f h, %d of %d within 24 h: goal median at most 24 h and 90%% within it", m, within, len(delays))
	}
}

func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	return sorted[int(math.Round(q*float64(len(sorted)-1)))]
}
