package api_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/granarycdp/cdp/ingest/wecom/wecomtest"
	"github.com/granarycdp/cdp/store/storetest"
)

// A mobile number in the forms people and SDKs write it.
type phoneForm func(n string) string

var (
	plain    phoneForm = func(n string) string { return n }
	spaced   phoneForm = func(n string) string { return n[:3] + " " + n[3:7] + " " + n[7:] }
	dashed   phoneForm = func(n string) string { return n[:3] + "-" + n[3:7] + "-" + n[7:] }
	dotted   phoneForm = func(n string) string { return n[:3] + "." + n[3:7] + "." + n[7:] }
	plus86   phoneForm = func(n string) string { return "+86 " + spaced(n) }
	intl     phoneForm = func(n string) string { return "0086" + n }
	wide     phoneForm = func(n string) string { return strings.Map(func(r rune) rune { return r - '0' + '０' }, n) }
	escaped  phoneForm = func(n string) string { return strings.NewReplacer(digitEscapes...).Replace(n) }
	urlPlus  phoneForm = func(n string) string { return "%2B86%20" + n[:3] + "%20" + n[3:7] + "%20" + n[7:] }
	spacedCN phoneForm = func(n string) string { return n[:3] + "\u3000" + n[3:7] + "\u3000" + n[7:] }
)

var digitEscapes = func() []string {
	var r []string
	for d := '0'; d <= '9'; d++ {
		r = append(r, string(d), fmt.Sprintf(`\u%04x`, d))
	}
	return r
}()

// phoneBook hands out a distinct mobile number per place, so a leak names
// the place it came from.
type phoneBook struct{ places map[string]string }

func (b *phoneBook) number(place string) string {
	k := len(b.places) + 1
	n := fmt.Sprintf("13%d%08d", 5+k%5, (k*2654435761+40503)%100_000_000)
	b.places[n] = place
	return n
}

// normalizeDigits undoes what may hide a number from a substring search:
// JSON digit escapes, full-width digits and every separator.
var separators = regexp.MustCompile(`[\s\x{3000}\x{00a0}\-－.．()（）+＋]|%2[0BbDdEe89]`)

func normalizeDigits(s string) string {
	s = regexp.MustCompile(`\\+u003([0-9])`).ReplaceAllString(s, "$1")
	s = strings.Map(func(r rune) rune {
		if r >= '０' && r <= '９' {
			return r - '０' + '0'
		}
		return r
	}, s)
	return separators.ReplaceAllString(s, "")
}

// leaks returns, per number of the book found, where it was found: in any
// column of any table of the test database, or in the spool's files.
func (f *ingestFixture) leaks(book *phoneBook) map[string][]string {
	f.t.Helper()
	ctx := context.Background()
	found := map[string][]string{}
	scan := func(where, text string) {
		text = normalizeDigits(text)
		for n, place := range book.places {
			if strings.Contains(text, n) {
				found[place] = append(found[place], where)
			}
		}
	}
	rows, err := f.db.Conn.Query(ctx, "SELECT name FROM system.tables WHERE database = ? AND engine NOT LIKE '%View%' ORDER BY name", f.db.Database)
	if err != nil {
		f.t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		rows.Scan(&name)
		tables = append(tables, name)
	}
	rows.Close()
	if len(tables) < 15 {
		f.t.Fatalf("only %d tables found", len(tables))
	}
	total := 0
	for _, table := range tables {
		rows, err := f.db.Conn.Query(ctx, "SELECT toString(tuple(*)) FROM "+f.db.Table(table))
		if err != nil {
			f.t.Fatalf("%s: %v", table, err)
		}
		for rows.Next() {
			var row string
			rows.Scan(&row)
			scan(table, row)
			total++
		}
		rows.Close()
	}
	spooled := 0
	err = filepath.WalkDir(f.spool, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		spooled += len(b)
		scan("spool "+filepath.Base(path), string(b))
		return err
	})
	if err != nil || total < 50 || spooled < 10_000 {
		f.t.Fatalf("scanned %d rows and %d spool bytes (%v): the scan saw too little to prove anything", total, spooled, err)
	}
	return found
}

func TestNoMobileNumberReachesStorageFromAnySDKField(t *testing.T) {
	f := newIngestFixture(t, 0)
	book := &phoneBook{places: map[string]string{}}
	num := func(place string, form phoneForm) string { return form(book.number(place)) }
	ts := `"timestamp":"2026-11-20T08:00:00Z"`
	msg := func(typ, id, rest string) string {
		return fmt.Sprintf(`{"type":%q,"messageId":%q,"userId":"pii-%s",%s,%s}`, typ, id, id, ts, rest)
	}
	// Every place a Segment or RudderStack SDK (analytics.js, the mobile
	// SDKs, rudder-sdk-js) can put a string, in every form.
	userID := num("userId", plain)
	batch := []string{
		fmt.Sprintf(`{"type":"track","messageId":"m1","userId":%q,"event":"e",%s}`, userID, ts),
		fmt.Sprintf(`{"type":"track","messageId":"m2","userId":%s,"event":"e",%s}`, book.number("userId as a JSON number"), ts),
		fmt.Sprintf(`{"type":"track","messageId":"m3","anonymousId":%q,"event":"e",%s}`, num("anonymousId", dashed), ts),
		fmt.Sprintf(`{"type":"track","messageId":%q,"userId":"pii-m4","event":"e",%s}`, num("messageId", plain), ts),
		msg("track", "m5", fmt.Sprintf(`"event":"called %s"`, num("event name", spaced))),
		msg("track", "m6", fmt.Sprintf(`"event":"e","properties":{"phone":%q,"mobile":%q,"tel":%s}`, num("properties.phone", plain), num("properties.mobile", plus86), book.number("properties.tel as a number"))),
		msg("track", "m7", fmt.Sprintf(`"event":"comment","properties":{"text":"加我 %s 谢谢","note":"电话%s。","wide":"%s"}`, num("properties.text", spaced), num("properties.note", dashed), num("properties full-width", wide))),
		msg("track", "m8", fmt.Sprintf(`"event":"e","properties":{"a":{"b":[{"c":%q}],"d":[%s]},%q:"key"}`, num("properties nested", dotted), book.number("properties array number"), num("properties key", plain))),
		msg("track", "m9", fmt.Sprintf(`"event":"e","properties":{"esc":"%s","json":"{\"tel\":\"%s\"}"}`, num("properties JSON escapes", escaped), num("properties JSON in a string", spaced))),
		msg("identify", "m10", fmt.Sprintf(`"traits":{"phone":%q,"mobile":%q,"address":{"note":"收件 %s"},"name":"王阿姨 %s"}`, num("traits.phone", plus86), num("traits.mobile", intl), num("traits nested", spaced), num("traits.name", plain))),
		fmt.Sprintf(`{"type":"identify","messageId":"m11","userId":"pii-m11",%s,"context":{"traits":{"phone":%q,"remark":"%s"}}}`, ts, num("context.traits.phone (identify)", spaced), num("context.traits other", spacedCN)),
		msg("track", "m12", fmt.Sprintf(`"event":"e","context":{"traits":{"phone":%q,"email":"a@b.cn"}}`, num("context.traits.phone (track)", dashed))),
		msg("track", "m13", fmt.Sprintf(`"event":"e","context":{"externalIds":[{"type":"phone","id":%q},{"type":"mobile","id":%q},{"type":"user_id","id":%q}]}`,
			num("context.externalIds phone", spaced), num("context.externalIds mobile", plus86), num("context.externalIds user_id", plain))),
		msg("track", "m14", fmt.Sprintf(`"event":"e","context":{"externalId":[{"id":%q,"type":"phone","identifierType":"phone"}]}`, num("context.externalId (RudderStack)", plain))),
		msg("page", "m15", fmt.Sprintf(`"name":"订单 %s","category":"c %s","properties":{"url":"https://shop.example.cn/o?phone=%s"},"context":{"page":{"url":"https://shop.example.cn/p?tel=%s&x=1","path":"/u/%s","search":"?mobile=%s","referrer":"https://ref.example.cn/?m=%s","title":"联系 %s"}}`,
			num("page name", plain), num("page category", plain), num("page properties.url", plain), num("context.page.url", plain), num("context.page.path", plain),
			num("context.page.search", dashed), num("context.page.referrer", urlPlus), num("context.page.title", spaced))),
		msg("screen", "m16", fmt.Sprintf(`"name":"screen %s","context":{"campaign":{"name":"c","source":"s","content":"回电 %s","term":%q},"device":{"id":%q,"advertisingId":"ad"},"app":{"name":"a %s"},"location":{"city":"沪 %s"},"userAgent":"UA %s","ip":"139.224.112.35"}`,
			num("screen name", plain), num("context.campaign.content", spaced), num("context.campaign.term", plain), num("context.device.id", plain), num("context.app", plain), num("context.location", plain), num("context.userAgent", plain))),
		msg("group", "m17", fmt.Sprintf(`"groupId":%q,"traits":{"phone":%q,"name":"店 %s"}`, num("groupId", plain), num("group traits.phone", spaced), num("group traits.name", plain))),
		fmt.Sprintf(`{"type":"alias","messageId":"m18","userId":"pii-m18","previousId":%q,%s}`, num("previousId", plain), ts),
		msg("track", "m19", fmt.Sprintf(`"event":"e","integrations":{"All":true,"Sensors":{"phone":%q}},"options":{"x":%q}`, num("integrations", plain), num("options", plain))),
		// Refused records: their dead letters and the answer quote them.
		msg("identify", "bad1", fmt.Sprintf(`"traits":{"phone":"%s / %s"}`, num("refused traits.phone (a)", plain), num("refused traits.phone (b)", plain))),
		msg("track", "bad2", fmt.Sprintf(`"event":"e","context":{"externalIds":[{"type":"qq","id":%q}]}`, num("refused externalIds", spaced))),
		fmt.Sprintf(`{"type":"track","messageId":"bad3","userId":"pii-bad3","event":"e","timestamp":%q}`, num("refused timestamp", plain)),
		fmt.Sprintf(`{"type":"track","messageId":"bad4","userId":{"tel":%q},"event":"e"}`, num("refused userId object", plain)),
		fmt.Sprintf(`{"type":"track","messageId":"bad5","userId":"pii-bad5","event":"e","properties":{"t":"%s","x":"%s"},"timestamp":"bad"}`, num("refused, escaped", escaped), num("refused, full-width", wide)),
	}
	var answers []string
	post := func(path, body string) {
		rec := f.post(path, writeKey, []byte(body), nil)
		answers = append(answers, path+" "+rec.Body.String())
	}
	post("/v1/batch", `{"batch":[`+strings.Join(batch, ",")+`]}`)
	// A batch-level context applies to messages without one.
	post("/v1/batch", fmt.Sprintf(`{"batch":[{"type":"track","messageId":"b1","userId":"pii-b1","event":"e",%s}],"context":{"traits":{"phone":%q},"page":{"url":"/?p=%s"}}}`,
		ts, num("batch context.traits.phone", spaced), num("batch context.page.url", plain)))
	// Single-message endpoints; refused ones answer 400 and are dead-lettered.
	post("/v1/identify", fmt.Sprintf(`{"messageId":"s1","userId":"pii-s1",%s,"traits":{"phone":%q}}`, ts, num("/v1/identify traits.phone", dashed)))
	post("/v1/track", fmt.Sprintf(`{"messageId":"s2","userId":"pii-s2","event":"e",%s,"traits":{"phone":"%s/%s"}}`, ts, num("refused /v1/track (a)", plain), num("refused /v1/track (b)", plain)))
	post("/v1/page", fmt.Sprintf(`{"messageId":"s3","userId":"pii-s3",%s,"context":{"externalIds":[{"type":"phone","id":"%s x"}]}}`, ts, num("refused /v1/page externalIds", spaced)))
	// Orders, order files and event files.
	post("/v1/orders", fmt.Sprintf(`{"channel":"phone","order_id":%q,"status":"paid","ordered_at":"2026-11-01T10:00:00+08:00","amount":"59","city":"沪 %s","store_id":%q,"leader_id":"团长 %s",
		"buyer":{"phone":%q,"user_id":%q},"identifiers":[{"type":"phone","value":%q},{"type":"member_no","value":%q}],
		"lines":[{"sku":"S %s","product_name":"大米 %s","category":"米","quantity":1,"unit_price":"59"}]}`,
		num("order_id", plain), num("order city", plain), num("order store_id", plain), num("order leader_id", spaced), num("order buyer.phone", plus86), num("order buyer.user_id", plain),
		num("order identifiers phone", dashed), num("order identifiers member_no", plain), num("order line sku", plain), num("order line product_name", spaced)))
	post("/v1/orders", fmt.Sprintf(`{"channel":"phone","order_id":"O-bad","status":"paid","ordered_at":"2026-11-01T10:00:00+08:00","amount":"59","buyer":{"phone":"%s?"}}`, num("refused order buyer.phone", plain)))
	post("/v1/orders", fmt.Sprintf(`{"channel":"phone","order_id":"O-bad2","status":"paid","ordered_at":"2026-11-01T10:00:00+08:00","amount":"59",%q:"x"}`, num("refused order unknown field", plain)))
	post("/v1/orders", fmt.Sprintf(`{"channel":"phone","order_id":"O-bad3","status":"paid","ordered_at":"2026-11-01T10:00:00+08:00","amount":"59","currency":%q}`, num("refused order currency", plain)))
	csv := "messageId,userId,phone,note\nc1,pii-c1," + num("import csv phone column", spaced) + ",备注 " + num("import csv note", plain) + "\n"
	post("/v1/import/events?format=csv&event=imported&mapping="+url.QueryEscape(`{"phone":"traits.phone"}`), csv)
	post("/v1/import/events", fmt.Sprintf(`{"messageId":"j1","userId":"pii-j1","event":"e","properties":{"p":%q}}`+"\n"+`{"messageId":"j2","userId":%q}`, num("import jsonl property", dashed), num("refused import jsonl userId", plain)))
	// WeCom: chat text and contact details.
	chat := fmt.Sprintf(`{"msgid":"w1","action":"send","from":"wmPII","tolist":["zhangsan"],"roomid":"","msgtime":1732500000000,"msgtype":"text","text":{"content":"我的电话是 %s，晚上打"}}`, num("WeCom chat content", spaced)) + "\n" +
		fmt.Sprintf(`{"msgid":"w2","action":"send","from":"zhangsan","tolist":["wmPII"],"roomid":"","msgtime":1732500060000,"msgtype":"text","text":{"content":"好的 %s"}}`, num("WeCom staff reply", plain)) + "\n" +
		fmt.Sprintf(`{"msgid":"w3","action":"send","from":"wmPII","tolist":["zhangsan"],"roomid":"","msgtime":1732500070000,"msgtype":"text","text":{"content":"%s"}}`, num("WeCom chat escaped", escaped)) + "\n" +
		fmt.Sprintf(`{"msgid":"w4","action":"send","from":"wmPII","tolist":["zhangsan"],"roomid":"","msgtime":1732500080000,"msgtype":%q}`, num("refused WeCom msgtype", plain)) + "\n" +
		fmt.Sprintf(`{"msgid":"","action":"send","text":{"content":"%s"}}`, num("refused WeCom archive line", plain))
	post("/v1/import/wecom-archive", chat)
	f.fake.AddContact(wecomtest.Contact{ExternalUserID: "wmPII", Name: "李女士 " + num("WeCom contact name", plain), UnionID: "oPII", FollowUser: "zhangsan", State: num("WeCom contact state", plain)})
	xml := `<xml><ToUserName><![CDATA[` + corpID + `]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>
<CreateTime>1732500000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event>
<ChangeType><![CDATA[add_external_contact]]></ChangeType><UserID><![CDATA[zhangsan]]></UserID>
<ExternalUserID><![CDATA[wmPII]]></ExternalUserID><WelcomeCode><![CDATA[WC]]></WelcomeCode></xml>`
	if rec := f.wecomPost(xml, false); rec.Code != 200 {
		t.Fatalf("callback: %d %s", rec.Code, rec.Body)
	}
	f.sync()

	var events, dead uint64
	f.db.Conn.QueryRow(context.Background(), "SELECT count() FROM "+f.db.Table("events")).Scan(&events)
	f.db.Conn.QueryRow(context.Background(), "SELECT count() FROM "+f.db.Table("ingest_dead_letters")).Scan(&dead)
	if events < 20 || dead < 10 {
		t.Fatalf("%d events and %d dead letters stored: the attack did not get in far enough to prove anything", events, dead)
	}
	leaks := f.leaks(book)
	for _, a := range answers {
		for n, place := range book.places {
			if strings.Contains(normalizeDigits(a), n) {
				leaks[place] = append(leaks[place], "the HTTP answer")
			}
		}
	}
	var places []string
	for p := range leaks {
		places = append(places, p)
	}
	sort.Strings(places)
	for _, p := range places {
		t.Errorf("a mobile number sent in %s is stored or answered in clear: %s", p, strings.Join(dedupe(leaks[p]), ", "))
	}
	// An id made of a phone number still finds its person.
	if pr := f.profileOf("user_id", userID); len(pr.Timeline) != 1 {
		t.Fatalf("user_id lookup by the number: %+v", pr)
	}
	// The numbers are kept where they belong: hashed, masked and encrypted
	// in the vault, and tokens name them.
	var vault, tokens uint64
	f.db.Conn.QueryRow(context.Background(), "SELECT count() FROM "+f.db.Table("pii_vault")).Scan(&vault)
	f.db.Conn.QueryRow(context.Background(), "SELECT count() FROM "+f.db.Table("events")+" WHERE position(context, '[phone ') > 0").Scan(&tokens)
	if vault < 20 || tokens == 0 {
		t.Fatalf("%d numbers in the vault, %d events with a phone token", vault, tokens)
	}
}

func dedupe(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// holding returns the tables (of the test database, or of system, or of
// any database for system tables) where a needle occurs in any column.
// Needles travel base64-encoded so that the scanning queries themselves
// (system.processes, query logs) do not hold them.
func (f *ingestFixture) holding(database string, needles []string) []string {
	f.t.Helper()
	ctx := context.Background()
	q := "SELECT name FROM system.tables WHERE database = ? AND engine NOT LIKE '%View%'"
	if database == "system" {
		// The engine's own records: mutations, running queries, errors and
		// every log table it keeps (query, thread, text, part logs on a
		// server; the embedded engine keeps none).
		q += " AND (name LIKE '%log%' OR name IN ('mutations', 'processes', 'errors', 'replication_queue', 'distribution_queue'))"
	}
	rows, err := f.db.Conn.Query(ctx, q, database)
	if err != nil {
		f.t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		rows.Scan(&name)
		tables = append(tables, name)
	}
	rows.Close()
	var out []string
	for _, table := range tables {
		for _, n := range needles {
			var c uint64
			err := f.db.Conn.QueryRow(ctx, "SELECT count() FROM `"+database+"`.`"+table+"` WHERE positionUTF8(toString(tuple(*)), base64Decode(?)) > 0",
				base64.StdEncoding.EncodeToString([]byte(n))).Scan(&c)
			if err != nil {
				f.t.Fatalf("%s.%s: %v", database, table, err)
			}
			if c != 0 {
				out = append(out, fmt.Sprintf("%s.%s holds %q (%d rows)", database, table, n, c))
			}
		}
	}
	return out
}

func TestErasureLeavesNoIdentifierInSystemTables(t *testing.T) {
	f := newIngestFixture(t, 0)
	dataDir := storetest.DataDir(t)
	// Two persons wrongly merged, unmerged, then the second one erased:
	// both the unmerge and the erasure run mutations naming its
	// identifiers.
	f.ingestAll([]string{
		track("a1", "video_play", map[string]string{"member_no": "M-SYS-KEEP"}, `{"topic":"减脂"}`),
		track("b1", "video_play", map[string]string{"unionid": "oERASE-union-7f3", "douyin_openid": "dy-erase-sys", "phone": "13655550077"}, `{"topic":"控糖"}`),
		track("bad", "like", map[string]string{"member_no": "M-SYS-KEEP", "unionid": "oERASE-union-7f3"}, `{}`),
		track("b2", "search", map[string]string{"unionid": "oERASE-union-7f3", "wecom_external_userid": "wmERASESYS", "user_id": "erase-sys-user"}, `{"keyword":"低GI"}`),
	}, nil)
	chat := `{"msgid":"sys-m1","action":"send","from":"wmERASESYS","tolist":["staff1"],"roomid":"","msgtime":1732500000000,"msgtype":"text","text":{"content":"想了解控糖"}}`
	if rec := f.post("/v1/import/wecom-archive", writeKey, []byte(chat), nil); rec.Code != 200 {
		t.Fatalf("chat: %d %s", rec.Code, rec.Body)
	}
	// Refused records of the person, one naming them only by their phone:
	// their dead letters must go too.
	f.post("/v1/batch", writeKey, []byte(`{"batch":[{"type":"identify","messageId":"sys-bad","userId":"erase-sys-user","traits":{"phone":"13655550077 / 1"}},`+
		`{"type":"identify","messageId":"sys-bad2","traits":{"phone":"136 5555 0077 / 2"}}]}`), nil)
	f.sync()
	needles := []string{"oERASE-union-7f3", "dy-erase-sys", "wmERASESYS", "erase-sys-user", f.prot.Hash("+8613655550077")}
	var before uint64
	f.db.Conn.QueryRow(context.Background(), "SELECT count() FROM "+f.db.Table("ingest_dead_letters")+" WHERE position(payload, base64Decode(?)) > 0", base64.StdEncoding.EncodeToString([]byte(needles[4]))).Scan(&before)
	if before != 2 {
		t.Fatalf("%d dead letters hold the phone's hash, want 2", before)
	}
	merged := f.profileOf("member_no", "M-SYS-KEEP")
	if len(merged.Merges) != 1 {
		t.Fatalf("merges %+v", merged.Merges)
	}
	if rec := f.do("POST", fmt.Sprintf("/api/v1/merges/%d/unmerge", merged.Merges[0].ID), adminToken, nil, nil); rec.Code != 200 {
		t.Fatalf("unmerge: %d %s", rec.Code, rec.Body)
	}
	b := f.profileOf("unionid", "oERASE-union-7f3")
	if b.PersonID == merged.PersonID {
		t.Fatal("unmerge did not split the person")
	}
	if rec := f.do("DELETE", fmt.Sprintf("/api/v1/profiles/%d", b.PersonID), adminToken, nil, nil); rec.Code != 200 {
		t.Fatalf("erase: %d %s", rec.Code, rec.Body)
	}
	f.db.Conn.Exec(context.Background(), "SYSTEM FLUSH LOGS") // where the engine keeps logs; none on the embedded one

	found := f.holding(f.db.Database, needles)
	found = append(found, f.holding("system", needles)...)
	// On disk: each mutation's text (mutation_N.txt beside the table's
	// parts) and each table's metadata (.sql).
	var files int
	err := filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // parts come and go while the engine works
		}
		name := d.Name()
		if d.IsDir() || !(strings.HasPrefix(name, "mutation_") && strings.HasSuffix(name, ".txt") || strings.HasSuffix(name, ".sql")) {
			return nil
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		files++
		for _, n := range needles {
			if strings.Contains(string(raw), n) {
				found = append(found, fmt.Sprintf("file %s holds %q", strings.TrimPrefix(path, dataDir), n))
			}
		}
		return nil
	})
	if err != nil || files < 20 {
		t.Fatalf("scanned %d engine files (%v)", files, err)
	}
	var mutations uint64
	f.db.Conn.QueryRow(context.Background(), "SELECT count() FROM system.mutations WHERE database = ?", f.db.Database).Scan(&mutations)
	if mutations < 10 {
		t.Fatalf("%d mutations recorded: the erasure did not run as expected", mutations)
	}
	for _, s := range found {
		t.Error(s)
	}
	// The person kept is intact.
	if a := f.profileOf("member_no", "M-SYS-KEEP"); a.PersonID != merged.PersonID || len(a.Timeline) == 0 {
		t.Fatalf("the other person after erasure: %+v", a)
	}
}
