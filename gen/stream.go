package gen

import (
	"strconv"
	"time"
)

// Kind tells which wire format an Item's Data holds.
type Kind uint8

const (
	// KindEvent is a Segment message (track, identify or page): one
	// element of the "batch" array of POST /v1/batch.
	KindEvent Kind = iota + 1
	// KindOrder is one version of an order, a body (or one element of
	// "orders") for POST /v1/orders.
	KindOrder
	// KindContact is a WeCom change_external_contact callback as
	// decrypted XML; encrypt it (wecom.Crypto.EncryptedXML) and POST it
	// to /wecom/callback. Contact holds its fields.
	KindContact
	// KindChat is one chat-archive record, a JSON line (without the
	// newline) for POST /v1/import/wecom-archive.
	KindChat
)

var kindNames = [...]string{KindEvent: "event", KindOrder: "order", KindContact: "contact", KindChat: "chat"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Item is one record of the stream.
type Item struct {
	Kind Kind
	// Household is the index of the household it belongs to.
	Household int
	// Time is the record's own time to the millisecond (event
	// timestamp, order status_at, message msgtime; a callback's
	// CreateTime is it truncated to seconds), inside the period.
	Time time.Time
	// Source is the write-key source it would arrive under: "douyin" or
	// "mini_program" for events, the channel for orders, "wecom" for
	// contacts and chats.
	Source string
	// Data is the wire form (see Kind). It belongs to the generator and
	// is valid only until the callback returns; copy what you keep.
	Data []byte
	// Contact is set for KindContact, valid only until the callback
	// returns.
	Contact *ContactEvent
}

// ContactEvent is a WeCom customer-contact change.
type ContactEvent struct {
	ChangeType     string // add_external_contact or del_follow_user
	UserID         string // the staff member
	ExternalUserID string // the customer, "wm…"
	State          string // channel tag of the QR code (add only)
	WelcomeCode    string // add only
	CreateTime     time.Time
	// Name and UnionID are not part of the callback: WeCom's
	// externalcontact/get returns them. To let the platform learn them,
	// serve them from a fake WeCom API (wecomtest.Server.AddContact).
	Name, UnionID string
}

// Each calls fn for every item of the data set: household by household,
// each household's items in time order (ties in plan order). The stream
// is the same, byte for byte, for the same Config. It stops at and
// returns fn's first error.
func (g *Generator) Each(fn func(Item) error) error {
	return g.Range(0, g.cfg.Households, fn)
}

// Range is Each for the households [lo, hi). Households are independent,
// so disjoint ranges can be generated concurrently (one Range per
// goroutine) and their streams concatenated in household order equal
// Each's.
func (g *Generator) Range(lo, hi int, fn func(Item) error) error {
	lo, hi = max(lo, 0), min(hi, g.cfg.Households)
	p := newPlanner(g)
	for h := lo; h < hi; h++ {
		p.plan(h)
		for i := range p.acts {
			if err := fn(p.item(&p.acts[i])); err != nil {
				return err
			}
		}
	}
	return nil
}

// item encodes act a of the current household.
func (p *planner) item(a *act) Item {
	it := Item{Household: p.hh.idx, Time: time.UnixMilli(a.at).UTC()}
	b := p.buf[:0]
	switch a.kind {
	case actOrder:
		it.Kind, it.Source = KindOrder, channelNames[p.orders[a.n].channel]
		b = p.appendOrder(b, a)
	case actContact:
		it.Kind, it.Source, it.Contact = KindContact, "wecom", p.contact(a)
		b = p.appendContact(b, it.Contact)
	case actChat, actRecall:
		it.Kind, it.Source = KindChat, "wecom"
		b = p.appendChat(b, a)
	case actIdentifyMP, actPage:
		it.Kind, it.Source = KindEvent, "mini_program"
		b = p.appendMiniProgram(b, a)
	default:
		it.Kind, it.Source = KindEvent, "douyin"
		b = p.appendDouyin(b, a)
	}
	p.buf = b
	it.Data = b
	return it
}

// eventNames of the Douyin acts.
var eventNames = [...]string{actPlay: "video_play", actComplete: "video_complete", actLike: "like",
	actComment: "comment", actSearch: "search", actLive: "live_enter"}

// appendDouyin encodes a Douyin event as a Segment message: the device
// as anonymousId, the openid in context.externalIds.
func (p *planner) appendDouyin(b []byte, a *act) []byte {
	pr := &p.hh.persons[a.person]
	if a.kind == actIdentifyDouyin {
		b = append(b, `{"type":"identify","messageId":"`...)
	} else {
		b = append(b, `{"type":"track","messageId":"`...)
	}
	b = p.g.ids.messageID(b, "dy-", uint64(p.hh.idx), uint64(a.seq))
	b = append(b, `","anonymousId":`...)
	if a.anon == 0 {
		b = appendString(b, pr.device)
	} else {
		b = appendString(b, placeholders[a.anon-1])
	}
	if a.kind == actIdentifyDouyin {
		b = p.appendTraits(b, pr)
	} else {
		b = append(b, `,"event":"`...)
		b = append(b, eventNames[a.kind]...)
		b = append(b, `","properties":`...)
		b = p.appendDouyinProperties(b, a)
	}
	b = append(b, `,"context":{"externalIds":[{"id":`...)
	b = appendString(b, pr.douyinID)
	b = append(b, `,"type":"douyin_openid"}]},"timestamp":"`...)
	b = appendUTC(b, a.at)
	return append(b, `"}`...)
}

func (p *planner) appendDouyinProperties(b []byte, a *act) []byte {
	v := &p.g.videos[a.topic][a.n]
	switch a.kind {
	case actSearch:
		b = append(b, `{"keyword":`...)
		b = appendString(b, a.text)
		b = append(b, `,"results":`...)
		b = strconv.AppendInt(b, int64(a.val), 10)
		return append(b, '}')
	case actLive:
		b = append(b, `{"room_id":"`...)
		b = appendDigits(append(b, '7'), int64(mix(p.g.ids.keys[keyVideo], uint64(floorDiv(a.at+cstOffsetMS, msPerDay)))%1e18), 18)
		b = append(b, `","topic":"`...)
		b = append(b, topicNames[a.topic]...)
		b = append(b, `","stay_s":`...)
		b = strconv.AppendInt(b, int64(a.val), 10)
		return append(b, '}')
	}
	b = append(b, `{"video_id":"`...)
	b = append(b, v.id...)
	b = append(b, `","topic":"`...)
	b = append(b, topicNames[a.topic]...)
	b = append(b, '"')
	switch a.kind {
	case actPlay:
		b = append(b, `,"author_id":"`...)
		b = append(b, v.author...)
		b = append(b, `","duration_s":`...)
		b = strconv.AppendInt(b, int64(v.duration), 10)
	case actComplete:
		b = append(b, `,"completion_ratio":`...)
		if a.val >= 100 {
			b = append(b, '1')
		} else {
			b = appendDigits(append(b, '0', '.'), int64(a.val), 2)
		}
		b = append(b, `,"duration_s":`...)
		b = strconv.AppendInt(b, int64(v.duration), 10)
	case actComment:
		b = append(b, `,"text":`...)
		b = appendString(b, a.text)
	}
	return append(b, '}')
}

// appendTraits appends the traits of an identify call: phone and name.
func (p *planner) appendTraits(b []byte, pr *person) []byte {
	b = append(b, `,"traits":{"phone":"`...)
	b = append(b, pr.phone...)
	b = append(b, `","name":`...)
	b = appendString(b, pr.name)
	return append(b, '}')
}

// appendMiniProgram encodes a mini-program login (identify) or page view;
// the mini program knows its openid and the unionid.
func (p *planner) appendMiniProgram(b []byte, a *act) []byte {
	pr := &p.hh.persons[a.person]
	if a.kind == actIdentifyMP {
		b = append(b, `{"type":"identify","messageId":"`...)
		b = p.g.ids.messageID(b, "mp-", uint64(p.hh.idx), uint64(a.seq))
		b = append(b, '"')
		b = p.appendTraits(b, pr)
	} else {
		page := &mpPages[a.n]
		b = append(b, `{"type":"page","messageId":"`...)
		b = p.g.ids.messageID(b, "mp-", uint64(p.hh.idx), uint64(a.seq))
		b = append(b, `","name":`...)
		b = appendString(b, page.name)
		b = append(b, `,"properties":{"path":"`...)
		b = append(b, page.path...)
		b = append(b, `","sku":"`...)
		b = append(b, a.text...)
		b = append(b, `"}`...)
	}
	b = append(b, `,"context":{"externalIds":[{"id":"`...)
	b = append(b, appBrand...)
	b = append(b, ':')
	b = append(b, pr.mpOpenID...)
	b = append(b, `","type":"openid"},{"id":"`...)
	b = append(b, pr.unionID...)
	b = append(b, `","type":"unionid"}]},"timestamp":"`...)
	b = appendUTC(b, a.at)
	return append(b, `"}`...)
}

// appendOrder encodes one version of an order; the first version carries
// the lines, status changes only the amount.
func (p *planner) appendOrder(b []byte, a *act) []byte {
	o := &p.orders[a.n]
	pr := &p.hh.persons[o.person]
	city := &cities[p.hh.city]
	if a.n >= 1<<12 {
		panic("BUG: household has more orders than order ids can number")
	}
	b = append(b, `{"channel":"`...)
	b = append(b, channelNames[o.channel]...)
	b = append(b, `","order_id":"`...)
	prefix := orderPrefix[o.channel]
	if o.channel == chPOS {
		prefix = p.hh.store + "-"
	}
	b = p.g.ids.orderID(b, prefix, uint64(p.hh.idx)<<12|uint64(a.n))
	b = append(b, `","version":`...)
	b = strconv.AppendInt(b, int64(a.val), 10)
	b = append(b, `,"status":"`...)
	b = append(b, statusNames[a.flag]...)
	b = append(b, `","ordered_at":"`...)
	b = appendLocal(b, o.at)
	b = append(b, `","status_at":"`...)
	b = appendLocal(b, a.at)
	b = append(b, `","amount":"`...)
	b = appendYuan(b, o.amount)
	b = append(b, `","currency":"CNY","province":"`...)
	b = append(b, city.Province...)
	b = append(b, `","city":"`...)
	b = append(b, city.Name...)
	b = append(b, '"')
	switch o.channel {
	case chPOS:
		b = append(b, `,"store_id":"`...)
		b = append(b, p.hh.store...)
		b = append(b, '"')
	case chGroupBuy:
		b = append(b, `,"leader_id":"`...)
		b = append(b, p.hh.leader...)
		b = append(b, '"')
	}
	b = append(b, `,"buyer":{`...)
	b = appendBuyer(b, o, pr)
	b = append(b, '}')
	if a.val == 1 {
		b = append(b, `,"lines":[`...)
		for i, l := range p.lines[o.first:o.last] {
			if i > 0 {
				b = append(b, ',')
			}
			pd := &products[l.sku]
			b = append(b, `{"sku":"`...)
			b = append(b, pd.SKU...)
			b = append(b, `","product_name":"`...)
			b = append(b, pd.Name...)
			b = append(b, `","category":"`...)
			b = append(b, pd.Category...)
			b = append(b, `","quantity":`...)
			b = strconv.AppendInt(b, int64(l.qty), 10)
			b = append(b, `,"unit_price":"`...)
			b = appendYuan(b, l.price)
			b = append(b, `"}`...)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendBuyer appends the buyer's identifiers as each channel knows them.
func appendBuyer(b []byte, o *order, pr *person) []byte {
	kv := func(b []byte, k, v string, more bool) []byte {
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, `":"`...)
		b = append(b, v...)
		b = append(b, '"')
		if more {
			b = append(b, ',')
		}
		return b
	}
	switch o.channel {
	case chTmall:
		b = kv(b, "tmall_ouid", pr.tmallID, true)
		b = kv(b, "phone", pr.phone, false)
	case chDouyinShop:
		b = kv(b, "douyin_openid", pr.douyinID, true)
		b = kv(b, "phone", pr.phone, false)
	case chGroupBuy:
		b = kv(b, "phone", pr.phone, true)
		b = kv(b, "openid", pr.id(idOpenGB), true)
		b = kv(b, "unionid", pr.unionID, false)
	case chPOS:
		b = kv(b, "member_no", pr.memberNo, o.posPhone)
		if o.posPhone {
			b = kv(b, "phone", pr.phone, false)
		}
	case chPhone:
		b = kv(b, "phone", pr.phone, false)
	case chMini:
		b = kv(b, "openid", pr.id(idOpenMP), true)
		b = kv(b, "unionid", pr.unionID, false)
	}
	return b
}

// appendYuan appends an amount in fen as yuan with two decimals.
func appendYuan(b []byte, fen int64) []byte {
	b = strconv.AppendInt(b, fen/100, 10)
	b = append(b, '.')
	return appendDigits(b, fen%100, 2)
}

// appendChat encodes a chat-archive record: a text message or a recall.
func (p *planner) appendChat(b []byte, a *act) []byte {
	pr := &p.hh.persons[a.person]
	from, to := pr.wecomID, p.hh.staff
	if a.kind == actChat && a.flag == 1 {
		from, to = to, from
	}
	b = append(b, `{"msgid":"`...)
	b = p.g.ids.msgID(b, uint64(p.hh.idx), uint64(a.seq))
	if a.kind == actRecall {
		b = append(b, `","action":"recall","from":"`...)
	} else {
		b = append(b, `","action":"send","from":"`...)
	}
	b = append(b, from...)
	b = append(b, `","tolist":["`...)
	b = append(b, to...)
	b = append(b, `"],"roomid":"","msgtime":`...)
	b = strconv.AppendInt(b, a.at, 10)
	if a.kind == actRecall {
		b = append(b, `,"msgtype":"revoke","revoke":{"pre_msgid":"`...)
		b = p.g.ids.msgID(b, uint64(p.hh.idx), uint64(a.val))
		return append(b, `"}}`...)
	}
	b = append(b, `,"msgtype":"text","text":{"content":`...)
	b = appendString(b, a.text)
	return append(b, `}}`...)
}

// contact fills the planner's ContactEvent for act a.
func (p *planner) contact(a *act) *ContactEvent {
	pr := &p.hh.persons[a.person]
	c := &p.contactEvent
	*c = ContactEvent{
		ChangeType: changeTypes[a.flag], UserID: p.hh.staff, ExternalUserID: pr.wecomID,
		CreateTime: time.Unix(a.at/1000, 0).UTC(), Name: pr.name, UnionID: pr.unionID,
	}
	if a.flag == changeAdd {
		c.State = a.text
		c.WelcomeCode = string(appendPad(nil, p.g.ids.keys[keyWelcome], uint64(p.hh.idx)<<20|uint64(a.seq), 22))
	}
	return c
}

// appendContact encodes the callback WeCom would send, decrypted.
func (p *planner) appendContact(b []byte, c *ContactEvent) []byte {
	cdata := func(b []byte, tag, v string) []byte {
		b = append(b, '<')
		b = append(b, tag...)
		b = append(b, "><![CDATA["...)
		b = append(b, v...)
		b = append(b, "]]></"...)
		b = append(b, tag...)
		return append(b, '>')
	}
	b = append(b, "<xml>"...)
	b = cdata(b, "ToUserName", p.g.cfg.CorpID)
	b = cdata(b, "FromUserName", "sys")
	b = append(b, "<CreateTime>"...)
	b = strconv.AppendInt(b, c.CreateTime.Unix(), 10)
	b = append(b, "</CreateTime>"...)
	b = cdata(b, "MsgType", "event")
	b = cdata(b, "Event", "change_external_contact")
	b = cdata(b, "ChangeType", c.ChangeType)
	b = cdata(b, "UserID", c.UserID)
	b = cdata(b, "ExternalUserID", c.ExternalUserID)
	if c.State != "" {
		b = cdata(b, "State", c.State)
	}
	if c.WelcomeCode != "" {
		b = cdata(b, "WelcomeCode", c.WelcomeCode)
	}
	return append(b, "</xml>"...)
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
