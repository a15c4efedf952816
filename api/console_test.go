package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/granarycdp/cdp/api"
	"github.com/granarycdp/cdp/campaigns"
	"github.com/granarycdp/cdp/segments"
)

func TestConsoleIsServedOutsideTheAPIAndAPIPathsStayJSON(t *testing.T) {
	f := newFixture(t)
	// /wecom is the console's WeCom page (its tab in the query), opened
	// from a link or a reload; only the paths under /wecom/ are WeCom's.
	for _, path := range []string{"/", "/segments/new", "/profiles/42", "/campaigns/cmp_1/results", "/wecom", "/wecom?tab=qr"} {
		rec := f.do("GET", path, "", nil, nil)
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") ||
			!strings.Contains(rec.Body.String(), `<div id="root">`) || rec.Header().Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s: %d %s %q, want the console's index.html", path, rec.Code, rec.Header().Get("Content-Type"), rec.Body.String()[:min(80, rec.Body.Len())])
		}
	}
	for _, tc := range []struct{ method, path string }{
		{"GET", "/api/v1/nothing-here"}, {"GET", "/api/nothing"}, {"GET", "/v1/nothing"}, {"POST", "/segments/new"}, {"GET", "/wecom/x"}, {"GET", "/wecom/"}, {"GET", "/api"},
	} {
		var e api.Error
		if rec := f.do(tc.method, tc.path, adminToken, nil, &e); rec.Code != 404 || e.Code != api.CodeNotFound {
			t.Errorf("%s %s: %d %+v, want the JSON 404", tc.method, tc.path, rec.Code, e)
		}
	}
	if rec := f.do("GET", "/assets/missing-1234.js", "", nil, nil); rec.Code != 404 {
		t.Errorf("missing asset: %d, want 404", rec.Code)
	}
}

func TestConsoleOverviewCountsPersonsRecordsTodayAndCampaigns(t *testing.T) {
	f := newIngestFixture(t, 0)
	f.lowGIPopulation()
	var o api.Overview
	if rec := f.do("GET", "/api/v1/overview", adminToken, nil, &o); rec.Code != 200 {
		t.Fatalf("overview: %d %s", rec.Code, rec.Body)
	}
	today := map[string]uint64{}
	for _, c := range o.RecordsToday {
		today[c.Kind+"/"+c.Channel] += c.Count
	}
	// Four events, three Tmall orders and one chat arrived just now.
	if o.Persons != 3 || today["event/default"] != 4 || today["order/tmall"] != 3 || today["chat/wecom"] != 1 {
		t.Fatalf("overview: %d persons, today %v", o.Persons, today)
	}
	// The chat, two days ago, is in the 30-day series under WeCom.
	var wecom30 uint64
	for _, d := range o.Last30Days {
		if d.Channel == "wecom" {
			wecom30 += d.Count
		}
	}
	if wecom30 != 1 {
		t.Errorf("last 30 days: %d WeCom records, want the chat: %+v", wecom30, o.Last30Days)
	}
	if o.Identifiers < 4 || o.Campaigns == nil || o.ActiveCampaigns == nil {
		t.Errorf("overview %+v", o)
	}
}

// TestConsoleResultsOverTimeAgreeWithResults launches a campaign, lets one
// recipient buy the offer, and checks the daily series ends where the
// results endpoint stands.
func TestConsoleResultsOverTimeAgreeWithResults(t *testing.T) {
	f := newIngestFixture(t, 0)
	f.lowGIPopulation()
	var seg segments.Definition
	f.do("POST", "/api/v1/segments", adminToken, map[string]any{"name": "上海高价值", "rule": `city == "上海" && ltv > 300`}, &seg)
	var offer campaigns.Offer
	f.do("POST", "/api/v1/offers", adminToken, map[string]any{"name": "低GI大米试用装", "categories": []string{"低GI大米"}}, &offer)
	var camp campaigns.Campaign
	body := map[string]any{"name": "试用装", "offer_id": offer.ID, "segment_id": seg.ID, "channel": "outbox", "template": "{{name}}您好", "holdout_percent": 0}
	if rec := f.do("POST", "/api/v1/campaigns", adminToken, body, &camp); rec.Code != 200 {
		t.Fatalf("campaign: %d %s", rec.Code, rec.Body)
	}
	var notLaunched campaigns.ResultsOverTime
	if rec := f.do("GET", "/api/v1/campaigns/"+camp.ID+"/results/daily", adminToken, nil, &notLaunched); rec.Code != 200 || len(notLaunched.Days) != 0 {
		t.Fatalf("draft: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do("POST", "/api/v1/campaigns/"+camp.ID+"/launch", adminToken, nil, nil); rec.Code != 200 {
		t.Fatalf("launch: %d %s", rec.Code, rec.Body)
	}
	f.ingestAll(nil, []string{fmt.Sprintf(`{"channel":"pos","order_id":"P-1","status":"completed","ordered_at":%q,"amount":"19.90","city":"上海",
		"buyer":{"member_no":"A"},"lines":[{"sku":"LGI-500","product_name":"低GI大米试用装","category":"低GI大米","quantity":1,"unit_price":"19.90"}]}`,
		time.Now().Add(time.Second).Format(time.RFC3339))})
	var u campaigns.Uplift
	f.do("GET", "/api/v1/campaigns/"+camp.ID+"/results", adminToken, nil, &u)
	var r campaigns.ResultsOverTime
	if rec := f.do("GET", "/api/v1/campaigns/"+camp.ID+"/results/daily", adminToken, nil, &r); rec.Code != 200 || len(r.Days) == 0 {
		t.Fatalf("daily: %d %s", rec.Code, rec.Body)
	}
	last := r.Days[len(r.Days)-1]
	if u.Treatment.Converted != 1 || r.Treatment != u.Treatment.Persons || last.TreatmentRate != u.Treatment.Rate || last.TreatmentConversions != 1 {
		t.Fatalf("daily %+v disagrees with results %+v", r, u)
	}
	if rec := f.do("GET", "/api/v1/campaigns/cmp_nope/results/daily", adminToken, nil, nil); rec.Code != 404 {
		t.Fatalf("unknown campaign: %d", rec.Code)
	}
}

func TestConsolePersonSummariesMaskPhones(t *testing.T) {
	f := newIngestFixture(t, 0)
	f.ingestAll([]string{
		`{"type":"identify","messageId":"i1","userId":"m-1","traits":{"phone":"13812345678","name":"王阿姨"},"context":{"externalIds":[{"type":"member_no","id":"M1"}]}}`,
	}, []string{`{"channel":"tmall","order_id":"T-1","status":"completed","ordered_at":"2026-10-01T10:00:00+08:00","amount":"79.80","city":"杭州",
		"buyer":{"phone":"13812345678"},"lines":[{"sku":"LGI-2.5","product_name":"低GI大米 2.5kg","category":"低GI大米","quantity":2,"unit_price":"39.90"}]}`})
	pr := f.profileOf("phone", "13812345678")
	var got struct{ Items []api.PersonSummary }
	rec := f.do("POST", "/api/v1/profiles/summaries", adminToken, map[string]any{"ids": []uint32{pr.PersonID, pr.PersonID}}, &got)
	if rec.Code != 200 || len(got.Items) != 1 {
		t.Fatalf("summaries: %d %s", rec.Code, rec.Body)
	}
	s := got.Items[0]
	if strings.Contains(rec.Body.String(), "13812345678") || s.Phone != "*******5678" || s.City != "杭州" || s.Orders != 1 || s.Spend != 79.8 {
		t.Fatalf("summary %+v (%s)", s, rec.Body)
	}
	var e api.Error
	if rec := f.do("POST", "/api/v1/profiles/summaries", adminToken, map[string]any{"ids": make([]int, 101)}, &e); rec.Code != 400 || e.Field != "ids" {
		t.Fatalf("101 ids: %d %+v", rec.Code, e)
	}
}

func TestConsoleSettingsNeverShowSecrets(t *testing.T) {
	f := newIngestFixture(t, 0)
	var analyst struct{ Secret string }
	f.do("POST", "/api/v1/tokens", adminToken, map[string]string{"name": "bi", "role": "analyst"}, &analyst)
	var w api.WeComSettings
	rec := f.do("GET", "/api/v1/settings/wecom", analyst.Secret, nil, &w)
	if rec.Code != 200 || !w.Configured || !w.ContactAPI || w.CorpID == corpID || !strings.HasPrefix(w.CorpID, corpID[:4]) || len(w.SettingVariables) == 0 {
		t.Fatalf("wecom settings: %d %+v", rec.Code, w)
	}
	for _, secret := range []string{cbToken, cbAESKey, cbSecret, corpID} {
		if strings.Contains(rec.Body.String(), secret) {
			t.Errorf("settings show %q: %s", secret, rec.Body)
		}
	}
	var unconfigured api.WeComSettings
	if rec := newFixture(t).do("GET", "/api/v1/settings/wecom", adminToken, nil, &unconfigured); rec.Code != 200 || unconfigured.Configured {
		t.Fatalf("without WeCom: %d %+v", rec.Code, unconfigured)
	}
	var tags struct{ Items []api.SensitiveTag }
	if rec := f.do("GET", "/api/v1/settings/sensitive-tags", analyst.Secret, nil, &tags); rec.Code != 200 || len(tags.Items) < len(campaigns.SensitiveTerms) || tags.Items[0].Tag != campaigns.SensitiveTerms[0] {
		t.Fatalf("sensitive tags: %d %+v", rec.Code, tags)
	}
}

// TestConsoleChannelSettingsNameTargetsButNeverTheirURLs: the campaign
// editor offers the configured robots and webhooks by name; an analyst may
// read them, and no URL, robot key or webhook secret is ever in the answer.
func TestConsoleChannelSettingsNameTargetsButNeverTheirURLs(t *testing.T) {
	f := newIngestFixture(t, 0)
	var none api.ChannelSettings
	rec := f.do("GET", "/api/v1/settings/channels", adminToken, nil, &none)
	if rec.Code != 200 || none.WeCom || none.WeComDailyCap != 1 || none.Robots == nil || len(none.Robots) != 0 || none.Webhooks == nil || len(none.Webhooks) != 0 {
		t.Fatalf("no channels configured: %d %s", rec.Code, rec.Body)
	}
	const robotKey, hookURL, hookSecret = "robot-key-5f3a9c", "https://sms.example.cn/hook-path", "hook-secret-77d1"
	f.camps.Channels = &campaigns.Channels{WeCom: f.wc.Client, WeComDailyCap: 3,
		Robots:   map[string]string{"华东门店群": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=" + robotKey, "会员福利群": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=other"},
		Webhooks: map[string]campaigns.Webhook{"sms": {URL: hookURL, Secret: hookSecret}}}
	var analyst struct{ Secret string }
	f.do("POST", "/api/v1/tokens", adminToken, map[string]string{"name": "bi", "role": "analyst"}, &analyst)
	var got api.ChannelSettings
	rec = f.do("GET", "/api/v1/settings/channels", analyst.Secret, nil, &got)
	if rec.Code != 200 || !got.WeCom || got.WeComDailyCap != 3 || strings.Join(got.Robots, ",") != "会员福利群,华东门店群" || strings.Join(got.Webhooks, ",") != "sms" {
		t.Fatalf("channel settings: %d %s", rec.Code, rec.Body)
	}
	for _, secret := range []string{robotKey, "qyapi", "key=", hookURL, "sms.example", hookSecret, cbSecret} {
		if strings.Contains(rec.Body.String(), secret) {
			t.Errorf("channel settings show %q: %s", secret, rec.Body)
		}
	}
}
