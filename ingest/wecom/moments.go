package wecom

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Paths of the customer-moments APIs (客户朋友圈): creating a moment task
// (企业发表内容到客户的朋友圈, document/path/95094 / 96351) and reading what
// became of it (获取客户朋友圈全部的发表记录, document/path/93333 / 96352).
const (
	PathAddMomentTask         = "/cgi-bin/externalcontact/add_moment_task"
	PathGetMomentTaskResult   = "/cgi-bin/externalcontact/get_moment_task_result"
	PathGetMomentList         = "/cgi-bin/externalcontact/get_moment_list"
	PathGetMomentTask         = "/cgi-bin/externalcontact/get_moment_task"
	PathGetMomentCustomerList = "/cgi-bin/externalcontact/get_moment_customer_list"
	PathGetMomentSendResult   = "/cgi-bin/externalcontact/get_moment_send_result"
)

// Limits of the moment APIs, as WeCom documents them.
const (
	// MaxMomentTextChars and MaxMomentTextBytes bound text.content
	// (最多支持传入2000个字(4000个字节); beyond, 'invalid text size').
	MaxMomentTextChars = 2000
	MaxMomentTextBytes = 4000
	// MaxMomentImages is the most image attachments; a moment carries
	// images, or one video, or one link, never two kinds.
	MaxMomentImages = 9
	// MaxMomentLinkTitleBytes bounds a link attachment's title (64 字节).
	MaxMomentLinkTitleBytes = 64
	// MaxMomentSenders is the most staff members of sender_list.user_list
	// (最多支持10万个).
	MaxMomentSenders = 100000
	// MomentJobTTL is how long a jobid can be asked about (24小时有效).
	MomentJobTTL = 24 * time.Hour
	// MaxMomentListSpan is get_moment_list's longest time range (30 天);
	// MaxMomentListLimit its largest page (20).
	MaxMomentListSpan  = 30 * 24 * time.Hour
	MaxMomentListLimit = 20
	// MaxMomentTaskLimit and MaxMomentCustomerLimit are the largest pages
	// of get_moment_task and get_moment_customer_list (1,000);
	// MaxMomentSendResultLimit that of get_moment_send_result (5,000).
	MaxMomentTaskLimit       = 1000
	MaxMomentCustomerLimit   = 1000
	MaxMomentSendResultLimit = 5000
)

// Statuses of a moment job (get_moment_task_result status).
const (
	MomentJobStarted = 1 // 开始创建任务
	MomentJobRunning = 2 // 正在创建任务中
	MomentJobDone    = 3 // 创建任务已完成: Result holds the outcome
)

// MomentAttachment is one attachment of a moment: exactly one of Image,
// Video and Link, each by a media id uploaded to WeCom beforehand
// (上传附件资源).
type MomentAttachment struct {
	ImageMediaID string      `json:"image_media_id,omitempty"`
	VideoMediaID string      `json:"video_media_id,omitempty"`
	Link         *MomentLink `json:"link,omitempty"`
}

// MomentLink is a link attachment: a title of at most
// MaxMomentLinkTitleBytes, its URL and the media id of its cover image.
type MomentLink struct {
	Title   string `json:"title"`
	URL     string `json:"url"`
	MediaID string `json:"media_id"`
}

func (a MomentAttachment) kind() string {
	n, k := 0, ""
	if a.ImageMediaID != "" {
		n, k = n+1, "image"
	}
	if a.VideoMediaID != "" {
		n, k = n+1, "video"
	}
	if a.Link != nil {
		n, k = n+1, "link"
	}
	if n != 1 {
		return ""
	}
	return k
}

// MomentTask is what add_moment_task creates: a post each sender is asked
// to publish to their customers' WeChat moments, seen only by those who
// carry one of TagIDs (corp tags; rule-group tags are refused). Senders
// empty means every staff member in the application's visible range;
// TagIDs empty means all of each sender's customers.
type MomentTask struct {
	Text        string             `json:"text"`
	Attachments []MomentAttachment `json:"attachments,omitempty"`
	Senders     []string           `json:"senders,omitempty"`
	TagIDs      []string           `json:"tag_ids,omitempty"`
}

// Validate checks WeCom's limits; errors wrap ErrMissingField,
// ErrOverLimit, ErrBadField or ErrInvalidUTF8 and name the field.
func (m MomentTask) Validate() error {
	switch {
	case strings.TrimSpace(m.Text) == "" && len(m.Attachments) == 0:
		return fmt.Errorf("%w: text: text and attachments are both empty", ErrMissingField)
	case !utf8.ValidString(m.Text):
		return fmt.Errorf("%w: text", ErrInvalidUTF8)
	case utf8.RuneCountInString(m.Text) > MaxMomentTextChars || len(m.Text) > MaxMomentTextBytes:
		return fmt.Errorf("%w: text: at most %d characters and %d bytes", ErrOverLimit, MaxMomentTextChars, MaxMomentTextBytes)
	case len(m.Senders) > MaxMomentSenders:
		return fmt.Errorf("%w: senders: %d, at most %d", ErrOverLimit, len(m.Senders), MaxMomentSenders)
	}
	for i, s := range m.Senders {
		if strings.TrimSpace(s) == "" {
			return fmt.Errorf("%w: senders[%d]", ErrMissingField, i)
		}
	}
	for i, t := range m.TagIDs {
		if strings.TrimSpace(t) == "" {
			return fmt.Errorf("%w: tag_ids[%d]", ErrMissingField, i)
		}
	}
	return validateMomentAttachments(m.Attachments)
}

// validateMomentAttachments allows up to MaxMomentImages images, or one
// video, or one link (附件类型只能三选一).
func validateMomentAttachments(atts []MomentAttachment) error {
	kinds := map[string]int{}
	for i, a := range atts {
		k := a.kind()
		if k == "" {
			return fmt.Errorf("%w: attachments[%d]: set exactly one of image, video and link", ErrBadField, i)
		}
		kinds[k]++
		if l := a.Link; l != nil {
			switch {
			case l.Title == "" || l.URL == "" || l.MediaID == "":
				return fmt.Errorf("%w: attachments[%d].link: title, url and media_id are required", ErrMissingField, i)
			case len(l.Title) > MaxMomentLinkTitleBytes:
				return fmt.Errorf("%w: attachments[%d].link.title: at most %d bytes", ErrOverLimit, i, MaxMomentLinkTitleBytes)
			}
			if u, err := url.Parse(l.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("%w: attachments[%d].link.url: an http(s) URL", ErrBadField, i)
			}
		}
	}
	switch {
	case len(kinds) > 1:
		return fmt.Errorf("%w: attachments: images, a video or a link, not two kinds", ErrBadField)
	case kinds["image"] > MaxMomentImages:
		return fmt.Errorf("%w: attachments: %d images, at most %d", ErrOverLimit, kinds["image"], MaxMomentImages)
	case kinds["video"] > 1 || kinds["link"] > 1:
		return fmt.Errorf("%w: attachments: one video or one link", ErrOverLimit)
	}
	return nil
}

type momentAttachmentJSON struct {
	MsgType string `json:"msgtype"`
	Image   *struct {
		MediaID string `json:"media_id"`
	} `json:"image,omitempty"`
	Video *struct {
		MediaID string `json:"media_id"`
	} `json:"video,omitempty"`
	Link *MomentLink `json:"link,omitempty"`
}

type mediaRef = struct {
	MediaID string `json:"media_id"`
}

// MomentTaskBody is the add_moment_task request body of m.
func (m MomentTask) body() ([]byte, error) {
	type idList struct {
		UserList []string `json:"user_list,omitempty"`
	}
	type tagList struct {
		TagList []string `json:"tag_list,omitempty"`
	}
	req := struct {
		Text         *textJSON              `json:"text,omitempty"`
		Attachments  []momentAttachmentJSON `json:"attachments,omitempty"`
		VisibleRange *struct {
			SenderList          *idList  `json:"sender_list,omitempty"`
			ExternalContactList *tagList `json:"external_contact_list,omitempty"`
		} `json:"visible_range,omitempty"`
	}{}
	if m.Text != "" {
		req.Text = &textJSON{Content: m.Text}
	}
	for _, a := range m.Attachments {
		j := momentAttachmentJSON{MsgType: a.kind(), Link: a.Link}
		switch j.MsgType {
		case "image":
			j.Image = &mediaRef{MediaID: a.ImageMediaID}
		case "video":
			j.Video = &mediaRef{MediaID: a.VideoMediaID}
		}
		req.Attachments = append(req.Attachments, j)
	}
	if len(m.Senders)+len(m.TagIDs) > 0 {
		req.VisibleRange = &struct {
			SenderList          *idList  `json:"sender_list,omitempty"`
			ExternalContactList *tagList `json:"external_contact_list,omitempty"`
		}{}
		if len(m.Senders) > 0 {
			req.VisibleRange.SenderList = &idList{UserList: m.Senders}
		}
		if len(m.TagIDs) > 0 {
			req.VisibleRange.ExternalContactList = &tagList{TagList: m.TagIDs}
		}
	}
	return json.Marshal(req)
}

// AddMomentTask asks WeCom to create the moment task m (add_moment_task)
// and returns its asynchronous jobid, to be polled with
// GetMomentTaskResult within MomentJobTTL. Nothing is retried: a
// timeout or 5xx may have created the task, and only get_moment_list
// can tell (ListMoments).
func (c *Client) AddMomentTask(ctx context.Context, m MomentTask) (string, error) {
	if err := m.Validate(); err != nil {
		return "", err
	}
	body, err := m.body()
	if err != nil {
		return "", fmt.Errorf("wecom: add_moment_task: %w", err)
	}
	var resp struct {
		status
		JobID string `json:"jobid"`
	}
	if err := c.callWith(ctx, http.MethodPost, PathAddMomentTask, nil, body, nil, &resp); err != nil {
		return "", err
	}
	if resp.JobID == "" {
		return "", fmt.Errorf("%w: add_moment_task answered no jobid", ErrMissingField)
	}
	return resp.JobID, nil
}

// MomentJob is get_moment_task_result's answer. Once Status is
// MomentJobDone, ErrCode 0 means the moment MomentID was created (the
// senders and tags WeCom could not use listed); another ErrCode is the
// task's refusal.
type MomentJob struct {
	Status         int
	ErrCode        int
	ErrMsg         string
	MomentID       string
	InvalidSenders []string
	InvalidTags    []string
}

// GetMomentTaskResult reads the job add_moment_task started
// (get_moment_task_result, GET with the jobid).
func (c *Client) GetMomentTaskResult(ctx context.Context, jobID string) (MomentJob, error) {
	if jobID == "" {
		return MomentJob{}, fmt.Errorf("%w: jobid", ErrMissingField)
	}
	var resp struct {
		status
		Status int    `json:"status"`
		Type   string `json:"type"`
		Result struct {
			ErrCode           int    `json:"errcode"`
			ErrMsg            string `json:"errmsg"`
			MomentID          string `json:"moment_id"`
			InvalidSenderList struct {
				UserList []string `json:"user_list"`
			} `json:"invalid_sender_list"`
			InvalidExternalContactList struct {
				TagList []string `json:"tag_list"`
			} `json:"invalid_external_contact_list"`
		} `json:"result"`
	}
	if err := c.call(ctx, PathGetMomentTaskResult, url.Values{"jobid": {jobID}}, &resp); err != nil {
		return MomentJob{}, err
	}
	j := MomentJob{Status: resp.Status}
	if j.Status == MomentJobDone {
		r := resp.Result
		j.ErrCode, j.ErrMsg, j.MomentID = r.ErrCode, r.ErrMsg, r.MomentID
		j.InvalidSenders, j.InvalidTags = r.InvalidSenderList.UserList, r.InvalidExternalContactList.TagList
	}
	return j, nil
}

// MomentSummary is one moment of get_moment_list.
type MomentSummary struct {
	MomentID   string
	CreateTime time.Time
	CreateType int // 0 the corp's (a moment task), 1 a staff member's own
	Text       string
}

// ListMoments returns the corp's moment tasks (filter_type 0) created in
// (start, end), at most MaxMomentListSpan apart, paging with the largest
// page. It has no side effect: a caller uses it to find out whether an
// add_moment_task call whose answer it never saw created its moment.
func (c *Client) ListMoments(ctx context.Context, start, end time.Time) ([]MomentSummary, error) {
	switch {
	case start.IsZero() || end.IsZero() || !end.After(start):
		return nil, fmt.Errorf("%w: start and end of the time range", ErrBadField)
	case end.Sub(start) > MaxMomentListSpan:
		return nil, fmt.Errorf("%w: time range over %s", ErrOverLimit, MaxMomentListSpan)
	}
	var out []MomentSummary
	err := c.pages(ctx, "get_moment_list", func(cursor string) (any, error) {
		return map[string]any{"start_time": start.Unix(), "end_time": end.Unix(), "filter_type": 0, "cursor": cursor, "limit": MaxMomentListLimit}, nil
	}, PathGetMomentList, func(raw json.RawMessage) error {
		var page struct {
			MomentList []struct {
				MomentID   string `json:"moment_id"`
				CreateTime int64  `json:"create_time"`
				CreateType int    `json:"create_type"`
				Text       struct {
					Content string `json:"content"`
				} `json:"text"`
			} `json:"moment_list"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			return err
		}
		for _, m := range page.MomentList {
			out = append(out, MomentSummary{MomentID: m.MomentID, CreateTime: time.Unix(m.CreateTime, 0).UTC(), CreateType: m.CreateType, Text: m.Text.Content})
		}
		return nil
	})
	return out, err
}

// MomentPublish is one sender of a moment task and whether they
// published it (get_moment_task publish_status 1).
type MomentPublish struct {
	UserID    string
	Published bool
}

// MomentTasks returns each sender of the corp moment momentID with
// whether they published it (get_moment_task, pages of
// MaxMomentTaskLimit).
func (c *Client) MomentTasks(ctx context.Context, momentID string) ([]MomentPublish, error) {
	var out []MomentPublish
	err := c.momentPages(ctx, PathGetMomentTask, momentID, "", MaxMomentTaskLimit, func(raw json.RawMessage) error {
		var page struct {
			TaskList []struct {
				UserID        string `json:"userid"`
				PublishStatus int    `json:"publish_status"`
			} `json:"task_list"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			return err
		}
		for _, t := range page.TaskList {
			out = append(out, MomentPublish{UserID: t.UserID, Published: t.PublishStatus == 1})
		}
		return nil
	})
	return out, err
}

// MomentCustomers returns the customers of sender the moment was made
// visible to when it was published (get_moment_customer_list: the range
// chosen, not who saw it).
func (c *Client) MomentCustomers(ctx context.Context, momentID, sender string) ([]string, error) {
	return c.momentCustomerIDs(ctx, PathGetMomentCustomerList, momentID, sender, MaxMomentCustomerLimit)
}

// MomentSendResult returns the customers the moment reached through
// sender (get_moment_send_result: 发送成功的客户).
func (c *Client) MomentSendResult(ctx context.Context, momentID, sender string) ([]string, error) {
	return c.momentCustomerIDs(ctx, PathGetMomentSendResult, momentID, sender, MaxMomentSendResultLimit)
}

func (c *Client) momentCustomerIDs(ctx context.Context, path, momentID, sender string, limit int) ([]string, error) {
	if sender == "" {
		return nil, fmt.Errorf("%w: userid", ErrMissingField)
	}
	var out []string
	err := c.momentPages(ctx, path, momentID, sender, limit, func(raw json.RawMessage) error {
		var page struct {
			CustomerList []struct {
				ExternalUserID string `json:"external_userid"`
			} `json:"customer_list"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			return err
		}
		for _, cu := range page.CustomerList {
			out = append(out, cu.ExternalUserID)
		}
		return nil
	})
	return out, err
}

// momentPages pages through a moment read by moment id (and sender).
func (c *Client) momentPages(ctx context.Context, path, momentID, sender string, limit int, page func(json.RawMessage) error) error {
	if momentID == "" {
		return fmt.Errorf("%w: moment_id", ErrMissingField)
	}
	name := path[strings.LastIndex(path, "/")+1:]
	return c.pages(ctx, name, func(cursor string) (any, error) {
		req := map[string]any{"moment_id": momentID, "cursor": cursor, "limit": limit}
		if sender != "" {
			req["userid"] = sender
		}
		return req, nil
	}, path, page)
}

// pages POSTs req(cursor) to path until next_cursor is empty, handing
// each answer to page; a cursor WeCom repeats is an error.
func (c *Client) pages(ctx context.Context, name string, req func(cursor string) (any, error), path string, page func(json.RawMessage) error) error {
	seen := map[string]bool{}
	cursor := ""
	for {
		r, err := req(cursor)
		if err != nil {
			return err
		}
		body, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("wecom: %s: %w", name, err)
		}
		var resp rawPage
		if err := c.callWith(ctx, http.MethodPost, path, nil, body, nil, &resp); err != nil {
			return err
		}
		if err := page(resp.raw); err != nil {
			return fmt.Errorf("wecom: %s: %w", name, err)
		}
		if resp.NextCursor == "" {
			return nil
		}
		if seen[resp.NextCursor] {
			return fmt.Errorf("wecom: %s: cursor %q repeats", name, resp.NextCursor)
		}
		seen[resp.NextCursor] = true
		cursor = resp.NextCursor
	}
}

// rawPage keeps a paged answer whole for the page's own decoding.
type rawPage struct {
	status
	NextCursor string `json:"next_cursor"`
	raw        json.RawMessage
}

func (p *rawPage) UnmarshalJSON(b []byte) error {
	type plain struct {
		status
		NextCursor string `json:"next_cursor"`
	}
	var v plain
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	p.status, p.NextCursor, p.raw = v.status, v.NextCursor, append(json.RawMessage(nil), b...)
	return nil
}
