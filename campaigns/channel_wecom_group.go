package campaigns

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/schema"
)

// TargetAllGroups as a wecom_group campaign's only target sends to every
// live customer group.
const TargetAllGroups = "all"

// Group send states (wecom_group_sends.state).
const (
	groupSending   = "sending"   // journalled: the owner's task is being (or may have been) created
	groupSent      = "sent"      // the owner's task was created; the owner confirms it in the app
	groupDelivered = "delivered" // WeCom reports it sent into the group
	groupNotSent   = "not_sent"  // WeCom reports the group could not receive it (dismissed)
	groupCapped    = "capped"    // WeCom refused it: the group had reached its mass-message limit
	groupSkipped   = "skipped"   // not sent: the group had its mass message of the day (our limit)
	groupFailed    = "failed"    // WeCom refused the task, or the group is unknown or dismissed
	groupUnsent    = "unsent"    // journalled, but a crash came before its task was: sent again
)

// weComGroupChannel sends a campaign's message into WeCom customer groups
// (客户群群发): the targets are chat ids of the groups imported by
// wecomops (wecom_group_chats), or TargetAllGroups. Each group owner gets
// one add_msg_template task (chat_type group, chat_id_list of their
// groups, at most 2,000 a task) and confirms it in the WeCom app.
//
// WeCom lets a group receive a limited number of mass messages (by
// default as many a month as the month has days; a corp may set seven a
// week or one a day: document/path/92135). The channel keeps to the
// strictest, Channels.WeComDailyCap a group a Beijing day (default 1),
// across all campaigns: a group that already had its message that day is
// recorded "skipped" and not sent. Messages a staff member sends by hand
// count at WeCom but are not seen here: WeCom then reports the group
// "capped".
//
// Exactly once: every group of a task is journalled "sending" in
// wecom_group_sends, then the task in campaign_tasks, before WeCom is
// called. A task left "sending" by a crash is looked up in WeCom's task
// list (get_groupmsg_list_v2, chat_type group) and recorded when found,
// called again otherwise.
type weComGroupChannel struct{}

func (weComGroupChannel) Validate(c Campaign) error {
	switch {
	case c.Trigger != "" && c.Trigger != TriggerOnce:
		return &FieldError{"trigger", "a group mass message is sent once: it takes no per-person trigger"}
	case len(c.Targets) == 0:
		return &FieldError{"targets", "name the customer groups (chat ids) to send to, or " + TargetAllGroups}
	case len(c.Targets) > 1 && c.Targets[0] == TargetAllGroups:
		return &FieldError{"targets", TargetAllGroups + " stands alone"}
	case strings.Contains(c.Template, "{{name}}") || strings.Contains(c.Template, "{{coupon}}"):
		return &FieldError{"template", "a group mass message sends one text to whole groups: use {{offer}} and {{link}}, not {{name}} or {{coupon}}"}
	case len(c.Template) > 3000:
		return &FieldError{"template", "WeCom takes at most 4000 bytes of text; keep the template under 3000"}
	}
	return nil
}

func (weComGroupChannel) Configured(c Campaign, cfg *Channels) error {
	return weComChannel{}.Configured(c, cfg)
}

// groupTarget is a live group a campaign sends to.
type groupTarget struct{ chat, owner string }

// GroupSend is one group of a group mass message, as recorded.
type GroupSend struct {
	TaskID string    `json:"task_id"`
	ChatID string    `json:"chat_id"`
	Owner  string    `json:"owner"`
	Day    time.Time `json:"day"`
	State  string    `json:"state"`
	MsgID  string    `json:"msgid,omitempty"`
	At     time.Time `json:"at"`
}

// GroupSends lists a campaign's groups with their latest state.
func (s *Service) GroupSends(ctx context.Context, campaignID string) ([]GroupSend, error) {
	return collect(ctx, s, "read the group sends", `SELECT task_id, chat_id, argMax(owner, ts), argMax(day, ts), argMax(state, ts), argMax(msgid, ts), max(ts)
		FROM `+s.DB.Table("wecom_group_sends")+` WHERE campaign_id = {campaign:String} GROUP BY task_id, chat_id ORDER BY task_id, chat_id`,
		[]any{named("campaign", campaignID)}, func(rows driver.Rows, g *GroupSend) error {
			return rows.Scan(&g.TaskID, &g.ChatID, &g.Owner, &g.Day, &g.State, &g.MsgID, &g.At)
		})
}

// putGroups writes a new state of groups of task t.
func (s *Service) putGroups(ctx context.Context, c Campaign, t Task, groups []groupTarget, state, msgid string, day time.Time) error {
	if len(groups) == 0 {
		return nil
	}
	now := s.stamp()
	rows := make([][]any, len(groups))
	for i, g := range groups {
		rows[i] = []any{c.ID, t.ID, g.chat, g.owner, day, state, msgid, now}
	}
	return s.insert(ctx, "journal group sends "+state, "wecom_group_sends",
		[]string{"campaign_id", "task_id", "chat_id", "owner", "day", "state", "msgid", "ts"}, fmt.Sprintf("group:%s:%s:%s:%d", state, c.ID, t.ID, now.UnixMilli()), rows)
}

// Post sends the campaign into its groups: it settles the tasks a crash
// left "sending", then journals and sends one task per owner and 2,000
// groups for the groups not yet sent to, leaving out those at the daily
// limit.
func (w weComGroupChannel) Post(ctx context.Context, d *Dispatch) error {
	if err := w.settle(ctx, d); err != nil {
		return err
	}
	todo, err := w.pending(ctx, d)
	if err != nil {
		return err
	}
	day := d.s.beijingDay()
	byOwner := map[string][]groupTarget{}
	var owners []string
	for _, g := range todo {
		if byOwner[g.owner] == nil {
			owners = append(owners, g.owner)
		}
		byOwner[g.owner] = append(byOwner[g.owner], g)
	}
	sort.Strings(owners)
	text := Render(d.Campaign.Template, map[string]string{"offer": d.Offer.Name, "link": d.Offer.Link, "name": "", "staff": ""})
	for _, owner := range owners {
		groups := byOwner[owner]
		for i := 0; i < len(groups); i += wecom.MaxGroupMsgChats {
			chunk := groups[i:min(i+wecom.MaxGroupMsgChats, len(groups))]
			t := Task{ID: "wecom_group:" + owner + ":" + chunk[0].chat, Target: owner, Recipients: len(chunk), State: taskSending, Text: text}
			if err := d.s.putGroups(ctx, d.Campaign, t, chunk, groupSending, "", day); err != nil {
				return err
			}
			t.AttemptAt = d.s.now()
			if err := d.record(ctx, t); err != nil {
				return err
			}
			if err := d.crash("journal"); err != nil {
				return err
			}
			if err := w.deliver(ctx, d, t, chunk, day); err != nil {
				return err
			}
		}
	}
	return nil
}

// beijingDay is the service clock's Beijing date, at UTC midnight (a
// ClickHouse Date).
func (s *Service) beijingDay() time.Time {
	y, m, dd := s.now().In(schema.Beijing).Date()
	return time.Date(y, m, dd, 0, 0, 0, 0, time.UTC)
}

// pending resolves the campaign's targets to live groups and returns
// those it has not journalled yet; unknown or dismissed targets, and
// groups at the daily limit, are recorded (failed, skipped) and left out.
func (w weComGroupChannel) pending(ctx context.Context, d *Dispatch) ([]groupTarget, error) {
	s, c := d.s, d.Campaign
	day := s.beijingDay()
	live, err := collect(ctx, s, "read the live customer groups", `SELECT chat_id, argMax(owner, ts) FROM `+s.DB.Table("wecom_group_chats")+`
		GROUP BY chat_id HAVING argMax(dismissed, ts) = 0 ORDER BY chat_id`, nil, func(rows driver.Rows, g *groupTarget) error {
		return rows.Scan(&g.chat, &g.owner)
	})
	if err != nil {
		return nil, err
	}
	counts := map[string]uint64{} // chat -> this campaign's rows (any day), or the day's sends (other campaigns)
	err = s.each(ctx, "read the groups' mass messages of the day", `SELECT chat_id, countIf(campaign_id = {campaign:String} AND state != 'unsent'), countIf(day = toDate({day:String}) AND state IN ('sending', 'sent', 'delivered'))
		FROM (SELECT campaign_id, task_id, chat_id, argMax(day, ts) AS day, argMax(state, ts) AS state FROM `+s.DB.Table("wecom_group_sends")+`
			GROUP BY campaign_id, task_id, chat_id) GROUP BY chat_id`, []any{named("campaign", c.ID), named("day", day.Format(time.DateOnly))},
		func(rows driver.Rows) error {
			var chat string
			var mine, today uint64
			if err := rows.Scan(&chat, &mine, &today); err != nil {
				return err
			}
			if mine > 0 {
				counts[chat] = ^uint64(0)
			} else {
				counts[chat] = today
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	return w.selectTargets(ctx, d, live, counts, day)
}

// selectTargets picks the campaign's targets among the live groups:
// groups already journalled for it are done, groups that had
// dailyCap() messages today are recorded skipped, unknown targets failed.
func (weComGroupChannel) selectTargets(ctx context.Context, d *Dispatch, live []groupTarget, counts map[string]uint64, day time.Time) ([]groupTarget, error) {
	owner := map[string]string{}
	for _, g := range live {
		owner[g.chat] = g.owner
	}
	want := d.Campaign.Targets
	if len(want) == 1 && want[0] == TargetAllGroups {
		want = want[:0]
		for _, g := range live {
			want = append(want, g.chat)
		}
	}
	capN := uint64(d.channels().dailyCap())
	var todo, skipped, unknown []groupTarget
	for _, chat := range want {
		n := counts[chat]
		switch o, ok := owner[chat]; {
		case n == ^uint64(0): // journalled for this campaign already
		case !ok:
			unknown = append(unknown, groupTarget{chat: chat})
		case n >= capN:
			skipped = append(skipped, groupTarget{chat, o})
		default:
			todo = append(todo, groupTarget{chat, o})
		}
	}
	s, c := d.s, d.Campaign
	if err := s.putGroups(ctx, c, Task{ID: "wecom_group:limit"}, skipped, groupSkipped, "", day); err != nil {
		return nil, err
	}
	return todo, s.putGroups(ctx, c, Task{ID: "wecom_group:unknown"}, unknown, groupFailed, "", day)
}

// deliver calls add_msg_template for a journalled task, with the
// one-to-one channel's skeleton (deliverWeComTask): WeCom's refusal fails
// the task's groups.
func (w weComGroupChannel) deliver(ctx context.Context, d *Dispatch, t Task, groups []groupTarget, day time.Time) error {
	chats := make([]string, len(groups))
	for i, g := range groups {
		chats[i] = g.chat
	}
	return deliverWeComTask(ctx, d, t, weComTaskSteps{
		what: "wecom group task", chatType: "group",
		call: func() (string, []string, error) {
			res, err := d.channels().WeCom.AddGroupMsgTemplate(ctx, wecom.GroupMsgTemplate{Sender: t.Target, ChatIDs: chats, Text: t.Text, DedupKey: d.key(t)})
			return res.MsgID, nil, err
		},
		created: func(msgid string, _ []string) error { return w.created(ctx, d, t, groups, msgid, day) },
		failed:  func() error { return d.s.putGroups(ctx, d.Campaign, t, groups, groupFailed, "", day) },
	})
}

// created records a task WeCom took: the task with its msgid, then its
// groups sent.
func (weComGroupChannel) created(ctx context.Context, d *Dispatch, t Task, groups []groupTarget, msgid string, day time.Time) error {
	t.State, t.Ref = taskCreated, msgid
	if err := d.record(ctx, t); err != nil {
		return err
	}
	return d.s.putGroups(ctx, d.Campaign, t, groups, groupSent, msgid, day)
}

// settle settles the campaign's tasks a crash left "sending": created or
// done ones move their groups to sent, the others are looked up in
// WeCom's list, and called again when not found.
func (w weComGroupChannel) settle(ctx context.Context, d *Dispatch) error {
	sends, err := d.s.GroupSends(ctx, d.Campaign.ID)
	if err != nil {
		return err
	}
	stuck := map[string][]groupTarget{}
	days := map[string]time.Time{}
	for _, g := range sends {
		if g.State == groupSending {
			stuck[g.TaskID] = append(stuck[g.TaskID], groupTarget{g.ChatID, g.Owner})
			days[g.TaskID] = g.Day
		}
	}
	if len(stuck) == 0 {
		return nil
	}
	tasks, err := d.s.Tasks(ctx, d.Campaign.ID)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		groups := stuck[t.ID]
		if groups == nil {
			continue
		}
		delete(stuck, t.ID)
		d.logger().Info("recovering a group mass message", "campaign", d.Campaign.ID, "task", t.ID, "state", t.State)
		if err := w.settleTask(ctx, d, t, groups, days[t.ID]); err != nil {
			return err
		}
	}
	// Groups journalled before their task was: never called; sent again.
	for id, groups := range stuck {
		if err := d.s.putGroups(ctx, d.Campaign, Task{ID: id}, groups, groupUnsent, "", days[id]); err != nil {
			return err
		}
	}
	return nil
}

func (w weComGroupChannel) settleTask(ctx context.Context, d *Dispatch, t Task, groups []groupTarget, day time.Time) error {
	switch t.State {
	case taskCreated, taskDone:
		return d.s.putGroups(ctx, d.Campaign, t, groups, groupSent, t.Ref, day)
	case taskFailed:
		return d.s.putGroups(ctx, d.Campaign, t, groups, groupFailed, "", day)
	}
	ref, found, err := weComChannel{}.find(ctx, d, t, "group")
	switch {
	case err != nil:
		return err
	case found:
		return w.created(ctx, d, t, groups, ref, day)
	}
	return w.deliver(ctx, d, t, groups, day)
}

// ReadDeliveries reads the results of the group tasks not yet done
// (get_groupmsg_send_result, one line per group) and records each group
// delivered, capped (WeCom's limit) or not sent; a task is done once no
// group is still waiting for its owner's confirmation. It returns how
// many groups moved.
func (w weComGroupChannel) ReadDeliveries(ctx context.Context, s *Service, name string) (int, error) {
	open, err := s.openWeComTasks(ctx, name)
	if err != nil {
		return 0, err
	}
	moved := 0
	for _, t := range open {
		results, err := s.channels().WeCom.GetAllGroupMsgSendResults(ctx, t.Ref, t.Target)
		if err != nil {
			return moved, fmt.Errorf("results of %s: %w", t.ID, err)
		}
		by := map[string][]groupTarget{}
		for _, r := range results {
			state := map[wecom.SendStatus]string{wecom.SendStatusSent: groupDelivered, wecom.SendStatusCapped: groupCapped, wecom.SendStatusNotFriend: groupNotSent}[r.Status]
			by[state] = append(by[state], groupTarget{r.ChatID, t.Target})
		}
		c := Campaign{ID: t.Campaign, Channel: name}
		y, m, dd := t.AttemptAt.In(schema.Beijing).Date() // the day the groups were journalled on
		day := time.Date(y, m, dd, 0, 0, 0, 0, time.UTC)
		for _, state := range []string{groupDelivered, groupCapped, groupNotSent} {
			if err := s.putGroups(ctx, c, t.Task, by[state], state, t.Ref, day); err != nil {
				return moved, err
			}
			moved += len(by[state])
		}
		if len(by[""]) == 0 {
			t.State = taskDone
			t.Detail = fmt.Sprintf("delivered %d, over WeCom's limit %d, not sent %d", len(by[groupDelivered]), len(by[groupCapped]), len(by[groupNotSent]))
			if err := s.putTask(ctx, c, t.Task); err != nil {
				return moved, err
			}
		}
	}
	return moved, nil
}
