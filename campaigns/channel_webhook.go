package campaigns

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom"
)

// webhookChannel posts batches of recipients' messages, each with its
// phone decrypted for sending, to the campaign's one webhook, under an
// Idempotency-Key the receiver deduplicates on: a post whose answer was
// lost is simply posted again.
type webhookChannel struct{}

// webhookBatch is how many recipients one webhook post carries.
const webhookBatch = 500

func (webhookChannel) Validate(c Campaign) error {
	switch {
	case len(c.Targets) == 0:
		return &FieldError{"targets", "name the configured " + c.Channel + " to post to"}
	case len(c.Targets) != 1:
		return &FieldError{"targets", "a webhook campaign posts to exactly one webhook"}
	}
	return nil
}

func (webhookChannel) Configured(c Campaign, cfg *Channels) error {
	return unconfigured(c.Targets, cfg.Webhooks, "webhook", "CDP_WEBHOOKS")
}

// Address reaches each member at their latest phone (its keyed hash).
func (webhookChannel) Address(ctx context.Context, p *Planning) error {
	return p.phoneAddresses(ctx)
}

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

// Send posts the batch in journalled chunks of webhookBatch.
func (w webhookChannel) Send(ctx context.Context, d *Dispatch, batch []Recipient) error {
	target := d.Campaign.Targets[0]
	return d.calls(ctx, batch, webhookBatch, func(chunk []Recipient) Task {
		return Task{ID: fmt.Sprintf("webhook:%s:%d", target, chunk[0].Person), Target: target}
	}, w.deliver)
}

// Settle posts the task again under the same Idempotency-Key.
func (w webhookChannel) Settle(ctx context.Context, d *Dispatch, t Task, rows []Recipient) error {
	return w.deliver(ctx, d, t, rows)
}

// deliver posts a journalled task, retrying 5xx, 429 and network failures
// with the same Idempotency-Key; a 4xx refusal fails the sends, and so
// does a 3xx redirect, which is not followed.
func (w webhookChannel) deliver(ctx context.Context, d *Dispatch, t Task, rows []Recipient) error {
	body, err := w.payload(ctx, d, t, rows)
	if err != nil {
		return err
	}
	hook, ch := d.channels().Webhooks[t.Target], d.channels()
	client := ch.webhookClient()
	return ch.retry(ctx, "webhook task "+t.ID, func(attempt int) (bool, error) {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(body))
		if err != nil {
			return true, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(HeaderTimestamp, ts)
		req.Header.Set(HeaderSignature, SignWebhook(hook.Secret, ts, body))
		req.Header.Set(HeaderIdempotency, d.key(t))
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return true, ctx.Err()
			}
		} else if err = w.answered(ctx, d, t, rows, resp); err == nil || !retryableAnswer(resp) {
			return true, err
		}
		d.logger().Warn("webhook post not taken yet", "campaign", d.Campaign.ID, "task", t.ID, "attempt", attempt+1, "err", err)
		return false, err
	})
}

// payload is the JSON body of a task's post.
func (webhookChannel) payload(ctx context.Context, d *Dispatch, t Task, rows []Recipient) ([]byte, error) {
	texts, err := d.messages(ctx, rows)
	if err != nil {
		return nil, err
	}
	phones, err := d.phones(ctx, rows)
	if err != nil {
		return nil, err
	}
	o := d.Offer
	p := WebhookPayload{CampaignID: d.Campaign.ID, TaskID: t.ID, Offer: WebhookOffer{ID: o.ID, Name: o.Name, Link: o.Link}}
	for i, r := range rows {
		p.Messages = append(p.Messages, WebhookMessage{PersonID: r.Person, PhoneHash: r.Address, Phone: phones[r.Address], Text: texts[i]})
	}
	return json.Marshal(p)
}

// retryableAnswer tells whether a webhook's answer asks for a retry.
func retryableAnswer(resp *http.Response) bool {
	return resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
}

// answered records the webhook's answer to a post: a 2xx took it; a 5xx
// or 429 is an error to retry (retryableAnswer); another answer fails
// the task's sends.
func (webhookChannel) answered(ctx context.Context, d *Dispatch, t Task, rows []Recipient, resp *http.Response) error {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	switch {
	case resp.StatusCode/100 == 2:
		if err := d.crash("channel"); err != nil {
			return err
		}
		t.State, t.Ref = taskDone, d.key(t)
		if err := d.record(ctx, t); err != nil {
			return err
		}
		return d.sent(ctx, t, rows)
	case retryableAnswer(resp):
		return fmt.Errorf("webhook %s answered %s", t.Target, resp.Status)
	}
	reason := "webhook_refused"
	t.State, t.Detail = taskFailed, "webhook answered "+resp.Status
	if resp.StatusCode/100 == 3 {
		reason = "webhook_redirect"
		t.Detail += ": a redirect, not followed (the post carries phone numbers); configure the webhook's final https URL"
	}
	if err := d.record(ctx, t); err != nil {
		return err
	}
	return d.failed(ctx, t, rows, reason)
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
