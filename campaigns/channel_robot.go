package campaigns

import (
	"context"
	"errors"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom"
)

// robotChannel posts a campaign's message once into each target robot's
// group. A post is journalled first; a journalled post whose answer was
// lost is not posted again (robots have no list to check, and a group
// seeing an offer twice is worse than a missing post): it fails as
// "unknown". Robots take 20 posts a minute: posts wait their turn.
type robotChannel struct{}

func (robotChannel) Validate(c Campaign) error {
	switch {
	case c.Trigger != "" && c.Trigger != TriggerOnce:
		return &FieldError{"trigger", "a robot posts into group chats once: it takes no per-person trigger"}
	case len(c.Targets) == 0:
		return &FieldError{"targets", "name the configured " + c.Channel + " to post to"}
	}
	return nil
}

func (robotChannel) Configured(c Campaign, cfg *Channels) error {
	return unconfigured(c.Targets, cfg.Robots, "robot", "CDP_WECOM_ROBOTS")
}

// Post posts into each target robot's group once.
func (r robotChannel) Post(ctx context.Context, d *Dispatch) error {
	c := d.Campaign
	done, err := d.s.tasksWhere(ctx, "read the robot posts", "campaign_id = {campaign:String}", named("campaign", c.ID))
	if err != nil {
		return err
	}
	have := map[string]Task{}
	for _, t := range done {
		have[t.ID] = t.Task
	}
	for _, name := range c.Targets {
		id := "robot:" + name
		if t, ok := have[id]; ok {
			if t.State == taskSending {
				t.State, t.Detail = taskFailed, "unknown: the post's answer was lost; not posted again to avoid a duplicate"
				if err := d.record(ctx, t); err != nil {
					return err
				}
			}
			continue
		}
		t := Task{ID: id, Target: name, State: taskSending, AttemptAt: d.s.now(),
			Text: Render(c.Template, map[string]string{"offer": d.Offer.Name, "link": d.Offer.Link, "name": "", "staff": ""})}
		if err := d.record(ctx, t); err != nil {
			return err
		}
		if err := d.crash("journal"); err != nil {
			return err
		}
		if err := r.deliver(ctx, d, t); err != nil {
			return err
		}
	}
	return nil
}

// deliver posts a journalled post, waiting its robot's turn; only a rate
// limit is retried.
func (robotChannel) deliver(ctx context.Context, d *Dispatch, t Task) error {
	ch := d.channels()
	return ch.retry(ctx, "robot "+t.Target, func(int) (bool, error) {
		if err := sleep(ctx, ch.robotTurn(t.Target, time.Now())); err != nil {
			return true, err
		}
		err := ch.robotClient().SendRobot(ctx, ch.Robots[t.Target], wecom.RobotMessage{Type: wecom.RobotMarkdown, Content: t.Text})
		if err == nil {
			t.State = taskDone
			return true, d.record(ctx, t)
		}
		if !errors.Is(err, wecom.ErrRateLimited) { // refused, or lost: never resent
			t.State, t.Detail = taskFailed, err.Error()
			if wecom.IsRetryable(err) {
				t.Detail = "unknown: " + err.Error() + "; not posted again to avoid a duplicate"
			}
			return true, d.record(ctx, t)
		}
		return false, err
	})
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
