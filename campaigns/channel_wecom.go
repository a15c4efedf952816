package campaigns

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/RoaringBitmap/roaring/v2"

	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/schema"
)

// weComChannel sends one add_msg_template task per owning staff member and
// chunk of customers; staff confirm it in their app, and ReadDeliveries
// later learns who received it. WeCom has no idempotency key: a task whose
// answer was lost is looked up in WeCom's task list.
type weComChannel struct{}

func (weComChannel) Validate(c Campaign) error {
	switch {
	case strings.Contains(c.Template, "{{name}}") || strings.Contains(c.Template, "{{coupon}}"):
		return &FieldError{"template", "a WeCom mass-message task sends one text to all of a staff member's customers: use {{staff}}, {{offer}} and {{link}}, not {{name}} or {{coupon}}"}
	case len(c.Template) > 3000:
		return &FieldError{"template", "WeCom takes at most 4000 bytes of text; keep the template under 3000"}
	}
	return nil
}

func (weComChannel) Configured(_ Campaign, cfg *Channels) error {
	if cfg.WeCom == nil {
		return &FieldError{"channel", "WeCom is not configured (CDP_WECOM_CORP_ID, CDP_WECOM_SECRET)"}
	}
	return nil
}

func (ch *Channels) dailyCap() int {
	if ch.WeComDailyCap > 0 {
		return ch.WeComDailyCap
	}
	return 1
}

// Address finds each member's WeCom external user id and owning staff
// member, and those at WeCom's own cap: the mass messages a customer
// receives per day (Beijing time), counting every campaign's WeCom sends.
func (weComChannel) Address(ctx context.Context, p *Planning) error {
	sends := "(SELECT person_id, count() AS n FROM " + p.s.DB.Table("campaign_sends") + " FINAL WHERE " + countedSends +
		" AND planned_at >= {day:DateTime64(3, 'UTC')} AND channel = {channel:String}" + p.scope.and() + " GROUP BY person_id)"
	var err error
	p.Audience.AtChannelCap, err = p.bitmap(ctx, "read WeCom's daily counts", p.perCanonical(sends, "x.n >= {cap:Int64}"),
		named("day", p.Today), named("channel", ChannelWeCom), named("cap", p.s.channels().dailyCap()))
	if err != nil {
		return err
	}
	addr, err := p.s.wecomAddresses(ctx, p.Audience.Members, p.scope)
	if err != nil {
		return err
	}
	p.Audience.Addresses = func(person uint32) (Address, bool) { v, ok := addr[person]; return v, ok }
	return nil
}

// wecomAddresses finds each member's WeCom external user id and the staff
// member who owns them (the latest add or edit not followed by a delete).
func (s *Service) wecomAddresses(ctx context.Context, members *roaring.Bitmap, sc scope) (map[uint32]Address, error) {
	out := map[uint32]Address{}
	err := s.each(ctx, "read WeCom addresses", `SELECT p.canonical, argMax(c.external_userid, c.ts), argMax(c.staff_userid, c.ts), argMax(c.change_type, c.ts)
		FROM (SELECT * FROM `+s.DB.Table("wecom_contact_events")+` WHERE person_id != 0`+sc.and()+`) AS c
		INNER JOIN `+schema.Canonical(s.DB.Table("persons"), sc.cond)+` AS p ON p.person_id = c.person_id
		GROUP BY p.canonical`, sc.args(), func(rows driver.Rows) error {
		var p uint32
		var ext, staff, change string
		if err := rows.Scan(&p, &ext, &staff, &change); err != nil {
			return err
		}
		if members.Contains(p) && change != "del_external_contact" && change != "del_follow_user" {
			out[p] = Address{To: ext, Sender: staff}
		}
		return nil
	})
	return out, err
}

// Send makes one add_msg_template task per owning staff member and chunk
// of at most 10,000 customers. Each task is journalled (its rows
// "sending" with the task id, then the task with its exact text) before
// WeCom is called, so that after a crash Settle knows which persons a
// possibly-created task carried and can find it in WeCom's task list.
func (w weComChannel) Send(ctx context.Context, d *Dispatch, batch []Recipient) error {
	bySender := map[string][]Recipient{}
	for _, p := range batch {
		bySender[p.Sender] = append(bySender[p.Sender], p)
	}
	senders := make([]string, 0, len(bySender))
	for k := range bySender {
		senders = append(senders, k)
	}
	sort.Strings(senders)
	for _, sender := range senders {
		text := Render(d.Campaign.Template, map[string]string{"staff": sender, "offer": d.Offer.Name, "link": d.Offer.Link})
		err := d.calls(ctx, bySender[sender], wecom.MaxMsgTemplateRecipients, func(chunk []Recipient) Task {
			return Task{ID: fmt.Sprintf("wecom:%s:%d", sender, chunk[0].Person), Target: sender, Text: text}
		}, w.deliver)
		if err != nil {
			return err
		}
	}
	return nil
}

// Settle records a task WeCom took as sent; otherwise it looks for the
// task in WeCom's list and records it when found, or calls again.
func (w weComChannel) Settle(ctx context.Context, d *Dispatch, t Task, rows []Recipient) error {
	if t.State == taskCreated || t.State == taskDone {
		return d.sent(ctx, t, rows)
	}
	ref, found, err := w.find(ctx, d, t, "single")
	switch {
	case err != nil:
		return err
	case found:
		return w.created(ctx, d, t, rows, ref, nil)
	}
	return w.deliver(ctx, d, t, rows)
}

// deliver calls add_msg_template for a journalled task (deliverWeComTask);
// WeCom's refusal fails the task's sends for good.
func (w weComChannel) deliver(ctx context.Context, d *Dispatch, t Task, rows []Recipient) error {
	ids := make([]string, len(rows))
	for i, p := range rows {
		ids[i] = p.Address
	}
	return deliverWeComTask(ctx, d, t, weComTaskSteps{
		what: "wecom task", chatType: "single",
		call: func() (string, []string, error) {
			res, err := d.channels().WeCom.AddMsgTemplate(ctx, wecom.MsgTemplate{Sender: t.Target, ExternalUserIDs: ids, Text: t.Text, DedupKey: d.key(t)})
			return res.MsgID, res.FailList, err
		},
		created: func(msgid string, failList []string) error { return w.created(ctx, d, t, rows, msgid, failList) },
		failed:  func() error { return d.failed(ctx, t, rows, "wecom_refused") },
	})
}

// weComTaskSteps are what a channel's add_msg_template task does at each
// step of deliverWeComTask: make the call (the msgid and fail list of the
// task WeCom made), record the task WeCom took (a task found in WeCom's
// list has no fail list), and record its recipients failed after WeCom's
// refusal. what names the task in logs; chatType is the list it is looked
// for in (single, group).
type weComTaskSteps struct {
	what, chatType string
	call           func() (msgid string, failList []string, err error)
	created        func(msgid string, failList []string) error
	failed         func() error
}

// deliverWeComTask makes a journalled task's add_msg_template call, the
// skeleton the one-to-one and the group channel share. A 45009 answer
// created nothing: wait and call again. A timeout, broken connection or 5xx
// may have created the task: look for it in WeCom's list before calling
// again. Any other refusal fails the task, and its recipients, for good.
// When every attempt fails the task stays "sending": the next round
// settles it. The crash point "channel" is between WeCom's answer and its
// record.
func deliverWeComTask(ctx context.Context, d *Dispatch, t Task, st weComTaskSteps) error {
	ch := d.channels()
	return ch.retry(ctx, st.what+" "+t.ID, func(attempt int) (bool, error) {
		msgid, failList, err := st.call()
		if err == nil {
			if err := d.crash("channel"); err != nil {
				return true, err // WeCom made the task; our record of it did not move
			}
			return true, st.created(msgid, failList)
		}
		switch {
		case errors.Is(err, wecom.ErrRateLimited):
			// refused before anything was created
		case wecom.IsRetryable(err):
			if ref, found, lerr := (weComChannel{}).find(ctx, d, t, st.chatType); lerr == nil && found {
				return true, st.created(ref, nil)
			}
		case ctx.Err() != nil:
			return true, ctx.Err()
		default:
			d.logger().Warn("wecom refused a task", "what", st.what, "campaign", d.Campaign.ID, "task", t.ID, "err", err)
			t.State, t.Detail = taskFailed, err.Error()
			if err := d.record(ctx, t); err != nil {
				return true, err
			}
			return true, st.failed()
		}
		d.logger().Warn("wecom task not sent yet", "what", st.what, "campaign", d.Campaign.ID, "task", t.ID, "attempt", attempt+1, "err", err)
		return false, err
	})
}

// created records a task WeCom took: the task with its msgid, then its
// sends (customers WeCom put in fail_list failed).
func (weComChannel) created(ctx context.Context, d *Dispatch, t Task, rows []Recipient, msgid string, failList []string) error {
	t.State, t.Ref = taskCreated, msgid
	if len(failList) > 0 {
		t.Detail = fmt.Sprintf("%d refused by WeCom (fail_list)", len(failList))
	}
	if err := d.record(ctx, t); err != nil {
		return err
	}
	failed := map[string]bool{}
	for _, id := range failList {
		failed[id] = true
	}
	var ok, bad []Recipient
	for _, p := range rows {
		if failed[p.Address] {
			bad = append(bad, p)
		} else {
			ok = append(ok, p)
		}
	}
	if err := d.sent(ctx, t, ok); err != nil {
		return err
	}
	c := d.Campaign
	return d.s.setStates(ctx, c, bad, "failed", t.ID, func(Recipient) string { return "wecom_fail_list" }, "fail-list:"+c.ID+":"+t.ID)
}

// find looks for the task an unanswered add_msg_template call of
// chatType (single, group) may have created: by the same sender, with the
// same text, created since the journalled attempt (with ten minutes for
// clock skew), and not already recorded for another task of the
// campaign's channel.
func (weComChannel) find(ctx context.Context, d *Dispatch, t Task, chatType string) (string, bool, error) {
	from := t.AttemptAt.Add(-10 * time.Minute)
	to := d.s.now().Add(10 * time.Minute)
	if to.Sub(from) > wecom.MaxGroupMsgListSpan {
		from = to.Add(-wecom.MaxGroupMsgListSpan)
	}
	list, err := d.channels().WeCom.GetGroupMsgList(ctx, wecom.GroupMsgListQuery{Start: from, End: to, Creator: t.Target, FilterType: 0, ChatType: chatType})
	if err != nil {
		return "", false, err
	}
	claimed := map[string]bool{}
	known, err := d.s.tasksWhere(ctx, "read the WeCom tasks already recorded",
		"channel = {channel:String} AND ref != '' AND attempt_at >= {since:DateTime64(3, 'UTC')}", named("channel", d.Campaign.Channel), named("since", from))
	if err != nil {
		return "", false, err
	}
	for _, k := range known {
		claimed[k.Ref] = true
	}
	for _, m := range list {
		if m.CreateType == 0 && m.Text == t.Text && !claimed[m.MsgID] {
			return m.MsgID, true, nil
		}
	}
	return "", false, nil
}

// ReadDeliveries reads the results of WeCom tasks not yet done
// (get_groupmsg_send_result) and moves their sends to delivered, or to
// failed with WeCom's reason (not_friend, wecom_cap). A task is done once
// every customer's outcome is known; staff confirm tasks in their app, so
// until then results read "not sent". It returns how many sends moved.
func (w weComChannel) ReadDeliveries(ctx context.Context, s *Service, name string) (int, error) {
	open, err := s.openWeComTasks(ctx, name)
	if err != nil {
		return 0, err
	}
	moved := 0
	for _, t := range open {
		n, err := w.readResults(ctx, s, Campaign{ID: t.Campaign, Channel: name}, t)
		moved += n
		if err != nil {
			return moved, err
		}
	}
	return moved, nil
}

// openWeComTasks are channel name's WeCom tasks of the last 30 days still
// awaiting results (created, not done); none when WeCom is not
// configured.
func (s *Service) openWeComTasks(ctx context.Context, name string) ([]taskRow, error) {
	if s.channels().WeCom == nil {
		return nil, nil
	}
	return s.tasksWhere(ctx, "read the WeCom tasks awaiting results",
		"channel = {channel:String} AND state = 'created' AND attempt_at >= {since:DateTime64(3, 'UTC')}",
		named("channel", name), named("since", s.now().Add(-30*24*time.Hour)))
}

// readResults reads one task's results and records them.
func (weComChannel) readResults(ctx context.Context, s *Service, c Campaign, t taskRow) (int, error) {
	results, err := s.channels().WeCom.GetAllGroupMsgSendResults(ctx, t.Ref, t.Target)
	if err != nil {
		return 0, fmt.Errorf("results of %s: %w", t.ID, err)
	}
	rows, err := s.sendsWhere(ctx, "read a WeCom task's sends", c, 0, "task = {task:String}", named("task", t.ID))
	if err != nil {
		return 0, err
	}
	status := map[string]wecom.SendStatus{}
	for _, r := range results {
		status[r.ExternalUserID] = r.Status
	}
	var delivered, notFriend, capped []Recipient
	pending := 0
	for _, p := range rows {
		if p.State != "sent" {
			continue
		}
		switch status[p.Address] {
		case wecom.SendStatusSent:
			delivered = append(delivered, p)
		case wecom.SendStatusNotFriend:
			notFriend = append(notFriend, p)
		case wecom.SendStatusCapped:
			capped = append(capped, p)
		default:
			pending++
		}
	}
	moved := len(delivered) + len(notFriend) + len(capped)
	tok := fmt.Sprintf("%s:%s:%d", t.Campaign, t.ID, moved)
	if err := s.setStates(ctx, c, delivered, "delivered", t.ID, nil, "delivered:"+tok); err != nil {
		return 0, err
	}
	if err := s.setStates(ctx, c, notFriend, "failed", t.ID, func(Recipient) string { return "not_friend" }, "not-friend:"+tok); err != nil {
		return 0, err
	}
	if err := s.setStates(ctx, c, capped, "failed", t.ID, func(Recipient) string { return "wecom_cap" }, "capped:"+tok); err != nil {
		return 0, err
	}
	if pending == 0 {
		t.State = taskDone
		t.Detail = fmt.Sprintf("delivered %d, not a contact %d, over WeCom's cap %d", len(delivered), len(notFriend), len(capped))
		if err := s.putTask(ctx, c, t.Task); err != nil {
			return moved, err
		}
	}
	return moved, nil
}
