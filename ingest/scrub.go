package ingest

import (
	"encoding/json"

	"github.com/granarycdp/cdp/identity"
)

// scrubRecord replaces every mobile number in every string field of a
// record by its vault token (identity.Protector.ScrubText: mask and keyed
// hash), JSON fields included at any depth, and keeps each number found in
// the record's vault. It runs on every record before it is spooled, so no
// number in clear reaches the spool, ClickHouse or BI, whichever field it
// came in: userId, a context.page.url, a chat message, a contact's name.
// Fields validated against a list or a format (type, channel, status,
// currency, action, msgtype) are scrubbed too, so that no check elsewhere
// is all that stands between a number and storage
// (TestScrubRecordCoversEveryStringField). Phone identifier values are
// already keyed hashes and stay as they are.
func (c *Collector) scrubRecord(rec *Record) {
	seen := map[string]bool{}
	for _, v := range rec.Vault {
		seen[v.Hash] = true
	}
	keep := func(pr identity.Protected) {
		if !seen[pr.Hash] {
			seen[pr.Hash] = true
			rec.Vault = append(rec.Vault, pr)
		}
	}
	text := func(ps ...*string) {
		for _, p := range ps {
			*p = c.prot.ScrubText(*p, keep)
		}
	}
	doc := func(ps ...*json.RawMessage) {
		for _, p := range ps {
			*p = c.prot.ScrubJSON(*p, keep)
		}
	}
	ids := func(list []identity.Identifier) {
		for i := range list {
			text(&list[i].Type)
			if list[i].Type != identity.Phone {
				text(&list[i].Value)
			}
		}
	}
	switch rec.Kind {
	case KindEvent:
		e := rec.Event
		text(&e.MessageID, &e.Type, &e.Event, &e.Source, &e.UserID, &e.AnonymousID)
		ids(e.IDs)
		doc(&e.Properties, &e.Traits, &e.Context)
	case KindOrder:
		o := rec.Order
		text(&o.Channel, &o.OrderID, &o.Status, &o.Currency, &o.Province, &o.City, &o.StoreID, &o.LeaderID, &o.Source)
		ids(o.IDs)
		for i := range o.Lines {
			l := &o.Lines[i]
			text(&l.SKU, &l.ProductName, &l.Category)
		}
	case KindContact:
		ct := rec.Contact
		text(&ct.DedupKey, &ct.ChangeType, &ct.CorpID, &ct.StaffUserID, &ct.ExternalUserID, &ct.State, &ct.Name, &ct.UnionID)
	case KindMessage:
		m := rec.Message
		text(&m.MsgID, &m.Action, &m.From, &m.MsgType, &m.RoomID, &m.Content, &m.PreMsgID, &m.ExternalUserID, &m.StaffUserID)
		for i := range m.ToList {
			text(&m.ToList[i])
		}
		body := json.RawMessage(m.Body)
		doc(&body)
		m.Body = string(body)
	}
}

// Masked returns the problem with mobile numbers in its message and field
// masked (*******5678): problems are answered to clients, kept in
// dead letters and logged.
func (p Problem) Masked() Problem {
	p.Message, p.Field = identity.MaskMobiles(p.Message), identity.MaskMobiles(p.Field)
	return p
}
