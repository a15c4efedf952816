// Package wecomtest is a fake WeCom API server for tests: it speaks the
// real HTTP contract (paths, query parameters, errcode/errmsg JSON, token
// expiry) so the platform's client cannot tell it from the real one.
//
// Besides gettoken and externalcontact/get it implements the mass-message
// APIs (massmsg.go: add_msg_template, get_groupmsg_send_result, the group
// robot webhook), the customer-tag APIs (tags.go: get_corp_tag_list,
// mark_tag, the tags in externalcontact/get's follow_user), the
// contact-way, welcome-message and transfer APIs (contactway.go,
// transfer.go), the customer-group APIs (groups.go: groupchat/list,
// groupchat/get, add_msg_template with chat_type group), the JS-SDK
// tickets and OAuth2 (jsapi.go: get_jsapi_ticket, ticket/get,
// getuserinfo) and the customer moments (moments.go: add_moment_task,
// get_moment_task_result, get_moment_list, get_moment_task,
// get_moment_customer_list, get_moment_send_result), with their
// documented limits, WeCom's per-API frequency limits (SetRateLimit:
// 45009), and fault injection on any path (FailNext, Fail5xx, Delay).
package wecomtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"
)

// Contact is a customer the fake knows.
type Contact struct {
	ExternalUserID string
	Name           string
	UnionID        string
	FollowUser     string // staff userid
	State          string
}

// Server is a running fake. Its fields may be changed between requests
// through the methods.
type Server struct {
	*httptest.Server
	CorpID, Secret string

	mu       sync.Mutex
	token    string
	contacts map[string]Contact
	tokens   atomic.Int64 // tokens issued
	calls    map[string]int
	faults   map[string][]fault       // path -> injected answers, in order
	delays   map[string]time.Duration // path -> delay before answering
	now      func() time.Time
	mass     massState
	tagLib   tagState
	rates    map[string]*rateState // path -> frequency limits (SetRateLimit)
	ways     wayState              // contact ways, welcome codes, transfers (contactway.go)
	groups   groupState            // customer groups (groups.go)
	js       jsState               // JS-SDK tickets and OAuth2 codes (jsapi.go)
	moments  momentState           // customer moments (moments.go)
}

// New starts a fake for one corp and secret.
func New(corpID, secret string) *Server {
	s := &Server{
		CorpID: corpID, Secret: secret, contacts: map[string]Contact{}, calls: map[string]int{},
		faults: map[string][]fault{}, delays: map[string]time.Duration{}, now: time.Now,
		mass: newMassState(), tagLib: newTagState(), rates: map[string]*rateState{},
	}
	for _, p := range []string{PathGetCorpTagList, PathMarkTag, PathGetContact} {
		s.rates[p] = &rateState{perMinute: LimitPerMinute, perHour: LimitPerHour}
	}
	mux := http.NewServeMux()
	s.handle(mux, "/cgi-bin/gettoken", s.gettoken)
	s.handle(mux, PathGetContact, s.getContact)
	s.handle(mux, PathGetCorpTagList, s.getCorpTagList)
	s.handle(mux, PathMarkTag, s.markTag)
	s.handle(mux, PathAddMsgTemplate, s.addMsgTemplate)
	s.handle(mux, PathGetGroupMsgSendResult, s.getGroupMsgSendResult)
	s.handle(mux, PathRobotWebhook, s.robotSend)
	s.handle(mux, PathGetGroupMsgList, s.getGroupMsgList)
	s.routeContactWays(mux)
	s.initGroups(mux)
	s.jsapiRoutes(mux)
	s.routeMoments(mux)
	s.Server = httptest.NewServer(mux)
	return s
}

// AddContact makes a customer known to externalcontact/get and a friend
// (contact) of staff member c.FollowUser for add_msg_template. Adding the
// same customer for another staff member keeps the earlier friendships;
// externalcontact/get answers the latest Contact.
func (s *Server) AddContact(c Contact) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.contacts[c.ExternalUserID] = c
	if c.FollowUser != "" {
		if s.mass.friends[c.FollowUser] == nil {
			s.mass.friends[c.FollowUser] = map[string]bool{}
		}
		s.mass.friends[c.FollowUser][c.ExternalUserID] = true
	}
}

// ExpireToken makes the current access token answer 42001.
func (s *Server) ExpireToken() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = ""
}

// Calls returns how often a path was called, injected failures included.
func (s *Server) Calls(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[path]
}

// SetClock replaces the clock (time.Now by default) that dates mass
// messages, counts the per-day cap and the robots' per-minute limit.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// fault is one injected answer: an errcode (HTTP 200) or an HTTP status.
type fault struct {
	errcode    int
	httpStatus int
}

// FailNext makes the next n requests to path answer errcode (with HTTP 200,
// as WeCom does) without being processed: 45009 (frequency limit), 42001
// (token expired), 40014 (invalid token), -1 (system busy) or any other.
// Faults queue in the order injected, together with Fail5xx ones.
func (s *Server) FailNext(path string, errcode, n int) {
	s.queue(path, fault{errcode: errcode}, n)
}

// Fail5xx makes the next n requests to path answer HTTP 503 without being
// processed.
func (s *Server) Fail5xx(path string, n int) {
	s.queue(path, fault{httpStatus: http.StatusServiceUnavailable}, n)
}

func (s *Server) queue(path string, f fault, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults[path] = append(s.faults[path], f)
	}
}

// Delay holds every answer on path for d (0 stops delaying) after the
// request was processed, until the client gives up: a client whose timeout
// is shorter than d sees a timeout, and — as with the real server — an
// add_msg_template it timed out on has still created its task.
func (s *Server) Delay(path string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delays[path] = d
}

// errmsgs are the errmsg the fake gives injected and enforced errcodes.
var errmsgs = map[int]string{
	-1:    "system busy",
	40014: "invalid access_token",
	42001: "access_token expired",
	45009: "api freq out of limit",
}

func errBody(code int, msg string) map[string]any {
	if msg == "" {
		msg = errmsgs[code]
	}
	if msg == "" {
		msg = "injected error"
	}
	return map[string]any{"errcode": code, "errmsg": msg}
}

// handle registers h on path behind call counting and fault injection.
func (s *Server) handle(mux *http.ServeMux, path string, h http.HandlerFunc) {
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.calls[path]++
		var f *fault
		if q := s.faults[path]; len(q) > 0 {
			f, s.faults[path] = &q[0], q[1:]
		} else if s.overLimit(path) {
			f = &fault{errcode: 45009}
		}
		delay := s.delays[path]
		s.mu.Unlock()
		rec := httptest.NewRecorder()
		switch {
		case f == nil:
			h(rec, r)
		case f.httpStatus != 0:
			http.Error(rec, http.StatusText(f.httpStatus), f.httpStatus)
		default:
			writeJSON(rec, errBody(f.errcode, ""))
		}
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(v)
}

// readJSON decodes a POST body into v, answering 43002 for another method
// and 47001 (data format error) for a body that is not JSON of v's shape.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if r.Method != http.MethodPost {
		writeJSON(w, errBody(43002, "require POST method"))
		return false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		writeJSON(w, errBody(47001, "data format error: "+err.Error()))
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeJSON(w, errBody(47001, "data format error, Warning: wrong json format. "+err.Error()))
		return false
	}
	return true
}

func (s *Server) gettoken(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("corpid") != s.CorpID || q.Get("corpsecret") != s.Secret {
		writeJSON(w, map[string]any{"errcode": 40001, "errmsg": "invalid credential"})
		return
	}
	s.mu.Lock()
	s.token = fmt.Sprintf("token-%d", s.tokens.Add(1))
	tok := s.token
	s.mu.Unlock()
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "access_token": tok, "expires_in": 7200})
}

// checkToken answers 40014/42001 for a bad or expired token.
func (s *Server) checkToken(w http.ResponseWriter, r *http.Request) bool {
	tok := r.URL.Query().Get("access_token")
	s.mu.Lock()
	cur := s.token
	s.mu.Unlock()
	switch {
	case tok == "":
		writeJSON(w, map[string]any{"errcode": 41001, "errmsg": "access_token missing"})
	case cur == "" && tok != "":
		writeJSON(w, map[string]any{"errcode": 42001, "errmsg": "access_token expired"})
	case tok != cur:
		writeJSON(w, map[string]any{"errcode": 40014, "errmsg": "invalid access_token"})
	default:
		return true
	}
	return false
}

func (s *Server) getContact(w http.ResponseWriter, r *http.Request) {
	if !s.checkToken(w, r) {
		return
	}
	id := r.URL.Query().Get("external_userid")
	s.mu.Lock()
	c, ok := s.contacts[id]
	var follow []map[string]any
	if ok {
		follow = s.followUsers(c)
	}
	s.mu.Unlock()
	if !ok {
		writeJSON(w, map[string]any{"errcode": 84061, "errmsg": "not external contact"})
		return
	}
	writeJSON(w, map[string]any{
		"errcode": 0, "errmsg": "ok",
		"external_contact": map[string]any{"external_userid": c.ExternalUserID, "name": c.Name, "type": 1, "gender": 2, "unionid": c.UnionID},
		"follow_user":      follow,
	})
}
