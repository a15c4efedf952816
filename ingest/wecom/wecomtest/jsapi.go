package wecomtest

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"time"
)

// Paths of the JS-SDK ticket and OAuth2 APIs the fake implements.
const (
	PathGetJSAPITicket = "/cgi-bin/get_jsapi_ticket"
	PathGetAgentTicket = "/cgi-bin/ticket/get" // ?type=agent_config
	PathGetUserInfo    = "/cgi-bin/auth/getuserinfo"
	// PathAuthorize is WeCom's OAuth2 link (open.weixin.qq.com in
	// production), served here so that a page can be sent through it.
	PathAuthorize = "/connect/oauth2/authorize"
)

// Ticket limits (document/path/96909): the corp's jsapi_ticket may be
// fetched 400 times an hour per corp and 100 per application; the fake,
// one application, enforces 100 an hour on each ticket (the agent ticket's
// own limit is not stated separately; it is taken as the same).
const TicketFetchesPerHour = 100

// TicketLifetime is a ticket's expires_in.
const TicketLifetime = 7200 * time.Second

// codeLifetime is how long an OAuth2 code is accepted.
const codeLifetime = 5 * time.Minute

// jsState is the tickets issued and the OAuth2 codes outstanding.
type jsState struct {
	tickets  map[string]issuedTicket // ticket -> kind and expiry
	latest   map[string]string       // kind -> latest ticket
	codes    map[string]oauthCode
	signedIn string // the staff member PathAuthorize issues codes for
}

type issuedTicket struct {
	kind    string
	expires time.Time
}

type oauthCode struct {
	userID, openID string
	expires        time.Time
}

func newJSState() jsState {
	return jsState{tickets: map[string]issuedTicket{}, latest: map[string]string{}, codes: map[string]oauthCode{}}
}

// jsapiRoutes registers the ticket and OAuth2 paths with their limits.
func (s *Server) jsapiRoutes(mux *http.ServeMux) {
	s.js = newJSState()
	for _, p := range []string{PathGetJSAPITicket, PathGetAgentTicket} {
		s.rates[p] = &rateState{perHour: TicketFetchesPerHour}
	}
	s.handle(mux, PathGetJSAPITicket, s.ticketHandler("jsapi"))
	s.handle(mux, PathGetAgentTicket, s.ticketHandler("agent_config"))
	s.handle(mux, PathGetUserInfo, s.getUserInfo)
	s.handle(mux, PathAuthorize, s.authorize)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ticketHandler answers a ticket fetch: a new ticket valid TicketLifetime
// (earlier ones stay valid until their own expiry). ticket/get answers
// 40058 (invalid parameter) for a type other than agent_config.
func (s *Server) ticketHandler(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.checkToken(w, r) {
			return
		}
		if kind == "agent_config" && r.URL.Query().Get("type") != "agent_config" {
			writeJSON(w, errBody(40058, "invalid parameter: type"))
			return
		}
		s.mu.Lock()
		t := kind + "-" + randomHex(12)
		s.js.tickets[t] = issuedTicket{kind: kind, expires: s.now().Add(TicketLifetime)}
		s.js.latest[kind] = t
		s.mu.Unlock()
		writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "ticket": t, "expires_in": int(TicketLifetime / time.Second)})
	}
}

// Ticket returns the latest ticket issued of kind ("jsapi" or
// "agent_config"), "" when none was.
func (s *Server) Ticket(kind string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.js.latest[kind]
}

// TicketValid tells whether ticket was issued as kind and has not expired
// on the fake's clock: what the WeCom client checks a signature against.
func (s *Server) TicketValid(kind, ticket string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.js.tickets[ticket]
	return ok && t.kind == kind && s.now().Before(t.expires)
}

// OAuthCode issues the code WeCom's OAuth2 redirect gives a page opened by
// staff member userID: valid 5 minutes on the fake's clock, usable once.
func (s *Server) OAuthCode(userID string) string {
	return s.issueCode(oauthCode{userID: userID})
}

// OAuthCodeNonMember issues a code for someone outside the corp (a
// WeChat user): auth/getuserinfo answers only their openid.
func (s *Server) OAuthCodeNonMember(openID string) string {
	return s.issueCode(oauthCode{openID: openID})
}

func (s *Server) issueCode(c oauthCode) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	code := randomHex(16)
	c.expires = s.now().Add(codeLifetime)
	s.js.codes[code] = c
	return code
}

// SignIn makes userID the staff member signed in to the WeCom client:
// PathAuthorize issues codes for them ("" refuses every authorization).
func (s *Server) SignIn(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.js.signedIn = userID
}

func (s *Server) getUserInfo(w http.ResponseWriter, r *http.Request) {
	if !s.checkToken(w, r) {
		return
	}
	code := r.URL.Query().Get("code")
	s.mu.Lock()
	c, ok := s.js.codes[code]
	delete(s.js.codes, code)
	ok = ok && s.now().Before(c.expires)
	s.mu.Unlock()
	switch {
	case code == "":
		writeJSON(w, errBody(41008, "missing code"))
	case !ok:
		writeJSON(w, errBody(40029, "invalid code"))
	case c.userID != "":
		writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "userid": c.userID, "user_ticket": randomHex(16)})
	default:
		writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "openid": c.openID})
	}
}

// authorize is the OAuth2 link: it redirects to redirect_uri with a code
// for the signed-in staff member and the state, as WeCom does inside its
// client (scope snsapi_base: no consent screen).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	user := s.js.signedIn
	s.mu.Unlock()
	target, err := url.Parse(q.Get("redirect_uri"))
	if q.Get("appid") != s.CorpID || err != nil || !target.IsAbs() || user == "" {
		http.Error(w, "invalid authorization request", http.StatusBadRequest)
		return
	}
	tq := target.Query()
	tq.Set("code", s.OAuthCode(user))
	tq.Set("state", q.Get("state"))
	target.RawQuery = tq.Encode()
	http.Redirect(w, r, target.String(), http.StatusFound)
}
