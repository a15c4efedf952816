package wecom

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
	"unicode/utf8"
)

// Limits of the mass-message APIs, checked before anything is sent.
const (
	// MaxMsgTemplateRecipients is the most external_userid one
	// add_msg_template call takes (document/path/92135).
	MaxMsgTemplateRecipients = 10000
	// MaxMsgTemplateAttachments is the most attachments besides the text.
	MaxMsgTemplateAttachments = 9
	// MaxMsgTemplateTextBytes is the most bytes of text.content (92135:
	// 最多4000个字节).
	MaxMsgTemplateTextBytes = 4000
	// MaxSendResultLimit is the largest page get_groupmsg_send_result
	// returns; a limit of 0 asks for WeCom's default of 500.
	MaxSendResultLimit = 1000
	// MaxRobotTextBytes is the most bytes of a robot text message
	// (document/path/91770).
	MaxRobotTextBytes = 2048
	// MaxRobotMarkdownBytes is the most bytes of a robot markdown message
	// (91770: 最长不超过4096个字节).
	MaxRobotMarkdownBytes = 4096
)

// DedupKeyHeader carries MsgTemplate.DedupKey. It is an HTTP header, not an
// API field: WeCom ignores it and has no idempotency of its own. The fake
// server (wecomtest) records it so tests can see which campaign send created
// which task, and spot a send that created two.
const DedupKeyHeader = "X-Granary-Dedup-Key"

// MsgTemplate is one 客户群发 task: a message that one staff member
// (Sender) sends to a list of their customers once they confirm it in the
// WeCom app.
type MsgTemplate struct {
	// Sender is the staff member's userid; the task appears in their app.
	Sender string
	// ExternalUserIDs are the Sender's customers, 1 to
	// MaxMsgTemplateRecipients.
	ExternalUserIDs []string
	// Text is text.content, at most MaxMsgTemplateTextBytes of UTF-8.
	// Text and Attachments cannot both be empty.
	Text string
	// Attachments are sent after the text, at most
	// MaxMsgTemplateAttachments.
	Attachments []Attachment
	// DedupKey identifies the campaign send (for example campaign id +
	// sender) in the DedupKeyHeader header; "" sends no header. It does not
	// make the call idempotent: see AddMsgTemplate.
	DedupKey string
}

// Attachment is one attachment of a MsgTemplate: exactly one of Link and
// MiniProgram is set. (WeCom also takes image, video and file attachments,
// which need uploaded media; the platform does not send them yet.)
type Attachment struct {
	Link        *LinkAttachment
	MiniProgram *MiniProgramAttachment
}

// LinkAttachment is an attachment of msgtype "link" (图文消息).
type LinkAttachment struct {
	Title  string `json:"title"`
	PicURL string `json:"picurl,omitempty"`
	Desc   string `json:"desc,omitempty"`
	URL    string `json:"url"`
}

// MiniProgramAttachment is an attachment of msgtype "miniprogram". The
// mini program must be associated with the corp; PicMediaID is an uploaded
// image's media_id.
type MiniProgramAttachment struct {
	Title      string `json:"title"`
	PicMediaID string `json:"pic_media_id"`
	AppID      string `json:"appid"`
	Page       string `json:"page"`
}

// AddMsgTemplateResult is add_msg_template's answer.
type AddMsgTemplateResult struct {
	// MsgID identifies the task for get_groupmsg_send_result.
	MsgID string
	// FailList holds the external_userid WeCom refused (invalid, or not
	// sendable): they are not part of the task.
	FailList []string
}

type textJSON struct {
	Content string `json:"content"`
}

type attachmentJSON struct {
	MsgType     string                 `json:"msgtype"`
	Link        *LinkAttachment        `json:"link,omitempty"`
	MiniProgram *MiniProgramAttachment `json:"miniprogram,omitempty"`
}

type addMsgTemplateRequest struct {
	ChatType       string           `json:"chat_type"`
	ExternalUserID []string         `json:"external_userid,omitempty"`
	ChatIDList     []string         `json:"chat_id_list,omitempty"`
	Sender         string           `json:"sender"`
	Text           *textJSON        `json:"text,omitempty"`
	Attachments    []attachmentJSON `json:"attachments,omitempty"`
}

type addMsgTemplateResponse struct {
	status
	FailList []string `json:"fail_list"`
	MsgID    string   `json:"msgid"`
}

// validate checks what WeCom would refuse, so that a refusal costs no call
// against the rate limit.
func (m MsgTemplate) validate() error {
	if m.Sender == "" {
		return fmt.Errorf("%w: sender", ErrMissingField)
	}
	if len(m.ExternalUserIDs) == 0 {
		return fmt.Errorf("%w: external_userid", ErrMissingField)
	}
	if n := len(m.ExternalUserIDs); n > MaxMsgTemplateRecipients {
		return fmt.Errorf("%w: %d external_userid, at most %d per add_msg_template task: split the list", ErrOverLimit, n, MaxMsgTemplateRecipients)
	}
	for i, id := range m.ExternalUserIDs {
		if id == "" {
			return fmt.Errorf("%w: external_userid[%d]", ErrMissingField, i)
		}
	}
	return validateContent(m.Text, m.Attachments)
}

// validateContent checks a text and its attachments (add_msg_template,
// send_welcome_msg): not both empty, the text UTF-8 of at most
// MaxMsgTemplateTextBytes, at most MaxMsgTemplateAttachments attachments,
// each setting exactly one of Link and MiniProgram with the fields WeCom
// requires of it.
func validateContent(text string, atts []Attachment) error {
	if text == "" && len(atts) == 0 {
		return fmt.Errorf("%w: text and attachments are both empty", ErrMissingField)
	}
	if !utf8.ValidString(text) {
		return fmt.Errorf("%w: text", ErrInvalidUTF8)
	}
	if n := len(text); n > MaxMsgTemplateTextBytes {
		return fmt.Errorf("%w: text is %d bytes, at most %d", ErrOverLimit, n, MaxMsgTemplateTextBytes)
	}
	if n := len(atts); n > MaxMsgTemplateAttachments {
		return fmt.Errorf("%w: %d attachments, at most %d", ErrOverLimit, n, MaxMsgTemplateAttachments)
	}
	for i, a := range atts {
		switch {
		case (a.Link == nil) == (a.MiniProgram == nil):
			return fmt.Errorf("%w: attachments[%d] must set exactly one of Link and MiniProgram", ErrBadField, i)
		case a.Link != nil && (a.Link.Title == "" || a.Link.URL == ""):
			return fmt.Errorf("%w: attachments[%d].link title and url", ErrMissingField, i)
		case a.MiniProgram != nil && (a.MiniProgram.Title == "" || a.MiniProgram.PicMediaID == "" ||
			a.MiniProgram.AppID == "" || a.MiniProgram.Page == ""):
			return fmt.Errorf("%w: attachments[%d].miniprogram title, pic_media_id, appid and page", ErrMissingField, i)
		}
	}
	return nil
}

// attachmentsJSON is the attachments' wire form.
func attachmentsJSON(atts []Attachment) []attachmentJSON {
	var out []attachmentJSON
	for _, a := range atts {
		if a.Link != nil {
			out = append(out, attachmentJSON{MsgType: "link", Link: a.Link})
		} else {
			out = append(out, attachmentJSON{MsgType: "miniprogram", MiniProgram: a.MiniProgram})
		}
	}
	return out
}

func (m MsgTemplate) request() addMsgTemplateRequest {
	req := addMsgTemplateRequest{ChatType: "single", ExternalUserID: m.ExternalUserIDs, Sender: m.Sender}
	if m.Text != "" {
		req.Text = &textJSON{Content: m.Text}
	}
	req.Attachments = attachmentsJSON(m.Attachments)
	return req
}

// AddMsgTemplate creates a 客户群发 task (externalcontact/add_msg_template,
// chat_type "single") for m.Sender to m.ExternalUserIDs. Nothing reaches a
// customer until the sender confirms the task in the WeCom app; WeCom then
// skips customers who are no longer the sender's contacts or who reached
// their mass-message cap, as get_groupmsg_send_result reports.
//
// A template breaking a documented limit (more than 10,000 recipients, more
// than 9 attachments, text over 4,000 bytes, missing fields) is refused with
// ErrOverLimit, ErrMissingField or ErrBadField before any request is made.
//
// The only retry is the one every call gets: when WeCom answers 42001/40014
// the token is refreshed and the request sent once more, which is safe
// because WeCom refuses a bad token before creating anything. Nothing else
// is retried, not even errors IsRetryable accepts: a timeout or a broken
// connection can come after WeCom created the task, and sending again would
// make the staff member confirm — and the customers receive — the message
// twice. WeCom has no idempotency key, so idempotency is the campaign
// sender's job: it records each (campaign, sender) task in its send log
// before calling, marks it with the returned MsgID, and on an ambiguous
// failure reconciles with WeCom's task list (get_groupmsg_list_v2) before
// deciding to send again. m.DedupKey only labels the request (see
// DedupKeyHeader) so tests and logs can tell sends apart.
//
// A 45009 answer is a *RateLimitError (errors.Is ErrRateLimited).
func (c *Client) AddMsgTemplate(ctx context.Context, m MsgTemplate) (AddMsgTemplateResult, error) {
	if err := m.validate(); err != nil {
		return AddMsgTemplateResult{}, err
	}
	return c.addMsgTemplate(ctx, m.request(), m.DedupKey)
}

// addMsgTemplate sends one add_msg_template request (either chat type).
func (c *Client) addMsgTemplate(ctx context.Context, req addMsgTemplateRequest, dedupKey string) (AddMsgTemplateResult, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return AddMsgTemplateResult{}, fmt.Errorf("wecom: add_msg_template: %w", err)
	}
	var header http.Header
	if dedupKey != "" {
		header = http.Header{DedupKeyHeader: {dedupKey}}
	}
	var resp addMsgTemplateResponse
	if err := c.callWith(ctx, http.MethodPost, "/cgi-bin/externalcontact/add_msg_template", nil, body, header, &resp); err != nil {
		return AddMsgTemplateResult{}, err
	}
	if resp.MsgID == "" {
		return AddMsgTemplateResult{}, fmt.Errorf("wecom: POST /cgi-bin/externalcontact/add_msg_template: %w: msgid", ErrMissingField)
	}
	return AddMsgTemplateResult{MsgID: resp.MsgID, FailList: resp.FailList}, nil
}

// SendStatus is a customer's delivery status in get_groupmsg_send_result.
type SendStatus int

// The statuses get_groupmsg_send_result reports.
const (
	SendStatusNotSent   SendStatus = 0 // not (yet) sent: the sender has not confirmed
	SendStatusSent      SendStatus = 1 // delivered
	SendStatusNotFriend SendStatus = 2 // not sent: the customer is not the sender's contact
	SendStatusCapped    SendStatus = 3 // not sent: the customer already received their quota of mass messages
)

func (s SendStatus) String() string {
	switch s {
	case SendStatusNotSent:
		return "not sent"
	case SendStatusSent:
		return "sent"
	case SendStatusNotFriend:
		return "not a friend"
	case SendStatusCapped:
		return "over the mass-message cap"
	}
	return fmt.Sprintf("status %d", int(s))
}

// SendResult is one line of get_groupmsg_send_result.
type SendResult struct {
	ExternalUserID string
	ChatID         string // set instead of ExternalUserID for customer-group tasks
	UserID         string // the sending staff member
	Status         SendStatus
	SendTime       time.Time // UTC; zero unless Status is SendStatusSent
}

// SendResultPage is one page of get_groupmsg_send_result.
type SendResultPage struct {
	Results []SendResult
	// NextCursor fetches the next page; "" after the last one.
	NextCursor string
}

type sendResultRequest struct {
	MsgID  string `json:"msgid"`
	UserID string `json:"userid"`
	Limit  int    `json:"limit,omitempty"`
	Cursor string `json:"cursor,omitempty"`
}

type sendResultResponse struct {
	status
	NextCursor string `json:"next_cursor"`
	SendList   []struct {
		ExternalUserID string `json:"external_userid"`
		ChatID         string `json:"chat_id"`
		UserID         string `json:"userid"`
		Status         int    `json:"status"`
		SendTime       int64  `json:"send_time"`
	} `json:"send_list"`
}

// GetGroupMsgSendResult returns one page of the delivery results of task
// msgid for staff member userid (externalcontact/get_groupmsg_send_result).
// cursor is "" for the first page, then the previous page's NextCursor;
// limit is 1 to MaxSendResultLimit, or 0 for WeCom's default (500).
// Errors are as for AddMsgTemplate; the call has no side effect, so the
// caller may retry it when IsRetryable.
func (c *Client) GetGroupMsgSendResult(ctx context.Context, msgid, userid string, cursor string, limit int) (SendResultPage, error) {
	switch {
	case msgid == "":
		return SendResultPage{}, fmt.Errorf("%w: msgid", ErrMissingField)
	case userid == "":
		return SendResultPage{}, fmt.Errorf("%w: userid", ErrMissingField)
	case limit < 0 || limit > MaxSendResultLimit:
		return SendResultPage{}, fmt.Errorf("%w: limit %d, want 0 to %d", ErrBadField, limit, MaxSendResultLimit)
	}
	body, err := json.Marshal(sendResultRequest{MsgID: msgid, UserID: userid, Limit: limit, Cursor: cursor})
	if err != nil {
		return SendResultPage{}, fmt.Errorf("wecom: get_groupmsg_send_result: %w", err)
	}
	var resp sendResultResponse
	if err := c.callWith(ctx, http.MethodPost, "/cgi-bin/externalcontact/get_groupmsg_send_result", nil, body, nil, &resp); err != nil {
		return SendResultPage{}, err
	}
	page := SendResultPage{NextCursor: resp.NextCursor, Results: make([]SendResult, 0, len(resp.SendList))}
	for _, r := range resp.SendList {
		res := SendResult{ExternalUserID: r.ExternalUserID, ChatID: r.ChatID, UserID: r.UserID, Status: SendStatus(r.Status)}
		if r.SendTime > 0 {
			res.SendTime = time.Unix(r.SendTime, 0).UTC()
		}
		page.Results = append(page.Results, res)
	}
	return page, nil
}

// GetAllGroupMsgSendResults pages through GetGroupMsgSendResult with the
// largest page and returns every result of task msgid for userid. It stops
// with an error when WeCom hands back a cursor it already gave. An error
// on any page discards the pages before it; callers that want to resume
// page with GetGroupMsgSendResult themselves.
func (c *Client) GetAllGroupMsgSendResults(ctx context.Context, msgid, userid string) ([]SendResult, error) {
	var all []SendResult
	seen := map[string]bool{}
	cursor := ""
	for {
		page, err := c.GetGroupMsgSendResult(ctx, msgid, userid, cursor, MaxSendResultLimit)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Results...)
		if page.NextCursor == "" {
			return all, nil
		}
		if seen[page.NextCursor] {
			return nil, fmt.Errorf("wecom: get_groupmsg_send_result: cursor %q repeats", page.NextCursor)
		}
		seen[page.NextCursor] = true
		cursor = page.NextCursor
	}
}

// RobotMsgType is a group robot message type.
type RobotMsgType string

// The robot message types SendRobot sends.
const (
	RobotText     RobotMsgType = "text"
	RobotMarkdown RobotMsgType = "markdown"
)

// RobotMessage is a message for a group robot (群机器人). A robot posts into
// its group chat only: it cannot reach an individual customer.
type RobotMessage struct {
	// Type is RobotText (the default when empty) or RobotMarkdown.
	Type RobotMsgType
	// Content is the text, at most MaxRobotTextBytes (text) or
	// MaxRobotMarkdownBytes (markdown) of UTF-8.
	Content string
	// MentionedList holds userids to @ ("@all" for everyone); text only.
	MentionedList []string
	// MentionedMobileList holds mobile numbers to @; text only.
	MentionedMobileList []string
}

type robotRequest struct {
	MsgType  string         `json:"msgtype"`
	Text     *robotTextJSON `json:"text,omitempty"`
	Markdown *robotTextJSON `json:"markdown,omitempty"`
}

type robotTextJSON struct {
	Content             string   `json:"content"`
	MentionedList       []string `json:"mentioned_list,omitempty"`
	MentionedMobileList []string `json:"mentioned_mobile_list,omitempty"`
}

type robotResponse struct{ status }

func (m RobotMessage) request() (robotRequest, error) {
	if m.Content == "" {
		return robotRequest{}, fmt.Errorf("%w: content", ErrMissingField)
	}
	if !utf8.ValidString(m.Content) {
		return robotRequest{}, fmt.Errorf("%w: content", ErrInvalidUTF8)
	}
	switch m.Type {
	case RobotText, "":
		if n := len(m.Content); n > MaxRobotTextBytes {
			return robotRequest{}, fmt.Errorf("%w: robot text is %d bytes, at most %d", ErrOverLimit, n, MaxRobotTextBytes)
		}
		return robotRequest{MsgType: string(RobotText), Text: &robotTextJSON{
			Content: m.Content, MentionedList: m.MentionedList, MentionedMobileList: m.MentionedMobileList,
		}}, nil
	case RobotMarkdown:
		if n := len(m.Content); n > MaxRobotMarkdownBytes {
			return robotRequest{}, fmt.Errorf("%w: robot markdown is %d bytes, at most %d", ErrOverLimit, n, MaxRobotMarkdownBytes)
		}
		if len(m.MentionedList) > 0 || len(m.MentionedMobileList) > 0 {
			return robotRequest{}, fmt.Errorf("%w: markdown takes no mentioned lists (write <@userid> in the content)", ErrBadField)
		}
		return robotRequest{MsgType: string(RobotMarkdown), Markdown: &robotTextJSON{Content: m.Content}}, nil
	}
	return robotRequest{}, fmt.Errorf("%w: robot msgtype %q", ErrBadField, m.Type)
}

// SendRobot posts m to a group robot's webhook URL
// (https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...). The call needs
// no access token; the key in the URL is the credential and never appears
// in errors. A robot takes 20 messages per minute: beyond that WeCom
// answers 45009, returned as a *RateLimitError. Other refusals are
// *APIError, HTTP failures as for the other calls; nothing is retried, as
// a retried post after a timeout could show the message twice.
func (c *Client) SendRobot(ctx context.Context, webhookURL string, m RobotMessage) error {
	req, err := m.request()
	if err != nil {
		return err
	}
	u, err := url.Parse(webhookURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%w: robot webhook URL is not an absolute http(s) URL", ErrBadField)
	}
	if u.Query().Get("key") == "" {
		return fmt.Errorf("%w: robot webhook URL has no key", ErrMissingField)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("wecom: robot webhook: %w", err)
	}
	var resp robotResponse
	return c.do(ctx, http.MethodPost, u, body, nil, &resp)
}

// MaxGroupMsgListLimit is the largest page get_groupmsg_list_v2 returns; a
// limit of 0 asks for WeCom's default of 50.
const MaxGroupMsgListLimit = 100

// MaxGroupMsgListSpan is the longest time range one get_groupmsg_list_v2
// call covers (document/path/93338: 起止时间间隔不能超过1个月).
const MaxGroupMsgListSpan = 31 * 24 * time.Hour

// GroupMsg is one mass-message task in get_groupmsg_list_v2.
type GroupMsg struct {
	MsgID      string
	Creator    string // the staff member's userid
	CreateTime time.Time
	// CreateType is 0 for tasks the enterprise created (add_msg_template),
	// 1 for tasks a staff member created in the app.
	CreateType int
	Text       string
}

// GroupMsgListQuery selects tasks for GetGroupMsgList.
type GroupMsgListQuery struct {
	Start, End time.Time // at most MaxGroupMsgListSpan apart
	Creator    string    // "" for every staff member
	// FilterType is 0 (enterprise-created), 1 (staff-created) or 2 (all).
	FilterType int
	// ChatType is "single" (one-to-one tasks, the default when empty) or
	// "group" (customer-group tasks).
	ChatType string
}

type groupMsgListRequest struct {
	ChatType   string `json:"chat_type"`
	StartTime  int64  `json:"start_time"`
	EndTime    int64  `json:"end_time"`
	Creator    string `json:"creator,omitempty"`
	FilterType int    `json:"filter_type"`
	Limit      int    `json:"limit,omitempty"`
	Cursor     string `json:"cursor,omitempty"`
}

type groupMsgListResponse struct {
	status
	NextCursor   string `json:"next_cursor"`
	GroupMsgList []struct {
		MsgID      string          `json:"msgid"`
		Creator    string          `json:"creator"`
		CreateTime json.RawMessage `json:"create_time"` // documented as a string, seen as a number
		CreateType int             `json:"create_type"`
		Text       *textJSON       `json:"text"`
	} `json:"group_msg_list"`
}

// unixField reads a Unix time WeCom sends either as a number or a string.
func unixField(raw json.RawMessage) time.Time {
	s := string(raw)
	if len(s) >= 2 && s[0] == '"' {
		s = s[1 : len(s)-1]
	}
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil || n <= 0 {
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}

// GetGroupMsgList returns every mass-message task of q's chat type (one-to-one
// unless q.ChatType is "group") created in q's time range (externalcontact/get_groupmsg_list_v2),
// paging with the largest page. The call has no side effect: a sender uses
// it to find out whether an add_msg_template call whose answer it never
// saw created its task.
func (c *Client) GetGroupMsgList(ctx context.Context, q GroupMsgListQuery) ([]GroupMsg, error) {
	switch {
	case q.Start.IsZero() || q.End.IsZero() || q.End.Before(q.Start):
		return nil, fmt.Errorf("%w: start and end of the time range", ErrBadField)
	case q.End.Sub(q.Start) > MaxGroupMsgListSpan:
		return nil, fmt.Errorf("%w: time range over %s", ErrOverLimit, MaxGroupMsgListSpan)
	case q.FilterType < 0 || q.FilterType > 2:
		return nil, fmt.Errorf("%w: filter_type %d", ErrBadField, q.FilterType)
	case q.ChatType != "" && q.ChatType != "single" && q.ChatType != "group":
		return nil, fmt.Errorf("%w: chat_type %q", ErrBadField, q.ChatType)
	}
	var all []GroupMsg
	seen := map[string]bool{}
	cursor := ""
	for {
		chatType := q.ChatType
		if chatType == "" {
			chatType = "single"
		}
		body, err := json.Marshal(groupMsgListRequest{ChatType: chatType, StartTime: q.Start.Unix(), EndTime: q.End.Unix(),
			Creator: q.Creator, FilterType: q.FilterType, Limit: MaxGroupMsgListLimit, Cursor: cursor})
		if err != nil {
			return nil, fmt.Errorf("wecom: get_groupmsg_list_v2: %w", err)
		}
		var resp groupMsgListResponse
		if err := c.callWith(ctx, http.MethodPost, "/cgi-bin/externalcontact/get_groupmsg_list_v2", nil, body, nil, &resp); err != nil {
			return nil, err
		}
		for _, m := range resp.GroupMsgList {
			g := GroupMsg{MsgID: m.MsgID, Creator: m.Creator, CreateTime: unixField(m.CreateTime), CreateType: m.CreateType}
			if m.Text != nil {
				g.Text = m.Text.Content
			}
			all = append(all, g)
		}
		if resp.NextCursor == "" {
			return all, nil
		}
		if seen[resp.NextCursor] {
			return nil, fmt.Errorf("wecom: get_groupmsg_list_v2: cursor %q repeats", resp.NextCursor)
		}
		seen[resp.NextCursor] = true
		cursor = resp.NextCursor
	}
}
