package wecomops

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom"
)

// cursorCustomerTags is the wecom_ops_cursors name of ReadCustomerTags'
// position: the spool_seq of the last wecom_contact_events row read. The
// pipeline writes rows in spool order, so nothing committed later can
// carry a smaller one.
const cursorCustomerTags = "customer_tags"

// RefreshLibrary reads the corp tag library (get_corp_tag_list) into
// wecom_corp_tags; a tag no longer listed is recorded deleted. It returns
// how many tags the library holds.
func (s *Service) RefreshLibrary(ctx context.Context) (int, error) {
	tags, err := s.o.Client.GetCorpTagList(ctx)
	if err != nil {
		return 0, fmt.Errorf("wecomops: read the corp tag library: %w", err)
	}
	known, err := s.queryStrings(ctx, "read the corp tags", "SELECT tag_id FROM "+s.db.Table("wecom_corp_tags")+" FINAL WHERE deleted = 0")
	if err != nil {
		return 0, err
	}
	now := s.o.Clock.Now().UTC()
	listed := map[string]bool{}
	var rows [][]any
	for _, t := range tags {
		listed[t.ID] = true
		rows = append(rows, []any{t.ID, t.Name, t.GroupID, t.GroupName, boolU8(t.Deleted), now})
	}
	for _, id := range known {
		if !listed[id] {
			rows = append(rows, []any{id, "", "", "", uint8(1), now})
		}
	}
	if err := s.insert(ctx, "wecom_corp_tags", "tag_id, tag_name, group_id, group_name, deleted, ts", rows); err != nil {
		return 0, fmt.Errorf("wecomops: write the corp tags: %w", err)
	}
	return len(tags), nil
}

// ReadCustomerTags reads, for at most limit customers whose contact
// changed since the last round (wecom_contact_events after the cursor,
// which starts at the beginning: the first rounds read every customer),
// their tags on each staff member (externalcontact/get follow_user.tags)
// into wecom_customer_tags, and then their persons' TagPrefix tags into
// person_tags. A customer WeCom no longer knows (84061) keeps no tags.
// It stops at the first error (45009, 5xx, WeCom down), keeping the
// cursor before the customer it failed on, and returns how many it read.
func (s *Service) ReadCustomerTags(ctx context.Context, limit int) (int, error) {
	cursor, err := s.cursor(ctx, cursorCustomerTags)
	if err != nil {
		return 0, err
	}
	type change struct {
		ext string
		seq uint64
	}
	var todo []change
	err = s.each(ctx, "read contact changes", `SELECT external_userid, max(spool_seq) AS seq FROM `+s.db.Table("wecom_contact_events")+`
		WHERE spool_seq > ? AND external_userid != '' GROUP BY external_userid ORDER BY seq LIMIT ?`, []any{cursor, limit},
		func(scan scanFn) error {
			var c change
			err := scan(&c.ext, &c.seq)
			todo = append(todo, c)
			return err
		})
	if err != nil {
		return 0, err
	}
	var contacts []wecom.ExternalContact
	var readErr error
	pos := cursor
	for _, c := range todo {
		contact, err := s.getContact(ctx, c.ext)
		if err != nil {
			readErr = err
			break
		}
		contact.ExternalUserID = c.ext
		contacts, pos = append(contacts, contact), c.seq
	}
	if err := s.observe(ctx, contacts); err != nil {
		return 0, err
	}
	read := make([]string, len(contacts))
	for i, c := range contacts {
		read[i] = c.ExternalUserID
	}
	if err := s.personTags(ctx, read); err != nil {
		return 0, err
	}
	if pos != cursor {
		if err := s.setCursor(ctx, cursorCustomerTags, pos); err != nil {
			return 0, err
		}
	}
	return len(read), readErr
}

// getContact is externalcontact/get under its rate limit; a customer who
// is no one's contact any more comes back with no follow users.
func (s *Service) getContact(ctx context.Context, ext string) (wecom.ExternalContact, error) {
	if err := s.gets.wait(ctx); err != nil {
		return wecom.ExternalContact{}, err
	}
	c, err := s.o.Client.GetExternalContact(ctx, ext)
	var apiErr *wecom.APIError
	if errors.As(err, &apiErr) && apiErr.Code == wecom.ErrCodeNotExternalContact {
		return wecom.ExternalContact{ExternalUserID: ext}, nil
	}
	if err != nil {
		return wecom.ExternalContact{}, fmt.Errorf("wecomops: tags of customer %s: %w", ext, err)
	}
	return c, nil
}

// observe records the tags seen on each pair of the customers read and
// marks absent the ones seen before that are gone: one query and one
// insert for the round.
func (s *Service) observe(ctx context.Context, contacts []wecom.ExternalContact) error {
	if len(contacts) == 0 {
		return nil
	}
	type key struct{ ext, staff, tag string }
	before := map[key][2]any{} // -> tag name, type
	exts := make([]string, len(contacts))
	for i, c := range contacts {
		exts[i] = c.ExternalUserID
	}
	err := s.each(ctx, "read customer tags", `SELECT external_userid, staff_userid, tag_id, argMax(tag_name, ts), argMax(tag_type, ts) FROM `+
		s.db.Table("wecom_customer_tags")+` WHERE external_userid IN ? GROUP BY external_userid, staff_userid, tag_id HAVING argMax(present, ts) = 1`, []any{exts},
		func(scan scanFn) error {
			var k key
			var name string
			var typ uint8
			err := scan(&k.ext, &k.staff, &k.tag, &name, &typ)
			before[k] = [2]any{name, typ}
			return err
		})
	if err != nil {
		return err
	}
	now := s.o.Clock.Now().UTC()
	var out [][]any
	for _, c := range contacts {
		for _, f := range c.FollowUsers {
			for _, t := range f.Tags {
				if t.TagID == "" {
					continue
				}
				delete(before, key{c.ExternalUserID, f.UserID, t.TagID})
				out = append(out, []any{c.ExternalUserID, f.UserID, t.TagID, t.TagName, uint8(t.Type), uint8(1), now})
			}
		}
	}
	for k, v := range before {
		out = append(out, []any{k.ext, k.staff, k.tag, v[0], v[1], uint8(0), now})
	}
	if err := s.insert(ctx, "wecom_customer_tags", "external_userid, staff_userid, tag_id, tag_name, tag_type, present, ts", out); err != nil {
		return fmt.Errorf("wecomops: write customer tags: %w", err)
	}
	return nil
}

// cursor reads a loop's position (0 before its first round).
func (s *Service) cursor(ctx context.Context, name string) (uint64, error) {
	var pos uint64
	err := s.db.Conn.QueryRow(ctx, "SELECT max(position) FROM "+s.db.Table("wecom_ops_cursors")+" WHERE name = ?", name).Scan(&pos)
	if err != nil {
		return 0, fmt.Errorf("wecomops: read cursor %s: %w", name, err)
	}
	return pos, nil
}

func (s *Service) setCursor(ctx context.Context, name string, pos uint64) error {
	if err := s.insert(ctx, "wecom_ops_cursors", "name, position, ts", [][]any{{name, pos, time.Now().UTC()}}); err != nil {
		return fmt.Errorf("wecomops: write cursor %s: %w", name, err)
	}
	return nil
}

func boolU8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
