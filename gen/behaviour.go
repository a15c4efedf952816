package gen

import "math"

// Douyin and mini-program behaviour.

// douyin plans the sessions of every person on Douyin. Sessions a year
// are log-normal (median about 3, mean about 5, a long tail of heavy
// users); people with a health interest watch more. A fifth of the users
// authorise their phone number once.
func (p *planner) douyin() {
	hh, r := &p.hh, p.r
	for i := range hh.n {
		pr := &hh.persons[i]
		if !pr.douyin {
			continue
		}
		mu := 1.1
		if hh.sugar || hh.slim || hh.baby {
			mu += 0.25
		}
		sessions := min(200, int(math.Exp(mu+0.9*r.NormFloat64())))
		if pr.deviceShared {
			sessions = max(sessions, 1)
		}
		for range sessions {
			p.session(i)
		}
		if !pr.phoneShared && r.Float64() < 0.2 { // sharers authorise in showSharing
			p.identifyDouyin(i, p.randomMoment())
		}
	}
}

// session plans one visit to Douyin: maybe a search, a few videos (each
// played, usually reported with its completion ratio, sometimes liked or
// commented on), maybe a live room. Topics follow the household's feed;
// videos on its interests are watched to the end far more often.
func (p *planner) session(i int) {
	hh, r, g := &p.hh, p.r, p.g
	at := p.randomMoment()
	if r.Float64() < 0.18+0.12*b2f(hh.sugar || hh.slim || hh.baby) {
		p.douyinEvent(i, act{at: at, kind: actSearch, text: p.keyword(), val: int32(20 + r.IntN(480))})
		at += p.between(5, 40, 1000)
	}
	for range 1 + int(r.ExpFloat64()*1.6) {
		topic := pickCum(hh.topicCum[:], r.Float64())
		n := r.IntN(videosPerTopic)
		v := &g.videos[topic][n]
		aligned := hh.interested(topic)
		p.douyinEvent(i, act{at: at, kind: actPlay, topic: uint8(topic), n: int32(n)})
		ratio := p.completion(aligned)
		end := at + int64(v.duration)*10*int64(ratio) // duration s * 1000 * ratio/100
		if r.Float64() < 0.75 {
			p.douyinEvent(i, act{at: end, kind: actComplete, topic: uint8(topic), n: int32(n), val: ratio})
		}
		likeP, commentP := 0.06, 0.012
		if aligned && ratio >= 80 {
			likeP, commentP = 0.22, 0.05
		}
		if r.Float64() < likeP {
			p.douyinEvent(i, act{at: end + 500, kind: actLike, topic: uint8(topic), n: int32(n)})
		}
		if r.Float64() < commentP {
			c := comments[topic]
			p.douyinEvent(i, act{at: end + 2000, kind: actComment, topic: uint8(topic), n: int32(n), text: c[r.IntN(len(c))]})
		}
		at = end + p.between(1, 6, 1000)
	}
	liveP := 0.08
	if g.promoAt(at) != nil {
		liveP = 0.2
	}
	if r.Float64() < liveP {
		stay := int32(math.Max(5, math.Min(7200, math.Exp(4.5+r.NormFloat64()))))
		if p.douyinEvent(i, act{at: at, kind: actLive, topic: uint8(g.liveTopic(at)), val: stay}) {
			if pr := &hh.persons[i]; pr.liveAt == 0 || at < pr.liveAt {
				pr.liveAt = at
			}
		}
	}
}

// douyinEvent adds a Douyin event of person i, rarely with a placeholder
// anonymousId (never the first event of a shared device, which must show
// the sharing). It reports whether the event fell inside the period.
func (p *planner) douyinEvent(i int, a act) bool {
	pr := &p.hh.persons[i]
	a.person = uint8(i)
	if p.r.Float64() < p.g.cfg.NoiseRate && !(pr.deviceShared && pr.used&(1<<idDevice) == 0) {
		a.anon = uint8(1 + p.r.IntN(len(placeholders)))
	}
	if p.add(a) == nil {
		return false
	}
	pr.use(idDouyin)
	if a.anon == 0 {
		pr.use(idDevice)
	}
	return true
}

// completion is how far a video is watched, in percent: videos on the
// household's interests are mostly watched to the end (完播).
func (p *planner) completion(aligned bool) int32 {
	r := p.r
	u := r.Float64()
	switch {
	case aligned && u < 0.6, !aligned && u < 0.15:
		if r.Float64() < 0.5 {
			return 100
		}
		return int32(95 + r.IntN(5))
	case aligned:
		return int32(20 + r.IntN(75))
	}
	return int32(2 + r.IntN(58))
}

// keyword is what a household member types into Douyin's search box.
func (p *planner) keyword() string {
	hh, r := &p.hh, p.r
	list := keywordsGeneral
	switch u := r.Float64(); {
	case hh.sugar && u < 0.5:
		list = keywordsSugar
	case hh.slim && u < 0.4:
		list = keywordsSlim
	case hh.baby && u < 0.4:
		list = keywordsBaby
	case hh.lowGI && u < 0.3:
		list = keywordsLowGI
	}
	return list[r.IntN(len(list))]
}

// liveTopic is the topic of the brand's live room on the day of t: gift
// boxes before the festivals, otherwise a weekly rotation.
func (g *Generator) liveTopic(t int64) int {
	if pr := g.promoAt(t); pr != nil && (pr.kind == promoMidAutumn || pr.kind == promoSpring) {
		return topicGift
	}
	rotation := [...]int{topicGrain, topicSugar, topicHome, topicLowGI, topicSlim, topicGrain, topicBreak}
	return rotation[floorDiv(t+cstOffsetMS, msPerDay)%int64(len(rotation))]
}

// identifyDouyin: person i authorises Douyin to share their phone number.
func (p *planner) identifyDouyin(i int, at int64) {
	if p.add(act{at: at, kind: actIdentifyDouyin, person: uint8(i)}) != nil {
		p.hh.persons[i].use(idPhone, idDouyin, idDevice)
	}
}

// identifyMP: person i logs in to the brand's mini program with their
// phone number.
func (p *planner) identifyMP(i int, at int64) {
	pr := &p.hh.persons[i]
	if p.add(act{at: at, kind: actIdentifyMP, person: uint8(i)}) != nil {
		pr.use(idPhone, idOpenMP, idUnion)
		pr.mpLogin = true
	}
}

// mpVisit plans the mini-program pages person i views before ordering
// sku at t, logging in first if they never did.
func (p *planner) mpVisit(i int, t int64, sku int) {
	r := p.r
	views := 1 + r.IntN(3)
	at := t - int64(views)*p.between(20, 180, 1000)
	if !p.hh.persons[i].mpLogin {
		p.identifyMP(i, at-p.between(5, 60, 1000))
	}
	for k := range views {
		page := int32(1) // 商品详情
		if k < views-1 {
			page = int32(r.IntN(len(mpPages)))
		}
		if sku == skuLowGITrial && k == 0 {
			page = 3 // 控糖专区
		}
		if p.add(act{at: at, kind: actPage, person: uint8(i), n: page, text: products[sku].SKU}) != nil {
			p.hh.persons[i].use(idOpenMP, idUnion)
		}
		at += p.between(20, 180, 1000)
	}
}
