package wecomtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/granarycdp/cdp/schema"
)

// Paths of the mass-message APIs.
const (
	PathAddMsgTemplate        = "/cgi-bin/externalcontact/add_msg_template"
	PathGetGroupMsgSendResult = "/cgi-bin/externalcontact/get_groupmsg_send_result"
	PathRobotWebhook          = "/cgi-bin/webhook/send"
	PathGetGroupMsgList       = "/cgi-bin/externalcontact/get_groupmsg_list_v2"
)

// DedupKeyHeader is the header in which the platform's client labels an
// add_msg_template request (wecom.DedupKeyHeader; not a WeCom API field).
// The fake records it in Task.DedupKey and, like WeCom, does not
// deduplicate on it.
const DedupKeyHeader = "X-Granary-Dedup-Key"

// Documented limits the fake enforces.
const (
	MaxRecipients      = 10000 // external_userid per add_msg_template (document/path/92135)
	MaxAttachments     = 9     // attachments per add_msg_template
	MaxTextBytes       = 4000  // add_msg_template text.content
	MaxResultLimit     = 1000  // get_groupmsg_send_result limit; 0 means 500
	MaxListLimit       = 100   // get_groupmsg_list_v2 limit; 0 means 50
	MaxListSpan        = 31 * 24 * time.Hour
	RobotPerMinute     = 20   // messages per robot per minute (document/path/91770)
	MaxRobotText       = 2048 // robot text content bytes
	MaxRobotMarkdown   = 4096 // robot markdown content bytes
	DefaultDailyCap    = 1    // mass messages a customer receives per day
	defaultResultLimit = 500
)

// Error codes the fake answers. WeCom's documents name the limits but not
// always the code a breach gets: where they do not, the fake answers
// errInvalidParam, WeCom's generic "不合法的参数" (invalid parameter).
const (
	errInvalidUserID  = 40003 // 不合法的UserID: unknown or missing sender / userid
	errInvalidMsgType = 40008 // 不合法的msgtype
	errInvalidParam   = 40058 // 不合法的参数: a documented limit broken, an unknown msgid or cursor
	errRequirePOST    = 43002 // the API needs POST
	errEmptyContent   = 44004 // text content empty
	errFrequency      = 45009 // frequency limit
	errBadJSON        = 47001 // data format error
	errBadWebhook     = 93000 // invalid webhook url (unknown key)
)

// Send statuses of get_groupmsg_send_result.
const (
	StatusNotSent   = 0 // the sender has not confirmed the task
	StatusSent      = 1
	StatusNotFriend = 2 // not the sender's contact when the task was confirmed
	StatusCapped    = 3 // the customer had already received DailyCap mass messages that day
)

// Task is an add_msg_template task as the fake recorded it.
type Task struct {
	MsgID           string
	Sender          string
	ChatType        string   // "" (single) or "group"
	ChatIDs         []string // group tasks: the groups, without duplicates
	ExternalUserIDs []string // accepted recipients, in request order, without duplicates
	FailList        []string // refused recipients: unknown to the corp
	Text            string
	Attachments     []json.RawMessage // as received
	DedupKey        string            // the DedupKeyHeader header, "" when absent
	CreatedAt       time.Time
	Confirmed       bool
	Status          map[string]int       // external_userid -> Status*; StatusNotSent until confirmed
	SendTime        map[string]time.Time // external_userid -> delivery time, StatusSent only
}

// RobotMessage is a message a robot webhook accepted.
type RobotMessage struct {
	Key                 string
	MsgType             string // text or markdown
	Content             string
	MentionedList       []string
	MentionedMobileList []string
	At                  time.Time
}

type massState struct {
	staff      map[string]bool            // registered staff; empty: any sender
	friends    map[string]map[string]bool // staff -> customers (AddContact)
	dailyCap   int
	tasks      []*Task
	byID       map[string]*Task
	received   map[string][]time.Time // customer -> delivery times
	robots     map[string]bool        // registered robot keys; empty: any key
	robotSent  map[string][]time.Time // key -> accepted message times
	robotMsgs  map[string][]RobotMessage
	nextTaskID int
}

func newMassState() massState {
	return massState{
		staff: map[string]bool{}, friends: map[string]map[string]bool{}, dailyCap: DefaultDailyCap,
		byID: map[string]*Task{}, received: map[string][]time.Time{},
		robots: map[string]bool{}, robotSent: map[string][]time.Time{}, robotMsgs: map[string][]RobotMessage{},
	}
}

// AddStaff registers staff userids. Once any is registered, add_msg_template
// refuses a sender that is not (errcode 40003); before, any sender goes.
func (s *Server) AddStaff(userids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range userids {
		s.mass.staff[id] = true
	}
}

// SetDailyCap sets how many mass messages a customer receives per day
// (Beijing time); DefaultDailyCap unless changed. n < 1 means 1.
func (s *Server) SetDailyCap(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mass.dailyCap = max(n, 1)
}

// AddRobot registers robot webhook keys. Once any is registered, the
// webhook refuses other keys (errcode 93000); before, any non-empty key goes.
func (s *Server) AddRobot(keys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		s.mass.robots[k] = true
	}
}

// ConfirmAll plays every staff member confirming every pending task, in
// creation order, at the fake's clock time: a recipient who is not the
// sender's contact gets StatusNotFriend, one who already received DailyCap
// mass messages that day StatusCapped, the others StatusSent and count in
// Received.
func (s *Server) ConfirmAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.mass.tasks {
		s.confirm(t)
	}
}

// Confirm plays the sender of task msgid confirming it, as ConfirmAll; it
// reports whether a pending task msgid existed.
func (s *Server) Confirm(msgid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.mass.byID[msgid]
	if t == nil || t.Confirmed {
		return false
	}
	s.confirm(t)
	return true
}

func (s *Server) confirm(t *Task) {
	if t.Confirmed {
		return
	}
	now := s.now()
	t.Confirmed = true
	if t.ChatType == "group" {
		s.confirmGroup(t, now)
		return
	}
	day := now.In(schema.Beijing).Format(time.DateOnly)
	for _, id := range t.ExternalUserIDs {
		s.deliver(t, id, s.mass.friends[t.Sender][id], day, now)
	}
}

func (s *Server) receivedOn(id, day string) int {
	n := 0
	for _, at := range s.mass.received[id] {
		if at.In(schema.Beijing).Format(time.DateOnly) == day {
			n++
		}
	}
	return n
}

// Tasks returns copies of the add_msg_template tasks in creation order.
func (s *Server) Tasks() []Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Task, 0, len(s.mass.tasks))
	for _, t := range s.mass.tasks {
		c := *t
		c.ExternalUserIDs = append([]string(nil), t.ExternalUserIDs...)
		c.ChatIDs = append([]string(nil), t.ChatIDs...)
		c.FailList = append([]string(nil), t.FailList...)
		c.Attachments = append([]json.RawMessage(nil), t.Attachments...)
		c.Status, c.SendTime = map[string]int{}, map[string]time.Time{}
		for k, v := range t.Status {
			c.Status[k] = v
		}
		for k, v := range t.SendTime {
			c.SendTime[k] = v
		}
		out = append(out, c)
	}
	return out
}

// Received returns how many mass messages the customer has received.
func (s *Server) Received(externalUserID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mass.received[externalUserID])
}

// RobotMessages returns the messages robot key accepted, oldest first.
func (s *Server) RobotMessages(key string) []RobotMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]RobotMessage(nil), s.mass.robotMsgs[key]...)
}

type addMsgTemplateRequest struct {
	ChatType       string   `json:"chat_type"`
	ExternalUserID []string `json:"external_userid"`
	ChatIDList     []string `json:"chat_id_list"`
	Sender         string   `json:"sender"`
	Text           *struct {
		Content string `json:"content"`
	} `json:"text"`
	Attachments []json.RawMessage `json:"attachments"`
}

type attachment struct {
	MsgType string `json:"msgtype"`
	Link    *struct {
		Title string `json:"title"`
		URL   string `json:"url"`
	} `json:"link"`
	MiniProgram *struct {
		Title      string `json:"title"`
		PicMediaID string `json:"pic_media_id"`
		AppID      string `json:"appid"`
		Page       string `json:"page"`
	} `json:"miniprogram"`
	Image *struct {
		MediaID string `json:"media_id"`
	} `json:"image"`
	Video *struct {
		MediaID string `json:"media_id"`
	} `json:"video"`
	File *struct {
		MediaID string `json:"media_id"`
	} `json:"file"`
}

// checkAttachment returns the errcode and errmsg refusing a, or 0.
func checkAttachment(raw json.RawMessage) (int, string) {
	var a attachment
	if err := json.Unmarshal(raw, &a); err != nil {
		return errBadJSON, "data format error: " + err.Error()
	}
	bad := false
	switch a.MsgType {
	case "link":
		bad = a.Link == nil || a.Link.Title == "" || a.Link.URL == ""
	case "miniprogram":
		m := a.MiniProgram
		bad = m == nil || m.Title == "" || m.PicMediaID == "" || m.AppID == "" || m.Page == ""
	case "image":
		bad = a.Image == nil || a.Image.MediaID == ""
	case "video":
		bad = a.Video == nil || a.Video.MediaID == ""
	case "file":
		bad = a.File == nil || a.File.MediaID == ""
	default:
		return errInvalidMsgType, "invalid attachment msgtype " + strconv.Quote(a.MsgType)
	}
	if bad {
		return errInvalidParam, "invalid " + a.MsgType + " attachment: missing field"
	}
	return 0, ""
}

func (s *Server) addMsgTemplate(w http.ResponseWriter, r *http.Request) {
	if !s.checkToken(w, r) {
		return
	}
	var req addMsgTemplateRequest
	if !readJSON(w, r, &req) {
		return
	}
	text := ""
	if req.Text != nil {
		text = req.Text.Content
	}
	if req.ChatType == "group" {
		s.addGroupMsgTemplate(w, r, req, text)
		return
	}
	switch {
	case req.ChatType != "" && req.ChatType != "single", len(req.ChatIDList) > 0:
		writeJSON(w, errBody(errInvalidParam, "invalid chat_type, or chat_id_list with chat_type single"))
		return
	case len(req.ExternalUserID) == 0:
		writeJSON(w, errBody(errInvalidParam, "external_userid empty"))
		return
	case len(req.ExternalUserID) > MaxRecipients:
		writeJSON(w, errBody(errInvalidParam, fmt.Sprintf("external_userid exceed max size %d", MaxRecipients)))
		return
	}
	if code, msg := checkContent(text, req.Attachments); code != 0 {
		writeJSON(w, errBody(code, msg))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The fake requires a sender: it models one task per staff member.
	if req.Sender == "" || (len(s.mass.staff) > 0 && !s.mass.staff[req.Sender]) {
		writeJSON(w, errBody(errInvalidUserID, "invalid sender userid "+strconv.Quote(req.Sender)))
		return
	}
	s.mass.nextTaskID++
	t := &Task{
		MsgID: fmt.Sprintf("msgFAKE%08d", s.mass.nextTaskID), Sender: req.Sender, Text: text,
		Attachments: req.Attachments, DedupKey: r.Header.Get(DedupKeyHeader), CreatedAt: s.now(),
		Status: map[string]int{}, SendTime: map[string]time.Time{},
	}
	seen := map[string]bool{}
	for _, id := range req.ExternalUserID {
		switch {
		case seen[id]:
		case !s.knownCustomer(id):
			t.FailList = append(t.FailList, id)
		default:
			t.ExternalUserIDs = append(t.ExternalUserIDs, id)
			t.Status[id] = StatusNotSent
		}
		seen[id] = true
	}
	s.mass.tasks = append(s.mass.tasks, t)
	s.mass.byID[t.MsgID] = t
	failList := append([]string{}, t.FailList...)
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "fail_list": failList, "msgid": t.MsgID})
}

// knownCustomer reports whether id is a contact of any staff member: the
// fake puts ids unknown to the corp in fail_list and sends the rest, those
// who are not the sender's contacts ending with StatusNotFriend.
func (s *Server) knownCustomer(id string) bool {
	if _, ok := s.contacts[id]; ok {
		return true
	}
	for _, customers := range s.mass.friends {
		if customers[id] {
			return true
		}
	}
	return false
}

type sendResultRequest struct {
	MsgID  string `json:"msgid"`
	UserID string `json:"userid"`
	Limit  int    `json:"limit"`
	Cursor string `json:"cursor"`
}

const cursorPrefix = "fakecursor-"

// parseCursor reads a page cursor the fake gave ("" is the first page)
// into the offset of the page.
func parseCursor(cursor string) (int, bool) {
	if cursor == "" {
		return 0, true
	}
	n, err := strconv.Atoi(strings.TrimPrefix(cursor, cursorPrefix))
	return n, err == nil && strings.HasPrefix(cursor, cursorPrefix) && n >= 0
}

func (s *Server) getGroupMsgSendResult(w http.ResponseWriter, r *http.Request) {
	if !s.checkToken(w, r) {
		return
	}
	var req sendResultRequest
	if !readJSON(w, r, &req) {
		return
	}
	limit := req.Limit
	switch {
	case limit <= 0:
		limit = defaultResultLimit
	case limit > MaxResultLimit:
		limit = MaxResultLimit // the fake clamps to the documented maximum
	}
	offset, ok := parseCursor(req.Cursor)
	if !ok {
		writeJSON(w, errBody(errInvalidParam, "invalid cursor"))
		return
	}
	if req.UserID == "" {
		writeJSON(w, errBody(errInvalidUserID, "userid missing"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.mass.byID[req.MsgID]
	if t == nil {
		writeJSON(w, errBody(errInvalidParam, "invalid msgid"))
		return
	}
	var ids []string
	idKey := "external_userid"
	if t.Sender == req.UserID { // results are per sending staff member
		ids = t.ExternalUserIDs
		if t.ChatType == "group" {
			ids, idKey = t.ChatIDs, "chat_id"
		}
	}
	list := []map[string]any{}
	end := min(offset+limit, len(ids))
	for _, id := range ids[min(offset, len(ids)):end] {
		e := map[string]any{idKey: id, "userid": t.Sender, "status": t.Status[id]}
		if at, ok := t.SendTime[id]; ok {
			e["send_time"] = at.Unix()
		}
		list = append(list, e)
	}
	next := ""
	if end < len(ids) {
		next = cursorPrefix + strconv.Itoa(end)
	}
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "next_cursor": next, "send_list": list})
}

type groupMsgListRequest struct {
	ChatType   string `json:"chat_type"`
	StartTime  int64  `json:"start_time"`
	EndTime    int64  `json:"end_time"`
	Creator    string `json:"creator"`
	FilterType *int   `json:"filter_type"`
	Limit      int    `json:"limit"`
	Cursor     string `json:"cursor"`
}

// getGroupMsgList answers get_groupmsg_list_v2 for the tasks created
// through add_msg_template (create_type 0, enterprise-created), oldest
// first, create_time as a string as the document shows it.
func (s *Server) getGroupMsgList(w http.ResponseWriter, r *http.Request) {
	if !s.checkToken(w, r) {
		return
	}
	var req groupMsgListRequest
	if !readJSON(w, r, &req) {
		return
	}
	start, end := time.Unix(req.StartTime, 0), time.Unix(req.EndTime, 0)
	filter := 2
	if req.FilterType != nil {
		filter = *req.FilterType
	}
	limit := req.Limit
	switch {
	case req.StartTime <= 0 || req.EndTime <= 0 || end.Before(start):
		writeJSON(w, errBody(errInvalidParam, "invalid start_time or end_time"))
		return
	case end.Sub(start) > MaxListSpan:
		writeJSON(w, errBody(errInvalidParam, "time range exceeds one month"))
		return
	case req.ChatType != "" && req.ChatType != "single" && req.ChatType != "group":
		writeJSON(w, errBody(errInvalidParam, "invalid chat_type"))
		return
	case filter < 0 || filter > 2:
		writeJSON(w, errBody(errInvalidParam, "invalid filter_type"))
		return
	case limit <= 0:
		limit = 50
	case limit > MaxListLimit:
		limit = MaxListLimit
	}
	offset, ok := parseCursor(req.Cursor)
	if !ok {
		writeJSON(w, errBody(errInvalidParam, "invalid cursor"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var match []*Task
	for _, t := range s.mass.tasks {
		at := t.CreatedAt.Unix()
		group := t.ChatType == "group"
		if at >= req.StartTime && at <= req.EndTime && (req.Creator == "" || req.Creator == t.Sender) && filter != 1 && group == (req.ChatType == "group") {
			match = append(match, t)
		}
	}
	list := []map[string]any{}
	stop := min(offset+limit, len(match))
	for _, t := range match[min(offset, len(match)):stop] {
		m := map[string]any{"msgid": t.MsgID, "creator": t.Sender, "create_time": strconv.FormatInt(t.CreatedAt.Unix(), 10), "create_type": 0}
		if t.Text != "" {
			m["text"] = map[string]string{"content": t.Text}
		}
		list = append(list, m)
	}
	next := ""
	if stop < len(match) {
		next = cursorPrefix + strconv.Itoa(stop)
	}
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "next_cursor": next, "group_msg_list": list})
}

type robotRequest struct {
	MsgType string `json:"msgtype"`
	Text    *struct {
		Content             string   `json:"content"`
		MentionedList       []string `json:"mentioned_list"`
		MentionedMobileList []string `json:"mentioned_mobile_list"`
	} `json:"text"`
	Markdown *struct {
		Content string `json:"content"`
	} `json:"markdown"`
}

func (s *Server) robotSend(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Query().Get("key")
	s.mu.Lock()
	known := key != "" && (len(s.mass.robots) == 0 || s.mass.robots[key])
	s.mu.Unlock()
	if !known {
		writeJSON(w, errBody(errBadWebhook, "invalid webhook url"))
		return
	}
	var req robotRequest
	if !readJSON(w, r, &req) {
		return
	}
	msg := RobotMessage{Key: key, MsgType: req.MsgType}
	switch {
	case req.MsgType == "text" && req.Text != nil:
		msg.Content, msg.MentionedList, msg.MentionedMobileList = req.Text.Content, req.Text.MentionedList, req.Text.MentionedMobileList
		if len(msg.Content) > MaxRobotText {
			writeJSON(w, errBody(errInvalidParam, fmt.Sprintf("content exceed max length %d", MaxRobotText)))
			return
		}
	case req.MsgType == "markdown" && req.Markdown != nil:
		msg.Content = req.Markdown.Content
		if len(msg.Content) > MaxRobotMarkdown {
			writeJSON(w, errBody(errInvalidParam, fmt.Sprintf("markdown.content exceed max length %d", MaxRobotMarkdown)))
			return
		}
	default:
		// The fake implements text and markdown only.
		writeJSON(w, errBody(errInvalidMsgType, "invalid message type"))
		return
	}
	if msg.Content == "" {
		writeJSON(w, errBody(errEmptyContent, "empty content"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	recent := s.mass.robotSent[key][:0]
	for _, at := range s.mass.robotSent[key] {
		if now.Sub(at) < time.Minute {
			recent = append(recent, at)
		}
	}
	s.mass.robotSent[key] = recent
	if len(recent) >= RobotPerMinute {
		writeJSON(w, errBody(errFrequency, ""))
		return
	}
	msg.At = now
	s.mass.robotSent[key] = append(recent, now)
	s.mass.robotMsgs[key] = append(s.mass.robotMsgs[key], msg)
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok"})
}
