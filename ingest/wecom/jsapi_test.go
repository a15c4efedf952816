package wecom_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/ingest/wecom/wecomtest"
)

// The worked example of WeCom's JS-SDK signature document
// (document/path/96909): its ticket, nonce, timestamp and URL give its
// signature.
func TestJSSignatureMatchesWeComsExample(t *testing.T) {
	got := wecom.JSSignature("sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg",
		"Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value")
	if want := "0f9de62fce790f9a083d5c99e95740ceb90c27ed"; got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
}

// jsSetup is a fake and a client sharing a clock the test moves.
func jsSetup(t *testing.T) (*wecomtest.Server, *wecom.Client, *clock) {
	t.Helper()
	fake := wecomtest.New(corpID, secret)
	t.Cleanup(fake.Close)
	clk := &clock{t: time.Date(2026, 12, 3, 2, 0, 0, 0, time.UTC)}
	fake.SetClock(clk.Now)
	c, err := wecom.NewClient(corpID, secret, wecom.ClientOptions{BaseURL: fake.URL, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return fake, c, clk
}

// Each ticket is fetched once and reused until 5 minutes before its 7,200
// s end, then fetched again; the two kinds are apart. A fetch refused with
// 42001 or 40001 (the access token expired or invalid) gets a new token
// and succeeds.
func TestTicketsAreCachedAndRefreshed(t *testing.T) {
	fake, c, clk := jsSetup(t)
	ctx := context.Background()
	tickets := wecom.NewTickets(c)
	first, err := tickets.Get(ctx, wecom.CorpTicket)
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if got, err := tickets.Get(ctx, wecom.CorpTicket); err != nil || got != first {
			t.Fatalf("cached ticket: %q %v, want %q", got, err, first)
		}
	}
	agent, err := tickets.Get(ctx, wecom.AgentTicket)
	if err != nil || agent == first || agent != fake.Ticket("agent_config") {
		t.Fatalf("agent ticket %q (%v); corp ticket %q", agent, err, first)
	}
	if n := fake.Calls(wecomtest.PathGetJSAPITicket); n != 1 {
		t.Fatalf("%d jsapi_ticket fetches for 51 uses, want 1", n)
	}
	clk.Advance(wecomtest.TicketLifetime - 5*time.Minute - time.Second)
	if got, _ := tickets.Get(ctx, wecom.CorpTicket); got != first {
		t.Fatal("the ticket was replaced before it was due")
	}
	for i, code := range []int{wecom.ErrCodeTokenExpired, wecom.ErrCodeInvalidCred} {
		what := fmt.Sprintf("after errcode %d", code)
		clk.Advance(wecomtest.TicketLifetime)
		tokens := fake.Calls("/cgi-bin/gettoken")
		fake.FailNext(wecomtest.PathGetJSAPITicket, code, 1)
		got, err := tickets.Get(ctx, wecom.CorpTicket)
		if err != nil || got == first || !fake.TicketValid("jsapi", got) {
			t.Fatalf("%s: %q %v", what, got, err)
		}
		// Two tokens: the cached one expired with the clock, its successor
		// was refused.
		if n := fake.Calls("/cgi-bin/gettoken"); n != tokens+2 {
			t.Fatalf("%s: %d token fetches, want 2", what, n-tokens)
		}
		if n := fake.Calls(wecomtest.PathGetJSAPITicket); n != 3+2*i {
			t.Fatalf("%s: %d ticket fetches in all, want %d", what, n, 3+2*i)
		}
		first = got
	}
}

// Past 100 fetches in an hour the fake refuses a ticket with 45009, a
// *RateLimitError; a cache shared by the process never gets there.
func TestTicketFetchLimit(t *testing.T) {
	fake, c, clk := jsSetup(t)
	ctx := context.Background()
	for i := range wecomtest.TicketFetchesPerHour {
		if _, err := wecom.NewTickets(c).Get(ctx, wecom.AgentTicket); err != nil {
			t.Fatalf("fetch %d: %v", i+1, err)
		}
	}
	_, err := wecom.NewTickets(c).Get(ctx, wecom.AgentTicket)
	if !errors.Is(err, wecom.ErrRateLimited) || !strings.Contains(err.Error(), "45009") {
		t.Fatalf("fetch %d in the hour: %v, want 45009", wecomtest.TicketFetchesPerHour+1, err)
	}
	if _, err := wecom.NewTickets(c).Get(ctx, wecom.CorpTicket); err != nil {
		t.Fatalf("the corp ticket has a limit of its own: %v", err)
	}
	clk.Advance(time.Hour)
	if _, err := wecom.NewTickets(c).Get(ctx, wecom.AgentTicket); err != nil {
		t.Fatalf("an hour later: %v", err)
	}
	if n := fake.Calls(wecomtest.PathGetAgentTicket); n != wecomtest.TicketFetchesPerHour+2 {
		t.Fatalf("%d fetches", n)
	}
}

// An OAuth2 code gives the staff member once, within 5 minutes; a
// non-member's code gives no userid.
func TestUserByCode(t *testing.T) {
	fake, c, clk := jsSetup(t)
	ctx := context.Background()
	code := fake.OAuthCode("zhangsan")
	u, err := c.UserByCode(ctx, code)
	if err != nil || u.UserID != "zhangsan" {
		t.Fatalf("member: %+v %v", u, err)
	}
	var apiErr *wecom.APIError
	if _, err := c.UserByCode(ctx, code); !errors.As(err, &apiErr) || apiErr.Code != wecom.ErrCodeInvalidCode {
		t.Fatalf("a code used twice: %v", err)
	}
	late := fake.OAuthCode("zhangsan")
	clk.Advance(5*time.Minute + time.Second)
	if _, err := c.UserByCode(ctx, late); !errors.As(err, &apiErr) || apiErr.Code != wecom.ErrCodeInvalidCode {
		t.Fatalf("a code 5 min old: %v", err)
	}
	if u, err := c.UserByCode(ctx, fake.OAuthCodeNonMember("oWeChat1")); err != nil || u.UserID != "" || u.OpenID != "oWeChat1" {
		t.Fatalf("non-member: %+v %v", u, err)
	}
	if _, err := c.UserByCode(ctx, ""); !errors.Is(err, wecom.ErrMissingField) {
		t.Fatalf("no code: %v", err)
	}
}
