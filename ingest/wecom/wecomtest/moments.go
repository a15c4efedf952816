package wecomtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"time"
	"unicode/utf8"
)

// Paths of the customer-moments APIs (客户朋友圈, document/path/95094 and
// 93333).
const (
	PathAddMomentTask         = "/cgi-bin/externalcontact/add_moment_task"
	PathGetMomentTaskResult   = "/cgi-bin/externalcontact/get_moment_task_result"
	PathGetMomentList         = "/cgi-bin/externalcontact/get_moment_list"
	PathGetMomentTask         = "/cgi-bin/externalcontact/get_moment_task"
	PathGetMomentCustomerList = "/cgi-bin/externalcontact/get_moment_customer_list"
	PathGetMomentSendResult   = "/cgi-bin/externalcontact/get_moment_send_result"
)

// Moment is a moment task as the fake recorded it.
type Moment struct {
	JobID, MomentID string
	Text            string
	Attachments     []json.RawMessage
	Senders         []string // the valid senders the task went to
	InvalidSenders  []string
	TagIDs          []string // the valid tags
	InvalidTags     []string
	CreatedAt       time.Time
	Published       map[string]bool     // sender -> published
	Visible         map[string][]string // sender -> customers chosen at publishing
	Reached         map[string][]string // sender -> customers it reached
}

type momentState struct {
	byJob    map[string]*Moment
	byID     map[string]*Moment
	order    []*Moment
	jobDelay time.Duration // how long a job takes to complete (SetMomentJobDelay)
	next     int
}

// routeMoments registers the moment paths under WeCom's per-API limits.
func (s *Server) routeMoments(mux *http.ServeMux) {
	s.moments = momentState{byJob: map[string]*Moment{}, byID: map[string]*Moment{}}
	for p, h := range map[string]http.HandlerFunc{
		PathAddMomentTask: s.addMomentTask, PathGetMomentTaskResult: s.getMomentTaskResult, PathGetMomentList: s.getMomentList,
		PathGetMomentTask: s.getMomentTask, PathGetMomentCustomerList: s.getMomentCustomers, PathGetMomentSendResult: s.getMomentSendResult,
	} {
		s.rates[p] = &rateState{perMinute: LimitPerMinute, perHour: LimitPerHour}
		s.handle(mux, p, h)
	}
}

// SetMomentJobDelay makes a moment job take d on the fake's clock:
// get_moment_task_result answers status 2 (running) until then, and the
// moment is not listed by get_moment_list. 0 (the default) completes a job
// at once.
func (s *Server) SetMomentJobDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.moments.jobDelay = d
}

// Moments returns the moment tasks created, oldest first (copies).
func (s *Server) Moments() []Moment {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Moment, len(s.moments.order))
	for i, m := range s.moments.order {
		out[i] = *m
	}
	return out
}

// PublishMoment plays sender confirming the moment in the WeCom app: it
// becomes visible to the sender's customers carrying one of its tags (all
// the sender's customers when it has none), and reaches those still the
// sender's contacts. It reports whether the sender had the moment to
// publish.
func (s *Server) PublishMoment(momentID, sender string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.moments.byID[momentID]
	if m == nil {
		return false
	}
	if _, ok := m.Published[sender]; !ok || m.Published[sender] {
		return false
	}
	m.Published[sender] = true
	var visible []string
	for ext := range s.mass.friends[sender] {
		if len(m.TagIDs) == 0 || s.pairHasAny(sender, ext, m.TagIDs) {
			visible = append(visible, ext)
		}
	}
	sort.Strings(visible)
	m.Visible[sender], m.Reached[sender] = visible, visible
	return true
}

func (s *Server) pairHasAny(sender, ext string, tags []string) bool {
	on := s.tagLib.pairs[[2]string{sender, ext}]
	for _, t := range tags {
		if on[t] {
			return true
		}
	}
	return false
}

type momentRequest struct {
	Text *struct {
		Content string `json:"content"`
	} `json:"text"`
	Attachments  []json.RawMessage `json:"attachments"`
	VisibleRange *struct {
		SenderList *struct {
			UserList []string `json:"user_list"`
		} `json:"sender_list"`
		ExternalContactList *struct {
			TagList []string `json:"tag_list"`
		} `json:"external_contact_list"`
	} `json:"visible_range"`
}

// checkMomentContent answers WeCom's refusal of the content: the errmsg
// WeCom documents ('invalid text size', 'invalid attachments size',
// 'invalid attachments msgtype') with errcode 40058, an assumption (the
// document names no number).
func checkMomentContent(text string, atts []json.RawMessage) string {
	if text == "" && len(atts) == 0 {
		return "text and attachments are both empty"
	}
	if utf8.RuneCountInString(text) > 2000 || len(text) > 4000 {
		return "invalid text size"
	}
	kinds := map[string]int{}
	for _, raw := range atts {
		var a struct {
			MsgType string `json:"msgtype"`
			Image   *struct {
				MediaID string `json:"media_id"`
			} `json:"image"`
			Video *struct {
				MediaID string `json:"media_id"`
			} `json:"video"`
			Link *struct {
				Title   string `json:"title"`
				URL     string `json:"url"`
				MediaID string `json:"media_id"`
			} `json:"link"`
		}
		if json.Unmarshal(raw, &a) != nil {
			return "invalid attachments"
		}
		switch {
		case a.MsgType == "image" && a.Image != nil && a.Image.MediaID != "",
			a.MsgType == "video" && a.Video != nil && a.Video.MediaID != "":
		case a.MsgType == "link" && a.Link != nil && a.Link.URL != "" && a.Link.MediaID != "" && len(a.Link.Title) <= 64:
		default:
			return "invalid msg"
		}
		kinds[a.MsgType]++
	}
	switch {
	case len(kinds) > 1:
		return "invalid attachments msgtype"
	case kinds["image"] > 9 || kinds["video"] > 1 || kinds["link"] > 1:
		return "invalid attachments size"
	}
	return ""
}

// addMomentTask is add_moment_task: the content is checked, senders not
// registered (AddStaff) and tags not in the corp library are set aside
// as invalid, and a job is started whose moment exists once it completes.
// Without senders the task goes to every registered staff member.
func (s *Server) addMomentTask(w http.ResponseWriter, r *http.Request) {
	var req momentRequest
	if !s.checkToken(w, r) || !readJSON(w, r, &req) {
		return
	}
	text := ""
	if req.Text != nil {
		text = req.Text.Content
	}
	if msg := checkMomentContent(text, req.Attachments); msg != "" {
		writeJSON(w, errBody(ErrCodeInvalidParam, msg))
		return
	}
	var senders, tags []string
	if vr := req.VisibleRange; vr != nil {
		if vr.SenderList != nil {
			senders = vr.SenderList.UserList
		}
		if vr.ExternalContactList != nil {
			tags = vr.ExternalContactList.TagList
		}
	}
	if len(senders) > 100000 {
		invalid(w, "sender_list.user_list (at most 100000)")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.moments.next++
	m := &Moment{JobID: fmt.Sprintf("job%06d", s.moments.next), MomentID: fmt.Sprintf("mom%06d", s.moments.next),
		Text: text, Attachments: req.Attachments, CreatedAt: s.now(),
		Published: map[string]bool{}, Visible: map[string][]string{}, Reached: map[string][]string{}}
	if len(senders) == 0 {
		for id := range s.mass.staff {
			senders = append(senders, id)
		}
		sort.Strings(senders)
	}
	for _, u := range senders {
		if s.mass.staff[u] {
			m.Senders = append(m.Senders, u)
			m.Published[u] = false
		} else {
			m.InvalidSenders = append(m.InvalidSenders, u)
		}
	}
	for _, t := range tags {
		if s.tagLib.tags[t] != nil {
			m.TagIDs = append(m.TagIDs, t)
		} else {
			m.InvalidTags = append(m.InvalidTags, t)
		}
	}
	s.moments.byJob[m.JobID], s.moments.byID[m.MomentID] = m, m
	s.moments.order = append(s.moments.order, m)
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "jobid": m.JobID})
}

// complete reports whether m's job has completed on the fake's clock.
// The caller holds s.mu.
func (s *Server) complete(m *Moment) bool {
	return !s.now().Before(m.CreatedAt.Add(s.moments.jobDelay))
}

// getMomentTaskResult is get_moment_task_result (GET jobid): status 2
// while the job runs, 3 with the moment and the invalid senders and tags
// once done; an unknown jobid, or one past its 24 hours, answers 40058
// (an assumption: WeCom documents no number for it).
func (s *Server) getMomentTaskResult(w http.ResponseWriter, r *http.Request) {
	if !s.checkToken(w, r) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.moments.byJob[r.URL.Query().Get("jobid")]
	if m == nil || s.now().Sub(m.CreatedAt) > 24*time.Hour {
		invalid(w, "jobid")
		return
	}
	if !s.complete(m) {
		writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "status": 2, "type": "add_moment_task"})
		return
	}
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "status": 3, "type": "add_moment_task", "result": map[string]any{
		"errcode": 0, "errmsg": "ok", "moment_id": m.MomentID,
		"invalid_sender_list":           map[string]any{"user_list": nonNil(m.InvalidSenders)},
		"invalid_external_contact_list": map[string]any{"tag_list": nonNil(m.InvalidTags)},
	}})
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// getMomentList is get_moment_list: the corp's completed moment tasks
// created within (start_time, end_time], at most 30 days apart, in pages
// of limit (20 at most, and by default).
func (s *Server) getMomentList(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Start  int64  `json:"start_time"`
		End    int64  `json:"end_time"`
		Filter int    `json:"filter_type"`
		Cursor string `json:"cursor"`
		Limit  int    `json:"limit"`
	}
	if !s.checkToken(w, r) || !readJSON(w, r, &req) {
		return
	}
	if req.End <= req.Start || req.End-req.Start > 30*86400 {
		invalid(w, "start_time/end_time (at most 30 days apart)")
		return
	}
	s.mu.Lock()
	var all []map[string]any
	for _, m := range s.moments.order {
		at := m.CreatedAt.Unix()
		if req.Filter == 1 || at <= req.Start || at > req.End || !s.complete(m) {
			continue
		}
		all = append(all, map[string]any{"moment_id": m.MomentID, "create_time": at, "create_type": 0, "visible_type": 0,
			"text": map[string]any{"content": m.Text}})
	}
	s.mu.Unlock()
	page, next, ok := pageOf(all, req.Cursor, req.Limit, 20, 20)
	if !ok {
		invalid(w, "cursor")
		return
	}
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "moment_list": page, "next_cursor": next})
}

// pageOf cuts one page from all at cursor (a decimal offset): limit
// past max takes def, as WeCom does.
func pageOf(all []map[string]any, cursor string, limit, max, def int) ([]map[string]any, string, bool) {
	if limit <= 0 || limit > max {
		limit = def
	}
	from, ok := parseCursor(cursor)
	if !ok || from > len(all) {
		return nil, "", false
	}
	to := min(from+limit, len(all))
	next := ""
	if to < len(all) {
		next = cursorPrefix + fmt.Sprint(to)
	}
	page := all[from:to]
	if page == nil {
		page = []map[string]any{}
	}
	return page, next, true
}

type momentPageRequest struct {
	MomentID string `json:"moment_id"`
	UserID   string `json:"userid"`
	Cursor   string `json:"cursor"`
	Limit    int    `json:"limit"`
}

// readMoment decodes a moment read and finds its moment, answering 40058
// for an unknown one (and, when needUser, a missing userid).
func (s *Server) readMoment(w http.ResponseWriter, r *http.Request, needUser bool) (momentPageRequest, *Moment, bool) {
	var req momentPageRequest
	if !s.checkToken(w, r) || !readJSON(w, r, &req) {
		return req, nil, false
	}
	s.mu.Lock()
	m := s.moments.byID[req.MomentID]
	s.mu.Unlock()
	switch {
	case m == nil:
		invalid(w, "moment_id")
	case needUser && req.UserID == "":
		invalid(w, "userid")
	default:
		return req, m, true
	}
	return req, nil, false
}

// getMomentTask is get_moment_task: each sender with publish_status, in
// pages of limit (1,000 at most; 500 by default).
func (s *Server) getMomentTask(w http.ResponseWriter, r *http.Request) {
	req, m, ok := s.readMoment(w, r, false)
	if !ok {
		return
	}
	s.mu.Lock()
	var all []map[string]any
	for _, u := range m.Senders {
		all = append(all, map[string]any{"userid": u, "publish_status": boolInt(m.Published[u])})
	}
	s.mu.Unlock()
	s.answerPage(w, "task_list", all, req.Cursor, req.Limit, 1000, 500)
}

func (s *Server) answerPage(w http.ResponseWriter, key string, all []map[string]any, cursor string, limit, max, def int) {
	page, next, ok := pageOf(all, cursor, limit, max, def)
	if !ok {
		invalid(w, "cursor")
		return
	}
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", key: page, "next_cursor": next})
}

// getMomentCustomers is get_moment_customer_list: the customers a
// sender made the moment visible to (1,000 a page at most; 500 by
// default).
func (s *Server) getMomentCustomers(w http.ResponseWriter, r *http.Request) {
	req, m, ok := s.readMoment(w, r, true)
	if !ok {
		return
	}
	s.mu.Lock()
	var all []map[string]any
	for _, ext := range m.Visible[req.UserID] {
		all = append(all, map[string]any{"userid": req.UserID, "external_userid": ext})
	}
	s.mu.Unlock()
	s.answerPage(w, "customer_list", all, req.Cursor, req.Limit, 1000, 500)
}

// getMomentSendResult is get_moment_send_result: the customers the moment
// reached through a sender (5,000 a page at most; 3,000 by default).
func (s *Server) getMomentSendResult(w http.ResponseWriter, r *http.Request) {
	req, m, ok := s.readMoment(w, r, true)
	if !ok {
		return
	}
	s.mu.Lock()
	var all []map[string]any
	for _, ext := range m.Reached[req.UserID] {
		all = append(all, map[string]any{"external_userid": ext})
	}
	s.mu.Unlock()
	s.answerPage(w, "customer_list", all, req.Cursor, req.Limit, 5000, 3000)
}
