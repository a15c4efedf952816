package wecomops

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/segments"
)

// contactPersons is a subquery of (external_userid, pid): the person
// each customer's latest resolved contact row names.
func (s *Service) contactPersons(where string) string {
	if where != "" {
		where = " AND " + where
	}
	return `(SELECT external_userid, argMax(person_id, ts) AS pid FROM ` + s.db.Table("wecom_contact_events") +
		` WHERE person_id != 0` + where + ` GROUP BY external_userid)`
}

// personTags brings the TagPrefix person tags of the persons of exts in
// line with the corp and rule-group tags their customers carry on any
// staff member, and tells the live segments who changed.
func (s *Service) personTags(ctx context.Context, exts []string) error {
	if len(exts) == 0 {
		return nil
	}
	batch, err := s.extPersons(ctx, "external_userid IN ?", "", exts)
	if err != nil {
		return err
	}
	persons := map[uint32]bool{}
	for _, p := range batch {
		persons[p] = true
	}
	ids := keys(persons)
	if len(ids) == 0 {
		return nil
	}
	all, err := s.extPersons(ctx, "", "canonical IN ?", ids)
	if err != nil {
		return err
	}
	want, err := s.wantedTags(ctx, all)
	if err != nil {
		return err
	}
	have, err := s.liveTags(ctx, TagPrefix, ids)
	if err != nil {
		return err
	}
	_, err = s.writeTagDiff(ctx, want, have, TagSource)
	return err
}

// writeTagDiff writes the person tags of source that want has and have
// lacks, deletes those have has and want lacks, and tells the live
// segments which persons changed; it returns them.
func (s *Service) writeTagDiff(ctx context.Context, want, have map[personTag]bool, source string) ([]uint32, error) {
	now := s.o.Clock.Now().UTC()
	var rows [][]any
	changed := map[uint32]bool{}
	for k := range want {
		if !have[k] {
			rows, changed[k.person] = append(rows, []any{k.person, k.tag, source, uint8(0), uint8(0), now}), true
		}
	}
	for k := range have {
		if !want[k] {
			rows, changed[k.person] = append(rows, []any{k.person, k.tag, source, uint8(0), uint8(1), now}), true
		}
	}
	if err := s.insert(ctx, "person_tags", "person_id, tag, source, sensitive, deleted, ts", rows); err != nil {
		return nil, fmt.Errorf("wecomops: write person tags: %w", err)
	}
	ids := keys(changed)
	if len(ids) > 0 {
		s.o.Touched(ids, []string{segments.KindTags})
	}
	return ids, nil
}

type personTag struct {
	person uint32
	tag    string
}

// extPersons maps customers to OneIDs: those matching extWhere, or the
// customers of the OneIDs matching canonWhere.
func (s *Service) extPersons(ctx context.Context, extWhere, canonWhere string, arg any) (map[string]uint32, error) {
	out := map[string]uint32{}
	err := s.each(ctx, "map customers to persons", `SELECT e.external_userid, p.canonical FROM `+s.contactPersons(extWhere)+` AS e
		INNER JOIN `+schema.Canonical(s.db.Table("persons"), canonWhere)+` AS p ON p.person_id = e.pid`, []any{arg},
		func(scan scanFn) error {
			var ext string
			var p uint32
			if err := scan(&ext, &p); err != nil {
				return err
			}
			out[ext] = p
			return nil
		})
	return out, err
}

// wantedTags are the person tags the customers' WeCom tags ask for.
func (s *Service) wantedTags(ctx context.Context, ext map[string]uint32) (map[personTag]bool, error) {
	list := make([]string, 0, len(ext))
	for e := range ext {
		list = append(list, e)
	}
	out := map[personTag]bool{}
	err := s.each(ctx, "read customer tags", `SELECT external_userid, tag_name FROM `+s.db.Table("wecom_customer_tags")+` FINAL
		WHERE external_userid IN ? AND present = 1 AND tag_type IN (1, 3) AND tag_name != ''`, []any{list},
		func(scan scanFn) error {
			var e, name string
			if err := scan(&e, &name); err != nil {
				return err
			}
			out[personTag{ext[e], TagPrefix + strings.TrimSpace(name)}] = true
			return nil
		})
	return out, err
}

// liveTags are the live person tags starting with prefix, of persons
// (nil: of everyone).
func (s *Service) liveTags(ctx context.Context, prefix string, persons []uint32) (map[personTag]bool, error) {
	cond, args := "", []any{prefix}
	if persons != nil {
		cond, args = " AND person_id IN ?", append(args, persons)
	}
	out := map[personTag]bool{}
	err := s.each(ctx, "read person tags", `SELECT person_id, tag FROM `+s.db.Table("person_tags")+` FINAL
		WHERE startsWith(tag, ?) AND deleted = 0`+cond, args,
		func(scan scanFn) error {
			var k personTag
			if err := scan(&k.person, &k.tag); err != nil {
				return err
			}
			out[k] = true
			return nil
		})
	return out, err
}

func keys(m map[uint32]bool) []uint32 {
	out := make([]uint32, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
