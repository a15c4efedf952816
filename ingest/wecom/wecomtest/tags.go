package wecomtest

import (
	"fmt"
	"net/http"
	"sort"
	"time"
)

// Paths of the customer-tag APIs the fake implements.
const (
	PathGetCorpTagList = "/cgi-bin/externalcontact/get_corp_tag_list"
	PathMarkTag        = "/cgi-bin/externalcontact/mark_tag"
	PathGetContact     = "/cgi-bin/externalcontact/get"
)

// WeCom's per-corp, per-API frequency limits (document/path/90454): over
// either, the API answers 45009 for 60 s (minute) or 60 min (hour).
const (
	LimitPerMinute = 10000
	LimitPerHour   = 150000
)

// maxTagsPerPair is mark_tag's limit of tags per staff member and customer.
const maxTagsPerPair = 3000

// corpTag is a tag of the fake's corp tag library.
type corpTag struct {
	id, name, groupID, groupName string
	created                      int64
}

// tagState is the corp tag library and the tags on each (staff, customer)
// pair.
type tagState struct {
	tags    map[string]*corpTag
	order   []string                      // tag ids in creation order
	groups  map[string]string             // group name -> group id
	pairs   map[[2]string]map[string]bool // (staff, customer) -> tag ids
	nextTag int
}

func newTagState() tagState {
	return tagState{tags: map[string]*corpTag{}, groups: map[string]string{}, pairs: map[[2]string]map[string]bool{}}
}

// rateState counts calls per path in the current minute and hour and
// blocks a path that went over (SetRateLimit).
type rateState struct {
	perMinute, perHour int
	minute, hour       time.Time // start of the current windows
	inMinute, inHour   int
	blockedUntil       time.Time
}

// SetRateLimit enforces WeCom's frequency limits on path with the fake's
// clock (SetClock): past perMinute calls in a clock minute the path answers
// 45009 for 60 s, past perHour calls in a clock hour for 60 min. Refused
// calls do not count. The tag paths (get_corp_tag_list, mark_tag,
// externalcontact/get) start with the documented LimitPerMinute and
// LimitPerHour; 0 and 0 lift a path's limits.
func (s *Server) SetRateLimit(path string, perMinute, perHour int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if perMinute == 0 && perHour == 0 {
		delete(s.rates, path)
		return
	}
	s.rates[path] = &rateState{perMinute: perMinute, perHour: perHour}
}

// overLimit counts a call to path and reports whether it is refused with
// 45009. The caller holds s.mu.
func (s *Server) overLimit(path string) bool {
	r := s.rates[path]
	if r == nil {
		return false
	}
	now := s.now()
	if now.Before(r.blockedUntil) {
		return true
	}
	if m := now.Truncate(time.Minute); !m.Equal(r.minute) {
		r.minute, r.inMinute = m, 0
	}
	if h := now.Truncate(time.Hour); !h.Equal(r.hour) {
		r.hour, r.inHour = h, 0
	}
	switch {
	case r.perHour > 0 && r.inHour >= r.perHour:
		r.blockedUntil = now.Add(time.Hour)
		return true
	case r.perMinute > 0 && r.inMinute >= r.perMinute:
		r.blockedUntil = now.Add(time.Minute)
		return true
	}
	r.inMinute++
	r.inHour++
	return false
}

// AddCorpTag adds a tag to the corp tag library under groupName (created
// when new) and returns its id.
func (s *Server) AddCorpTag(groupName, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.tagLib.groups[groupName]
	if !ok {
		g = fmt.Sprintf("etgroup%d", len(s.tagLib.groups)+1)
		s.tagLib.groups[groupName] = g
	}
	s.tagLib.nextTag++
	id := fmt.Sprintf("ettag%d", s.tagLib.nextTag)
	s.tagLib.tags[id] = &corpTag{id: id, name: name, groupID: g, groupName: groupName, created: s.now().Unix()}
	s.tagLib.order = append(s.tagLib.order, id)
	return id
}

// DeleteCorpTag removes a tag from the library: get_corp_tag_list no longer
// lists it and mark_tag refuses it (40068).
func (s *Server) DeleteCorpTag(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tagLib.tags, id)
}

// TagByHand puts (on true) or takes off a tag on a pair as a staff member
// does in the WeCom app, without any API call.
func (s *Server) TagByHand(staff, externalUserID, tagID string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setPairTag(staff, externalUserID, tagID, on)
}

func (s *Server) setPairTag(staff, ext, tagID string, on bool) {
	k := [2]string{staff, ext}
	if on {
		if s.tagLib.pairs[k] == nil {
			s.tagLib.pairs[k] = map[string]bool{}
		}
		s.tagLib.pairs[k][tagID] = true
		return
	}
	delete(s.tagLib.pairs[k], tagID)
}

// PairTags returns the tag ids on a (staff, customer) pair, sorted.
func (s *Server) PairTags(staff, externalUserID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pairTagsLocked(staff, externalUserID)
}

func (s *Server) pairTagsLocked(staff, ext string) []string {
	var out []string
	for id := range s.tagLib.pairs[[2]string{staff, ext}] {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// TaggedPairs counts the (staff, customer) pairs carrying tagID.
func (s *Server) TaggedPairs(tagID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, tags := range s.tagLib.pairs {
		if tags[tagID] {
			n++
		}
	}
	return n
}

func (s *Server) getCorpTagList(w http.ResponseWriter, r *http.Request) {
	if !s.checkToken(w, r) {
		return
	}
	var req struct {
		TagID   []string `json:"tag_id"`
		GroupID []string `json:"group_id"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	want := func(list []string, v string) bool {
		if len(list) == 0 {
			return true
		}
		for _, x := range list {
			if x == v {
				return true
			}
		}
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	groups := map[string]map[string]any{}
	var order []string
	for _, id := range s.tagLib.order {
		t := s.tagLib.tags[id]
		if t == nil || !want(req.TagID, t.id) || !want(req.GroupID, t.groupID) {
			continue
		}
		g := groups[t.groupID]
		if g == nil {
			g = map[string]any{"group_id": t.groupID, "group_name": t.groupName, "create_time": t.created, "order": 0, "tag": []map[string]any{}}
			groups[t.groupID] = g
			order = append(order, t.groupID)
		}
		g["tag"] = append(g["tag"].([]map[string]any), map[string]any{"id": t.id, "name": t.name, "create_time": t.created, "order": 0})
	}
	list := make([]map[string]any, 0, len(order))
	for _, g := range order {
		list = append(list, groups[g])
	}
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "tag_group": list})
}

func (s *Server) markTag(w http.ResponseWriter, r *http.Request) {
	if !s.checkToken(w, r) {
		return
	}
	var req struct {
		UserID         string   `json:"userid"`
		ExternalUserID string   `json:"external_userid"`
		AddTag         []string `json:"add_tag"`
		RemoveTag      []string `json:"remove_tag"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case req.UserID == "" || req.ExternalUserID == "":
		writeJSON(w, errBody(40058, "invalid parameter: userid and external_userid are required"))
		return
	case len(req.AddTag) == 0 && len(req.RemoveTag) == 0:
		writeJSON(w, errBody(40058, "invalid parameter: add_tag and remove_tag cannot both be empty"))
		return
	case !s.mass.friends[req.UserID][req.ExternalUserID]:
		writeJSON(w, errBody(84061, "not external contact"))
		return
	}
	for _, id := range append(append([]string(nil), req.AddTag...), req.RemoveTag...) {
		if s.tagLib.tags[id] == nil {
			writeJSON(w, errBody(40068, "invalid tagid"))
			return
		}
	}
	if len(s.tagLib.pairs[[2]string{req.UserID, req.ExternalUserID}])+len(req.AddTag) > maxTagsPerPair {
		writeJSON(w, errBody(40058, "invalid parameter: too many tags on the customer"))
		return
	}
	for _, id := range req.AddTag {
		s.setPairTag(req.UserID, req.ExternalUserID, id, true)
	}
	for _, id := range req.RemoveTag {
		s.setPairTag(req.UserID, req.ExternalUserID, id, false)
	}
	writeJSON(w, errBody(0, "ok"))
}

// followUsers is externalcontact/get's follow_user of customer c: every
// staff member who has them as a contact, with the corp tags on the pair.
// The caller holds s.mu.
func (s *Server) followUsers(c Contact) []map[string]any {
	var staff []string
	for st, custs := range s.mass.friends {
		if custs[c.ExternalUserID] {
			staff = append(staff, st)
		}
	}
	if len(staff) == 0 && c.FollowUser != "" {
		staff = []string{c.FollowUser}
	}
	sort.Strings(staff)
	out := make([]map[string]any, 0, len(staff))
	for _, st := range staff {
		tags := []map[string]any{}
		for _, id := range s.pairTagsLocked(st, c.ExternalUserID) {
			if t := s.tagLib.tags[id]; t != nil {
				tags = append(tags, map[string]any{"group_name": t.groupName, "tag_name": t.name, "tag_id": t.id, "type": 1})
			}
		}
		state := ""
		if st == c.FollowUser {
			state = c.State
		}
		out = append(out, map[string]any{"userid": st, "remark": "", "description": "", "createtime": 1700000000, "state": state, "add_way": 1, "tags": tags})
	}
	return out
}
