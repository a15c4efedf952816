package wecom

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseEventReadsCustomerContactEvents(t *testing.T) {
	tests := []struct {
		name string
		xml  string
		want Event
	}{
		{"add_external_contact with State and WelcomeCode", addContactXML, Event{
			ToUserName: "wx5823bf96d3bd56c7", FromUserName: "sys", CreateTime: time.Unix(1403610513, 0).UTC(),
			MsgType: "event", Event: EventChangeExternalContact, ChangeType: ChangeAddExternalContact,
			UserID: "zhangsan", ExternalUserID: "woAJ2GCAAAXtWyujaWJHDDGi0mACH71w",
			State: "qr-store-042", WelcomeCode: "CALLBACKCODE",
		}},
		{"del_external_contact by transfer", `<xml><ToUserName>corp</ToUserName><FromUserName>sys</FromUserName>
			<CreateTime> 1403610513 </CreateTime><MsgType>event</MsgType><Event>change_external_contact</Event>
			<ChangeType>del_external_contact</ChangeType><UserID>u</UserID><ExternalUserID>e</ExternalUserID>
			<Source>DELETE_BY_TRANSFER</Source></xml>`, Event{
			ToUserName: "corp", FromUserName: "sys", CreateTime: time.Unix(1403610513, 0).UTC(),
			MsgType: "event", Event: EventChangeExternalContact, ChangeType: ChangeDelExternalContact,
			UserID: "u", ExternalUserID: "e", Source: "DELETE_BY_TRANSFER",
		}},
		{"transfer_fail", `<xml><CreateTime>1403610513</CreateTime><MsgType>event</MsgType>
			<Event>change_external_contact</Event><ChangeType>transfer_fail</ChangeType>
			<FailReason>customer_refused</FailReason><UserID>u</UserID><ExternalUserID>e</ExternalUserID></xml>`, Event{
			CreateTime: time.Unix(1403610513, 0).UTC(), MsgType: "event", Event: EventChangeExternalContact,
			ChangeType: ChangeTransferFail, FailReason: "customer_refused", UserID: "u", ExternalUserID: "e",
		}},
		{"customer group update", `<xml><CreateTime>1403610513</CreateTime><MsgType>event</MsgType>
			<Event>change_external_chat</Event><ChatId>wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA</ChatId>
			<ChangeType>update</ChangeType><UpdateDetail>add_member</UpdateDetail></xml>`, Event{
			CreateTime: time.Unix(1403610513, 0).UTC(), MsgType: "event", Event: EventChangeExternalChat,
			ChatID: "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA", ChangeType: "update", UpdateDetail: "add_member",
		}},
		{"tag created", `<xml><CreateTime>1403610513</CreateTime><MsgType>event</MsgType>
			<Event>change_external_tag</Event><Id>etm7wjCgAA1</Id><TagType>tag</TagType>
			<ChangeType>create</ChangeType><StrategyId>1</StrategyId></xml>`, Event{
			CreateTime: time.Unix(1403610513, 0).UTC(), MsgType: "event", Event: EventChangeExternalTag,
			TagID: "etm7wjCgAA1", TagType: "tag", ChangeType: "create", StrategyID: "1",
		}},
		{"text message with MsgId", `<xml><ToUserName>corp</ToUserName><FromUserName>foobar</FromUserName>
			<CreateTime>1583995625</CreateTime><MsgType>text</MsgType><Content>x</Content>
			<MsgId>2018405441</MsgId><AgentID>1000002</AgentID></xml>`, Event{
			ToUserName: "corp", FromUserName: "foobar", CreateTime: time.Unix(1583995625, 0).UTC(),
			MsgType: "text", MsgID: "2018405441", AgentID: "1000002",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEvent([]byte(tt.xml))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("ParseEvent =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestParseEventNamesTheMissingField(t *testing.T) {
	const head = `<xml><CreateTime>1403610513</CreateTime><MsgType>event</MsgType>`
	tests := []struct {
		name, xml string
		want      error
		field     string
	}{
		{"contact without UserID", head + `<Event>change_external_contact</Event><ChangeType>add_external_contact</ChangeType><ExternalUserID>e</ExternalUserID></xml>`, ErrMissingField, "UserID in change_external_contact"},
		{"contact without ExternalUserID", head + `<Event>change_external_contact</Event><ChangeType>add_external_contact</ChangeType><UserID>u</UserID></xml>`, ErrMissingField, "ExternalUserID in change_external_contact"},
		{"contact without ChangeType", head + `<Event>change_external_contact</Event><UserID>u</UserID><ExternalUserID>e</ExternalUserID></xml>`, ErrMissingField, "ChangeType in change_external_contact"},
		{"contact with blank UserID", head + `<Event>change_external_contact</Event><ChangeType>x</ChangeType><UserID> </UserID><ExternalUserID>e</ExternalUserID></xml>`, ErrMissingField, "UserID"},
		{"group without ChatId", head + `<Event>change_external_chat</Event><ChangeType>create</ChangeType></xml>`, ErrMissingField, "ChatId"},
		{"tag without ChangeType", head + `<Event>change_external_tag</Event><Id>1</Id></xml>`, ErrMissingField, "ChangeType"},
		{"event without Event", head + `</xml>`, ErrMissingField, "Event"},
		{"no MsgType", `<xml><CreateTime>1</CreateTime></xml>`, ErrMissingField, "MsgType"},
		{"no CreateTime", `<xml><MsgType>text</MsgType></xml>`, ErrMissingField, "CreateTime"},
		{"CreateTime not a number", `<xml><CreateTime>yesterday</CreateTime><MsgType>text</MsgType></xml>`, ErrBadField, "CreateTime"},
		{"CreateTime zero", `<xml><CreateTime>0</CreateTime><MsgType>text</MsgType></xml>`, ErrBadField, "CreateTime"},
		{"root not xml", `<msg><CreateTime>1</CreateTime><MsgType>text</MsgType></msg>`, nil, "expected element type <xml>"},
		{"not XML", `{"MsgType":"text"}`, nil, "callback XML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseEvent([]byte(tt.xml))
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("err = %v, want %v naming %q", err, tt.want, tt.field)
			}
		})
	}
}

func TestDedupKeyIsStableAcrossRetriesAndSeparatesEvents(t *testing.T) {
	parse := func(s string) Event {
		t.Helper()
		ev, err := ParseEvent([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	base := parse(addContactXML)
	// A retry is byte-identical; fields outside the key must not matter either.
	retry := parse(strings.Replace(addContactXML, "<WelcomeCode><![CDATA[CALLBACKCODE]]></WelcomeCode>", "", 1))
	if base.DedupKey() != retry.DedupKey() {
		t.Fatalf("same callback, different keys: %q %q", base.DedupKey(), retry.DedupKey())
	}
	wantKey := "event\x1fsys\x1f1403610513\x1fchange_external_contact\x1fadd_external_contact\x1fwoAJ2GCAAAXtWyujaWJHDDGi0mACH71w\x1fzhangsan\x1f\x1f\x1f\x1f\x1f"
	if base.DedupKey() != wantKey {
		t.Fatalf("DedupKey = %q, want %q", base.DedupKey(), wantKey)
	}
	distinct := []string{
		strings.Replace(addContactXML, "1403610513", "1403610514", 1),
		strings.Replace(addContactXML, "add_external_contact", "edit_external_contact", 1),
		strings.Replace(addContactXML, "zhangsan", "lisi", 1),
		strings.Replace(addContactXML, "woAJ2GCAAAXtWyujaWJHDDGi0mACH71w", "woAJ2GCAAAXtWyujaWJHDDGi0mACH71x", 1),
	}
	for _, s := range distinct {
		if k := parse(s).DedupKey(); k == base.DedupKey() {
			t.Errorf("distinct event shares key %q", k)
		}
	}
	msg := parse(`<xml><CreateTime>1</CreateTime><MsgType>text</MsgType><MsgId>42</MsgId><FromUserName>a</FromUserName></xml>`)
	if msg.DedupKey() != "msg:42" {
		t.Fatalf("message key %q", msg.DedupKey())
	}
	chatA := parse(`<xml><CreateTime>1</CreateTime><MsgType>event</MsgType><Event>change_external_chat</Event><ChangeType>dismiss</ChangeType><ChatId>A</ChatId></xml>`)
	chatB := parse(`<xml><CreateTime>1</CreateTime><MsgType>event</MsgType><Event>change_external_chat</Event><ChangeType>dismiss</ChangeType><ChatId>B</ChatId></xml>`)
	if chatA.DedupKey() == chatB.DedupKey() {
		t.Fatalf("two groups dismissed in one second share key %q", chatA.DedupKey())
	}
}
