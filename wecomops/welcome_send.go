package wecomops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom"
)

// Statuses of a welcome journal entry (wecom_welcome_journal.status).
const (
	WelcomePending     = "pending"     // the add event arrived
	WelcomeSending     = "sending"     // send_welcome_msg about to be called (or cut off)
	WelcomeSent        = "sent"        // WeCom accepted it
	WelcomeUsed        = "used"        // 41051: the code was used (by an earlier call cut off by a crash, or another app)
	WelcomeExpired     = "expired"     // the 20 s window passed before a call could be made
	WelcomeUnconfirmed = "unconfirmed" // a call was cut off and the window passed: sent or not, it cannot be sent again
	WelcomeFailed      = "failed"      // WeCom refused it (not 41051)
	WelcomeSkipped     = "skipped"     // the State has no welcome message
	WelcomeNoCode      = "no_code"     // the add event had no WelcomeCode (a welcome set in WeCom's admin): tags only
)

// Journal steps: the row with the highest (step, ts) of a code wins.
const (
	stepPending uint8 = 0
	stepSending uint8 = 1
	stepFinal   uint8 = 2
)

// tags_applied values.
const (
	tagsTodo uint8 = 0
	tagsDone uint8 = 1
	tagsNone uint8 = 2 // nothing to apply, or given up (the customer or the tag is gone)
)

// welcomeBatch is how many journal entries one SendWelcomes pass takes.
const welcomeBatch = 200

// WelcomeEntry is one add event's way through the welcome journal.
type WelcomeEntry struct {
	Code        string    `json:"welcome_code"` // the WelcomeCode, or "event:" + the event's key when it had none
	State       string    `json:"state"`
	Staff       string    `json:"staff_userid"`
	External    string    `json:"external_userid"`
	ReceivedAt  time.Time `json:"received_at"`
	Status      string    `json:"status"`
	TagsApplied uint8     `json:"tags_applied"`
	Error       string    `json:"error,omitempty"`
	TS          time.Time `json:"ts"`
	step        uint8
}

// OnContactEvent takes a verified change_external_contact callback before
// it is acknowledged (ingest.WeCom.OnEvent): an add_external_contact with
// a WelcomeCode, or with a State, is journalled pending (once per code,
// whatever WeCom's retries) and the welcome loop woken. An error means the
// entry was not written: the callback is not acknowledged and WeCom sends
// it again.
func (s *Service) OnContactEvent(ctx context.Context, ev wecom.Event) error {
	if ev.Event != wecom.EventChangeExternalContact || ev.ChangeType != wecom.ChangeAddExternalContact {
		return nil
	}
	if ev.WelcomeCode == "" && ev.State == "" {
		return nil
	}
	e := WelcomeEntry{Code: ev.WelcomeCode, State: ev.State, Staff: ev.UserID, External: ev.ExternalUserID, Status: WelcomePending}
	if e.Code == "" {
		e.Code, e.Status = "event:"+ev.DedupKey(), WelcomeNoCode
	}
	// The window starts when WeCom made the event (whole seconds, so
	// never later than it did), unless the clocks disagree.
	now := s.o.Clock.Now().UTC()
	e.ReceivedAt = now
	if c := ev.CreateTime; !c.IsZero() && !c.After(now) && now.Sub(c) < time.Hour {
		e.ReceivedAt = c
	}
	s.cw.journal.Lock()
	defer s.cw.journal.Unlock()
	var n uint64
	if err := s.db.Conn.QueryRow(ctx, "SELECT count() FROM "+s.db.Table("wecom_welcome_journal")+" WHERE welcome_code = ?", e.Code).Scan(&n); err != nil {
		return fmt.Errorf("wecomops: read the welcome journal: %w", err)
	}
	if n > 0 {
		return nil
	}
	if err := s.writeEntries(ctx, []WelcomeEntry{e}); err != nil {
		return err
	}
	select {
	case s.cw.wakeWelcome <- struct{}{}:
	default:
	}
	return nil
}

func stepOf(status string) uint8 {
	switch status {
	case WelcomePending:
		return stepPending
	case WelcomeSending:
		return stepSending
	}
	return stepFinal
}

func (s *Service) writeEntries(ctx context.Context, es []WelcomeEntry) error {
	rows := make([][]any, len(es))
	for i := range es {
		e := &es[i]
		e.TS, e.step = s.stamp(), stepOf(e.Status)
		rows[i] = []any{e.Code, e.State, e.Staff, e.External, e.ReceivedAt, e.Status, e.step, e.TagsApplied, e.Error, e.TS}
	}
	err := s.insert(ctx, "wecom_welcome_journal", "welcome_code, state, staff_userid, external_userid, received_at, status, step, tags_applied, error, ts", rows)
	if err != nil {
		return fmt.Errorf("wecomops: write the welcome journal: %w", err)
	}
	return nil
}

// WelcomeJournal returns the latest entries (at most limit), newest
// first; open only those still to send or tag.
func (s *Service) WelcomeJournal(ctx context.Context, open bool, limit int) ([]WelcomeEntry, error) {
	having, order := "", "first_received DESC"
	if open {
		having, order = "HAVING last_step < 2 OR tags = 0", "first_received"
	}
	q := `SELECT welcome_code, argMax(state, (step, ts)), argMax(staff_userid, (step, ts)), argMax(external_userid, (step, ts)),
			min(received_at) AS first_received, argMax(status, (step, ts)), max(step) AS last_step, argMax(tags_applied, (step, ts)) AS tags,
			argMax(error, (step, ts)), max(ts)
		FROM ` + s.db.Table("wecom_welcome_journal") + ` GROUP BY welcome_code ` + having + ` ORDER BY ` + order + ` LIMIT ?`
	var out []WelcomeEntry
	err := s.each(ctx, "read the welcome journal", q, []any{limit}, func(scan scanFn) error {
		var e WelcomeEntry
		if err := scan(&e.Code, &e.State, &e.Staff, &e.External, &e.ReceivedAt, &e.Status, &e.step, &e.TagsApplied, &e.Error, &e.TS); err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// SendWelcomes works through the open journal entries, oldest first: an
// entry whose 20 s window passed before a call is expired (or
// unconfirmed, when a call was cut off: it cannot be sent again); the
// others are journalled sending welcomeChunk at a time, then sent with
// send_welcome_msg and their outcomes journalled. A retryable failure (45009, 5xx, a timeout) leaves an
// entry sending, to be tried again while its window lasts: WeCom takes a
// code once, so a repeat after a lost answer is refused with 41051
// (recorded used), never shown twice. The State's corp tags are then put
// on the pair (mark_tag, idempotent). It returns how many entries it
// settled.
func (s *Service) SendWelcomes(ctx context.Context) (int, error) {
	open, err := s.WelcomeJournal(ctx, true, welcomeBatch)
	if err != nil || len(open) == 0 {
		return 0, err
	}
	welcomes := map[string]*Welcome{}
	for _, e := range open {
		if _, ok := welcomes[e.State]; !ok {
			w, err := s.Welcome(ctx, e.State)
			switch {
			case err == nil:
				welcomes[e.State] = &w
			case errors.Is(err, ErrNotFound):
				welcomes[e.State] = nil
			default:
				return 0, err
			}
		}
	}
	now := s.o.Clock.Now()
	var sending, done []WelcomeEntry
	for _, e := range open {
		w := welcomes[e.State]
		switch {
		case e.step == stepFinal || e.Status == WelcomeNoCode:
			done = append(done, e)
		case w == nil:
			e.Status = WelcomeSkipped
			done = append(done, e)
		case now.Sub(e.ReceivedAt) >= wecom.WelcomeCodeTTL && e.Status == WelcomePending:
			e.Status = WelcomeExpired
			done = append(done, e)
		case now.Sub(e.ReceivedAt) >= wecom.WelcomeCodeTTL:
			e.Status = WelcomeUnconfirmed
			done = append(done, e)
		default:
			e.Status = WelcomeSending
			sending = append(sending, e)
		}
	}
	for i := range done {
		s.applyWelcomeTags(ctx, &done[i], welcomes[done[i].State])
	}
	if err := s.writeEntries(ctx, done); err != nil {
		return 0, err
	}
	settled := len(done)
	for len(sending) > 0 {
		chunk := sending[:min(welcomeChunk, len(sending))]
		sending = sending[len(chunk):]
		n, err := s.sendChunk(ctx, chunk, welcomes)
		if settled += n; err != nil {
			return settled, err
		}
	}
	return settled, nil
}

// welcomeChunk is how many entries are journalled sending together: a
// crash leaves at most this many whose call's answer was lost (recorded
// used when tried again).
const welcomeChunk = 10

// sendChunk journals chunk sending, sends each and journals the outcomes.
func (s *Service) sendChunk(ctx context.Context, chunk []WelcomeEntry, welcomes map[string]*Welcome) (int, error) {
	if err := s.writeEntries(ctx, chunk); err != nil {
		return 0, err
	}
	var out []WelcomeEntry
	for _, e := range chunk {
		if e = s.sendWelcome(ctx, e, welcomes[e.State]); e.Status != WelcomeSending {
			s.applyWelcomeTags(ctx, &e, welcomes[e.State])
			out = append(out, e)
		}
	}
	return len(out), s.writeEntries(ctx, out)
}

// sendWelcome makes one send_welcome_msg call within what is left of the
// entry's window and sets its status from the answer.
func (s *Service) sendWelcome(ctx context.Context, e WelcomeEntry, w *Welcome) WelcomeEntry {
	left := wecom.WelcomeCodeTTL - s.o.Clock.Now().Sub(e.ReceivedAt)
	cctx, cancel := context.WithTimeout(ctx, left)
	defer cancel()
	err := s.o.Client.SendWelcomeMsg(cctx, e.Code, w.Message())
	var apiErr *wecom.APIError
	switch {
	case err == nil:
		e.Status, e.Error = WelcomeSent, ""
	case errors.As(err, &apiErr) && apiErr.Code == wecom.ErrCodeWelcomeCodeUsed:
		e.Status, e.Error = WelcomeUsed, err.Error()
	case wecom.IsRetryable(err) || ctx.Err() != nil:
		e.Error = err.Error() // still sending: tried again while the window lasts
		s.o.Logger.Warn("welcome message not sent yet", "state", e.State, "err", err)
	default:
		e.Status, e.Error = WelcomeFailed, err.Error()
	}
	return e
}

// applyWelcomeTags puts the State's corp tags on the entry's pair, unless
// done: a retryable failure leaves them to the next pass; WeCom's refusal
// (the customer or a tag gone) gives up.
func (s *Service) applyWelcomeTags(ctx context.Context, e *WelcomeEntry, w *Welcome) {
	if e.TagsApplied != tagsTodo {
		return
	}
	if w == nil || len(w.TagIDs) == 0 {
		e.TagsApplied = tagsNone
		return
	}
	if err := s.markRate.wait(ctx); err != nil {
		return
	}
	err := s.o.Client.MarkTag(ctx, e.Staff, e.External, w.TagIDs, nil)
	switch {
	case err == nil:
		e.TagsApplied = tagsDone
	case wecom.IsRetryable(err):
		s.o.Logger.Warn("welcome tags not applied yet", "state", e.State, "err", err)
	default:
		e.TagsApplied = tagsNone
		e.Error = strings.TrimSpace(e.Error + "; tags: " + err.Error())
	}
}

// welcomePoll is how often RunWelcome looks for open entries besides
// being woken by OnContactEvent.
const welcomePoll = time.Second

// RunWelcome sends welcome messages as add events are journalled, until
// ctx ends. Errors are logged and retried.
func (s *Service) RunWelcome(ctx context.Context) {
	poll := time.NewTicker(welcomePoll)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.cw.wakeWelcome:
		case <-poll.C:
		}
		for ctx.Err() == nil {
			n, err := s.SendWelcomes(ctx)
			if err != nil {
				s.logErr(ctx, "welcome messages failed", func() error { return err })
			}
			if err != nil || n < welcomeBatch {
				break
			}
		}
	}
}
