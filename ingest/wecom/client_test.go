package wecom

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	fakeCorpID = "ww6a112864f8022910"
	fakeSecret = "s3cr3t-4pp-k3y"
)

// fakeWeCom implements /cgi-bin/gettoken and /cgi-bin/externalcontact/get
// with WeCom's JSON contract: HTTP 200 always, errcode/errmsg in the body.
type fakeWeCom struct {
	mu        sync.Mutex
	issued    int
	tokens    map[string]string // token -> "valid", "expired"
	tokenHits int
	getHits   int
	pages     map[string][]string // cursor -> follow_user JSON objects; "" is page 1
	forceCode int                 // when set, externalcontact/get always answers it
}

func newFakeWeCom() *fakeWeCom {
	return &fakeWeCom{tokens: map[string]string{}, pages: map[string][]string{"": {followRocky}}}
}

const followRocky = `{"userid":"rocky","remark":"李部长","description":"对接采购事务","createtime":1525779812,
	"tags":[{"group_name":"兴趣","tag_name":"控糖","tag_id":"etAJ2GCAAAXtWyujaWJHDDGi0mACHAAA","type":1}],
	"remark_corp_name":"腾讯科技","remark_mobiles":["13800000001"],"oper_userid":"rocky","add_way":1,"state":"qr-store-042"}`

func (f *fakeWeCom) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	switch r.URL.Path {
	case "/cgi-bin/gettoken":
		f.tokenHits++
		fmt.Fprint(w, f.getToken(r.URL.Query().Get("corpid"), r.URL.Query().Get("corpsecret")))
	case "/cgi-bin/externalcontact/get":
		f.getHits++
		fmt.Fprint(w, f.getContact(r.URL.Query().Get("access_token"), r.URL.Query().Get("external_userid"), r.URL.Query().Get("cursor")))
	default:
		http.NotFound(w, r)
	}
}

func apiErr(code int, msg string) string {
	return fmt.Sprintf(`{"errcode":%d,"errmsg":%q}`, code, msg)
}

func (f *fakeWeCom) getToken(corpID, secret string) string {
	switch {
	case corpID != fakeCorpID:
		return apiErr(40013, "invalid corpid")
	case secret != fakeSecret:
		return apiErr(40001, "invalid credential")
	}
	f.issued++
	tok := fmt.Sprintf("tok-%d", f.issued)
	f.tokens[tok] = "valid"
	return fmt.Sprintf(`{"errcode":0,"errmsg":"ok","access_token":%q,"expires_in":7200}`, tok)
}

func (f *fakeWeCom) getContact(token, externalUserID, cursor string) string {
	switch {
	case token == "":
		return apiErr(41001, "access_token missing")
	case f.tokens[token] == "expired":
		return apiErr(42001, "access_token expired")
	case f.tokens[token] != "valid":
		return apiErr(40014, "invalid access_token")
	case f.forceCode != 0:
		return apiErr(f.forceCode, "forced")
	case externalUserID != "woAJ2GCAAAXtWyujaWJHDDGi0mACHAAA":
		return apiErr(84061, "not exist contact")
	}
	next := ""
	if cursor == "" && f.pages["p2"] != nil {
		next = "p2"
	}
	return `{"errcode":0,"errmsg":"ok","external_contact":{"external_userid":"woAJ2GCAAAXtWyujaWJHDDGi0mACHAAA",
		"name":"李四","position":"Manager","avatar":"http://p.qlogo.cn/bizmail/x/0","corp_name":"腾讯",
		"corp_full_name":"腾讯科技有限公司","type":2,"gender":1,"unionid":"ozynqsulJFCZ2z1aYeS8h-nuasdAAA"},
		"follow_user":[` + strings.Join(f.pages[cursor], ",") + `],"next_cursor":"` + next + `"}`
}

func (f *fakeWeCom) setAll(state string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for tok := range f.tokens {
		f.tokens[tok] = state
	}
}

func (f *fakeWeCom) hits() (token, get int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenHits, f.getHits
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newTestClient(t *testing.T, f *fakeWeCom) (*Client, *fakeClock) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	clock := &fakeClock{now: time.Unix(1700000000, 0)}
	c, err := NewClient(fakeCorpID, fakeSecret, ClientOptions{BaseURL: srv.URL, HTTPClient: srv.Client(), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return c, clock
}

const customer = "woAJ2GCAAAXtWyujaWJHDDGi0mACHAAA"

func TestGetExternalContactDecodesContactAndCachesToken(t *testing.T) {
	f := newFakeWeCom()
	c, _ := newTestClient(t, f)
	want := ExternalContact{
		ExternalUserID: customer, Name: "李四", Type: 2, Gender: 1,
		UnionID: "ozynqsulJFCZ2z1aYeS8h-nuasdAAA", Avatar: "http://p.qlogo.cn/bizmail/x/0", CorpName: "腾讯",
		FollowUsers: []FollowUser{{
			UserID: "rocky", Remark: "李部长", Description: "对接采购事务",
			CreateTime: time.Unix(1525779812, 0).UTC(), State: "qr-store-042", AddWay: 1, OperUserID: "rocky",
			Tags: []FollowUserTag{{GroupName: "兴趣", TagName: "控糖", TagID: "etAJ2GCAAAXtWyujaWJHDDGi0mACHAAA", Type: 1}},
		}},
	}
	for range 2 {
		got, err := c.GetExternalContact(context.Background(), customer)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("GetExternalContact =\n%+v\nwant\n%+v", got, want)
		}
	}
	if tok, get := f.hits(); tok != 1 || get != 2 {
		t.Fatalf("gettoken called %d times, externalcontact/get %d times; want 1 and 2", tok, get)
	}
}

func TestClientReplacesTokenBeforeItExpires(t *testing.T) {
	f := newFakeWeCom()
	c, clock := newTestClient(t, f)
	ctx := context.Background()
	steps := []struct {
		advance       time.Duration
		wantTokenHits int
	}{
		{0, 1},
		{7200*time.Second - 5*time.Minute - time.Second, 1}, // 1 s before the early refresh
		{time.Second, 2}, // refresh point: 115 min after issue
		{time.Hour, 2},
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		if _, err := c.GetExternalContact(ctx, customer); err != nil {
			t.Fatal(err)
		}
		if tok, _ := f.hits(); tok != s.wantTokenHits {
			t.Fatalf("step %d: gettoken called %d times, want %d", i, tok, s.wantTokenHits)
		}
	}
}

func TestClientRefreshesAndRetriesOnceOnTokenErrors(t *testing.T) {
	for _, tt := range []struct {
		name, state string
	}{
		{"42001 token expired", "expired"},
		{"40014 invalid token", "revoked"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeWeCom()
			c, _ := newTestClient(t, f)
			if _, err := c.GetExternalContact(context.Background(), customer); err != nil {
				t.Fatal(err)
			}
			f.setAll(tt.state) // the server drops the token before the client expects it
			got, err := c.GetExternalContact(context.Background(), customer)
			if err != nil || got.Name != "李四" {
				t.Fatalf("after %s: %+v, %v", tt.state, got, err)
			}
			if tok, get := f.hits(); tok != 2 || get != 3 {
				t.Fatalf("gettoken %d, externalcontact/get %d; want 2 and 3", tok, get)
			}
		})
	}
}

func TestClientRetriesOnlyOnce(t *testing.T) {
	f := newFakeWeCom()
	f.forceCode = 42001
	c, _ := newTestClient(t, f)
	_, err := c.GetExternalContact(context.Background(), customer)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 42001 {
		t.Fatalf("err = %v, want APIError 42001", err)
	}
	if tok, get := f.hits(); tok != 2 || get != 2 {
		t.Fatalf("gettoken %d, externalcontact/get %d; want 2 and 2", tok, get)
	}
}

func TestClientReturnsAPIErrorsWithoutRetrying(t *testing.T) {
	tests := []struct {
		name, secret, contact string
		wantCode              int
		wantHits              [2]int
	}{
		{"bad secret", "wrong", customer, 40001, [2]int{1, 0}},
		{"unknown contact", fakeSecret, "wmNOBODY", 84061, [2]int{1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeWeCom()
			srv := httptest.NewServer(f)
			defer srv.Close()
			c, err := NewClient(fakeCorpID, tt.secret, ClientOptions{BaseURL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.GetExternalContact(context.Background(), tt.contact)
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Code != tt.wantCode || apiErr.Msg == "" {
				t.Fatalf("err = %v, want APIError %d", err, tt.wantCode)
			}
			if tok, get := f.hits(); [2]int{tok, get} != tt.wantHits {
				t.Fatalf("hits %d/%d, want %v", tok, get, tt.wantHits)
			}
		})
	}
}

func TestGetExternalContactFollowsCursor(t *testing.T) {
	f := newFakeWeCom()
	f.pages["p2"] = []string{`{"userid":"u2","createtime":1},{"userid":"u3","createtime":2}`}
	c, _ := newTestClient(t, f)
	got, err := c.GetExternalContact(context.Background(), customer)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, fu := range got.FollowUsers {
		ids = append(ids, fu.UserID)
	}
	if !reflect.DeepEqual(ids, []string{"rocky", "u2", "u3"}) || got.Name != "李四" {
		t.Fatalf("follow users %v, contact %q", ids, got.Name)
	}
}

func TestClientErrorsDoNotLeakCredentials(t *testing.T) {
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad gateway", http.StatusBadGateway)
	}))
	defer bad.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	for _, base := range []string{bad.URL, down.URL} {
		c, err := NewClient(fakeCorpID, fakeSecret, ClientOptions{BaseURL: base})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.GetExternalContact(context.Background(), customer)
		if err == nil || strings.Contains(err.Error(), fakeSecret) || !strings.Contains(err.Error(), "/cgi-bin/gettoken") {
			t.Fatalf("err = %v", err)
		}
	}
}

func TestClientHonoursContextAndConcurrency(t *testing.T) {
	f := newFakeWeCom()
	c, _ := newTestClient(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.GetExternalContact(ctx, customer); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled context: err = %v", err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			_, err := c.GetExternalContact(context.Background(), customer)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if tok, _ := f.hits(); tok != 1 {
		t.Fatalf("16 concurrent calls fetched the token %d times", tok)
	}
}

func TestNewClientValidates(t *testing.T) {
	tests := []struct {
		name, corp, secret, base string
	}{
		{"no corp id", "", fakeSecret, ""},
		{"no secret", fakeCorpID, "", ""},
		{"relative base URL", fakeCorpID, fakeSecret, "qyapi.weixin.qq.com"},
	}
	for _, tt := range tests {
		if _, err := NewClient(tt.corp, tt.secret, ClientOptions{BaseURL: tt.base}); err == nil {
			t.Errorf("%s: NewClient succeeded", tt.name)
		}
	}
	if _, err := NewClient(fakeCorpID, fakeSecret, ClientOptions{RefreshEarly: -time.Second}); err == nil {
		t.Error("negative RefreshEarly: NewClient succeeded")
	}
	c, err := NewClient(fakeCorpID, fakeSecret, ClientOptions{})
	if err != nil || c.base.String() != DefaultBaseURL {
		t.Fatalf("defaults: %v, base %v", err, c.base)
	}
}

func TestClientKeepsBaseURLPathPrefix(t *testing.T) {
	f := newFakeWeCom()
	srv := httptest.NewServer(http.StripPrefix("/wecom", f))
	defer srv.Close()
	c, err := NewClient(fakeCorpID, fakeSecret, ClientOptions{BaseURL: srv.URL + "/wecom/"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetExternalContact(context.Background(), customer); err != nil {
		t.Fatal(err)
	}
}

// TestClientDoesNotFollowRedirects: the API host (CDP_WECOM_API_URL) and a
// robot's webhook URL carry the corp secret, an access token or the
// robot's key, and robot posts carry the message: a 3xx answer is an
// error, and nothing is sent to the place it points to.
func TestClientDoesNotFollowRedirects(t *testing.T) {
	var followed sync.Map
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		followed.Store(r.URL.Path, true)
		fmt.Fprint(w, `{"errcode":0,"errmsg":"ok","access_token":"t","expires_in":7200}`)
	}))
	defer elsewhere.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	for name, opts := range map[string]ClientOptions{
		"default client":     {BaseURL: redirect.URL},
		"caller's client":    {BaseURL: redirect.URL, HTTPClient: &http.Client{Timeout: time.Second}},
		"caller's redirects": {BaseURL: redirect.URL, HTTPClient: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}},
	} {
		c, err := NewClient(fakeCorpID, fakeSecret, opts)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.GetExternalContact(context.Background(), "wmEXT")
		var httpErr *HTTPError
		if !errors.As(err, &httpErr) || httpErr.StatusCode != http.StatusTemporaryRedirect || !strings.Contains(err.Error(), "redirect") {
			t.Errorf("%s: API call through a redirect: %v, want an HTTP 307 error saying it was not followed", name, err)
		}
		err = c.SendRobot(context.Background(), redirect.URL+"/cgi-bin/webhook/send?key=robot-key", RobotMessage{Type: RobotText, Content: "到店有礼"})
		if !errors.As(err, &httpErr) || IsRetryable(err) {
			t.Errorf("%s: robot post through a redirect: %v, want a final HTTP error", name, err)
		}
	}
	followed.Range(func(k, _ any) bool {
		t.Errorf("a request was followed to %s", k)
		return true
	})
}
