package gen

import "math"

// Orders follow each household's consumption: a bottle or bag lasts
// size / daily use (± a little), and when it runs out the household buys
// again, from this brand with probability share. Promotions pull
// purchases falling due near them into their window (and make people
// stock up); festivals add gift orders; the 低GI trial pack turns some
// blood-sugar-control households into low-GI rice buyers.

// Order channels.
const (
	chTmall = iota
	chDouyinShop
	chGroupBuy
	chPOS
	chPhone
	chMini
	numChannels
)

var channelNames = [numChannels]string{"tmall", "douyin_shop", "group_buy", "pos", "phone", "mini_program"}

// orderPrefix starts order ids per channel; POS orders start with the
// store id.
var orderPrefix = [numChannels]string{"T", "DY", "GB", "", "TEL", "MP"}

// tierChannels is where households of each city tier buy (index tier-1):
// tier 1 online, lower tiers through group leaders and stores.
var tierChannels = [4][numChannels]float64{
	{0.34, 0.18, 0.12, 0.16, 0.03, 0.17},
	{0.28, 0.18, 0.18, 0.18, 0.04, 0.14},
	{0.22, 0.20, 0.24, 0.20, 0.05, 0.09},
	{0.16, 0.22, 0.28, 0.22, 0.06, 0.06},
}

// Order statuses (flag of actOrder).
const (
	stCreated uint8 = iota
	stPaid
	stShipped
	stCompleted
	stRefunded
	stCancelled
)

var statusNames = [...]string{"created", "paid", "shipped", "completed", "refunded", "cancelled"}

// Rates of the order life cycle.
const (
	cancelRate       = 0.015 // online orders cancelled before payment
	refundRate       = 0.04  // online orders refunded
	groupRefundRate  = 0.02  // group-buying orders refunded (not picked up)
	posPhoneRate     = 0.85  // POS orders with the member's phone
	addOnRate        = 0.05  // orders with a small pack of oil added
	giftRate         = 0.12  // buyer households sending a gift order per festival
	promoPeakShare   = 0.45  // purchases pulled into a promotion landing on its peak day
	promoStockUpRate = 0.45  // of those, buying one more than usual
)

type purchase struct {
	at    int64
	sku   int
	qty   int
	promo *promo
	gift  bool
	trial bool
}

type order struct {
	channel     int
	person      int
	at          int64 // ordered_at
	first, last int   // lines[first:last]
	amount      int64 // fen
	posPhone    bool
}

type line struct {
	sku   int
	qty   int
	price int64 // fen
}

// channelWeights personalises the tier's channel mix: every household
// has its habits (log-normal factors). Without a Douyin user there are no
// Douyin-shop orders.
func (p *planner) channelWeights(city *City) {
	hh := &p.hh
	hasDouyin := false
	for i := range hh.n {
		hasDouyin = hasDouyin || hh.persons[i].douyin
	}
	for c, w := range tierChannels[city.Tier-1] {
		hh.chanWeight[c] = w * math.Exp(0.9*p.r.NormFloat64())
	}
	if !hasDouyin {
		hh.chanWeight[chDouyinShop] = 0
	}
}

// shop plans the household's purchases and turns them into orders.
func (p *planner) shop() {
	hh, r, g := &p.hh, p.r, p.g
	if hh.trialAt == 0 && hh.sugar && r.Float64() < 0.3 {
		// Without WeCom, the trial pack is found on Douyin.
		if i := p.douyinPerson(); i >= 0 {
			hh.trialAt, hh.trialBy, hh.trialCh = p.randomMoment(), i, chDouyinShop
		}
	}
	if hh.trialAt != 0 && hh.trialAt < g.end {
		p.purchases = append(p.purchases, purchase{at: hh.trialAt, sku: skuLowGITrial, qty: 1, trial: true})
		if r.Float64() < 0.6 {
			hh.lowGIFrom = hh.trialAt + p.between(5, 20, msPerDay)
		}
	} else if hh.sugar && r.Float64() < 0.1 {
		hh.lowGIFrom = p.randomMoment()
	}
	if hh.buyer && hh.buysOil {
		p.cycle(hh.oilSKU, hh.oilPerDay, g.start, g.end, hh.share, true)
	}
	if hh.buyer && hh.buysRice {
		until := g.end
		if hh.size == 1 && hh.lowGIFrom != 0 {
			until = hh.lowGIFrom // living alone: low-GI rice replaces the usual
		}
		p.cycle(hh.riceSKU, hh.ricePerDay, g.start, until, hh.share, true)
	}
	if hh.lowGIFrom != 0 {
		// The person controlling blood sugar eats low-GI rice, bought
		// more faithfully than the rest.
		p.cycle(skuLowGI25, hh.ricePerDay/float64(hh.size), hh.lowGIFrom, g.end, math.Max(hh.share, 0.75), false)
	}
	if hh.buyer {
		p.gifts()
	}
	sortPurchases(p.purchases)
	p.makeOrders()
}

// cycle plans the purchases of one product: a renewal process of the
// days a pack lasts, starting at a random phase when phase is set.
func (p *planner) cycle(sku int, perDay float64, from, until int64, share float64, phase bool) {
	r, g := p.r, p.g
	size := float64(products[sku].Size)
	interval := func(qty int) int64 {
		return int64(size * float64(qty) / perDay * (0.85 + 0.35*r.Float64()) * float64(msPerDay))
	}
	t := from
	if phase {
		t += int64(r.Float64() * float64(interval(1)))
	}
	var last *promo // one purchase per promotion and product
	for t < until {
		if r.Float64() >= share {
			t += interval(1) // bought another brand this time
			continue
		}
		qty := 1
		switch {
		case products[sku].Size < 1000: // small packs go two or three at a time
			qty = 2 + r.IntN(2)
		case r.Float64() < 0.08:
			qty = 2
		}
		at, pm := localDayStart(t)+p.timeOfDay(), g.promoNear(t)
		if pm != nil && pm != last && r.Float64() < pm.pull {
			at, last = p.intoPromo(pm), pm
			if r.Float64() < promoStockUpRate {
				qty++
			}
		} else {
			pm = nil
		}
		if at >= g.start && at < g.end && at < until {
			p.purchases = append(p.purchases, purchase{at: at, sku: sku, qty: qty, promo: pm})
		}
		t = at + interval(qty)
	}
}

// promoNear returns the promotion a purchase due at t is pulled into:
// due up to a week before the window (people wait) or up to three weeks
// after it (people bought early).
func (g *Generator) promoNear(t int64) *promo {
	for i := range g.promos {
		if pm := &g.promos[i]; t >= pm.start-7*msPerDay && t < pm.end+21*msPerDay {
			return pm
		}
	}
	return nil
}

// intoPromo returns a moment in the promotion's window, often its peak
// day; on 双11 many buy right after midnight.
func (p *planner) intoPromo(pm *promo) int64 {
	r := p.r
	if r.Float64() < promoPeakShare {
		if pm.kind == promoDouble11 && r.Float64() < 0.3 {
			return pm.peak + r.Int64N(2*msPerHour)
		}
		return pm.peak + p.timeOfDay()
	}
	return max(pm.start, localDayStart(p.uniform(pm.start, pm.end))+p.timeOfDay())
}

// gifts adds festival gift orders: a pair of 5 L high-oleic oil or 5 kg
// 五常 rice for parents and friends.
func (p *planner) gifts() {
	r, g := p.r, p.g
	for i := range g.promos {
		pm := &g.promos[i]
		if pm.kind != promoSpring && pm.kind != promoMidAutumn {
			continue
		}
		if r.Float64() >= giftRate {
			continue
		}
		sku := skuHighOleic5
		if r.Float64() < 0.4 {
			sku = skuWuchang5
		}
		at := localDayStart(p.uniform(pm.start, pm.end)) + p.timeOfDay()
		if at >= g.start && at < g.end {
			p.purchases = append(p.purchases, purchase{at: at, sku: sku, qty: 2, promo: pm, gift: true})
		}
	}
}

func sortPurchases(ps []purchase) {
	// Insertion sort: a household has a few dozen purchases at most, and
	// stability keeps the output deterministic.
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && ps[j].at < ps[j-1].at; j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}

// makeOrders groups purchases due within four days into one order (rice
// and oil in one basket); gifts and trial packs are ordered on their own.
func (p *planner) makeOrders() {
	ps := p.purchases
	for i := 0; i < len(ps); {
		j := i + 1
		if !ps[i].gift && !ps[i].trial {
			for j < len(ps) && !ps[j].gift && !ps[j].trial && ps[j].at-ps[i].at < 4*msPerDay {
				j++
			}
		}
		p.order(ps[i:j])
		i = j
	}
}

// order plans one order of the purchases: channel, buyer, lines, prices
// and the versions of its life cycle.
func (p *planner) order(group []purchase) {
	hh, r, g := &p.hh, p.r, p.g
	first := &group[0]
	ch, buyer := hh.trialCh, hh.trialBy
	if !first.trial {
		ch = p.pickChannel(first.promo)
		buyer = p.pickBuyer(ch)
	}
	at := first.at
	switch ch {
	case chPOS: // stores open 9:00-21:00
		if h := (at - localDayStart(at)) / msPerHour; h < 9 || h >= 21 {
			at = localDayStart(at) + 9*msPerHour + r.Int64N(12*msPerHour)
		}
	case chGroupBuy: // leaders take orders 8:00-23:00
		if h := (at - localDayStart(at)) / msPerHour; h < 8 || h == 23 {
			at = localDayStart(at) + 8*msPerHour + r.Int64N(15*msPerHour)
		}
	}
	if at < g.start || at >= g.end {
		return
	}
	o := order{channel: ch, person: buyer, at: at, first: len(p.lines), posPhone: r.Float64() < posPhoneRate}
	for _, pu := range group {
		price := products[pu.sku].Price
		if pu.promo != nil {
			price = products[pu.sku].PromoPrice
		}
		p.addLine(o.first, pu.sku, pu.qty, price)
	}
	if !first.trial && r.Float64() < addOnRate {
		p.addLine(o.first, skuSmallPeanut400, 1+r.IntN(2), products[skuSmallPeanut400].Price)
	}
	o.last = len(p.lines)
	lowGI := false
	for _, l := range p.lines[o.first:o.last] {
		o.amount += l.price * int64(l.qty)
		lowGI = lowGI || l.sku == skuLowGI25
	}
	n := int32(len(p.orders))
	p.orders = append(p.orders, o)
	if !p.versions(n, ch, buyer, at) {
		p.lines = p.lines[:o.first]
		p.orders = p.orders[:n]
		return
	}
	hh.orders++
	if first.trial {
		hh.trialOrdered = at
	}
	if lowGI {
		hh.lowGIRice = append(hh.lowGIRice, at)
	}
	pr := &hh.persons[buyer]
	switch ch {
	case chTmall:
		pr.use(idTmall, idPhone)
	case chDouyinShop:
		pr.use(idDouyin, idPhone)
	case chGroupBuy:
		pr.use(idPhone, idOpenGB, idUnion)
	case chPOS:
		pr.use(idMember)
		if o.posPhone {
			pr.use(idPhone)
		}
	case chPhone:
		pr.use(idPhone)
	case chMini:
		pr.use(idOpenMP, idUnion)
		p.mpVisit(buyer, at, p.lines[o.first].sku)
	}
}

// addLine adds a line to the order whose lines start at first, merging
// it into a line of the same SKU and price.
func (p *planner) addLine(first, sku, qty int, price int64) {
	for i := first; i < len(p.lines); i++ {
		if l := &p.lines[i]; l.sku == sku && l.price == price {
			l.qty += qty
			return
		}
	}
	p.lines = append(p.lines, line{sku: sku, qty: qty, price: price})
}

// versions plans the status changes of order n: POS sales complete at
// once; group-buying orders are picked up the next day; phone orders
// are delivered in a few days; online orders are paid within minutes and
// received within days, some cancelled or refunded. Versions past the
// end of the period are not reached yet. It reports whether the first
// version falls inside the period.
func (p *planner) versions(n int32, ch, buyer int, at int64) bool {
	r := p.r
	v := func(status uint8, t int64, version int32) bool {
		return p.add(act{at: t, kind: actOrder, person: uint8(buyer), flag: status, n: n, val: version}) != nil
	}
	switch ch {
	case chPOS:
		return v(stCompleted, at, 1)
	case chGroupBuy:
		if !v(stPaid, at, 1) {
			return false
		}
		if r.Float64() < groupRefundRate {
			v(stRefunded, at+p.between(1, 24, msPerHour), 2)
		} else {
			v(stCompleted, localDayStart(at)+msPerDay+p.between(9, 20, msPerHour), 2)
		}
		return true
	case chPhone:
		if !v(stPaid, at, 1) {
			return false
		}
		v(stCompleted, at+p.between(2, 4, msPerDay), 2)
		return true
	}
	if r.Float64() < cancelRate {
		if !v(stCreated, at, 1) {
			return false
		}
		v(stCancelled, at+p.between(5, 60, msPerMinute), 2)
		return true
	}
	paid := at + p.between(0.5, 5, msPerMinute)
	if !v(stPaid, paid, 1) {
		return false
	}
	if r.Float64() < refundRate {
		v(stRefunded, paid+p.between(1, 8, msPerDay), 2)
	} else {
		v(stCompleted, paid+p.between(4, 10, msPerDay), 2)
	}
	return true
}

// pickChannel draws the channel of an order; online promotions send
// people to Tmall, the Douyin shop and the mini program.
func (p *planner) pickChannel(pm *promo) int {
	w := p.hh.chanWeight
	if pm != nil && pm.online {
		w[chTmall] *= 2.5
		w[chDouyinShop] *= 2.5
		w[chMini] *= 1.5
	}
	var cum [numChannels]float64
	var sum float64
	for c, x := range w {
		sum += x
		cum[c] = sum
	}
	return pickCum(cum[:], p.r.Float64())
}

// pickBuyer draws who places an order: mostly the main shopper; Douyin
// orders need a Douyin user.
func (p *planner) pickBuyer(ch int) int {
	hh, r := &p.hh, p.r
	ok := func(i int) bool { return ch != chDouyinShop || hh.persons[i].douyin }
	if ok(0) && (hh.n == 1 || r.Float64() < 0.75) {
		return 0
	}
	start := r.IntN(hh.n)
	for k := range hh.n {
		if i := (start + k) % hh.n; ok(i) {
			return i
		}
	}
	panic("BUG: Douyin-shop order in a household without a Douyin user")
}

// douyinPerson returns a Douyin user of the household, or -1.
func (p *planner) douyinPerson() int {
	for i := range p.hh.n {
		if p.hh.persons[i].douyin {
			return i
		}
	}
	return -1
}
