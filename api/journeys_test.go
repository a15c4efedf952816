package api_test

import (
	"testing"

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
