package ingest

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"

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

// sized makes each of ss an empty slice with room for n values.
func sized[T any](n int, ss ...*[]T) {
	for _, s := range ss {
		*s = make([]T, 0, n)
	}
}

func (c *eventCols) reset(n int) {
	sized(n, &c.idTypes, &c.idValues)
	sized(n, &c.messageID, &c.typ, &c.event, &c.source, &c.userID, &c.anonID, &c.properties, &c.traits, &c.context)
	sized(n, &c.ts, &c.receivedAt)
	sized(n, &c.personID)
	sized(n, &c.spoolSeq)
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

// orderCols are a batch's orders column by column, in the order of
// orderColumns.
type orderCols struct {
	idTypes, idValues                                                          [][]string
	channel, orderID, status, currency, province, city, storeID, leaderID, src []string
	version, spoolSeq                                                          []uint64
	orderedAt, statusAt, receivedAt                                            []time.Time
	amount                                                                     []decimal.Decimal
	personID                                                                   []uint32
}

func (c *orderCols) add(o *Order, person uint32, seq uint64) {
	types, values := splitIDs(o.IDs)
	c.idTypes, c.idValues = append(c.idTypes, types), append(c.idValues, values)
	c.channel, c.orderID, c.version = append(c.channel, o.Channel), append(c.orderID, o.OrderID), append(c.version, o.Version)
	c.status, c.orderedAt, c.statusAt = append(c.status, o.Status), append(c.orderedAt, o.OrderedAt), append(c.statusAt, o.StatusAt)
	c.amount, c.currency = append(c.amount, o.Amount), append(c.currency, o.Currency)
	c.province, c.city = append(c.province, o.Province), append(c.city, o.City)
	c.storeID, c.leaderID = append(c.storeID, o.StoreID), append(c.leaderID, o.LeaderID)
	c.personID, c.src = append(c.personID, person), append(c.src, o.Source)
	c.receivedAt, c.spoolSeq = append(c.receivedAt, o.ReceivedAt), append(c.spoolSeq, seq)
}

func (c *orderCols) reset(n int) {
	sized(n, &c.idTypes, &c.idValues)
	sized(n, &c.channel, &c.orderID, &c.status, &c.currency, &c.province, &c.city, &c.storeID, &c.leaderID, &c.src)
	sized(n, &c.version, &c.spoolSeq)
	sized(n, &c.orderedAt, &c.statusAt, &c.receivedAt)
	sized(n, &c.amount)
	sized(n, &c.personID)
}

func (c *orderCols) len() int { return len(c.orderID) }

func (c *orderCols) columns() []any {
	return []any{c.idTypes, c.idValues, c.channel, c.orderID, c.version, c.status, c.orderedAt, c.statusAt,
		c.amount, c.currency, c.province, c.city, c.storeID, c.leaderID, c.personID, c.src, c.receivedAt, c.spoolSeq}
}

// lineCols are a batch's order lines column by column, in the order of
// orderLineColumns.
type lineCols struct {
	channel, orderID, sku, productName, category []string
	lineNo                                       []uint16
	version                                      []uint64
	quantity, unitPrice, amount                  []decimal.Decimal
	orderedAt                                    []time.Time
	personID                                     []uint32
}

func (c *lineCols) add(o *Order, l *OrderLine, person uint32) {
	c.channel, c.orderID, c.lineNo, c.version = append(c.channel, o.Channel), append(c.orderID, o.OrderID), append(c.lineNo, l.LineNo), append(c.version, o.Version)
	c.sku, c.productName, c.category = append(c.sku, l.SKU), append(c.productName, l.ProductName), append(c.category, l.Category)
	c.quantity, c.unitPrice, c.amount = append(c.quantity, l.Quantity), append(c.unitPrice, l.UnitPrice), append(c.amount, l.Amount)
	c.orderedAt, c.personID = append(c.orderedAt, o.OrderedAt), append(c.personID, person)
}

func (c *lineCols) reset(n int) {
	sized(n, &c.channel, &c.orderID, &c.sku, &c.productName, &c.category)
	sized(n, &c.lineNo)
	sized(n, &c.version)
	sized(n, &c.quantity, &c.unitPrice, &c.amount)
	sized(n, &c.orderedAt)
	sized(n, &c.personID)
}

func (c *lineCols) len() int { return len(c.orderID) }

func (c *lineCols) columns() []any {
	return []any{c.channel, c.orderID, c.lineNo, c.version, c.sku, c.productName, c.category,
		c.quantity, c.unitPrice, c.amount, c.orderedAt, c.personID}
}

// contactCols are a batch's WeCom contact changes column by column, in
// the order of contactColumns.
type contactCols struct {
	dedupKey, changeType, corpID, staffUserID, externalUserID, state, name, unionID []string
	ts, receivedAt                                                                  []time.Time
	personID                                                                        []uint32
	spoolSeq                                                                        []uint64
}

func (c *contactCols) add(ct *Contact, person uint32, seq uint64) {
	c.dedupKey, c.ts, c.changeType = append(c.dedupKey, ct.DedupKey), append(c.ts, ct.TS), append(c.changeType, ct.ChangeType)
	c.corpID, c.staffUserID, c.externalUserID = append(c.corpID, ct.CorpID), append(c.staffUserID, ct.StaffUserID), append(c.externalUserID, ct.ExternalUserID)
	c.state, c.name, c.unionID = append(c.state, ct.State), append(c.name, ct.Name), append(c.unionID, ct.UnionID)
	c.personID, c.receivedAt, c.spoolSeq = append(c.personID, person), append(c.receivedAt, ct.ReceivedAt), append(c.spoolSeq, seq)
}

func (c *contactCols) reset(n int) {
	sized(n, &c.dedupKey, &c.changeType, &c.corpID, &c.staffUserID, &c.externalUserID, &c.state, &c.name, &c.unionID)
	sized(n, &c.ts, &c.receivedAt)
	sized(n, &c.personID)
	sized(n, &c.spoolSeq)
}

func (c *contactCols) len() int { return len(c.dedupKey) }

func (c *contactCols) columns() []any {
	return []any{c.dedupKey, c.ts, c.changeType, c.corpID, c.staffUserID, c.externalUserID,
		c.state, c.name, c.unionID, c.personID, c.receivedAt, c.spoolSeq}
}

// columnSet is a batch's rows of one table column by column.
type columnSet interface {
	len() int
	columns() []any // in the table writer's column order
}

// columnarTables are the tables whose rows a batch builds column by
// column (store.TableWriter.InsertColumns); the others' rows are built
// row by row.
var columnarTables = []string{"events", "orders", "order_lines", "wecom_contact_events"}

// columnar is the batch's columns of table, nil for a table built row by
// row.
func (w *work) columnar(table string) columnSet {
	switch table {
	case "events":
		return &w.events
	case "orders":
		return &w.orders
	case "order_lines":
		return &w.lines
	case "wecom_contact_events":
		return &w.contacts
	}
	return nil
}

// sizeColumns makes room in the batch's columns for exactly its events,
// orders, order lines and contact changes (appends that grew them were
// ~70 MB of a cdp bench run's allocations).
func (w *work) sizeColumns() {
	var events, orders, lines, contacts int
	for _, r := range w.recs {
		switch r.Kind {
		case KindEvent:
			events++
		case KindOrder:
			orders, lines = orders+1, lines+len(r.Order.Lines)
		case KindContact:
			contacts++
		}
	}
	w.events.reset(events)
	w.orders.reset(orders)
	w.lines.reset(lines)
	w.contacts.reset(contacts)
}

// person resolves the identifiers of a record going to table.
func (p *Pipeline) person(w *work, table, ref string, ids []identity.Identifier, at time.Time) uint32 {
	if p.opts.Resolver == nil {
		return 0
	}
	pid := p.opts.Resolver.Resolve(ref, ids, at, &w.changes)
	w.touch(table, pid)
	return pid
}

// touch records that the batch touched person pid (not 0) in table.
func (w *work) touch(table string, pid uint32) {
	if pid == 0 {
		return
	}
	if w.touched == nil {
		w.touched = map[string][]uint32{}
	}
	w.touched[table] = append(w.touched[table], pid)
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
	w.sizeColumns()
	add := func(table string, row ...any) { out[table] = append(out[table], row) }
	for i, r := range w.recs {
		sr := spool.Record{Seq: w.seqs[i]}
		for _, v := range r.Vault {
			add("pii_vault", v.Hash, identity.Phone, v.Masked, v.Ciphertext, time.Now())
		}
		switch r.Kind {
		case KindEvent:
			e := r.Event
			w.events.add(e, p.person(w, "events", "e:"+e.Source+":"+e.MessageID, e.IDs, e.TS), sr.Seq)
		case KindOrder:
			o := r.Order
			pid := p.person(w, "orders", fmt.Sprintf("o:%s:%s:%d", o.Channel, o.OrderID, o.Version), o.IDs, o.OrderedAt)
			w.orders.add(o, pid, sr.Seq)
			for i := range o.Lines {
				w.lines.add(o, &o.Lines[i], pid)
			}
		case KindContact:
			c := r.Contact
			ids := []identity.Identifier{{Type: identity.WeComExternalUserID, Value: c.ExternalUserID}}
			if c.UnionID != "" {
				ids = append(ids, identity.Identifier{Type: identity.UnionID, Value: c.UnionID})
			}
			w.contacts.add(c, p.person(w, "wecom_contact_events", "c:"+c.DedupKey, ids, c.TS), sr.Seq)
		case KindMessage:
			m := r.Message
			var pid uint32
			if m.ExternalUserID != "" {
				pid = p.person(w, "wecom_messages", "m:"+m.MsgID, []identity.Identifier{{Type: identity.WeComExternalUserID, Value: m.ExternalUserID}}, m.MsgTime)
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
