package gen

// WeCom: staff members add customers (the State tag says which QR code or
// live room brought them), talk to them one to one, announce promotions,
// and now and then a customer opts out (退订) and deletes the staff
// member.

// Contact change types (flag of actContact).
const (
	changeAdd       uint8 = iota // add_external_contact
	changeDelFollow              // del_follow_user: the customer deleted the staff member
)

var changeTypes = [...]string{changeAdd: "add_external_contact", changeDelFollow: "del_follow_user"}

// Rates of the WeCom conversation model.
const (
	optOutRate   = 0.01 // a customer in a hundred opts out within the year
	recallRate   = 0.03 // customers recall one message in thirty
	promoMsgRate = 0.35 // share of contacts a staff member tells about a promotion
	// checkInRate is the share of blood-sugar-control households' contacts
	// who join the nutrition adviser's monthly 控糖 follow-up (控糖打卡),
	// and checkInReplyRate the share of follow-ups they answer.
	checkInRate      = 0.8
	checkInReplyRate = 0.85
)

// wecom plans the WeCom life of every person who adds a staff member:
// the contact event, a welcome message, conversations (more and about
// 血糖 and 控糖 in blood-sugar-control households; one may lead to the
// 低GI trial pack), promotion announcements, and rarely an opt-out.
func (p *planner) wecom() {
	hh, r, g := &p.hh, p.r, p.g
	for i := range hh.n {
		pr := &hh.persons[i]
		if !pr.wecom {
			continue
		}
		join, state := p.join(i)
		if p.add(act{at: join, kind: actContact, person: uint8(i), flag: changeAdd, text: state}) == nil {
			continue
		}
		pr.use(idWeCom, idUnion) // the unionid comes with externalcontact/get
		p.chat(i, join+p.between(5, 60, 1000), true, welcomeLines[r.IntN(len(welcomeLines))])

		limit := g.end
		optOut := r.Float64() < optOutRate
		if optOut {
			limit = p.uniform(join, g.end)
		}
		mean := 1.0
		switch {
		case hh.sugar:
			mean = 2.5
		case hh.baby:
			mean = 1.5
		case hh.slim:
			mean = 1.3
		}
		mean *= float64(g.end-join) / float64(g.end-g.start)
		for range p.poisson(mean) {
			if at := localDayStart(p.uniform(join, limit)) + p.timeOfDay(); at > join && at < limit {
				p.conversation(i, at)
			}
		}
		if hh.sugar && r.Float64() < checkInRate {
			p.checkIns(i, join, limit)
		}
		for _, pm := range g.promos {
			at := localDayStart(pm.start) + 10*msPerHour + p.r.Int64N(2*msPerHour)
			if at > join && at < limit && r.Float64() < promoMsgRate {
				p.chat(i, at, true, promoLines[pm.kind])
			}
		}
		if optOut {
			p.chat(i, limit, false, optOutLines[r.IntN(len(optOutLines))])
			p.add(act{at: limit + p.between(10, 2880, msPerMinute), kind: actContact, person: uint8(i), flag: changeDelFollow})
		}
	}
}

// checkIns plans the monthly 控糖 follow-up of person i between join and
// limit: the person signs up in the mini program's 控糖专区 (logging in
// with their phone, if they never did), then about every four weeks the
// adviser asks how their blood sugar is doing, and most of the time they
// answer within a few hours.
func (p *planner) checkIns(i int, join, limit int64) {
	r := p.r
	if signUp := join + p.between(2, 120, msPerMinute); !p.hh.persons[i].mpLogin && signUp < limit {
		p.identifyMP(i, signUp)
	}
	for at := join + p.between(3, 28, msPerDay); at < limit; at += p.between(24, 32, msPerDay) {
		ask := localDayStart(at) + 9*msPerHour + r.Int64N(9*msPerHour)
		if ask <= join || ask >= limit {
			continue
		}
		p.chat(i, ask, true, checkInLines[r.IntN(len(checkInLines))])
		if r.Float64() < checkInReplyRate {
			if reply := ask + p.between(2, 300, msPerMinute); reply < limit {
				p.chat(i, reply, false, checkInReplies[r.IntN(len(checkInReplies))])
			}
		}
	}
}

// join returns when person i adds the staff member and the State tag of
// the QR code used: most Douyin live viewers who join do so from the live
// room, others scan a code in a store, on a card in the package, in the
// mini program or in a Tmall parcel.
func (p *planner) join(i int) (int64, string) {
	hh, r := &p.hh, p.r
	if live := hh.persons[i].liveAt; live != 0 && r.Float64() < 0.6 {
		return live + p.between(2, 40, msPerMinute), "douyin_live_" + localMMDD(live)
	}
	at := p.randomMoment()
	switch u := r.Float64(); {
	case u < 0.35:
		return at, "store_qr_" + lower(hh.store)
	case u < 0.75:
		return at, "pack_insert_qr"
	case u < 0.9:
		return at, "mp_coupon"
	}
	return at, "tmall_card"
}

// conversation: person i asks a question at t, the staff member answers
// within half an hour, sometimes the customer thanks them. A question
// about the trial pack leads to the trial order.
func (p *planner) conversation(i int, t int64) {
	hh, r := &p.hh, p.r
	topic := p.chatTopic()
	k := r.IntN(len(customerLines[topic]))
	seq, ok := p.chat(i, t, false, customerLines[topic][k])
	if ok && r.Float64() < recallRate {
		// Sent too early, taken back; the reply answers it anyway.
		p.add(act{at: t + p.between(10, 110, 1000), kind: actRecall, person: uint8(i), val: int32(seq)})
	}
	reply := t + p.between(1, 30, msPerMinute)
	p.chat(i, reply, true, staffLines[topic][k])
	if r.Float64() < 0.25 {
		p.chat(i, reply+p.between(1, 10, msPerMinute), false, thanksLines[r.IntN(len(thanksLines))])
	}
	if topic == chatTrial && hh.trialAt == 0 {
		hh.trialAt, hh.trialBy, hh.trialCh = reply+p.between(2, 72, msPerHour), i, chMini
	}
}

// chatTopic is what a customer asks about: blood-sugar-control households
// about 血糖, 控糖 and the trial pack; others about their interests or
// the next promotion.
func (p *planner) chatTopic() chatTopic {
	hh, u := &p.hh, p.r.Float64()
	switch {
	case hh.sugar && hh.trialAt == 0 && u < 0.2:
		return chatTrial
	case hh.sugar && u < 0.65:
		return chatSugar
	case hh.lowGI && !hh.sugar && hh.trialAt == 0 && u < 0.15:
		return chatTrial
	case hh.slim && u < 0.4:
		return chatSlim
	case hh.baby && u < 0.45:
		return chatBaby
	case u < 0.02: // asking for a parent
		return chatSugar
	}
	return chatGeneral
}

// chat adds a one-to-one message between person i and the household's
// staff member and returns its chat sequence.
func (p *planner) chat(i int, at int64, fromStaff bool, text string) (uint32, bool) {
	a := p.add(act{at: at, kind: actChat, person: uint8(i), flag: uint8(b2f(fromStaff)), text: text})
	if a == nil {
		return 0, false
	}
	p.hh.persons[i].use(idWeCom)
	return a.seq, true
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c - 'A' + 'a'
		}
	}
	return string(b)
}
