package wecom

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// TicketKind names one of the two JS-SDK tickets (document/path/96909).
type TicketKind int

const (
	// CorpTicket is the corp's jsapi_ticket (get_jsapi_ticket): it signs
	// wx.config.
	CorpTicket TicketKind = iota
	// AgentTicket is the application's ticket (ticket/get?type=agent_config):
	// it signs wx.agentConfig, which getCurExternalContact needs.
	AgentTicket
)

func (k TicketKind) String() string {
	if k == AgentTicket {
		return "agent_config ticket"
	}
	return "jsapi_ticket"
}

// path and query of the ticket's API.
func (k TicketKind) request() (string, url.Values) {
	if k == AgentTicket {
		return "/cgi-bin/ticket/get", url.Values{"type": {"agent_config"}}
	}
	return "/cgi-bin/get_jsapi_ticket", url.Values{}
}

// JSSignature is the JS-SDK signature of a page (document/path/96909): the
// hex SHA-1 of "jsapi_ticket=T&noncestr=N&timestamp=S&url=U", in that
// order, nothing URL-encoded. pageURL is the page's full URL without the
// "#" and what follows it.
func JSSignature(ticket, nonce string, timestamp int64, pageURL string) string {
	sum := sha1.Sum([]byte("jsapi_ticket=" + ticket + "&noncestr=" + nonce +
		"&timestamp=" + strconv.FormatInt(timestamp, 10) + "&url=" + pageURL))
	return hex.EncodeToString(sum[:])
}

// Tickets fetches the two JS-SDK tickets through a Client and caches them.
// WeCom allows few fetches (the corp ticket 400 an hour per corp and 100
// per application; the agent ticket is as scarce) and a ticket lasts
// expires_in seconds (7,200), so each is fetched once, used until
// RefreshEarly before it expires (the Client's rule for tokens) and then
// fetched again. A fetch WeCom refuses with 42001, 40014 or 40001 (the
// access token expired or invalid) gets a new token and is made once more,
// as every Client call. Concurrent callers share one fetch. Safe for
// concurrent use.
type Tickets struct {
	c   *Client
	sem chan struct{} // held while a ticket is read or fetched
	got [2]cachedTicket
}

type cachedTicket struct {
	ticket string
	valid  time.Time
}

// NewTickets returns the ticket cache of c's application.
func NewTickets(c *Client) *Tickets {
	return &Tickets{c: c, sem: make(chan struct{}, 1)}
}

type ticketResponse struct {
	status
	Ticket    string `json:"ticket"`
	ExpiresIn int64  `json:"expires_in"`
}

// Get returns the cached ticket of kind, fetching it when there is none or
// it is due for replacement. WeCom's refusals are *APIError (45009 a
// *RateLimitError: the hour's fetches are spent).
func (t *Tickets) Get(ctx context.Context, kind TicketKind) (string, error) {
	if kind != CorpTicket && kind != AgentTicket {
		return "", fmt.Errorf("%w: ticket kind %d", ErrBadField, kind)
	}
	select {
	case t.sem <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-t.sem }()
	now := t.c.opts.Now()
	if c := t.got[kind]; c.ticket != "" && now.Before(c.valid) {
		return c.ticket, nil
	}
	path, q := kind.request()
	var resp ticketResponse
	if err := t.c.call(ctx, path, q, &resp); err != nil {
		return "", err
	}
	if resp.Ticket == "" || resp.ExpiresIn <= 0 {
		return "", errors.New("wecom: GET " + path + ": response without ticket or expires_in")
	}
	t.got[kind] = cachedTicket{ticket: resp.Ticket, valid: now.Add(t.c.lifetime(resp.ExpiresIn))}
	return resp.Ticket, nil
}

// Sign returns the JS-SDK signature of pageURL with the ticket of kind.
func (t *Tickets) Sign(ctx context.Context, kind TicketKind, nonce string, timestamp int64, pageURL string) (string, error) {
	ticket, err := t.Get(ctx, kind)
	if err != nil {
		return "", err
	}
	return JSSignature(ticket, nonce, timestamp, pageURL), nil
}

// OAuthUser is who opened a page through WeCom's OAuth2 link
// (auth/getuserinfo): a member of the corp has a UserID; anyone else only
// an OpenID (and, for a customer, an ExternalUserID).
type OAuthUser struct {
	UserID         string
	OpenID         string
	ExternalUserID string
}

type userInfoResponse struct {
	status
	UserID         string `json:"userid"`
	OpenID         string `json:"openid"`
	ExternalUserID string `json:"external_userid"`
}

// ErrCodeInvalidCode is auth/getuserinfo's answer to a code that is
// unknown, already used or older than its 5 minutes.
const ErrCodeInvalidCode = 40029

// UserByCode exchanges the code WeCom's OAuth2 redirect gave a page
// (valid 5 minutes, usable once) for the user who opened it
// (auth/getuserinfo, document/path/91023). A refused code is an *APIError
// with Code ErrCodeInvalidCode.
func (c *Client) UserByCode(ctx context.Context, code string) (OAuthUser, error) {
	if code == "" {
		return OAuthUser{}, fmt.Errorf("%w: code", ErrMissingField)
	}
	var resp userInfoResponse
	if err := c.call(ctx, "/cgi-bin/auth/getuserinfo", url.Values{"code": {code}}, &resp); err != nil {
		return OAuthUser{}, err
	}
	return OAuthUser{UserID: resp.UserID, OpenID: resp.OpenID, ExternalUserID: resp.ExternalUserID}, nil
}
