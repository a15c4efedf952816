package wecom

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestParseArchiveLineReadsRecords(t *testing.T) {
	tests := []struct {
		name string
		line string
		want ArchiveMessage
	}{
		{"text in one-to-one chat",
			`{"msgid":"CAQQluDa4QUY0On2rYSAgAMgzPrShAE=","action":"send","from":"XuJinSheng","tolist":["icefog"],"roomid":"","msgtime":1547087894783,"msgtype":"text","text":{"content":"控糖 test"}}`,
			ArchiveMessage{MsgID: "CAQQluDa4QUY0On2rYSAgAMgzPrShAE=", Action: ActionSend, From: "XuJinSheng",
				ToList: []string{"icefog"}, MsgTime: time.UnixMilli(1547087894783).UTC(), MsgType: "text",
				Text: "控糖 test", Body: []byte(`{"content":"控糖 test"}`)}},
		{"recall",
			`{"msgid":"11788441727514772650_1603875624","action":"recall","from":"kenshin","tolist":["0000726"],"roomid":"","msgtime":1603875624476,"msgtype":"revoke","revoke":{"pre_msgid":"14822339130656386894_1603875600"}}`,
			ArchiveMessage{MsgID: "11788441727514772650_1603875624", Action: ActionRecall, From: "kenshin",
				ToList: []string{"0000726"}, MsgTime: time.UnixMilli(1603875624476).UTC(), MsgType: "revoke",
				PreMsgID: "14822339130656386894_1603875600", Body: []byte(`{"pre_msgid":"14822339130656386894_1603875600"}`)}},
		{"switch has time and user",
			`{"msgid":"125289002219525886280","action":"switch","time":1554119421840,"user":"XuJinSheng"}`,
			ArchiveMessage{MsgID: "125289002219525886280", Action: ActionSwitch, From: "XuJinSheng",
				MsgTime: time.UnixMilli(1554119421840).UTC(), MsgType: ActionSwitch}},
		{"image in group keeps raw body",
			`{"msgid":"m1","action":"send","from":"a","tolist":["b","c"],"roomid":"wrJawBCQAAStr3jxVxEH","msgtime":1,"msgtype":"image","image":{"md5sum":"50de","filesize":70961}}`,
			ArchiveMessage{MsgID: "m1", Action: ActionSend, From: "a", ToList: []string{"b", "c"},
				RoomID: "wrJawBCQAAStr3jxVxEH", MsgTime: time.UnixMilli(1).UTC(), MsgType: "image",
				Body: []byte(`{"md5sum":"50de","filesize":70961}`)}},
		{"docmsg body under doc",
			`{"msgid":"m2","action":"send","from":"a","tolist":[],"msgtime":2,"msgtype":"docmsg","doc":{"title":"t"}}`,
			ArchiveMessage{MsgID: "m2", Action: ActionSend, From: "a", ToList: []string{},
				MsgTime: time.UnixMilli(2).UTC(), MsgType: "docmsg", Body: []byte(`{"title":"t"}`)}},
		{"unknown type without body",
			`{"msgid":"m3","action":"send","from":"a","msgtime":3,"msgtype":"future_kind"}`,
			ArchiveMessage{MsgID: "m3", Action: ActionSend, From: "a", MsgTime: time.UnixMilli(3).UTC(), MsgType: "future_kind"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseArchiveLine([]byte(tt.line))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseArchiveLine =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestParseArchiveLineNamesTheBadField(t *testing.T) {
	const ok = `"action":"send","from":"a","tolist":["b"],"msgtime":1547087894783,"msgtype":"text","text":{"content":"hi"}`
	tests := []struct {
		name, line string
		want       error
		field      string
	}{
		{"no msgid", `{` + ok + `}`, ErrMissingField, "msgid"},
		{"empty msgid", `{"msgid":"",` + ok + `}`, ErrMissingField, "msgid is empty"},
		{"numeric msgid", `{"msgid":12,` + ok + `}`, ErrBadField, "msgid must be a string"},
		{"unknown action", `{"msgid":"m","action":"edit","from":"a","msgtime":1,"msgtype":"text"}`, ErrBadField, `action "edit"`},
		{"no action", `{"msgid":"m","from":"a","msgtime":1,"msgtype":"text"}`, ErrMissingField, "action"},
		{"no from", `{"msgid":"m","action":"send","msgtime":1,"msgtype":"image"}`, ErrMissingField, "from"},
		{"no msgtime", `{"msgid":"m","action":"send","from":"a","msgtype":"image"}`, ErrMissingField, "msgtime"},
		{"msgtime as string", `{"msgid":"m","action":"send","from":"a","msgtime":"1547087894783","msgtype":"image"}`, ErrBadField, "msgtime"},
		{"msgtime fractional", `{"msgid":"m","action":"send","from":"a","msgtime":1.5,"msgtype":"image"}`, ErrBadField, "msgtime"},
		{"msgtime negative", `{"msgid":"m","action":"send","from":"a","msgtime":-1,"msgtype":"image"}`, ErrBadField, "msgtime"},
		{"no msgtype", `{"msgid":"m","action":"send","from":"a","msgtime":1}`, ErrMissingField, "msgtype"},
		{"msgtype a phone number", `{"msgid":"m","action":"send","from":"a","msgtime":1,"msgtype":"13812345678"}`, ErrBadField, "msgtype must be"},
		{"msgtype free text", `{"msgid":"m","action":"send","from":"a","msgtime":1,"msgtype":"call me"}`, ErrBadField, "msgtype must be"},
		{"tolist not strings", `{"msgid":"m","action":"send","from":"a","tolist":[1],"msgtime":1,"msgtype":"image"}`, ErrBadField, "tolist"},
		{"text without body", `{"msgid":"m","action":"send","from":"a","msgtime":1,"msgtype":"text"}`, ErrMissingField, "text"},
		{"text without content", `{"msgid":"m","action":"send","from":"a","msgtime":1,"msgtype":"text","text":{}}`, ErrMissingField, "text.content"},
		{"text body not object", `{"msgid":"m","action":"send","from":"a","msgtime":1,"msgtype":"text","text":"hi"}`, ErrBadField, "text is not an object"},
		{"recall without pre_msgid", `{"msgid":"m","action":"recall","from":"a","msgtime":1,"msgtype":"revoke","revoke":{}}`, ErrMissingField, "revoke.pre_msgid"},
		{"switch without user", `{"msgid":"m","action":"switch","time":1}`, ErrMissingField, "user"},
		{"switch without time", `{"msgid":"m","action":"switch","user":"u"}`, ErrMissingField, "time"},
		{"invalid UTF-8", "{\"msgid\":\"m\xff\"," + ok + "}", ErrInvalidUTF8, "at byte 11"},
		{"not JSON", `msgid=m`, nil, "not a JSON object"},
		{"JSON array", `["m"]`, nil, "not a JSON object"},
		{"trailing data", `{"msgid":"m",` + ok + `} {}`, nil, "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseArchiveLine([]byte(tt.line))
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("err = %v, want %v naming %q", err, tt.want, tt.field)
			}
		})
	}
}

func TestParseArchiveLineDoesNotAliasInput(t *testing.T) {
	line := []byte(`{"msgid":"m","action":"send","from":"a","msgtime":1,"msgtype":"image","image":{"k":"v"}}`)
	m, err := ParseArchiveLine(line)
	if err != nil {
		t.Fatal(err)
	}
	for i := range line {
		line[i] = 'x'
	}
	if string(m.Body) != `{"k":"v"}` || m.MsgID != "m" {
		t.Fatalf("result changed with the input: %+v", m)
	}
}

// readAll drains r, returning message ids and errors in order.
func readAll(t *testing.T, r *Reader) (ids []string, lineErrs []*LineError, final error) {
	t.Helper()
	for range 1000 {
		m, err := r.Read()
		var le *LineError
		switch {
		case err == nil:
			ids = append(ids, m.MsgID)
		case errors.As(err, &le):
			lineErrs = append(lineErrs, le)
		default:
			return ids, lineErrs, err
		}
	}
	t.Fatal("Reader did not terminate")
	return
}

func TestReaderReportsBadLinesAndContinues(t *testing.T) {
	good := func(id string) string {
		return `{"msgid":"` + id + `","action":"send","from":"a","msgtime":1,"msgtype":"text","text":{"content":"x"}}`
	}
	sized := func(id string, n int) string { // a valid line of exactly n bytes
		head := `{"msgid":"` + id + `","action":"send","from":"a","msgtime":1,"msgtype":"text","text":{"content":"`
		return head + strings.Repeat("y", n-len(head)-3) + `"}}`
	}
	stream := strings.Join([]string{
		good("m1"),                           // 1
		"",                                   // 2 blank
		`{"msgid":"m2"}`,                     // 3 missing action
		sized("over", MaxArchiveLineBytes+1), // 4 too long
		good("m3") + "\r",                    // 5 CRLF
		"{\"msgid\":\"\xfe\"}",               // 6 invalid UTF-8
		sized("limit", MaxArchiveLineBytes),  // 7
		good("m4"),                           // 8, no final newline
	}, "\n")
	r := NewReader(iotest.HalfReader(strings.NewReader(stream)))
	ids, lineErrs, final := readAll(t, r)
	if final != io.EOF {
		t.Fatalf("final error %v, want io.EOF", final)
	}
	if want := []string{"m1", "m3", "limit", "m4"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("ids %v, want %v", ids, want)
	}
	wantLines := []int{3, 4, 6}
	wantErrs := []error{ErrMissingField, ErrLineTooLong, ErrInvalidUTF8}
	if len(lineErrs) != len(wantLines) {
		t.Fatalf("line errors %v", lineErrs)
	}
	for i, le := range lineErrs {
		if le.Line != wantLines[i] || !errors.Is(le, wantErrs[i]) {
			t.Errorf("error %d = %v, want line %d %v", i, le, wantLines[i], wantErrs[i])
		}
	}
	if r.Line() != 8 {
		t.Errorf("Line() = %d, want 8", r.Line())
	}
	if _, err := r.Read(); err != io.EOF {
		t.Errorf("Read after EOF = %v", err)
	}
}

func TestReaderReturnsReadErrorsAsIs(t *testing.T) {
	boom := errors.New("disk gone")
	r := NewReader(io.MultiReader(strings.NewReader(`{"msgid":"m1","action":"switch","time":1,"user":"u"}`+"\n{\"msg"), iotest.ErrReader(boom)))
	ids, lineErrs, final := readAll(t, r)
	if !errors.Is(final, boom) || len(ids) != 1 || len(lineErrs) != 0 {
		t.Fatalf("ids %v, line errors %v, final %v", ids, lineErrs, final)
	}
	if _, err := r.Read(); !errors.Is(err, boom) {
		t.Fatalf("second Read = %v, want sticky %v", err, boom)
	}
}
