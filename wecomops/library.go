package wecomops

import (
	"context"
	"time"
)

// LibraryTag is a tag of the corp tag library as last read.
type LibraryTag struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	GroupID   string    `json:"group_id"`
	GroupName string    `json:"group_name"`
	ReadAt    time.Time `json:"read_at"`
}

// Library lists the corp tag library as last read (RefreshLibrary),
// deleted tags left out, by group then name.
func (s *Service) Library(ctx context.Context) ([]LibraryTag, error) {
	out := []LibraryTag{}
	err := s.each(ctx, "read the corp tags", `SELECT tag_id, tag_name, group_id, group_name, ts FROM `+s.db.Table("wecom_corp_tags")+` FINAL
		WHERE deleted = 0 ORDER BY group_name, tag_name`, nil,
		func(scan scanFn) error {
			var t LibraryTag
			err := scan(&t.ID, &t.Name, &t.GroupID, &t.GroupName, &t.ReadAt)
			out = append(out, t)
			return err
		})
	return out, err
}

// SyncCounts are a sync's pairs by the state of the record.
type SyncCounts struct {
	Tagged  uint64 `json:"tagged"`  // pairs the platform tagged (added)
	Manual  uint64 `json:"manual"`  // pairs a staff member had tagged: left alone
	Pending uint64 `json:"pending"` // intents not yet settled (adding, removing)
}

// Counts returns each sync's counts, by sync id.
func (s *Service) Counts(ctx context.Context) (map[string]SyncCounts, error) {
	out := map[string]SyncCounts{}
	err := s.each(ctx, "count tag marks", `SELECT sync, countIf(state = 'added'), countIf(state = 'manual'), countIf(state IN ('adding', 'removing')) FROM (
			SELECT argMax(sync_id, ts) AS sync, argMax(state, ts) AS state FROM `+s.db.Table("wecom_tag_marks")+`
			GROUP BY tag_id, external_userid, staff_userid) GROUP BY sync`, nil,
		func(scan scanFn) error {
			var id string
			var c SyncCounts
			err := scan(&id, &c.Tagged, &c.Manual, &c.Pending)
			out[id] = c
			return err
		})
	return out, err
}

// SyncReport is a sync with its counts.
type SyncReport struct {
	Sync   TagSync    `json:"sync"`
	Counts SyncCounts `json:"counts"`
}

// Reports lists every sync (newest change first) with its counts.
func (s *Service) Reports(ctx context.Context) ([]SyncReport, error) {
	syncs, err := s.Syncs(ctx)
	if err != nil {
		return nil, err
	}
	counts, err := s.Counts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]SyncReport, len(syncs))
	for i, ts := range syncs {
		out[i] = SyncReport{Sync: ts, Counts: counts[ts.ID]}
	}
	return out, nil
}
