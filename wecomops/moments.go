package wecomops

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom"
)

// Moment-task statuses (wecom_moments.status).
const (
	// MomentCreating is written before each add_moment_task call: while
	// it stands, a call may be under way, or was cut off (a crash, a
	// timeout, a 5xx) and may have created the task.
	MomentCreating = "creating"
	// MomentQueued: WeCom refused the call for now (45009, busy), so
	// nothing was created; it is called again.
	MomentQueued    = "queued"
	MomentSubmitted = "submitted" // WeCom answered a jobid
	MomentCreated   = "created"   // the job gave a moment_id
	MomentFailed    = "failed"
)

// How the moment loop treats open tasks.
const (
	// momentSettle is how long a task may stand creating before it is
	// looked for in WeCom's list of moments: long enough for the call
	// under way to end and for its job to complete (seconds at WeCom).
	momentSettle = 2 * time.Minute
	// momentResultsFor is how long after its creation a moment's results
	// are read again; momentResultsEvery how often.
	momentResultsFor   = 7 * 24 * time.Hour
	momentResultsEvery = 10 * time.Minute
)

// MomentInput asks for a moment task: the text and attachments staff
// members are asked to publish to their customers' WeChat moments, the
// senders asked (sender_list) and the corp tags whose customers see it
// (external_contact_list.tag_list). At least one sender or tag is
// required: the platform never posts to every customer of every staff
// member by omission.
type MomentInput struct {
	Text        string                   `json:"text"`
	Attachments []wecom.MomentAttachment `json:"attachments"`
	Senders     []string                 `json:"senders"`
	TagIDs      []string                 `json:"tag_ids"`
}

func (in MomentInput) task() wecom.MomentTask {
	return wecom.MomentTask{Text: in.Text, Attachments: in.Attachments, Senders: in.Senders, TagIDs: in.TagIDs}
}

// Moment is a moment task with its latest state and, once created, what
// its senders did with it.
type Moment struct {
	ID             string                   `json:"id"`
	Text           string                   `json:"text"`
	Attachments    []wecom.MomentAttachment `json:"attachments"`
	Senders        []string                 `json:"senders"`
	TagIDs         []string                 `json:"tag_ids"`
	Status         string                   `json:"status"`
	Attempts       uint16                   `json:"attempts"`
	JobID          string                   `json:"jobid"`
	MomentID       string                   `json:"moment_id"`
	InvalidSenders []string                 `json:"invalid_senders"`
	InvalidTags    []string                 `json:"invalid_tags"`
	Error          string                   `json:"error,omitempty"`
	CreatedBy      string                   `json:"created_by"`
	CreatedAt      time.Time                `json:"created_at"`
	AttemptAt      time.Time                `json:"attempt_at"`
	UpdatedAt      time.Time                `json:"updated_at"`
	// Published counts the senders who published it; Visible and Reached
	// the customers it was made visible to and reached, over all senders.
	Published uint64 `json:"published"`
	Visible   uint64 `json:"visible"`
	Reached   uint64 `json:"reached"`
	// Results are per sender, as last read (Moment only; not in lists).
	Results []MomentResult `json:"results,omitempty"`
}

// MomentResult is what one sender did with a moment, as last read.
type MomentResult struct {
	Sender    string    `json:"sender"`
	Published bool      `json:"published"`
	Visible   uint32    `json:"visible"`
	Reached   uint32    `json:"reached"`
	ReadAt    time.Time `json:"read_at"`
}

// errMomentCrash is what a test's crash point returns: the process is
// taken to die there, writing nothing more.
var errMomentCrash = errors.New("wecomops: simulated crash")

// validate checks in against WeCom's limits and the corp tag library as
// last read, naming the refused field.
func (s *Service) validateMoment(ctx context.Context, in MomentInput) error {
	if len(in.Senders)+len(in.TagIDs) == 0 {
		return &FieldError{"tag_ids", "name the corp tags whose customers see it, or the senders, or both"}
	}
	if err := in.task().Validate(); err != nil {
		return limitError(err)
	}
	lib, err := s.Library(ctx)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, t := range lib {
		known[t.ID] = true
	}
	for i, t := range in.TagIDs {
		if !known[t] {
			return &FieldError{fmt.Sprintf("tag_ids[%d]", i), "tag " + t + " is not in the corp tag library as last read"}
		}
	}
	return nil
}

// limitError turns the client's refusal of a request ("wecom: <kind>:
// <field>: <detail>") into a FieldError naming the field.
func limitError(err error) error {
	msg := err.Error()
	for _, sentinel := range []error{wecom.ErrMissingField, wecom.ErrOverLimit, wecom.ErrBadField, wecom.ErrInvalidUTF8} {
		if errors.Is(err, sentinel) {
			msg = strings.TrimPrefix(msg, sentinel.Error()+": ")
			break
		}
	}
	field, detail, ok := strings.Cut(msg, ": ")
	if !ok {
		field, detail = msg, "is not valid"
	}
	return &FieldError{field, detail}
}

// CreateMoment creates a moment task in WeCom (add_moment_task). The task
// is journalled creating before the call and submitted with WeCom's jobid
// after it, so a crash, a timeout or a 5xx in between leaves a creating
// row that PollMoments settles from WeCom's own list of moments before it
// would call again: WeCom gets each task once. A 45009 or busy answer
// leaves it queued (called again by PollMoments); WeCom's refusal fails
// it and is returned with it.
func (s *Service) CreateMoment(ctx context.Context, in MomentInput, by string) (Moment, error) {
	if err := s.validateMoment(ctx, in); err != nil {
		return Moment{}, err
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	m := Moment{ID: "mt_" + hex.EncodeToString(b[:]), Text: in.Text, Attachments: in.Attachments,
		Senders: in.Senders, TagIDs: in.TagIDs, CreatedBy: by, CreatedAt: s.o.Clock.Now().UTC().Truncate(time.Millisecond)}
	err := s.submitMoment(ctx, &m)
	return m, err
}

// submitMoment journals m creating, calls add_moment_task and records the
// answer. An answer that may have created the task (timeout, 5xx) leaves
// it creating; the error returned is then nil: the task is WeCom's or
// the loop's to settle.
func (s *Service) submitMoment(ctx context.Context, m *Moment) error {
	m.Status, m.Attempts, m.AttemptAt, m.Error = MomentCreating, m.Attempts+1, s.stamp(), ""
	if err := s.writeMoment(ctx, m); err != nil {
		return err
	}
	if err := s.momentCrashAt("before_call"); err != nil {
		return err
	}
	jobID, err := s.o.Client.AddMomentTask(ctx, wecom.MomentTask{Text: m.Text, Attachments: m.Attachments, Senders: m.Senders, TagIDs: m.TagIDs})
	var apiErr *wecom.APIError
	switch {
	case err == nil:
		if err := s.momentCrashAt("after_call"); err != nil {
			return err // WeCom made the task; our record of it did not move
		}
		m.Status, m.JobID = MomentSubmitted, jobID
	case errors.Is(err, wecom.ErrRateLimited) || (errors.As(err, &apiErr) && apiErr.Code == wecom.ErrCodeSystemBusy):
		m.Status, m.Error = MomentQueued, err.Error()
	case wecom.IsRetryable(err) || ctx.Err() != nil:
		s.o.Logger.Warn("moment task answer lost; settled from WeCom's list later", "moment", m.ID, "err", err)
		return nil
	default:
		m.Status, m.Error = MomentFailed, err.Error()
		if werr := s.writeMoment(ctx, m); werr != nil {
			return errors.Join(err, werr)
		}
		return fmt.Errorf("wecomops: add_moment_task %s: %w", m.ID, err)
	}
	return s.writeMoment(ctx, m)
}

func (s *Service) momentCrashAt(point string) error {
	if s.momentCrash != nil && s.momentCrash(point) {
		return errMomentCrash
	}
	return nil
}

func (s *Service) writeMoment(ctx context.Context, m *Moment) error {
	m.UpdatedAt = s.stamp()
	atts, err := json.Marshal(nonNilAtts(m.Attachments))
	if err != nil {
		return fmt.Errorf("wecomops: write moment %s: %w", m.ID, err)
	}
	err = s.insert(ctx, "wecom_moments", "id, text, attachments, senders, tag_ids, status, attempts, jobid, moment_id, invalid_senders, invalid_tags, error, created_by, created_at, attempt_at, ts",
		[][]any{{m.ID, m.Text, string(atts), strs(m.Senders), strs(m.TagIDs), m.Status, m.Attempts, m.JobID, m.MomentID,
			strs(m.InvalidSenders), strs(m.InvalidTags), m.Error, m.CreatedBy, m.CreatedAt, m.AttemptAt, m.UpdatedAt}})
	if err != nil {
		return fmt.Errorf("wecomops: write moment %s: %w", m.ID, err)
	}
	return nil
}

func nonNilAtts(a []wecom.MomentAttachment) []wecom.MomentAttachment {
	if a == nil {
		return []wecom.MomentAttachment{}
	}
	return a
}

func strs(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// Moments lists the moment tasks, newest first (at most limit), each with
// its totals.
func (s *Service) Moments(ctx context.Context, limit int) ([]Moment, error) {
	list, err := s.readMoments(ctx, "1", limit)
	if err != nil {
		return nil, err
	}
	totals, err := s.momentTotals(ctx)
	if err != nil {
		return nil, err
	}
	for i := range list {
		t := totals[list[i].ID]
		list[i].Published, list[i].Visible, list[i].Reached = t[0], t[1], t[2]
	}
	return list, nil
}

// GetMoment returns one moment task with its results per sender
// (ErrNotFound when unknown).
func (s *Service) GetMoment(ctx context.Context, id string) (Moment, error) {
	list, err := s.readMoments(ctx, "id = ?", 1, id)
	if err != nil {
		return Moment{}, err
	}
	if len(list) == 0 {
		return Moment{}, ErrNotFound
	}
	m := list[0]
	m.Results = []MomentResult{}
	err = s.each(ctx, "read moment results", `SELECT sender, published, visible, reached, ts FROM `+s.db.Table("wecom_moment_results")+` FINAL
		WHERE id = ? ORDER BY sender`, []any{id}, func(scan scanFn) error {
		var r MomentResult
		var pub uint8
		if err := scan(&r.Sender, &pub, &r.Visible, &r.Reached, &r.ReadAt); err != nil {
			return err
		}
		r.Published = pub == 1
		if r.Published {
			m.Published++
		}
		m.Visible, m.Reached = m.Visible+uint64(r.Visible), m.Reached+uint64(r.Reached)
		m.Results = append(m.Results, r)
		return nil
	})
	return m, err
}

func (s *Service) readMoments(ctx context.Context, where string, limit int, args ...any) ([]Moment, error) {
	out := []Moment{}
	q := `SELECT id, text, attachments, senders, tag_ids, status, attempts, jobid, moment_id, invalid_senders, invalid_tags, error,
			created_by, created_at, attempt_at, ts
		FROM ` + s.db.Table("wecom_moments") + ` FINAL WHERE ` + where + ` ORDER BY created_at DESC, id LIMIT ?`
	err := s.each(ctx, "read moments", q, append(args, limit), func(scan scanFn) error {
		var m Moment
		var atts string
		if err := scan(&m.ID, &m.Text, &atts, &m.Senders, &m.TagIDs, &m.Status, &m.Attempts, &m.JobID, &m.MomentID,
			&m.InvalidSenders, &m.InvalidTags, &m.Error, &m.CreatedBy, &m.CreatedAt, &m.AttemptAt, &m.UpdatedAt); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(atts), &m.Attachments); err != nil {
			return err
		}
		out = append(out, m)
		return nil
	})
	return out, err
}

// momentTotals are per task: senders who published, customers visible,
// customers reached.
func (s *Service) momentTotals(ctx context.Context) (map[string][3]uint64, error) {
	out := map[string][3]uint64{}
	err := s.each(ctx, "read moment totals", `SELECT id, countIf(published = 1), sum(visible), sum(reached)
		FROM `+s.db.Table("wecom_moment_results")+` FINAL GROUP BY id`, nil, func(scan scanFn) error {
		var id string
		var t [3]uint64
		if err := scan(&id, &t[0], &t[1], &t[2]); err != nil {
			return err
		}
		out[id] = t
		return nil
	})
	return out, err
}
