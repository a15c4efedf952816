package wecomops

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Sync statuses.
const (
	SyncActive  = "active"  // members carry the tag
	SyncStopped = "stopped" // what the sync added is removed; nothing is added
)

// TagSync is a segment written back to WeCom as a corp tag.
type TagSync struct {
	ID        string    `json:"id"`
	SegmentID string    `json:"segment_id"`
	TagID     string    `json:"tag_id"`
	TagName   string    `json:"tag_name"`
	Status    string    `json:"status"`
	UpdatedAt time.Time `json:"updated_at"`
	By        string    `json:"by"`
}

// FieldError is a refused request field: the API answers 400 naming it.
type FieldError struct {
	Field, Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// ErrNotFound is returned for an unknown sync.
var ErrNotFound = errors.New("wecomops: not found")

// CreateSync starts syncing segment segmentID to the corp tag tagID. The
// segment must exist, the tag must be in the corp tag library as last
// read (RefreshLibrary), and no active sync may already write that tag.
func (s *Service) CreateSync(ctx context.Context, segmentID, tagID, by string) (TagSync, error) {
	switch {
	case segmentID == "":
		return TagSync{}, &FieldError{"segment_id", "is required"}
	case tagID == "":
		return TagSync{}, &FieldError{"tag_id", "is required"}
	}
	if _, err := s.o.Segments.Get(segmentID); err != nil {
		return TagSync{}, &FieldError{"segment_id", "no segment " + segmentID}
	}
	var name string
	err := s.db.Conn.QueryRow(ctx, "SELECT argMax(tag_name, ts) FROM "+s.db.Table("wecom_corp_tags")+
		" WHERE tag_id = ? GROUP BY tag_id HAVING argMax(deleted, ts) = 0", tagID).Scan(&name)
	if err != nil {
		return TagSync{}, &FieldError{"tag_id", "no corp tag " + tagID + " in the library (refresh it, or create the tag in WeCom first)"}
	}
	syncs, err := s.Syncs(ctx)
	if err != nil {
		return TagSync{}, err
	}
	for _, o := range syncs {
		if o.TagID == tagID && o.Status == SyncActive {
			return TagSync{}, &FieldError{"tag_id", "tag " + name + " is already written by sync " + o.ID}
		}
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	ts := TagSync{ID: "tsync_" + hex.EncodeToString(b[:]), SegmentID: segmentID, TagID: tagID, TagName: name,
		Status: SyncActive, UpdatedAt: s.o.Clock.Now().UTC(), By: by}
	if err := s.writeSync(ctx, ts); err != nil {
		return TagSync{}, err
	}
	s.kick()
	return ts, nil
}

// StopSync stops a sync: the loop removes every tag it added (and none a
// staff member set).
func (s *Service) StopSync(ctx context.Context, id, by string) (TagSync, error) {
	ts, err := s.Sync(ctx, id)
	if err != nil {
		return TagSync{}, err
	}
	if ts.Status == SyncStopped {
		return ts, nil
	}
	ts.Status, ts.UpdatedAt, ts.By = SyncStopped, s.o.Clock.Now().UTC(), by
	if err := s.writeSync(ctx, ts); err != nil {
		return TagSync{}, err
	}
	s.kick()
	return ts, nil
}

func (s *Service) writeSync(ctx context.Context, ts TagSync) error {
	err := s.insert(ctx, "wecom_tag_syncs", "sync_id, segment_id, tag_id, tag_name, status, updated_at, by",
		[][]any{{ts.ID, ts.SegmentID, ts.TagID, ts.TagName, ts.Status, ts.UpdatedAt, ts.By}})
	if err != nil {
		return fmt.Errorf("wecomops: write tag sync: %w", err)
	}
	return nil
}

// Sync returns one sync (ErrNotFound when unknown).
func (s *Service) Sync(ctx context.Context, id string) (TagSync, error) {
	all, err := s.Syncs(ctx)
	if err != nil {
		return TagSync{}, err
	}
	for _, ts := range all {
		if ts.ID == id {
			return ts, nil
		}
	}
	return TagSync{}, ErrNotFound
}

// Syncs lists every sync, newest change first.
func (s *Service) Syncs(ctx context.Context) ([]TagSync, error) {
	var out []TagSync
	err := s.each(ctx, "read tag syncs", `SELECT sync_id, segment_id, tag_id, tag_name, status, updated_at, by FROM `+
		s.db.Table("wecom_tag_syncs")+` FINAL ORDER BY updated_at DESC`, nil,
		func(scan scanFn) error {
			var ts TagSync
			if err := scan(&ts.ID, &ts.SegmentID, &ts.TagID, &ts.TagName, &ts.Status, &ts.UpdatedAt, &ts.By); err != nil {
				return err
			}
			out = append(out, ts)
			return nil
		})
	return out, err
}

// kick wakes the sync loop for a full reconcile.
func (s *Service) kick() {
	s.mu.Lock()
	s.full = true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
