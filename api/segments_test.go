package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/granarycdp/cdp/api"
	"github.com/granarycdp/cdp/campaigns"
	"github.com/granarycdp/cdp/segments"
)

// lowGIPopulation ingests three persons through the API: one who watched
// two 控糖 videos to the end, one who asked about 血糖, one who did
// neither; the first two live in Shanghai with over 300 yuan of orders.
func (f *ingestFixture) lowGIPopulation() {
	order := func(id, buyer, city, amount string) string {
		return fmt.Sprintf(`{"channel":"tmall","order_id":%q,"status":"completed","ordered_at":"2026-10-01T10:00:00+08:00","amount":%q,"city":%q,
			"buyer":{"member_no":%q},"lines":[{"sku":"WC-5","product_name":"五常大米 5kg","category":"五常大米","quantity":5,"unit_price":"69.00"}]}`, id, amount, city, buyer)
	}
	f.ingestAll([]string{
		track("a1", "video_complete", map[string]string{"member_no": "A"}, `{"topic":"控糖","completion_ratio":1}`),
		track("a2", "video_complete", map[string]string{"member_no": "A"}, `{"topic":"控糖","completion_ratio":0.98}`),
		track("c1", "video_play", map[string]string{"member_no": "C"}, `{"topic":"减脂"}`),
		track("b0", "like", map[string]string{"member_no": "B", "wecom_external_userid": "wmB"}, `{}`),
	}, []string{order("o-a", "A", "上海", "345.00"), order("o-b", "B", "上海", "345.00"), order("o-c", "C", "上海", "345.00")})
	chat := `{"msgid":"chat-b","action":"send","from":"wmB","tolist":["staff"],"roomid":"","msgtime":` +
		fmt.Sprint(time.Now().Add(-48*time.Hour).UnixMilli()) + `,"msgtype":"text","text":{"content":"我最近血糖有点高"}}`
	if rec := f.post("/v1/import/wecom-archive", writeKey, []byte(chat), nil); rec.Code != 200 {
		f.t.Fatalf("chat: %d %s", rec.Code, rec.Body)
	}
	f.sync()
}

const flagship = `(did("video_complete", 30, {"topic": "控糖"}) >= 2 || chat("血糖", 30) || lapsed("低GI大米", 60))
  && city_tier == 1 && ltv > 300`

func TestEstimateCountsTheFlagshipAudience(t *testing.T) {
	f := newIngestFixture(t, 0)
	f.lowGIPopulation()
	var est segments.Estimate
	if rec := f.do("POST", "/api/v1/segments/estimate", adminToken, map[string]any{"rule": flagship}, &est); rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	a, _ := f.graph.Lookup(identityID("member_no", "A"))
	b, _ := f.graph.Lookup(identityID("member_no", "B"))
	if est.Count != 2 || fmt.Sprint(est.Sample) != fmt.Sprint([]uint32{min(a, b), max(a, b)}) {
		t.Fatalf("estimate %+v, want persons %d and %d", est, a, b)
	}
	var e api.Error
	rec := f.do("POST", "/api/v1/segments/estimate", adminToken, map[string]any{"rule": "did(\"video_complete\", 30) >= 2 &&\n  city_tier == \"one\""}, &e)
	if rec.Code != 400 || e.Code != "invalid_rule" || e.Line != 2 || e.Column == 0 || e.Field != "rule" {
		t.Fatalf("bad rule: %d %+v", rec.Code, e)
	}
}

func TestSegmentLifecycleAndExport(t *testing.T) {
	f := newIngestFixture(t, 0)
	f.lowGIPopulation()
	var seg segments.Definition
	if rec := f.do("POST", "/api/v1/segments", adminToken, map[string]any{"name": "高潜控糖人群", "rule": flagship}, &seg); rec.Code != 201 {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	if seg.Size != 2 || seg.Version != 1 || !seg.Live {
		t.Fatalf("created %+v", seg)
	}
	if rec := f.do("PUT", "/api/v1/segments/"+seg.ID, adminToken, map[string]any{"name": "上海高价值", "rule": `city == "上海" && ltv > 300`}, &seg); rec.Code != 200 || seg.Version != 2 || seg.Size != 3 {
		t.Fatalf("update: %d %+v", rec.Code, seg)
	}
	// A restarted store finds the definition and its membership snapshot.
	reloaded, err := segments.NewStore(context.Background(), f.db, segments.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if d, err := reloaded.Get(seg.ID); err != nil || d.Version != 2 || d.Size != 3 {
		t.Fatalf("reloaded %+v %v", d, err)
	}
	var versions struct{ Items []segments.Definition }
	if f.do("GET", "/api/v1/segments/"+seg.ID+"/versions", adminToken, nil, &versions); len(versions.Items) != 2 || versions.Items[1].Rule != flagship {
		t.Fatalf("versions %+v", versions)
	}
	var members struct {
		Total uint64
		Items []uint32
	}
	if f.do("GET", "/api/v1/segments/"+seg.ID+"/members?limit=2", adminToken, nil, &members); members.Total != 3 || len(members.Items) != 2 {
		t.Fatalf("members %+v", members)
	}
	rec := f.do("GET", "/api/v1/segments/"+seg.ID+"/members?format=csv", adminToken, nil, nil)
	if lines := strings.Split(strings.TrimSpace(rec.Body.String()), "\n"); len(lines) != 4 || lines[0] != "person_id" {
		t.Fatalf("csv %q", rec.Body)
	}
	// A rule that refers to itself is refused.
	var e api.Error
	if rec := f.do("PUT", "/api/v1/segments/"+seg.ID, adminToken, map[string]any{"name": "x", "rule": `in_segment("` + seg.ID + `")`}, &e); rec.Code != 400 {
		t.Fatalf("cycle: %d %+v", rec.Code, e)
	}
	// An analyst may read but not change segments.
	var analyst struct{ Secret string }
	f.do("POST", "/api/v1/tokens", adminToken, map[string]string{"name": "bi", "role": "analyst"}, &analyst)
	if rec := f.do("DELETE", "/api/v1/segments/"+seg.ID, analyst.Secret, nil, nil); rec.Code != 403 {
		t.Fatalf("analyst delete: %d", rec.Code)
	}
	if rec := f.do("DELETE", "/api/v1/segments/"+seg.ID, adminToken, nil, nil); rec.Code != 204 {
		t.Fatalf("delete: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do("GET", "/api/v1/segments/"+seg.ID, adminToken, nil, nil); rec.Code != 404 {
		t.Fatalf("after delete: %d", rec.Code)
	}
}

// TestLiveSegmentFollowsArrivingRecords creates a live segment, then sends
// an event that qualifies a new person: the membership changes without a
// recompute.
func TestLiveSegmentFollowsArrivingRecords(t *testing.T) {
	f := newIngestFixture(t, 0)
	f.lowGIPopulation()
	var seg segments.Definition
	rule := `did("search", 30, {"keyword": "低GI大米"}) >= 1`
	if rec := f.do("POST", "/api/v1/segments", adminToken, map[string]any{"name": "搜索低GI", "rule": rule}, &seg); rec.Code != 201 || seg.Size != 0 {
		t.Fatalf("create: %d %+v", rec.Code, seg)
	}
	changes := make(chan segments.Change, 4)
	f.segs.OnChange = func(c segments.Change) { changes <- c }
	f.ingestAll([]string{track("s1", "search", map[string]string{"member_no": "C"}, `{"keyword":"低GI大米"}`)}, nil)
	c, _ := f.graph.Lookup(identityID("member_no", "C"))
	select {
	case ch := <-changes:
		if ch.Segment != seg.ID || fmt.Sprint(ch.Entered) != fmt.Sprint([]uint32{c}) {
			t.Fatalf("change %+v, want person %d entering", ch, c)
		}
	case <-time.After(time.Minute):
		t.Fatal("the live segment did not change within a minute")
	}
	if d, _ := f.segs.Get(seg.ID); d.Size != 1 {
		t.Fatalf("size %d after the live update", d.Size)
	}
	var pr struct {
		Segments []segments.Definition
	}
	f.do("GET", fmt.Sprintf("/api/v1/profiles/%d", c), adminToken, nil, &pr)
	if len(pr.Segments) != 1 || pr.Segments[0].ID != seg.ID {
		t.Fatalf("profile segments %+v", pr.Segments)
	}
}

// TestCampaignThroughTheAPI: offer, campaign on a segment, preview,
// launch on the outbox channel, results; an analyst may read results but
// not launch.
func TestCampaignThroughTheAPI(t *testing.T) {
	f := newIngestFixture(t, 0)
	f.lowGIPopulation()
	var seg segments.Definition
	f.do("POST", "/api/v1/segments", adminToken, map[string]any{"name": "上海高价值", "rule": `city == "上海" && ltv > 300`}, &seg)
	var offer struct{ ID string }
	if rec := f.do("POST", "/api/v1/offers", adminToken, map[string]any{"name": "低GI大米试用装", "categories": []string{"低GI大米"}}, &offer); rec.Code != 200 {
		t.Fatalf("offer: %d %s", rec.Code, rec.Body)
	}
	var e api.Error
	if rec := f.do("POST", "/api/v1/campaigns", adminToken, map[string]any{"name": "x", "offer_id": offer.ID, "segment_id": seg.ID, "channel": "sms", "template": "hi"}, &e); rec.Code != 400 || e.Field != "channel" {
		t.Fatalf("bad channel: %d %+v", rec.Code, e)
	}
	var camp struct{ ID, Status string }
	body := map[string]any{"name": "试用装", "offer_id": offer.ID, "segment_id": seg.ID, "channel": "outbox", "template": "{{name}}您好，{{offer}}", "holdout_percent": 0}
	if rec := f.do("POST", "/api/v1/campaigns", adminToken, body, &camp); rec.Code != 200 || camp.Status != "draft" {
		t.Fatalf("campaign: %d %s", rec.Code, rec.Body)
	}
	var preview struct {
		Counts  map[string]int
		Samples []string
	}
	if rec := f.do("POST", "/api/v1/campaigns/"+camp.ID+"/preview", adminToken, nil, &preview); rec.Code != 200 || preview.Counts["treatment"] != 3 || len(preview.Samples) == 0 {
		t.Fatalf("preview: %d %s", rec.Code, rec.Body)
	}
	var analyst struct{ Secret string }
	f.do("POST", "/api/v1/tokens", adminToken, map[string]string{"name": "bi", "role": "analyst"}, &analyst)
	if rec := f.do("POST", "/api/v1/campaigns/"+camp.ID+"/launch", analyst.Secret, nil, nil); rec.Code != 403 {
		t.Fatalf("analyst launch: %d", rec.Code)
	}
	if rec := f.do("POST", "/api/v1/campaigns/"+camp.ID+"/launch", adminToken, nil, nil); rec.Code != 200 {
		t.Fatalf("launch: %d %s", rec.Code, rec.Body)
	}
	var results campaigns.Uplift
	if rec := f.do("GET", "/api/v1/campaigns/"+camp.ID+"/results", analyst.Secret, nil, &results); rec.Code != 200 || results.Treatment.Persons != 3 {
		t.Fatalf("results: %d %s", rec.Code, rec.Body)
	}
	var pr struct {
		Campaigns []campaigns.Received
	}
	a, _ := f.graph.Lookup(identityID("member_no", "A"))
	f.do("GET", fmt.Sprintf("/api/v1/profiles/%d", a), adminToken, nil, &pr)
	if len(pr.Campaigns) != 1 || pr.Campaigns[0].CampaignID != camp.ID || pr.Campaigns[0].State != "sent" || pr.Campaigns[0].Name != "试用装" {
		t.Fatalf("profile campaigns %+v", pr.Campaigns)
	}
	if rec := f.do("POST", "/api/v1/campaigns/"+camp.ID+"/launch", adminToken, nil, &e); rec.Code != 400 || e.Field != "status" {
		t.Fatalf("second launch: %d %+v", rec.Code, e)
	}
}
