package api_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/granarycdp/cdp/api"
	"github.com/granarycdp/cdp/campaigns"
	"github.com/granarycdp/cdp/identity"
	"github.com/granarycdp/cdp/ingest"
	"github.com/granarycdp/cdp/ingest/spool"
	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/ingest/wecom/wecomtest"
	"github.com/granarycdp/cdp/journeys"
	"github.com/granarycdp/cdp/segments"
	"github.com/granarycdp/cdp/sidebar"
	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
	"github.com/granarycdp/cdp/wecomops"
)

const (
	writeKey   = "test-write-key"
	corpID     = "ww1234567890abcdef"
	cbToken    = "QDG6eK"
	cbAESKey   = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
	cbSecret   = "contact-secret"
	weComAgent = "1000002"
)

type ingestFixture struct {
	*fixture
	sp     *spool.Spool
	spool  string // the spool's folder
	pipe   *ingest.Pipeline
	crypto *wecom.Crypto
	fake   *wecomtest.Server
	graph  *identity.Graph
	prot   *identity.Protector
	segs   *segments.Store
	camps  *campaigns.Service
	jrn    *journeys.Service // told of committed records; its loop is not started
	col    *ingest.Collector
	wc     *ingest.WeCom
	// wecomOps serves the tag-sync routes; its loops are not started.
	wecomOps *wecomops.Service
	opts     api.Options // what f.srv was built with
	nonces   int         // callbacks signed so far
}

func newIngestFixture(t *testing.T, maxSpool int64) *ingestFixture {
	return newIngestFixtureTB(t, t, maxSpool)
}

// newBenchFixture is the ingest fixture for benchmarks.
func newBenchFixture(b *testing.B) *ingestFixture { return newIngestFixtureTB(b, &testing.T{}, 0) }

func newIngestFixtureTB(tb testing.TB, t *testing.T, maxSpool int64) *ingestFixture {
	tb.Helper()
	f := newFixtureTB(tb, t)
	opts := spool.DefaultOptions()
	opts.Dir = tb.TempDir()
	if maxSpool > 0 {
		opts.MaxBytes = maxSpool
	}
	sp, err := spool.Open(opts)
	if err != nil {
		tb.Fatal(err)
	}
	prot, _ := identity.NewProtector(bytes.Repeat([]byte{7}, 32))
	col := ingest.NewCollector(ingest.Options{Spool: sp, Protector: prot})
	crypto, err := wecom.NewCrypto(cbToken, cbAESKey, corpID)
	if err != nil {
		tb.Fatal(err)
	}
	fake := wecomtest.New(corpID, cbSecret)
	tb.Cleanup(fake.Close)
	copts := wecom.DefaultClientOptions()
	copts.BaseURL = fake.URL
	client, err := wecom.NewClient(corpID, cbSecret, copts)
	if err != nil {
		tb.Fatal(err)
	}
	creds, _ := api.NewCredentials(context.Background(), f.db)
	graph, _, err := identity.Load(context.Background(), f.db, identity.DefaultRules())
	if err != nil {
		tb.Fatal(err)
	}
	w := store.NewWriter(f.db, store.WriterOptions{})
	svc := &identity.Service{DB: f.db, Graph: graph, Writer: w, Protector: prot, Logger: storetest.Logger()}
	segOpts := segments.DefaultOptions()
	segOpts.Logger = storetest.Logger()
	segOpts.PersistTraits = true // as the platform (cmd/cdp)
	segs, err := segments.NewStore(context.Background(), f.db, segOpts)
	if err != nil {
		tb.Fatal(err)
	}
	camps := &campaigns.Service{DB: f.db, Writer: w, Segments: segs, Logger: storetest.Logger()}
	wc := &ingest.WeCom{Crypto: crypto, Client: client, CorpID: corpID}
	jrn := &journeys.Service{DB: f.db, Writer: w, Campaigns: camps, Segments: segs, Logger: storetest.Logger()}
	ops, err := wecomops.New(wecomops.Options{DB: f.db, Client: client, Segments: segs, Touched: segs.Touched, Logger: storetest.Logger()})
	if err != nil {
		tb.Fatal(err)
	}
	sb, err := sidebar.New(sidebar.Options{DB: f.db, Client: client, CorpID: corpID, AgentID: weComAgent, Identity: svc, Segments: segs, Journeys: jrn, Campaigns: camps})
	if err != nil {
		tb.Fatal(err)
	}
	apiOpts := api.Options{DB: f.db, Credentials: creds, Collector: col, Identity: svc, Segments: segs, Campaigns: camps, Journeys: jrn,
		WeCom: wc, WeComOps: ops, Sidebar: sb, MetricsToken: metricsToken, Logger: storetest.Logger()}
	f.srv = api.New(apiOpts)
	pipe := ingest.NewPipeline(ingest.PipelineOptions{Spool: sp, Writer: w, SpoolID: "api-test", Linger: 5 * time.Millisecond, Resolver: graph,
		AfterCommit: func(c ingest.Committed) {
			segs.TouchedTables(c.Persons)
			jrn.Touched(c.All(), c.Tables)
		}})
	ctx, cancel := context.WithCancel(context.Background())
	go segs.RunLive(ctx)
	done := make(chan error, 1)
	if maxSpool == 0 {
		go func() { done <- pipe.Run(ctx) }()
	} else {
		close(done) // a full spool needs ClickHouse to be "down": no pipeline
	}
	tb.Cleanup(func() {
		cancel()
		<-done
		w.Close(context.Background())
		sp.Close()
	})
	return &ingestFixture{fixture: f, sp: sp, spool: opts.Dir, pipe: pipe, crypto: crypto, fake: fake, graph: graph, prot: prot, segs: segs, camps: camps, jrn: jrn, col: col, wc: wc, wecomOps: ops, opts: apiOpts}
}

func (f *ingestFixture) post(path, key string, body []byte, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", path, bytes.NewReader(body))
	if key != "" {
		req.SetBasicAuth(key, "")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(rec, req)
	return rec
}

func (f *ingestFixture) sync() {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := f.pipe.WaitCommitted(ctx, f.sp.LastSeq()); err != nil {
		f.t.Fatal(err)
	}
}

func TestEveryIngestEndpointRefusesMissingOrWrongWriteKey(t *testing.T) {
	f := newIngestFixture(t, 0)
	n := 0
	for _, r := range f.srv.Routes() {
		if !strings.HasPrefix(r.Path, "/v1/") {
			continue
		}
		for _, key := range []string{"", "wrong-key", adminToken} {
			var e api.Error
			rec := f.post(r.Path, key, []byte(`{}`), nil)
			if rec.Code != 401 || json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Code != api.CodeUnauthorized {
				t.Errorf("%s with key %q: %d %s", r.Path, key, rec.Code, rec.Body)
			}
		}
		n++
	}
	if n < 11 {
		t.Fatalf("checked %d ingest routes", n)
	}
}

// TestSegmentSDKRequestShape sends what analytics-node sends: a gzip batch
// with the write key as Basic user.
func TestSegmentSDKRequestShape(t *testing.T) {
	f := newIngestFixture(t, 0)
	body := `{"batch":[{"type":"track","event":"video_complete","messageId":"node-1","anonymousId":"a1",
		"properties":{"topic":"低GI","completion_ratio":1},"timestamp":"2026-11-20T01:02:03.456Z",
		"context":{"library":{"name":"analytics-node","version":"6.0.0"}}}],"sentAt":"2026-11-20T01:02:04Z"}`
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(body))
	zw.Close()
	rec := f.post("/v1/batch", writeKey, gz.Bytes(), map[string]string{"Content-Encoding": "gzip", "Content-Type": "application/json"})
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"success":true`) {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	f.sync()
	var n uint64
	f.db.Conn.QueryRow(context.Background(), "SELECT count() FROM "+f.db.Table("events")+" WHERE message_id = 'node-1' AND topic = '低GI' AND source = 'default'").Scan(&n)
	if n != 1 {
		t.Fatalf("stored %d", n)
	}
}

func TestIngestLimitsAnswerWithClearErrors(t *testing.T) {
	f := newIngestFixture(t, 0)
	big := `{"event":"x","userId":"u","properties":{"p":"` + strings.Repeat("y", 600<<10) + `"}}`
	for _, tc := range []struct {
		name, path string
		body       []byte
		header     map[string]string
		status     int
		code       string
	}{
		{"too large", "/v1/track", []byte(big), nil, 413, api.CodeTooLarge},
		{"bad utf8", "/v1/track", []byte("{\"event\":\"\xc3\x28\",\"userId\":\"u\"}"), nil, 400, "invalid_utf8"},
		{"bad gzip", "/v1/track", []byte("not gzip"), map[string]string{"Content-Encoding": "gzip"}, 400, api.CodeInvalid},
		{"brotli", "/v1/track", []byte("x"), map[string]string{"Content-Encoding": "br"}, 415, api.CodeInvalid},
		{"future", "/v1/track", []byte(`{"event":"x","userId":"u","timestamp":"2099-01-01T00:00:00Z"}`), nil, 400, "invalid"},
	} {
		rec := f.post(tc.path, writeKey, tc.body, tc.header)
		var e api.Error
		if rec.Code != tc.status || json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Code != tc.code {
			t.Errorf("%s: %d %.200s, want %d %s", tc.name, rec.Code, rec.Body, tc.status, tc.code)
		}
	}
}

func TestFullSpoolAnswers503WithRetryAfterAndKeepsNothingHalfWritten(t *testing.T) {
	f := newIngestFixture(t, 64<<10)
	var last *httptest.ResponseRecorder
	accepted := 0
	for i := 0; i < 1000; i++ {
		body := fmt.Sprintf(`{"event":"search","userId":"u%d","messageId":"full-%d","properties":{"keyword":"%s"}}`, i, i, strings.Repeat("米", 300))
		last = f.post("/v1/track", writeKey, []byte(body), nil)
		if last.Code != 200 {
			break
		}
		accepted++
	}
	if last.Code != 503 || last.Header().Get("Retry-After") == "" || accepted == 0 {
		t.Fatalf("after %d accepted: %d %s (Retry-After %q)", accepted, last.Code, last.Body, last.Header().Get("Retry-After"))
	}
	if got := int(f.sp.LastSeq()); got != accepted {
		t.Fatalf("spool holds %d records, %d were acknowledged", got, accepted)
	}
	refused := fmt.Sprintf(`{"event":"search","userId":"u%d","messageId":"full-%d","properties":{"keyword":"%s"}}`, accepted, accepted, strings.Repeat("米", 300))
	if rec := f.post("/v1/track", writeKey, []byte(refused), nil); rec.Code != 503 {
		t.Fatalf("same request while still full: %d", rec.Code)
	}
	// ClickHouse is back: the pipeline drains the spool, and the refused
	// message is new (it was not remembered as seen), stored once.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.pipe.Run(ctx) }()
	defer func() { cancel(); <-done }()
	f.sync()
	rec := f.post("/v1/track", writeKey, []byte(refused), nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"accepted":1`) {
		t.Fatalf("retry after recovery: %d %s", rec.Code, rec.Body)
	}
	f.sync()
	var n uint64
	f.db.Conn.QueryRow(context.Background(), "SELECT count() FROM "+f.db.Table("events")).Scan(&n)
	if n != uint64(accepted+1) {
		t.Fatalf("%d events stored, want the %d acknowledged", n, accepted+1)
	}
}

// wecomPost sends a callback encrypted exactly as WeCom does, stamped now
// with a nonce of its own.
func (f *ingestFixture) wecomPost(xml string, tamper bool) *httptest.ResponseRecorder {
	f.nonces++
	signed := f.wecomSign(xml, time.Now(), fmt.Sprintf("n%d", f.nonces))
	if tamper {
		signed.query.Set("msg_signature", strings.Repeat("0", 40))
	}
	return f.wecomSend(signed)
}

// signedCallback is a callback as WeCom sends it: query and body.
type signedCallback struct {
	query url.Values
	body  []byte
}

// wecomSign encrypts and signs xml for timestamp at and nonce.
func (f *ingestFixture) wecomSign(xml string, at time.Time, nonce string) signedCallback {
	ts := fmt.Sprint(at.Unix())
	body, sig, err := f.crypto.EncryptedXML([]byte(xml), weComAgent, ts, nonce)
	if err != nil {
		f.t.Fatal(err)
	}
	return signedCallback{query: url.Values{"msg_signature": {sig}, "timestamp": {ts}, "nonce": {nonce}}, body: body}
}

func (f *ingestFixture) wecomSend(cb signedCallback) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", "/wecom/callback?"+cb.query.Encode(), bytes.NewReader(cb.body))
	rec := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(rec, req)
	return rec
}

func TestWeComCallbackVerifiesDecryptsAndRecordsContact(t *testing.T) {
	f := newIngestFixture(t, 0)
	f.fake.AddContact(wecomtest.Contact{ExternalUserID: "wmEXT001", Name: "李女士", UnionID: "oUNION1", FollowUser: "zhangsan", State: "douyin_live_1111"})

	// URL verification.
	ts, nonce := "1700000000", "abc"
	enc, sig, _ := f.crypto.Encrypt([]byte("echo-1234"), ts, nonce)
	q := url.Values{"msg_signature": {sig}, "timestamp": {ts}, "nonce": {nonce}, "echostr": {enc}}
	rec := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/wecom/callback?"+q.Encode(), nil))
	if rec.Code != 200 || rec.Body.String() != "echo-1234" {
		t.Fatalf("verify: %d %q", rec.Code, rec.Body)
	}

	xml := `<xml><ToUserName><![CDATA[` + corpID + `]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>
<CreateTime>1732500000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event>
<ChangeType><![CDATA[add_external_contact]]></ChangeType><UserID><![CDATA[zhangsan]]></UserID>
<ExternalUserID><![CDATA[wmEXT001]]></ExternalUserID><State><![CDATA[douyin_live_1111]]></State><WelcomeCode><![CDATA[WC]]></WelcomeCode></xml>`
	if rec := f.wecomPost(xml, true); rec.Code != 401 {
		t.Fatalf("tampered signature: %d", rec.Code)
	}
	// WeCom retries callbacks it did not see answered: three deliveries.
	for range 3 {
		if rec := f.wecomPost(xml, false); rec.Code != 200 || rec.Body.String() != "success" {
			t.Fatalf("callback: %d %s", rec.Code, rec.Body)
		}
	}
	f.sync()
	var staff, state, name, union string
	var n uint64
	err := f.db.Conn.QueryRow(context.Background(), "SELECT any(staff_userid), any(state), any(name), any(unionid), count() FROM "+f.db.Table("wecom_contact_events")+" WHERE external_userid = 'wmEXT001'").
		Scan(&staff, &state, &name, &union, &n)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 || staff != "zhangsan" || state != "douyin_live_1111" || name != "李女士" || union != "oUNION1" {
		t.Fatalf("stored %d: %s %s %s %s", n, staff, state, name, union)
	}
	if f.fake.Calls("/cgi-bin/externalcontact/get") == 0 {
		t.Fatal("contact details were not fetched through the API")
	}
	// The profile and BI's person_traits agree on acquisition and owner.
	pr := f.profileOf("wecom_external_userid", "wmEXT001")
	var acq, owner string
	err = f.db.Conn.QueryRow(context.Background(), "SELECT acquisition_channel, owner_staff FROM "+f.db.Table("person_traits")+" WHERE person_id = ?", pr.PersonID).Scan(&acq, &owner)
	if err != nil || acq != "douyin_live_1111" || owner != "zhangsan" || pr.Computed.AcquisitionChannel != acq || pr.Computed.OwnerStaff != owner {
		t.Fatalf("person_traits %q %q (%v), profile %q %q", acq, owner, err, pr.Computed.AcquisitionChannel, pr.Computed.OwnerStaff)
	}
}

func TestWeComArchiveImportIsIdempotentAndHandlesRecall(t *testing.T) {
	f := newIngestFixture(t, 0)
	lines := strings.Join([]string{
		`{"msgid":"m1","action":"send","from":"wmEXT001","tolist":["zhangsan"],"roomid":"","msgtime":1732500000000,"msgtype":"text","text":{"content":"请问控糖大米怎么吃？"}}`,
		`{"msgid":"m2","action":"send","from":"zhangsan","tolist":["wmEXT001"],"roomid":"","msgtime":1732500060000,"msgtype":"text","text":{"content":"发错了"}}`,
		`{"msgid":"m3","action":"recall","from":"zhangsan","tolist":["wmEXT001"],"roomid":"","msgtime":1732500070000,"msgtype":"revoke","revoke":{"pre_msgid":"m2"}}`,
		`{"msgid":"","action":"send"}`,
	}, "\n")
	for round := 0; round < 2; round++ {
		rec := f.post("/v1/import/wecom-archive", writeKey, []byte(lines), nil)
		var res struct {
			Lines, Accepted, Duplicates int
			Rejected                    []ingest.Rejection
		}
		json.Unmarshal(rec.Body.Bytes(), &res)
		wantAcc, wantDup := 3, 0
		if round == 1 {
			wantAcc, wantDup = 0, 3
		}
		if rec.Code != 200 || res.Accepted != wantAcc || res.Duplicates != wantDup || len(res.Rejected) != 1 || res.Rejected[0].Index != 4 {
			t.Fatalf("round %d: %d %s", round, rec.Code, rec.Body)
		}
	}
	f.sync()
	var visible []string
	rows, err := f.db.Conn.Query(context.Background(), "SELECT msgid FROM "+f.db.Table("wecom_messages_visible")+" ORDER BY msgid")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		rows.Scan(&id)
		visible = append(visible, id)
	}
	if fmt.Sprint(visible) != "[m1]" {
		t.Fatalf("visible messages %v, want [m1] (m2 recalled)", visible)
	}
	var ext string
	f.db.Conn.QueryRow(context.Background(), "SELECT external_userid FROM "+f.db.Table("wecom_messages")+" WHERE msgid = 'm2'").Scan(&ext)
	if ext != "wmEXT001" {
		t.Fatalf("m2's customer %q", ext)
	}
}

func TestCSVExportImportWithMapping(t *testing.T) {
	f := newIngestFixture(t, 0)
	csv := "openid,video_topic,ratio,played_at\n" +
		"dy_1,控糖,0.95,2026-11-19T10:00:00Z\n" +
		"dy_2,减脂,0.40,2026-11-19T11:00:00Z\n" +
		"dy_3,宝宝辅食,0.7,not-a-time\n"
	mapping := url.QueryEscape(`{"openid":"id.douyin_openid","video_topic":"properties.topic","ratio":"properties.completion_ratio","played_at":"timestamp"}`)
	rec := f.post("/v1/import/events?format=csv&event=video_complete&mapping="+mapping, writeKey, []byte(csv), nil)
	var res struct {
		Lines, Accepted int
		Rejected        []ingest.Rejection
	}
	json.Unmarshal(rec.Body.Bytes(), &res)
	if rec.Code != 200 || res.Accepted != 2 || len(res.Rejected) != 1 || res.Rejected[0].Index != 4 || res.Rejected[0].Field != "timestamp" {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	f.sync()
	var n uint64
	f.db.Conn.QueryRow(context.Background(), "SELECT count() FROM "+f.db.Table("events")+" WHERE event = 'video_complete' AND topic = '控糖' AND completion > 0.9 AND has(id_values, 'dy_1')").Scan(&n)
	if n != 1 {
		t.Fatalf("stored %d", n)
	}
}

func TestOrderCSVImportGroupsLines(t *testing.T) {
	f := newIngestFixture(t, 0)
	csv := "渠道,订单号,状态,下单时间,金额,手机,SKU,品名,品类,数量,单价\n" +
		"pos,P-1,completed,2026-11-18T09:00:00+08:00,129.70,13700001234,LGI-2.5,低GI大米 2.5kg,低GI大米,2,39.90\n" +
		"pos,P-1,completed,2026-11-18T09:00:00+08:00,129.70,13700001234,HO-1.8,高油酸花生油 1.8L,高油酸花生油,1,49.90\n" +
		"pos,P-2,completed,2026-11-18T10:00:00+08:00,69.00,,WC-5,五常大米 5kg,五常大米,1,69.00\n"
	mapping := url.QueryEscape(`{"渠道":"channel","订单号":"order_id","状态":"status","下单时间":"ordered_at","金额":"amount","手机":"buyer.phone","SKU":"line.sku","品名":"line.product_name","品类":"line.category","数量":"line.quantity","单价":"line.unit_price"}`)
	rec := f.post("/v1/import/orders?format=csv&mapping="+mapping, writeKey, []byte(csv), nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"accepted":2`) {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	f.sync()
	var lines uint64
	f.db.Conn.QueryRow(context.Background(), "SELECT count() FROM "+f.db.Table("order_lines")+" FINAL WHERE order_id = 'P-1'").Scan(&lines)
	if lines != 2 {
		t.Fatalf("P-1 has %d lines, want 2", lines)
	}
}
