package wecomops

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/segments"
)

// errSegmentDeleted reports that a sync's segment was deleted.
var errSegmentDeleted = errors.New("wecomops: the synced segment was deleted")

// Mark states of wecom_tag_marks.
const (
	MarkAdding   = "adding"   // mark_tag add about to be called (or called, outcome unknown)
	MarkAdded    = "added"    // WeCom accepted the add: the platform's to remove
	MarkRemoving = "removing" // mark_tag remove about to be called
	MarkRemoved  = "removed"  // removed, or the pair is gone: nothing of ours there
	MarkManual   = "manual"   // a staff member's own tag, there before the platform came: never touched
)

// pair is one (staff member, customer) relation.
type pair struct{ ext, staff string }

// mark is the latest record of what the platform wrote on a pair.
type mark struct {
	state  string
	ts     time.Time
	person uint32
}

// write is one mark_tag call to make.
type write struct {
	pair
	person  uint32
	add     bool
	entered time.Time // when the change asking for it was seen
}

// reconcile brings the tag on the pairs of persons (nil: every member
// and every pair the record holds) in line with the sync: members' pairs
// carry it, and pairs the record says the platform tagged lose it once
// their person left (or the sync stopped). It returns the calls made.
func (s *Service) reconcile(ctx context.Context, ts TagSync, persons *roaring.Bitmap, entered time.Time) (int, error) {
	members := roaring.New()
	if ts.Status == SyncActive {
		m, err := s.o.Segments.Members(ts.SegmentID)
		if errors.Is(err, segments.ErrNotFound) {
			return 0, fmt.Errorf("%w: %s", errSegmentDeleted, ts.SegmentID)
		}
		if err != nil {
			return 0, fmt.Errorf("wecomops: members of segment %s: %w", ts.SegmentID, err)
		}
		members = m
	}
	want := members
	if persons != nil {
		want = roaring.And(members, persons)
	}
	desired, err := s.pairsOf(ctx, want.ToArray())
	if err != nil {
		return 0, err
	}
	marks, err := s.marks(ctx, ts.TagID, persons, desired)
	if err != nil {
		return 0, err
	}
	writes, manual, err := s.plan(ctx, ts, desired, marks, entered)
	if err != nil {
		return 0, err
	}
	if err := s.recordManual(ctx, ts, manual); err != nil {
		return 0, err
	}
	return s.apply(ctx, ts, writes)
}

// plan decides the calls: an add for each desired pair without a live
// mark (unless a staff member already put the tag there), a remove for
// each pair the platform may have tagged that is no longer desired.
func (s *Service) plan(ctx context.Context, ts TagSync, desired map[pair]uint32, marks map[pair]mark, entered time.Time) ([]write, map[pair]uint32, error) {
	var fresh []string
	for p := range desired {
		if m, ok := marks[p]; !ok || m.state == MarkRemoved {
			fresh = append(fresh, p.ext)
		}
	}
	seen, err := s.observedTag(ctx, ts.TagID, fresh)
	if err != nil {
		return nil, nil, err
	}
	var writes []write
	manual := map[pair]uint32{}
	for p, person := range desired {
		m, ok := marks[p]
		switch {
		case ok && (m.state == MarkAdded || m.state == MarkManual):
		case ok && m.state == MarkAdding:
			writes = append(writes, write{p, person, true, entered})
		case seen[p].After(m.ts): // present, and seen after our last write: a staff member's
			manual[p] = person
		default:
			writes = append(writes, write{p, person, true, entered})
		}
	}
	for p, m := range marks {
		if _, ok := desired[p]; ok {
			continue
		}
		if m.state == MarkAdding || m.state == MarkAdded || m.state == MarkRemoving {
			writes = append(writes, write{p, m.person, false, entered})
		}
	}
	return writes, manual, nil
}

// contactChanges are the change types that make or end a pair.
const contactChanges = "('add_external_contact', 'edit_external_contact', 'add_half_external_contact', 'del_external_contact', 'del_follow_user')"

// pairsOf returns the current (staff member, customer) pairs of OneIDs:
// pairs whose latest contact change neither deleted them nor is a
// half-added contact (not yet accepted by the staff member).
func (s *Service) pairsOf(ctx context.Context, persons []uint32) (map[pair]uint32, error) {
	out := map[pair]uint32{}
	if len(persons) == 0 {
		return out, nil
	}
	err := s.each(ctx, "read contact pairs", `SELECT c.external_userid, c.staff_userid, p.canonical FROM (
			SELECT external_userid, staff_userid, argMaxIf(change_type, ts, change_type IN `+contactChanges+`) AS last,
				argMaxIf(person_id, ts, person_id != 0) AS pid
			FROM `+s.db.Table("wecom_contact_events")+` GROUP BY external_userid, staff_userid
			HAVING last IN ('add_external_contact', 'edit_external_contact')) AS c
		INNER JOIN `+schema.Canonical(s.db.Table("persons"), "canonical IN ?")+` AS p ON p.person_id = c.pid`, []any{persons},
		func(scan scanFn) error {
			var p pair
			var person uint32
			if err := scan(&p.ext, &p.staff, &person); err != nil {
				return err
			}
			out[p] = person
			return nil
		})
	return out, err
}

// marks reads the record of the tag: all of it (persons nil), or the
// pairs of persons and of the desired pairs' customers.
func (s *Service) marks(ctx context.Context, tagID string, persons *roaring.Bitmap, desired map[pair]uint32) (map[pair]mark, error) {
	where, args := "tag_id = ?", []any{tagID}
	if persons != nil {
		exts := map[string]bool{}
		for p := range desired {
			exts[p.ext] = true
		}
		list := make([]string, 0, len(exts))
		for e := range exts {
			list = append(list, e)
		}
		where += " AND (person_id IN ? OR external_userid IN ?)"
		args = append(args, persons.ToArray(), list)
	}
	out := map[pair]mark{}
	err := s.each(ctx, "read tag marks", `SELECT external_userid, staff_userid, argMax(state, ts), max(ts), argMax(person_id, ts) FROM `+
		s.db.Table("wecom_tag_marks")+` WHERE `+where+` GROUP BY external_userid, staff_userid`, args,
		func(scan scanFn) error {
			var p pair
			var m mark
			if err := scan(&p.ext, &p.staff, &m.state, &m.ts, &m.person); err != nil {
				return err
			}
			out[p] = m
			return nil
		})
	return out, err
}

// observedTag returns, for the pairs of customers exts that were last
// seen carrying tagID (ReadCustomerTags), when they were seen.
func (s *Service) observedTag(ctx context.Context, tagID string, exts []string) (map[pair]time.Time, error) {
	out := map[pair]time.Time{}
	if len(exts) == 0 {
		return out, nil
	}
	err := s.each(ctx, "read observed tags", `SELECT external_userid, staff_userid, max(ts) FROM `+s.db.Table("wecom_customer_tags")+`
		WHERE tag_id = ? AND external_userid IN ? GROUP BY external_userid, staff_userid HAVING argMax(present, ts) = 1`, []any{tagID, exts},
		func(scan scanFn) error {
			var p pair
			var ts time.Time
			if err := scan(&p.ext, &p.staff, &ts); err != nil {
				return err
			}
			out[p] = ts
			return nil
		})
	return out, err
}

// recordManual records pairs a staff member had tagged themselves.
func (s *Service) recordManual(ctx context.Context, ts TagSync, manual map[pair]uint32) error {
	now := s.o.Clock.Now().UTC()
	var rows [][]any
	for p, person := range manual {
		rows = append(rows, []any{ts.TagID, p.ext, p.staff, ts.ID, person, MarkManual, now, now})
	}
	if err := s.insert(ctx, "wecom_tag_marks", markCols, rows); err != nil {
		return fmt.Errorf("wecomops: write tag marks: %w", err)
	}
	return nil
}

const markCols = "tag_id, external_userid, staff_userid, sync_id, person_id, state, entered_at, ts"
