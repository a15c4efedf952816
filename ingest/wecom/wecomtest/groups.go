package wecomtest

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/granarycdp/cdp/schema"
)

// Paths of the customer-group APIs the fake implements.
const (
	PathGroupChatList = "/cgi-bin/externalcontact/groupchat/list"
	PathGroupChatGet  = "/cgi-bin/externalcontact/groupchat/get"
)

// Documented limits of the customer-group APIs the fake enforces.
const (
	MaxGroupListLimit = 1000 // groupchat/list limit, 1 to 1000
	MaxGroupOwners    = 100  // groupchat/list owner_filter.userid_list
	MaxGroupMsgChats  = 2000 // add_msg_template chat_id_list (chat_type group)
	// MaxVisibleOwners is how many staff members groupchat/list serves
	// without an owner filter: past it WeCom answers 81017.
	MaxVisibleOwners = 1000
)

const (
	errInvalidChatID = 40050 // chatid不存在: unknown or dismissed group
	errTooManyOwners = 81017 // visible range over 1,000 staff without owner_filter
)

// GroupMember is a member of a fake customer group.
type GroupMember struct {
	UserID    string
	Type      int // 1 staff, 2 customer
	UnionID   string
	JoinTime  time.Time
	JoinScene int
}

type fakeGroup struct {
	id, name, owner, notice string
	created                 time.Time
	status                  int
	members                 []GroupMember
	version                 int
	dismissed               bool
}

type groupState struct {
	groups map[string]*fakeGroup
	next   int
}

// initGroups registers the group paths under WeCom's per-API limits.
func (s *Server) initGroups(mux *http.ServeMux) {
	s.groups = groupState{groups: map[string]*fakeGroup{}}
	for _, p := range []string{PathGroupChatList, PathGroupChatGet} {
		s.rates[p] = &rateState{perMinute: LimitPerMinute, perHour: LimitPerHour}
	}
	s.handle(mux, PathGroupChatList, s.groupChatList)
	s.handle(mux, PathGroupChatGet, s.groupChatGet)
}

// AddGroup creates a customer group owned by staff member owner, with the
// owner as its first member, and returns its chat id.
func (s *Server) AddGroup(name, owner string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups.next++
	id := fmt.Sprintf("wrFAKE%06d", s.groups.next)
	now := s.now()
	s.groups.groups[id] = &fakeGroup{id: id, name: name, owner: owner, created: now,
		members: []GroupMember{{UserID: owner, Type: 1, JoinTime: now, JoinScene: 1}}, version: 1}
	return id
}

// JoinGroup adds a customer (type 2) or staff member (type 1) to a group,
// as scanning its QR code does; a member already there stays as they were.
func (s *Server) JoinGroup(chatID, userID string, typ int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups.groups[chatID]
	for _, m := range g.members {
		if m.UserID == userID {
			return
		}
	}
	g.members = append(g.members, GroupMember{UserID: userID, Type: typ, UnionID: "", JoinTime: s.now(), JoinScene: 3})
	g.version++
}

// LeaveGroup removes a member from a group.
func (s *Server) LeaveGroup(chatID, userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups.groups[chatID]
	kept := g.members[:0]
	for _, m := range g.members {
		if m.UserID != userID {
			kept = append(kept, m)
		}
	}
	g.members = kept
	g.version++
}

// RenameGroup changes a group's name.
func (s *Server) RenameGroup(chatID, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups.groups[chatID].name = name
}

// DismissGroup dismisses a group: groupchat/list no longer lists it and
// groupchat/get answers 40050.
func (s *Server) DismissGroup(chatID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups.groups[chatID].dismissed = true
}

// GroupMembers returns a live group's members' userids, sorted.
func (s *Server) GroupMembers(chatID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, m := range s.groups.groups[chatID].members {
		out = append(out, m.UserID)
	}
	sort.Strings(out)
	return out
}

func (s *Server) groupChatList(w http.ResponseWriter, r *http.Request) {
	if !s.checkToken(w, r) {
		return
	}
	var req struct {
		StatusFilter int `json:"status_filter"`
		OwnerFilter  *struct {
			UserIDList []string `json:"userid_list"`
		} `json:"owner_filter"`
		Cursor string `json:"cursor"`
		Limit  int    `json:"limit"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	var owners map[string]bool
	if req.OwnerFilter != nil && len(req.OwnerFilter.UserIDList) > 0 {
		owners = map[string]bool{}
		for _, o := range req.OwnerFilter.UserIDList {
			owners[o] = true
		}
	}
	offset, ok := parseCursor(req.Cursor)
	switch {
	case req.Limit < 1 || req.Limit > MaxGroupListLimit:
		writeJSON(w, errBody(errInvalidParam, fmt.Sprintf("invalid limit %d: 1 to %d", req.Limit, MaxGroupListLimit)))
		return
	case req.StatusFilter < 0 || req.StatusFilter > 3:
		writeJSON(w, errBody(errInvalidParam, "invalid status_filter"))
		return
	case req.OwnerFilter != nil && len(req.OwnerFilter.UserIDList) > MaxGroupOwners:
		writeJSON(w, errBody(errInvalidParam, fmt.Sprintf("owner_filter.userid_list exceed max size %d", MaxGroupOwners)))
		return
	case !ok:
		writeJSON(w, errBody(errInvalidParam, "invalid cursor"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if owners == nil && len(s.mass.staff) > MaxVisibleOwners {
		writeJSON(w, errBody(errTooManyOwners, "visible range over 1000 users: use owner_filter"))
		return
	}
	var ids []string
	for id, g := range s.groups.groups {
		if !g.dismissed && (owners == nil || owners[g.owner]) && (req.StatusFilter == 0 || req.StatusFilter == g.status) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	end := min(offset+req.Limit, len(ids))
	list := []map[string]any{}
	for _, id := range ids[min(offset, len(ids)):end] {
		list = append(list, map[string]any{"chat_id": id, "status": s.groups.groups[id].status})
	}
	next := ""
	if end < len(ids) {
		next = cursorPrefix + strconv.Itoa(end)
	}
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "group_chat_list": list, "next_cursor": next})
}

func (s *Server) groupChatGet(w http.ResponseWriter, r *http.Request) {
	if !s.checkToken(w, r) {
		return
	}
	var req struct {
		ChatID   string `json:"chat_id"`
		NeedName int    `json:"need_name"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups.groups[req.ChatID]
	if g == nil || g.dismissed {
		writeJSON(w, errBody(errInvalidChatID, "invalid chatid"))
		return
	}
	members := []map[string]any{}
	for _, m := range g.members {
		e := map[string]any{"userid": m.UserID, "type": m.Type, "join_time": m.JoinTime.Unix(), "join_scene": m.JoinScene,
			"invitor": map[string]string{"userid": g.owner}, "group_nickname": ""}
		if m.Type == 2 && m.UnionID != "" {
			e["unionid"] = m.UnionID
		}
		if req.NeedName == 1 {
			e["name"] = "name-" + m.UserID
		}
		members = append(members, e)
	}
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "group_chat": map[string]any{
		"chat_id": g.id, "name": g.name, "owner": g.owner, "create_time": g.created.Unix(), "notice": g.notice,
		"member_list": members, "admin_list": []map[string]string{}, "member_version": strconv.Itoa(g.version),
	}})
}

// addGroupMsgTemplate is add_msg_template with chat_type "group": one task
// for the owner of every group in chat_id_list, content checked as for
// chat_type single. A group the sender does
// not own, or one unknown or dismissed, refuses the task (errcode 40058).
// Confirming it (ConfirmAll, Confirm) delivers it into each group that
// has not yet received DailyCap group mass messages that day (Beijing
// time); the others get StatusCapped.
func (s *Server) addGroupMsgTemplate(w http.ResponseWriter, r *http.Request, req addMsgTemplateRequest, text string) {
	if code, msg := checkContent(text, req.Attachments); code != 0 {
		writeJSON(w, errBody(code, msg))
		return
	}
	switch {
	case len(req.ChatIDList) == 0:
		writeJSON(w, errBody(errInvalidParam, "chat_id_list empty"))
		return
	case len(req.ChatIDList) > MaxGroupMsgChats:
		writeJSON(w, errBody(errInvalidParam, fmt.Sprintf("chat_id_list exceed max size %d", MaxGroupMsgChats)))
		return
	case len(req.ExternalUserID) > 0:
		writeJSON(w, errBody(errInvalidParam, "external_userid is for chat_type single"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if req.Sender == "" {
		writeJSON(w, errBody(errInvalidUserID, "sender required for chat_type group"))
		return
	}
	seen := map[string]bool{}
	var chats []string
	for _, id := range req.ChatIDList {
		g := s.groups.groups[id]
		if g == nil || g.dismissed || g.owner != req.Sender {
			writeJSON(w, errBody(errInvalidParam, "invalid chat_id "+strconv.Quote(id)+" for sender"))
			return
		}
		if !seen[id] {
			seen[id] = true
			chats = append(chats, id)
		}
	}
	s.mass.nextTaskID++
	t := &Task{
		MsgID: fmt.Sprintf("msgFAKE%08d", s.mass.nextTaskID), Sender: req.Sender, ChatType: "group", ChatIDs: chats, Text: text,
		Attachments: req.Attachments, DedupKey: r.Header.Get(DedupKeyHeader), CreatedAt: s.now(),
		Status: map[string]int{}, SendTime: map[string]time.Time{},
	}
	for _, id := range chats {
		t.Status[id] = StatusNotSent
	}
	s.mass.tasks = append(s.mass.tasks, t)
	s.mass.byID[t.MsgID] = t
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "fail_list": []string{}, "msgid": t.MsgID})
}

// confirmGroup delivers a confirmed group task. The caller holds s.mu.
func (s *Server) confirmGroup(t *Task, now time.Time) {
	day := now.In(schema.Beijing).Format(time.DateOnly)
	for _, id := range t.ChatIDs {
		g := s.groups.groups[id]
		s.deliver(t, id, g != nil && !g.dismissed, day, now)
	}
}
