package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/granarycdp/cdp/gen"
	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

func TestMain(m *testing.M) {
	// The crash test runs the real binary's main in a child process.
	if args := os.Getenv("CDP_TEST_RUN_MAIN"); args != "" {
		os.Args = append([]string{"cdp"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	storetest.Main(m)
}

// parallelNote: the tests that spend most of their time waiting on a
// child platform (the browser test on the demo's load, the outage test
// holding its minute, the journey crash test on its journey's 60-second
// wait) call t.Parallel, so they overlap. Go runs parallel tests only
// after every sequential one has finished, so the in-process tests'
// goroutine-leak checks (goleak with IgnoreCurrent) never see their work.
// A parallel test must start its own platform, database and fakes and
// touch no package state.
const parallelNote = "see the comment"

// syncBuffer is a bytes.Buffer safe for the server's logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestHelpExplainsEverySetting(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"help"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	var c config
	for _, s := range c.settings() {
		if !strings.Contains(out.String(), "--"+s.flag) || !strings.Contains(out.String(), s.env) {
			t.Errorf("help lacks --%s / %s", s.flag, s.env)
		}
	}
	for _, cmd := range commands {
		if !strings.Contains(out.String(), cmd.name) {
			t.Errorf("help lacks command %s", cmd.name)
		}
	}
}

func TestEnvironmentSetsAndFlagOverrides(t *testing.T) {
	t.Setenv("CDP_HTTP_ADDR", "127.0.0.1:9999")
	t.Setenv("CDP_ENGINE_TCP_PORT", "19000")
	var c config
	if _, err := c.parse("serve", []string{"--engine-tcp-port=29000"}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "127.0.0.1:9999" || c.EngineTCPPort != 29000 || c.EngineHTTPPort != 8123 {
		t.Fatalf("got %+v", c)
	}
	t.Setenv("CDP_ENGINE_HTTP_PORT", "eighty")
	if _, err := c.parse("serve", nil, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "CDP_ENGINE_HTTP_PORT") {
		t.Fatalf("bad number: %v, want an error naming CDP_ENGINE_HTTP_PORT", err)
	}
}

// TestDedupFilterBudgetIsASetting reads CDP_DEDUP_FILTER_MB into the
// deduplication window's filter budget and refuses less than 1 MB.
func TestDedupFilterBudgetIsASetting(t *testing.T) {
	var c config
	if _, err := c.parse("serve", nil, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if o, err := dedupOptions(c, nil); err != nil || o.FilterBytes != 128<<20 {
		t.Fatalf("default: %d bytes, %v; want 128 MiB", o.FilterBytes, err)
	}
	t.Setenv("CDP_DEDUP_FILTER_MB", "512")
	if _, err := c.parse("serve", nil, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if o, err := dedupOptions(c, nil); err != nil || o.FilterBytes != 512<<20 {
		t.Fatalf("512: %d bytes, %v", o.FilterBytes, err)
	}
	c.DedupFilterMB = 0
	if _, err := dedupOptions(c, nil); err == nil || !strings.Contains(err.Error(), "CDP_DEDUP_FILTER_MB") {
		t.Fatalf("0 MB: %v, want an error naming CDP_DEDUP_FILTER_MB", err)
	}
}

func TestUnknownCommandFails(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"srve"}, &out, &out); err == nil || !strings.Contains(err.Error(), "srve") {
		t.Fatalf("got %v", err)
	}
}

func TestBusyEnginePortNamesTheSetting(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, p, _ := net.SplitHostPort(l.Addr().String())
	var out bytes.Buffer
	err = run(context.Background(), []string{"migrate", "--data-dir", t.TempDir(), "--engine-tcp-port", p, "--engine-http-port", "0"}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "CDP_ENGINE_TCP_PORT") || !strings.Contains(err.Error(), p) {
		t.Fatalf("got %v, want an error naming port %s and CDP_ENGINE_TCP_PORT", err, p)
	}
}

// TestServeEmbeddedEndToEnd runs `cdp serve` on the embedded engine, checks
// /healthz and the first admin token, then stops it with the context (as
// SIGINT does) and runs it again on the same data.
func TestServeEmbeddedEndToEnd(t *testing.T) {
	dir := t.TempDir()
	args := []string{"serve", "--data-dir", dir, "--http-addr", "127.0.0.1:0",
		"--engine-tcp-port", "0", "--engine-http-port", "0", "--metrics-addr", "127.0.0.1:0"}
	for round := 1; round <= 2; round++ {
		ctx, cancel := context.WithCancel(context.Background())
		var logs syncBuffer
		done := make(chan error, 1)
		go func() { done <- run(ctx, args, &logs, &logs) }()

		base := waitForURL(t, &logs, done)
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		var h struct {
			Status            string `json:"status"`
			ClickHouseVersion string `json:"clickhouse_version"`
			SchemaVersion     int    `json:"schema_version"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&h)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(h.ClickHouseVersion, "26.") || h.SchemaVersion < 1 {
			t.Fatalf("round %d healthz %d %+v", round, resp.StatusCode, h)
		}
		token, err := os.ReadFile(filepath.Join(dir, "admin-token"))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", base+"/api/v1/whoami", nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("round %d: first admin token refused: %d", round, resp.StatusCode)
		}
		// Metrics: on their own address, not on the API's.
		metrics := waitForLog(t, &logs, done, metricsURL)
		for url, want := range map[string]int{metrics: 200, base + "/metrics": 404} {
			if resp, err = http.Get(url); err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("round %d: GET %s: %d, want %d", round, url, resp.StatusCode, want)
			}
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("round %d: serve: %v\n%s", round, err, logs.String())
			}
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop within 30 s of cancellation")
		}
	}
}

var (
	apiURL     = regexp.MustCompile(`api=(http://127\.0\.0\.1:\d+)/api/v1`)
	metricsURL = regexp.MustCompile(`metrics served on their own address" url=(http://127\.0\.0\.1:\d+/metrics)`)
)

func waitForURL(t *testing.T, logs *syncBuffer, done chan error) string {
	t.Helper()
	return waitForLog(t, logs, done, apiURL)
}

// waitForLog waits until the log has a match of re and returns its first
// group.
func waitForLog(t *testing.T, logs *syncBuffer, done chan error, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(logs.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended early: %v\n%s", err, logs.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("serve logged no %s:\n%s", re, logs.String())
	return ""
}

// TestServeLoadsDemoDataThroughIngest runs `cdp serve --demo=auto` with a
// small data set and checks that everything the generator produced arrived
// through the real ingest path and was resolved into persons.
func TestServeLoadsDemoDataThroughIngest(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	done := make(chan error, 1)
	args := []string{"serve", "--data-dir", dir, "--http-addr", "127.0.0.1:0", "--engine-tcp-port", "0", "--engine-http-port", "0",
		"--demo", "auto", "--demo-households", "300", "--demo-seed", "5", "--log-level", "info"}
	// A failing check still stops the platform before the next test, whose
	// goroutine-leak checks would otherwise see this one's background work.
	finished := make(chan struct{})
	defer func() { cancel(); <-finished }()
	go func() { done <- run(ctx, args, &logs, &logs); close(finished) }()
	waitForURL(t, &logs, done)

	want := map[gen.Kind]int{}
	orders := map[string]bool{} // an order's versions collapse into one row
	g := gen.New(gen.Config{Seed: 5, Households: 300, End: demoEnd, CorpID: "wwdemocorp"})
	lost := 0 // each del_follow_user callback also becomes a contact_lost event (no transfers here)
	g.Each(func(it gen.Item) error {
		want[it.Kind]++
		if it.Kind == gen.KindContact && it.Contact.ChangeType == "del_follow_user" {
			lost++
		}
		if it.Kind == gen.KindOrder {
			var o struct {
				Channel string `json:"channel"`
				OrderID string `json:"order_id"`
			}
			json.Unmarshal(it.Data, &o)
			orders[o.Channel+"/"+o.OrderID] = true
		}
		return nil
	})

	deadline := time.Now().Add(3 * time.Minute)
	for !strings.Contains(logs.String(), "demo data loaded") {
		if time.Now().After(deadline) || strings.Contains(logs.String(), "demo data not loaded") {
			t.Fatalf("demo not loaded:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	m := regexp.MustCompile(`clickhouse_native=(127\.0\.0\.1:\d+)`).FindStringSubmatch(logs.String())
	dsn, err := store.EngineDSN(dir, m[1], "cdp")
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	count := func(q string) int {
		var n uint64
		if err := db.Conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return int(n)
	}
	// The pipeline commits within a linger of the last acknowledgement.
	for time.Now().Before(deadline) && count("SELECT count() FROM cdp.events") < want[gen.KindEvent]+lost {
		time.Sleep(20 * time.Millisecond)
	}
	for q, n := range map[string]int{
		"SELECT countIf(event != 'contact_lost') FROM cdp.events": want[gen.KindEvent],
		"SELECT countIf(event = 'contact_lost') FROM cdp.events":  lost,
		"SELECT uniqExact(channel, order_id) FROM cdp.orders":     len(orders),
		"SELECT count() FROM cdp.wecom_contact_events":            want[gen.KindContact],
		"SELECT count() FROM cdp.wecom_messages":                  want[gen.KindChat],
		"SELECT count() FROM cdp.ingest_dead_letters":             0,
	} {
		for time.Now().Before(deadline) && count(q) < n {
			time.Sleep(20 * time.Millisecond)
		}
		if got := count(q); got != n {
			t.Errorf("%s = %d, want %d", q, got, n)
		}
	}
	if p := count("SELECT uniqExact(canonical) FROM cdp.persons FINAL"); p < 300 || p > 2000 {
		t.Errorf("%d persons for 300 households", p)
	}
	for strings.Count(logs.String(), "demo segment created") < len(demoSegmentDefs) {
		if time.Now().After(deadline) || strings.Contains(logs.String(), "demo data not loaded") {
			t.Fatalf("demo segments not created:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := count("SELECT uniqExact(segment_id) FROM cdp.segment_members"); n != len(demoSegmentDefs) {
		t.Errorf("%d membership snapshots, want %d", n, len(demoSegmentDefs))
	}
	for strings.Count(logs.String(), "demo campaign sent") < 2 {
		if time.Now().After(deadline) || strings.Contains(logs.String(), "demo data not loaded") {
			t.Fatalf("demo campaign not sent:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := count("SELECT count() FROM cdp.campaign_sends FINAL WHERE group = 'treatment' AND state = 'sent'"); n != count("SELECT count() FROM cdp.campaign_outbox FINAL") {
		t.Errorf("demo campaigns: %d sent, outbox differs", n)
	}
	if n := count("SELECT uniqExact(campaign_id) FROM cdp.campaign_sends WHERE group = 'treatment'"); n == 0 {
		t.Error("no demo campaign sent to anybody")
	}
	// Each demo campaign's offer carries a true effect: the generator's
	// response orders are in, and the truth is written beside the data.
	for !strings.Contains(logs.String(), "demo truth written") {
		if time.Now().After(deadline) || strings.Contains(logs.String(), "demo data not loaded") {
			t.Fatalf("demo campaigns' truth not written:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	raw, err := os.ReadFile(filepath.Join(dir, demoTruthFile))
	if err != nil {
		t.Fatal(err)
	}
	var truth []demoTruth
	if err := json.Unmarshal(raw, &truth); err != nil || len(truth) != 2 {
		t.Fatalf("demo truth %s (%v)", raw, err)
	}
	responders := 0
	for _, x := range truth {
		responders += x.Responders
		if x.Persons < x.Treatment || x.Treatment < x.Reached || (x.Reached > 0 && x.ConversionEffect != x.Truth(x.Persons, x.Treatment, x.Reached, x.NaturalRate, x.Responders).ConversionEffect) {
			t.Errorf("demo truth %+v", x)
		}
	}
	t.Logf("demo truth %s", raw)
	if truth[0].ConversionMultiplier != 3 || truth[1].ConversionMultiplier <= 1 {
		t.Errorf("demo effects: low-GI trial ×%v, peanut-oil coupon ×%v", truth[0].ConversionMultiplier, truth[1].ConversionMultiplier)
	}
	if n := count("SELECT count() FROM cdp.orders FINAL WHERE source = 'demo_response'"); n != responders {
		t.Errorf("%d response orders, the truth says %d responders", n, responders)
	}
	// Customers who asked about blood sugar gave separate consent; the
	// health-interest campaign reaches only people who did.
	if n := count("SELECT count() FROM cdp.consents WHERE kind = 'sensitive_consent'"); n == 0 {
		t.Error("the demo recorded no separate consent")
	}
	if n := count("SELECT count() FROM cdp.campaign_sends FINAL WHERE group = 'treatment' AND person_id NOT IN (SELECT person_id FROM cdp.consents WHERE kind = 'sensitive_consent')" +
		" AND campaign_id IN (SELECT campaign_id FROM cdp.campaigns WHERE JSONExtractString(definition, 'segment_id') IN (SELECT segment_id FROM cdp.segments WHERE positionUTF8(rule, '控糖') > 0))"); n != 0 {
		t.Errorf("%d treatment sends without the separate consent", n)
	}
	// The demo corp's WeCom stand-in gives contacts their unionid, which
	// joins them to their mini-program orders.
	if n := count("SELECT count() FROM cdp.wecom_contact_events WHERE change_type = 'add_external_contact' AND unionid = ''"); n != 0 {
		t.Errorf("%d demo contacts without the unionid the contact API gives", n)
	}
	if n := count("SELECT count() FROM cdp.identity_links FINAL WHERE id_type = 'unionid'"); n == 0 {
		t.Error("no unionid linked")
	}
	// Events arrive under their channel's write key.
	if n := count("SELECT uniqExact(source) FROM cdp.events WHERE source IN ('douyin', 'mini_program')"); n != 2 {
		t.Errorf("demo events come from %d of the 2 sources", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
