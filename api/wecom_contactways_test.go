package api_test

import (
	"context"
	"testing"

	"github.com/granarycdp/cdp/api"
	"github.com/granarycdp/cdp/wecomops"
)

// TestContactWayAPI: a QR code is created by a marketer (400 naming the
// field for a State over 30 characters), listed, downloaded as a PNG and
// deleted (404 afterwards); a del_follow_user callback, delivered twice,
// becomes one contact_lost event and one lost customer (recorded "off":
// no robot is configured).
func TestContactWayAPI(t *testing.T) {
	f := newConsentFixture(t)
	var e api.Error
	long := map[string]any{"state": "这是一个超过三十个字符的渠道活码状态参数用于测试长度限制是否生效啊啊", "kind": "store", "users": []string{"zhangsan"}}
	if rec := f.do("POST", "/api/v1/wecom/contact-ways", f.marketer, long, &e); rec.Code != 400 || e.Field != "state" {
		t.Fatalf("a State over 30 characters: %d %+v", rec.Code, e)
	}
	var w wecomops.ContactWay
	good := map[string]any{"state": "store-001", "kind": "store", "ref": "S001", "users": []string{"zhangsan"}}
	if rec := f.do("POST", "/api/v1/wecom/contact-ways", f.marketer, good, &w); rec.Code != 201 || w.Status != wecomops.WayActive {
		t.Fatalf("create: %d %+v", rec.Code, w)
	}
	rec := f.do("GET", "/api/v1/wecom/contact-ways/store-001/qr.png", adminToken, nil, nil)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "image/png" || rec.Body.Len() < 8 || rec.Body.String()[1:4] != "PNG" {
		t.Fatalf("PNG: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	if rec := f.do("DELETE", "/api/v1/wecom/contact-ways/store-001", f.marketer, nil, &w); rec.Code != 200 || w.Status != wecomops.WayDeleted {
		t.Fatalf("delete: %d %+v", rec.Code, w)
	}
	if rec := f.do("GET", "/api/v1/wecom/contact-ways/store-001", adminToken, nil, &e); rec.Code != 404 {
		t.Fatalf("after delete: %d", rec.Code)
	}

	xml := `<xml><ToUserName><![CDATA[` + corpID + `]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>
<CreateTime>1732500000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event>
<ChangeType><![CDATA[del_follow_user]]></ChangeType><UserID><![CDATA[zhangsan]]></UserID>
<ExternalUserID><![CDATA[wmLOST01]]></ExternalUserID></xml>`
	for range 2 {
		if rec := f.wecomPost(xml, false); rec.Code != 200 {
			t.Fatalf("callback: %d %s", rec.Code, rec.Body)
		}
	}
	f.sync()
	var n uint64
	if err := f.db.Conn.QueryRow(context.Background(), "SELECT count() FROM "+f.db.Table("events")+" WHERE event = 'contact_lost' AND JSONExtractString(properties, 'by') = 'customer'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d contact_lost events (%v), want 1", n, err)
	}
	if _, err := f.wecomOps.AlertLosses(context.Background()); err != nil {
		t.Fatal(err)
	}
	var lost struct{ Items []wecomops.LostCustomer }
	if rec := f.do("GET", "/api/v1/wecom/lost-customers", adminToken, nil, &lost); rec.Code != 200 || len(lost.Items) != 1 ||
		lost.Items[0].External != "wmLOST01" || lost.Items[0].Status != wecomops.LossOff {
		t.Fatalf("lost customers: %d %+v", rec.Code, lost.Items)
	}
	// Narrowed by alert status: the loss is "off", so asking for those
	// that were sent or failed finds none, and an unknown status is 400.
	if rec := f.do("GET", "/api/v1/wecom/lost-customers?status=sent,failed", adminToken, nil, &lost); rec.Code != 200 || len(lost.Items) != 0 {
		t.Fatalf("sent or failed lost customers: %d %+v", rec.Code, lost.Items)
	}
	if rec := f.do("GET", "/api/v1/wecom/lost-customers?status=sent&status=off", adminToken, nil, &lost); rec.Code != 200 || len(lost.Items) != 1 {
		t.Fatalf("sent or off lost customers: %d %+v", rec.Code, lost.Items)
	}
	if rec := f.do("GET", "/api/v1/wecom/lost-customers?status=gone", adminToken, nil, &e); rec.Code != 400 || e.Field != "status" {
		t.Fatalf("an unknown status: %d %+v", rec.Code, e)
	}
}
