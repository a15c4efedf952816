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
	have, err := s.currentTags(ctx, ids)
	if err != nil {
		return err
	}
	now := s.o.Clock.Now().UTC()
	var rows [][]any
	changed := map[uint32]bool{}
	for k := range want {
		if !have[k] {
			rows, changed[k.person] = append(rows, []any{k.person, k.tag, TagSource, uint8(0), uint8(0), now}), true
		}
	}
	for k := range have {
		if !want[k] {
			rows, changed[k.person] = append(rows, []any{k.person, k.tag, TagSource, uint8(0), uint8(1), now}), true
		}
	}
	if err := s.insert(ctx, "person_tags", "person_id, tag, source, sensitive, deleted, ts", rows); err != nil {
		return fmt.Errorf("wecomops: write person tags: %w", err)
	}
	if len(changed) > 0 {
		s.o.Touched(keys(changed), []string{segments.KindTags})
	}
	return nil
}

type personTag struct {
	person uint32
	tag    string
}

// extPersons maps customers to OneIDs: those matching extWhere, or the
// customers of the OneIDs matching canonWhere.
func (s *Service) extPersons(ctx context.Context, extWhere, canonWhere string, arg any) (map[string]uint32, error) {
	rows, err := s.db.Conn.Query(ctx, `SELECT e.external_userid, p.canonical FROM `+s.contactPersons(extWhere)+` AS e
		INNER JOIN `+schema.Canonical(s.db.Table("persons"), canonWhere)+` AS p ON p.person_id = e.pid`, arg)
	if err != nil {
		return nil, fmt.Errorf("wecomops: map customers to persons: %w", err)
	}
	defer rows.Close()
	out := map[string]uint32{}
	for rows.Next() {
		var ext string
		var p uint32
		if err := rows.Scan(&ext, &p); err != nil {
			return nil, fmt.Errorf("wecomops: map customers to persons: %w", err)
		}
		out[ext] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("wecomops: map customers to persons: %w", err)
	}
	return out, nil
}

// wantedTags are the person tags the customers' WeCom tags ask for.
func (s *Service) wantedTags(ctx context.Context, ext map[string]uint32) (map[personTag]bool, error) {
	list := make([]string, 0, len(ext))
	for e := range ext {
		list = append(list, e)
	}
	rows, err := s.db.Conn.Query(ctx, `SELECT external_userid, tag_name FROM `+s.db.Table("wecom_customer_tags")+` FINAL
		WHERE external_userid IN ? AND present = 1 AND tag_type IN (1, 3) AND tag_name != ''`, list)
	if err != nil {
		return nil, fmt.Errorf("wecomops: read customer tags: %w", err)
	}
	defer rows.Close()
	out := map[personTag]bool{}
	for rows.Next() {
		var e, name string
		if err := rows.Scan(&e, &name); err != nil {
			return nil, fmt.Errorf("wecomops: read customer tags: %w", err)
		}
		out[personTag{ext[e], TagPrefix + strings.TrimSpace(name)}] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("wecomops: read customer tags: %w", err)
	}
	return out, nil
}

// currentTags are the persons' TagPrefix tags now in person_tags.
func (s *Service) currentTags(ctx context.Context, persons []uint32) (map[personTag]bool, error) {
	rows, err := s.db.Conn.Query(ctx, `SELECT person_id, tag FROM `+s.db.Table("person_tags")+` FINAL
		WHERE person_id IN ? AND startsWith(tag, ?) AND deleted = 0`, persons, TagPrefix)
	if err != nil {
		return nil, fmt.Errorf("wecomops: read person tags: %w", err)
	}
	defer rows.Close()
	out := map[personTag]bool{}
	for rows.Next() {
		var k personTag
		if err := rows.Scan(&k.person, &k.tag); err != nil {
			return nil, fmt.Errorf("wecomops: read person tags: %w", err)
		}
		out[k] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("wecomops: read person tags: %w", err)
	}
	return out, nil
}

func keys(m map[uint32]bool) []uint32 {
	out := make([]uint32, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
