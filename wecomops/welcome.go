package wecomops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/granarycdp/cdp/ingest/wecom"
)

// Welcome is the welcome message of a State: sent with the WelcomeCode of
// every add_external_contact event carrying the State, with its corp tags
// put on the new (staff member, customer) pair.
type Welcome struct {
	State       string                       `json:"state"`
	Text        string                       `json:"text"`
	Link        *wecom.LinkAttachment        `json:"link,omitempty"`
	MiniProgram *wecom.MiniProgramAttachment `json:"miniprogram,omitempty"`
	TagIDs      []string                     `json:"tag_ids"`
	UpdatedAt   time.Time                    `json:"updated_at"`
	By          string                       `json:"by"`
}

// Message is the welcome as send_welcome_msg takes it.
func (w Welcome) Message() wecom.WelcomeMessage {
	m := wecom.WelcomeMessage{Text: w.Text}
	if w.Link != nil {
		m.Attachments = append(m.Attachments, wecom.Attachment{Link: w.Link})
	}
	if w.MiniProgram != nil {
		m.Attachments = append(m.Attachments, wecom.Attachment{MiniProgram: w.MiniProgram})
	}
	return m
}

// SetWelcome replaces the welcome message of w.State. The message must
// pass WeCom's limits (text of at most 4,000 bytes, or an attachment;
// a link needs title and url, a mini program title, appid, page and
// pic_media_id) and every tag must be in the corp tag library as last
// read. The State need not be one of the platform's QR codes: codes made
// in WeCom's admin console carry States too.
func (s *Service) SetWelcome(ctx context.Context, w Welcome, by string) (Welcome, error) {
	switch {
	case strings.TrimSpace(w.State) == "":
		return Welcome{}, &FieldError{"state", "is required"}
	case utf8.RuneCountInString(w.State) > wecom.MaxStateChars:
		return Welcome{}, &FieldError{"state", fmt.Sprintf("is over %d characters", wecom.MaxStateChars)}
	}
	if err := w.Message().Validate(); err != nil {
		field := "text"
		if errors.Is(err, wecom.ErrBadField) || (errors.Is(err, wecom.ErrMissingField) && strings.Contains(err.Error(), "attachments[")) {
			field = "attachments"
		}
		return Welcome{}, &FieldError{field, strings.TrimPrefix(err.Error(), "wecom: ")}
	}
	if len(w.TagIDs) > 100 {
		return Welcome{}, &FieldError{"tag_ids", "at most 100 tags"}
	}
	if err := s.knownTags(ctx, w.TagIDs); err != nil {
		return Welcome{}, err
	}
	w.UpdatedAt, w.By = s.stamp(), by
	if err := s.writeWelcome(ctx, w, false); err != nil {
		return Welcome{}, err
	}
	return w, nil
}

// knownTags refuses a tag id the corp tag library does not hold.
func (s *Service) knownTags(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	live, err := s.queryStrings(ctx, "read the corp tags", "SELECT tag_id FROM "+s.db.Table("wecom_corp_tags")+" FINAL WHERE deleted = 0 AND tag_id IN ?", ids)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, id := range live {
		known[id] = true
	}
	for _, id := range ids {
		if !known[id] {
			return &FieldError{"tag_ids", "no corp tag " + id + " in the library (refresh it, or create the tag in WeCom first)"}
		}
	}
	return nil
}

// DeleteWelcome switches the welcome message of state off.
func (s *Service) DeleteWelcome(ctx context.Context, state, by string) error {
	w, err := s.Welcome(ctx, state)
	if err != nil {
		return err
	}
	w.UpdatedAt, w.By = s.stamp(), by
	return s.writeWelcome(ctx, w, true)
}

func (s *Service) writeWelcome(ctx context.Context, w Welcome, deleted bool) error {
	var link wecom.LinkAttachment
	var mp wecom.MiniProgramAttachment
	if w.Link != nil {
		link = *w.Link
	}
	if w.MiniProgram != nil {
		mp = *w.MiniProgram
	}
	tags := w.TagIDs
	if tags == nil {
		tags = []string{}
	}
	err := s.insert(ctx, "wecom_welcome_msgs", "state, text, link_title, link_url, link_desc, link_picurl, mp_title, mp_appid, mp_page, mp_pic_media_id, tag_ids, deleted, updated_at, by",
		[][]any{{w.State, w.Text, link.Title, link.URL, link.Desc, link.PicURL, mp.Title, mp.AppID, mp.Page, mp.PicMediaID, tags, boolU8(deleted), w.UpdatedAt, w.By}})
	if err != nil {
		return fmt.Errorf("wecomops: write welcome message %s: %w", w.State, err)
	}
	return nil
}

// Welcome returns the welcome message of state (ErrNotFound when none).
func (s *Service) Welcome(ctx context.Context, state string) (Welcome, error) {
	all, err := s.readWelcomes(ctx, "state = ?", state)
	if err != nil {
		return Welcome{}, err
	}
	if len(all) == 0 {
		return Welcome{}, ErrNotFound
	}
	return all[0], nil
}

// Welcomes lists the welcome messages, by State.
func (s *Service) Welcomes(ctx context.Context) ([]Welcome, error) {
	return s.readWelcomes(ctx, "1")
}

func (s *Service) readWelcomes(ctx context.Context, where string, args ...any) ([]Welcome, error) {
	var out []Welcome
	q := `SELECT state, text, link_title, link_url, link_desc, link_picurl, mp_title, mp_appid, mp_page, mp_pic_media_id, tag_ids, updated_at, by
		FROM ` + s.db.Table("wecom_welcome_msgs") + ` FINAL WHERE deleted = 0 AND ` + where + ` ORDER BY state`
	err := s.each(ctx, "read welcome messages", q, args, func(scan scanFn) error {
		var w Welcome
		var l wecom.LinkAttachment
		var mp wecom.MiniProgramAttachment
		if err := scan(&w.State, &w.Text, &l.Title, &l.URL, &l.Desc, &l.PicURL, &mp.Title, &mp.AppID, &mp.Page, &mp.PicMediaID, &w.TagIDs, &w.UpdatedAt, &w.By); err != nil {
			return err
		}
		if l.URL != "" {
			w.Link = &l
		}
		if mp.AppID != "" {
			w.MiniProgram = &mp
		}
		out = append(out, w)
		return nil
	})
	return out, err
}
