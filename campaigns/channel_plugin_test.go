package campaigns

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// smsGateway is a channel added the way any channel is: this one type,
// registered with Channels.Register (docs/campaigns.md, "Adding a
// channel"). It sends each recipient's personalised text through an SMS
// gateway's HTTP API:
//
//	POST {URL}/v1/batches             Authorization: Bearer {Key}
//	     {"batch_id": "...", "messages": [{"ref": "...", "to": "+86...", "text": "..."}]}
//	     200: taken (a batch_id taken before is answered again, not sent again)
//	     4xx: refused; 5xx: try again
//	GET  {URL}/v1/batches/{batch_id}
//	     200 {"batch_id": "...", "reports": [{"ref": "...", "status": "delivered" | "failed" | "pending"}]}
//	     404: never received
type smsGateway struct {
	URL, Key string
}

// smsBatch is how many messages one batch carries.
const smsBatch = 20

type smsMessage struct {
	Ref  string `json:"ref"` // the recipient's address: the phone's keyed hash
	To   string `json:"to"`
	Text string `json:"text"`
}

type smsBatchBody struct {
	BatchID  string       `json:"batch_id"`
	Messages []smsMessage `json:"messages"`
}

type smsReports struct {
	BatchID string `json:"batch_id"`
	Reports []struct {
		Ref    string `json:"ref"`
		Status string `json:"status"`
	} `json:"reports"`
}

func (g *smsGateway) Validate(c Campaign) error {
	if utf8.RuneCountInString(c.Template) > 300 {
		return &FieldError{"template", "an SMS template takes at most 300 characters"}
	}
	return nil
}

func (g *smsGateway) Configured(Campaign, *Channels) error {
	if g.URL == "" {
		return &FieldError{"channel", "the SMS gateway is not configured"}
	}
	return nil
}

// Address reaches each member at their latest phone.
func (g *smsGateway) Address(ctx context.Context, p *Planning) error { return p.phoneAddresses(ctx) }

// Send posts the batch in journalled batches of smsBatch.
func (g *smsGateway) Send(ctx context.Context, d *Dispatch, batch []Recipient) error {
	return d.calls(ctx, batch, smsBatch, func(chunk []Recipient) Task {
		return Task{ID: fmt.Sprintf("sms:%d", chunk[0].Person), Target: "gateway"}
	}, g.deliver)
}

// Settle asks the gateway for the batch: taken, it is recorded; never
// received, it is posted.
func (g *smsGateway) Settle(ctx context.Context, d *Dispatch, t Task, rows []Recipient) error {
	switch status, err := g.call(ctx, http.MethodGet, "/v1/batches/"+url.PathEscape(d.key(t)), nil, nil); {
	case err != nil:
		return err
	case status == http.StatusNotFound:
		return g.deliver(ctx, d, t, rows)
	case status != http.StatusOK:
		return fmt.Errorf("sms task %s: the gateway answered %d", t.ID, status)
	}
	return g.taken(ctx, d, t, rows)
}

// deliver posts a journalled batch under its task's idempotency key,
// again while the gateway is unreachable or busy.
func (g *smsGateway) deliver(ctx context.Context, d *Dispatch, t Task, rows []Recipient) error {
	texts, err := d.messages(ctx, rows)
	if err != nil {
		return err
	}
	phones, err := d.phones(ctx, rows)
	if err != nil {
		return err
	}
	body := smsBatchBody{BatchID: d.key(t)}
	for i, r := range rows {
		body.Messages = append(body.Messages, smsMessage{Ref: r.Address, To: phones[r.Address], Text: texts[i]})
	}
	return d.channels().retry(ctx, "sms task "+t.ID, func(int) (bool, error) {
		status, err := g.call(ctx, http.MethodPost, "/v1/batches", body, nil)
		switch {
		case err != nil || status >= 500:
			return ctx.Err() != nil, cmp.Or(err, fmt.Errorf("the gateway answered %d", status))
		case status != http.StatusOK:
			t.State, t.Detail = taskFailed, fmt.Sprintf("the gateway answered %d", status)
			if err := d.record(ctx, t); err != nil {
				return true, err
			}
			return true, d.failed(ctx, t, rows, "sms_refused")
		}
		if err := d.crash("channel"); err != nil {
			return true, err // the gateway took it; our record did not move
		}
		return true, g.taken(ctx, d, t, rows)
	})
}

// taken records a batch the gateway took.
func (g *smsGateway) taken(ctx context.Context, d *Dispatch, t Task, rows []Recipient) error {
	t.State, t.Ref = taskCreated, d.key(t)
	if err := d.record(ctx, t); err != nil {
		return err
	}
	return d.sent(ctx, t, rows)
}

// ReadDeliveries reads the delivery reports of the batches the gateway
// took and moves their sends to delivered or failed.
func (g *smsGateway) ReadDeliveries(ctx context.Context, s *Service, name string) (int, error) {
	open, err := s.tasksWhere(ctx, "read the SMS batches awaiting reports", "channel = {channel:String} AND state = 'created'", named("channel", name))
	if err != nil {
		return 0, err
	}
	moved := 0
	for _, t := range open {
		var got smsReports
		if _, err := g.call(ctx, http.MethodGet, "/v1/batches/"+url.PathEscape(t.Ref), nil, &got); err != nil {
			return moved, err
		}
		status := map[string]string{}
		for _, r := range got.Reports {
			status[r.Ref] = r.Status
		}
		c := Campaign{ID: t.Campaign, Channel: name}
		rows, err := s.sendsWhere(ctx, "read an SMS batch's sends", c, 0, "task = {task:String} AND state = 'sent'", named("task", t.ID))
		if err != nil {
			return moved, err
		}
		by := map[string][]Recipient{}
		for _, r := range rows {
			by[status[r.Address]] = append(by[status[r.Address]], r)
		}
		tok := fmt.Sprintf("%s:%s:%d", t.Campaign, t.ID, len(rows))
		if err := s.setStates(ctx, c, by["delivered"], "delivered", t.ID, nil, "delivered:"+tok); err != nil {
			return moved, err
		}
		if err := s.setStates(ctx, c, by["failed"], "failed", t.ID, func(Recipient) string { return "sms_undelivered" }, "undelivered:"+tok); err != nil {
			return moved, err
		}
		moved += len(by["delivered"]) + len(by["failed"])
		if len(by["delivered"])+len(by["failed"]) == len(rows) {
			t.State = taskDone
			if err := s.putTask(ctx, c, t.Task); err != nil {
				return moved, err
			}
		}
	}
	return moved, nil
}

// call makes one request of the gateway's API and decodes a 200 answer
// into out (when not nil).
func (g *smsGateway) call(ctx context.Context, method, path string, body, out any) (int, error) {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return 0, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, g.URL+path, bytes.NewReader(raw))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+g.Key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode == http.StatusOK {
		return resp.StatusCode, json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode, nil
}

// fakeSMSGateway speaks the gateway's API over HTTP: it keeps the
// batches it took by batch id (a repeat sends nothing again), answers
// the first post with a 503, and reports every message delivered.
type fakeSMSGateway struct {
	*httptest.Server
	mu      sync.Mutex
	posts   int
	busy    int // answer the next posts with 503
	batches map[string][]smsMessage
}

func newFakeSMSGateway(t *testing.T, key string) *fakeSMSGateway {
	g := &fakeSMSGateway{busy: 1, batches: map[string][]smsMessage{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/batches", func(w http.ResponseWriter, r *http.Request) {
		var b smsBatchBody
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil || b.BatchID == "" {
			http.Error(w, "bad batch", http.StatusBadRequest)
			return
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		g.posts++
		if g.busy > 0 {
			g.busy--
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		if _, ok := g.batches[b.BatchID]; !ok {
			g.batches[b.BatchID] = b.Messages
		}
		json.NewEncoder(w).Encode(map[string]any{"batch_id": b.BatchID, "accepted": len(b.Messages)})
	})
	mux.HandleFunc("GET /v1/batches/{id}", func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		msgs, ok := g.batches[r.PathValue("id")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		var out smsReports
		out.BatchID = r.PathValue("id")
		for _, m := range msgs {
			out.Reports = append(out.Reports, struct {
				Ref    string `json:"ref"`
				Status string `json:"status"`
			}{m.Ref, "delivered"})
		}
		json.NewEncoder(w).Encode(out)
	})
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+key {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(g.Close)
	return g
}

func (g *fakeSMSGateway) postCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.posts
}

// received returns how many messages the gateway took for each phone.
func (g *fakeSMSGateway) received() map[string]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[string]int{}
	for _, msgs := range g.batches {
		for _, m := range msgs {
			out[m.To]++
		}
	}
	return out
}

// TestSMSGatewayChannelPlugin runs a campaign through a channel registered
// beside the built-in ones, on the real engine, against a fake gateway,
// crashing once: after a batch was journalled and before it was posted
// (the gateway never received it: Settle posts it), or after the gateway
// took it and before its record moved (Settle finds it: not posted
// again). Either way each of the 30 reachable persons gets one message,
// every send is delivered once the reports are read, and the other ten,
// without a phone, are excluded.
func TestSMSGatewayChannelPlugin(t *testing.T) {
	for _, step := range []string{"journal", "channel"} {
		t.Run(step, func(t *testing.T) {
			f := newFixture(t, 40)
			prot := f.withPhones(30) // persons 31..40 have no phone
			gw := newFakeSMSGateway(t, "sms-key")
			f.svc.Channels = &Channels{Reveal: prot.Decrypt, Wait: func(int, error) time.Duration { return time.Millisecond }}
			f.svc.Channels.Register("sms", &smsGateway{URL: gw.URL, Key: "sms-key"})
			c := f.campaign(0)
			c.Channel, c.Template = "sms", "【粮仓】{{name}}您好，{{offer}}券码{{coupon}}"
			if _, err := f.svc.SaveCampaign(f.ctx, Campaign{Name: "x", OfferID: c.OfferID, SegmentID: c.SegmentID, Channel: "fax", Template: "x"}, "t"); err == nil {
				t.Fatal("a campaign naming no registered channel was saved")
			}
			c, err := f.svc.SaveCampaign(f.ctx, c, "t")
			if err != nil {
				t.Fatal(err)
			}
			crash := errors.New("crash")
			crashed := false
			f.svc.crashAfter = func(s string) error {
				if s == step && !crashed {
					crashed = true
					return crash
				}
				return nil
			}
			_, plan, err := f.svc.Launch(f.ctx, c.ID, "t")
			if !errors.Is(err, crash) {
				t.Fatalf("launch: %v", err)
			}
			if plan.Counts[GroupTreatment] != 30 || plan.Excluded[ReasonNoAddress] != 10 {
				t.Fatalf("plan %+v %+v", plan.Counts, plan.Excluded)
			}
			if tasks := f.mustTasks(c.ID); len(tasks) != 1 || tasks[0].State != taskSending {
				t.Fatalf("after the crash: tasks %+v, want one left sending", tasks)
			}
			if err := f.svc.Resume(f.ctx); err != nil {
				t.Fatal(err)
			}
			got := gw.received()
			if len(got) != 30 || got["+8613800130001"] != 1 || got["+8613800130030"] != 1 {
				t.Fatalf("the gateway took %v, want each of 30 phones once", got)
			}
			for phone, n := range got {
				if n != 1 {
					t.Fatalf("%s got %d messages", phone, n)
				}
			}
			// A 503, then two batches; the batch the gateway took before
			// the crash is found, not posted again.
			if n := gw.postCount(); n != 3 {
				t.Fatalf("%d posts, want 3", n)
			}
			if moved, err := f.svc.SyncDeliveries(f.ctx); err != nil || moved != 30 {
				t.Fatalf("delivery reports moved %d sends (%v), want 30", moved, err)
			}
			u, err := f.svc.Results(f.ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if u.Sends["delivered"] != 30 || len(u.Sends) != 1 {
				t.Fatalf("sends %v, want 30 delivered", u.Sends)
			}
			for _, task := range f.mustTasks(c.ID) {
				if task.State != taskDone || task.Ref != c.ID+"/"+task.ID {
					t.Fatalf("task %+v, want done with its batch id", task)
				}
			}
		})
	}
}
