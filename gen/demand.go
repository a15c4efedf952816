package gen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"time"

	"github.com/granarycdp/cdp/demand/calendar"
)

// The demand world: daily searches and units ordered per product class and
// city, for demand sensing (package demand). It is a seed-controlled
// option beside the household demo and leaves it unchanged: the demo's
// households do not search enough to make thousands of regional series,
// so this world draws the regional counts directly, with the seasonality,
// calendar peaks and regional preferences of the trade, and injects surges
// whose truth it records.

// DemandConfig configures a demand world.
type DemandConfig struct {
	Seed uint64
	// Start is the first day (its Beijing day); Days how many.
	Start time.Time
	Days  int
	// Scale is the mean daily searches of a class of weight 1 in a city
	// of weight 1 on an ordinary weekday.
	Scale float64
	// Shape is the gamma shape of the day-to-day noise: counts are
	// gamma-Poisson (negative binomial), variance mean + mean²/Shape.
	Shape float64
	// Surges are injected on top (DefaultSurges for the example).
	Surges []Surge
	// Promotions is how many promotions to draw (0: none, the world as
	// before): each one class in one province for 3-7 days, units ordered
	// × DemandTruthPromoLift there. Weather draws a daily rain series per
	// province whose effect on units is exp(DemandTruthRainPerMM × mm).
	// Both are drawn from their own stream: the world without them is
	// the world of the same seed as before they existed.
	Promotions int
	Weather    bool
}

// The demand world's known regressor effects (its truth, recorded on the
// world as Truth): a promotion multiplies units ordered by
// DemandTruthPromoLift; a day's rain by exp(DemandTruthRainPerMM × mm)
// (more orders online when it rains: 25 mm, ×1.22).
const (
	DemandTruthPromoLift = 1.6
	DemandTruthRainPerMM = 0.008
)

// Promotion is a drawn promotion: Class in every city of Province, the
// Days days from From (a Beijing midnight).
type Promotion struct {
	Class    string    `json:"class"`
	Province string    `json:"province"`
	From     time.Time `json:"from"`
	Days     int       `json:"days"`
}

// DemandTruth is what a world's regressors do to its units ordered.
type DemandTruth struct {
	PromoLift float64 `json:"promo_lift"`
	RainPerMM float64 `json:"rain_per_mm"`
}

// Surge is an injected rise of one class's searches in one city (in every
// city of Province when City is empty: a province-wide surge): from
// Onset (an hour) for Days × 24 hours the searches are multiplied by Factor;
// orders follow OrderLag days after the onset, multiplied by OrderFactor
// for Days days (no order surge when OrderLag is 0).
type Surge struct {
	Class       string    `json:"class"`
	Province    string    `json:"province"`
	City        string    `json:"city"`
	Onset       time.Time `json:"onset"`
	Days        int       `json:"days"`
	Factor      float64   `json:"factor"`
	OrderLag    int       `json:"order_lag_days"`
	OrderFactor float64   `json:"order_factor"`
}

// DemandClass is a product class of the demand world: its base volume,
// its weight per region (east, north, southwest) and its peak multiplier
// per calendar event.
type DemandClass struct {
	Name   string
	Base   float64
	Region [3]float64
	Peaks  map[calendar.Event]float64
}

// DemandClasses are the classes of the demand world: rice peaks before 春节
// and on the shopping festivals, peanut oil before the festivals and in the
// east, rapeseed oil in the southwest, small bottles in tier-1 cities.
var DemandClasses = []DemandClass{
	{"低GI大米", 1.0, [3]float64{1.2, 1.0, 0.9}, map[calendar.Event]float64{calendar.SpringFestival: 1.6, calendar.Sale618: 1.8, calendar.Double11: 2.2, calendar.MidAutumn: 1.1}},
	{"五常大米", 1.5, [3]float64{1.0, 1.4, 0.8}, map[calendar.Event]float64{calendar.SpringFestival: 1.8, calendar.MidAutumn: 1.3, calendar.NationalDay: 1.2,
		calendar.Sale618: 1.6, calendar.Double11: 2.0, calendar.DragonBoat: 1.15}},
	{"高油酸花生油", 1.2, [3]float64{1.3, 1.1, 0.7}, map[calendar.Event]float64{calendar.SpringFestival: 1.7, calendar.MidAutumn: 1.5, calendar.DragonBoat: 1.2,
		calendar.Sale618: 1.4, calendar.Double11: 1.8}},
	{"小包装油", 0.8, [3]float64{1.1, 1.0, 0.9}, map[calendar.Event]float64{calendar.SpringFestival: 1.3, calendar.NationalDay: 1.3, calendar.Sale618: 1.5, calendar.Double11: 1.7}},
	{"菜籽油", 0.9, [3]float64{0.4, 0.5, 2.0}, map[calendar.Event]float64{calendar.SpringFestival: 1.7, calendar.MidAutumn: 1.3, calendar.DragonBoat: 1.2}},
}

// demandWeekday are the weekday multipliers of searches, Sunday first:
// weekends are busier on Douyin.
var demandWeekday = [7]float64{1.12, 0.95, 0.97, 0.98, 1.0, 1.03, 1.1}

// DemandHourShare is the share of a day's searches in each Beijing hour
// (a diurnal profile: lunch and the evening after dinner).
var DemandHourShare = func() [24]float64 {
	w := [24]float64{1, 0.5, 0.3, 0.2, 0.2, 0.4, 1, 2, 3, 3.5, 4, 4.5, 5, 4.5, 4, 4, 4.2, 4.5, 5, 6, 7, 7, 5, 3}
	var sum float64
	for _, x := range w {
		sum += x
	}
	for i := range w {
		w[i] /= sum
	}
	return w
}()

// DefaultSurges is the example: 高油酸花生油 searches in 成都 ×4 over
// 5 days from the 200th day at 10:00, then orders ×2.5 a week later.
func DefaultSurges(start time.Time) []Surge {
	onset := beijingMidnight(start).AddDate(0, 0, 200).Add(10 * time.Hour)
	return []Surge{{Class: "高油酸花生油", Province: "四川", City: "成都", Onset: onset, Days: 5, Factor: 4, OrderLag: 7, OrderFactor: 2.5}}
}

// DemandKey names a series of the demand world.
type DemandKey struct{ Class, Province, City string }

// DemandWorld is a drawn demand world: per series and day the expected
// searches (without surges: the quiet truth), the drawn searches (also by
// Beijing hour from Start, Hourly) and the drawn units ordered, and the
// surges injected.
type DemandWorld struct {
	Start    time.Time
	Days     int
	Keys     []DemandKey
	Expected map[DemandKey][]float64
	Searches map[DemandKey][]int
	Hourly   map[DemandKey][]int
	Units    map[DemandKey][]int
	Surges   []Surge
	// Promotions and Rain (mm per province and day) are the drawn
	// regressors, Truth their effects (zero when not drawn).
	Promotions []Promotion
	Rain       map[string][]float64
	Truth      DemandTruth
}

// GenerateDemand draws a demand world; the same config gives the same
// world.
func GenerateDemand(cfg DemandConfig) *DemandWorld {
	if cfg.Scale <= 0 {
		cfg.Scale = 20
	}
	if cfg.Shape <= 0 {
		cfg.Shape = 30
	}
	start := beijingMidnight(cfg.Start)
	w := &DemandWorld{Start: start, Days: cfg.Days, Expected: map[DemandKey][]float64{}, Searches: map[DemandKey][]int{},
		Hourly: map[DemandKey][]int{}, Units: map[DemandKey][]int{}, Surges: cfg.Surges}
	w.drawRegressors(cfg, rand.New(rand.NewPCG(cfg.Seed, 0x9e0a7)))
	r := rand.New(rand.NewPCG(cfg.Seed, 0xd3a4d))
	cal := make([]map[string]float64, cfg.Days)
	for d := range cfg.Days {
		cal[d] = demandDayFactors(start.AddDate(0, 0, d))
	}
	for _, c := range DemandClasses {
		for _, city := range cities {
			k := DemandKey{c.Name, city.Province, city.Name}
			w.Keys = append(w.Keys, k)
			exp, s, u := make([]float64, cfg.Days), make([]int, cfg.Days), make([]int, cfg.Days)
			hourly := make([]int, 24*cfg.Days)
			for d := range cfg.Days {
				mean := cfg.Scale * c.Base * c.Region[city.region] * math.Sqrt(city.Weight) * cal[d][""] * cal[d][c.Name]
				exp[d] = mean
				day := start.AddDate(0, 0, d)
				// One gamma draw a day (the day's overdispersion), then a
				// Poisson count an hour along the diurnal profile.
				g := gammaDraw(r, cfg.Shape) / cfg.Shape
				for h := range 24 {
					n := poissonDraw(r, mean*g*DemandHourShare[h]*w.searchFactor(k, day.Add(time.Duration(h)*time.Hour)))
					hourly[24*d+h] = n
					s[d] += n
				}
				u[d] = nbDraw(r, 0.3*mean*cal[d][c.Name]*w.orderFactor(k, day)*w.regressorFactor(k, d), cfg.Shape)
			}
			w.Expected[k], w.Searches[k], w.Units[k], w.Hourly[k] = exp, s, u, hourly
		}
	}
	return w
}

// demandDayFactors are the multipliers of a day: "" for what every class
// shares (weekday and the annual cycle: more cooking in winter), and one
// per class for its calendar peaks.
func demandDayFactors(day time.Time) map[string]float64 {
	doy := float64(day.YearDay())
	f := map[string]float64{"": demandWeekday[day.Weekday()] * (1 + 0.1*math.Cos(2*math.Pi*(doy-15)/365))}
	ev, off, ok := calendar.Near(day)
	for _, c := range DemandClasses {
		f[c.Name] = 1
		if ok {
			f[c.Name] = peakShape(ev, off, c.Peaks[ev])
		}
	}
	return f
}

// peakShape is the calendar multiplier at offset off from event ev for a
// class whose peak multiplier is peak (0: the event moves it not): a ramp
// from the window's start to the peak day (a week before the lunar
// festivals, the day itself for the sales), down to 1 after it; after
// 春节 demand dips.
func peakShape(ev calendar.Event, off int, peak float64) float64 {
	if ev == calendar.SpringFestival && off > 0 {
		return 0.7
	}
	if peak == 0 {
		return 1
	}
	w := calendar.Window[ev]
	top := map[calendar.Event]int{calendar.SpringFestival: -8, calendar.DragonBoat: -3, calendar.MidAutumn: -5, calendar.NationalDay: -2}[ev]
	var x float64
	switch {
	case off <= top:
		x = float64(off-w[0]+1) / float64(top-w[0]+1)
	default:
		x = 1 - float64(off-top)/float64(w[1]-top+1)
	}
	return 1 + (peak-1)*x
}

// searchFactor is the search multiplier of series k in the hour from at:
// the Factor of a surge covering it.
func (w *DemandWorld) searchFactor(k DemandKey, at time.Time) float64 {
	f := 1.0
	for _, s := range w.Surges {
		if s.Class == k.Class && (s.City == k.City || s.City == "") && s.Province == k.Province &&
			!at.Before(s.Onset) && at.Before(s.Onset.Add(time.Duration(s.Days)*24*time.Hour)) {
			f *= s.Factor
		}
	}
	return f
}

// orderFactor is the multiplier of units ordered of series k on day: a
// surge's OrderFactor on the Days days from OrderLag days after its
// onset's day.
func (w *DemandWorld) orderFactor(k DemandKey, day time.Time) float64 {
	f := 1.0
	for _, s := range w.Surges {
		if s.OrderLag <= 0 || s.Class != k.Class || (s.City != k.City && s.City != "") || s.Province != k.Province {
			continue
		}
		from := beijingMidnight(s.Onset).AddDate(0, 0, s.OrderLag)
		if !day.Before(from) && day.Before(from.AddDate(0, 0, s.Days)) {
			f *= s.OrderFactor
		}
	}
	return f
}

// drawRegressors draws the world's promotions and rain (cfg.Promotions,
// cfg.Weather) from r and records their truth.
func (w *DemandWorld) drawRegressors(cfg DemandConfig, r *rand.Rand) {
	var provinces []string
	seen := map[string]bool{}
	for _, c := range cities {
		if !seen[c.Province] {
			seen[c.Province] = true
			provinces = append(provinces, c.Province)
		}
	}
	for len(w.Promotions) < cfg.Promotions {
		p := Promotion{Class: DemandClasses[r.IntN(len(DemandClasses))].Name, Province: provinces[r.IntN(len(provinces))],
			From: w.Start.AddDate(0, 0, r.IntN(max(1, w.Days-3))), Days: 3 + r.IntN(5)}
		overlaps := false
		for _, q := range w.Promotions {
			overlaps = overlaps || q.Class == p.Class && q.Province == p.Province &&
				p.From.Before(q.From.AddDate(0, 0, q.Days)) && q.From.Before(p.From.AddDate(0, 0, p.Days))
		}
		if !overlaps { // one promotion at a time per class and province
			w.Promotions = append(w.Promotions, p)
		}
	}
	if cfg.Promotions > 0 {
		w.Truth.PromoLift = DemandTruthPromoLift
	}
	if !cfg.Weather {
		return
	}
	w.Truth.RainPerMM = DemandTruthRainPerMM
	w.Rain = map[string][]float64{}
	for _, p := range provinces {
		rain := make([]float64, w.Days)
		for d := range rain {
			// Wet three days in ten, an exponential amount of mean 12 mm
			// (to the tenth of a millimetre, as weather services give it).
			if r.Float64() < 0.3 {
				rain[d] = math.Round(-12*math.Log(1-r.Float64())*10) / 10
			}
		}
		w.Rain[p] = rain
	}
}

// regressorFactor is the promotions' and the rain's multiplier of units
// ordered of series k on day d.
func (w *DemandWorld) regressorFactor(k DemandKey, d int) float64 {
	f := 1.0
	day := w.Start.AddDate(0, 0, d)
	for _, p := range w.Promotions {
		if p.Class == k.Class && p.Province == k.Province && !day.Before(p.From) && day.Before(p.From.AddDate(0, 0, p.Days)) {
			f *= w.Truth.PromoLift
		}
	}
	if rain := w.Rain[k.Province]; rain != nil {
		f *= math.Exp(w.Truth.RainPerMM * rain[d])
	}
	return f
}

// RegressorCSV is the regressor file an operator would upload for this
// world (POST /api/v1/demand/regressors): a promo row (value 1) per
// promotion day, class and province, and a rain_mm row per province and
// day, every day of the world, so the days after a forecast's origin
// carry the planned promotions and the weather forecast (here exact).
func (w *DemandWorld) RegressorCSV() []byte {
	b := []byte("name,date,province,city,class,value\n")
	for _, p := range w.Promotions {
		for i := range p.Days {
			b = fmt.Appendf(b, "promo,%s,%s,,%s,1\n", p.From.AddDate(0, 0, i).Format(time.DateOnly), p.Province, p.Class)
		}
	}
	provinces := make([]string, 0, len(w.Rain))
	for p := range w.Rain {
		provinces = append(provinces, p)
	}
	sort.Strings(provinces)
	for _, p := range provinces {
		for d, mm := range w.Rain[p] {
			b = fmt.Appendf(b, "rain_mm,%s,%s,,,%s\n", w.Start.AddDate(0, 0, d).Format(time.DateOnly), p, strconv.FormatFloat(mm, 'f', -1, 64))
		}
	}
	return b
}

// RandomSurges draws n city surges for a world of cfg (searches ×4 for 5
// days, orders ×2.5 a week after the onset), on distinct series, with
// onsets at random hours on days [lo, hi) from cfg.Start.
func RandomSurges(seed uint64, start time.Time, n, lo, hi int) []Surge {
	r := rand.New(rand.NewPCG(seed, 0x5e7a))
	var keys []DemandKey
	for _, c := range DemandClasses {
		for _, city := range cities {
			keys = append(keys, DemandKey{c.Name, city.Province, city.Name})
		}
	}
	var out []Surge
	for _, i := range r.Perm(len(keys))[:min(n, len(keys))] {
		k := keys[i]
		onset := beijingMidnight(start).AddDate(0, 0, lo+r.IntN(hi-lo)).Add(time.Duration(r.IntN(24)) * time.Hour)
		out = append(out, Surge{Class: k.Class, Province: k.Province, City: k.City, Onset: onset, Days: 5, Factor: 4, OrderLag: 7, OrderFactor: 2.5})
	}
	return out
}

// nbDraw draws a gamma-Poisson count with the given mean and gamma shape.
func nbDraw(r *rand.Rand, mean, shape float64) int {
	if mean <= 0 {
		return 0
	}
	return poissonDraw(r, mean*gammaDraw(r, shape)/shape)
}

// gammaDraw draws Gamma(shape, 1) (Marsaglia and Tsang; shape ≥ 1).
func gammaDraw(r *rand.Rand, shape float64) float64 {
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if math.Log(u) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return d * v
		}
	}
}

// poissonDraw draws a Poisson count: by inversion for small means, by a
// rounded normal with continuity correction for large ones.
func poissonDraw(r *rand.Rand, mean float64) int {
	if mean > 500 {
		return max(0, int(mean+math.Sqrt(mean)*r.NormFloat64()+0.5))
	}
	l, k, p := math.Exp(-mean), 0, r.Float64()
	for p > l {
		k++
		p *= r.Float64()
	}
	return k
}

func beijingMidnight(t time.Time) time.Time {
	b := t.In(calendar.Beijing)
	return time.Date(b.Year(), b.Month(), b.Day(), 0, 0, 0, 0, calendar.Beijing)
}
