package wecom

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Paths of the customer-group APIs (客户群管理, document/path/92120, 92122).
const (
	PathGroupChatList = "/cgi-bin/externalcontact/groupchat/list"
	PathGroupChatGet  = "/cgi-bin/externalcontact/groupchat/get"
)

// Limits of the customer-group APIs, checked before a call is made.
const (
	// MaxGroupChatListLimit is the largest page groupchat/list returns
	// (limit 1 to 1000).
	MaxGroupChatListLimit = 1000
	// MaxGroupChatOwners is the most userids owner_filter.userid_list
	// takes.
	MaxGroupChatOwners = 100
	// MaxGroupMsgChats is the most chat_id_list one add_msg_template task
	// with chat_type "group" takes (document/path/92135).
	MaxGroupMsgChats = 2000
)

// Error codes of the customer-group APIs.
const (
	// ErrCodeInvalidChatID is errcode 40050: a chat id WeCom does not know
	// (never existed, or dismissed).
	ErrCodeInvalidChatID = 40050
	// ErrCodeTooManyOwners is errcode 81017: groupchat/list without an
	// owner filter when the app's visible range holds more than 1,000
	// staff members; the caller must filter by owner.
	ErrCodeTooManyOwners = 81017
)

// Group member types (groupchat/get member_list.type).
const (
	GroupMemberStaff    = 1
	GroupMemberCustomer = 2
)

// GroupChatListQuery selects groups for ListGroupChats.
type GroupChatListQuery struct {
	// StatusFilter is 0 (all), 1 (owner resigned, awaiting inheritance),
	// 2 (inheritance in progress) or 3 (inherited).
	StatusFilter int
	// Owners filters by owner userid, at most MaxGroupChatOwners; empty:
	// every owner in the app's visible range (81017 past 1,000 staff).
	Owners []string
}

// GroupChatRef is one line of groupchat/list.
type GroupChatRef struct {
	ChatID string
	Status int // 0 owner normal, 1 resigned, 2 inheritance in progress, 3 inherited
}

type groupChatListRequest struct {
	StatusFilter int `json:"status_filter"`
	OwnerFilter  *struct {
		UserIDList []string `json:"userid_list"`
	} `json:"owner_filter,omitempty"`
	Cursor string `json:"cursor,omitempty"`
	Limit  int    `json:"limit"`
}

type groupChatListResponse struct {
	status
	GroupChatList []struct {
		ChatID string `json:"chat_id"`
		Status int    `json:"status"`
	} `json:"group_chat_list"`
	NextCursor string `json:"next_cursor"`
}

// ListGroupChats returns every customer group q selects
// (externalcontact/groupchat/list), paging by cursor with the largest
// page. It stops with an error when WeCom hands back a cursor it already
// gave. The call has no side effect: callers may retry it when
// IsRetryable.
func (c *Client) ListGroupChats(ctx context.Context, q GroupChatListQuery) ([]GroupChatRef, error) {
	switch {
	case q.StatusFilter < 0 || q.StatusFilter > 3:
		return nil, fmt.Errorf("%w: status_filter %d, want 0 to 3", ErrBadField, q.StatusFilter)
	case len(q.Owners) > MaxGroupChatOwners:
		return nil, fmt.Errorf("%w: %d owners, at most %d per groupchat/list call", ErrOverLimit, len(q.Owners), MaxGroupChatOwners)
	}
	req := groupChatListRequest{StatusFilter: q.StatusFilter, Limit: MaxGroupChatListLimit}
	if len(q.Owners) > 0 {
		req.OwnerFilter = &struct {
			UserIDList []string `json:"userid_list"`
		}{q.Owners}
	}
	var out []GroupChatRef
	seen := map[string]bool{}
	for {
		body, err := json.Marshal(req)
		if err != nil {
			return nil, fmt.Errorf("wecom: groupchat/list: %w", err)
		}
		var resp groupChatListResponse
		if err := c.callWith(ctx, http.MethodPost, PathGroupChatList, nil, body, nil, &resp); err != nil {
			return nil, err
		}
		for _, g := range resp.GroupChatList {
			out = append(out, GroupChatRef{ChatID: g.ChatID, Status: g.Status})
		}
		if resp.NextCursor == "" {
			return out, nil
		}
		if seen[resp.NextCursor] {
			return nil, fmt.Errorf("wecom: groupchat/list: cursor %q repeats", resp.NextCursor)
		}
		seen[resp.NextCursor] = true
		req.Cursor = resp.NextCursor
	}
}

// GroupChat is a customer group (客户群) as groupchat/get reports it.
type GroupChat struct {
	ChatID        string
	Name          string
	Owner         string // the owner's userid (群主)
	Notice        string
	CreateTime    time.Time // UTC
	Members       []GroupMember
	Admins        []string // userids of the group's administrators
	MemberVersion string   // changes whenever the member list changes
}

// GroupMember is a member of a customer group.
type GroupMember struct {
	UserID        string // a staff userid or a customer's external_userid
	Type          int    // GroupMemberStaff or GroupMemberCustomer
	UnionID       string // customers only, when the corp has a bound WeChat open platform
	JoinTime      time.Time
	JoinScene     int    // 1 invited directly, 2 invited by link, 3 scanned the group QR code
	Invitor       string // the staff member who invited them, when one did
	GroupNickname string
	Name          string // with need_name: the member's name
}

type groupChatGetResponse struct {
	status
	GroupChat struct {
		ChatID     string `json:"chat_id"`
		Name       string `json:"name"`
		Owner      string `json:"owner"`
		CreateTime int64  `json:"create_time"`
		Notice     string `json:"notice"`
		MemberList []struct {
			UserID    string `json:"userid"`
			Type      int    `json:"type"`
			UnionID   string `json:"unionid"`
			JoinTime  int64  `json:"join_time"`
			JoinScene int    `json:"join_scene"`
			Invitor   *struct {
				UserID string `json:"userid"`
			} `json:"invitor"`
			GroupNickname string `json:"group_nickname"`
			Name          string `json:"name"`
		} `json:"member_list"`
		AdminList []struct {
			UserID string `json:"userid"`
		} `json:"admin_list"`
		MemberVersion string `json:"member_version"`
	} `json:"group_chat"`
}

// GetGroupChat returns a customer group with its members and
// administrators (externalcontact/groupchat/get, need_name 1). A chat id
// WeCom does not know, or a dismissed group, is an *APIError with
// ErrCodeInvalidChatID. The call has no side effect.
func (c *Client) GetGroupChat(ctx context.Context, chatID string) (GroupChat, error) {
	if chatID == "" {
		return GroupChat{}, fmt.Errorf("%w: chat_id", ErrMissingField)
	}
	body, err := json.Marshal(map[string]any{"chat_id": chatID, "need_name": 1})
	if err != nil {
		return GroupChat{}, fmt.Errorf("wecom: groupchat/get: %w", err)
	}
	var resp groupChatGetResponse
	if err := c.callWith(ctx, http.MethodPost, PathGroupChatGet, nil, body, nil, &resp); err != nil {
		return GroupChat{}, err
	}
	g := resp.GroupChat
	out := GroupChat{ChatID: g.ChatID, Name: g.Name, Owner: g.Owner, Notice: g.Notice,
		CreateTime: time.Unix(g.CreateTime, 0).UTC(), MemberVersion: g.MemberVersion}
	if out.ChatID == "" {
		out.ChatID = chatID
	}
	for _, m := range g.MemberList {
		gm := GroupMember{UserID: m.UserID, Type: m.Type, UnionID: m.UnionID, JoinTime: time.Unix(m.JoinTime, 0).UTC(),
			JoinScene: m.JoinScene, GroupNickname: m.GroupNickname, Name: m.Name}
		if m.Invitor != nil {
			gm.Invitor = m.Invitor.UserID
		}
		out.Members = append(out.Members, gm)
	}
	for _, a := range g.AdminList {
		out.Admins = append(out.Admins, a.UserID)
	}
	return out, nil
}

// GroupMsgTemplate is one group mass-message task (客户群群发): a message
// that a group owner (Sender) sends into some of their customer groups
// once they confirm it in the WeCom app.
type GroupMsgTemplate struct {
	Sender string
	// ChatIDs are groups Sender owns, 1 to MaxGroupMsgChats. (Without
	// chat_id_list WeCom lets the owner pick the groups; the platform
	// always names them.)
	ChatIDs     []string
	Text        string
	Attachments []Attachment
	DedupKey    string // labels the request only (DedupKeyHeader)
}

// AddGroupMsgTemplate creates a group mass-message task
// (add_msg_template with chat_type "group" and chat_id_list) for
// m.Sender. Content limits and the retry rules are AddMsgTemplate's:
// nothing but a refused token is retried, as a lost answer may come after
// WeCom created the task. A group receives a limited number of mass
// messages (the corp's rule, one a day at the strictest): WeCom reports
// a group past it in get_groupmsg_send_result with SendStatusCapped.
func (c *Client) AddGroupMsgTemplate(ctx context.Context, m GroupMsgTemplate) (AddMsgTemplateResult, error) {
	switch {
	case m.Sender == "":
		return AddMsgTemplateResult{}, fmt.Errorf("%w: sender", ErrMissingField)
	case len(m.ChatIDs) == 0:
		return AddMsgTemplateResult{}, fmt.Errorf("%w: chat_id_list", ErrMissingField)
	case len(m.ChatIDs) > MaxGroupMsgChats:
		return AddMsgTemplateResult{}, fmt.Errorf("%w: %d groups, at most %d per add_msg_template task: split the list", ErrOverLimit, len(m.ChatIDs), MaxGroupMsgChats)
	}
	for i, id := range m.ChatIDs {
		if id == "" {
			return AddMsgTemplateResult{}, fmt.Errorf("%w: chat_id_list[%d]", ErrMissingField, i)
		}
	}
	single := MsgTemplate{Sender: m.Sender, ExternalUserIDs: []string{"-"}, Text: m.Text, Attachments: m.Attachments, DedupKey: m.DedupKey}
	if err := single.validate(); err != nil {
		return AddMsgTemplateResult{}, err
	}
	req := single.request()
	req.ChatType, req.ExternalUserID, req.ChatIDList = "group", nil, m.ChatIDs
	return c.addMsgTemplate(ctx, req, m.DedupKey)
}
