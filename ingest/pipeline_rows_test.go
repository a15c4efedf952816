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
func columnarTestRecords(n int) []*Record {
	at := time.Date(2026, 3, 31, 23, 59, 59, 123_000_000, time.UTC)
	dec := decimal.RequireFromString
	var recs []*Record
	for i := range n {
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

// columnarTestTables are the tables built column by column since
// rowsBeforeColumns, with their columns.
var columnarTestTables = map[string][]string{"orders": orderColumns, "order_lines": orderLineColumns, "wecom_contact_events": contactColumns}

// columnarRig is a batch of columnarTestRecords built by a pipeline over
// a migrated database, the rows the pipeline built for it before, and
// empty copies of columnarTestTables (<table>_rows) for those rows.
type columnarRig struct {
	db  *store.DB
	w   *store.Writer
	p   *Pipeline
	wk  *work
	ref map[string][][]any
}

func newColumnarRig(tb testing.TB, n int) *columnarRig {
	db := storetest.Migrated(tb)
	w := store.NewWriter(db, store.WriterOptions{Logger: storetest.Logger()})
	tb.Cleanup(func() { w.Close(context.Background()) })
	r := &columnarRig{db: db, w: w, p: NewPipeline(PipelineOptions{Writer: w, SpoolID: "columns", Resolver: refResolver{}})}
	recs := columnarTestRecords(n)
	r.wk = &work{recs: recs, seqs: make([]uint64, len(recs))}
	for i := range r.wk.seqs {
		r.wk.seqs[i] = uint64(100 + i)
	}
	r.ref = rowsBeforeColumns(recs, r.wk.seqs)
	if err := r.p.build(r.wk); err != nil {
		tb.Fatal(err)
	}
	for table := range columnarTestTables {
		if err := db.Conn.Exec(context.Background(), "CREATE TABLE "+db.Table(table+"_rows")+" AS "+db.Local(table)); err != nil {
			tb.Fatal(err)
		}
	}
	return r
}

// insertColumns inserts the batch's rows of table column by column, with
// a token ending in tok, and returns the CPU this process spent on it.
func (r *columnarRig) insertColumns(tb testing.TB, table, tok string) time.Duration {
	cpu := processCPU()
	if err := r.p.inserter(r.wk, table)(context.Background(), "columns-"+table+tok); err != nil {
		tb.Fatal(err)
	}
	return processCPU() - cpu
}

// insertRows inserts the rows of before into table's copy, as
// insertColumns.
func (r *columnarRig) insertRows(tb testing.TB, table, tok string) time.Duration {
	cpu := processCPU()
	if err := r.w.Table(table+"_rows", columnarTestTables[table]...).Insert(context.Background(), "rows-"+table+tok, r.ref[table]); err != nil {
		tb.Fatal(err)
	}
	return processCPU() - cpu
}

// BenchmarkOrdersColumnsAgainstRows inserts the same 20,000 orders (with
// 20,000 lines) and 20,000 contact changes column by column into their
// tables and as the rows of before into copies, alternating which goes
// first, and reports
// this process's CPU (user and system: the engine runs in another) per
// row of each way, the inserts' client side.
func BenchmarkOrdersColumnsAgainstRows(b *testing.B) {
	r := newColumnarRig(b, 20_000)
	rows := 0
	for table := range columnarTestTables {
		rows += len(r.ref[table])
	}
	var columns, rowwise time.Duration
	b.ResetTimer()
	for i := range b.N {
		tok := fmt.Sprint(i)
		for table := range columnarTestTables {
			if i%2 == 0 { // each way goes first in every other round
				columns += r.insertColumns(b, table, tok)
				rowwise += r.insertRows(b, table, tok)
			} else {
				rowwise += r.insertRows(b, table, tok)
				columns += r.insertColumns(b, table, tok)
			}
		}
	}
	b.ReportMetric(float64(columns.Nanoseconds())/float64(b.N*rows), "columns-cpu-ns/row")
	b.ReportMetric(float64(rowwise.Nanoseconds())/float64(b.N*rows), "rows-cpu-ns/row")
}

// Orders, their lines and contact changes built and inserted column by
// column are stored exactly as the rows the pipeline built before, inserted
// row by row into copies of the tables.
func TestColumnarOrdersLinesAndContactsStoreTheRowsOfBefore(t *testing.T) {
	r := newColumnarRig(t, 6)
	db, ref, ctx := r.db, r.ref, context.Background()
	for table := range columnarTestTables {
		r.insertColumns(t, table, "")
		r.insertRows(t, table, "")
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
