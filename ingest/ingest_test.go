package ingest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/granarycdp/cdp/identity"
	"github.com/granarycdp/cdp/ingest"
	"github.com/granarycdp/cdp/ingest/spool"
	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

type fixture struct {
	t    *testing.T
	db   *store.DB
	sp   *spool.Spool
	col  *ingest.Collector
	pipe *ingest.Pipeline
	prot *identity.Protector
	now  time.Time
}

var testKey = []byte("0123456789abcdef0123456789abcdef")

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db := storetest.Migrated(t)
	sp := openSpool(t)
	prot, err := identity.NewProtector(testKey)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, db: db, sp: sp, prot: prot, now: time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)}
	f.col = ingest.NewCollector(ingest.Options{Spool: sp, Protector: prot, Now: func() time.Time { return f.now }})
	w := store.NewWriter(db, store.WriterOptions{Logger: storetest.Logger()})
	f.pipe = ingest.NewPipeline(ingest.PipelineOptions{Spool: sp, Writer: w, SpoolID: "test", Linger: 5 * time.Millisecond, Logger: storetest.Logger()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.pipe.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("pipeline: %v", err)
		}
		w.Close(context.Background())
		sp.Close()
	})
	return f
}

// openSpool opens a spool with the default options in a fresh folder. The
// caller closes it.
func openSpool(t *testing.T) *spool.Spool {
	t.Helper()
	opts := spool.DefaultOptions()
	opts.Dir = t.TempDir()
	sp, err := spool.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// sync waits until everything spooled so far is in ClickHouse.
func (f *fixture) sync() {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := f.pipe.WaitCommitted(ctx, f.sp.LastSeq()); err != nil {
		f.t.Fatalf("records not committed: %v", err)
	}
}

func (f *fixture) count(query string, args ...any) uint64 {
	f.t.Helper()
	var n uint64
	q := strings.ReplaceAll(query, "{db}", "`"+f.db.Database+"`")
	if err := f.db.Conn.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
	return n
}

func (f *fixture) trackSpec(typ, body string) (ingest.Result, error) {
	return f.col.TrackSpec(context.Background(), "douyin", typ, []byte(body))
}

func TestTrackIsStoredWithIdentifiersAndTopic(t *testing.T) {
	f := newFixture(t)
	res, err := f.trackSpec("track", `{"messageId":"m-1","anonymousId":"dev-77","event":"video_complete",
		"properties":{"topic":"控糖","completion_ratio":0.97,"video_id":"v9"},
		"context":{"externalIds":[{"id":"dy_openid_1","type":"douyin_openid"}]},
		"timestamp":"2026-11-20T07:59:00Z"}`)
	if err != nil || res.Accepted != 1 {
		t.Fatalf("accept: %+v %v", res, err)
	}
	f.sync()
	var event, topic, msgID string
	var ts time.Time
	var completion float32
	var types, values []string
	err = f.db.Conn.QueryRow(context.Background(), "SELECT event, topic, completion, message_id, ts, id_types, id_values FROM "+f.db.Table("events")).
		Scan(&event, &topic, &completion, &msgID, &ts, &types, &values)
	if err != nil {
		t.Fatal(err)
	}
	if event != "video_complete" || topic != "控糖" || completion < 0.96 || msgID != "m-1" || !ts.Equal(time.Date(2026, 11, 20, 7, 59, 0, 0, time.UTC)) {
		t.Fatalf("stored %q %q %v %q %v", event, topic, completion, msgID, ts)
	}
	if fmt.Sprint(types) != "[anonymous_id douyin_openid]" || fmt.Sprint(values) != "[dev-77 dy_openid_1]" {
		t.Fatalf("identifiers %v %v", types, values)
	}
}

func TestPhoneIsHashedMaskedAndEncryptedNeverStoredInClear(t *testing.T) {
	f := newFixture(t)
	_, err := f.trackSpec("identify", `{"messageId":"id-1","userId":"u1","traits":{"phone":"138 1234 5678","name":"王阿姨","city":"上海"}}`)
	if err != nil {
		t.Fatal(err)
	}
	f.sync()
	for _, table := range []string{"events", "pii_vault"} {
		if n := f.count("SELECT count() FROM {db}." + table + " WHERE position(toString(tuple(*)), '12345678') > 0 OR position(toString(tuple(*)), '5678') > 0 AND position(toString(tuple(*)), '1234') > 0"); n != 0 {
			t.Fatalf("%s holds the phone number in clear", table)
		}
	}
	var traits string
	var values []string
	if err := f.db.Conn.QueryRow(context.Background(), "SELECT traits, id_values FROM "+f.db.Table("events")).Scan(&traits, &values); err != nil {
		t.Fatal(err)
	}
	hash := f.prot.Hash("+8613812345678")
	if !strings.Contains(traits, `"*******5678"`) || fmt.Sprint(values) != "[u1 "+hash+"]" {
		t.Fatalf("traits %s ids %v, want masked phone and hash %s", traits, values, hash)
	}
	var ct, masked string
	if err := f.db.Conn.QueryRow(context.Background(), "SELECT ciphertext, masked FROM "+f.db.Table("pii_vault")+" WHERE hash = ?", hash).Scan(&ct, &masked); err != nil {
		t.Fatal(err)
	}
	if plain, err := f.prot.Decrypt(ct); err != nil || plain != "+8613812345678" || masked != "*******5678" {
		t.Fatalf("vault: %q %v %q", plain, err, masked)
	}
}

func TestRetriedBatchIsStoredOnce(t *testing.T) {
	f := newFixture(t)
	var msgs []string
	for i := range 50 {
		msgs = append(msgs, fmt.Sprintf(`{"type":"track","messageId":"b-%d","userId":"u%d","event":"search","properties":{"keyword":"高油酸花生油"}}`, i, i%7))
	}
	body := `{"batch":[` + strings.Join(msgs, ",") + `]}`
	first, err := f.trackSpec("batch", body)
	if err != nil || first.Accepted != 50 {
		t.Fatalf("first: %+v %v", first, err)
	}
	second, err := f.trackSpec("batch", body)
	if err != nil || second.Accepted != 0 || second.Duplicates != 50 {
		t.Fatalf("retry: %+v %v, want 50 duplicates", second, err)
	}
	f.sync()
	if n := f.count("SELECT count() FROM {db}.events WHERE keyword = '高油酸花生油'"); n != 50 {
		t.Fatalf("%d rows, want 50", n)
	}
	// The same messageId from another source is another message.
	if res, err := f.col.TrackSpec(context.Background(), "app", "track", []byte(msgs[0])); err != nil || res.Accepted != 1 {
		t.Fatalf("other source: %+v %v", res, err)
	}
}

func TestBatchAcceptsValidAndReportsInvalidWithDeadLetters(t *testing.T) {
	f := newFixture(t)
	body := `{"batch":[
		{"type":"track","messageId":"ok-1","userId":"u1","event":"like"},
		{"type":"track","messageId":"bad-1","userId":"u1"},
		{"type":"track","messageId":"bad-2","userId":"u1","event":"x","timestamp":"2027-06-01T00:00:00Z"},
		{"type":"fly","messageId":"bad-3","userId":"u1"},
		{"type":"identify","messageId":"bad-4","traits":{"phone":"13812345678x"}},
		{"type":"track","messageId":"bad-5","event":"x","context":{"externalIds":[{"id":"1","type":"qq"}]}},
		{"type":"track","messageId":"bad-6","event":"x"}
	]}`
	res, err := f.trackSpec("batch", body)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]string{1: "event", 2: "timestamp", 3: "type", 4: "traits.phone", 5: "context.externalIds[0].type", 6: "userId"}
	if res.Accepted != 1 || len(res.Rejected) != len(want) {
		t.Fatalf("result %+v", res)
	}
	for _, r := range res.Rejected {
		if want[r.Index] != r.Field || r.Message == "" {
			t.Errorf("rejection %+v, want field %q", r, want[r.Index])
		}
	}
	f.sync()
	if n := f.count("SELECT count() FROM {db}.ingest_dead_letters WHERE endpoint = '/v1/batch'"); n != uint64(len(want)) {
		t.Fatalf("%d dead letters, want %d", n, len(want))
	}
	if n := f.count("SELECT count() FROM {db}.ingest_dead_letters WHERE position(payload, '12345678') > 0"); n != 0 {
		t.Fatal("dead letter holds a phone number in clear")
	}
	if n := f.count("SELECT count() FROM {db}.events"); n != 1 {
		t.Fatalf("%d events, want 1", n)
	}
}

func TestBadBodiesAreRefusedWhole(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		typ, body, code, field string
	}{
		{"track", "{\"event\":\"x\",\"userId\":\"\xff\"}", "invalid_utf8", ""},
		{"track", `{"event":`, "invalid_json", ""},
		{"track", `{"event":"x","userId":"u","properties":[1]}`, "invalid", "properties"},
		{"track", `{"event":"x","userId":{"a":1}}`, "invalid", "userId"},
		{"track", `{"event":"x","userId":"u","type":"page"}`, "invalid", "type"},
		{"batch", `{"batch":[]}`, "invalid", "batch"},
		{"track", `{"event":"x","userId":"u","properties":{"p":"` + strings.Repeat("y", 40<<10) + `"}}`, "too_large", ""},
	} {
		_, err := f.trackSpec(tc.typ, tc.body)
		var p *ingest.Problem
		if !errors.As(err, &p) || p.Code != tc.code || p.Field != tc.field {
			t.Errorf("%s %.50q: %v, want %s naming %q", tc.typ, tc.body, err, tc.code, tc.field)
		}
	}
}

func TestClockSkewIsCorrectedBySentAt(t *testing.T) {
	f := newFixture(t)
	// The device's clock is 1 h fast: it stamped the event at 09:00 and
	// sent it at 09:00:10 by its clock; the server received it at 08:00.
	_, err := f.trackSpec("track", `{"messageId":"skew","userId":"u","event":"video_play",
		"originalTimestamp":"2026-11-20T09:00:00Z","sentAt":"2026-11-20T09:00:10Z"}`)
	if err != nil {
		t.Fatal(err)
	}
	f.sync()
	var ts time.Time
	if err := f.db.Conn.QueryRow(context.Background(), "SELECT ts FROM "+f.db.Table("events")).Scan(&ts); err != nil {
		t.Fatal(err)
	}
	if want := f.now.Add(-10 * time.Second); !ts.Equal(want) {
		t.Fatalf("ts %v, want %v", ts, want)
	}
}

func TestOrderStatusChangesApplyIdempotentlyByVersion(t *testing.T) {
	f := newFixture(t)
	order := func(version int, status string, lines bool) string {
		o := map[string]any{"channel": "tmall", "order_id": "T1001", "version": version, "status": status,
			"ordered_at": "2026-11-11T00:01:00+08:00", "amount": "129.70", "city": "杭州", "province": "浙江",
			"buyer": map[string]any{"phone": "13900001111", "tmall_ouid": "ouid-9"}}
		if lines {
			o["lines"] = []map[string]any{
				{"sku": "LGI-2.5", "product_name": "低GI大米 2.5kg", "category": "低GI大米", "quantity": 2, "unit_price": "39.90"},
				{"sku": "HO-1.8", "product_name": "高油酸花生油 1.8L", "category": "高油酸花生油", "quantity": 1, "unit_price": "49.90", "amount": "49.90"},
			}
		}
		b, _ := json.Marshal(o)
		return string(b)
	}
	ctx := context.Background()
	for _, body := range []string{order(1, "paid", true), order(2, "shipped", false), order(1, "paid", true), `{"orders":[` + order(2, "shipped", false) + `]}`} {
		if res, err := f.col.Orders(ctx, "tmall", []byte(body)); err != nil || res.Accepted != 1 {
			t.Fatalf("order: %+v %v", res, err)
		}
	}
	f.sync()
	var status string
	var version uint64
	if err := f.db.Conn.QueryRow(ctx, "SELECT status, version FROM "+f.db.Table("orders")+" FINAL WHERE order_id = 'T1001'").Scan(&status, &version); err != nil {
		t.Fatal(err)
	}
	if status != "shipped" || version != 2 {
		t.Fatalf("order is %s v%d, want shipped v2", status, version)
	}
	if n := f.count("SELECT count() FROM {db}.order_lines FINAL WHERE order_id = 'T1001' AND category = '低GI大米' AND amount = 79.80"); n != 1 {
		t.Fatalf("%d low-GI lines with the computed amount 79.80, want 1", n)
	}
	if n := f.count("SELECT count() FROM {db}.orders FINAL"); n != 1 {
		t.Fatalf("%d orders, want 1", n)
	}
	_, err := f.col.Orders(ctx, "tmall", []byte(`{"channel":"taobao","order_id":"x","status":"paid","ordered_at":"2026-11-11T00:00:00Z","amount":1}`))
	var p *ingest.Problem
	if !errors.As(err, &p) || p.Field != "channel" {
		t.Fatalf("bad channel: %v", err)
	}
	_, err = f.col.Orders(ctx, "tmall", []byte(`{"channel":"pos","order_id":"x","status":"paid","ordered_at":"2026-11-11T00:00:00Z","amount":1,"lines":[{"sku":"a","quantity":0,"unit_price":1}]}`))
	if !errors.As(err, &p) || p.Field != "lines[0].quantity" {
		t.Fatalf("bad quantity: %v", err)
	}
}

// TestWarmRemembersStoredAndSpooledKeys: after a restart, Warm reloads the
// deduplication keys of records already in ClickHouse and of records still
// waiting in the spool, so a client's retry is a duplicate, not a second
// copy.
func TestWarmRemembersStoredAndSpooledKeys(t *testing.T) {
	f := newFixture(t)
	stored := `{"messageId":"warm-stored","userId":"u1","event":"video_play"}`
	if res, err := f.trackSpec("track", stored); err != nil || res.Accepted != 1 {
		t.Fatalf("accept: %+v %v", res, err)
	}
	f.sync()

	// A spool no pipeline drains holds the second record.
	sp := openSpool(t)
	defer sp.Close()
	now := func() time.Time { return f.now }
	spooled := `{"messageId":"warm-spooled","userId":"u2","event":"video_play"}`
	before := ingest.NewCollector(ingest.Options{Spool: sp, Protector: f.prot, Now: now})
	if res, err := before.TrackSpec(context.Background(), "douyin", "track", []byte(spooled)); err != nil || res.Accepted != 1 {
		t.Fatalf("spool: %+v %v", res, err)
	}

	after := ingest.NewCollector(ingest.Options{Spool: sp, Protector: f.prot, Now: now})
	n, err := after.Warm(context.Background(), f.db)
	if err != nil || n != 2 {
		t.Fatalf("Warm = %d, %v; want the 2 keys", n, err)
	}
	for _, body := range []string{stored, spooled} {
		if res, err := after.TrackSpec(context.Background(), "douyin", "track", []byte(body)); err != nil || res.Duplicates != 1 || res.Accepted != 0 {
			t.Fatalf("retry of %s after Warm: %+v %v, want a duplicate", body, res, err)
		}
	}
}

// TestEachAcceptedRecordKeepsItsOwnBytesAmongRejectsAndDuplicates checks
// that a request's records, encoded one after another into one buffer,
// reach ClickHouse each with its own fields when invalid messages (dead
// letters, encoded apart), duplicates (not encoded) and a record that
// outgrows the buffer's estimate (an identify with two phones: vault
// entries) sit between them.
func TestEachAcceptedRecordKeepsItsOwnBytesAmongRejectsAndDuplicates(t *testing.T) {
	f := newFixture(t)
	if res, err := f.trackSpec("track", `{"messageId":"seen","userId":"u0","event":"like","properties":{"n":"0"}}`); err != nil || res.Accepted != 1 {
		t.Fatalf("first request: %+v %v", res, err)
	}
	body := `{"batch":[
		{"type":"track","messageId":"m1","userId":"u1","event":"like","properties":{"n":"1"}},
		{"type":"track","messageId":"bad-1","userId":"u1"},
		{"type":"track","messageId":"seen","userId":"u0","event":"like","properties":{"n":"0"}},
		{"type":"identify","messageId":"m2","userId":"u2","traits":{"phone":"13812345678","mobile":"13987654321","n":"2"}},
		{"type":"track","messageId":"bad-2","event":"x"},
		{"type":"track","messageId":"m3","userId":"u3","event":"view","properties":{"n":"3"}},
		{"type":"track","messageId":"m1","userId":"u1","event":"like","properties":{"n":"1"}},
		{"type":"track","messageId":"m4","anonymousId":"a4","event":"share","properties":{"n":"4"}}
	]}`
	res, err := f.trackSpec("batch", body)
	if err != nil || res.Accepted != 4 || res.Duplicates != 2 || len(res.Rejected) != 2 {
		t.Fatalf("result %+v %v, want 4 accepted, 2 duplicates, 2 rejected", res, err)
	}
	f.sync()
	rows, err := f.db.Conn.Query(context.Background(), "SELECT message_id, event, user_id, anonymous_id, properties, traits FROM "+f.db.Table("events")+" ORDER BY message_id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var id, event, user, anon, props, traits string
		if err := rows.Scan(&id, &event, &user, &anon, &props, &traits); err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.Join([]string{id, event, user, anon, props, identity.MaskMobiles(traits)}, " "))
	}
	want := []string{
		`m1 like u1  {"n":"1"} `,
		`m2 identify u2   {"mobile":"*******4321","n":"2","phone":"*******5678"}`,
		`m3 view u3  {"n":"3"} `,
		`m4 share  a4 {"n":"4"} `,
		`seen like u0  {"n":"0"} `,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := f.count("SELECT count() FROM {db}.ingest_dead_letters"); n != 2 {
		t.Errorf("%d dead letters, want 2", n)
	}
}
