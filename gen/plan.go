package gen

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
)

// A household is generated in two stages: plan draws everything random
// into a list of acts (what happens when, to whom), then the acts are
// encoded into wire formats or read for the ground truth. Encoding draws
// nothing, so the stream and the truth come from the same plan.

// actKind is what an act is.
type actKind uint8

const (
	actPlay           actKind = iota // Douyin video_play
	actComplete                      // Douyin video_complete
	actLike                          // Douyin like
	actComment                       // Douyin comment
	actSearch                        // Douyin search
	actLive                          // Douyin live_enter
	actIdentifyDouyin                // Douyin phone authorisation (identify)
	actIdentifyMP                    // mini-program login with phone (identify)
	actPage                          // mini-program page view
	actOrder                         // one version of an order
	actContact                       // WeCom contact change
	actChat                          // WeCom chat message (send)
	actRecall                        // WeCom chat recall
)

// act is one thing that happens. Fields are read according to kind.
type act struct {
	at     int64 // ms since epoch
	kind   actKind
	person uint8
	// anon: Douyin events carry the device id (0) or placeholders[anon-1].
	anon  uint8
	topic uint8
	// flag: chats 1 when the staff member speaks; contacts the change
	// type; orders the status.
	flag uint8
	// n: the video number; the order's index in planner.orders; the
	// page's index in mpPages.
	n int32
	// val: completion ratio in percent, live stay or search results;
	// order version; the recalled message's chat sequence.
	val int32
	seq uint32 // the item's sequence in the household (ids)
	// text: a comment, keyword, chat line, product SKU or WeCom State.
	text string
}

// planner plans and encodes households one at a time. It is not safe for
// concurrent use; each stream has its own.
type planner struct {
	g         *Generator
	src       rand.PCG
	r         *rand.Rand
	hh        household
	acts      []act
	orders    []order
	lines     []line
	purchases []purchase
	seq       uint32
	buf       []byte
	// contactEvent backs Item.Contact.
	contactEvent ContactEvent
}

func newPlanner(g *Generator) *planner {
	p := &planner{g: g}
	p.r = rand.New(&p.src)
	return p
}

// maxSeq bounds the items of one household (ids reserve 20 bits).
const maxSeq = 1 << 20

// plan draws household h. Afterwards p.acts holds its acts in time order
// and p.hh its facts.
func (p *planner) plan(h int) {
	k := p.g.ids.keys[keyHousehold]
	p.src.Seed(mix(k, uint64(h)), mix(^k, uint64(h)))
	p.acts, p.orders, p.lines, p.purchases = p.acts[:0], p.orders[:0], p.lines[:0], p.purchases[:0]
	p.seq = 0
	p.skeleton(h)
	p.douyin()
	p.wecom()
	p.shop()
	p.showSharing()
	slices.SortStableFunc(p.acts, func(a, b act) int { return cmp.Compare(a.at, b.at) })
	if p.seq >= maxSeq {
		panic("BUG: household has more items than message ids can number")
	}
}

// add appends an act inside the period, numbering it; acts outside
// [start, end) are dropped and add returns nil.
func (p *planner) add(a act) *act {
	if a.at < p.g.start || a.at >= p.g.end {
		return nil
	}
	a.seq = p.seq
	p.seq++
	p.acts = append(p.acts, a)
	return &p.acts[len(p.acts)-1]
}

// uniform returns a time uniformly in [from, to).
func (p *planner) uniform(from, to int64) int64 {
	if to <= from {
		return from
	}
	return from + p.r.Int64N(to-from)
}

// between returns a duration in ms uniformly in [lo, hi) of unit.
func (p *planner) between(lo, hi float64, unit int64) int64 {
	return int64((lo + (hi-lo)*p.r.Float64()) * float64(unit))
}

// poisson draws a Poisson variate (Knuth; means here are small).
func (p *planner) poisson(mean float64) int {
	if mean <= 0 {
		return 0
	}
	limit, prod, n := math.Exp(-mean), p.r.Float64(), 0
	for prod > limit {
		prod *= p.r.Float64()
		n++
	}
	return n
}

// hourCum is the cumulative weight of each local hour of the day for
// phone use and online shopping: lunch break and the evening peak.
var hourCum = func() [24]float64 {
	w := [24]float64{0.5, 0.3, 0.2, 0.1, 0.1, 0.2, 0.6, 1.2, 1.5, 1.3, 1.2, 1.4,
		2.2, 1.8, 1.1, 1.0, 1.1, 1.4, 1.8, 2.4, 2.8, 3.0, 2.4, 1.2}
	var c [24]float64
	var sum float64
	for i, x := range w {
		sum += x
		c[i] = sum
	}
	return c
}()

// timeOfDay returns an offset into a local day, by hourCum.
func (p *planner) timeOfDay() int64 {
	h := pickCum(hourCum[:], p.r.Float64())
	return int64(h)*msPerHour + p.r.Int64N(msPerHour)
}

// randomMoment draws a moment of the period weighted by day and hour.
func (p *planner) randomMoment() int64 {
	// Only the partial first and last days can miss the period; a
	// period of a few hours falls back to a uniform draw.
	for range 64 {
		if t := p.g.randomDay(p.r.Float64()) + p.timeOfDay(); t >= p.g.start && t < p.g.end {
			return t
		}
	}
	return p.uniform(p.g.start, p.g.end)
}

// showSharing makes every deliberate sharing visible in the stream: both
// sharers of a phone log in with it (Douyin phone authorisation or the
// mini program), and both users of a shared device watch at least once
// (see douyin).
func (p *planner) showSharing() {
	hh := &p.hh
	for i := range hh.n {
		pr := &hh.persons[i]
		if !pr.phoneShared {
			continue
		}
		at := p.randomMoment()
		if pr.douyin {
			p.identifyDouyin(i, at)
		} else {
			p.identifyMP(i, at)
		}
	}
}
