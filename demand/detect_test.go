package demand

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
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

// allLevels is the number of series detection tests in h: every city's,
// province's and class's.
func allLevels(h *Hourly) int {
	d := h.Windows(24, 1)
	return len(d.Series) + len(Aggregate(d, LevelProvince).Series) + len(Aggregate(d, LevelNation).Series)
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

// TestQuietSeriesStayQuiet measures false alarms per 1,000 series-days
// (every level: cities, provinces, the nation) on worlds without surges (their second year, through every calendar peak),
// detection run every simStep hours over rolling 24-hour windows: the
// goal is at most 1.
func TestQuietSeriesStayQuiet(t *testing.T) {
	o := DefaultDetectOptions()
	var alarms, seriesDays int
	for seed := range uint64(2) {
		w := gen.GenerateDemand(gen.DemandConfig{Seed: 100 + seed, Start: simStart, Days: simDays})
		h := hourlyOf(w)
		alarms += len(DetectRolling(h, 24*400, 24*simDays, simStep, o))
		seriesDays += allLevels(h) * (simDays - 400)
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
	seriesDays := allLevels(h)*(simDays-400) - len(surges)*5
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

// TestDiffuseProvinceSurgesAreFoundAtTheProvince injects province-wide
// surges (every city of the province ×1.6 for 5 days, weak in any one
// city's count) of random classes into provinces of at least three cities
// and 60 searches a day (below that, ×1.6 over a day is within the noise
// at the false-alarm level) and checks that each is alerted at the province level during the surge;
// the other series' alerts in those weeks (every level) are counted as
// false alarms against the goal of at most 1 per 1,000 series-days.
func TestDiffuseProvinceSurgesAreFoundAtTheProvince(t *testing.T) {
	o := DefaultDetectOptions()
	r := rand.New(rand.NewPCG(11, 12))
	w1 := gen.GenerateDemand(gen.DemandConfig{Seed: 1, Start: simStart, Days: 1})
	cities, volume := map[[2]string]int{}, map[[2]string]float64{}
	for _, k := range w1.Keys {
		cities[[2]string{k.Class, k.Province}]++
		volume[[2]string{k.Class, k.Province}] += w1.Expected[k][0]
	}
	var big [][2]string // provinces of 3 cities or more, 60 searches a day or more
	for cp, n := range cities {
		if n >= 3 && volume[cp] >= 60 {
			big = append(big, cp)
		}
	}
	slices.SortFunc(big, func(a, b [2]string) int { return strings.Compare(a[0]+a[1], b[0]+b[1]) })
	var surges []gen.Surge
	for i, j := range r.Perm(len(big))[:6] {
		onset := simStart.AddDate(0, 0, 430+45*i+r.IntN(30)).Add(time.Duration(r.IntN(24)) * time.Hour)
		surges = append(surges, gen.Surge{Class: big[j][0], Province: big[j][1], Onset: onset, Days: 5, Factor: 1.6})
	}
	h := hourlyOf(gen.GenerateDemand(gen.DemandConfig{Seed: 300, Start: simStart, Days: simDays, Surges: surges}))
	found, falseAlarms, seriesDays := 0, 0, 0
	levels := allLevels(h)
	for _, s := range surges {
		from := int(s.Onset.Sub(h.Start).Hours()) / simStep * simStep
		to := from + 24*7
		var ours []Alert
		for _, a := range DetectRolling(h, from, to, simStep, o) {
			switch {
			case a.Key == Key{Class: s.Class, Province: s.Province} && a.To.After(s.Onset):
				ours = append(ours, a)
			case a.Key.Class == s.Class && a.Key.Province == s.Province && a.Key.City != "":
				t.Logf("%s %s: a city alert too: %s observed %.0f expected %.1f", s.Class, s.Province, a.Key.City, a.Observed, a.Expected)
			default:
				falseAlarms++
			}
		}
		seriesDays += levels * 7
		if len(ours) != 1 {
			t.Errorf("province-wide surge %s in %s from %s: %d province alerts, want one", s.Class, s.Province, s.Onset.Format(time.DateTime), len(ours))
			continue
		}
		found++
		a := ours[0]
		t.Logf("%s in %s (%d cities, %.0f a day) ×%.1f: alerted %.0f h after onset, observed %.0f expected %.1f (×%.2f), q %.2g",
			s.Class, s.Province, cities[[2]string{s.Class, s.Province}], volume[[2]string{s.Class, s.Province}], s.Factor, a.To.Sub(s.Onset).Hours(), a.Observed, a.Expected, a.Ratio, a.Q)
	}
	rate := 1000 * float64(falseAlarms) / float64(seriesDays)
	t.Logf("province-wide surges: %d of %d found at the province; %d other alerts over %d series-days (%.3f per 1,000)", found, len(surges), falseAlarms, seriesDays, rate)
	if rate > 1 {
		t.Errorf("%.3f false alarms per 1,000 series-days, goal at most 1", rate)
	}
}
