package wecomops

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/schema"
)

// Loss alert statuses (wecom_loss_alerts.status).
const (
	LossPending     = "pending"
	LossPosting     = "posting"
	LossSent        = "sent"
	LossFailed      = "failed"
	LossUnconfirmed = "unconfirmed" // the post was cut off (a crash, a timeout): never repeated
	LossOff         = "off"         // no robot configured: recorded only
)

// cursorLossAlerts is the wecom_ops_cursors name of AlertLosses'
// position: the spool_seq of the last contact_lost event read.
const cursorLossAlerts = "loss_alerts"

// lossLinesPerPost is how many losses one robot post lists: a text of at
// most 2,048 bytes.
const lossLinesPerPost = 15

// LostCustomer is a customer lost by a staff member, with its alert.
type LostCustomer struct {
	Key        string    `json:"key"`
	ChangeType string    `json:"change_type"` // del_follow_user (the customer left) or del_external_contact (staff removed them)
	Staff      string    `json:"staff_userid"`
	External   string    `json:"external_userid"`
	PersonID   uint32    `json:"person_id"`
	Manager    string    `json:"manager"`
	LostAt     time.Time `json:"lost_at"`
	Status     string    `json:"status"`
	Error      string    `json:"error,omitempty"`
	TS         time.Time `json:"ts"`
}

// manager is staff's manager ("" when none is configured).
func (s *Service) manager(staff string) string {
	if m, ok := s.o.Managers[staff]; ok {
		return m
	}
	return s.o.Managers["*"]
}

// AlertLosses journals the contact_lost events spooled since the last
// round (pending, or off without a robot) and then alerts the managers
// of the pending ones: one robot post per manager and up to 15 losses,
// journalled posting before it and sent or failed after. A post cut off
// is never repeated (recorded unconfirmed), so no manager is told twice;
// 45009 (the robot's 20 a minute) puts the losses back to pending for the
// next round. It returns how many losses it alerted about.
func (s *Service) AlertLosses(ctx context.Context) (int, error) {
	if err := s.journalLosses(ctx); err != nil {
		return 0, err
	}
	open, err := s.LostCustomers(ctx, []string{LossPending, LossPosting}, 1000)
	if err != nil || len(open) == 0 {
		return 0, err
	}
	groups := map[string][]LostCustomer{}
	var cut []LostCustomer
	for _, l := range open {
		if l.Status == LossPosting { // a post cut off by a crash
			l.Status = LossUnconfirmed
			cut = append(cut, l)
			continue
		}
		groups[l.Manager] = append(groups[l.Manager], l)
	}
	if err := s.writeLosses(ctx, cut); err != nil {
		return 0, err
	}
	managers := make([]string, 0, len(groups))
	for m := range groups {
		managers = append(managers, m)
	}
	sort.Strings(managers)
	sent := 0
	for _, m := range managers {
		for g := groups[m]; len(g) > 0; {
			chunk := g[:min(lossLinesPerPost, len(g))]
			g = g[len(chunk):]
			n, err := s.postLosses(ctx, m, chunk)
			if sent += n; err != nil {
				return sent, err
			}
		}
	}
	return sent, nil
}

// journalLosses records the contact_lost events after the cursor.
func (s *Service) journalLosses(ctx context.Context) error {
	cursor, err := s.cursor(ctx, cursorLossAlerts)
	if err != nil {
		return err
	}
	var found []LostCustomer
	pos := cursor
	err = s.each(ctx, "read contact_lost events", `SELECT message_id, ts, JSONExtractString(properties, 'change_type'),
			JSONExtractString(properties, 'staff_userid'), id_values[indexOf(id_types, 'wecom_external_userid')], person_id, spool_seq
		FROM `+s.db.Table("events")+` WHERE event = 'contact_lost' AND spool_seq > ? ORDER BY spool_seq LIMIT 1000`, []any{cursor},
		func(scan scanFn) error {
			var l LostCustomer
			var seq uint64
			if err := scan(&l.Key, &l.LostAt, &l.ChangeType, &l.Staff, &l.External, &l.PersonID, &seq); err != nil {
				return err
			}
			l.Manager, l.Status, pos = s.manager(l.Staff), LossPending, seq
			if s.o.LossRobotURL == "" {
				l.Status = LossOff
			}
			found = append(found, l)
			return nil
		})
	if err != nil || len(found) == 0 {
		return err
	}
	keys := make([]string, len(found))
	for i, l := range found {
		keys[i] = l.Key
	}
	known, err := s.queryStrings(ctx, "read loss alerts", "SELECT DISTINCT dedup_key FROM "+s.db.Table("wecom_loss_alerts")+" WHERE dedup_key IN ?", keys)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, k := range known {
		seen[k] = true
	}
	var fresh []LostCustomer
	for _, l := range found {
		if !seen[l.Key] {
			seen[l.Key] = true
			fresh = append(fresh, l)
		}
	}
	if err := s.writeLosses(ctx, fresh); err != nil {
		return err
	}
	return s.setCursor(ctx, cursorLossAlerts, pos)
}

// postLosses posts one alert for chunk to manager's robot.
func (s *Service) postLosses(ctx context.Context, manager string, chunk []LostCustomer) (int, error) {
	for i := range chunk {
		chunk[i].Status = LossPosting
	}
	if err := s.writeLosses(ctx, chunk); err != nil {
		return 0, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "客户流失提醒 (%d)\n", len(chunk))
	for _, l := range chunk {
		what := "删除了员工"
		if l.ChangeType == wecom.ChangeDelExternalContact {
			what = "被员工删除"
		}
		fmt.Fprintf(&b, "%s 客户 %s %s %s\n", l.LostAt.In(schema.Beijing).Format("01-02 15:04"), l.External, what, l.Staff)
	}
	msg := wecom.RobotMessage{Content: strings.TrimSpace(b.String())}
	if manager != "" {
		msg.MentionedList = []string{manager}
	}
	err := s.cw.robot.wait(ctx)
	if err == nil {
		err = s.o.Client.SendRobot(ctx, s.o.LossRobotURL, msg)
	}
	status, text := LossSent, ""
	switch {
	case err == nil:
	case wecom.IsRetryable(err) && isRefusal(err):
		status, text = LossPending, err.Error() // not posted: next round
	case wecom.IsRetryable(err):
		status, text = LossUnconfirmed, err.Error()
	default:
		status, text = LossFailed, err.Error()
	}
	for i := range chunk {
		chunk[i].Status, chunk[i].Error = status, text
	}
	if werr := s.writeLosses(ctx, chunk); werr != nil {
		return 0, werr
	}
	if status != LossSent {
		return 0, fmt.Errorf("wecomops: loss alert to %q: %w", manager, err)
	}
	return len(chunk), nil
}

// isRefusal tells an answer that certainly posted nothing (45009, -1)
// from a failure that may have (a timeout, a broken connection, a 5xx
// from a proxy after WeCom took it).
func isRefusal(err error) bool {
	var apiErr *wecom.APIError
	return errors.As(err, &apiErr)
}

func (s *Service) writeLosses(ctx context.Context, ls []LostCustomer) error {
	rows := make([][]any, len(ls))
	for i := range ls {
		l := &ls[i]
		l.TS = s.stamp()
		step := uint8(2)
		switch l.Status {
		case LossPending:
			step = 0
		case LossPosting:
			step = 1
		}
		rows[i] = []any{l.Key, l.ChangeType, l.Staff, l.External, l.Manager, l.LostAt, l.PersonID, l.Status, step, l.Error, l.TS}
	}
	if err := s.insert(ctx, "wecom_loss_alerts", "dedup_key, change_type, staff_userid, external_userid, manager, lost_at, person_id, status, step, error, ts", rows); err != nil {
		return fmt.Errorf("wecomops: write loss alerts: %w", err)
	}
	return nil
}

// LostCustomers lists lost customers with their alert's latest state,
// newest first; statuses (none: all) selects some.
func (s *Service) LostCustomers(ctx context.Context, statuses []string, limit int) ([]LostCustomer, error) {
	having := ""
	args := []any{}
	if len(statuses) > 0 {
		having, args = "HAVING st IN ?", append(args, statuses)
	}
	args = append(args, limit)
	var out []LostCustomer
	err := s.each(ctx, "read loss alerts", `SELECT dedup_key, any(change_type), any(staff_userid), any(external_userid), any(person_id),
			argMax(manager, ts), any(lost_at) AS lost, argMax(status, ts) AS st, argMax(error, ts), max(ts)
		FROM `+s.db.Table("wecom_loss_alerts")+` GROUP BY dedup_key `+having+` ORDER BY lost DESC LIMIT ?`, args,
		func(scan scanFn) error {
			var l LostCustomer
			if err := scan(&l.Key, &l.ChangeType, &l.Staff, &l.External, &l.PersonID, &l.Manager, &l.LostAt, &l.Status, &l.Error, &l.TS); err != nil {
				return err
			}
			out = append(out, l)
			return nil
		})
	return out, err
}
