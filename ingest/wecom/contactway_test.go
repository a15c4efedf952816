package wecom_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/ingest/wecom/wecomtest"
)

// Contact ways against the fake: WeCom's limits refused before any call,
// add/get/update/delete, list across pages, the QR image, and 42001,
// 45009 and 5xx handled as for every call.
func TestContactWayLifecycleAndLimits(t *testing.T) {
	fake, c, _ := setup(t, 0, wecom.ClientOptions{})
	ctx := context.Background()
	long := strings.Repeat("米", wecom.MaxStateChars+1)
	for _, tc := range []struct {
		w    wecom.ContactWay
		want error
	}{
		{wecom.ContactWay{State: "s1"}, wecom.ErrMissingField},
		{wecom.ContactWay{Users: []string{""}, State: "s1"}, wecom.ErrMissingField},
		{wecom.ContactWay{Users: []string{staff}, State: long}, wecom.ErrOverLimit},
		{wecom.ContactWay{Users: []string{staff}, State: "s", Remark: long}, wecom.ErrOverLimit},
		{wecom.ContactWay{Users: make([]string, wecom.MaxContactWayUsers+1), State: "s"}, wecom.ErrOverLimit},
		{wecom.ContactWay{Users: []string{staff}, State: "\xff"}, wecom.ErrInvalidUTF8},
	} {
		if _, _, err := c.AddContactWay(ctx, tc.w); !errors.Is(err, tc.want) {
			t.Errorf("AddContactWay(%+v) = %v, want %v", tc.w, err, tc.want)
		}
	}
	if n := fake.Calls(wecomtest.PathAddContactWay); n != 0 {
		t.Fatalf("%d calls made for refused requests", n)
	}
	// 30 characters exactly is allowed.
	state := strings.Repeat("店", wecom.MaxStateChars)
	id, qr, err := c.AddContactWay(ctx, wecom.ContactWay{Users: []string{staff}, State: state, Remark: "门店"})
	if err != nil || id == "" || qr == "" {
		t.Fatalf("add: %q %q %v", id, qr, err)
	}
	got, err := c.GetContactWay(ctx, id)
	if err != nil || got.State != state || len(got.Users) != 1 || got.Users[0] != staff || got.Type() != 1 {
		t.Fatalf("get: %+v %v", got, err)
	}
	img, err := c.FetchQRCode(ctx, qr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(img)); err != nil {
		t.Fatalf("the QR image is not a PNG: %v", err)
	}
	if err := c.UpdateContactWay(ctx, wecom.ContactWay{ConfigID: id, Users: []string{staff, "lisi"}, State: state, Remark: "两人"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.GetContactWay(ctx, id); len(got.Users) != 2 || got.Remark != "两人" {
		t.Fatalf("after update: %+v", got)
	}

	fake.ExpireToken()
	fake.FailNext(wecomtest.PathListContactWay, wecom.ErrCodeRateLimited, 1)
	if _, err := c.ListContactWays(ctx, time.Time{}, time.Time{}); !errors.Is(err, wecom.ErrRateLimited) {
		t.Fatalf("45009: %v", err)
	}
	fake.Fail5xx(wecomtest.PathAddContactWay, 1)
	if _, _, err := c.AddContactWay(ctx, wecom.ContactWay{Users: []string{staff}, State: "x"}); !wecom.IsRetryable(err) {
		t.Fatalf("5xx: %v", err)
	}
	for i := range 1500 { // over one list page of 1,000
		if _, _, err := c.AddContactWay(ctx, wecom.ContactWay{Users: []string{staff}, State: fmt.Sprintf("batch-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	ids, err := c.ListContactWays(ctx, time.Time{}, time.Time{})
	if err != nil || len(ids) != 1501 {
		t.Fatalf("list: %d ids, %v; want 1501", len(ids), err)
	}
	if err := c.DelContactWay(ctx, id); err != nil {
		t.Fatal(err)
	}
	var apiErr *wecom.APIError
	if _, err := c.GetContactWay(ctx, id); !errors.As(err, &apiErr) {
		t.Fatalf("get after delete: %v", err)
	}
	if _, err := c.FetchQRCode(ctx, qr); err == nil {
		t.Fatal("the deleted code's image is still served")
	}
	if _, err := c.FetchQRCode(ctx, "file:///etc/passwd"); !errors.Is(err, wecom.ErrBadField) {
		t.Fatalf("a non-http QR URL: %v", err)
	}
}

// The corp's contact-way limit is WeCom's refusal, not a crash.
func TestContactWayCorpLimit(t *testing.T) {
	fake, c, _ := setup(t, 0, wecom.ClientOptions{})
	fake.SetMaxContactWays(1)
	ctx := context.Background()
	if _, _, err := c.AddContactWay(ctx, wecom.ContactWay{Users: []string{staff}, State: "a"}); err != nil {
		t.Fatal(err)
	}
	var apiErr *wecom.APIError
	if _, _, err := c.AddContactWay(ctx, wecom.ContactWay{Users: []string{staff}, State: "b"}); !errors.As(err, &apiErr) || apiErr.Code != wecomtest.ErrCodeInvalidParam {
		t.Fatalf("over the corp's limit: %v", err)
	}
}

// send_welcome_msg: limits refused before the call, one send per code,
// 41051 for a used or expired code.
func TestSendWelcomeMsg(t *testing.T) {
	fake, c, clk := setup(t, 0, wecom.ClientOptions{})
	ctx := context.Background()
	msg := wecom.WelcomeMessage{Text: "欢迎！", Attachments: []wecom.Attachment{{Link: &wecom.LinkAttachment{Title: "新人礼", URL: "https://example.com/gift"}}}}
	for _, tc := range []struct {
		code string
		m    wecom.WelcomeMessage
		want error
	}{
		{"", msg, wecom.ErrMissingField},
		{"c", wecom.WelcomeMessage{}, wecom.ErrMissingField},
		{"c", wecom.WelcomeMessage{Text: strings.Repeat("a", wecom.MaxMsgTemplateTextBytes+1)}, wecom.ErrOverLimit},
		{"c", wecom.WelcomeMessage{Text: "x", Attachments: make([]wecom.Attachment, 10)}, wecom.ErrOverLimit},
		{"c", wecom.WelcomeMessage{Attachments: []wecom.Attachment{{}}}, wecom.ErrBadField},
	} {
		if err := c.SendWelcomeMsg(ctx, tc.code, tc.m); !errors.Is(err, tc.want) {
			t.Errorf("SendWelcomeMsg(%q) = %v, want %v", tc.code, err, tc.want)
		}
	}
	if n := fake.Calls(wecomtest.PathSendWelcomeMsg); n != 0 {
		t.Fatalf("%d calls made for refused requests", n)
	}
	fake.IssueWelcomeCode("code1")
	fake.ExpireToken()
	if err := c.SendWelcomeMsg(ctx, "code1", msg); err != nil {
		t.Fatal(err)
	}
	var apiErr *wecom.APIError
	if err := c.SendWelcomeMsg(ctx, "code1", msg); !errors.As(err, &apiErr) || apiErr.Code != wecom.ErrCodeWelcomeCodeUsed {
		t.Fatalf("a second send with the code: %v", err)
	}
	if n := len(fake.WelcomeSends("code1")); n != 1 {
		t.Fatalf("%d welcome messages accepted for one code", n)
	}
	fake.IssueWelcomeCode("code2")
	clk.Advance(wecom.WelcomeCodeTTL + time.Second)
	if err := c.SendWelcomeMsg(ctx, "code2", msg); !errors.As(err, &apiErr) || apiErr.Code != wecom.ErrCodeWelcomeCodeUsed {
		t.Fatalf("a code past its 20 s: %v", err)
	}
	fake.IssueWelcomeCode("code3")
	fake.FailNext(wecomtest.PathSendWelcomeMsg, wecom.ErrCodeRateLimited, 1)
	if err := c.SendWelcomeMsg(ctx, "code3", msg); !errors.Is(err, wecom.ErrRateLimited) {
		t.Fatalf("45009: %v", err)
	}
	fake.Fail5xx(wecomtest.PathSendWelcomeMsg, 1)
	if err := c.SendWelcomeMsg(ctx, "code3", msg); !wecom.IsRetryable(err) {
		t.Fatalf("5xx: %v", err)
	}
	if err := c.SendWelcomeMsg(ctx, "code3", msg); err != nil {
		t.Fatalf("after the refusals: %v", err)
	}
}

// Transfers: limits before the call, per-customer errcodes, the results
// while waiting and once settled.
func TestTransferCustomers(t *testing.T) {
	fake, c, clk := setup(t, 3, wecom.ClientOptions{})
	ctx := context.Background()
	for _, tr := range []wecom.Transfer{
		{Kind: "x", HandoverUserID: staff, TakeoverUserID: "lisi", ExternalUserIDs: custs(1, 1)},
		{Kind: wecom.TransferResigned, TakeoverUserID: "lisi", ExternalUserIDs: custs(1, 1)},
		{Kind: wecom.TransferResigned, HandoverUserID: staff, TakeoverUserID: staff, ExternalUserIDs: custs(1, 1)},
		{Kind: wecom.TransferResigned, HandoverUserID: staff, TakeoverUserID: "lisi", ExternalUserIDs: custs(1, 101)},
		{Kind: wecom.TransferResigned, HandoverUserID: staff, TakeoverUserID: "lisi", ExternalUserIDs: custs(1, 1), Message: "hi"},
	} {
		if _, err := c.TransferCustomers(ctx, tr); err == nil {
			t.Errorf("TransferCustomers(%+v) passed", tr)
		}
	}
	if n := fake.Calls(wecomtest.PathResignedTransferCustomer); n != 0 {
		t.Fatalf("%d calls for refused transfers", n)
	}
	codes, err := c.TransferCustomers(ctx, wecom.Transfer{Kind: wecom.TransferResigned, HandoverUserID: staff, TakeoverUserID: "lisi",
		ExternalUserIDs: append(custs(1, 3), "wmSTRANGER")})
	if err != nil {
		t.Fatal(err)
	}
	if codes[cust(1)] != 0 || codes["wmSTRANGER"] != wecomtest.ErrCodeInvalidExternal {
		t.Fatalf("per-customer errcodes: %v", codes)
	}
	res, err := c.TransferResults(ctx, wecom.TransferResigned, staff, "lisi")
	if err != nil || len(res) != 3 || res[0].Status != 2 || !res[0].TakeoverTime.Equal(clk.Now().Add(24*time.Hour).Truncate(time.Second)) {
		t.Fatalf("waiting: %+v %v", res, err)
	}
	fake.SettleTransfer(cust(1), 1)
	fake.SettleTransfer(cust(2), 3)
	res, _ = c.TransferResults(ctx, wecom.TransferResigned, staff, "lisi")
	if res[0].Status != 1 || res[1].Status != 3 || !res[1].TakeoverTime.IsZero() || res[2].Status != 2 {
		t.Fatalf("settled: %+v", res)
	}
	if on, _ := c.TransferResults(ctx, wecom.TransferOnJob, staff, "lisi"); len(on) != 0 {
		t.Fatalf("on-the-job results hold the resigned transfers: %+v", on)
	}
	fake.FailNext(wecomtest.PathResignedTransferResult, wecom.ErrCodeRateLimited, 1)
	if _, err := c.TransferResults(ctx, wecom.TransferResigned, staff, "lisi"); !errors.Is(err, wecom.ErrRateLimited) {
		t.Fatalf("45009: %v", err)
	}
}
