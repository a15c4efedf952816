package campaigns

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom"
)

// Checks are what every channel says about a campaign before it runs.
type Checks interface {
	// Validate checks the campaign's channel-specific fields (its targets,
	// its template) when it is saved, after the fields every campaign
	// has and before its limits. Problems are *FieldError.
	Validate(c Campaign) error
	// Configured checks that what the campaign names is configured (its
	// targets exist, the channel has its credentials), when it is saved
	// and when it is launched. Problems are *FieldError.
	Configured(c Campaign, cfg *Channels) error
}

// Channel reaches persons one by one: the outbox, WeCom one-to-one, a
// webhook, or one a deployment adds (an SMS gateway). The engine plans a
// campaign and writes its send log; the channel says how each member is
// reached (Address), delivers chunks of planned sends (Send), and settles
// the calls a crash left unanswered (Settle).
//
// Exactly once rests on the journal: before each call a channel makes, it
// journals the task (Dispatch.journal: the sends move to "sending" with
// the task id, then the task is recorded with its exact text), and after
// the call it records the outcome (Dispatch.sent, Dispatch.failed). A
// crash in between leaves the task "sending"; the next round hands it to
// Settle before anything new is sent. A channel whose writes are
// idempotent by themselves (the outbox) may skip the journal.
//
// Adding a channel is one file in this package: a type with these
// methods, registered with Channels.Register (see docs/campaigns.md,
// "Adding a channel").
type Channel interface {
	Checks
	// Address completes p.Audience: Addresses (how each member is
	// reached; members without an address are excluded) and, for a
	// channel with a cap of its own, AtChannelCap.
	Address(ctx context.Context, p *Planning) error
	// Send delivers a chunk of planned sends (person order, all of
	// d.Campaign): each channel call journalled before it is made, and
	// every send moved to its outcome (sent or failed) once the channel
	// answered. An error leaves what is not settled for the next round.
	Send(ctx context.Context, d *Dispatch, batch []Recipient) error
	// Settle settles a journalled task a crash or an unfinished round
	// left "sending" (never a failed one: the engine fails its sends):
	// the call may or may not have reached the channel. It looks the
	// task up at the channel, calls again under the same idempotency key
	// (Dispatch.key), or gives the sends up; rows are the sends it
	// carries, still "sending".
	Settle(ctx context.Context, d *Dispatch, t Task, rows []Recipient) error
}

// GroupChannel posts a campaign's message into groups (WeCom group
// robots) rather than to persons: its campaigns plan nobody, need no
// segment and are sent once.
type GroupChannel interface {
	Checks
	// Post sends the campaign's message to each of its targets once,
	// journalling each post first, and settles the posts a crash left
	// "sending".
	Post(ctx context.Context, d *Dispatch) error
}

// DeliveryReader is a Channel that learns after sending what became of
// its messages (WeCom's send results, an SMS gateway's delivery reports):
// SyncDeliveries calls it with the name it is registered under (the
// journal's channel column); it moves sends from sent to delivered or
// failed and returns how many moved.
type DeliveryReader interface {
	ReadDeliveries(ctx context.Context, s *Service, name string) (int, error)
}

// registered is a channel in the registry: person or group is set.
type registered struct {
	name   string
	person Channel
	group  GroupChannel
}

func (r registered) checks() Checks {
	if r.group != nil {
		return r.group
	}
	return r.person
}

// The built-in channels.
const (
	ChannelOutbox = "outbox" // records what would be sent (demo, review)
	ChannelWeCom  = "wecom"  // WeCom one-to-one mass send through the owning staff
	// ChannelWebhook posts each recipient's message, HMAC-signed, to a
	// configured endpoint (an SMS gateway, a CRM).
	ChannelWebhook = "webhook"
	// ChannelRobot posts the message into WeCom group chats through their
	// group robots (群机器人): one post per robot, no per-person sends.
	ChannelRobot = "robot"
	// ChannelWeComGroup sends a group mass message (客户群群发) into WeCom
	// customer groups through their owners: one add_msg_template task
	// (chat_type group) per owner, at most one a group a day.
	ChannelWeComGroup = "wecom_group"
)

// builtinChannels are the channels every deployment has, in the order an
// unknown channel's error lists them.
var builtinChannels = []registered{
	{name: ChannelOutbox, person: outboxChannel{}},
	{name: ChannelWeCom, person: weComChannel{}},
	{name: ChannelWebhook, person: webhookChannel{}},
	{name: ChannelRobot, group: robotChannel{}},
	{name: ChannelWeComGroup, group: weComGroupChannel{}},
}

// Register adds a channel under name (a campaign's channel field) beside
// the built-in ones. Call it before the service uses the channels; it
// panics when the name is empty or taken, as a configuration mistake.
func (ch *Channels) Register(name string, c Channel) {
	ch.register(registered{name: name, person: c})
}

// RegisterGroup adds a group channel under name (see Register).
func (ch *Channels) RegisterGroup(name string, g GroupChannel) {
	ch.register(registered{name: name, group: g})
}

func (ch *Channels) register(r registered) {
	ch.regMu.Lock()
	defer ch.regMu.Unlock()
	if r.name == "" || r.checks() == nil {
		panic("campaigns: a channel needs a name and an implementation")
	}
	for _, have := range ch.list() {
		if have.name == r.name {
			panic("campaigns: channel " + r.name + " is registered twice")
		}
	}
	ch.added = append(ch.added, r)
}

// lookup finds a channel by name.
func (ch *Channels) lookup(name string) (registered, bool) {
	ch.regMu.Lock()
	defer ch.regMu.Unlock()
	for _, r := range ch.list() {
		if r.name == name {
			return r, true
		}
	}
	return registered{}, false
}

// all lists the registered channels, the built-in ones first.
func (ch *Channels) all() []registered {
	ch.regMu.Lock()
	defer ch.regMu.Unlock()
	return ch.list()
}

// list is all with regMu held.
func (ch *Channels) list() []registered {
	return append(append([]registered{}, builtinChannels...), ch.added...)
}

// isGroup tells whether name is a group channel.
func (ch *Channels) isGroup(name string) bool {
	r, ok := ch.lookup(name)
	return ok && r.group != nil
}

// unknownChannel is the error of a campaign naming no registered channel.
func (ch *Channels) unknownChannel() error {
	var names []string
	for _, r := range ch.all() {
		names = append(names, r.name)
	}
	last := len(names) - 1
	return &FieldError{"channel", "must be " + strings.Join(names[:last], ", ") + " or " + names[last]}
}

// checks returns the checks of c's channel (a *FieldError when there is
// no such channel).
func (ch *Channels) checks(c Campaign) (Checks, error) {
	r, ok := ch.lookup(c.Channel)
	if !ok {
		return nil, ch.unknownChannel()
	}
	return r.checks(), nil
}

// configured checks that c's channel has what c names.
func (ch *Channels) configured(c Campaign) error {
	k, err := ch.checks(c)
	if err != nil {
		return err
	}
	return k.Configured(c, ch)
}

// unconfigured is the error for the first of targets that have lacks,
// naming the kind of target and the setting that configures them.
func unconfigured[V any](targets []string, have map[string]V, kind, setting string) error {
	for _, t := range targets {
		if _, ok := have[t]; !ok {
			return &FieldError{"targets", fmt.Sprintf("no %s named %q is configured (%s)", kind, t, setting)}
		}
	}
	return nil
}

// Webhook is a configured generic webhook. Each post is JSON signed with
// HMAC-SHA256 under Secret (see SignWebhook) and carries an Idempotency-Key
// that stays the same when a post is retried: receivers deduplicate on it.
type Webhook struct {
	URL    string
	Secret string
}

// Channels configure the campaign channels besides the outbox, and hold
// the channels registered beside the built-in ones.
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

	regMu sync.Mutex
	added []registered // by Register, in its order

	robotMu   sync.Mutex
	robotSent map[string][]time.Time // robot -> recent post times
	plainOnce sync.Once
	plain     *wecom.Client // for robots when WeCom is not configured
}

var noChannels = &Channels{}

// channels returns the configured channels (none configured: the
// built-in ones, of which only the outbox can send).
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

// retry calls try, at most attempts() times, until it reports done,
// waiting wait(n, err) before attempt n+1. It returns the error of the
// attempt that was done, the context's if it ends during a wait, or the
// last attempt's error, prefixed by what, when every attempt failed.
func (ch *Channels) retry(ctx context.Context, what string, try func(attempt int) (done bool, err error)) error {
	var lastErr error
	for attempt := 0; attempt < ch.attempts(); attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, ch.wait(attempt-1, lastErr)); err != nil {
				return err
			}
		}
		done, err := try(attempt)
		if done {
			return err
		}
		lastErr = err
	}
	return fmt.Errorf("%s: %w", what, lastErr)
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

// SyncDeliveries asks each channel that learns what became of its
// messages (DeliveryReader: WeCom's send results) and moves sends from
// sent to delivered, or to failed with the channel's reason. It returns
// how many sends moved.
func (s *Service) SyncDeliveries(ctx context.Context) (int, error) {
	moved := 0
	for _, r := range s.channels().all() {
		dr, ok := r.person.(DeliveryReader)
		if !ok {
			dr, ok = r.group.(DeliveryReader)
		}
		if ok {
			n, err := dr.ReadDeliveries(ctx, s, r.name)
			moved += n
			if err != nil {
				return moved, err
			}
		}
	}
	return moved, nil
}
