package api_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/granarycdp/cdp/api"
	"github.com/granarycdp/cdp/journeys"
)

// TestJourneyAPI: a bad definition answers 400 with the field naming the
// node and writes nothing; a good one is created (201), edited into
// version 2, launched, listed with its versions and results; an unknown
// journey is 404 and a viewer (analyst) may not create one.
func TestJourneyAPI(t *testing.T) {
	f := newConsentFixture(t)
	var offer struct{ ID string }
	if rec := f.do("POST", "/api/v1/offers", f.marketer, map[string]any{"name": "试用装", "categories": []string{"低GI大米"}}, &offer); rec.Code != 200 {
		t.Fatalf("offer: %d %s", rec.Code, rec.Body)
	}
	def := func(next string) map[string]any {
		return map[string]any{"name": "复购提醒",
			"entry":    map[string]any{"type": "segment", "segment_id": f.segment, "next": "hello"},
			"settings": map[string]any{"goal_offer_id": offer.ID, "holdout_percent": 10},
			"nodes": []map[string]any{
				{"id": "hello", "type": "send", "next": next, "send": map[string]any{"channel": "outbox", "template": "{{offer}}", "offer_id": offer.ID}},
				{"id": "buy", "type": "wait_for", "wait_for": map[string]any{"order": map[string]any{"categories": []string{"低GI大米"}}, "timeout": "3d", "happened": "out", "timed_out": "hello"}},
				{"id": "out", "type": "exit"},
			}}
	}
	var e api.Error
	if rec := f.do("POST", "/api/v1/journeys", f.marketer, def("buy"), &e); rec.Code != 400 || e.Field != "nodes.buy.wait_for.timed_out" {
		t.Fatalf("a cycle: %d %s, want 400 at nodes.buy.wait_for.timed_out", rec.Code, rec.Body)
	}
	if rec := f.do("POST", "/api/v1/journeys", f.marketer, def("gone"), &e); rec.Code != 400 || e.Field != "nodes.hello.next" {
		t.Fatalf("a dangling edge: %d %s, want 400 at nodes.hello.next", rec.Code, rec.Body)
	}
	var list struct{ Items []journeys.Journey }
	if f.do("GET", "/api/v1/journeys", f.marketer, nil, &list); len(list.Items) != 0 {
		t.Fatalf("refused definitions left %d journeys", len(list.Items))
	}
	good := def("buy")
	good["nodes"].([]map[string]any)[1]["wait_for"].(map[string]any)["timed_out"] = "out"
	var j journeys.Journey
	if rec := f.do("POST", "/api/v1/journeys", f.marketer, good, &j); rec.Code != 201 || j.Version != 1 || j.Status != "draft" {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do("PUT", "/api/v1/journeys/"+j.ID, f.marketer, good, &j); rec.Code != 200 || j.Version != 2 {
		t.Fatalf("edit: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do("POST", "/api/v1/journeys/"+j.ID+"/launch", f.marketer, nil, &j); rec.Code != 200 || j.Status != "running" {
		t.Fatalf("launch: %d %s", rec.Code, rec.Body)
	}
	var versions struct{ Items []journeys.Version }
	if f.do("GET", "/api/v1/journeys/"+j.ID+"/versions", f.marketer, nil, &versions); len(versions.Items) != 2 {
		t.Fatalf("%d versions, want 2", len(versions.Items))
	}
	var res journeys.Results
	if rec := f.do("GET", "/api/v1/journeys/"+j.ID+"/results", f.marketer, nil, &res); rec.Code != 200 || res.Nodes["buy"] == nil {
		t.Fatalf("results: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do("POST", "/api/v1/journeys/"+j.ID+"/migrate", f.marketer, map[string]any{"from_version": 1, "to_version": 2, "nodes": map[string]string{"buy": "nowhere"}}, &e); rec.Code != 400 || e.Field != "nodes.buy" {
		t.Fatalf("a bad mapping: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do("GET", "/api/v1/journeys/jrn_nope", f.marketer, nil, &e); rec.Code != 404 {
		t.Fatalf("unknown journey: %d %s", rec.Code, rec.Body)
	}
	var an struct{ Secret string }
	f.do("POST", "/api/v1/tokens", adminToken, map[string]string{"name": "分析", "role": "analyst"}, &an)
	if rec := f.do("POST", "/api/v1/journeys", an.Secret, good, &e); rec.Code != 403 {
		t.Fatalf("an analyst created a journey: %d", rec.Code)
	}
}

// TestJourneyWakesSoonAfterTheAcknowledgement measures, through the real
// ingest path (collector, spool, pipeline, ClickHouse, AfterCommit) and the
// journeys' loop, the time from a search event's acknowledgement to the
// move of the run waiting for it down "happened", for each of the three
// persons; each must be under 3 s here (the goal, under 1 s, is the
// figure docs/journeys.md reports; this machine is shared). The pipeline
// lingers 5 ms here, 200 ms in production.
func TestJourneyWakesSoonAfterTheAcknowledgement(t *testing.T) {
	f := newConsentFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { f.jrn.Run(ctx, journeys.RunOptions{}) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	var offer struct{ ID string }
	f.do("POST", "/api/v1/offers", f.marketer, map[string]any{"name": "试用装", "categories": []string{"低GI大米"}}, &offer)
	var j journeys.Journey
	if rec := f.do("POST", "/api/v1/journeys", f.marketer, map[string]any{"name": "搜索即跟进",
		"entry":    map[string]any{"type": "segment", "segment_id": f.segment, "include_current": true, "next": "look"},
		"settings": map[string]any{"goal_offer_id": offer.ID},
		"nodes": []map[string]any{
			{"id": "look", "type": "wait_for", "wait_for": map[string]any{"event": map[string]any{"name": "search"}, "timeout": "1h", "happened": "hit", "timed_out": "out"}},
			{"id": "hit", "type": "exit"}, {"id": "out", "type": "exit"}}}, &j); rec.Code != 201 {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	f.do("POST", "/api/v1/journeys/"+j.ID+"/launch", f.marketer, nil, nil)
	place := func(p uint32) journeys.Place {
		var out struct{ Items []journeys.Place }
		f.do("GET", fmt.Sprintf("/api/v1/profiles/%d/journeys", p), f.marketer, nil, &out)
		if len(out.Items) == 0 {
			return journeys.Place{}
		}
		return out.Items[0]
	}
	waitFor := func(what string, d time.Duration, cond func() bool) time.Duration {
		began := time.Now()
		for !cond() {
			if time.Since(began) > d {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
		return time.Since(began)
	}
	for _, p := range f.persons {
		waitFor("the runs to wait", time.Minute, func() bool { return place(p).State == "waiting" })
	}
	var lat []time.Duration
	for i, p := range f.persons {
		ev := fmt.Sprintf(`{"type":"track","messageId":"s%d","event":"search","properties":{"keyword":"低GI"},"context":{"externalIds":[{"type":"member_no","id":"M-%d"}]},"timestamp":%q}`,
			i, i+1, time.Now().UTC().Format(time.RFC3339Nano))
		if rec := f.post("/v1/track", writeKey, []byte(ev), nil); rec.Code != 200 {
			t.Fatalf("track: %d %s", rec.Code, rec.Body)
		}
		took := waitFor("the run to wake", 10*time.Second, func() bool { pl := place(p); return pl.State == "done" && pl.Node == "hit" })
		if took > 3*time.Second {
			t.Fatalf("person %d woke %v after the acknowledgement", p, took)
		}
		lat = append(lat, took)
	}
	t.Logf("acknowledgement to the run's move down happened: %v", lat)
}
