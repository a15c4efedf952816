package api_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/granarycdp/cdp/campaigns"
	"github.com/granarycdp/cdp/demand"
	"github.com/granarycdp/cdp/identity"
	"github.com/granarycdp/cdp/ingest/wecom/wecomtest"
	"github.com/granarycdp/cdp/journeys"
	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/segments"
	"github.com/granarycdp/cdp/store/storetest"
)

// biCities: tiers 1 to 4 and a city outside the tier table.
var biCities = []string{"上海", "杭州", "合肥", "洛阳", "拉萨"}

// biTrack is track() at a given time.
func biTrack(id, event string, ext map[string]string, props string, at time.Time) string {
	return strings.Replace(track(id, event, ext, props), `"timestamp":"2026-11-20T08:00:00Z"`, `"timestamp":"`+at.UTC().Format(time.RFC3339)+`"`, 1)
}

// biPopulation ingests twelve members (M01..M12) across five cities, each
// with a 5 kg rice order of 345 yuan 40 days ago; M01 also has a refunded
// order, M02 a phone (in an identify, an order and a search typed with the
// number), M03 a Douyin identity that joins it only later (a merge), M04
// and M05 completed 控糖 videos, M06 a WeCom contact through a State-tagged
// QR code, M07 bought oil 45 days ago (due again this week).
func (f *ingestFixture) biPopulation() []string {
	f.t.Helper()
	now := time.Now()
	ago := func(days int) string { return now.AddDate(0, 0, -days).Format(time.RFC3339) }
	order := func(id, buyer, city, status, extra, at, line string) string {
		return fmt.Sprintf(`{"channel":"tmall","order_id":%q,"status":%q,"ordered_at":%q,"amount":"345.00","city":%q,
			"buyer":{"member_no":%q%s},"lines":[%s]}`, id, status, at, city, buyer, extra, line)
	}
	rice := `{"sku":"WC-5KG","product_name":"五常大米 5kg","category":"五常大米","quantity":5,"unit_price":"69.00"}`
	oil := `{"sku":"HOPO-5L","product_name":"高油酸花生油 5L","category":"高油酸花生油","quantity":1,"unit_price":"169.90"}`
	var members, orders []string
	for i := 1; i <= 12; i++ {
		m := fmt.Sprintf("M%02d", i)
		members = append(members, m)
		extra := ""
		if m == "M02" {
			extra = `,"phone":"13812340002"`
		}
		orders = append(orders, order("T-"+m, m, biCities[i%len(biCities)], "completed", extra, ago(40), rice))
	}
	orders = append(orders, order("T-M01-R", "M01", "上海", "refunded", "", ago(39), rice), order("T-M07-OIL", "M07", "合肥", "completed", "", ago(45), oil))
	f.ingestAll([]string{
		`{"type":"identify","messageId":"i2","userId":"m-2","traits":{"phone":"13812340002","name":"王阿姨"},"context":{"externalIds":[{"type":"member_no","id":"M02"}]}}`,
		biTrack("s2", "search", map[string]string{"member_no": "M02"}, `{"keyword":"13812340002 低GI大米"}`, now.Add(-time.Hour)),
		biTrack("d3", "video_play", map[string]string{"douyin_openid": "dy3"}, `{"topic":"低GI"}`, now.Add(-2*time.Hour)),
		biTrack("v4", "video_complete", map[string]string{"member_no": "M04"}, `{"topic":"控糖","completion_ratio":1}`, now.Add(-3*time.Hour)),
		biTrack("v5", "video_complete", map[string]string{"member_no": "M05"}, `{"topic":"控糖","completion_ratio":1}`, now.Add(-4*time.Hour)),
		biTrack("w6", "like", map[string]string{"member_no": "M06", "wecom_external_userid": "wmM06"}, `{}`, now.Add(-5*time.Hour)),
	}, orders)
	// The Douyin viewer turns out to be M03: two persons become one.
	f.ingestAll([]string{biTrack("j3", "video_complete", map[string]string{"douyin_openid": "dy3", "member_no": "M03"}, `{"topic":"低GI","completion_ratio":1}`, now.Add(-time.Minute))}, nil)
	f.fake.AddContact(wecomtest.Contact{ExternalUserID: "wmM06", Name: "李女士", UnionID: "oUNION6", FollowUser: "zhangsan", State: "douyin_live_1111"})
	xml := `<xml><ToUserName><![CDATA[` + corpID + `]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>
<CreateTime>` + fmt.Sprint(now.Unix()) + `</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event>
<ChangeType><![CDATA[add_external_contact]]></ChangeType><UserID><![CDATA[zhangsan]]></UserID>
<ExternalUserID><![CDATA[wmM06]]></ExternalUserID><State><![CDATA[douyin_live_1111]]></State><WelcomeCode><![CDATA[WC]]></WelcomeCode></xml>`
	if rec := f.wecomPost(xml, false); rec.Code != 200 {
		f.t.Fatalf("callback: %d %s", rec.Code, rec.Body)
	}
	f.sync()
	return members
}

// biConn signs in as the test engine's BI user over one protocol, with the
// fixture's BI database as the default.
func biConn(t *testing.T, protocol clickhouse.Protocol, database string) driver.Conn {
	t.Helper()
	native, http := storetest.BIAddrs(t)
	addr := native
	if protocol == clickhouse.HTTP {
		addr = http
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, Protocol: protocol, DialTimeout: 10 * time.Second,
		Auth: clickhouse.Auth{Username: storetest.BIUser, Password: storetest.BIPassword, Database: database}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// queryStrings runs a query and returns each row as text, whatever its types.
func queryStrings(ctx context.Context, conn driver.Conn, query string) ([]string, error) {
	rows, err := conn.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var vals []any
		for _, ct := range rows.ColumnTypes() {
			vals = append(vals, reflect.New(ct.ScanType()).Interface())
		}
		if err := rows.Scan(vals...); err != nil {
			return nil, err
		}
		var cells []string
		for _, v := range vals {
			e := reflect.ValueOf(v).Elem()
			for e.Kind() == reflect.Pointer && !e.IsNil() {
				e = e.Elem() // Nullable
			}
			if e.Kind() == reflect.Pointer {
				cells = append(cells, "NULL")
				continue
			}
			cells = append(cells, fmt.Sprint(e.Interface()))
		}
		out = append(out, strings.Join(cells, "\t"))
	}
	return out, rows.Err()
}

// docSQL returns the ```sql blocks of a section of docs/bi.md (from its
// heading to the next heading of the same level).
func docSQL(t *testing.T, heading string) []string {
	t.Helper()
	raw, err := os.ReadFile("../docs/bi.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	start := strings.Index(doc, "\n"+heading+"\n")
	if start < 0 {
		t.Fatalf("docs/bi.md has no %q", heading)
	}
	section := doc[start+len(heading)+2:]
	level := heading[:strings.Index(heading, " ")+1]
	if end := strings.Index(section, "\n"+level); end >= 0 {
		section = section[:end]
	}
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(section, -1) {
		blocks = append(blocks, strings.TrimSpace(m[1]))
	}
	return blocks
}

// TestBIViewsAgreeWithTheAPIAndKeepPersonalDataOut loads customers through
// the ingest API, makes a segment and runs a campaign with a holdout
// through the management API, then signs in as the read-only BI user over
// HTTP and the native protocol: every example query of docs/bi.md runs on
// both with the same answer, the views' numbers are the API's, phones
// appear only masked, and nothing but SELECT on the BI views is allowed.
func TestBIViewsAgreeWithTheAPIAndKeepPersonalDataOut(t *testing.T) {
	f := newIngestFixture(t, 0)
	members := f.biPopulation()
	ctx := context.Background()
	biDB := schema.BIDatabase(f.db.Database)

	var seg segments.Definition
	if rec := f.do("POST", "/api/v1/segments", adminToken, map[string]any{"name": "高价值", "rule": `ltv > 300`}, &seg); rec.Code != 201 {
		t.Fatalf("segment: %d %s", rec.Code, rec.Body)
	}
	var offer campaigns.Offer
	f.do("POST", "/api/v1/offers", adminToken, map[string]any{"name": "低GI大米试用装", "categories": []string{"低GI大米"}}, &offer)
	var camp campaigns.Campaign
	body := map[string]any{"name": "低GI试用装", "offer_id": offer.ID, "segment_id": seg.ID, "channel": "outbox", "template": "{{name}}您好", "holdout_percent": 50}
	if rec := f.do("POST", "/api/v1/campaigns", adminToken, body, &camp); rec.Code != 200 {
		t.Fatalf("campaign: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do("POST", "/api/v1/campaigns/"+camp.ID+"/launch", adminToken, nil, nil); rec.Code != 200 {
		t.Fatalf("launch: %d %s", rec.Code, rec.Body)
	}
	// Half the members buy the trial pack and a 5 kg bag after the send; M01
	// cancels.
	var after []string
	for i, m := range members[:6] {
		status := "completed"
		if m == "M01" {
			status = "cancelled"
		}
		after = append(after, fmt.Sprintf(`{"channel":"pos","order_id":"P-%s","status":%q,"ordered_at":%q,"amount":"88.90","city":%q,"buyer":{"member_no":%q},
			"lines":[{"sku":"LGI-0.5-TRIAL","product_name":"低GI大米试用装 500g","category":"低GI大米","quantity":1,"unit_price":"19.90"},
			         {"sku":"WC-5KG","product_name":"五常大米 5kg","category":"五常大米","quantity":1,"unit_price":"69.00"}]}`,
			m, status, time.Now().Add(time.Second).Format(time.RFC3339), biCities[(i+1)%len(biCities)], m))
	}
	f.ingestAll(nil, after)

	// The segment's members go through a journey: a send, then out.
	jdef := map[string]any{"name": "高价值关怀", "entry": map[string]any{"type": "segment", "segment_id": seg.ID, "include_current": true, "next": "hello"},
		"nodes": []map[string]any{
			{"id": "hello", "type": "send", "next": "out", "send": map[string]any{"channel": "outbox", "offer_id": offer.ID, "template": "{{name}}您好"}},
			{"id": "out", "type": "exit"}},
		"settings": map[string]any{"holdout_percent": 20, "goal_offer_id": offer.ID}}
	var jrn journeys.Journey
	if rec := f.do("POST", "/api/v1/journeys", adminToken, jdef, &jrn); rec.Code != 201 {
		t.Fatalf("journey: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do("POST", "/api/v1/journeys/"+jrn.ID+"/launch", adminToken, nil, nil); rec.Code != 200 {
		t.Fatalf("launch the journey: %d %s", rec.Code, rec.Body)
	}
	for range 3 {
		if err := f.jrn.Round(ctx); err != nil {
			t.Fatal(err)
		}
	}
	native := biConn(t, clickhouse.Native, biDB)
	http := biConn(t, clickhouse.HTTP, biDB)
	for name, conn := range map[string]driver.Conn{"native": native, "http": http} {
		var user string
		var readonly string
		if err := conn.QueryRow(ctx, "SELECT currentUser(), toString(getSetting('readonly'))").Scan(&user, &readonly); err != nil || user != storetest.BIUser || readonly != "1" {
			t.Fatalf("%s: signed in as %q readonly %q (%v)", name, user, readonly, err)
		}
	}

	t.Run("example queries of docs/bi.md", func(t *testing.T) {
		queries := docSQL(t, "## Ten example questions")
		if len(queries) != 10 {
			t.Fatalf("docs/bi.md has %d example queries, want ten", len(queries))
		}
		nonEmpty := 0
		for i, q := range queries {
			q = strings.ReplaceAll(q, "bi_cdp.", "`"+biDB+"`.")
			got, err := queryStrings(ctx, native, q)
			if err != nil {
				t.Fatalf("query %d over the native protocol: %v\n%s", i+1, err, q)
			}
			viaHTTP, err := queryStrings(ctx, http, q)
			if err != nil {
				t.Fatalf("query %d over HTTP: %v\n%s", i+1, err, q)
			}
			if !slices.Equal(got, viaHTTP) {
				t.Errorf("query %d answers differently:\nnative %q\nHTTP   %q", i+1, got, viaHTTP)
			}
			if len(got) > 0 {
				nonEmpty++
			}
			t.Logf("query %d: %d rows; first %q", i+1, len(got), append(got, "")[0])
		}
		if nonEmpty != len(queries) {
			t.Errorf("only %d of ten example queries found rows", nonEmpty)
		}
	})

	t.Run("persons are the API's profiles", func(t *testing.T) {
		profiles := map[uint32]*identity.Profile{}
		for _, m := range members {
			pr := f.profileOf("member_no", m)
			profiles[pr.PersonID] = pr
		}
		if len(profiles) != len(members) {
			t.Fatalf("%d profiles for %d members", len(profiles), len(members))
		}
		rows, err := native.Query(ctx, "SELECT person_id, merged_ids, orders, lifetime_value, rfm, city, city_tier, phone_masked FROM persons ORDER BY person_id")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		tiers := segments.DefaultCityTiers()
		var seen int
		var ltvSum float64
		var customers int
		for rows.Next() {
			var id, merged uint32
			var orders uint64
			var ltv float64
			var rfm, city, phone string
			var tier uint8
			if err := rows.Scan(&id, &merged, &orders, &ltv, &rfm, &city, &tier, &phone); err != nil {
				t.Fatal(err)
			}
			seen++
			pr, ok := profiles[id]
			if !ok {
				t.Errorf("BI person %d is no member's profile", id)
				continue
			}
			c := pr.Computed
			if int(orders) != c.Orders || math.Abs(ltv-c.LifetimeValue) > 1e-9 || rfm != c.RFM.Score || int(merged) != len(pr.Persons) || int(tier) != tiers[city] {
				t.Errorf("person %d: BI orders %d ltv %v rfm %s merged %d tier %d (%s); profile %d %v %s %d, tier %d",
					id, orders, ltv, rfm, merged, tier, city, c.Orders, c.LifetimeValue, c.RFM.Score, len(pr.Persons), tiers[city])
			}
			wantPhone := ""
			for _, idf := range pr.Identifiers {
				if idf.Type == "phone" {
					wantPhone = idf.Value
				}
			}
			if phone != wantPhone {
				t.Errorf("person %d: phone %q, profile shows %q", id, phone, wantPhone)
			}
			if orders > 0 {
				customers++
				ltvSum += ltv
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if seen != len(profiles) {
			t.Errorf("%d BI persons, %d profiles", seen, len(profiles))
		}
		m3 := f.profileOf("member_no", "M03")
		if len(m3.Persons) != 2 {
			t.Errorf("M03 merged %v, want two person ids", m3.Persons)
		}
		if f.profileOf("member_no", "M02").Identifiers == nil {
			t.Error("M02 has no identifiers")
		}
		var avgLTV float64
		if err := http.QueryRow(ctx, "SELECT average_ltv FROM kpi_daily ORDER BY date DESC LIMIT 1").Scan(&avgLTV); err != nil {
			t.Fatal(err)
		}
		if want := math.Round(ltvSum/float64(customers)*100) / 100; avgLTV != want {
			t.Errorf("kpi_daily average_ltv %v, profiles give %v", avgLTV, want)
		}
	})

	t.Run("segment members are the API's", func(t *testing.T) {
		var got segments.Definition
		f.do("GET", "/api/v1/segments/"+seg.ID, adminToken, nil, &got)
		var apiMembers struct {
			Total uint64
			Items []uint32
		}
		f.do("GET", "/api/v1/segments/"+seg.ID+"/members", adminToken, nil, &apiMembers)
		var size uint64
		if err := http.QueryRow(ctx, "SELECT size FROM segments WHERE segment_id = ?", seg.ID).Scan(&size); err != nil {
			t.Fatal(err)
		}
		var ids []uint32
		rows, err := native.Query(ctx, "SELECT person_id FROM segment_members WHERE segment_id = ? ORDER BY person_id", seg.ID)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id uint32
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if got.Size == 0 || size != got.Size || apiMembers.Total != got.Size || !slices.Equal(ids, apiMembers.Items) {
			t.Errorf("segment size: API %d (members %v), BI %d (members %v)", got.Size, apiMembers.Items, size, ids)
		}
	})

	t.Run("campaign results are the API's", func(t *testing.T) {
		var u campaigns.Uplift
		if rec := f.do("GET", "/api/v1/campaigns/"+camp.ID+"/results", adminToken, nil, &u); rec.Code != 200 {
			t.Fatalf("results: %d %s", rec.Code, rec.Body)
		}
		var tp, tc, hp, hc uint64
		var tr, trev, hr, hrev, uplift float64
		err := native.QueryRow(ctx, `SELECT treatment_persons, treatment_converted, treatment_rate, treatment_revenue,
			holdout_persons, holdout_converted, holdout_rate, holdout_revenue, uplift FROM campaign_results WHERE campaign_id = ?`, camp.ID).
			Scan(&tp, &tc, &tr, &trev, &hp, &hc, &hr, &hrev, &uplift)
		if err != nil {
			t.Fatal(err)
		}
		near := func(a, b float64) bool { return math.Abs(a-b) < 1e-6 }
		if int(tp) != u.Treatment.Persons || int(tc) != u.Treatment.Converted || !near(tr, u.Treatment.Rate) || !near(trev, u.Treatment.Revenue) ||
			int(hp) != u.Holdout.Persons || int(hc) != u.Holdout.Converted || !near(hr, u.Holdout.Rate) || !near(hrev, u.Holdout.Revenue) ||
			!near(uplift, u.Absolute) {
			t.Errorf("BI treatment %d/%d %v %v holdout %d/%d %v %v uplift %v; API %+v", tp, tc, tr, trev, hp, hc, hr, hrev, uplift, u)
		}
		// Both arms have persons and someone converted, so the comparison is
		// not of zeros. (The split hashes the campaign id: an empty arm has
		// a chance of 2 in 4,096.)
		if u.Treatment.Persons == 0 || u.Holdout.Persons == 0 || u.Treatment.Converted+u.Holdout.Converted == 0 {
			t.Errorf("weak fixture: %+v", u)
		}
	})

	t.Run("journey runs and steps are the API's", func(t *testing.T) {
		var res journeys.Results
		if rec := f.do("GET", "/api/v1/journeys/"+jrn.ID+"/results", adminToken, nil, &res); rec.Code != 200 {
			t.Fatalf("results: %d %s", rec.Code, rec.Body)
		}
		var runs, done, holdout, sent uint64
		if err := native.QueryRow(ctx, "SELECT count(), countIf(state = 'done'), countIf(group = 'holdout') FROM journey_runs WHERE journey_id = ?", jrn.ID).Scan(&runs, &done, &holdout); err != nil {
			t.Fatal(err)
		}
		if err := native.QueryRow(ctx, "SELECT count() FROM journey_steps WHERE journey_id = ? AND node = 'hello' AND type = 'send'", jrn.ID).Scan(&sent); err != nil {
			t.Fatal(err)
		}
		var hello int
		if n := res.Nodes["hello"]; n != nil {
			for _, c := range n.Outcomes {
				hello += c
			}
		}
		if runs == 0 || int(runs) != res.Entered || int(runs-done) != res.Active || int(holdout) != res.Exited["holdout"] || int(sent) != hello {
			t.Errorf("BI: %d runs, %d done, %d holdout, %d send steps; API: %+v, send node %d", runs, done, holdout, sent, res, hello)
		}
		var name, status string
		if err := native.QueryRow(ctx, "SELECT name, status FROM journeys WHERE journey_id = ?", jrn.ID).Scan(&name, &status); err != nil || name != "高价值关怀" || status != "running" {
			t.Errorf("journeys view: %q %q (%v)", name, status, err)
		}
		// Every run's person is a OneID of the segment.
		var strangers uint64
		if err := native.QueryRow(ctx, "SELECT count() FROM journey_runs WHERE journey_id = ? AND person_id NOT IN (SELECT person_id FROM segment_members WHERE segment_id = ?)", jrn.ID, seg.ID).Scan(&strangers); err != nil || strangers != 0 {
			t.Errorf("%d runs of persons outside the segment (%v)", strangers, err)
		}
	})

	t.Run("no phone number in any view", func(t *testing.T) {
		phone := regexp.MustCompile(`(^|[^0-9])1[3-9][0-9]{9}([^0-9]|$)`)
		// A number typed into the search box is scrubbed at ingest: the raw
		// table holds its token (mask and keyed hash), and the views would
		// mask one stored before the scrubber (biMaskPhones).
		var raw string
		if err := f.db.Conn.QueryRow(ctx, "SELECT keyword FROM "+f.db.Table("events")+" WHERE event = 'search'").Scan(&raw); err != nil ||
			phone.MatchString(raw) || !strings.HasPrefix(raw, "[phone *******0002 h:") {
			t.Fatalf("raw keyword %q (%v): the fixture lacks a typed phone number, or ingest kept it in clear", raw, err)
		}
		// A regressor imported as an operator would (its view is otherwise empty).
		values, err := demand.ParseRegressorCSV(strings.NewReader("name,date,province,value\npromo,2026-12-12,四川,1\n"))
		if err != nil {
			t.Fatal(err)
		}
		if err := demand.New(f.db, nil).ImportRegressors(ctx, values, "tok_admin"); err != nil {
			t.Fatal(err)
		}
		for _, v := range schema.BIViews() {
			rows, err := queryStrings(ctx, http, "SELECT toString(tuple(*)) FROM "+v.Name)
			if err != nil {
				t.Fatalf("%s: %v", v.Name, err)
			}
			if len(rows) == 0 && v.Name != "segments" {
				t.Errorf("%s is empty: the check proves nothing", v.Name)
			}
			for _, r := range rows {
				if phone.MatchString(r) {
					t.Errorf("%s shows a phone number: %s", v.Name, r)
				}
			}
		}
		// The view shows the token's mask without its keyed hash.
		want := regexp.MustCompile(`\[phone (\*{7}[0-9]{4}) h:[0-9a-f]{32}\]`).ReplaceAllString(raw, "$1")
		var kw string
		if err := native.QueryRow(ctx, "SELECT keyword FROM events WHERE event = 'search'").Scan(&kw); err != nil || kw != want || !strings.Contains(kw, "*******0002") {
			t.Errorf("masked keyword %q (%v), want %q", kw, err, want)
		}
	})

	// A database written by an older version holds seven-digit masks in
	// the vault and numbers typed into searches in clear: the views show
	// them with the last four digits only, as the API does.
	t.Run("older masks and numbers show the last four digits", func(t *testing.T) {
		m2 := f.profileOf("member_no", "M02")
		for _, q := range []string{
			"ALTER TABLE " + f.db.Local("pii_vault") + " UPDATE masked = '+86 138****0002' WHERE 1 SETTINGS mutations_sync = 2",
			"ALTER TABLE " + f.db.Local("events") + " UPDATE keyword = '我的电话13812340002' WHERE event = 'search' SETTINGS mutations_sync = 2",
		} {
			// Each node's local table on a sharded cluster.
			if err := f.db.EachNode(func(conn driver.Conn) error { return conn.Exec(ctx, q) }); err != nil {
				t.Fatal(err)
			}
		}
		var phone, kw string
		if err := native.QueryRow(ctx, "SELECT phone_masked FROM persons WHERE person_id = ?", m2.PersonID).Scan(&phone); err != nil || phone != "*******0002" {
			t.Errorf("persons.phone_masked of a seven-digit mask: %q (%v), want *******0002", phone, err)
		}
		if err := native.QueryRow(ctx, "SELECT keyword FROM events WHERE event = 'search'").Scan(&kw); err != nil || kw != "我的电话*******0002" {
			t.Errorf("events.keyword of a number stored in clear: %q (%v), want 我的电话*******0002", kw, err)
		}
	})

	t.Run("the BI user can change nothing and read nothing else", func(t *testing.T) {
		db := "`" + f.db.Database + "`"
		for _, q := range []string{
			"SELECT count() FROM " + db + ".events",
			"SELECT id_values FROM " + db + ".events",
			"SELECT * FROM " + db + ".pii_vault",
			"SELECT * FROM " + db + ".persons",
			"SELECT * FROM " + db + ".identity_links",
			"SELECT * FROM " + db + ".person_traits",
			"SELECT * FROM " + db + ".wecom_messages",
			"INSERT INTO " + db + ".events (message_id) VALUES ('x')",
			"INSERT INTO persons (person_id) VALUES (1)",
			"ALTER TABLE " + db + ".events DELETE WHERE 1",
			"ALTER TABLE " + db + ".orders ADD COLUMN x UInt8",
			"CREATE TABLE x (a UInt8) ENGINE = Memory",
			"CREATE VIEW x AS SELECT * FROM " + db + ".pii_vault",
			"DROP VIEW persons",
			"DROP DATABASE " + db,
			"TRUNCATE TABLE " + db + ".orders",
			"SELECT * FROM file('/etc/passwd', 'LineAsString')",
			"SELECT * FROM url('http://127.0.0.1:1/', 'LineAsString')",
			"SELECT * FROM remote('127.0.0.1', " + db + ".pii_vault)",
			"SELECT 1 SETTINGS readonly = 0",
			"SELECT 1 SETTINGS max_execution_time = 3600",
			"SELECT number FROM numbers(1000000)",
		} {
			for name, conn := range map[string]driver.Conn{"native": native, "http": http} {
				if _, err := queryStrings(ctx, conn, q); err == nil {
					t.Errorf("%s: the BI user may run %s", name, q)
				}
			}
		}
		// Settings BI drivers send are accepted within the limits.
		if _, err := queryStrings(ctx, http, "SELECT count() FROM persons SETTINGS max_result_rows = 1000, result_overflow_mode = 'break', max_execution_time = 30, join_use_nulls = 1"); err != nil {
			t.Errorf("driver settings refused: %v", err)
		}
		// Its hourly quota is in force (system.quota_usage shows one's own).
		quota, err := queryStrings(ctx, native, "SELECT quota_name, max_queries, max_result_rows, max_execution_time, queries > 0 FROM system.quota_usage")
		if err != nil || len(quota) != 1 || quota[0] != "bi\t3600\t10000000\t3600\t1" {
			t.Errorf("quota %q (%v)", quota, err)
		}
		// What the BI user can list is BI views (and information_schema).
		dbs, err := queryStrings(ctx, native, "SELECT DISTINCT database FROM system.tables WHERE lower(database) != 'information_schema'")
		if err != nil || !slices.Contains(dbs, biDB) {
			t.Errorf("the BI user lists databases %v (%v)", dbs, err)
		}
		for _, d := range dbs {
			if !strings.HasPrefix(d, schema.BIDatabase("")) {
				t.Errorf("the BI user sees database %s", d)
			}
		}
	})

	t.Run("docs, views and columns agree", func(t *testing.T) {
		raw, err := os.ReadFile("../docs/bi.md")
		if err != nil {
			t.Fatal(err)
		}
		doc := string(raw)
		var documented []string
		for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_0-9]+)` \\| `([^`]+)` \\|").FindAllStringSubmatch(doc, -1) {
			documented = append(documented, m[1]+" "+m[2])
		}
		var defined, inEngine []string
		for _, v := range schema.BIViews() {
			if !strings.Contains(doc, "### `"+v.Name+"`") {
				t.Errorf("docs/bi.md does not document %s", v.Name)
			}
			for _, c := range v.Columns {
				defined = append(defined, c.Name+" "+c.Type)
			}
			var cols []struct {
				Name    string `ch:"name"`
				Type    string `ch:"type"`
				Comment string `ch:"comment"`
			}
			if err := http.Select(ctx, &cols, "SELECT name, type, comment FROM system.columns WHERE database = ? AND table = ? ORDER BY position", biDB, v.Name); err != nil {
				t.Fatal(err)
			}
			for i, c := range cols {
				inEngine = append(inEngine, c.Name+" "+c.Type)
				if i < len(v.Columns) && c.Comment != v.Columns[i].Comment {
					t.Errorf("%s.%s comment %q", v.Name, c.Name, c.Comment)
				}
			}
		}
		if !slices.Equal(documented, defined) || !slices.Equal(defined, inEngine) {
			t.Errorf("columns differ:\ndocs   %v\nschema %v\nengine %v", documented, defined, inEngine)
		}
	})

	t.Run("server SQL of docs/bi.md parses", func(t *testing.T) {
		blocks := docSQL(t, "### For a server")
		if len(blocks) != 1 {
			t.Fatalf("%d SQL blocks for a server, want one", len(blocks))
		}
		stmts := strings.Split(strings.TrimSuffix(blocks[0], ";"), ";\n")
		if len(stmts) < 6 {
			t.Fatalf("%d statements", len(stmts))
		}
		for _, s := range stmts {
			if err := f.db.Conn.Exec(ctx, "EXPLAIN AST "+s); err != nil {
				t.Errorf("%v\n%s", err, s)
			}
		}
	})
}
