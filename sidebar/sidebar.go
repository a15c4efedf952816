// Package sidebar serves the staff sidebar (聊天工具栏): the H5 page WeCom
// opens beside a chat with a customer. It identifies the staff member who
// opened it (WeCom OAuth2: code → userid), gives the page a short-lived
// session scoped to that staff member's customers, signs the page for the
// JS-SDK (wx.config with the corp's jsapi_ticket, wx.agentConfig with the
// application's ticket, both fetched through ingest/wecom and cached), and
// answers the customer's card: masked identifiers, orders, predicted next
// rice and oil purchase, segments, a suggested offer and journeys.
//
// Trust model (docs/wecom.md, "The staff sidebar"): the staff member's
// identity comes only from WeCom, server to server (auth/getuserinfo with
// a single-use code); the customer's external_userid comes from the page
// (getCurExternalContact) and is not trusted: a card is answered only when
// the platform's record of WeCom contacts says the customer is currently
// that staff member's (the pair's latest contact change is an add or an
// edit), whatever id the page sends.
package sidebar

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/granarycdp/cdp/campaigns"
	"github.com/granarycdp/cdp/identity"
	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/journeys"
	"github.com/granarycdp/cdp/segments"
	"github.com/granarycdp/cdp/store"
)

// Defaults of Options.
const (
	DefaultSessionTTL  = 30 * time.Minute
	DefaultMaxSessions = 10000
)

// PagePath is where the platform serves the sidebar page; only URLs under
// it are signed.
const PagePath = "/sidebar"

// Errors the API maps to HTTP answers.
var (
	// ErrBadCode: WeCom refused the OAuth2 code (unknown, used or expired).
	ErrBadCode = errors.New("sidebar: WeCom refused the code")
	// ErrNotStaff: the code belongs to someone outside the corp.
	ErrNotStaff = errors.New("sidebar: not a member of the corp")
	// ErrNotYours: the customer is not (or no longer) the staff member's.
	ErrNotYours = errors.New("sidebar: not this staff member's customer")
	// ErrNoProfile: the customer is the staff member's but no person is
	// resolved for them yet.
	ErrNoProfile = errors.New("sidebar: no profile for this customer yet")
)

// FieldError is a refused input; Field names it.
type FieldError = campaigns.FieldError

// Options configure a Service.
type Options struct {
	DB      *store.DB
	Client  *wecom.Client
	CorpID  string // wx.config's appId
	AgentID string // wx.agentConfig's agentid
	// Identity reads profiles; Segments, Journeys and Campaigns, when not
	// nil, add the person's segments, journeys and a suggested offer.
	Identity  *identity.Service
	Segments  *segments.Store
	Journeys  *journeys.Service
	Campaigns *campaigns.Service
	// SessionTTL is how long a session lasts (DefaultSessionTTL when 0);
	// MaxSessions bounds the sessions held (DefaultMaxSessions when 0).
	SessionTTL  time.Duration
	MaxSessions int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Service is the sidebar's server side. Sessions live in memory only: a
// restart ends them and the page signs in again through WeCom.
type Service struct {
	opts    Options
	tickets *wecom.Tickets

	mu       sync.Mutex
	sessions map[string]Session // by SHA-256 of the token
}

// New returns the sidebar service.
func New(o Options) (*Service, error) {
	if o.DB == nil || o.Client == nil || o.Identity == nil || o.CorpID == "" || o.AgentID == "" {
		return nil, errors.New("sidebar: DB, Client, Identity, CorpID and AgentID are required")
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = DefaultSessionTTL
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = DefaultMaxSessions
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{opts: o, tickets: wecom.NewTickets(o.Client), sessions: map[string]Session{}}, nil
}

// Session is a staff member's sidebar session.
type Session struct {
	Token       string    `json:"token"` // the bearer secret, shown once
	StaffUserID string    `json:"staff_userid"`
	ExpiresAt   time.Time `json:"expires_at"`
}

func tokenKey(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// Open exchanges the code of WeCom's OAuth2 redirect for the staff member
// who opened the page and starts their session. A refused code is
// ErrBadCode, a non-member's ErrNotStaff.
func (s *Service) Open(ctx context.Context, code string) (Session, error) {
	if strings.TrimSpace(code) == "" {
		return Session{}, &FieldError{Field: "code", Message: "code is required: the code WeCom's OAuth2 redirect put in the page's URL"}
	}
	u, err := s.opts.Client.UserByCode(ctx, code)
	var apiErr *wecom.APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.Code == wecom.ErrCodeInvalidCode:
		return Session{}, ErrBadCode
	case err != nil:
		return Session{}, fmt.Errorf("sidebar: exchange the code: %w", err)
	case u.UserID == "":
		return Session{}, ErrNotStaff
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	sess := Session{Token: "cdp_sb_" + hex.EncodeToString(b[:]), StaffUserID: u.UserID, ExpiresAt: s.opts.Now().Add(s.opts.SessionTTL)}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evict()
	s.sessions[tokenKey(sess.Token)] = sess
	return sess, nil
}

// evict drops expired sessions and, at MaxSessions, the one ending
// soonest. The caller holds s.mu.
func (s *Service) evict() {
	now := s.opts.Now()
	for k, v := range s.sessions {
		if !now.Before(v.ExpiresAt) {
			delete(s.sessions, k)
		}
	}
	for len(s.sessions) >= s.opts.MaxSessions {
		first := ""
		for k, v := range s.sessions {
			if first == "" || v.ExpiresAt.Before(s.sessions[first].ExpiresAt) {
				first = k
			}
		}
		delete(s.sessions, first)
	}
}

// Lookup returns the live session of token.
func (s *Service) Lookup(token string) (Session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[tokenKey(token)]
	if ok && !s.opts.Now().Before(sess.ExpiresAt) {
		delete(s.sessions, tokenKey(token))
		return Session{}, false
	}
	return sess, ok
}

// Signed is one JS-SDK signature and what it signed.
type Signed struct {
	Timestamp int64  `json:"timestamp"`
	NonceStr  string `json:"nonce_str"`
	Signature string `json:"signature"`
}

// Signatures is what the page passes to wx.config and wx.agentConfig.
type Signatures struct {
	CorpID      string `json:"corp_id"`
	AgentID     string `json:"agent_id"`
	Config      Signed `json:"config"`       // wx.config: the corp's jsapi_ticket
	AgentConfig Signed `json:"agent_config"` // wx.agentConfig: the application's ticket
}

// Sign signs pageURL (the page's URL without its fragment) for wx.config
// and wx.agentConfig. Only http(s) URLs of the sidebar page are signed.
func (s *Service) Sign(ctx context.Context, pageURL string) (Signatures, error) {
	u, err := url.Parse(pageURL)
	switch {
	case pageURL == "":
		return Signatures{}, &FieldError{Field: "url", Message: "url is required: the page's location without its #fragment"}
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return Signatures{}, &FieldError{Field: "url", Message: "url must be an absolute http or https URL"}
	case strings.Contains(pageURL, "#"):
		return Signatures{}, &FieldError{Field: "url", Message: "url must not carry a #fragment: WeCom signs the URL without it"}
	case u.Path != PagePath && !strings.HasPrefix(u.Path, PagePath+"/"):
		return Signatures{}, &FieldError{Field: "url", Message: "only the sidebar page (" + PagePath + "/) is signed"}
	}
	out := Signatures{CorpID: s.opts.CorpID, AgentID: s.opts.AgentID}
	ts := s.opts.Now().Unix()
	for _, x := range []struct {
		kind wecom.TicketKind
		into *Signed
	}{{wecom.CorpTicket, &out.Config}, {wecom.AgentTicket, &out.AgentConfig}} {
		nonce := randomNonce()
		sig, err := s.tickets.Sign(ctx, x.kind, nonce, ts, pageURL)
		if err != nil {
			return Signatures{}, fmt.Errorf("sidebar: sign with the %s: %w", x.kind, err)
		}
		*x.into = Signed{Timestamp: ts, NonceStr: nonce, Signature: sig}
	}
	return out, nil
}

// randomNonce is 16 random letters and digits, like WeCom's examples.
func randomNonce() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var b [16]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}
