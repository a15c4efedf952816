package api_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom/wecomtest"
)

const pathContactGet = "/cgi-bin/externalcontact/get"

// TestWeComCallbackUnderContactAPIFaults sends add_external_contact
// callbacks while the fake WeCom's contact-details API (the call the
// callback path makes) answers 42001, 45009, 5xx or too slowly. Each
// callback is answered "success" well within WeCom's 5 s, WeCom's resend
// of it is recognised, and the contact change is stored exactly once.
// After 42001 the client renews its token and retries, so the details
// (name, unionid) are there. After 45009, 5xx or a timeout the change is
// stored without them; once WeCom answers again the backfill fetches them
// and records one contact_details row per contact, whose unionid identity
// resolution links to the contact's person.
func TestWeComCallbackUnderContactAPIFaults(t *testing.T) {
	f := newIngestFixture(t, 0)
	for i, tc := range []struct {
		fault       string
		inject      func()
		withDetails bool
	}{
		{"none", func() {}, true},
		{"42001 token expired", func() { f.fake.FailNext(pathContactGet, 42001, 1) }, true},
		{"token expired on the server", func() { f.fake.ExpireToken() }, true},
		{"45009 frequency limit", func() { f.fake.FailNext(pathContactGet, 45009, 1) }, false},
		{"HTTP 503", func() { f.fake.Fail5xx(pathContactGet, 1) }, false},
		{"timeout", func() { f.fake.Delay(pathContactGet, 3*time.Second) }, false},
	} {
		ext := fmt.Sprintf("wmFAULT%d", i)
		f.fake.AddContact(wecomtest.Contact{ExternalUserID: ext, Name: "客户" + ext, UnionID: "oU" + ext, FollowUser: "zhangsan", State: "live"})
		tc.inject()
		calls := f.fake.Calls(pathContactGet)
		xml := `<xml><ToUserName><![CDATA[` + corpID + `]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>
<CreateTime>` + fmt.Sprint(1732500000+i) + `</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event>
<ChangeType><![CDATA[add_external_contact]]></ChangeType><UserID><![CDATA[zhangsan]]></UserID>
<ExternalUserID><![CDATA[` + ext + `]]></ExternalUserID><State><![CDATA[live]]></State></xml>`
		start := time.Now()
		rec := f.wecomPost(xml, false)
		took := time.Since(start)
		f.fake.Delay(pathContactGet, 0)
		if rec.Code != 200 || rec.Body.String() != "success" || took > 4*time.Second {
			t.Errorf("%s: answered %d %q after %v; WeCom needs success within 5 s", tc.fault, rec.Code, rec.Body, took)
		}
		if f.fake.Calls(pathContactGet) == calls {
			t.Errorf("%s: the contact API was not called", tc.fault)
		}
		// WeCom resends a callback it thinks unanswered.
		if rec := f.wecomPost(xml, false); rec.Code != 200 || rec.Body.String() != "success" {
			t.Errorf("%s: resend answered %d %q", tc.fault, rec.Code, rec.Body)
		}
		f.sync()
		var n uint64
		var name, union string
		err := f.db.Conn.QueryRow(context.Background(), "SELECT count(), any(name), any(unionid) FROM "+f.db.Table("wecom_contact_events")+
			" WHERE external_userid = ?", ext).Scan(&n, &name, &union)
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("%s: %d rows for one contact change, want exactly 1", tc.fault, n)
		}
		if got := name != "" && union != ""; got != tc.withDetails {
			t.Errorf("%s: details %q %q; want details: %v", tc.fault, name, union, tc.withDetails)
		}
	}
	ctx := context.Background()
	f.fake.Fail5xx(pathContactGet, 1)
	if n, err := f.col.BackfillContactDetails(ctx, f.db, f.wc, 100); err == nil || n != 0 {
		t.Fatalf("backfill while WeCom fails: %d completed, err %v; want a retryable error", n, err)
	}
	if n, err := f.col.BackfillContactDetails(ctx, f.db, f.wc, 100); err != nil || n != 3 {
		t.Fatalf("backfill completed %d (%v), want the 3 contacts recorded without details", n, err)
	}
	f.sync()
	if n, err := f.col.BackfillContactDetails(ctx, f.db, f.wc, 100); err != nil || n != 0 {
		t.Fatalf("a second backfill completed %d (%v), want none", n, err)
	}
	for i := 3; i <= 5; i++ {
		ext := fmt.Sprintf("wmFAULT%d", i)
		var rows, details uint64
		var union string
		var contactPerson, unionPerson uint32
		f.db.Conn.QueryRow(ctx, "SELECT count(), countIf(change_type = 'contact_details'), anyIf(unionid, change_type = 'contact_details'), any(person_id) FROM "+
			f.db.Table("wecom_contact_events")+" WHERE external_userid = ?", ext).Scan(&rows, &details, &union, &contactPerson)
		f.db.Conn.QueryRow(ctx, "SELECT any(person_id) FROM "+f.db.Table("identity_links")+" FINAL WHERE id_type = 'unionid' AND id_value = ?", "oU"+ext).Scan(&unionPerson)
		if rows != 2 || details != 1 || union != "oU"+ext || unionPerson == 0 || unionPerson != contactPerson {
			t.Errorf("%s after the backfill: %d rows, %d details rows, unionid %q, person %d (unionid's %d)", ext, rows, details, union, contactPerson, unionPerson)
		}
	}
	var dead uint64
	f.db.Conn.QueryRow(context.Background(), "SELECT count() FROM "+f.db.Table("ingest_dead_letters")).Scan(&dead)
	if dead != 0 {
		t.Errorf("%d dead letters: a contact-API fault must not refuse the callback", dead)
	}
}
