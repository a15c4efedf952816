package campaigns

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"log/slog"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Recipient is one treatment send of a campaign, as a channel sees it.
type Recipient struct {
	Person    uint32 // the canonical person when planned
	Address   string // where it goes on the channel (Address.To)
	Sender    string // who sends it (Address.Sender: the owning WeCom staff member)
	State     string // planned, sending, sent, delivered, failed
	Task      string // the task that carries it, once journalled
	PlannedAt time.Time
}

// Task is a channel task: one channel call, journalled in campaign_tasks
// before it is made.
type Task struct {
	ID         string    `json:"id"` // channel:target:first person, unique in the campaign
	Target     string    `json:"target"`
	Recipients int       `json:"recipients"`
	State      string    `json:"state"`
	Ref        string    `json:"ref,omitempty"` // the channel's id of it
	Detail     string    `json:"detail,omitempty"`
	AttemptAt  time.Time `json:"attempt_at"`
	// Text is the exact text sent, when one text goes to all: how an
	// unanswered WeCom call is found again. The API does not show it.
	Text string `json:"-"`
}

// Task states.
const (
	taskSending = "sending" // journalled: the call is being (or may have been) made
	taskCreated = "created" // the channel took it
	taskFailed  = "failed"
	taskDone    = "done" // every recipient's outcome is known
)

// Dispatch is a campaign being sent, as its channel sees it: the
// campaign, its offer, and the journal and send log it records calls in.
type Dispatch struct {
	Campaign Campaign
	Offer    Offer
	s        *Service
	// prefetched, when set, holds profiles read ahead for the recipients
	// (a round's entries).
	prefetched *prefetch
}

func (s *Service) dispatch(c Campaign, offer Offer) *Dispatch {
	return &Dispatch{Campaign: c, Offer: offer, s: s}
}

// channels returns the configured channels.
func (d *Dispatch) channels() *Channels { return d.s.channels() }

func (d *Dispatch) logger() *slog.Logger { return d.s.Logger }

// key is the idempotency key of a task: the same on every retry of it.
func (d *Dispatch) key(t Task) string { return d.Campaign.ID + "/" + t.ID }

// journal records a task before its call: its sends move to "sending"
// with the task id (so that after a crash it is known whom the task
// carried), then the task itself with the time of the attempt.
func (d *Dispatch) journal(ctx context.Context, t *Task, rows []Recipient) error {
	c := d.Campaign
	if err := d.s.setStates(ctx, c, rows, "sending", t.ID, nil, "sending:"+c.ID+":"+t.ID); err != nil {
		return err
	}
	t.AttemptAt = d.s.now()
	if err := d.record(ctx, *t); err != nil {
		return err
	}
	return d.crash("journal")
}

// record writes a task's new state to the journal.
func (d *Dispatch) record(ctx context.Context, t Task) error {
	return d.s.putTask(ctx, d.Campaign, t)
}

// sent moves a task's sends to sent.
func (d *Dispatch) sent(ctx context.Context, t Task, rows []Recipient) error {
	return d.s.setStates(ctx, d.Campaign, rows, "sent", t.ID, nil, "sent:"+d.Campaign.ID+":"+t.ID)
}

// failed moves a task's sends to failed for reason.
func (d *Dispatch) failed(ctx context.Context, t Task, rows []Recipient, reason string) error {
	return d.s.setStates(ctx, d.Campaign, rows, "failed", t.ID, func(Recipient) string { return reason }, "failed:"+d.Campaign.ID+":"+t.ID)
}

// crash fails at a named step when a test asks for it, as a crash would.
func (d *Dispatch) crash(step string) error { return d.s.crash(step) }

// crash fails at a named step when a test asks for it, as a crash would:
// "journal" after a task is journalled, "channel" after the channel took
// a call and before its outcome is recorded, "planned" and "plan" after
// a launch wrote its plan.
func (s *Service) crash(step string) error {
	if s.crashAfter != nil {
		return s.crashAfter(step)
	}
	return nil
}

func (s *Service) putTask(ctx context.Context, c Campaign, t Task) error {
	return s.exec(ctx, "journal a task", "INSERT INTO "+s.DB.Table("campaign_tasks")+
		" (campaign_id, task_id, channel, target, recipients, text, state, ref, detail, attempt_at, updated_at)"+
		" VALUES ({campaign:String}, {task:String}, {channel:String}, {target:String}, {recipients:UInt32}, {text:String},"+
		" {state:String}, {ref:String}, {detail:String}, {attempt_at:DateTime64(3, 'UTC')}, {updated_at:DateTime64(3, 'UTC')})",
		named("campaign", c.ID), named("task", t.ID), named("channel", c.Channel), named("target", t.Target),
		named("recipients", uint32(t.Recipients)), named("text", t.Text), named("state", t.State), named("ref", t.Ref),
		named("detail", t.Detail), named("attempt_at", t.AttemptAt), named("updated_at", s.stamp()))
}

// taskRow is a journalled task with its campaign.
type taskRow struct {
	Campaign string
	Task
}

// tasksWhere reads the journalled tasks (FINAL) matching cond, a
// condition with named parameters args; name names the query.
func (s *Service) tasksWhere(ctx context.Context, name, cond string, args ...any) ([]taskRow, error) {
	return collect(ctx, s, name, "SELECT campaign_id, task_id, target, recipients, text, state, ref, detail, attempt_at FROM "+
		s.DB.Table("campaign_tasks")+" FINAL WHERE "+cond+" ORDER BY campaign_id, task_id", args, func(rows driver.Rows, r *taskRow) error {
		var n uint32
		err := rows.Scan(&r.Campaign, &r.ID, &r.Target, &n, &r.Text, &r.State, &r.Ref, &r.Detail, &r.AttemptAt)
		r.Recipients = int(n)
		return err
	})
}

// Tasks lists a campaign's channel tasks.
func (s *Service) Tasks(ctx context.Context, id string) ([]Task, error) {
	rows, err := s.tasksWhere(ctx, "read the campaign's tasks", "campaign_id = {campaign:String}", named("campaign", id))
	if err != nil {
		return nil, err
	}
	out := make([]Task, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.Task)
	}
	return out, nil
}

var sendColumns = []string{"campaign_id", "person_id", "group", "reason", "channel", "address", "sender", "state", "detail", "task", "planned_at", "updated_at"}

// setStates writes a new state of send rows (treatment rows only).
func (s *Service) setStates(ctx context.Context, c Campaign, batch []Recipient, state, taskID string, detail func(Recipient) string, token string) error {
	if len(batch) == 0 {
		return nil
	}
	now := s.stamp()
	rows := make([][]any, len(batch))
	for i, p := range batch {
		d := ""
		if detail != nil {
			d = detail(p)
		}
		rows[i] = []any{c.ID, p.Person, GroupTreatment, "", c.Channel, p.Address, p.Sender, state, d, taskID, p.PlannedAt, now}
	}
	return s.insert(ctx, "move sends to "+state, "campaign_sends", sendColumns, token, rows)
}

// rowsToken makes an insert's deduplication token from prefix and a hash
// of the rows' strings and person ids (not their times): a retry of the
// same rows is dropped as a duplicate, different rows never are.
func rowsToken(prefix string, rows [][]any) string {
	h := fnv.New64a()
	var b [4]byte
	for _, r := range rows {
		for _, v := range r {
			switch v := v.(type) {
			case string:
				h.Write([]byte(v))
				h.Write([]byte{0})
			case uint32:
				binary.BigEndian.PutUint32(b[:], v)
				h.Write(b[:])
			}
		}
	}
	return fmt.Sprintf("%s:%d:%x", prefix, len(rows), h.Sum64())
}

// sendsWhere reads treatment send rows of campaign c matching cond (with
// named parameters args), at most limit (0: all) in person order; name
// names the query.
func (s *Service) sendsWhere(ctx context.Context, name string, c Campaign, limit int, cond string, args ...any) ([]Recipient, error) {
	q := "SELECT person_id, address, sender, planned_at, state, task FROM " + s.DB.Table("campaign_sends") +
		" FINAL WHERE campaign_id = {campaign:String} AND group = 'treatment' AND " + cond + " ORDER BY person_id"
	args = append([]any{named("campaign", c.ID)}, args...)
	if limit > 0 {
		q += " LIMIT {limit:UInt64}"
		args = append(args, named("limit", limit))
	}
	return collect(ctx, s, name, q, args, func(rows driver.Rows, p *Recipient) error {
		return rows.Scan(&p.Person, &p.Address, &p.Sender, &p.PlannedAt, &p.State, &p.Task)
	})
}

// calls splits rows into chunks of at most size and, chunk by chunk,
// journals the task that carries it (task gives its ID, Target and Text)
// and delivers it: the Send of a channel that makes one call per chunk.
func (d *Dispatch) calls(ctx context.Context, rows []Recipient, size int, task func(chunk []Recipient) Task,
	deliver func(ctx context.Context, d *Dispatch, t Task, chunk []Recipient) error) error {
	for i := 0; i < len(rows); i += size {
		chunk := rows[i:min(i+size, len(rows))]
		t := task(chunk)
		t.Recipients, t.State = len(chunk), taskSending
		if err := d.journal(ctx, &t, chunk); err != nil {
			return err
		}
		if err := deliver(ctx, d, t, chunk); err != nil {
			return err
		}
	}
	return nil
}

// recover settles the tasks a crash or an unfinished round left
// "sending" before anything new is sent. A task never journalled was
// never called (the journal comes before the call): its sends go to the
// channel again. A failed task fails its sends. The channel settles the
// others: found at the channel (WeCom's list), resent under the same
// idempotency key (webhook), or given up.
func (s *Service) recover(ctx context.Context, ch Channel, d *Dispatch) error {
	c := d.Campaign
	stuck, err := s.sendsWhere(ctx, "read the sends left sending", c, 0, "state = 'sending'")
	if err != nil || len(stuck) == 0 {
		return err
	}
	byTask := map[string][]Recipient{}
	var ids []string
	for _, p := range stuck {
		if byTask[p.Task] == nil {
			ids = append(ids, p.Task)
		}
		byTask[p.Task] = append(byTask[p.Task], p)
	}
	journal, err := s.tasksWhere(ctx, "read the journal of the sends left sending",
		"campaign_id = {campaign:String} AND task_id IN {tasks:Array(String)}", named("campaign", c.ID), named("tasks", ids))
	if err != nil {
		return err
	}
	known := map[string]Task{}
	for _, j := range journal {
		known[j.ID] = j.Task
	}
	for _, id := range ids {
		rows := byTask[id]
		t, ok := known[id]
		s.Logger.Info("recovering a campaign task", "campaign", c.ID, "task", id, "state", t.State, "journalled", ok)
		switch {
		case !ok: // crashed before the task was journalled: never called
			err = ch.Send(ctx, d, rows)
		case t.State == taskFailed:
			err = d.failed(ctx, t, rows, "channel_refused")
		default:
			err = ch.Settle(ctx, d, t, rows)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
