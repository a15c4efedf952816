package ingest

import (
	"fmt"
	"time"

	"github.com/granarycdp/cdp/identity"
	"github.com/granarycdp/cdp/ingest/spool"
)

// eventCols are a batch's event rows column by column, in the order
// of eventColumns' names (the events table's insert), for
// store.TableWriter.InsertColumns: no row slices, no boxed values.
type eventCols struct {
	idTypes, idValues                             [][]string
	messageID, typ, event, source, userID, anonID []string
	ts, receivedAt                                []time.Time
	personID                                      []uint32
	properties, traits, context                   []string
	spoolSeq                                      []uint64
}

func (c *eventCols) reset(capacity int) { *c = eventCols{}; c.grow(capacity) }

func (c *eventCols) grow(n int) {
	c.idTypes, c.idValues = make([][]string, 0, n), make([][]string, 0, n)
	for _, s := range []*[]string{&c.messageID, &c.typ, &c.event, &c.source, &c.userID, &c.anonID, &c.properties, &c.traits, &c.context} {
		*s = make([]string, 0, n)
	}
	c.ts, c.receivedAt = make([]time.Time, 0, n), make([]time.Time, 0, n)
	c.personID, c.spoolSeq = make([]uint32, 0, n), make([]uint64, 0, n)
}

func (c *eventCols) len() int { return len(c.messageID) }

func (c *eventCols) add(e *Event, person uint32, seq uint64) {
	types, values := splitIDs(e.IDs)
	c.idTypes, c.idValues = append(c.idTypes, types), append(c.idValues, values)
	c.messageID, c.typ, c.event = append(c.messageID, e.MessageID), append(c.typ, e.Type), append(c.event, e.Event)
	c.ts, c.receivedAt, c.source = append(c.ts, e.TS), append(c.receivedAt, e.ReceivedAt), append(c.source, e.Source)
	c.personID, c.userID, c.anonID = append(c.personID, person), append(c.userID, e.UserID), append(c.anonID, e.AnonymousID)
	c.properties, c.traits = append(c.properties, string(e.Properties)), append(c.traits, string(e.Traits))
	c.context, c.spoolSeq = append(c.context, string(e.Context)), append(c.spoolSeq, seq)
}

// columns are the slices in the insert's column order (eventColumns).
func (c *eventCols) columns() []any {
	return []any{c.idTypes, c.idValues, c.messageID, c.typ, c.event, c.ts, c.receivedAt, c.source, c.personID,
		c.userID, c.anonID, c.properties, c.traits, c.context, c.spoolSeq}
}

func (p *Pipeline) person(w *work, ref string, ids []identity.Identifier, at time.Time) uint32 {
	if p.opts.Resolver == nil {
		return 0
	}
	pid := p.opts.Resolver.Resolve(ref, ids, at, &w.changes)
	if pid != 0 {
		w.touched = append(w.touched, pid)
	}
	return pid
}

func splitIDs(ids []identity.Identifier) ([]string, []string) {
	types, values := make([]string, len(ids)), make([]string, len(ids))
	for i, id := range ids {
		types[i], values[i] = id.Type, id.Value
	}
	return types, values
}

// build resolves a batch's identifiers and turns its records into rows
// per table.
func (p *Pipeline) build(w *work) error {
	out := map[string][][]any{}
	w.events.reset(len(w.recs))
	add := func(table string, row ...any) { out[table] = append(out[table], row) }
	for i, r := range w.recs {
		sr := spool.Record{Seq: w.seqs[i]}
		for _, v := range r.Vault {
			add("pii_vault", v.Hash, identity.Phone, v.Masked, v.Ciphertext, time.Now())
		}
		switch r.Kind {
		case KindEvent:
			e := r.Event
			w.events.add(e, p.person(w, "e:"+e.Source+":"+e.MessageID, e.IDs, e.TS), sr.Seq)
		case KindOrder:
			o := r.Order
			types, values := splitIDs(o.IDs)
			pid := p.person(w, fmt.Sprintf("o:%s:%s:%d", o.Channel, o.OrderID, o.Version), o.IDs, o.OrderedAt)
			add("orders", types, values, o.Channel, o.OrderID, o.Version, o.Status, o.OrderedAt, o.StatusAt,
				o.Amount, o.Currency, o.Province, o.City, o.StoreID, o.LeaderID, pid, o.Source, o.ReceivedAt, sr.Seq)
			for _, l := range o.Lines {
				add("order_lines", o.Channel, o.OrderID, l.LineNo, o.Version, l.SKU, l.ProductName, l.Category,
					l.Quantity, l.UnitPrice, l.Amount, o.OrderedAt, pid)
			}
		case KindContact:
			c := r.Contact
			ids := []identity.Identifier{{Type: identity.WeComExternalUserID, Value: c.ExternalUserID}}
			if c.UnionID != "" {
				ids = append(ids, identity.Identifier{Type: identity.UnionID, Value: c.UnionID})
			}
			add("wecom_contact_events", c.DedupKey, c.TS, c.ChangeType, c.CorpID, c.StaffUserID, c.ExternalUserID,
				c.State, c.Name, c.UnionID, p.person(w, "c:"+c.DedupKey, ids, c.TS), c.ReceivedAt, sr.Seq)
		case KindMessage:
			m := r.Message
			var pid uint32
			if m.ExternalUserID != "" {
				pid = p.person(w, "m:"+m.MsgID, []identity.Identifier{{Type: identity.WeComExternalUserID, Value: m.ExternalUserID}}, m.MsgTime)
			}
			tolist := m.ToList
			if tolist == nil {
				tolist = []string{}
			}
			add("wecom_messages", m.MsgID, m.Action, m.From, tolist, m.RoomID, m.MsgTime, m.MsgType, m.Content,
				m.PreMsgID, m.ExternalUserID, m.StaffUserID, pid, m.Body, m.ReceivedAt, sr.Seq)
		case KindDeadLetter:
			d := r.DeadLetter
			add("ingest_dead_letters", d.ReceivedAt, d.Source, d.Endpoint, uint32(d.Position), d.Code, d.Field, d.Message, d.Payload)
		default:
			return fmt.Errorf("BUG: spool record %d has kind %q", sr.Seq, r.Kind)
		}
	}
	identity.Rows(&w.changes, add)
	w.rows, w.recs, w.seqs = out, nil, nil
	return nil
}
