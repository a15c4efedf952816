package wecomtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// post sends body to path with a fresh token and returns the errcode.
func post(t *testing.T, s *Server, path, body string) int {
	t.Helper()
	resp, err := http.Get(s.URL + "/cgi-bin/gettoken?corpid=c&corpsecret=s")
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	resp, err = http.Post(s.URL+path+"?access_token="+tok.AccessToken, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		ErrCode int `json:"errcode"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st.ErrCode
}

func ids(n int) string {
	var b bytes.Buffer
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"wm%d"`, i)
	}
	return "[" + b.String() + "]"
}

// The fake enforces the documented limits itself, for clients that do not.
func TestAddMsgTemplateLimits(t *testing.T) {
	tests := []struct {
		name, body string
		want       int
	}{
		{"10,000 recipients", `{"sender":"zs","external_userid":` + ids(10000) + `,"text":{"content":"x"}}`, 0},
		{"10,001 recipients", `{"sender":"zs","external_userid":` + ids(10001) + `,"text":{"content":"x"}}`, errInvalidParam},
		{"unregistered sender", `{"sender":"ghost","external_userid":["wm1"],"text":{"content":"x"}}`, errInvalidUserID},
		{"no content", `{"sender":"zs","external_userid":["wm1"]}`, errEmptyContent},
		{"text over 4000 bytes", `{"sender":"zs","external_userid":["wm1"],"text":{"content":"` + strings.Repeat("a", 4001) + `"}}`, errInvalidParam},
		{"10 attachments", `{"sender":"zs","external_userid":["wm1"],"attachments":[` +
			strings.TrimSuffix(strings.Repeat(`{"msgtype":"link","link":{"title":"t","url":"u"}},`, 10), ",") + `]}`, errInvalidParam},
		{"unknown attachment type", `{"sender":"zs","external_userid":["wm1"],"attachments":[{"msgtype":"voice"}]}`, errInvalidMsgType},
		{"miniprogram missing appid", `{"sender":"zs","external_userid":["wm1"],"attachments":[{"msgtype":"miniprogram","miniprogram":{"title":"t","pic_media_id":"m","page":"p"}}]}`, errInvalidParam},
		{"group chat", `{"chat_type":"group","sender":"zs","text":{"content":"x"}}`, errInvalidParam},
		{"not JSON", `{`, errBadJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New("c", "s")
			defer s.Close()
			s.AddStaff("zs")
			if got := post(t, s, PathAddMsgTemplate, tt.body); got != tt.want {
				t.Fatalf("errcode %d, want %d", got, tt.want)
			}
			if created := len(s.Tasks()) == 1; created != (tt.want == 0) {
				t.Fatalf("task created = %v", created)
			}
		})
	}
}

func TestFaultsQueueInOrder(t *testing.T) {
	s := New("c", "s")
	defer s.Close()
	s.FailNext(PathAddMsgTemplate, 45009, 2)
	s.Fail5xx(PathAddMsgTemplate, 1)
	body := `{"sender":"zs","external_userid":["wm1"],"text":{"content":"x"}}`
	for i, want := range []int{45009, 45009} {
		if got := post(t, s, PathAddMsgTemplate, body); got != want {
			t.Fatalf("call %d: errcode %d, want %d", i, got, want)
		}
	}
	resp, err := http.Post(s.URL+PathAddMsgTemplate, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third call: HTTP %d", resp.StatusCode)
	}
	if got := post(t, s, PathAddMsgTemplate, body); got != 0 || len(s.Tasks()) != 1 || s.Calls(PathAddMsgTemplate) != 4 {
		t.Fatalf("after the faults: errcode %d, %d tasks, %d calls", got, len(s.Tasks()), s.Calls(PathAddMsgTemplate))
	}
}
