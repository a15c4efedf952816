package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/granarycdp/cdp/gen"
	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/ingest/wecom/wecomtest"
	"github.com/granarycdp/cdp/store"
)

// campaignRig is `cdp serve` on an embedded engine of its own, with WeCom
// pointed at a fake, restartable on the same data.
type campaignRig struct {
	t    *testing.T
	env  []string
	p    *platform
	db   *store.DB
	fake *wecomtest.Server
}

const (
	rigAdmin    = "campaign-crash-admin"
	rigWriteKey = "campaign-crash-key"
)

func (r *campaignRig) start() {
	r.p = startPlatform(r.t, r.env)
}

// api calls the management API as admin and decodes the answer into out.
func (r *campaignRig) api(method, path string, body, out any) {
	r.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, r.p.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+rigAdmin)
	req.Header.Set("Content-Type", "application/json")
	doJSON(r.t, http.DefaultClient, req, out)
}

// doJSON sends req and decodes its answer into out (unless nil); an
// error or an answer other than 2xx fails the test.
func doJSON(t *testing.T, hc *http.Client, req *http.Request, out any) {
	t.Helper()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s %s", req.Method, req.URL.Path, resp.Status, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v: %s", req.Method, req.URL.Path, err, raw)
		}
	}
}

func (r *campaignRig) count(q string, args ...any) int {
	r.t.Helper()
	var n uint64
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.db.Conn.QueryRow(ctx, strings.ReplaceAll(q, "{db}", "cdp"), args...).Scan(&n); err != nil {
		r.t.Fatalf("%s: %v", q, err)
	}
	return int(n)
}

// until polls cond every 20 ms until it holds or d passes.
func until(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *platform) child(t *testing.T) int {
	t.Helper()
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", p.cmd.Process.Pid))
	for _, f := range tasks {
		raw, _ := os.ReadFile(f)
		for _, s := range strings.Fields(string(raw)) {
			if n, err := strconv.Atoi(s); err == nil {
				return n
			}
		}
	}
	t.Fatalf("the platform has no engine child")
	return 0
}

// TestSIGKILLDuringWeComCampaignSendsEachCustomerOnce launches a WeCom
// campaign through the API of a real `cdp serve`, with WeCom answering
// slowly. During the sends the engine child is SIGKILLed, then the platform
// itself — while an add_msg_template call is in flight, so WeCom creates a
// task whose answer the platform never sees. After a restart every customer
// planned for treatment is in exactly one WeCom task, every send is
// recorded sent, and the campaign finishes. Then, on the same rig, a group
// mass message is killed in flight the same way (sigkillDuringGroupSends).
func TestSIGKILLDuringWeComCampaignSendsEachCustomerOnce(t *testing.T) {
	r := startLoadedRig(t, "wwcrashcorp", 11, 400)
	fake := r.fake
	chats := addCrashGroups(fake) // imported at the restart

	// Each add_msg_template answer takes 300 ms: the platform is killed
	// with calls in flight.
	camp, treat := launchSlowWeComCampaign(r.api, fake)
	senders := r.count("SELECT uniqExact(sender) FROM {db}.campaign_sends FINAL WHERE campaign_id = ? AND group = 'treatment'", camp)
	if treat < 100 || senders < 6 {
		t.Fatalf("%d treatment sends over %d staff members: too few to crash in the middle", treat, senders)
	}

	until(t, time.Minute, "two WeCom tasks", func() bool { return len(fake.Tasks()) >= 2 })
	if err := syscall.Kill(r.p.child(t), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	until(t, 2*time.Minute, "two more WeCom tasks after the engine restarted", func() bool { return len(fake.Tasks()) >= 4 })
	at := len(fake.Tasks())
	orphan := r.p.child(t)
	r.p.stop(syscall.SIGKILL)
	if at >= senders {
		t.Fatalf("all %d tasks were made before the platform was killed", at)
	}
	// The orphaned engine child sees its control pipe close and exits;
	// until it has, it holds the engine's port.
	until(t, time.Minute, "the orphaned engine child to exit", func() bool {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", orphan))
		// Gone, or a zombie nobody reaps (PID 1 of a container may not).
		return err != nil || strings.Contains(string(stat), ") Z ")
	})
	fake.Delay(wecomtest.PathAddMsgTemplate, 0)
	r.start()
	untilFinished(t, r.api, camp)

	per := customersOnce(t, fake)
	bySender := map[string]int{}
	for _, tk := range fake.Tasks() {
		bySender[tk.Sender]++
	}
	for s, n := range bySender {
		if n != 1 {
			t.Fatalf("staff member %s got %d tasks, want one (under 10,000 customers)", s, n)
		}
	}
	if len(per) != treat || len(bySender) != senders {
		t.Fatalf("%d customers in %d tasks; planned %d customers of %d staff members", len(per), len(bySender), treat, senders)
	}
	if sent := r.count("SELECT count() FROM {db}.campaign_sends FINAL WHERE campaign_id = ? AND state = 'sent'", camp); sent != treat {
		t.Fatalf("%d sends recorded sent, want %d", sent, treat)
	}
	if fake.Calls(wecomtest.PathGetGroupMsgList) == 0 {
		t.Fatal("the restart did not reconcile with WeCom's task list")
	}
	t.Logf("%d customers of %d staff members; %d tasks made when the platform was killed; %d list lookups",
		treat, senders, at, fake.Calls(wecomtest.PathGetGroupMsgList))
	sigkillDuringGroupSends(t, r, chats)
}

// startLoadedRig starts `cdp serve` on an embedded engine of its own, with
// WeCom pointed at a fake corp of generated households (seed) and the
// settings extra added, loads the households through the API and waits
// for their WeCom contacts in ClickHouse. The platform is stopped and its
// connection closed when the test ends.
func startLoadedRig(t *testing.T, corp string, seed uint64, households int, extra ...string) *campaignRig {
	const secret, token = "crash-secret", "crash-token"
	aesKey, fake, g, total, contacts := newFakeCorp(t, corp, secret, seed, households)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tcp := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	dataDir := t.TempDir()
	r := &campaignRig{t: t, fake: fake, env: append([]string{"CDP_DATA_DIR=" + dataDir, "CDP_ENGINE_TCP_PORT=" + tcp, "CDP_ENGINE_HTTP_PORT=0",
		"CDP_WRITE_KEY=" + rigWriteKey, "CDP_ADMIN_TOKEN=" + rigAdmin, "CDP_RATE_LIMIT_API=0",
		"CDP_WECOM_CORP_ID=" + corp, "CDP_WECOM_TOKEN=" + token, "CDP_WECOM_AES_KEY=" + aesKey, "CDP_WECOM_SECRET=" + secret,
		"CDP_WECOM_API_URL=" + fake.URL, "CDP_ALLOW_LOOPBACK_HTTP=true"}, extra...)}
	r.start()
	t.Cleanup(func() { r.p.stop(syscall.SIGTERM) })
	dsn, err := store.EngineDSN(dataDir, "127.0.0.1:"+tcp, "cdp")
	if err != nil {
		t.Fatal(err)
	}
	if r.db, err = store.Open(dsn, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.db.Close() })
	crypto, err := wecom.NewCrypto(token, aesKey, corp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Load(context.Background(), gen.Target{BaseURL: r.p.base, WriteKey: rigWriteKey, WeCom: crypto, AgentID: "1000002"}, total, nil); err != nil {
		t.Fatal(err)
	}
	until(t, 2*time.Minute, "the contacts in ClickHouse", func() bool {
		return r.count("SELECT count() FROM {db}.wecom_contact_events") >= contacts
	})
	return r
}

// newFakeCorp generates households of a WeCom corp and starts a fake
// WeCom (closed when the test ends) that knows their contacts, each a
// friend of the staff member who added them. It returns a random
// EncodingAESKey for the corp's callbacks, the fake, the generator and
// how many items and contact events it generates.
func newFakeCorp(t *testing.T, corp, secret string, seed uint64, households int) (aesKey string, fake *wecomtest.Server, g *gen.Generator, items int64, contacts int) {
	var key [32]byte
	rand.Read(key[:])
	aesKey = strings.TrimRight(base64.StdEncoding.EncodeToString(key[:]), "=")
	fake = wecomtest.New(corp, secret)
	t.Cleanup(fake.Close)
	g = gen.New(gen.Config{Seed: seed, Households: households, End: demoEnd, CorpID: corp})
	g.Each(func(it gen.Item) error {
		items++
		if it.Kind == gen.KindContact {
			contacts++
			if ev, err := wecom.ParseEvent(it.Data); err == nil && ev.ExternalUserID != "" {
				fake.AddContact(wecomtest.Contact{ExternalUserID: ev.ExternalUserID, FollowUser: ev.UserID, Name: "客户"})
			}
		}
		return nil
	})
	return aesKey, fake, g, items, contacts
}

// launchSlowWeComCampaign launches, through the management API, a WeCom
// campaign to every customer while the fake answers each add_msg_template
// after 300 ms, and returns its id and how many customers it planned for
// treatment.
func launchSlowWeComCampaign(api func(method, path string, body, out any), fake *wecomtest.Server) (string, int) {
	var seg, offer, camp struct {
		ID string `json:"id"`
	}
	api("POST", "/api/v1/segments", map[string]any{"name": "everyone", "rule": "bucket(100) >= 0"}, &seg)
	api("POST", "/api/v1/offers", map[string]any{"name": "低GI大米试用装", "skus": []string{"LGI-TRIAL"}, "link": "https://s.example/t"}, &offer)
	api("POST", "/api/v1/campaigns", map[string]any{"name": "企微试用", "offer_id": offer.ID, "segment_id": seg.ID, "channel": "wecom",
		"template": "您好，我是{{staff}}：{{offer}} {{link}}", "holdout_percent": 10}, &camp)
	fake.Delay(wecomtest.PathAddMsgTemplate, 300*time.Millisecond)
	var launched struct {
		Counts map[string]int `json:"counts"`
	}
	api("POST", "/api/v1/campaigns/"+camp.ID+"/launch", nil, &launched)
	return camp.ID, launched.Counts["treatment"]
}

// untilFinished waits up to 3 minutes for campaign id to finish.
func untilFinished(t *testing.T, api func(method, path string, body, out any), id string) {
	t.Helper()
	until(t, 3*time.Minute, "the campaign to finish", func() bool {
		var c struct {
			Status string `json:"status"`
		}
		api("GET", "/api/v1/campaigns/"+id, nil, &c)
		return c.Status == "finished"
	})
}

// customersOnce returns the WeCom tasks each customer is in, failing the
// test when a customer is in more than one: sent twice.
func customersOnce(t *testing.T, fake *wecomtest.Server) map[string]int {
	t.Helper()
	per := map[string]int{}
	for _, tk := range fake.Tasks() {
		for _, id := range tk.ExternalUserIDs {
			per[id]++
		}
	}
	for id, n := range per {
		if n != 1 {
			t.Fatalf("customer %s is in %d WeCom tasks: sent twice", id, n)
		}
	}
	return per
}
