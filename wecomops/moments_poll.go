package wecomops

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom"
)

// momentState is the moment loop's share of a Service: when each
// created moment's results were last read (in memory: a restart reads
// them all again), and a test's crash points.
type momentState struct {
	mu     sync.Mutex
	readAt map[string]time.Time
}

// PollMoments moves the open moment tasks on and reads the results of
// the recent ones; it returns how many tasks changed state.
//   - queued (45009, busy) at least a minute: called again;
//   - creating for momentSettle (the answer lost to a crash, a timeout or
//     a 5xx): looked for in get_moment_list (the corp's moments since a
//     minute before the task, same text, not another task's); found, it
//     is created; not found, called again;
//   - submitted: get_moment_task_result; a done job makes it created
//     (with the senders and tags WeCom could not use) or failed; a jobid
//     WeCom no longer knows is looked for in the list as above;
//   - created within momentResultsFor: results read every
//     momentResultsEvery (ReadMomentResults).
func (s *Service) PollMoments(ctx context.Context) (int, error) {
	open, err := s.readMoments(ctx, "status IN ('creating', 'queued', 'submitted')", 10000)
	if err != nil {
		return 0, err
	}
	now := s.o.Clock.Now()
	changed := 0
	for i := range open {
		m := &open[i]
		before := m.Status
		var err error
		switch {
		case m.Status == MomentQueued && now.Sub(m.UpdatedAt) >= wecom.RateLimitBackoff:
			err = s.submitMoment(ctx, m)
		case m.Status == MomentCreating && now.Sub(m.AttemptAt) >= momentSettle:
			err = s.settleCreating(ctx, m)
		case m.Status == MomentSubmitted:
			err = s.pollJob(ctx, m)
		}
		if err != nil {
			return changed, err
		}
		if m.Status != before {
			changed++
		}
	}
	return changed, s.readRecentResults(ctx)
}

// settleCreating looks for m's moment in WeCom's list: found, m is
// created; not found, add_moment_task is called again.
func (s *Service) settleCreating(ctx context.Context, m *Moment) error {
	id, found, err := s.findMoment(ctx, m)
	switch {
	case err != nil:
		return err
	case found:
		m.Status, m.MomentID, m.Error = MomentCreated, id, ""
		return s.writeMoment(ctx, m)
	}
	s.o.Logger.Info("moment task not found in WeCom; calling again", "moment", m.ID, "attempts", m.Attempts)
	return s.submitMoment(ctx, m)
}

// findMoment looks for the moment an unanswered add_moment_task call of m
// may have created: a corp moment created since a minute before m (WeCom
// dates it when the job ran), with m's text, not recorded for another
// task.
func (s *Service) findMoment(ctx context.Context, m *Moment) (string, bool, error) {
	from, to := m.CreatedAt.Add(-time.Minute), s.o.Clock.Now().Add(time.Minute)
	if to.Sub(from) > wecom.MaxMomentListSpan {
		from = to.Add(-wecom.MaxMomentListSpan)
	}
	list, err := s.o.Client.ListMoments(ctx, from, to)
	if err != nil {
		return "", false, fmt.Errorf("wecomops: get_moment_list: %w", err)
	}
	claimed, err := s.queryStrings(ctx, "read the moments recorded",
		`SELECT moment_id FROM `+s.db.Table("wecom_moments")+` FINAL WHERE moment_id != '' AND id != ?`, m.ID)
	if err != nil {
		return "", false, err
	}
	taken := map[string]bool{}
	for _, id := range claimed {
		taken[id] = true
	}
	for _, x := range list {
		if x.CreateType == 0 && x.Text == m.Text && !taken[x.MomentID] {
			return x.MomentID, true, nil
		}
	}
	return "", false, nil
}

// pollJob reads m's job: still running changes nothing.
func (s *Service) pollJob(ctx context.Context, m *Moment) error {
	job, err := s.o.Client.GetMomentTaskResult(ctx, m.JobID)
	var apiErr *wecom.APIError
	switch {
	case err == nil:
	case errors.As(err, &apiErr) && !wecom.IsRetryable(err):
		// The jobid is no longer known (24 hours): the list decides.
		id, found, ferr := s.findMoment(ctx, m)
		if ferr != nil {
			return ferr
		}
		if found {
			m.Status, m.MomentID, m.Error = MomentCreated, id, ""
		} else {
			m.Status, m.Error = MomentFailed, "job "+m.JobID+": "+err.Error()
		}
		return s.writeMoment(ctx, m)
	default:
		return fmt.Errorf("wecomops: get_moment_task_result %s: %w", m.ID, err)
	}
	if job.Status != wecom.MomentJobDone {
		return nil
	}
	if job.ErrCode != 0 {
		m.Status, m.Error = MomentFailed, fmt.Sprintf("job errcode %d: %s", job.ErrCode, job.ErrMsg)
	} else {
		m.Status, m.MomentID, m.Error = MomentCreated, job.MomentID, ""
		m.InvalidSenders, m.InvalidTags = job.InvalidSenders, job.InvalidTags
	}
	return s.writeMoment(ctx, m)
}

// readRecentResults reads the results of created moments younger than
// momentResultsFor whose results were not read in momentResultsEvery.
func (s *Service) readRecentResults(ctx context.Context) error {
	now := s.o.Clock.Now()
	recent, err := s.readMoments(ctx, "status = 'created' AND created_at > ?", 10000, now.UTC().Add(-momentResultsFor))
	if err != nil {
		return err
	}
	for _, m := range recent {
		s.moments.mu.Lock()
		last, ok := s.moments.readAt[m.ID]
		s.moments.mu.Unlock()
		if ok && now.Sub(last) < momentResultsEvery {
			continue
		}
		if err := s.ReadMomentResults(ctx, m.ID); err != nil {
			return err
		}
	}
	return nil
}

// ReadMomentResults reads what each sender of a created moment did with
// it (get_moment_task), and for those who published, the customers they
// made it visible to (get_moment_customer_list) and it reached
// (get_moment_send_result), into wecom_moment_results.
func (s *Service) ReadMomentResults(ctx context.Context, id string) error {
	list, err := s.readMoments(ctx, "id = ?", 1, id)
	if err != nil {
		return err
	}
	if len(list) == 0 || list[0].MomentID == "" {
		return ErrNotFound
	}
	m := list[0]
	senders, err := s.o.Client.MomentTasks(ctx, m.MomentID)
	if err != nil {
		return fmt.Errorf("wecomops: get_moment_task %s: %w", m.ID, err)
	}
	rows := make([][]any, 0, len(senders))
	for _, p := range senders {
		var visible, reached []string
		if p.Published {
			if visible, err = s.o.Client.MomentCustomers(ctx, m.MomentID, p.UserID); err != nil {
				return fmt.Errorf("wecomops: get_moment_customer_list %s: %w", m.ID, err)
			}
			if reached, err = s.o.Client.MomentSendResult(ctx, m.MomentID, p.UserID); err != nil {
				return fmt.Errorf("wecomops: get_moment_send_result %s: %w", m.ID, err)
			}
		}
		rows = append(rows, []any{m.ID, m.MomentID, p.UserID, boolU8(p.Published), uint32(len(visible)), uint32(len(reached)), s.stamp()})
	}
	if err := s.insert(ctx, "wecom_moment_results", "id, moment_id, sender, published, visible, reached, ts", rows); err != nil {
		return fmt.Errorf("wecomops: write moment results %s: %w", m.ID, err)
	}
	s.moments.mu.Lock()
	s.moments.readAt[m.ID] = s.o.Clock.Now()
	s.moments.mu.Unlock()
	return nil
}
