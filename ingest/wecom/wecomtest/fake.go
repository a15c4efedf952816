// Package wecomtest is a fake WeCom API server for tests: it speaks the
// real HTTP contract (paths, query parameters, errcode/errmsg JSON, token
// expiry) so the platform's client cannot tell it from the real one.
package wecomtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
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
}

// New starts a fake for one corp and secret.
func New(corpID, secret string) *Server {
	s := &Server{CorpID: corpID, Secret: secret, contacts: map[string]Contact{}, calls: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/cgi-bin/gettoken", s.gettoken)
	mux.HandleFunc("/cgi-bin/externalcontact/get", s.getContact)
	s.Server = httptest.NewServer(mux)
	return s
}

// AddContact makes a customer known to externalcontact/get.
func (s *Server) AddContact(c Contact) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.contacts[c.ExternalUserID] = c
}

// ExpireToken makes the current access token answer 42001.
func (s *Server) ExpireToken() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = ""
}

// Calls returns how often a path was called.
func (s *Server) Calls(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[path]
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) gettoken(w http.ResponseWriter, r *http.Request) {
	s.count(r)
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

func (s *Server) count(r *http.Request) {
	s.mu.Lock()
	s.calls[r.URL.Path]++
	s.mu.Unlock()
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
	s.count(r)
	if !s.checkToken(w, r) {
		return
	}
	id := r.URL.Query().Get("external_userid")
	s.mu.Lock()
	c, ok := s.contacts[id]
	s.mu.Unlock()
	if !ok {
		writeJSON(w, map[string]any{"errcode": 84061, "errmsg": "not external contact"})
		return
	}
	writeJSON(w, map[string]any{
		"errcode": 0, "errmsg": "ok",
		"external_contact": map[string]any{"external_userid": c.ExternalUserID, "name": c.Name, "type": 1, "gender": 2, "unionid": c.UnionID},
		"follow_user":      []map[string]any{{"userid": c.FollowUser, "remark": "", "description": "", "createtime": 1700000000, "state": c.State, "add_way": 1}},
	})
}
