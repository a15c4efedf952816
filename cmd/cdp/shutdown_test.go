package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/granarycdp/cdp/gen"
	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/ingest/wecom/wecomtest"
	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// shutdownRig runs `cdp serve` in this process on a database of the
// shared test engine, with WeCom pointed at a fake, restartable on the
// same data folder and database.
type shutdownRig struct {
	t      *testing.T
	args   []string
	db     *store.DB
	hc     *http.Client // its own transport: closing its idle connections ends its goroutines
	base   string
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

const (
	shutdownAdmin    = "shutdown-admin-token"
	shutdownWriteKey = "shutdown-write-key"
)

func (r *shutdownRig) start() {
	r.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.logs, r.done = cancel, &syncBuffer{}, make(chan error, 1)
	go func() { r.done <- run(ctx, r.args, r.logs, r.logs) }()
	r.base = waitForURL(r.t, r.logs, r.done)
}

// stop cancels serve's context, as SIGTERM does, and waits for it to
// return.
func (r *shutdownRig) stop() {
	r.t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			r.t.Fatalf("serve: %v\n%s", err, r.logs.String())
		}
	case <-time.After(time.Minute):
		r.t.Fatalf("serve did not stop within a minute of cancellation:\n%s", r.logs.String())
	}
}

// call sends a request with a bearer token or write key and decodes a
// 2xx answer into out.
func (r *shutdownRig) call(method, path, auth, ctype string, body []byte, out any) {
	r.t.Helper()
	req, _ := http.NewRequest(method, r.base+path, bytes.NewReader(body))
	if auth == shutdownWriteKey {
		req.SetBasicAuth(auth, "")
	} else {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	req.Header.Set("Content-Type", ctype)
	doJSON(r.t, r.hc, req, out)
}

func (r *shutdownRig) api(method, path string, body, out any) {
	r.t.Helper()
	raw, _ := json.Marshal(body)
	r.call(method, path, shutdownAdmin, "application/json", raw, out)
}

func (r *shutdownRig) count(q string, args ...any) int {
	r.t.Helper()
	var n uint64
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.db.Conn.QueryRow(ctx, strings.ReplaceAll(q, "{db}", r.db.Database), args...).Scan(&n); err != nil {
		r.t.Fatalf("%s: %v", q, err)
	}
	return int(n)
}

// TestShutdownWithWorkInFlightLosesNothingAndLeaksNoGoroutine stops
// `cdp serve` (as SIGTERM does) while a WeCom campaign's sends are in
// flight at a slow WeCom, the opt-out scan of a chat batch with 退订
// from every customer in it has just been handed its persons, and an
// acknowledged event batch may not be in ClickHouse yet. Counted where it
// arrives: every opt-out is in ClickHouse when serve has returned, no
// goroutine serve started is left, and after a restart every event is
// stored once and every treatment customer is in exactly one WeCom task.
func TestShutdownWithWorkInFlightLosesNothingAndLeaksNoGoroutine(t *testing.T) {
	const corp, secret, token = "wwshutdowncorp", "shutdown-secret", "shutdown-token"
	aesKey, fake, g, total, contacts := newFakeCorp(t, corp, secret, 13, 200)
	events := 0
	g.Each(func(it gen.Item) error {
		if it.Kind == gen.KindEvent {
			events++
		}
		return nil
	})
	db := storetest.DB(t)
	r := &shutdownRig{t: t, db: db, hc: &http.Client{Timeout: time.Minute, Transport: &http.Transport{}},
		args: []string{"serve", "--clickhouse-dsn", storetest.DSN(t, db.Database), "--data-dir", t.TempDir(),
			"--http-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--log-level", "info",
			"--admin-token", shutdownAdmin, "--write-key", shutdownWriteKey, "--rate-limit-api", "0",
			"--wecom-corp-id", corp, "--wecom-token", token, "--wecom-aes-key", aesKey, "--wecom-secret", secret,
			"--wecom-api-url", fake.URL, "--allow-loopback-http"}}
	// Goroutines alive now are not serve's: the shared test engine and
	// its supervisor (storetest, for the whole test binary), this test's
	// connection to it (closed by the test's cleanup, after the check)
	// and the fake WeCom's listener (closed by newFakeCorp's cleanup).
	before := goleak.IgnoreCurrent()

	r.start()
	crypto, err := wecom.NewCrypto(token, aesKey, corp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Load(context.Background(), gen.Target{BaseURL: r.base, WriteKey: shutdownWriteKey, WeCom: crypto, AgentID: "1000002", Client: r.hc}, total, nil); err != nil {
		t.Fatal(err)
	}
	until(t, 2*time.Minute, "the contacts in ClickHouse", func() bool {
		return r.count("SELECT count() FROM {db}.wecom_contact_events") >= contacts
	})

	// A WeCom campaign whose sends WeCom answers slowly: stopped with
	// add_msg_template calls in flight.
	camp, treat := launchSlowWeComCampaign(r.api, fake)
	until(t, time.Minute, "the first WeCom task", func() bool { return len(fake.Tasks()) >= 1 })

	// A chat batch in which new customers each write 退订: once it is in
	// ClickHouse the opt-out scan has its persons, and serve stops.
	const optOuts = 120
	var chat strings.Builder
	now := time.Now().UnixMilli()
	for i := range optOuts {
		fmt.Fprintf(&chat, `{"msgid":"shutdown-m%d","action":"send","from":"wmshutdown%d","tolist":["shutdown-staff"],"roomid":"","msgtime":%d,"msgtype":"text","text":{"content":"以后别发了，退订"}}`+"\n", i, i, now)
	}
	r.call("POST", "/v1/import/wecom-archive", shutdownWriteKey, "application/x-ndjson", []byte(chat.String()), nil)
	until(t, time.Minute, "the chat batch in ClickHouse", func() bool {
		return r.count("SELECT count() FROM {db}.wecom_messages WHERE startsWith(external_userid, 'wmshutdown')") == optOuts
	})
	// And an acknowledged event batch the pipeline may not have stored.
	const late = 50
	var batch strings.Builder
	batch.WriteString(`{"batch":[`)
	for i := range late {
		if i > 0 {
			batch.WriteByte(',')
		}
		fmt.Fprintf(&batch, `{"type":"track","event":"video_play","messageId":"shutdown-late-%d","anonymousId":"dev-late-%d","properties":{}}`, i, i)
	}
	batch.WriteString(`]}`)
	r.call("POST", "/v1/batch", shutdownWriteKey, "application/json", []byte(batch.String()), nil)
	r.stop()

	if n := r.count("SELECT uniqExact(person_id) FROM {db}.consents WHERE kind = 'opt_out' AND channel = 'wecom' AND source = 'wecom_keyword' AND granted" +
		" AND person_id IN (SELECT person_id FROM {db}.wecom_messages WHERE startsWith(external_userid, 'wmshutdown'))"); n != optOuts {
		t.Errorf("%d of the %d customers who wrote 退订 before the shutdown are opted out", n, optOuts)
	}
	tasksAtStop := len(fake.Tasks())
	// The fake's connections end with the client's: the platform's WeCom
	// client is gone with serve, and this test's idle ones are closed.
	r.hc.CloseIdleConnections()
	fake.CloseClientConnections()
	goleak.VerifyNone(t, before)

	fake.Delay(wecomtest.PathAddMsgTemplate, 0)
	r.start()
	untilFinished(t, r.api, camp)
	until(t, time.Minute, "the late events in ClickHouse", func() bool {
		return r.count("SELECT count() FROM {db}.events") >= events+late
	})
	r.stop()

	if n := r.count("SELECT count() FROM {db}.events"); n != events+late {
		t.Errorf("%d events stored, %d acknowledged", n, events+late)
	}
	per := customersOnce(t, fake)
	if len(per) != treat {
		t.Errorf("%d customers in WeCom tasks, %d planned for treatment", len(per), treat)
	}
	if sent := r.count("SELECT count() FROM {db}.campaign_sends FINAL WHERE campaign_id = ? AND state = 'sent'", camp); sent != treat {
		t.Errorf("%d sends recorded sent, want %d", sent, treat)
	}
	t.Logf("%d treatment customers, %d WeCom tasks made before the shutdown", treat, tasksAtStop)
	r.hc.CloseIdleConnections()
	fake.CloseClientConnections()
	goleak.VerifyNone(t, before)
}
