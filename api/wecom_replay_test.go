package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/granarycdp/cdp/api"
	"github.com/granarycdp/cdp/ingest/wecom/wecomtest"
)

// contactXML is an add_external_contact callback for ext.
func contactXML(ext string) string {
	return `<xml><ToUserName><![CDATA[` + corpID + `]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>
<CreateTime>1732500000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event>
<ChangeType><![CDATA[add_external_contact]]></ChangeType><UserID><![CDATA[zhangsan]]></UserID>
<ExternalUserID><![CDATA[` + ext + `]]></ExternalUserID><State><![CDATA[live]]></State></xml>`
}

func wantError(t *testing.T, what string, rec *httptest.ResponseRecorder, status int, code, field string) {
	t.Helper()
	var e api.Error
	_ = json.Unmarshal(rec.Body.Bytes(), &e)
	if rec.Code != status || e.Code != code || e.Field != field || e.Message == "" {
		t.Fatalf("%s: %d %s, want %d %s naming %s", what, rec.Code, rec.Body, status, code, field)
	}
}

// TestWeComCallbackReplayRefused: a captured callback (valid signature,
// fresh timestamp) sent again is refused with 409 and costs no WeCom API
// call; only the first is taken. A resend WeCom signs anew (its own nonce)
// is still acknowledged and stored once.
func TestWeComCallbackReplayRefused(t *testing.T) {
	f := newIngestFixture(t, 0)
	f.fake.AddContact(wecomtest.Contact{ExternalUserID: "wmREPLAY", Name: "王先生", UnionID: "oUREPLAY", FollowUser: "zhangsan", State: "live"})
	captured := f.wecomSign(contactXML("wmREPLAY"), time.Now(), "captured-nonce")
	if rec := f.wecomSend(captured); rec.Code != 200 || rec.Body.String() != "success" {
		t.Fatalf("first delivery: %d %s", rec.Code, rec.Body)
	}
	calls := f.fake.Calls(pathContactGet)
	for i := range 5 {
		wantError(t, fmt.Sprintf("replay %d", i+1), f.wecomSend(captured), 409, api.CodeReplayed, "nonce")
	}
	if got := f.fake.Calls(pathContactGet); got != calls {
		t.Fatalf("5 replays made %d contact-API calls, want none", got-calls)
	}
	if rec := f.wecomPost(contactXML("wmREPLAY"), false); rec.Code != 200 || rec.Body.String() != "success" {
		t.Fatalf("WeCom's own resend: %d %s", rec.Code, rec.Body)
	}
	f.sync()
	var n uint64
	if err := f.db.Conn.QueryRow(context.Background(), "SELECT count() FROM "+f.db.Table("wecom_contact_events")+" WHERE external_userid = 'wmREPLAY'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d rows (%v), want 1", n, err)
	}
}

// TestWeComCallbackStaleTimestampRefused: a signed callback whose timestamp
// is more than 300 s from the server's clock, either way, is refused with
// 401 naming the timestamp, before any WeCom API call; within 300 s it is
// taken.
func TestWeComCallbackStaleTimestampRefused(t *testing.T) {
	f := newIngestFixture(t, 0)
	f.fake.AddContact(wecomtest.Contact{ExternalUserID: "wmSTALE", Name: "赵女士", UnionID: "oUSTALE", FollowUser: "zhangsan", State: "live"})
	now := time.Now()
	for i, at := range []time.Time{now.Add(-301 * time.Second), now.Add(301 * time.Second), now.Add(-24 * time.Hour)} {
		wantError(t, fmt.Sprintf("timestamp %+d s", at.Unix()-now.Unix()), f.wecomSend(f.wecomSign(contactXML("wmSTALE"), at, fmt.Sprint("stale", i))), 401, api.CodeUnauthorized, "timestamp")
	}
	if got := f.fake.Calls(pathContactGet); got != 0 {
		t.Fatalf("stale callbacks made %d contact-API calls, want none", got)
	}
	if rec := f.wecomSend(f.wecomSign(contactXML("wmSTALE"), now.Add(-290*time.Second), "fresh")); rec.Code != 200 || rec.Body.String() != "success" {
		t.Fatalf("a callback 290 s old: %d %s, want success", rec.Code, rec.Body)
	}
	if got := f.fake.Calls(pathContactGet); got != 1 {
		t.Fatalf("%d contact-API calls for the one callback taken", got)
	}
}

// TestWeComCallbackNonceMemoryFullAnswers503: past MaxNonces callbacks
// within the replay window, a signed callback is answered 503 with
// Retry-After and a message of its own (not the spool's), and costs no
// WeCom API call.
func TestWeComCallbackNonceMemoryFullAnswers503(t *testing.T) {
	f := newIngestFixture(t, 0)
	f.wc.MaxNonces = 2
	for i := range 2 {
		if rec := f.wecomPost(contactXML(fmt.Sprint("wmFULL", i)), false); rec.Code != 200 {
			t.Fatalf("callback %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	calls := f.fake.Calls(pathContactGet)
	rec := f.wecomPost(contactXML("wmFULL2"), false)
	wantError(t, "past MaxNonces", rec, 503, api.CodeUnavailable, "")
	if rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "replay window") || strings.Contains(rec.Body.String(), "spool") {
		t.Fatalf("past MaxNonces: Retry-After %q, %s; want Retry-After and the memory's own message", rec.Header().Get("Retry-After"), rec.Body)
	}
	if got := f.fake.Calls(pathContactGet); got != calls {
		t.Fatalf("a refused callback made %d contact-API calls", got-calls)
	}
}
