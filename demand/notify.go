package demand

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/granarycdp/cdp/campaigns"
	"github.com/granarycdp/cdp/journeys"
	"github.com/granarycdp/cdp/store"
)

// Target is a supply system (OMS, WMS, the mill's planning) alerts are
// posted to: signed as campaign webhooks are (campaigns.SignWebhook), with
// an Idempotency-Key the receiver deduplicates on.
//
// A Target with Handle is in-process (a campaign trigger): Deliver calls
// Handle with the alert instead of posting; nil delivers, an error leaves
// the delivery pending for the next Deliver. Its journal row is keyed on
// the alert id like a post's, so each alert is handed over until Handle
// succeeds once; Handle must itself be idempotent per alert id (a crash
// between its success and the journal's write repeats it).
type Target struct {
	Name, URL, Secret string
	Handle            func(ctx context.Context, a Alert) error
}

// Notifier records alerts and delivers them to the supply systems through
// a journal (demand_deliveries): an alert is pending for each target
// until a 2xx answer is recorded, so a delivery cut off by a crash is
// posted again, under the same key, by the next Deliver. The receiver
// counts each alert once.
type Notifier struct {
	DB      *store.DB
	Targets []Target
	// HTTP posts (default: 10 s timeout); redirects are never followed.
	HTTP *http.Client
	// Attempts per delivery and Deliver call (default 5); Backoff is the
	// wait before attempt n+1 (default 1 s doubling, at most 1 min).
	Attempts int
	Backoff  func(n int) time.Duration
	// Now is the clock of timestamps and row versions (default time.Now).
	Now func() time.Time
}

// AlertPost is the JSON body of an alert delivery.
type AlertPost struct {
	Target string          `json:"target"`
	Alert  json.RawMessage `json:"alert"`
}

func (n *Notifier) now() time.Time {
	if n.Now != nil {
		return n.Now()
	}
	return time.Now()
}

// Record stores alerts and a pending delivery to every target for each
// delivery not journalled yet: recording an alert again leaves its
// deliveries as they are.
func (n *Notifier) Record(ctx context.Context, alerts []Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	ids := make([]string, len(alerts))
	for i, a := range alerts {
		ids[i] = a.ID
	}
	known := map[[2]string]bool{}
	rows, err := n.DB.Conn.Query(ctx, "SELECT alert_id, toString(target) FROM "+n.DB.Table("demand_deliveries")+" WHERE alert_id IN ?", ids)
	if err != nil {
		return fmt.Errorf("demand: read deliveries: %w", err)
	}
	for rows.Next() {
		var k [2]string
		if err := rows.Scan(&k[0], &k[1]); err != nil {
			rows.Close()
			return fmt.Errorf("demand: read deliveries: %w", err)
		}
		known[k] = true
	}
	rows.Close()
	now := n.now()
	ab, err := n.DB.Conn.PrepareBatch(ctx, "INSERT INTO "+n.DB.Table("demand_alerts")+
		" (alert_id, class, province, city, window_from, window_to, observed, expected, ratio, q, evidence, created_at)")
	if err != nil {
		return fmt.Errorf("demand: write alerts: %w", err)
	}
	var pending [][]any
	for _, a := range alerts {
		ev, err := json.Marshal(a)
		if err != nil {
			return err
		}
		if err := ab.Append(a.ID, a.Key.Class, a.Key.Province, a.Key.City, a.From, a.To, a.Observed, a.Expected, a.Ratio, a.Q, string(ev), now); err != nil {
			return fmt.Errorf("demand: write alerts: %w", err)
		}
		for _, t := range n.Targets {
			if !known[[2]string{a.ID, t.Name}] {
				pending = append(pending, []any{a.ID, t.Name, "pending", uint32(0), "", now, uint64(now.UnixNano())})
			}
		}
	}
	// Alerts first: a delivery never names an alert that is not stored.
	if err := ab.Send(); err != nil {
		return fmt.Errorf("demand: write alerts: %w", err)
	}
	return n.journal(ctx, pending)
}

// journal writes delivery rows.
func (n *Notifier) journal(ctx context.Context, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	b, err := n.DB.Conn.PrepareBatch(ctx, "INSERT INTO "+n.DB.Table("demand_deliveries")+" (alert_id, target, state, attempts, detail, updated_at, version)")
	if err != nil {
		return fmt.Errorf("demand: write deliveries: %w", err)
	}
	for _, r := range rows {
		if err := b.Append(r...); err != nil {
			return fmt.Errorf("demand: write deliveries: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("demand: write deliveries: %w", err)
	}
	return nil
}

// delivery is a pending journal row with its alert's evidence.
type delivery struct {
	alertID, target, evidence string
	attempts                  uint32
}

// Deliver posts every pending delivery, oldest alert first, and returns
// how many were delivered. A 2xx answer delivers, a 4xx other than 429
// refuses (recorded, never posted again), 5xx, 429 and network errors are
// retried Attempts times and otherwise left pending for the next call.
func (n *Notifier) Deliver(ctx context.Context) (int, error) {
	rows, err := n.DB.Conn.Query(ctx, "SELECT d.alert_id, toString(d.target), a.evidence, d.attempts FROM "+n.DB.Table("demand_deliveries")+
		" AS d FINAL INNER JOIN (SELECT alert_id, any(evidence) AS evidence, min(window_to) AS w FROM "+n.DB.Table("demand_alerts")+
		" GROUP BY alert_id) AS a ON a.alert_id = d.alert_id WHERE d.state = 'pending' ORDER BY a.w, d.alert_id, d.target")
	if err != nil {
		return 0, fmt.Errorf("demand: read pending deliveries: %w", err)
	}
	var todo []delivery
	for rows.Next() {
		var d delivery
		if err := rows.Scan(&d.alertID, &d.target, &d.evidence, &d.attempts); err != nil {
			rows.Close()
			return 0, fmt.Errorf("demand: read pending deliveries: %w", err)
		}
		todo = append(todo, d)
	}
	rows.Close()
	targets := map[string]Target{}
	for _, t := range n.Targets {
		targets[t.Name] = t
	}
	done := 0
	var errs []error
	for _, d := range todo {
		t, ok := targets[d.target]
		if !ok {
			continue // a target no longer configured keeps its pending rows
		}
		var state, detail string
		var tries uint32
		if t.Handle != nil {
			state, detail, tries, err = n.hand(ctx, t, d)
		} else {
			state, detail, tries, err = n.post(ctx, t, d)
		}
		if ctx.Err() != nil {
			return done, ctx.Err()
		}
		now := n.now()
		if err := n.journal(ctx, [][]any{{d.alertID, d.target, state, d.attempts + tries, detail, now, uint64(now.UnixNano())}}); err != nil {
			return done, err
		}
		if state == "delivered" {
			done++
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return done, errors.Join(errs...)
}

// hand gives one delivery to an in-process target, once.
func (n *Notifier) hand(ctx context.Context, t Target, d delivery) (state, detail string, tries uint32, err error) {
	var a Alert
	if err := json.Unmarshal([]byte(d.evidence), &a); err != nil {
		return "refused", "unreadable evidence: " + err.Error(), 0, fmt.Errorf("demand: alert %s: %w", d.alertID, err)
	}
	if err := t.Handle(ctx, a); err != nil {
		return "pending", err.Error(), 1, fmt.Errorf("demand: %s: alert %s: %w", t.Name, d.alertID, err)
	}
	return "delivered", "handled", 1, nil
}

// post makes up to Attempts posts of one delivery and says what became of
// it: delivered, refused, or still pending (with the last error).
func (n *Notifier) post(ctx context.Context, t Target, d delivery) (state, detail string, tries uint32, err error) {
	body, err := json.Marshal(AlertPost{Target: t.Name, Alert: json.RawMessage(d.evidence)})
	if err != nil {
		return "pending", err.Error(), 0, err
	}
	attempts := max(n.Attempts, 1)
	if n.Attempts == 0 {
		attempts = 5
	}
	for i := range attempts {
		if i > 0 {
			select {
			case <-time.After(n.backoff(i - 1)):
			case <-ctx.Done():
				return "pending", ctx.Err().Error(), tries, ctx.Err()
			}
		}
		tries++
		var code int
		code, err = n.send(ctx, t, d.alertID, body)
		switch {
		case err == nil && code/100 == 2:
			return "delivered", strconv.Itoa(code), tries, nil
		case err == nil && code != http.StatusTooManyRequests && code < 500:
			return "refused", "answered " + strconv.Itoa(code), tries, fmt.Errorf("demand: %s refused alert %s: %d", t.Name, d.alertID, code)
		case err == nil:
			err = fmt.Errorf("demand: %s answered %d", t.Name, code)
		}
	}
	return "pending", err.Error(), tries, err
}

// send posts body once, signed, under the delivery's Idempotency-Key.
func (n *Notifier) send(ctx context.Context, t Target, alertID string, body []byte) (int, error) {
	ts := strconv.FormatInt(n.now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(campaigns.HeaderTimestamp, ts)
	req.Header.Set(campaigns.HeaderSignature, campaigns.SignWebhook(t.Secret, ts, body))
	req.Header.Set(campaigns.HeaderIdempotency, alertID+":"+t.Name)
	client := http.Client{Timeout: 10 * time.Second}
	if n.HTTP != nil {
		client = *n.HTTP
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (n *Notifier) backoff(i int) time.Duration {
	if n.Backoff != nil {
		return n.Backoff(i)
	}
	return min(time.Second<<i, time.Minute)
}

// CampaignsTarget is the name of the in-process target that hands alerts
// to the demand-surge campaigns; no supply system may be named so.
const CampaignsTarget = "campaigns"

// Campaigns is the in-process target handing each alert to svc's running
// demand-surge campaigns (campaigns.Service.DemandSurge): they plan their
// segment's members in the alert's region, once per alert.
func Campaigns(svc *campaigns.Service) Target {
	return Target{Name: CampaignsTarget, Handle: func(ctx context.Context, a Alert) error {
		_, err := svc.DemandSurge(ctx, a.Surge())
		return err
	}}
}

// JourneysTarget is the name of the in-process target that hands alerts
// to the journeys with a demand_surge entry; no supply system may be
// named so.
const JourneysTarget = "journeys"

// Journeys is the in-process target handing each alert to svc's running
// journeys with a demand_surge entry (journeys.Service.DemandSurge): they
// enter their segment's members in the alert's region, once per alert.
func Journeys(svc *journeys.Service) Target {
	return Target{Name: JourneysTarget, Handle: func(ctx context.Context, a Alert) error {
		_, err := svc.DemandSurge(ctx, a.Surge())
		return err
	}}
}

// Surge is the alert as a campaign or journey trigger sees it.
func (a Alert) Surge() campaigns.Surge {
	return campaigns.Surge{ID: a.ID, Class: a.Key.Class, Province: a.Key.Province, City: a.Key.City, At: a.To}
}
