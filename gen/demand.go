package gen

import (
	"math"
	"math/rand/v2"
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
				u[d] = nbDraw(r, 0.3*mean*cal[d][c.Name]*w.orderFactor(k, day), cfg.Shape)
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
