package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/RoaringBitmap/roaring/v2"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/granarycdp/cdp/identity"
	"github.com/granarycdp/cdp/segments"
)

// ingestAll posts Segment batch and order bodies and waits until they are
// in ClickHouse.
func (f *ingestFixture) ingestAll(batch []string, orders []string) {
	f.t.Helper()
	if len(batch) > 0 {
		if rec := f.post("/v1/batch", writeKey, []byte(`{"batch":[`+strings.Join(batch, ",")+`]}`), nil); rec.Code != 200 {
			f.t.Fatalf("batch: %d %s", rec.Code, rec.Body)
		}
	}
	for _, o := range orders {
		if rec := f.post("/v1/orders", writeKey, []byte(o), nil); rec.Code != 200 {
			f.t.Fatalf("order: %d %s", rec.Code, rec.Body)
		}
	}
	f.sync()
}

func (f *ingestFixture) profileOf(typ, value string) *identity.Profile {
	f.t.Helper()
	var pr identity.Profile
	rec := f.do("GET", "/api/v1/profiles/lookup?type="+typ+"&value="+url.QueryEscape(value), adminToken, nil, &pr)
	if rec.Code != 200 {
		f.t.Fatalf("lookup %s=%s: %d %s", typ, value, rec.Code, rec.Body)
	}
	return &pr
}

func track(id, event string, ext map[string]string, props string) string {
	var ids []string
	for t, v := range ext {
		ids = append(ids, fmt.Sprintf(`{"type":%q,"id":%q}`, t, v))
	}
	return fmt.Sprintf(`{"type":"track","messageId":%q,"event":%q,"properties":%s,"context":{"externalIds":[%s]},"timestamp":"2026-11-20T08:00:00Z"}`,
		id, event, props, strings.Join(ids, ","))
}

func TestProfileJoinsChannelsIntoOnePerson(t *testing.T) {
	f := newIngestFixture(t, 0)
	f.ingestAll([]string{
		track("e1", "video_complete", map[string]string{"douyin_openid": "dyA"}, `{"topic":"控糖","completion_ratio":1}`),
		track("e2", "search", map[string]string{"douyin_openid": "dyA", "phone": "13812340001"}, `{"keyword":"低GI大米"}`),
		`{"type":"identify","messageId":"e3","userId":"member-A","traits":{"phone":"13812340001","name":"王阿姨","city":"上海"}}`,
	}, []string{
		`{"channel":"tmall","order_id":"T-A1","status":"completed","ordered_at":"2026-10-01T10:00:00+08:00","amount":"79.80","city":"上海",
		  "buyer":{"phone":"13812340001","tmall_ouid":"ouA"},"lines":[{"sku":"LGI-2.5","product_name":"低GI大米 2.5kg","category":"低GI大米","quantity":2,"unit_price":"39.90"}]}`,
		`{"channel":"pos","order_id":"P-A2","status":"completed","ordered_at":"2026-10-22T10:00:00+08:00","amount":"69.00","city":"上海",
		  "buyer":{"tmall_ouid":"ouA","member_no":"M-A"},"lines":[{"sku":"WC-5","product_name":"五常大米 5kg","category":"五常大米","quantity":1,"unit_price":"69.00"}]}`,
	})
	pr := f.profileOf("phone", "138-1234-0001")
	byType := map[string]string{}
	for _, id := range pr.Identifiers {
		byType[id.Type] = id.Value
	}
	for _, typ := range []string{"douyin_openid", "phone", "user_id", "tmall_ouid", "member_no"} {
		if byType[typ] == "" {
			t.Fatalf("profile lacks %s: %+v", typ, pr.Identifiers)
		}
	}
	if byType["phone"] != "*******0001" {
		t.Fatalf("phone shown as %q, want masked", byType["phone"])
	}
	c := pr.Computed
	if c.Orders != 2 || c.LifetimeValue != 148.8 || c.ByChannel["tmall"].Orders != 1 || c.RepurchaseDays != 21 {
		t.Fatalf("computed %+v", c)
	}
	if c.NextRicePurchase == nil || c.NextRicePurchase.Format("2006-01-02") != "2026-11-12" {
		t.Fatalf("next rice purchase %v, want 21 days after 2026-10-22", c.NextRicePurchase)
	}
	if len(pr.Timeline) != 5 || len(pr.Orders) != 2 || !strings.Contains(string(pr.Traits), "王阿姨") {
		t.Fatalf("timeline %d orders %d traits %s", len(pr.Timeline), len(pr.Orders), pr.Traits)
	}
	// BI reads the same numbers from the person_traits view.
	var orders uint64
	var ltv, aov float64
	var interval *float64
	err := f.db.Conn.QueryRow(context.Background(), "SELECT orders, lifetime_value, average_order_value, repurchase_interval_days FROM "+
		f.db.Table("person_traits")+" WHERE person_id = ?", pr.PersonID).Scan(&orders, &ltv, &aov, &interval)
	if err != nil || orders != 2 || ltv != c.LifetimeValue || aov != c.AverageOrderValue || interval == nil || *interval != c.RepurchaseDays {
		t.Fatalf("person_traits: %d %v %v %v (%v), profile %+v", orders, ltv, aov, interval, err, c)
	}
	var rfm, next string
	err = f.db.Conn.QueryRow(context.Background(), "SELECT rfm FROM "+f.db.Table("person_rfm")+" WHERE person_id = ?", pr.PersonID).Scan(&rfm)
	if err != nil || rfm != c.RFM.Score {
		t.Fatalf("person_rfm %q (%v), profile %q", rfm, err, c.RFM.Score)
	}
	err = f.db.Conn.QueryRow(context.Background(), "SELECT toString(next_purchase) FROM "+f.db.Table("person_next_purchase")+" WHERE person_id = ? AND kind = 'rice'", pr.PersonID).Scan(&next)
	if err != nil || next != c.NextRicePurchase.Format("2006-01-02") {
		t.Fatalf("person_next_purchase %q (%v), profile %v", next, err, c.NextRicePurchase)
	}
	// Every record went to the one person in ClickHouse too.
	var persons uint64
	f.db.Conn.QueryRow(context.Background(), "SELECT uniqExact(person_id) FROM "+f.db.Table("events")+" WHERE person_id != 0").Scan(&persons)
	if persons != 1 {
		t.Fatalf("events spread over %d persons", persons)
	}
}

func TestFamilyPhoneConflictIsVisible(t *testing.T) {
	f := newIngestFixture(t, 0)
	f.ingestAll([]string{
		`{"type":"identify","messageId":"m1","userId":"mum","traits":{"phone":"13900002222"}}`,
		`{"type":"identify","messageId":"d1","userId":"dad","traits":{"phone":"13900002222"}}`,
	}, nil)
	mum, dad := f.profileOf("user_id", "mum"), f.profileOf("user_id", "dad")
	if mum.PersonID == dad.PersonID {
		t.Fatal("a shared family phone merged two identified persons")
	}
	if len(mum.Conflicts)+len(dad.Conflicts) == 0 {
		t.Fatal("the conflict is not visible on either profile")
	}
	var n uint64
	f.db.Conn.QueryRow(context.Background(), "SELECT count() FROM "+f.db.Table("identity_conflicts")+" WHERE id_type = 'phone'").Scan(&n)
	if n == 0 {
		t.Fatal("conflict not stored")
	}
}

// personOf returns the person_id stored on an event.
func (f *ingestFixture) personOf(messageID string) uint32 {
	var p uint32
	if err := f.db.Conn.QueryRow(context.Background(), "SELECT person_id FROM "+f.db.Table("events")+" WHERE message_id = ?", messageID).Scan(&p); err != nil {
		f.t.Fatal(err)
	}
	return p
}

func TestUnmergeSplitsPersonAndReattributesEvents(t *testing.T) {
	f := newIngestFixture(t, 0)
	f.ingestAll([]string{
		track("a1", "video_play", map[string]string{"member_no": "M-1"}, `{"topic":"减脂"}`),
		track("b1", "video_play", map[string]string{"unionid": "U-2"}, `{"topic":"控糖"}`),
		track("bad", "like", map[string]string{"member_no": "M-1", "unionid": "U-2"}, `{}`), // the wrong evidence
		track("b2", "video_complete", map[string]string{"unionid": "U-2", "douyin_openid": "dy-2"}, `{"topic":"控糖"}`),
	}, nil)
	merged := f.profileOf("member_no", "M-1")
	if len(merged.Merges) != 1 || f.personOf("a1") == 0 {
		t.Fatalf("merges %+v", merged.Merges)
	}
	if f.graph.Canonical(f.personOf("b1")) != merged.PersonID {
		t.Fatal("b1 not with the merged person")
	}
	m := merged.Merges[0]
	if m.Ref != "e:default:bad" || m.Rule == "" {
		t.Fatalf("merge evidence %+v", m)
	}
	var seg segments.Definition
	if rec := f.do("POST", "/api/v1/segments", adminToken, map[string]any{"name": "控糖完播", "rule": `did("video_complete", 30, {"topic": "控糖"}) >= 1`}, &seg); rec.Code != 201 || seg.Size != 1 {
		t.Fatalf("segment: %d %+v", rec.Code, seg)
	}
	var res struct{ Person uint32 }
	if rec := f.do("POST", fmt.Sprintf("/api/v1/merges/%d/unmerge", m.ID), adminToken, nil, &res); rec.Code != 200 {
		t.Fatalf("unmerge: %d %s", rec.Code, rec.Body)
	}
	a, b := f.profileOf("member_no", "M-1"), f.profileOf("unionid", "U-2")
	if a.PersonID == b.PersonID || b.PersonID != res.Person {
		t.Fatalf("after unmerge: %d and %d (split off %d)", a.PersonID, b.PersonID, res.Person)
	}
	// b2 arrived after the merge and was stored on the merged person; it
	// carries U-2, so it follows the split-off person.
	if got := f.personOf("b2"); got != b.PersonID {
		t.Fatalf("b2 on person %d, want %d", got, b.PersonID)
	}
	if got := f.personOf("a1"); got != a.PersonID {
		t.Fatalf("a1 on person %d, want %d", got, a.PersonID)
	}
	if d, _ := f.graph.Lookup(identity.Identifier{Type: "douyin_openid", Value: "dy-2"}); d != b.PersonID {
		t.Fatal("dy-2, linked through U-2 after the merge, did not follow it")
	}
	// The live segment follows: b2's 控糖 completion is the split-off
	// person's now.
	deadline := time.Now().Add(time.Minute)
	for {
		bm, _ := f.segs.Members(seg.ID)
		if bm.GetCardinality() == 1 && bm.Contains(b.PersonID) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("segment members %v after unmerge, want only %d", bm.ToArray(), b.PersonID)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if rec := f.do("POST", fmt.Sprintf("/api/v1/merges/%d/unmerge", m.ID), adminToken, nil, nil); rec.Code != 409 {
		t.Fatalf("second unmerge: %d", rec.Code)
	}
	// A rebuilt graph agrees.
	g, _, err := identity.Load(context.Background(), f.db, identity.DefaultRules())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []identity.Identifier{{Type: "member_no", Value: "M-1"}, {Type: "unionid", Value: "U-2"}, {Type: "douyin_openid", Value: "dy-2"}} {
		want, _ := f.graph.Lookup(id)
		if got, _ := g.Lookup(id); got != want {
			t.Fatalf("rebuilt graph: %v is %d, live graph %d", id, got, want)
		}
	}
}

func TestErasureLeavesNothingInAnyTable(t *testing.T) {
	f := newIngestFixture(t, 0)
	f.ingestAll([]string{
		track("x1", "search", map[string]string{"douyin_openid": "dy-erase-me", "phone": "13655550001"}, `{"keyword":"控糖"}`),
		`{"type":"identify","messageId":"x2","userId":"erase-user","traits":{"phone":"13655550001","name":"赵先生"}}`,
		track("keep", "search", map[string]string{"douyin_openid": "dy-keep"}, `{"keyword":"花生油"}`),
	}, []string{`{"channel":"phone","order_id":"PH-9","status":"completed","ordered_at":"2026-10-01T10:00:00+08:00","amount":"59","buyer":{"phone":"13655550001"},"lines":[{"sku":"LGI-5KG","product_name":"低GI大米 5kg","category":"低GI大米","quantity":1,"unit_price":"59"}]}`})
	lines := `{"msgid":"erase-m1","action":"send","from":"wmERASE","tolist":["staff1"],"roomid":"","msgtime":1732500000000,"msgtype":"text","text":{"content":"我想控糖"}}`
	f.post("/v1/import/wecom-archive", writeKey, []byte(lines), nil)
	f.ingestAll([]string{track("x3", "like", map[string]string{"wecom_external_userid": "wmERASE", "user_id": "erase-user"}, `{}`)}, nil)
	pr := f.profileOf("user_id", "erase-user")
	// The person is in a segment and was sent a campaign.
	var seg segments.Definition
	if rec := f.do("POST", "/api/v1/segments", adminToken, map[string]any{"name": "searchers", "rule": `did("search", 30) >= 1`}, &seg); rec.Code != 201 || seg.Size != 2 {
		t.Fatalf("segment: %d %+v", rec.Code, seg)
	}
	var offer, camp struct{ ID string }
	f.do("POST", "/api/v1/offers", adminToken, map[string]any{"name": "试用装", "categories": []string{"低GI大米"}}, &offer)
	f.do("POST", "/api/v1/campaigns", adminToken, map[string]any{"name": "c", "offer_id": offer.ID, "segment_id": seg.ID, "channel": "outbox", "template": "hi"}, &camp)
	if rec := f.do("POST", "/api/v1/campaigns/"+camp.ID+"/launch", adminToken, nil, nil); rec.Code != 200 {
		t.Fatalf("launch: %d %s", rec.Code, rec.Body)
	}
	// ... saved in a list from an analysis, and on a journey.
	if _, err := f.segs.SaveList(context.Background(), "流失", "", "funnel", "{}", roaring.BitmapOf(pr.Persons...), "test"); err != nil {
		t.Fatal(err)
	}
	if err := f.db.Conn.Exec(context.Background(), "INSERT INTO "+f.db.Table("journey_runs")+" (journey_id, person_id) VALUES ('jrn_erase', ?)", pr.PersonID); err != nil {
		t.Fatal(err)
	}
	// The segment engine persisted its trait index (every person's order
	// facts) when the segment was computed; the erasure deletes it.
	snapshots := func() (n uint64) {
		if err := f.db.Conn.QueryRow(context.Background(), "SELECT count() FROM "+f.db.Table("segment_trait_snapshots")).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := snapshots(); n == 0 {
		t.Fatal("no persisted trait index before the erasure")
	}
	// The segment engine's per-item orders (item_orders, kept by a
	// materialized view) hold the person's order: checked below with
	// every table that has a person_id.
	var held uint64
	if err := f.db.Conn.QueryRow(context.Background(), "SELECT count() FROM "+f.db.Table("item_orders")+" WHERE person_id IN ?", pr.Persons).Scan(&held); err != nil || held == 0 {
		t.Fatalf("item_orders holds %d rows of the person before the erasure (%v)", held, err)
	}
	if rec := f.do("DELETE", fmt.Sprintf("/api/v1/profiles/%d", pr.PersonID), adminToken, nil, nil); rec.Code != 200 {
		t.Fatalf("erase: %d %s", rec.Code, rec.Body)
	}
	if n := snapshots(); n != 0 {
		t.Errorf("%d persisted trait indexes after the erasure", n)
	}
	phoneHash := f.prot.Hash("+8613655550001")
	needles := []string{"dy-erase-me", "erase-user", "赵先生", "wmERASE", "我想控糖", phoneHash, "5550001"}
	rows, err := f.db.Conn.Query(context.Background(), "SELECT name FROM system.tables WHERE database = ? AND engine NOT LIKE '%View%'", f.db.Database)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		rows.Scan(&name)
		tables = append(tables, name)
	}
	rows.Close()
	if len(tables) < 15 {
		t.Fatalf("only %d tables found", len(tables))
	}
	for _, table := range tables {
		if table == "suppressions" || table == "audit_log" {
			continue // keyed hashes of a different key; the audit names only the person id
		}
		for _, n := range needles {
			var c uint64
			q := "SELECT count() FROM " + f.db.Table(table) + " WHERE positionUTF8(toString(tuple(*)), ?) > 0"
			if err := f.db.Conn.QueryRow(context.Background(), q, n).Scan(&c); err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			if c != 0 {
				t.Errorf("table %s still holds %q (%d rows)", table, n, c)
			}
		}
		var c uint64
		err := f.db.Conn.QueryRow(context.Background(), "SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name IN ('person_id','canonical','survivor','absorbed','person_a','person_b')", f.db.Database, table).Scan(&c)
		if err == nil && c > 0 {
			var cols []string
			crow, _ := f.db.Conn.Query(context.Background(), "SELECT name FROM system.columns WHERE database = ? AND table = ? AND name IN ('person_id','canonical','survivor','absorbed','person_a','person_b')", f.db.Database, table)
			for crow.Next() {
				var col string
				crow.Scan(&col)
				cols = append(cols, col)
			}
			crow.Close()
			for _, col := range cols {
				var n uint64
				f.db.Conn.QueryRow(context.Background(), "SELECT count() FROM "+f.db.Table(table)+" WHERE "+col+" IN ?", pr.Persons).Scan(&n)
				if n != 0 {
					t.Errorf("table %s.%s still names the person (%d rows)", table, col, n)
				}
			}
		}
	}
	assertNoBitmapHolds(t, f.fixture, pr.Persons)
	if rec := f.do("GET", fmt.Sprintf("/api/v1/profiles/%d", pr.PersonID), adminToken, nil, nil); rec.Code != 404 {
		t.Fatalf("profile after erasure: %d", rec.Code)
	}
	var kept uint64
	f.db.Conn.QueryRow(context.Background(), "SELECT count() FROM "+f.db.Table("events")+" WHERE message_id = 'keep'").Scan(&kept)
	var revenue float64
	f.db.Conn.QueryRow(context.Background(), "SELECT sum(toFloat64(amount)) FROM "+f.db.Table("orders")+" FINAL").Scan(&revenue)
	if kept != 1 || revenue != 59 {
		t.Fatalf("erasure removed too much: other person's events %d, revenue %v", kept, revenue)
	}
	var suppressed uint64
	f.db.Conn.QueryRow(context.Background(), "SELECT count() FROM "+f.db.Table("suppressions")).Scan(&suppressed)
	if suppressed < 3 {
		t.Fatalf("%d identifiers suppressed", suppressed)
	}
	if bm, _ := f.segs.Members(seg.ID); bm.GetCardinality() != 1 || bm.Contains(pr.PersonID) {
		t.Fatalf("segment members after erasure %v", bm.ToArray())
	}
	_ = json.Valid
}

func identityID(typ, value string) identity.Identifier {
	return identity.Identifier{Type: typ, Value: value}
}

// assertNoBitmapHolds fails when any stored person bitmap (segment
// snapshots, saved lists: every groupBitmap column) still holds one of the
// erased persons.
func assertNoBitmapHolds(t *testing.T, f *fixture, persons []uint32) {
	t.Helper()
	ctx := context.Background()
	rows, err := f.db.Conn.Query(ctx, "SELECT table, name FROM system.columns WHERE database = ? AND type LIKE 'AggregateFunction(groupBitmap%' AND table NOT IN (SELECT name FROM system.tables WHERE database = ? AND engine LIKE '%View%')", f.db.Database, f.db.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	checked := 0
	for rows.Next() {
		var table, col string
		if err := rows.Scan(&table, &col); err != nil {
			t.Fatal(err)
		}
		var n uint64
		q := "SELECT count() FROM " + f.db.Table(table) + " WHERE bitmapHasAny(" + col + ", bitmapBuild(CAST(? AS Array(UInt32))))"
		if err := f.db.Conn.QueryRow(ctx, q, persons).Scan(&n); err != nil {
			t.Fatalf("%s.%s: %v", table, col, err)
		}
		if n != 0 {
			t.Errorf("bitmap %s.%s still holds the erased person (%d rows)", table, col, n)
		}
		checked++
	}
	if checked < 2 {
		t.Fatalf("only %d bitmap columns found", checked)
	}
}
