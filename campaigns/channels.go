package campaigns

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom"
)

// Webhook is a configured generic webhook. Each post is JSON signed with
// HMAC-SHA256 under Secret (see SignWebhook) and carries an Idempotency-Key
// that stays the same when a post is retried: receivers deduplicate on it.
type Webhook struct {
	URL    string
	Secret string
}

// Channels configure the campaign channels besides the outbox.
type Channels struct {
	// WeCom sends one-to-one mass messages (add_msg_template) and reads
	// their results; nil: the WeCom channel cannot send.
	WeCom *wecom.Client
	// WeComDailyCap is how many mass messages WeCom lets a customer receive
	// per day (Beijing time); planning never goes past it (default 1).
	WeComDailyCap int
	// Robots are group robots by name: the webhook URL with its key.
	Robots map[string]string
	// Webhooks are generic webhooks by name.
	Webhooks map[string]Webhook
	// HTTP posts to webhooks (default: 10 s timeout). Redirects are never
	// followed, whatever its CheckRedirect: a post carries phones.
	HTTP *http.Client
	// Reveal decrypts a protected phone (pii_vault ciphertext) for a
	// webhook send; nil sends the keyed hash only.
	Reveal func(ciphertext string) (string, error)
	// Wait is the back-off before attempt n+1 after err (default: WeCom's
	// 45009 block, else 1 s doubling to 30 s). Tests shorten it.
	Wait func(attempt int, err error) time.Duration
	// MaxAttempts bounds the attempts at one task per send round; a task
	// left unsent is retried by the next round (default 5).
	MaxAttempts int

	robotMu   sync.Mutex
	robotSent map[string][]time.Time // robot -> recent post times
	plainOnce sync.Once
	plain     *wecom.Client // for robots when WeCom is not configured
}

var noChannels = &Channels{}

// channels returns the configured channels (none configured: outbox only).
func (s *Service) channels() *Channels {
	if s.Channels != nil {
		return s.Channels
	}
	return noChannels
}

func (ch *Channels) wait(attempt int, err error) time.Duration {
	if ch.Wait != nil {
		return ch.Wait(attempt, err)
	}
	if d, ok := wecom.RetryAfter(err); ok {
		return d
	}
	return min(time.Second<<attempt, 30*time.Second)
}

func (ch *Channels) attempts() int {
	if ch.MaxAttempts > 0 {
		return ch.MaxAttempts
	}
	return 5
}

func (ch *Channels) dailyCap() int {
	if ch.WeComDailyCap > 0 {
		return ch.WeComDailyCap
	}
	return 1
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// checkTargets refuses a campaign naming a robot or webhook that is not
// configured.
func (ch *Channels) checkTargets(c Campaign) error {
	for _, t := range c.Targets {
		switch c.Channel {
		case ChannelRobot:
			if _, ok := ch.Robots[t]; !ok {
				return &FieldError{"targets", fmt.Sprintf("no robot named %q is configured (CDP_WECOM_ROBOTS)", t)}
			}
		case ChannelWebhook:
			if _, ok := ch.Webhooks[t]; !ok {
				return &FieldError{"targets", fmt.Sprintf("no webhook named %q is configured (CDP_WEBHOOKS)", t)}
			}
		}
	}
	if c.Channel == ChannelWeCom && ch.WeCom == nil {
		return &FieldError{"channel", "WeCom is not configured (CDP_WECOM_CORP_ID, CDP_WECOM_SECRET)"}
	}
	return nil
}

// task is one channel call, journalled in campaign_tasks before it is made.
type task struct {
	ID, Target, Text, State, Ref, Detail string
	Recipients                           int
	AttemptAt                            time.Time
}

// Task states.
const (
	taskSending = "sending" // journalled: the call is being (or may have been) made
	taskCreated = "created" // the channel took it
	taskFailed  = "failed"
	taskDone    = "done" // every recipient's outcome is known
)

func (s *Service) putTask(ctx context.Context, c Campaign, t task) error {
	return s.DB.Conn.Exec(ctx, "INSERT INTO "+s.DB.Table("campaign_tasks")+
		" (campaign_id, task_id, channel, target, recipients, text, state, ref, detail, attempt_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		c.ID, t.ID, c.Channel, t.Target, uint32(t.Recipients), t.Text, t.State, t.Ref, t.Detail, t.AttemptAt, s.stamp())
}

// tasksWhere reads tasks of the task table (FINAL) matching cond.
func (s *Service) tasksWhere(ctx context.Context, cond string, args ...any) ([]taskRow, error) {
	rows, err := s.DB.Conn.Query(ctx, "SELECT campaign_id, task_id, target, recipients, text, state, ref, detail, attempt_at FROM "+
		s.DB.Table("campaign_tasks")+" FINAL WHERE "+cond+" ORDER BY campaign_id, task_id", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []taskRow
	for rows.Next() {
		var r taskRow
		var n uint32
		if err := rows.Scan(&r.Campaign, &r.ID, &r.Target, &n, &r.Text, &r.State, &r.Ref, &r.Detail, &r.AttemptAt); err != nil {
			return nil, err
		}
		r.Recipients = int(n)
		out = append(out, r)
	}
	return out, rows.Err()
}

type taskRow struct {
	Campaign string
	task
}

// Task is a channel task as the API shows it.
type Task struct {
	ID         string    `json:"id"`
	Target     string    `json:"target"`
	Recipients int       `json:"recipients"`
	State      string    `json:"state"`
	Ref        string    `json:"ref,omitempty"`
	Detail     string    `json:"detail,omitempty"`
	AttemptAt  time.Time `json:"attempt_at"`
}

// Tasks lists a campaign's channel tasks.
func (s *Service) Tasks(ctx context.Context, id string) ([]Task, error) {
	rows, err := s.tasksWhere(ctx, "campaign_id = ?", id)
	if err != nil {
		return nil, err
	}
	out := make([]Task, 0, len(rows))
	for _, r := range rows {
		out = append(out, Task{ID: r.ID, Target: r.Target, Recipients: r.Recipients, State: r.State, Ref: r.Ref, Detail: r.Detail, AttemptAt: r.AttemptAt})
	}
	return out, nil
}

// setStates writes a new state of send rows (treatment rows only).
func (s *Service) setStates(ctx context.Context, c Campaign, batch []pendingSend, state, taskID string, detail func(pendingSend) string, token string) error {
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
		rows[i] = []any{c.ID, p.person, GroupTreatment, "", c.Channel, p.address, p.sender, state, d, taskID, p.plannedAt, now}
	}
	return s.Writer.Table("campaign_sends", sendColumns...).Insert(ctx, rowsToken(token, rows), rows)
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

// sendsWhere reads treatment send rows of campaign c matching cond, at
// most limit (0: all) in person order.
func (s *Service) sendsWhere(ctx context.Context, c Campaign, limit int, cond string, args ...any) ([]pendingSend, error) {
	q := "SELECT person_id, address, sender, planned_at, state, task FROM " + s.DB.Table("campaign_sends") +
		" FINAL WHERE campaign_id = ? AND group = 'treatment' AND " + cond + " ORDER BY person_id"
	if limit > 0 {
		q += " LIMIT " + strconv.Itoa(limit)
	}
	rows, err := s.DB.Conn.Query(ctx, q, append([]any{c.ID}, args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pendingSend
	for rows.Next() {
		var p pendingSend
		if err := rows.Scan(&p.person, &p.address, &p.sender, &p.plannedAt, &p.state, &p.task); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// --- WeCom one-to-one ---

// sendWeCom makes one add_msg_template task per owning staff member and
// chunk of at most 10,000 customers. Each task is journalled (its rows
// "sending" with the task id, then the task with its exact text) before
// WeCom is called, so that after a crash recoverWeCom knows which persons
// a possibly-created task carried and can find it in WeCom's task list.
func (s *Service) sendWeCom(ctx context.Context, c Campaign, offer Offer, batch []pendingSend) error {
	bySender := map[string][]pendingSend{}
	for _, p := range batch {
		bySender[p.sender] = append(bySender[p.sender], p)
	}
	senders := make([]string, 0, len(bySender))
	for k := range bySender {
		senders = append(senders, k)
	}
	sort.Strings(senders)
	for _, sender := range senders {
		list := bySender[sender]
		for i := 0; i < len(list); i += wecom.MaxMsgTemplateRecipients {
			chunk := list[i:min(i+wecom.MaxMsgTemplateRecipients, len(list))]
			t := task{ID: fmt.Sprintf("wecom:%s:%d", sender, chunk[0].person), Target: sender, Recipients: len(chunk),
				Text: Render(c.Template, map[string]string{"staff": sender, "offer": offer.Name, "link": offer.Link}), State: taskSending}
			if err := s.journal(ctx, c, &t, chunk); err != nil {
				return err
			}
			if err := s.deliverWeCom(ctx, c, t, chunk); err != nil {
				return err
			}
		}
	}
	return nil
}

// journal records a task before its call: its sends move to "sending"
// with the task id (so that after a crash it is known whom the task
// carried), then the task itself with the time of the attempt.
func (s *Service) journal(ctx context.Context, c Campaign, t *task, chunk []pendingSend) error {
	if err := s.setStates(ctx, c, chunk, "sending", t.ID, nil, "sending:"+c.ID+":"+t.ID); err != nil {
		return err
	}
	t.AttemptAt = s.now()
	if err := s.putTask(ctx, c, *t); err != nil {
		return err
	}
	return s.crash("journal")
}

// deliverWeCom calls add_msg_template for a journalled task. A 45009 answer
// created nothing: wait and call again. A timeout, broken connection or 5xx
// may have created the task: look for it in WeCom's list before calling
// again. Any other refusal fails the task's sends for good.
func (s *Service) deliverWeCom(ctx context.Context, c Campaign, t task, rows []pendingSend) error {
	ids := make([]string, len(rows))
	for i, p := range rows {
		ids[i] = p.address
	}
	ch := s.channels()
	var lastErr error
	for attempt := 0; attempt < ch.attempts(); attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, ch.wait(attempt-1, lastErr)); err != nil {
				return err
			}
		}
		res, err := ch.WeCom.AddMsgTemplate(ctx, wecom.MsgTemplate{Sender: t.Target, ExternalUserIDs: ids, Text: t.Text, DedupKey: c.ID + "/" + t.ID})
		if err == nil {
			if err := s.crash("channel"); err != nil {
				return err // WeCom made the task; our record of it did not move
			}
			return s.weComCreated(ctx, c, t, rows, res.MsgID, res.FailList)
		}
		lastErr = err
		switch {
		case errors.Is(err, wecom.ErrRateLimited):
			// refused before anything was created
		case wecom.IsRetryable(err):
			ref, found, lerr := s.findWeComTask(ctx, t)
			if lerr == nil && found {
				return s.weComCreated(ctx, c, t, rows, ref, nil)
			}
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			s.Logger.Warn("wecom refused a campaign task", "campaign", c.ID, "task", t.ID, "err", err)
			t.State, t.Detail = taskFailed, err.Error()
			if err := s.putTask(ctx, c, t); err != nil {
				return err
			}
			return s.setStates(ctx, c, rows, "failed", t.ID, func(pendingSend) string { return "wecom_refused" }, "failed:"+c.ID+":"+t.ID)
		}
		s.Logger.Warn("wecom task not sent yet", "campaign", c.ID, "task", t.ID, "attempt", attempt+1, "err", err)
	}
	return fmt.Errorf("wecom task %s: %w", t.ID, lastErr) // still journalled "sending": the next round reconciles
}

// weComCreated records a task WeCom took: the task with its msgid, then its
// sends (customers WeCom put in fail_list failed).
func (s *Service) weComCreated(ctx context.Context, c Campaign, t task, rows []pendingSend, msgid string, failList []string) error {
	t.State, t.Ref = taskCreated, msgid
	if len(failList) > 0 {
		t.Detail = fmt.Sprintf("%d refused by WeCom (fail_list)", len(failList))
	}
	if err := s.putTask(ctx, c, t); err != nil {
		return err
	}
	failed := map[string]bool{}
	for _, id := range failList {
		failed[id] = true
	}
	var ok, bad []pendingSend
	for _, p := range rows {
		if failed[p.address] {
			bad = append(bad, p)
		} else {
			ok = append(ok, p)
		}
	}
	if err := s.setStates(ctx, c, ok, "sent", t.ID, nil, "sent:"+c.ID+":"+t.ID); err != nil {
		return err
	}
	return s.setStates(ctx, c, bad, "failed", t.ID, func(pendingSend) string { return "wecom_fail_list" }, "fail-list:"+c.ID+":"+t.ID)
}

// findWeComTask looks for the task an unanswered add_msg_template call may
// have created: by the same sender, with the same text, created since the
// journalled attempt (with ten minutes for clock skew), and not already
// recorded for another task.
func (s *Service) findWeComTask(ctx context.Context, t task) (string, bool, error) {
	from := t.AttemptAt.Add(-10 * time.Minute)
	to := s.now().Add(10 * time.Minute)
	if to.Sub(from) > wecom.MaxGroupMsgListSpan {
		from = to.Add(-wecom.MaxGroupMsgListSpan)
	}
	list, err := s.channels().WeCom.GetGroupMsgList(ctx, wecom.GroupMsgListQuery{Start: from, End: to, Creator: t.Target, FilterType: 0})
	if err != nil {
		return "", false, err
	}
	claimed := map[string]bool{}
	known, err := s.tasksWhere(ctx, "channel = 'wecom' AND ref != '' AND attempt_at >= ?", from)
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

// recover settles the tasks a crash or an unfinished round left
// "sending": their rows are journalled, so the task is either found at
// the channel (WeCom's list), resent under the same idempotency key
// (webhook), or given up as unknown (robot posts have no list).
func (s *Service) recover(ctx context.Context, c Campaign, offer Offer) error {
	stuck, err := s.sendsWhere(ctx, c, 0, "state = 'sending'")
	if err != nil || len(stuck) == 0 {
		return err
	}
	byTask := map[string][]pendingSend{}
	var ids []string
	for _, p := range stuck {
		if byTask[p.task] == nil {
			ids = append(ids, p.task)
		}
		byTask[p.task] = append(byTask[p.task], p)
	}
	journal, err := s.tasksWhere(ctx, "campaign_id = ? AND task_id IN ?", c.ID, ids)
	if err != nil {
		return err
	}
	known := map[string]task{}
	for _, j := range journal {
		known[j.ID] = j.task
	}
	for _, id := range ids {
		rows := byTask[id]
		t, ok := known[id]
		if !ok { // crashed before the task was journalled: never called
			t = task{ID: id, Target: rows[0].sender, Recipients: len(rows), State: taskSending, AttemptAt: s.now()}
			if c.Channel == ChannelWeCom {
				t.Text = Render(c.Template, map[string]string{"staff": t.Target, "offer": offer.Name, "link": offer.Link})
			} else {
				t.Target = c.Targets[0]
			}
			if err := s.putTask(ctx, c, t); err != nil {
				return err
			}
		}
		s.Logger.Info("recovering a campaign task", "campaign", c.ID, "task", id, "state", t.State)
		switch {
		case t.State == taskFailed:
			err = s.setStates(ctx, c, rows, "failed", id, func(pendingSend) string { return "channel_refused" }, "failed:"+c.ID+":"+id)
		case c.Channel == ChannelWeCom && (t.State == taskCreated || t.State == taskDone):
			err = s.setStates(ctx, c, rows, "sent", id, nil, "sent:"+c.ID+":"+id)
		case c.Channel == ChannelWeCom:
			ref, found, ferr := s.findWeComTask(ctx, t)
			switch {
			case ferr != nil:
				err = ferr
			case found:
				err = s.weComCreated(ctx, c, t, rows, ref, nil)
			default:
				err = s.deliverWeCom(ctx, c, t, rows)
			}
		case c.Channel == ChannelWebhook:
			err = s.deliverWebhook(ctx, c, offer, t, rows)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// SyncDeliveries reads the results of WeCom tasks not yet done
// (get_groupmsg_send_result) and moves their sends to delivered, or to
// failed with WeCom's reason (not_friend, wecom_cap). A task is done once
// every customer's outcome is known; staff confirm tasks in their app, so
// until then results read "not sent". It returns how many sends moved.
func (s *Service) SyncDeliveries(ctx context.Context) (int, error) {
	if s.channels().WeCom == nil {
		return 0, nil
	}
	open, err := s.tasksWhere(ctx, "channel = 'wecom' AND state = 'created' AND attempt_at >= ?", s.now().Add(-30*24*time.Hour))
	if err != nil {
		return 0, err
	}
	moved := 0
	for _, t := range open {
		results, err := s.channels().WeCom.GetAllGroupMsgSendResults(ctx, t.Ref, t.Target)
		if err != nil {
			return moved, fmt.Errorf("results of %s: %w", t.ID, err)
		}
		c := Campaign{ID: t.Campaign, Channel: ChannelWeCom}
		rows, err := s.sendsWhere(ctx, c, 0, "task = ?", t.ID)
		if err != nil {
			return moved, err
		}
		status := map[string]wecom.SendStatus{}
		for _, r := range results {
			status[r.ExternalUserID] = r.Status
		}
		var delivered, notFriend, capped []pendingSend
		pending := 0
		for _, p := range rows {
			if p.state != "sent" {
				continue
			}
			switch status[p.address] {
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
		tok := fmt.Sprintf("%s:%s:%d", t.Campaign, t.ID, len(delivered)+len(notFriend)+len(capped))
		if err := s.setStates(ctx, c, delivered, "delivered", t.ID, nil, "delivered:"+tok); err != nil {
			return moved, err
		}
		if err := s.setStates(ctx, c, notFriend, "failed", t.ID, func(pendingSend) string { return "not_friend" }, "not-friend:"+tok); err != nil {
			return moved, err
		}
		if err := s.setStates(ctx, c, capped, "failed", t.ID, func(pendingSend) string { return "wecom_cap" }, "capped:"+tok); err != nil {
			return moved, err
		}
		moved += len(delivered) + len(notFriend) + len(capped)
		if pending == 0 {
			t.State = taskDone
			t.Detail = deliveryDetail(len(delivered), len(notFriend), len(capped))
			if err := s.putTask(ctx, c, t.task); err != nil {
				return moved, err
			}
		}
	}
	return moved, nil
}

func deliveryDetail(delivered, notFriend, capped int) string {
	return fmt.Sprintf("delivered %d, not a contact %d, over WeCom's cap %d", delivered, notFriend, capped)
}

// --- Generic webhook ---

// webhookBatch is how many recipients one webhook post carries.
const webhookBatch = 500

// WebhookPayload is the JSON body of a webhook post.
type WebhookPayload struct {
	CampaignID string           `json:"campaign_id"`
	TaskID     string           `json:"task_id"`
	Offer      WebhookOffer     `json:"offer"`
	Messages   []WebhookMessage `json:"messages"`
}

// WebhookOffer is the offer a webhook post promotes.
type WebhookOffer struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Link string `json:"link,omitempty"`
}

// WebhookMessage is one recipient's message in a webhook post.
type WebhookMessage struct {
	PersonID  uint32 `json:"person_id"`
	PhoneHash string `json:"phone_hash"`
	Phone     string `json:"phone,omitempty"` // decrypted for sending, when the platform may reveal it
	Text      string `json:"text"`
}

// Webhook headers.
const (
	HeaderTimestamp   = "X-Granary-Timestamp"
	HeaderSignature   = "X-Granary-Signature"
	HeaderIdempotency = "Idempotency-Key"
)

// SignWebhook returns the X-Granary-Signature of a post: "sha256=" and the
// hex HMAC-SHA256 under secret of the timestamp, a dot and the body.
// Receivers recompute it, compare in constant time and refuse timestamps
// more than five minutes old.
func SignWebhook(secret, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (s *Service) sendWebhook(ctx context.Context, c Campaign, offer Offer, batch []pendingSend) error {
	for i := 0; i < len(batch); i += webhookBatch {
		chunk := batch[i:min(i+webhookBatch, len(batch))]
		t := task{ID: fmt.Sprintf("webhook:%s:%d", c.Targets[0], chunk[0].person), Target: c.Targets[0], Recipients: len(chunk), State: taskSending}
		if err := s.journal(ctx, c, &t, chunk); err != nil {
			return err
		}
		if err := s.deliverWebhook(ctx, c, offer, t, chunk); err != nil {
			return err
		}
	}
	return nil
}

// deliverWebhook posts a journalled task, retrying 5xx, 429 and network
// failures with the same Idempotency-Key; a 4xx refusal fails the sends,
// and so does a 3xx redirect, which is not followed.
func (s *Service) deliverWebhook(ctx context.Context, c Campaign, offer Offer, t task, rows []pendingSend) error {
	hook := s.channels().Webhooks[t.Target]
	who, err := s.recipients(ctx, personsOf(rows))
	if err != nil {
		return err
	}
	phones, err := s.reveal(ctx, rows)
	if err != nil {
		return err
	}
	p := WebhookPayload{CampaignID: c.ID, TaskID: t.ID, Offer: WebhookOffer{ID: offer.ID, Name: offer.Name, Link: offer.Link}}
	for _, r := range rows {
		text := Render(c.Template, vars(who[r.person], r.sender, offer, coupon(offer, c.ID, r.person)))
		p.Messages = append(p.Messages, WebhookMessage{PersonID: r.person, PhoneHash: r.address, Phone: phones[r.address], Text: text})
	}
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	client := s.channels().webhookClient()
	var lastErr error
	for attempt := 0; attempt < s.channels().attempts(); attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, s.channels().wait(attempt-1, lastErr)); err != nil {
				return err
			}
		}
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(HeaderTimestamp, ts)
		req.Header.Set(HeaderSignature, SignWebhook(hook.Secret, ts, body))
		req.Header.Set(HeaderIdempotency, c.ID+"/"+t.ID)
		resp, err := client.Do(req)
		if err == nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			switch {
			case resp.StatusCode/100 == 2:
				if err := s.crash("channel"); err != nil {
					return err
				}
				t.State, t.Ref = taskDone, c.ID+"/"+t.ID
				if err := s.putTask(ctx, c, t); err != nil {
					return err
				}
				return s.setStates(ctx, c, rows, "sent", t.ID, nil, "sent:"+c.ID+":"+t.ID)
			case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
				err = fmt.Errorf("webhook %s answered %s", t.Target, resp.Status)
			default:
				reason := "webhook_refused"
				t.State, t.Detail = taskFailed, "webhook answered "+resp.Status
				if resp.StatusCode/100 == 3 {
					reason = "webhook_redirect"
					t.Detail += ": a redirect, not followed (the post carries phone numbers); configure the webhook's final https URL"
				}
				if err := s.putTask(ctx, c, t); err != nil {
					return err
				}
				return s.setStates(ctx, c, rows, "failed", t.ID, func(pendingSend) string { return reason }, "failed:"+c.ID+":"+t.ID)
			}
		} else if ctx.Err() != nil {
			return ctx.Err()
		}
		lastErr = err
		s.Logger.Warn("webhook post not taken yet", "campaign", c.ID, "task", t.ID, "attempt", attempt+1, "err", err)
	}
	return fmt.Errorf("webhook task %s: %w", t.ID, lastErr)
}

// webhookClient is the configured HTTP client (or one with a 10 s
// timeout) that never follows a redirect: a 307 or 308 would post the
// same body, phones included, to wherever the receiver points.
func (ch *Channels) webhookClient() *http.Client {
	if ch.HTTP != nil {
		return wecom.NoRedirects(ch.HTTP)
	}
	return wecom.NoRedirects(&http.Client{Timeout: 10 * time.Second})
}

// reveal decrypts the phones (keyed hashes) of a batch from pii_vault.
func (s *Service) reveal(ctx context.Context, rows []pendingSend) (map[string]string, error) {
	out := map[string]string{}
	if s.channels().Reveal == nil {
		return out, nil
	}
	hashes := make([]string, len(rows))
	for i, r := range rows {
		hashes[i] = r.address
	}
	q, err := s.DB.Conn.Query(ctx, "SELECT hash, argMax(ciphertext, updated_at) FROM "+s.DB.Table("pii_vault")+" WHERE hash IN ? GROUP BY hash", hashes)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	for q.Next() {
		var h, ct string
		if err := q.Scan(&h, &ct); err != nil {
			return nil, err
		}
		if v, err := s.channels().Reveal(ct); err == nil {
			out[h] = v
		}
	}
	return out, q.Err()
}

// coupon picks a recipient's code from the offer's pool by a hash of
// (campaign, person): the same code on every retry of the send.
func coupon(o Offer, campaign string, person uint32) string {
	if len(o.Coupons) == 0 {
		return ""
	}
	return o.Coupons[bucket(campaign+"/coupon", person)%len(o.Coupons)]
}

// phoneAddresses finds each member's latest phone (as its keyed hash).
func (s *Service) phoneAddresses(ctx context.Context, scope string) (map[uint32]Address, error) {
	rows, err := s.DB.Conn.Query(ctx, `SELECT p.canonical, argMax(l.id_value, l.linked_at)
		FROM (SELECT * FROM `+s.DB.Table("identity_links")+` FINAL WHERE id_type = 'phone' AND contested = 0`+scope+`) AS l
		INNER JOIN (SELECT person_id, canonical FROM `+s.DB.Table("persons")+` FINAL WHERE 1`+scope+`) AS p ON p.person_id = l.person_id
		GROUP BY p.canonical`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[uint32]Address{}
	for rows.Next() {
		var p uint32
		var h string
		if err := rows.Scan(&p, &h); err != nil {
			return nil, err
		}
		out[p] = Address{To: h}
	}
	return out, rows.Err()
}

// --- WeCom group robot ---

// sendRobots posts the campaign's message once into each target robot's
// group. A post is journalled first; a journalled post whose answer was
// lost is not posted again (robots have no list to check, and a group
// seeing an offer twice is worse than a missing post): it fails as
// "unknown". Robots take 20 posts a minute: posts wait their turn.
func (s *Service) sendRobots(ctx context.Context, c Campaign, offer Offer) error {
	done, err := s.tasksWhere(ctx, "campaign_id = ?", c.ID)
	if err != nil {
		return err
	}
	have := map[string]task{}
	for _, t := range done {
		have[t.ID] = t.task
	}
	for _, name := range c.Targets {
		id := "robot:" + name
		if t, ok := have[id]; ok {
			if t.State == taskSending {
				t.State, t.Detail = taskFailed, "unknown: the post's answer was lost; not posted again to avoid a duplicate"
				if err := s.putTask(ctx, c, t); err != nil {
					return err
				}
			}
			continue
		}
		t := task{ID: id, Target: name, State: taskSending, AttemptAt: s.now(),
			Text: Render(c.Template, map[string]string{"offer": offer.Name, "link": offer.Link, "name": "", "staff": ""})}
		if err := s.putTask(ctx, c, t); err != nil {
			return err
		}
		if err := s.crash("journal"); err != nil {
			return err
		}
		if err := s.postRobot(ctx, c, t); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) postRobot(ctx context.Context, c Campaign, t task) error {
	ch := s.channels()
	var lastErr error
	for attempt := 0; attempt < ch.attempts(); attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, ch.wait(attempt-1, lastErr)); err != nil {
				return err
			}
		}
		if err := sleep(ctx, ch.robotTurn(t.Target, time.Now())); err != nil {
			return err
		}
		err := ch.robotClient().SendRobot(ctx, ch.Robots[t.Target], wecom.RobotMessage{Type: wecom.RobotMarkdown, Content: t.Text})
		if err == nil {
			t.State = taskDone
			return s.putTask(ctx, c, t)
		}
		lastErr = err
		if !errors.Is(err, wecom.ErrRateLimited) { // refused, or lost: never resent
			t.State, t.Detail = taskFailed, err.Error()
			if wecom.IsRetryable(err) {
				t.Detail = "unknown: " + err.Error() + "; not posted again to avoid a duplicate"
			}
			return s.putTask(ctx, c, t)
		}
	}
	return fmt.Errorf("robot %s: %w", t.Target, lastErr)
}

// robotTurn returns how long to wait so that robot posts at most 20 times
// in any minute, and books the post.
func (ch *Channels) robotTurn(robot string, now time.Time) time.Duration {
	ch.robotMu.Lock()
	defer ch.robotMu.Unlock()
	if ch.robotSent == nil {
		ch.robotSent = map[string][]time.Time{}
	}
	recent := ch.robotSent[robot][:0]
	for _, at := range ch.robotSent[robot] {
		if now.Sub(at) < time.Minute {
			recent = append(recent, at)
		}
	}
	wait := time.Duration(0)
	if len(recent) >= 20 {
		wait = time.Minute - now.Sub(recent[len(recent)-20])
	}
	ch.robotSent[robot] = append(recent, now.Add(wait))
	return wait
}

// robotClient returns the WeCom client, or one without credentials made
// once: robot webhooks need none (their key is in the URL).
func (ch *Channels) robotClient() *wecom.Client {
	if ch.WeCom != nil {
		return ch.WeCom
	}
	ch.plainOnce.Do(func() { ch.plain, _ = wecom.NewClient("robot", "robot", wecom.DefaultClientOptions()) })
	return ch.plain
}
