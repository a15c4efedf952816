package wecom_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/ingest/wecom/wecomtest"
)

const (
	corpID = "wwmassmsgcorp"
	secret = "mass-secret"
	staff  = "zhangsan"
)

// clock is a settable time shared by the fake's caps and limits.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// setup starts a fake with customers c1..cN of staff and a client on it.
func setup(t *testing.T, customers int, opts wecom.ClientOptions) (*wecomtest.Server, *wecom.Client, *clock) {
	t.Helper()
	fake := wecomtest.New(corpID, secret)
	t.Cleanup(fake.Close)
	clk := &clock{t: time.Date(2025, 11, 25, 10, 0, 0, 0, time.UTC)} // 18:00 in Beijing
	fake.SetClock(clk.Now)
	fake.AddStaff(staff, "lisi")
	for i := 1; i <= customers; i++ {
		fake.AddContact(wecomtest.Contact{ExternalUserID: cust(i), FollowUser: staff})
	}
	opts.BaseURL = fake.URL
	c, err := wecom.NewClient(corpID, secret, opts)
	if err != nil {
		t.Fatal(err)
	}
	return fake, c, clk
}

func cust(i int) string { return fmt.Sprintf("wmCUST%05d", i) }

func custs(from, to int) []string {
	var ids []string
	for i := from; i <= to; i++ {
		ids = append(ids, cust(i))
	}
	return ids
}

func statuses(t *testing.T, c *wecom.Client, msgid, userid string) map[string]wecom.SendStatus {
	t.Helper()
	res, err := c.GetAllGroupMsgSendResults(context.Background(), msgid, userid)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]wecom.SendStatus{}
	for _, r := range res {
		out[r.ExternalUserID] = r.Status
	}
	return out
}

func TestDedupKeyHeaderMatchesFake(t *testing.T) {
	if wecom.DedupKeyHeader != wecomtest.DedupKeyHeader {
		t.Fatalf("%q != %q", wecom.DedupKeyHeader, wecomtest.DedupKeyHeader)
	}
}

func TestAddMsgTemplateCreatesTaskAndConfirmationSends(t *testing.T) {
	fake, c, clk := setup(t, 2, wecom.ClientOptions{})
	fake.AddContact(wecomtest.Contact{ExternalUserID: "wmOTHER", FollowUser: "lisi"}) // known, not zhangsan's
	ctx := context.Background()
	res, err := c.AddMsgTemplate(ctx, wecom.MsgTemplate{
		Sender:          staff,
		ExternalUserIDs: []string{cust(1), cust(2), "wmOTHER", "wmUNKNOWN"},
		Text:            "双十一控糖礼包",
		Attachments: []wecom.Attachment{
			{Link: &wecom.LinkAttachment{Title: "礼包", URL: "https://example.com/gift", PicURL: "https://example.com/p.png", Desc: "限时"}},
			{MiniProgram: &wecom.MiniProgramAttachment{Title: "商城", PicMediaID: "MEDIA1", AppID: "wx8bd80126147dfAAA", Page: "/path/index.html"}},
		},
		DedupKey: "campaign-7/zhangsan",
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.MsgID == "" || !reflect.DeepEqual(res.FailList, []string{"wmUNKNOWN"}) {
		t.Fatalf("result %+v", res)
	}
	tasks := fake.Tasks()
	if len(tasks) != 1 {
		t.Fatalf("%d tasks", len(tasks))
	}
	task := tasks[0]
	if task.MsgID != res.MsgID || task.Sender != staff || task.Text != "双十一控糖礼包" || task.DedupKey != "campaign-7/zhangsan" ||
		!reflect.DeepEqual(task.ExternalUserIDs, []string{cust(1), cust(2), "wmOTHER"}) || len(task.Attachments) != 2 {
		t.Fatalf("task %+v", task)
	}
	var mp map[string]any
	if err := json.Unmarshal(task.Attachments[1], &mp); err != nil || mp["msgtype"] != "miniprogram" ||
		mp["miniprogram"].(map[string]any)["pic_media_id"] != "MEDIA1" {
		t.Fatalf("attachment on the wire: %s", task.Attachments[1])
	}

	// Before the staff member confirms, nothing is sent.
	if got := statuses(t, c, res.MsgID, staff); got[cust(1)] != wecom.SendStatusNotSent || len(got) != 3 {
		t.Fatalf("before confirmation: %v", got)
	}
	clk.Advance(time.Minute)
	fake.ConfirmAll()
	want := map[string]wecom.SendStatus{cust(1): wecom.SendStatusSent, cust(2): wecom.SendStatusSent, "wmOTHER": wecom.SendStatusNotFriend}
	if got := statuses(t, c, res.MsgID, staff); !reflect.DeepEqual(got, want) {
		t.Fatalf("after confirmation: %v, want %v", got, want)
	}
	all, _ := c.GetAllGroupMsgSendResults(ctx, res.MsgID, staff)
	if !all[0].SendTime.Equal(clk.Now()) || all[0].UserID != staff || !all[2].SendTime.IsZero() {
		t.Fatalf("results %+v", all)
	}
	if fake.Received(cust(1)) != 1 || fake.Received("wmOTHER") != 0 {
		t.Fatalf("received %d, %d", fake.Received(cust(1)), fake.Received("wmOTHER"))
	}
	// Results are per sender: another staff member sees none.
	if got := statuses(t, c, res.MsgID, "lisi"); len(got) != 0 {
		t.Fatalf("lisi's results: %v", got)
	}
}

// The dedup key labels requests; neither WeCom nor the fake deduplicates on
// it, which is why the campaign's send log must.
func TestDedupKeyDoesNotDeduplicate(t *testing.T) {
	fake, c, _ := setup(t, 1, wecom.ClientOptions{})
	m := wecom.MsgTemplate{Sender: staff, ExternalUserIDs: []string{cust(1)}, Text: "hi", DedupKey: "k1"}
	for range 2 {
		if _, err := c.AddMsgTemplate(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	tasks := fake.Tasks()
	if len(tasks) != 2 || tasks[0].DedupKey != "k1" || tasks[1].DedupKey != "k1" || tasks[0].MsgID == tasks[1].MsgID {
		t.Fatalf("tasks %+v", tasks)
	}
}

func TestMassMessageDailyCap(t *testing.T) {
	tests := []struct {
		name     string
		cap      int
		advance  time.Duration // between the two confirmations
		want     wecom.SendStatus
		received int
	}{
		{"second message the same day is capped", 0, time.Hour, wecom.SendStatusCapped, 1},
		{"cap of two lets the second through", 2, time.Hour, wecom.SendStatusSent, 2},
		// 18:00 + 6 h is 00:00 the next day in Beijing.
		{"next Beijing day resets the cap", 0, 6 * time.Hour, wecom.SendStatusSent, 2},
		{"5 h later is still the same Beijing day", 0, 5 * time.Hour, wecom.SendStatusCapped, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, c, clk := setup(t, 1, wecom.ClientOptions{})
			if tt.cap > 0 {
				fake.SetDailyCap(tt.cap)
			}
			ctx := context.Background()
			m := wecom.MsgTemplate{Sender: staff, ExternalUserIDs: []string{cust(1)}, Text: "offer"}
			first, err := c.AddMsgTemplate(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			fake.ConfirmAll()
			second, err := c.AddMsgTemplate(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			clk.Advance(tt.advance)
			if !fake.Confirm(second.MsgID) || fake.Confirm(second.MsgID) {
				t.Fatal("Confirm should confirm a pending task once")
			}
			if got := statuses(t, c, first.MsgID, staff)[cust(1)]; got != wecom.SendStatusSent {
				t.Fatalf("first: %v", got)
			}
			if got := statuses(t, c, second.MsgID, staff)[cust(1)]; got != tt.want {
				t.Fatalf("second: %v, want %v", got, tt.want)
			}
			if n := fake.Received(cust(1)); n != tt.received {
				t.Fatalf("received %d, want %d", n, tt.received)
			}
		})
	}
}

func TestTokenRefreshMidFlow(t *testing.T) {
	path := wecomtest.PathGetGroupMsgSendResult
	tests := []struct {
		name string
		lose func(*wecomtest.Server)
	}{
		{"server expires the token (42001)", func(f *wecomtest.Server) { f.ExpireToken() }},
		{"injected 42001", func(f *wecomtest.Server) { f.FailNext(path, wecom.ErrCodeTokenExpired, 1) }},
		{"injected 40014", func(f *wecomtest.Server) { f.FailNext(path, wecom.ErrCodeInvalidToken, 1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, c, _ := setup(t, 5, wecom.ClientOptions{})
			ctx := context.Background()
			res, err := c.AddMsgTemplate(ctx, wecom.MsgTemplate{Sender: staff, ExternalUserIDs: custs(1, 5), Text: "x"})
			if err != nil {
				t.Fatal(err)
			}
			p1, err := c.GetGroupMsgSendResult(ctx, res.MsgID, staff, "", 2)
			if err != nil || len(p1.Results) != 2 || p1.NextCursor == "" {
				t.Fatalf("page 1: %+v, %v", p1, err)
			}
			tt.lose(fake)
			p2, err := c.GetGroupMsgSendResult(ctx, res.MsgID, staff, p1.NextCursor, 2)
			if err != nil || len(p2.Results) != 2 || p2.Results[0].ExternalUserID != cust(3) {
				t.Fatalf("page 2 after token loss: %+v, %v", p2, err)
			}
			if n := fake.Calls("/cgi-bin/gettoken"); n != 2 {
				t.Fatalf("gettoken called %d times, want 2", n)
			}
			if n := fake.Calls(path); n != 3 {
				t.Fatalf("%s called %d times, want 3", path, n)
			}
		})
	}
}

// A token error on add_msg_template is retried once after a refresh — WeCom
// created nothing — and yields exactly one task.
func TestAddMsgTemplateRefreshesTokenOnce(t *testing.T) {
	for _, code := range []int{wecom.ErrCodeTokenExpired, wecom.ErrCodeInvalidToken} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			fake, c, _ := setup(t, 1, wecom.ClientOptions{})
			fake.FailNext(wecomtest.PathAddMsgTemplate, code, 1)
			if _, err := c.AddMsgTemplate(context.Background(), wecom.MsgTemplate{Sender: staff, ExternalUserIDs: []string{cust(1)}, Text: "x"}); err != nil {
				t.Fatal(err)
			}
			if len(fake.Tasks()) != 1 || fake.Calls(wecomtest.PathAddMsgTemplate) != 2 {
				t.Fatalf("tasks %d, calls %d", len(fake.Tasks()), fake.Calls(wecomtest.PathAddMsgTemplate))
			}
			// Twice in a row: the client gives up after one refresh.
			fake.FailNext(wecomtest.PathAddMsgTemplate, code, 2)
			_, err := c.AddMsgTemplate(context.Background(), wecom.MsgTemplate{Sender: staff, ExternalUserIDs: []string{cust(1)}, Text: "x"})
			var apiErr *wecom.APIError
			if !errors.As(err, &apiErr) || apiErr.Code != code || wecom.IsRetryable(err) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestAddMsgTemplateErrorsAreClassifiedAndNotRetried(t *testing.T) {
	tests := []struct {
		name        string
		inject      func(*wecomtest.Server)
		timeout     time.Duration
		rateLimited bool
		retryable   bool
		apiCode     int  // 0: no APIError
		httpStatus  int  // 0: no HTTPError
		taskCreated bool // the task exists although the call failed
	}{
		{"45009 frequency limit", func(f *wecomtest.Server) { f.FailNext(wecomtest.PathAddMsgTemplate, 45009, 1) }, 0, true, true, 45009, 0, false},
		{"HTTP 503", func(f *wecomtest.Server) { f.Fail5xx(wecomtest.PathAddMsgTemplate, 1) }, 0, false, true, 0, 503, false},
		{"-1 system busy", func(f *wecomtest.Server) { f.FailNext(wecomtest.PathAddMsgTemplate, -1, 1) }, 0, false, true, -1, 0, false},
		{"40058 invalid parameter", func(f *wecomtest.Server) { f.FailNext(wecomtest.PathAddMsgTemplate, 40058, 1) }, 0, false, false, 40058, 0, false},
		{"timeout after the task was created", func(f *wecomtest.Server) { f.Delay(wecomtest.PathAddMsgTemplate, time.Minute) },
			200 * time.Millisecond, false, true, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := wecom.ClientOptions{}
			if tt.timeout > 0 {
				opts.HTTPClient = &http.Client{Timeout: tt.timeout}
			}
			fake, c, _ := setup(t, 1, opts)
			tt.inject(fake)
			_, err := c.AddMsgTemplate(context.Background(), wecom.MsgTemplate{Sender: staff, ExternalUserIDs: []string{cust(1)}, Text: "x"})
			if err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(err, wecom.ErrRateLimited); got != tt.rateLimited {
				t.Fatalf("errors.Is(ErrRateLimited) = %v for %v", got, err)
			}
			if d, ok := wecom.RetryAfter(err); ok != tt.rateLimited || (ok && d != 60*time.Second) {
				t.Fatalf("RetryAfter = %v, %v", d, ok)
			}
			if got := wecom.IsRetryable(err); got != tt.retryable {
				t.Fatalf("IsRetryable = %v for %v", got, err)
			}
			var apiErr *wecom.APIError
			if got := errors.As(err, &apiErr); got != (tt.apiCode != 0) || (got && apiErr.Code != tt.apiCode) {
				t.Fatalf("APIError: %v", err)
			}
			var httpErr *wecom.HTTPError
			if got := errors.As(err, &httpErr); got != (tt.httpStatus != 0) || (got && httpErr.StatusCode != tt.httpStatus) {
				t.Fatalf("HTTPError: %v", err)
			}
			if strings.Contains(err.Error(), "access_token=") {
				t.Fatalf("error leaks the token: %v", err)
			}
			// No silent retry: one request, whatever the error.
			if n := fake.Calls(wecomtest.PathAddMsgTemplate); n != 1 {
				t.Fatalf("add_msg_template called %d times, want 1", n)
			}
			if got := len(fake.Tasks()) == 1; got != tt.taskCreated {
				t.Fatalf("task created = %v, want %v", got, tt.taskCreated)
			}
		})
	}
}

func TestGetGroupMsgSendResultErrors(t *testing.T) {
	fake, c, _ := setup(t, 1, wecom.ClientOptions{})
	ctx := context.Background()
	res, err := c.AddMsgTemplate(ctx, wecom.MsgTemplate{Sender: staff, ExternalUserIDs: []string{cust(1)}, Text: "x"})
	if err != nil {
		t.Fatal(err)
	}
	fake.FailNext(wecomtest.PathGetGroupMsgSendResult, 45009, 1)
	if _, err := c.GetAllGroupMsgSendResults(ctx, res.MsgID, staff); !errors.Is(err, wecom.ErrRateLimited) {
		t.Fatalf("err = %v, want ErrRateLimited", err)
	}
	fake.Fail5xx(wecomtest.PathGetGroupMsgSendResult, 1)
	if _, err := c.GetAllGroupMsgSendResults(ctx, res.MsgID, staff); !wecom.IsRetryable(err) || errors.Is(err, wecom.ErrRateLimited) {
		t.Fatalf("err = %v, want retryable 5xx", err)
	}
	var apiErr *wecom.APIError
	if _, err := c.GetGroupMsgSendResult(ctx, "msgNOPE", staff, "", 0); !errors.As(err, &apiErr) || wecom.IsRetryable(err) {
		t.Fatalf("unknown msgid: %v", err)
	}
	if _, err := c.GetGroupMsgSendResult(ctx, res.MsgID, staff, "", wecom.MaxSendResultLimit+1); !errors.Is(err, wecom.ErrBadField) {
		t.Fatalf("limit 1001: %v", err)
	}
	if n := fake.Calls(wecomtest.PathGetGroupMsgSendResult); n != 3 {
		t.Fatalf("calls %d, want 3 (the bad limit is refused client-side)", n)
	}
}

func TestAddMsgTemplateRefusedClientSide(t *testing.T) {
	link := wecom.Attachment{Link: &wecom.LinkAttachment{Title: "t", URL: "https://example.com"}}
	tests := []struct {
		name string
		m    wecom.MsgTemplate
		want error
	}{
		{"10,001 recipients", wecom.MsgTemplate{Sender: staff, ExternalUserIDs: custs(1, 10001), Text: "x"}, wecom.ErrOverLimit},
		{"10 attachments", wecom.MsgTemplate{Sender: staff, ExternalUserIDs: custs(1, 1), Attachments: []wecom.Attachment{link, link, link, link, link, link, link, link, link, link}}, wecom.ErrOverLimit},
		{"text of 4,001 bytes", wecom.MsgTemplate{Sender: staff, ExternalUserIDs: custs(1, 1), Text: strings.Repeat("a", 4001)}, wecom.ErrOverLimit},
		{"no sender", wecom.MsgTemplate{ExternalUserIDs: custs(1, 1), Text: "x"}, wecom.ErrMissingField},
		{"no recipients", wecom.MsgTemplate{Sender: staff, Text: "x"}, wecom.ErrMissingField},
		{"empty recipient", wecom.MsgTemplate{Sender: staff, ExternalUserIDs: []string{""}, Text: "x"}, wecom.ErrMissingField},
		{"no content", wecom.MsgTemplate{Sender: staff, ExternalUserIDs: custs(1, 1)}, wecom.ErrMissingField},
		{"attachment with both kinds", wecom.MsgTemplate{Sender: staff, ExternalUserIDs: custs(1, 1), Attachments: []wecom.Attachment{{Link: link.Link, MiniProgram: &wecom.MiniProgramAttachment{}}}}, wecom.ErrBadField},
		{"link without url", wecom.MsgTemplate{Sender: staff, ExternalUserIDs: custs(1, 1), Attachments: []wecom.Attachment{{Link: &wecom.LinkAttachment{Title: "t"}}}}, wecom.ErrMissingField},
		{"invalid UTF-8", wecom.MsgTemplate{Sender: staff, ExternalUserIDs: custs(1, 1), Text: "\xff"}, wecom.ErrInvalidUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, c, _ := setup(t, 0, wecom.ClientOptions{})
			_, err := c.AddMsgTemplate(context.Background(), tt.m)
			if !errors.Is(err, tt.want) || wecom.IsRetryable(err) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if fake.Calls(wecomtest.PathAddMsgTemplate) != 0 || fake.Calls("/cgi-bin/gettoken") != 0 {
				t.Fatal("refused template reached the server")
			}
		})
	}
	// The exact limits pass.
	fake, c, _ := setup(t, 0, wecom.ClientOptions{})
	fake.AddContact(wecomtest.Contact{ExternalUserID: cust(1), FollowUser: staff})
	res, err := c.AddMsgTemplate(context.Background(), wecom.MsgTemplate{
		Sender: staff, ExternalUserIDs: custs(1, 10000), Text: strings.Repeat("a", 4000),
		Attachments: []wecom.Attachment{link, link, link, link, link, link, link, link, link},
	})
	if err != nil || len(res.FailList) != 9999 {
		t.Fatalf("at the limits: %d failed, %v", len(res.FailList), err)
	}
}

func TestSendResultPagination(t *testing.T) {
	fake, c, _ := setup(t, 2500, wecom.ClientOptions{})
	ctx := context.Background()
	res, err := c.AddMsgTemplate(ctx, wecom.MsgTemplate{Sender: staff, ExternalUserIDs: custs(1, 2500), Text: "x"})
	if err != nil {
		t.Fatal(err)
	}
	fake.ConfirmAll()
	tests := []struct {
		limit int
		sizes []int
	}{
		{1000, []int{1000, 1000, 500}},
		{0, []int{500, 500, 500, 500, 500}}, // WeCom's default page
		{2500 - 1, []int{}},                 // refused: over MaxSendResultLimit
		{700, []int{700, 700, 700, 400}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.limit), func(t *testing.T) {
			var sizes []int
			var ids []string
			cursor := ""
			for {
				page, err := c.GetGroupMsgSendResult(ctx, res.MsgID, staff, cursor, tt.limit)
				if err != nil {
					if len(tt.sizes) == 0 && errors.Is(err, wecom.ErrBadField) {
						return
					}
					t.Fatal(err)
				}
				sizes = append(sizes, len(page.Results))
				for _, r := range page.Results {
					if r.Status != wecom.SendStatusSent {
						t.Fatalf("%s: %v", r.ExternalUserID, r.Status)
					}
					ids = append(ids, r.ExternalUserID)
				}
				if page.NextCursor == "" {
					break
				}
				cursor = page.NextCursor
			}
			if !reflect.DeepEqual(sizes, tt.sizes) || !reflect.DeepEqual(ids, custs(1, 2500)) {
				t.Fatalf("page sizes %v, want %v; %d ids", sizes, tt.sizes, len(ids))
			}
		})
	}
	before := fake.Calls(wecomtest.PathGetGroupMsgSendResult)
	all, err := c.GetAllGroupMsgSendResults(ctx, res.MsgID, staff)
	if err != nil || len(all) != 2500 || all[2499].ExternalUserID != cust(2500) {
		t.Fatalf("all: %d, %v", len(all), err)
	}
	if n := fake.Calls(wecomtest.PathGetGroupMsgSendResult) - before; n != 3 {
		t.Fatalf("GetAllGroupMsgSendResults made %d calls, want 3", n)
	}
}

func TestSendRobot(t *testing.T) {
	fake, c, clk := setup(t, 0, wecom.ClientOptions{})
	fake.AddRobot("robot-key-1")
	hook := fake.URL + wecomtest.PathRobotWebhook + "?key=robot-key-1"
	ctx := context.Background()

	if err := c.SendRobot(ctx, hook, wecom.RobotMessage{Content: "新客户 @所有人", MentionedList: []string{"@all"}, MentionedMobileList: []string{"13800001111"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.SendRobot(ctx, hook, wecom.RobotMessage{Type: wecom.RobotMarkdown, Content: "**今日** <font color=\"info\">12</font>"}); err != nil {
		t.Fatal(err)
	}
	got := fake.RobotMessages("robot-key-1")
	if len(got) != 2 || got[0].MsgType != "text" || !reflect.DeepEqual(got[0].MentionedList, []string{"@all"}) ||
		got[0].MentionedMobileList[0] != "13800001111" || got[1].MsgType != "markdown" {
		t.Fatalf("robot received %+v", got)
	}
	if fake.Calls("/cgi-bin/gettoken") != 0 {
		t.Fatal("the webhook needs no access token")
	}

	// 20 per minute: messages 3..20 pass, the 21st is rate limited.
	for i := 3; i <= 20; i++ {
		if err := c.SendRobot(ctx, hook, wecom.RobotMessage{Content: fmt.Sprint(i)}); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	err := c.SendRobot(ctx, hook, wecom.RobotMessage{Content: "21"})
	if d, ok := wecom.RetryAfter(err); !errors.Is(err, wecom.ErrRateLimited) || !ok || d != time.Minute {
		t.Fatalf("21st message: %v", err)
	}
	if strings.Contains(err.Error(), "robot-key-1") {
		t.Fatalf("error leaks the webhook key: %v", err)
	}
	clk.Advance(59 * time.Second)
	if err := c.SendRobot(ctx, hook, wecom.RobotMessage{Content: "still blocked"}); !errors.Is(err, wecom.ErrRateLimited) {
		t.Fatalf("after 59 s: %v", err)
	}
	clk.Advance(time.Second)
	if err := c.SendRobot(ctx, hook, wecom.RobotMessage{Content: "after a minute"}); err != nil {
		t.Fatalf("after 60 s: %v", err)
	}
	if n := len(fake.RobotMessages("robot-key-1")); n != 21 {
		t.Fatalf("robot accepted %d messages, want 21", n)
	}
}

func TestSendRobotRefusals(t *testing.T) {
	tests := []struct {
		name    string
		key     string
		m       wecom.RobotMessage
		want    error // client-side sentinel, or nil for a server errcode
		errcode int
	}{
		{"text over 2048 bytes", "k", wecom.RobotMessage{Content: strings.Repeat("好", 683)}, wecom.ErrOverLimit, 0},
		{"markdown over 4096 bytes", "k", wecom.RobotMessage{Type: wecom.RobotMarkdown, Content: strings.Repeat("a", 4097)}, wecom.ErrOverLimit, 0},
		{"markdown with mentions", "k", wecom.RobotMessage{Type: wecom.RobotMarkdown, Content: "a", MentionedList: []string{"x"}}, wecom.ErrBadField, 0},
		{"empty content", "k", wecom.RobotMessage{}, wecom.ErrMissingField, 0},
		{"unknown type", "k", wecom.RobotMessage{Type: "news", Content: "a"}, wecom.ErrBadField, 0},
		{"no key", "", wecom.RobotMessage{Content: "a"}, wecom.ErrMissingField, 0},
		{"unknown key", "nope", wecom.RobotMessage{Content: "a"}, nil, 93000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, c, _ := setup(t, 0, wecom.ClientOptions{})
			fake.AddRobot("k")
			err := c.SendRobot(context.Background(), fake.URL+wecomtest.PathRobotWebhook+"?key="+tt.key, tt.m)
			var apiErr *wecom.APIError
			switch {
			case tt.want != nil && (!errors.Is(err, tt.want) || fake.Calls(wecomtest.PathRobotWebhook) != 0):
				t.Fatalf("err = %v, calls %d; want client-side %v", err, fake.Calls(wecomtest.PathRobotWebhook), tt.want)
			case tt.want == nil && (!errors.As(err, &apiErr) || apiErr.Code != tt.errcode):
				t.Fatalf("err = %v, want errcode %d", err, tt.errcode)
			}
			if wecom.IsRetryable(err) {
				t.Fatalf("%v is not retryable", err)
			}
		})
	}
	// Exactly 2048 bytes passes.
	fake, c, _ := setup(t, 0, wecom.ClientOptions{})
	if err := c.SendRobot(context.Background(), fake.URL+wecomtest.PathRobotWebhook+"?key=k", wecom.RobotMessage{Content: strings.Repeat("a", 2048)}); err != nil {
		t.Fatal(err)
	}
}

func TestIsRetryable(t *testing.T) {
	rl := &wecom.RateLimitError{RetryAfter: time.Minute, Err: &wecom.APIError{Code: 45009}}
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{context.Canceled, false},
		{fmt.Errorf("wrapped: %w", context.DeadlineExceeded), true},
		{&wecom.HTTPError{StatusCode: 502, Status: "502 Bad Gateway"}, true},
		{&wecom.HTTPError{StatusCode: 404, Status: "404 Not Found"}, false},
		{fmt.Errorf("x: %w", rl), true},
		{&wecom.APIError{Code: -1}, true},
		{&wecom.APIError{Code: 84061}, false},
		{wecom.ErrOverLimit, false},
	}
	for _, tt := range tests {
		if got := wecom.IsRetryable(tt.err); got != tt.want {
			t.Errorf("IsRetryable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// TestGroupMsgListFindsTaskAfterLostAnswer plays the ambiguous failure the
// list exists for: add_msg_template created the task but its answer never
// reached the client (timeout). The list, queried by creator and time,
// shows the task with its text, and pages through many tasks.
func TestGroupMsgListFindsTaskAfterLostAnswer(t *testing.T) {
	fake, c, clk := setup(t, 3, wecom.ClientOptions{HTTPClient: &http.Client{Timeout: 200 * time.Millisecond}})
	ctx := context.Background()
	fake.Delay(wecomtest.PathAddMsgTemplate, time.Second)
	_, err := c.AddMsgTemplate(ctx, wecom.MsgTemplate{Sender: staff, ExternalUserIDs: custs(1, 3), Text: "低GI大米试吃装"})
	if err == nil {
		t.Fatal("the delayed answer should time out")
	}
	fake.Delay(wecomtest.PathAddMsgTemplate, 0)
	if n := len(fake.Tasks()); n != 1 {
		t.Fatalf("fake has %d tasks, want the one created before the timeout", n)
	}
	for i := 0; i < 120; i++ { // 121 tasks: two pages of 100
		sender := "lisi"
		if i%2 == 0 {
			sender = staff
		}
		if _, err := c.AddMsgTemplate(ctx, wecom.MsgTemplate{Sender: sender, ExternalUserIDs: custs(1, 1), Text: fmt.Sprint("t", i)}); err != nil {
			t.Fatal(err)
		}
	}
	now := clk.Now()
	got, err := c.GetGroupMsgList(ctx, wecom.GroupMsgListQuery{Start: now.Add(-time.Minute), End: now.Add(time.Minute), Creator: staff, FilterType: 0})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 61 {
		t.Fatalf("listed %d tasks of %s, want 61", len(got), staff)
	}
	first := fake.Tasks()[0]
	if got[0].MsgID != first.MsgID || got[0].Text != "低GI大米试吃装" || got[0].Creator != staff || !got[0].CreateTime.Equal(now.Truncate(time.Second)) {
		t.Fatalf("first listed task %+v, want %s with its text and time %s", got[0], first.MsgID, now)
	}
	all, err := c.GetGroupMsgList(ctx, wecom.GroupMsgListQuery{Start: now.Add(-time.Minute), End: now.Add(time.Minute), FilterType: 2})
	if err != nil || len(all) != 121 {
		t.Fatalf("listed %d tasks of everyone (%v), want 121", len(all), err)
	}
	if _, err := c.GetGroupMsgList(ctx, wecom.GroupMsgListQuery{Start: now.Add(-40 * 24 * time.Hour), End: now}); !errors.Is(err, wecom.ErrOverLimit) {
		t.Fatalf("a 40-day range: %v, want ErrOverLimit before any call", err)
	}
}
