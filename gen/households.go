package gen

import (
	"math"
	"strconv"
)

// household is one household being planned: who lives there, what they
// eat and care about, and where they shop.
type household struct {
	idx  int
	city int
	// size is how many people eat at home (1-5); every one of them is a
	// person who may appear in the data.
	size   int
	infant bool // a baby besides; eats little, drives 宝宝辅食

	// Interests.
	sugar bool // 控糖: someone controls blood sugar
	slim  bool // 减脂
	lowGI bool // 低GI: all 控糖 households and a few others
	baby  bool // 宝宝辅食

	topicCum [numTopics]float64 // cumulative weights of the feed's topics

	// Consumption: millilitres of oil and grams of rice a day.
	oilPerDay, ricePerDay float64

	// buyer households buy the brand's oil or rice regularly; share is
	// the part of their consumption they buy from the brand.
	buyer             bool
	share             float64
	buysOil, buysRice bool
	oilSKU, riceSKU   int
	chanWeight        [numChannels]float64

	store  string // the nearest store's id (SH01)
	leader string // the community group-buying leader
	staff  string // the WeCom staff member serving the household

	n       int // persons (= size)
	persons [5]person

	sharedPhone, sharedDevice bool

	// trialAt is when the household means to order the 低GI trial pack
	// (0: never), trialBy who and trialCh on which channel; trialOrdered
	// when the order was placed. lowGIFrom is when it starts buying 低GI
	// rice.
	trialAt      int64
	trialBy      int
	trialCh      int
	trialOrdered int64
	lowGIFrom    int64
	lowGIRice    []int64 // ordered_at of orders with 低GI大米 2.5kg
	orders       int
}

// person is a member of the household and everything they were given.
type person struct {
	name   string
	douyin bool // uses Douyin
	wecom  bool // added a staff member on WeCom

	// The identifiers this person would carry. phone is the number the
	// person uses: their own, or a family member's when shared.
	phone, douyinID, device, unionID, wecomID, gbOpenID, mpOpenID, tmallID, memberNo string
	phoneShared, deviceShared                                                        bool

	// used marks the identifiers that occur in the stream (bit idKind).
	used uint16

	liveAt  int64 // the first live room visited, for the WeCom State tag
	mpLogin bool  // logged in to the mini program with the phone
}

func (pr *person) use(k ...idKind) {
	for _, x := range k {
		pr.used |= 1 << x
	}
}

// id returns the value of identifier kind k.
func (pr *person) id(k idKind) string {
	switch k {
	case idPhone:
		return pr.phone
	case idDouyin:
		return pr.douyinID
	case idDevice:
		return pr.device
	case idUnion:
		return pr.unionID
	case idWeCom:
		return pr.wecomID
	case idOpenGB:
		return appGroupBuy + ":" + pr.gbOpenID
	case idOpenMP:
		return appBrand + ":" + pr.mpOpenID
	case idTmall:
		return pr.tmallID
	case idMember:
		return pr.memberNo
	}
	panic("BUG: unknown idKind " + strconv.Itoa(int(k)))
}

// householdSizes are the shares of households by size (China's 2020
// census: 2.62 persons on average; one- and two-person households are
// the most common).
var householdSizes = []float64{0.25, 0.30, 0.22, 0.13, 0.10}

// presence is the chance that a person uses Douyin only, WeCom only or
// both; the rest use neither and appear, if at all, through orders.
type presence struct{ both, douyinOnly, wecomOnly float64 }

var (
	// The household's main shopper follows the brand more closely.
	presenceMain  = presence{both: 0.28, douyinOnly: 0.30, wecomOnly: 0.14}
	presenceOther = presence{both: 0.10, douyinOnly: 0.32, wecomOnly: 0.06}
	// In a blood-sugar-control household the main shopper adds the
	// brand's nutrition adviser more often (advice on what to eat is
	// what they came for): 62% are on WeCom instead of 42%.
	presenceMainSugar = presence{both: 0.40, douyinOnly: 0.18, wecomOnly: 0.22}
)

// Daily consumption per person at home, from the dietary guidelines'
// 25-30 g of oil (about 34 ml with what sticks to the pan) and the rice
// share of 200-300 g of cereals: a three-person household finishes 5 L
// of oil in about seven weeks and 5 kg of rice in about two and a half.
const (
	oilMlPerPerson = 34.0
	riceGPerPerson = 95.0
)

// skeleton draws household h: city, size, interests, consumption,
// shopping habits, persons and their identifiers, and the sharing of
// phones and devices.
func (p *planner) skeleton(h int) {
	g, r := p.g, p.r
	hh := &p.hh
	*hh = household{idx: h, lowGIRice: hh.lowGIRice[:0]}
	hh.city = pickCum(g.cityCum, r.Float64())
	city := &cities[hh.city]
	hh.size = 1 + pick(householdSizes, r.Float64())
	hh.n = hh.size
	hh.infant = hh.size >= 2 && r.Float64() < 0.06+0.04*float64(min(hh.size, 4)-2)
	hh.sugar = r.Float64() < g.cfg.BloodSugarRate
	hh.slim = r.Float64() < 0.15+0.07*b2f(city.Tier == 1)
	hh.lowGI = hh.sugar || r.Float64() < 0.06
	hh.baby = hh.infant
	hh.topicWeights()

	cook := math.Max(0.45, math.Min(1.6, 1+0.25*r.NormFloat64())) // eating out, other brands' share
	if hh.size == 1 {
		cook *= 0.7 // people living alone eat out more
	}
	eaters := float64(hh.size) + 0.3*b2f(hh.infant)
	hh.oilPerDay = eaters * oilMlPerPerson * cook
	hh.ricePerDay = eaters * riceGPerPerson * cook * (0.8 + 0.4*r.Float64())

	// Households controlling blood sugar stay with the brand more often:
	// its low-GI rice and advice are what they came for.
	hh.buyer = r.Float64() < 0.62+0.2*b2f(hh.sugar)
	hh.share = 0.3 + 0.65*math.Pow(r.Float64(), 0.7)
	hh.buysOil = r.Float64() < 0.85
	hh.buysRice = r.Float64() < 0.6 || !hh.buysOil
	hh.oilSKU = p.oilChoice(city)
	hh.riceSKU = p.riceChoice(city)
	hh.store = string(appendDigits([]byte(upper(city.Code)), int64(1+r.IntN(city.Stores)), 2))
	// About thirty households of this data set per group-buying leader.
	communities := max(3, int(float64(g.cfg.Households)*city.Weight/g.cityCum[len(g.cityCum)-1]/30))
	hh.leader = "L" + city.Code + string(appendDigits(nil, int64(r.IntN(communities)), 5))
	staff := g.cityStaff[hh.city]
	hh.staff = staff[r.IntN(len(staff))]

	for i := range hh.n {
		p.newPerson(i)
	}
	p.share()
	p.channelWeights(city)
}

// topicWeights sets the household's feed: the base mix plus its interests.
func (hh *household) topicWeights() {
	w := baseTopicWeights
	if hh.sugar {
		w[topicSugar] += 0.35
		w[topicLowGI] += 0.15
	}
	if hh.lowGI && !hh.sugar {
		w[topicLowGI] += 0.2
	}
	if hh.slim {
		w[topicSlim] += 0.3
	}
	if hh.baby {
		w[topicBaby] += 0.3
	}
	var sum float64
	for t, x := range w {
		sum += x
		hh.topicCum[t] = sum
	}
}

// interested tells whether a topic matches the household's interests.
func (hh *household) interested(topic int) bool {
	switch topic {
	case topicSugar:
		return hh.sugar
	case topicLowGI:
		return hh.lowGI
	case topicSlim:
		return hh.slim
	case topicBaby:
		return hh.baby
	}
	return false
}

// oilChoice picks the household's usual oil: small packs for people
// living alone, high-oleic oil for the health-minded, rapeseed oil in the
// south-west, corn oil in the north, peanut oil elsewhere.
func (p *planner) oilChoice(city *City) int {
	hh, u := &p.hh, p.r.Float64()
	switch {
	case hh.size == 1 && u < 0.6:
		if u < 0.35 {
			return skuSmallHighOleic900
		}
		return skuSmallPeanut400
	case (hh.slim || hh.sugar) && u < 0.55:
		if hh.size <= 2 {
			return skuHighOleic18
		}
		return skuHighOleic5
	case city.region == regionSouthwest && u < 0.6:
		return skuRapeseed5
	case city.region == regionNorth && u < 0.35:
		return skuCorn5
	case u < 0.15:
		return skuHighOleic5
	}
	return skuPeanut5
}

// riceChoice picks the usual rice: big households buy 10 kg bags of 东北
// rice, tier-1 households more often 五常.
func (p *planner) riceChoice(city *City) int {
	hh, u := &p.hh, p.r.Float64()
	switch {
	case hh.size >= 4 && u < 0.6:
		return skuDongbei10
	case city.Tier == 1 && u < 0.65:
		return skuWuchang5
	case u < 0.45:
		return skuWuchang5
	}
	return skuDongbei10
}

// newPerson draws person i's presence on Douyin and WeCom, name and
// identifiers. Identifier values come from the person's global number
// (household*5 + slot) and are unique for the seed.
func (p *planner) newPerson(i int) {
	r, ids := p.r, &p.g.ids
	pr := &p.hh.persons[i]
	*pr = person{}
	pres := presenceOther
	switch {
	case i == 0 && p.hh.sugar:
		pres = presenceMainSugar
	case i == 0:
		pres = presenceMain
	}
	switch u := r.Float64(); {
	case u < pres.both:
		pr.douyin, pr.wecom = true, true
	case u < pres.both+pres.douyinOnly:
		pr.douyin = true
	case u < pres.both+pres.douyinOnly+pres.wecomOnly:
		pr.wecom = true
	}
	pr.name = surnames[r.IntN(len(surnames))] + givenNames[r.IntN(len(givenNames))]
	n := uint64(p.hh.idx)*5 + uint64(i)
	pr.phone = ids.phone(n)
	pr.douyinID = ids.token("_000", keyDouyin, n, 13)
	pr.device = ids.device(n)
	pr.unionID = ids.token("o", keyUnion, n, 16)
	pr.wecomID = ids.token("wm", keyWeCom, n, 19)
	pr.gbOpenID = ids.token("o", keyOpenGB, n, 16)
	pr.mpOpenID = ids.token("o", keyOpenMP, n, 16)
	pr.tmallID = ids.token("AAF", keyTmall, n, 10)
	pr.memberNo = ids.memberNo(n)
}

// share makes a second person use the first one's phone, or two persons
// use Douyin on one device, at the configured rates.
func (p *planner) share() {
	hh, r, cfg := &p.hh, p.r, &p.g.cfg
	if hh.n < 2 {
		return
	}
	if r.Float64() < cfg.SharedPhoneRate {
		j := 1 + r.IntN(hh.n-1)
		hh.persons[j].phone = hh.persons[0].phone
		hh.persons[0].phoneShared, hh.persons[j].phoneShared = true, true
		hh.sharedPhone = true
	}
	if r.Float64() < cfg.SharedDeviceRate {
		j := 1 + r.IntN(hh.n-1)
		a, b := &hh.persons[0], &hh.persons[j]
		a.douyin, b.douyin = true, true
		b.device = a.device
		a.deviceShared, b.deviceShared = true, true
		hh.sharedDevice = true
	}
}

// pick returns the index of the weight u (in [0,1)) falls on; weights
// sum to one.
func pick(weights []float64, u float64) int {
	for i, w := range weights {
		if u < w {
			return i
		}
		u -= w
	}
	return len(weights) - 1
}

// pickCum returns the first index whose cumulative weight exceeds
// u*total.
func pickCum(cum []float64, u float64) int {
	x := u * cum[len(cum)-1]
	for i, c := range cum {
		if x < c {
			return i
		}
	}
	return len(cum) - 1
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
