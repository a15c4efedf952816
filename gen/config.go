// Package gen generates a grain-and-oil brand's customers and their data,
// deterministically from a seed: households of one to five persons in
// about forty Chinese cities, their Douyin behaviour, WeCom contacts and
// chats, and orders on Tmall, the Douyin shop, community group-buying,
// store POS, the mini program and the phone, following each household's
// consumption cycles and the seasonal peaks (春节, 618, 双11, 中秋).
//
// The output is what the platform ingests, byte for byte: Segment
// messages for POST /v1/batch, orders for POST /v1/orders, WeCom
// contact-change callbacks and chat-archive JSON lines (see
// docs/ingest.md). It is streamed household by household, so data sets of
// any size are generated in constant memory. The generator also knows the
// ground truth (which identifiers belong to which person) so that identity
// resolution can be scored.
package gen

import (
	"time"

	"github.com/granarycdp/cdp/schema"
)

// Defaults of Config.
const (
	// DefaultPeriod is the simulated period when Start is zero.
	DefaultPeriod = 365 * 24 * time.Hour
	// DefaultSharedPhoneRate: about one multi-person household in twenty
	// orders under one family member's phone for another (parents and
	// grown children, couples).
	DefaultSharedPhoneRate = 0.05
	// DefaultSharedDeviceRate: a family tablet or an old phone handed on,
	// with two Douyin accounts on one device.
	DefaultSharedDeviceRate = 0.03
	// DefaultNoiseRate: one Douyin event in 500 carries a placeholder
	// anonymousId ("0", "null", "undefined") from a broken SDK build.
	DefaultNoiseRate = 0.002
	// DefaultBloodSugarRate: about 12% of Chinese adults have diabetes
	// and 35-38% prediabetes (Wang et al., JAMA 2021), so most households
	// of two or more adults count one of them; those where someone
	// watches their blood sugar (控糖) are taken as a third. They are
	// the brand's flagship audience.
	DefaultBloodSugarRate = 0.33
	// DefaultCorpID is the WeCom corp id put in callbacks' ToUserName.
	DefaultCorpID = "ww8a1f3c5e7b9d2046"
)

// defaultEnd is the end of the period when Config.End is zero: a fixed
// date, so that a zero Config still generates the same bytes every time.
var defaultEnd = time.Date(2026, 11, 25, 0, 0, 0, 0, schema.Beijing)

// Config says what to generate. The same Config always gives the same
// bytes.
type Config struct {
	// Seed selects the data set.
	Seed uint64
	// Households is how many households to generate: about 2.5 persons
	// (1.85 of whom appear in the data) and 45 stream items each, so
	// 50,000 households give about 2.2 million items.
	Households int
	// Start and End bound the simulated period [Start, End): every
	// timestamp of the stream falls inside it. A zero End is 2026-11-25
	// 00:00 China time; pass a fixed date (not time.Now) to keep runs
	// reproducible. A zero Start is End minus DefaultPeriod.
	Start, End time.Time
	// SharedPhoneRate is the share of households of two or more persons
	// in which a second person uses the first one's phone number.
	// Zero means DefaultSharedPhoneRate; a negative rate turns sharing off.
	SharedPhoneRate float64
	// SharedDeviceRate is the share of households of two or more persons
	// in which two persons use Douyin on one device (one anonymousId).
	// Zero means DefaultSharedDeviceRate; negative turns it off.
	SharedDeviceRate float64
	// NoiseRate is the share of Douyin events whose anonymousId is a
	// placeholder. Zero means DefaultNoiseRate; negative turns it off.
	NoiseRate float64
	// BloodSugarRate is the share of households controlling blood sugar.
	// Zero means DefaultBloodSugarRate; negative means none.
	BloodSugarRate float64
	// CorpID is the WeCom corp id of contact callbacks; empty means
	// DefaultCorpID.
	CorpID string
}

// withDefaults returns c with zero fields replaced by their defaults and
// negative rates by zero.
func (c Config) withDefaults() Config {
	if c.End.IsZero() {
		c.End = defaultEnd
	}
	if c.Start.IsZero() {
		c.Start = c.End.Add(-DefaultPeriod)
	}
	rate := func(r *float64, def float64) {
		switch {
		case *r == 0:
			*r = def
		case *r < 0:
			*r = 0
		}
	}
	rate(&c.SharedPhoneRate, DefaultSharedPhoneRate)
	rate(&c.SharedDeviceRate, DefaultSharedDeviceRate)
	rate(&c.NoiseRate, DefaultNoiseRate)
	rate(&c.BloodSugarRate, DefaultBloodSugarRate)
	if c.CorpID == "" {
		c.CorpID = DefaultCorpID
	}
	if c.Households < 0 {
		c.Households = 0
	}
	return c
}

// Generator generates one data set. It is immutable after New: its
// methods may be called concurrently, each call keeping its own state.
type Generator struct {
	cfg        Config
	start, end int64 // the period in ms
	ids        idMaker
	promos     []promo
	// dayCum is the cumulative activity weight of each local day of the
	// period (Douyin use rises at promotions and over 春节); dayStart is
	// the first local day's start in ms.
	dayCum   []float64
	dayStart int64
	cityCum  []float64
	// cityStaff lists, per city, the staff members a household there is
	// served by.
	cityStaff [][]string
	videos    [numTopics][videosPerTopic]video
}

// video is one Douyin video of the brand's or a KOL's account.
type video struct {
	id       string
	author   string
	duration int // seconds
}

// New returns a generator for cfg (zero fields take their defaults; see
// Config). It panics when End is not after Start.
func New(cfg Config) *Generator {
	cfg = cfg.withDefaults()
	g := &Generator{cfg: cfg, start: cfg.Start.UnixMilli(), end: cfg.End.UnixMilli(), ids: newIDMaker(cfg.Seed)}
	if g.end <= g.start {
		panic("gen: Config.End must be after Config.Start")
	}
	g.promos = promotions(g.start, g.end)
	g.initDays()
	var sum float64
	for _, c := range cities {
		sum += c.Weight
		g.cityCum = append(g.cityCum, sum)
	}
	g.initStaff()
	g.initVideos()
	return g
}

// Config returns the configuration in effect, defaults applied.
func (g *Generator) Config() Config { return g.cfg }

// initDays weighs each local day of the period by how much people watch
// and shop: promotion windows draw more, their peak days most, and the
// 春节 holiday week is spent on the phone.
func (g *Generator) initDays() {
	g.dayStart = localDayStart(g.start)
	var sum float64
	for d := g.dayStart; d < g.end; d += msPerDay {
		w := 1.0
		for _, p := range g.promos {
			switch {
			case d == p.peak:
				w += 1.0
			case d+msPerDay > p.start && d < p.end:
				w += 0.4
			}
			if p.kind == promoSpring && d >= p.end && d < p.end+7*msPerDay {
				w += 0.3
			}
		}
		sum += w
		g.dayCum = append(g.dayCum, sum)
	}
}

// initStaff assigns the first staff members to the stores of the tier-1
// and tier-2 cities, round-robin, and lets the online advisers serve
// every city.
func (g *Generator) initStaff() {
	g.cityStaff = make([][]string, len(cities))
	var big []int
	for i, c := range cities {
		if c.Tier <= 2 {
			big = append(big, i)
		}
	}
	storeStaff := len(staffNames) - onlineStaff
	for i := range storeStaff {
		c := big[i%len(big)]
		g.cityStaff[c] = append(g.cityStaff[c], staffNames[i])
	}
	online := staffNames[storeStaff:]
	for i := range g.cityStaff {
		if len(g.cityStaff[i]) == 0 {
			g.cityStaff[i] = online
		}
	}
}

// initVideos makes each topic's video pool: 19-digit ids like Douyin's,
// an author and a duration (short videos of 15 s to 3 min).
func (g *Generator) initVideos() {
	ids := newAffine(g.ids.keys[keyVideo], 1_000_000_000_000_000_000)
	for t := range numTopics {
		for n := range videosPerTopic {
			k := uint64(t*videosPerTopic + n)
			r := mix(g.ids.keys[keyVideo], k)
			g.videos[t][n] = video{
				id:       string(appendDigits([]byte{'7'}, int64(ids.at(k)), 18)),
				author:   authors[r%uint64(len(authors))],
				duration: 15 + int(r>>32%166),
			}
		}
	}
}

// randomDay draws a local day of the period by its weight and returns
// its start in ms.
func (g *Generator) randomDay(u float64) int64 {
	x := u * g.dayCum[len(g.dayCum)-1]
	lo, hi := 0, len(g.dayCum)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if g.dayCum[mid] <= x {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return g.dayStart + int64(lo)*msPerDay
}

// promoAt returns the promotion whose window holds t, or nil.
func (g *Generator) promoAt(t int64) *promo {
	for i := range g.promos {
		if p := &g.promos[i]; t >= p.start && t < p.end {
			return p
		}
	}
	return nil
}
