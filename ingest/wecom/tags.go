package wecom

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Paths of the customer-tag APIs (document/path/92117, 92118).
const (
	PathGetCorpTagList = "/cgi-bin/externalcontact/get_corp_tag_list"
	PathMarkTag        = "/cgi-bin/externalcontact/mark_tag"
)

// MaxTagsPerPair is WeCom's limit of tags one staff member may put on one
// customer (mark_tag, document/path/92118).
const MaxTagsPerPair = 3000

// ErrCodeNotExternalContact is errcode 84061: the customer is not the
// staff member's contact (any more).
const ErrCodeNotExternalContact = 84061

// ErrCodeInvalidTagID is errcode 40068: a tag id that the corp's tag
// library does not hold (deleted, or never existed).
const ErrCodeInvalidTagID = 40068

// CorpTag is a tag of the corp tag library (企业客户标签).
type CorpTag struct {
	ID        string
	Name      string
	GroupID   string
	GroupName string
	Created   time.Time // UTC
	Order     uint32
	Deleted   bool
}

type corpTagListResponse struct {
	status
	TagGroup []struct {
		GroupID    string `json:"group_id"`
		GroupName  string `json:"group_name"`
		CreateTime int64  `json:"create_time"`
		Order      uint32 `json:"order"`
		Deleted    bool   `json:"deleted"`
		Tag        []struct {
			ID         string `json:"id"`
			Name       string `json:"name"`
			CreateTime int64  `json:"create_time"`
			Order      uint32 `json:"order"`
			Deleted    bool   `json:"deleted"`
		} `json:"tag"`
	} `json:"tag_group"`
}

// GetCorpTagList returns the whole corp tag library (get_corp_tag_list
// with neither tag_id nor group_id: every group and tag). A tag in a
// deleted group is reported deleted.
func (c *Client) GetCorpTagList(ctx context.Context) ([]CorpTag, error) {
	var resp corpTagListResponse
	if err := c.callWith(ctx, http.MethodPost, PathGetCorpTagList, nil, []byte(`{}`), nil, &resp); err != nil {
		return nil, err
	}
	var out []CorpTag
	for _, g := range resp.TagGroup {
		for _, t := range g.Tag {
			out = append(out, CorpTag{
				ID: t.ID, Name: t.Name, GroupID: g.GroupID, GroupName: g.GroupName,
				Created: time.Unix(t.CreateTime, 0).UTC(), Order: t.Order, Deleted: t.Deleted || g.Deleted,
			})
		}
	}
	return out, nil
}

// MarkTag adds and removes corp tags (by id) on one (staff member,
// customer) pair (mark_tag). At least one of add and remove must be
// non-empty and each holds at most MaxTagsPerPair ids; otherwise the call
// is refused with ErrMissingField or ErrOverLimit before it is made.
//
// Adding a tag the pair carries, or removing one it does not, succeeds
// and changes nothing, so a repeated call is harmless. WeCom sends no
// callback for the change.
func (c *Client) MarkTag(ctx context.Context, userID, externalUserID string, add, remove []string) error {
	switch {
	case userID == "":
		return fmt.Errorf("%w: userid", ErrMissingField)
	case externalUserID == "":
		return fmt.Errorf("%w: external_userid", ErrMissingField)
	case len(add) == 0 && len(remove) == 0:
		return fmt.Errorf("%w: add_tag or remove_tag", ErrMissingField)
	case len(add) > MaxTagsPerPair || len(remove) > MaxTagsPerPair:
		return fmt.Errorf("%w: at most %d tags per staff member and customer", ErrOverLimit, MaxTagsPerPair)
	}
	body, err := json.Marshal(map[string]any{
		"userid": userID, "external_userid": externalUserID, "add_tag": nonNil(add), "remove_tag": nonNil(remove),
	})
	if err != nil {
		return fmt.Errorf("wecom: mark_tag: %w", err)
	}
	var resp status
	return c.callWith(ctx, http.MethodPost, PathMarkTag, nil, body, nil, &resp)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
