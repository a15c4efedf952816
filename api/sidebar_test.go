package api_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/granarycdp/cdp/api"
	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/ingest/wecom/wecomtest"
	"github.com/granarycdp/cdp/sidebar"
)

// The sidebar's customers: wmSideA is zhangsan's (phone sidePhone, two
// rice orders), wmSideB is lisi's.
const (
	sidePhone = "13912345678"
	sideA     = "wmSideA0001"
	sideB     = "wmSideB0002"
)

// contactChange is a change_external_contact callback.
func contactChange(change, staff, ext string) string {
	return `<xml><ToUserName><![CDATA[` + corpID + `]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>
<CreateTime>` + fmt.Sprint(time.Now().Unix()) + `</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event>
<ChangeType><![CDATA[` + change + `]]></ChangeType><UserID><![CDATA[` + staff + `]]></UserID>
<ExternalUserID><![CDATA[` + ext + `]]></ExternalUserID></xml>`
}

// sidebarCustomers stores the two customers and their contacts.
func (f *ingestFixture) sidebarCustomers() {
	f.t.Helper()
	f.fake.AddContact(wecomtest.Contact{ExternalUserID: sideA, Name: "王阿姨", UnionID: "oSideA", FollowUser: "zhangsan"})
	f.fake.AddContact(wecomtest.Contact{ExternalUserID: sideB, Name: "赵先生", UnionID: "oSideB", FollowUser: "lisi"})
	for _, c := range [][2]string{{"zhangsan", sideA}, {"lisi", sideB}} {
		if rec := f.wecomPost(contactChange("add_external_contact", c[0], c[1]), false); rec.Code != 200 {
			f.t.Fatalf("callback: %d %s", rec.Code, rec.Body)
		}
	}
	order := func(id, day string) string {
		return `{"channel":"tmall","order_id":"` + id + `","status":"completed","ordered_at":"` + day + `T10:00:00+08:00","amount":"79.80","city":"上海",
		  "buyer":{"phone":"` + sidePhone + `"},"lines":[{"sku":"LGI-5","product_name":"低GI大米 5kg","category":"低GI大米","quantity":1,"unit_price":"79.80"}]}`
	}
	f.ingestAll([]string{track("side1", "like", map[string]string{"wecom_external_userid": sideA, "phone": sidePhone}, `{}`)},
		[]string{order("T-SIDE-1", "2026-10-01"), order("T-SIDE-2", "2026-10-22")})
}

// sidebarSession opens a session for staff through the fake's OAuth2 code.
func (f *ingestFixture) sidebarSession(staff string) string {
	f.t.Helper()
	var sess sidebar.Session
	if rec := f.do("POST", "/api/sidebar/session", "", map[string]string{"code": f.fake.OAuthCode(staff)}, &sess); rec.Code != 201 || sess.StaffUserID != staff {
		f.t.Fatalf("session for %s: %d %s", staff, rec.Code, rec.Body)
	}
	return sess.Token
}

// A staff member reads the card of their customer: phone masked, orders,
// the rice prediction; never another staff member's customer (403, the
// same answer as for an id nobody knows), nor theirs once the customer
// deleted them; a session does not open the console's API and an API
// token does not open the sidebar.
func TestSidebarCardIsScopedToTheStaffMembersCustomers(t *testing.T) {
	f := newIngestFixture(t, 0)
	f.sidebarCustomers()
	zhang, li := f.sidebarSession("zhangsan"), f.sidebarSession("lisi")

	var card sidebar.Card
	rec := f.do("GET", "/api/sidebar/customers/"+sideA, zhang, nil, &card)
	if rec.Code != 200 {
		t.Fatalf("own customer: %d %s", rec.Code, rec.Body)
	}
	for _, clear := range []string{sidePhone, "912345", sideA[2:]} {
		if strings.Contains(strings.TrimPrefix(rec.Body.String(), `{"external_userid":"`+sideA), clear) {
			t.Fatalf("the card shows %s in clear: %s", clear, rec.Body)
		}
	}
	masked := false
	for _, id := range card.Identifiers {
		masked = masked || (id.Type == "phone" && strings.HasPrefix(id.Value, "*") && strings.HasSuffix(id.Value, "5678"))
	}
	if !masked || len(card.Orders) != 2 || card.Name != "王阿姨" || len(card.Predictions) != 1 || card.Predictions[0].Kind != "rice" {
		t.Fatalf("card: %s", rec.Body)
	}
	if want := time.Date(2026, 11, 12, 0, 0, 0, 0, time.UTC); !card.Predictions[0].Date.Equal(want) {
		t.Errorf("rice predicted %v, want %v (the 21-day interval after the last order)", card.Predictions[0].Date, want)
	}

	var e api.Error
	for _, tc := range []struct{ who, token, ext string }{
		{"lisi for zhangsan's customer", li, sideA},
		{"zhangsan for lisi's customer", zhang, sideB},
		{"zhangsan for an unknown id", zhang, "wmNobody"},
	} {
		if rec := f.do("GET", "/api/sidebar/customers/"+tc.ext, tc.token, nil, &e); rec.Code != 403 || e.Field != "external_userid" {
			t.Errorf("%s: %d %s, want 403", tc.who, rec.Code, rec.Body)
		}
	}
	if rec := f.do("GET", "/api/v1/profiles/1", zhang, nil, &e); rec.Code != 401 {
		t.Errorf("a sidebar session on the console's API: %d", rec.Code)
	}
	if rec := f.do("GET", "/api/sidebar/customers/"+sideA, adminToken, nil, &e); rec.Code != 401 {
		t.Errorf("the admin token on the sidebar: %d", rec.Code)
	}
	if rec := f.wecomPost(contactChange("del_follow_user", "zhangsan", sideA), false); rec.Code != 200 {
		t.Fatalf("callback: %d", rec.Code)
	}
	f.sync()
	if rec := f.do("GET", "/api/sidebar/customers/"+sideA, zhang, nil, &e); rec.Code != 403 {
		t.Errorf("after the customer deleted zhangsan: %d %s, want 403", rec.Code, rec.Body)
	}
	var refused uint64
	err := f.db.Conn.QueryRow(context.Background(), "SELECT count() FROM "+f.db.Table("audit_log")+
		" WHERE action = 'sidebar.card' AND actor = 'sidebar:zhangsan' AND detail LIKE '%not_yours%'").Scan(&refused)
	if err != nil || refused != 3 {
		t.Fatalf("%d refused reads of zhangsan audited (%v), want 3", refused, err)
	}
}

// Sessions: a code works once; a non-member's code and a made-up one are
// refused; a session ends after its time.
func TestSidebarSession(t *testing.T) {
	f := newIngestFixture(t, 0)
	var e api.Error
	code := f.fake.OAuthCode("zhangsan")
	if rec := f.do("POST", "/api/sidebar/session", "", map[string]string{"code": code}, nil); rec.Code != 201 {
		t.Fatalf("session: %d %s", rec.Code, rec.Body)
	}
	for _, tc := range []struct {
		what   string
		body   any
		status int
		field  string
	}{
		{"the code again", map[string]string{"code": code}, 401, "code"},
		{"a made-up code", map[string]string{"code": "0123456789abcdef"}, 401, "code"},
		{"a non-member's code", map[string]string{"code": f.fake.OAuthCodeNonMember("oWeChatX")}, 403, "code"},
		{"no code", map[string]string{}, 400, "code"},
		{"an unknown field", map[string]string{"code": "x", "userid": "zhangsan"}, 400, "userid"},
	} {
		e = api.Error{}
		if rec := f.do("POST", "/api/sidebar/session", "", tc.body, &e); rec.Code != tc.status || e.Field != tc.field {
			t.Errorf("%s: %d %s, want %d naming %q", tc.what, rec.Code, rec.Body, tc.status, tc.field)
		}
	}

	clk := &sideClock{t: time.Now()}
	opts := f.opts
	sb, err := sidebar.New(sidebar.Options{DB: f.db, Client: f.wc.Client, CorpID: corpID, AgentID: weComAgent, Identity: opts.Identity, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	opts.Sidebar = sb
	srv := api.New(opts)
	sess, err := sb.Open(context.Background(), f.fake.OAuthCode("zhangsan"))
	if err != nil {
		t.Fatal(err)
	}
	sign := func() int {
		req := httptest.NewRequest("POST", "/api/sidebar/signatures", strings.NewReader(`{"url":"https://cdp.example.com/sidebar/"}`))
		req.Header.Set("Authorization", "Bearer "+sess.Token)
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		return rec.Code
	}
	clk.advance(sidebar.DefaultSessionTTL - time.Second)
	if code := sign(); code != 200 {
		t.Fatalf("a second before the end: %d", code)
	}
	clk.advance(time.Second)
	if code := sign(); code != 401 {
		t.Fatalf("at the end: %d, want 401", code)
	}
}

type sideClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *sideClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *sideClock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// The signatures verify with the fake's tickets; both tickets are fetched
// once however often the page is signed; URLs other than the sidebar
// page's are refused naming the field.
func TestSidebarSignatures(t *testing.T) {
	f := newIngestFixture(t, 0)
	tok := f.sidebarSession("zhangsan")
	page := "https://cdp.example.com/sidebar/?code=abc&state=s"
	for range 3 {
		var sig sidebar.Signatures
		if rec := f.do("POST", "/api/sidebar/signatures", tok, map[string]string{"url": page}, &sig); rec.Code != 200 {
			t.Fatalf("sign: %d %s", rec.Code, rec.Body)
		}
		if sig.CorpID != corpID || sig.AgentID != weComAgent ||
			sig.Config.Signature != wecom.JSSignature(f.fake.Ticket("jsapi"), sig.Config.NonceStr, sig.Config.Timestamp, page) ||
			sig.AgentConfig.Signature != wecom.JSSignature(f.fake.Ticket("agent_config"), sig.AgentConfig.NonceStr, sig.AgentConfig.Timestamp, page) {
			t.Fatalf("signatures do not verify: %+v", sig)
		}
	}
	if a, b := f.fake.Calls(wecomtest.PathGetJSAPITicket), f.fake.Calls(wecomtest.PathGetAgentTicket); a != 1 || b != 1 {
		t.Fatalf("%d and %d ticket fetches for 3 signings, want 1 and 1", a, b)
	}
	for _, bad := range []string{"", "/sidebar/", "ftp://cdp.example.com/sidebar/", "https://cdp.example.com/sidebar/#x", "https://cdp.example.com/console/"} {
		var e api.Error
		if rec := f.do("POST", "/api/sidebar/signatures", tok, map[string]string{"url": bad}, &e); rec.Code != 400 || e.Field != "url" {
			t.Errorf("url %q: %d %s, want 400 naming url", bad, rec.Code, rec.Body)
		}
	}
}
