package ingest

import (
	"context"
	"fmt"
	"hash/crc32"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/granarycdp/cdp/identity"
	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// refResolver gives each record reference its own person, a function of
// the reference alone, so a reference row can name the same person.
type refResolver struct{}

func (refResolver) Resolve(ref string, _ []identity.Identifier, _ time.Time, _ *identity.Changes) uint32 {
	return crc32.ChecksumIEEE([]byte(ref))
}

// rowsBeforeColumns are the rows the pipeline built for orders, their lines
// and contact changes before it built them column by column: the reference
// the columnar insert must store the same as.
func rowsBeforeColumns(recs []*Record, seqs []uint64) map[string][][]any {
	out := map[string][][]any{}
	add := func(table string, row ...any) { out[table] = append(out[table], row) }
	for i, r := range recs {
		switch r.Kind {
		case KindOrder:
			o := r.Order
			types, values := splitIDs(o.IDs)
			pid := refResolver{}.Resolve(fmt.Sprintf("o:%s:%s:%d", o.Channel, o.OrderID, o.Version), nil, time.Time{}, nil)
			add("orders", types, values, o.Channel, o.OrderID, o.Version, o.Status, o.OrderedAt, o.StatusAt,
				o.Amount, o.Currency, o.Province, o.City, o.StoreID, o.LeaderID, pid, o.Source, o.ReceivedAt, seqs[i])
			for _, l := range o.Lines {
				add("order_lines", o.Channel, o.OrderID, l.LineNo, o.Version, l.SKU, l.ProductName, l.Category,
					l.Quantity, l.UnitPrice, l.Amount, o.OrderedAt, pid)
			}
		case KindContact:
			c := r.Contact
			add("wecom_contact_events", c.DedupKey, c.TS, c.ChangeType, c.CorpID, c.StaffUserID, c.ExternalUserID,
				c.State, c.Name, c.UnionID, refResolver{}.Resolve("c:"+c.DedupKey, nil, time.Time{}, nil), c.ReceivedAt, seqs[i])
		}
	}
	return out
}

// columnarTestRecords are orders (with and without lines, identifiers,
// store or leader, over two months) and contact changes (with and
// without a unionid), between events.
func columnarTestRecords() []*Record {
	at := time.Date(2026, 3, 31, 23, 59, 59, 123_000_000, time.UTC)
	dec := decimal.RequireFromString
	var recs []*Record
	for i := range 6 {
		o := &Order{Channel: []string{"tmall", "pos", "group_buy"}[i%3], OrderID: fmt.Sprintf("订单-%d", i), Version: uint64(1000 + i),
			Status: "paid", OrderedAt: at.Add(time.Duration(i) * time.Hour), StatusAt: at.Add(time.Duration(i)*time.Hour + time.Minute),
			Amount: dec(fmt.Sprintf("%d.%02d", 10*i, i)), Currency: "CNY", Province: "四川", City: fmt.Sprintf("成都%d", i),
			Source: "orders-api", ReceivedAt: at.Add(2 * time.Hour)}
		if i%2 == 0 {
			o.StoreID, o.IDs = fmt.Sprintf("s%d", i), []identity.Identifier{{Type: identity.Phone, Value: fmt.Sprintf("h:%x", i)}, {Type: identity.UnionID, Value: "u"}}
		} else {
			o.LeaderID = "团长" + fmt.Sprint(i)
		}
		for l := range i % 3 {
			o.Lines = append(o.Lines, OrderLine{LineNo: uint16(l + 1), SKU: fmt.Sprintf("sku%d", l), ProductName: "低GI大米 5kg", Category: "低GI大米",
				Quantity: dec(fmt.Sprintf("%d.125", l+1)), UnitPrice: dec("39.90"), Amount: dec(fmt.Sprintf("%d.%02d", 40*(l+1), l))})
		}
		c := &Contact{DedupKey: fmt.Sprintf("k%d", i), TS: at.Add(-time.Duration(i) * time.Minute), ChangeType: "add_external_contact",
			CorpID: "ww1", StaffUserID: "zhangsan", ExternalUserID: fmt.Sprintf("wm%d", i), State: "qr", Name: "王阿姨", ReceivedAt: at}
		if i%2 == 1 {
			c.UnionID, c.State = fmt.Sprintf("union%d", i), ""
		}
		recs = append(recs, &Record{Kind: KindOrder, Order: o}, &Record{Kind: KindContact, Contact: c},
			&Record{Kind: KindEvent, Event: &Event{MessageID: fmt.Sprint(i), Type: "track", Event: "search", TS: at, ReceivedAt: at, Source: "app"}})
	}
	return recs
}

// Orders, their lines and contact changes built and inserted column by
// column are stored exactly as the rows the pipeline built before, inserted
// row by row into copies of the tables.
func TestColumnarOrdersLinesAndContactsStoreTheRowsOfBefore(t *testing.T) {
	db := storetest.Migrated(t)
	ctx := context.Background()
	w := store.NewWriter(db, store.WriterOptions{Logger: storetest.Logger()})
	defer w.Close(ctx)
	p := NewPipeline(PipelineOptions{Writer: w, SpoolID: "columns", Resolver: refResolver{}})
	recs := columnarTestRecords()
	wk := &work{recs: recs, seqs: make([]uint64, len(recs))}
	for i := range wk.seqs {
		wk.seqs[i] = uint64(100 + i)
	}
	ref := rowsBeforeColumns(recs, wk.seqs)
	if err := p.build(wk); err != nil {
		t.Fatal(err)
	}
	for table, cols := range map[string][]string{"orders": orderColumns, "order_lines": orderLineColumns, "wecom_contact_events": contactColumns} {
		if err := p.inserter(wk, table)(ctx, "columns-"+table); err != nil {
			t.Fatal(err)
		}
		if err := db.Conn.Exec(ctx, "CREATE TABLE "+db.Table(table+"_rows")+" AS "+db.Local(table)); err != nil {
			t.Fatal(err)
		}
		if err := w.Table(table+"_rows", cols...).Insert(ctx, "rows-"+table, ref[table]); err != nil {
			t.Fatal(err)
		}
		a, b := db.Table(table), db.Table(table+"_rows")
		var rows, onlyA, onlyB uint64
		err := db.Conn.QueryRow(ctx, fmt.Sprintf(`SELECT (SELECT count() FROM %[1]s),
			(SELECT count() FROM (SELECT * FROM %[1]s EXCEPT SELECT * FROM %[2]s)),
			(SELECT count() FROM (SELECT * FROM %[2]s EXCEPT SELECT * FROM %[1]s))`, a, b)).Scan(&rows, &onlyA, &onlyB)
		if err != nil {
			t.Fatal(err)
		}
		if rows != uint64(len(ref[table])) || onlyA != 0 || onlyB != 0 {
			t.Errorf("%s: %d rows stored column by column (want %d), %d of them not among the rows of before, %d of those missing",
				table, rows, len(ref[table]), onlyA, onlyB)
		}
	}
}
