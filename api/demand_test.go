package api_test

import (
	"bytes"
	"mime/multipart"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/granarycdp/cdp/api"
	"github.com/granarycdp/cdp/store/storetest"
)

// TestDemandRoutes reads and replaces the dictionary (an analyst may
// not), reads a series the materialized view summed, and refuses bad
// input with 400 naming the field, writing nothing.
func TestDemandRoutes(t *testing.T) {
	f := newFixture(t)
	at := time.Date(2026, 5, 2, 3, 0, 0, 0, time.UTC)
	storetest.Insert(t, f.db, "events", "message_id, type, event, ts, received_at, source, properties, context",
		[]any{"d1", "track", "search", at, at, "douyin", `{"keyword":"高油酸花生油哪家好"}`, `{"location":{"region":"四川","city":"成都"}}`},
		[]any{"d2", "track", "search", at, at, "douyin", `{"keyword":"五常大米"}`, `{"location":{"region":"四川","city":"成都"}}`})

	var terms api.DemandTerms
	if rec := f.do("GET", "/api/v1/demand/terms", adminToken, nil, &terms); rec.Code != 200 || len(terms.Terms) == 0 {
		t.Fatalf("terms: %d %s", rec.Code, rec.Body)
	}
	var series api.DemandSeries
	q := map[string]any{"class": "高油酸花生油", "city": "成都", "granularity": "day", "from": at.AddDate(0, 0, -1), "to": at.AddDate(0, 0, 1)}
	if rec := f.do("POST", "/api/v1/demand/series", adminToken, q, &series); rec.Code != 200 || len(series.Points) != 1 || series.Points[0].Search != 1 {
		t.Fatalf("series: %d %s", rec.Code, rec.Body)
	}

	for _, c := range []struct {
		method, path string
		body         any
		field        string
	}{
		{"PUT", "/api/v1/demand/terms", map[string]any{"terms": []map[string]string{{"term": "花生油", "match": "word", "class": "油"}}}, "terms[0].match"},
		{"PUT", "/api/v1/demand/terms", map[string]any{"terms": []map[string]string{{"term": "", "match": "text", "class": "油"}}}, "terms[0].term"},
		{"POST", "/api/v1/demand/series", map[string]any{"class": "油", "granularity": "week", "from": at, "to": at.Add(time.Hour)}, "granularity"},
		{"POST", "/api/v1/demand/series", map[string]any{"granularity": "day", "from": at, "to": at.Add(time.Hour)}, "class"},
		{"GET", "/api/v1/demand/alerts?days=0", nil, "days"},
	} {
		var e api.Error
		if rec := f.do(c.method, c.path, adminToken, c.body, &e); rec.Code != 400 || e.Field != c.field {
			t.Errorf("%s %s: %d field %q, want 400 naming %s", c.method, c.path, rec.Code, e.Field, c.field)
		}
	}
	var after api.DemandTerms
	f.do("GET", "/api/v1/demand/terms", adminToken, nil, &after)
	if len(after.Terms) != len(terms.Terms) {
		t.Errorf("a refused dictionary changed it: %d terms, were %d", len(after.Terms), len(terms.Terms))
	}

	_, analyst := (&ingestFixture{fixture: f}).token(api.RoleAnalyst)
	if rec := f.do("PUT", "/api/v1/demand/terms", analyst, map[string]any{"terms": []any{}}, nil); rec.Code != 403 {
		t.Errorf("an analyst replaced the dictionary: %d", rec.Code)
	}
	next := map[string]any{"terms": []map[string]string{{"term": "花生油", "match": "text", "class": "花生油"}}}
	if rec := f.do("PUT", "/api/v1/demand/terms", adminToken, next, &after); rec.Code != 200 || len(after.Terms) != 1 {
		t.Errorf("replace: %d %s", rec.Code, rec.Body)
	}
	var fc api.DemandForecasts
	if rec := f.do("GET", "/api/v1/demand/forecast?class=高油酸花生油", adminToken, nil, &fc); rec.Code != 200 || fc.Forecasts == nil {
		t.Errorf("forecast: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do("GET", "/api/v1/demand/forecast?level=province&class=高油酸花生油", adminToken, nil, &fc); rec.Code != 200 || fc.Forecasts == nil {
		t.Errorf("province forecast: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do("GET", "/api/v1/demand/forecast?level=district", adminToken, nil, nil); rec.Code != 400 || !strings.Contains(rec.Body.String(), `"field":"level"`) {
		t.Errorf("a level that is not one: %d %s", rec.Code, rec.Body)
	}
	var alerts api.DemandAlerts
	if rec := f.do("GET", "/api/v1/demand/alerts", adminToken, nil, &alerts); rec.Code != 200 || alerts.Alerts == nil {
		t.Errorf("alerts: %d %s", rec.Code, rec.Body)
	}
}

// TestDemandRegressorRoutes imports a regressor CSV as the body and again
// as a multipart upload (the values replaced, not doubled), lists what is
// loaded, and refuses a file with one bad line with 400 naming the line
// and column, writing nothing of it; an analyst may list but not import.
func TestDemandRegressorRoutes(t *testing.T) {
	f := newFixture(t)
	file := "name,date,province,city,class,value\npromo,2026-12-12,四川,,高油酸花生油,1\npromo,2026-12-13,四川,,高油酸花生油,1\nrain_mm,2026-12-12,四川,成都,,12.5\n"
	var got api.DemandRegressors
	if rec := f.do("POST", "/api/v1/demand/regressors", adminToken, file, &got); rec.Code != 200 || got.Imported != 3 || len(got.Regressors) != 2 {
		t.Fatalf("import: %d %s", rec.Code, rec.Body)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, _ := mw.CreateFormFile("file", "regressors.csv")
	part.Write([]byte(file))
	mw.Close()
	req := httptest.NewRequest("POST", "/api/v1/demand/regressors", &body)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	rec := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("multipart import: %d %s", rec.Code, rec.Body)
	}
	bad := "name,date,province,value\nstock,2026-12-14,四川,1\nstock,2026-13-01,四川,1\n"
	if rec := f.do("POST", "/api/v1/demand/regressors", adminToken, bad, nil); rec.Code != 400 || !strings.Contains(rec.Body.String(), `"field":"line 3: date"`) {
		t.Errorf("a bad date: %d %s", rec.Code, rec.Body)
	}
	_, analyst := (&ingestFixture{fixture: f}).token(api.RoleAnalyst)
	if rec := f.do("POST", "/api/v1/demand/regressors", analyst, file, nil); rec.Code != 403 {
		t.Errorf("an analyst imported: %d", rec.Code)
	}
	if rec := f.do("GET", "/api/v1/demand/regressors", analyst, nil, &got); rec.Code != 200 || len(got.Regressors) != 2 {
		t.Fatalf("list: %d %s", rec.Code, rec.Body)
	}
	promo := got.Regressors[0]
	if promo.Name != "promo" || promo.Rows != 2 || promo.From != "2026-12-12" || promo.To != "2026-12-13" || promo.Regions != 1 || got.Regressors[1].Rows != 1 {
		t.Errorf("loaded after two imports and a refused one: %+v", got.Regressors)
	}
}
