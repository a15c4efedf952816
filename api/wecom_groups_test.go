package api_test

import (
	"testing"

	"github.com/granarycdp/cdp/wecomops"
)

// A change_external_chat callback reaches wecomops (ingest.WeCom.OnChat):
// the group is read and listed by GET /api/v1/wecom/groups.
func TestWeComGroupCallbackAndListAPI(t *testing.T) {
	f := newIngestFixture(t, 0)
	f.wc.OnChat = f.wecomOps.GroupChanged
	chat := f.fake.AddGroup("大米福利群", "zhangsan")
	f.fake.JoinGroup(chat, "wmEXT001", 2)
	xml := `<xml><ToUserName><![CDATA[` + corpID + `]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>
<CreateTime>1732500000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_chat]]></Event>
<ChatId><![CDATA[` + chat + `]]></ChatId><ChangeType><![CDATA[update]]></ChangeType><UpdateDetail><![CDATA[add_member]]></UpdateDetail></xml>`
	if rec := f.wecomPost(xml, false); rec.Code != 200 {
		t.Fatalf("callback: %d %s", rec.Code, rec.Body)
	}
	if n, err := f.wecomOps.ReadChangedGroups(t.Context()); n != 1 || err != nil {
		t.Fatalf("ReadChangedGroups = %d, %v; want the group the callback named", n, err)
	}
	var list struct{ Items []wecomops.Group }
	if rec := f.do("GET", "/api/v1/wecom/groups", adminToken, nil, &list); rec.Code != 200 || len(list.Items) != 1 ||
		list.Items[0].Name != "大米福利群" || list.Items[0].Customers != 1 || list.Items[0].Owner != "zhangsan" {
		t.Fatalf("groups: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do("GET", "/api/v1/campaigns/cmp_nope/group-sends", adminToken, nil, nil); rec.Code != 404 {
		t.Fatalf("group sends of an unknown campaign: %d", rec.Code)
	}
}
