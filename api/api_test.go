package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/granarycdp/cdp/api"
	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

const adminToken = "test-admin-token"

type fixture struct {
	t   *testing.T // for request helpers; a zero T in benchmarks
	srv *api.Server
	db  *store.DB
}

func newFixture(t *testing.T) *fixture { return newFixtureTB(t, t) }

func newFixtureTB(tb testing.TB, t *testing.T) *fixture {
	tb.Helper()
	db := storetest.Migrated(tb)
	ctx := context.Background()
	creds, err := api.NewCredentials(ctx, db)
	if err != nil {
		tb.Fatal(err)
	}
	if err := creds.Bootstrap(ctx, adminToken, "test-write-key"); err != nil {
		tb.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	store.NewMetrics(reg).EngineRestarts.Add(0)
	srv := api.New(api.Options{DB: db, Credentials: creds, Version: "test", Gatherer: reg, Logger: storetest.Logger()})
	return &fixture{t: t, srv: srv, db: db}
}

// do sends a request and decodes a JSON answer into out (when not nil).
func (f *fixture) do(method, path, token string, body any, out any) *httptest.ResponseRecorder {
	f.t.Helper()
	var rd *bytes.Reader
	switch b := body.(type) {
	case nil:
		rd = bytes.NewReader(nil)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(rec, req)
	if out != nil && rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			f.t.Fatalf("%s %s: answer is not JSON: %v: %s", method, path, err, rec.Body)
		}
	}
	return rec
}

func TestHealthzReportsVersions(t *testing.T) {
	f := newFixture(t)
	var h api.Health
	rec := f.do("GET", "/healthz", "", nil, &h)
	if rec.Code != 200 || h.Status != "ok" || !strings.HasPrefix(h.ClickHouseVersion, "26.") || h.SchemaVersion < 1 {
		t.Fatalf("healthz %d %+v", rec.Code, h)
	}
}

func TestHealthzIs503WhileClickHouseUnreachable(t *testing.T) {
	f := newFixture(t)
	// A pool pointed at a port nobody listens on stands for a dead server.
	dead, err := store.Open("clickhouse://default@127.0.0.1:1/cdp?dial_timeout=200ms", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	creds, _ := api.NewCredentials(context.Background(), f.db)
	srv := api.New(api.Options{DB: dead, Credentials: creds})
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	var h api.Health
	_ = json.Unmarshal(rec.Body.Bytes(), &h)
	if rec.Code != 503 || h.Status != "unavailable" || h.Error == "" {
		t.Fatalf("healthz %d %s, want 503 unavailable", rec.Code, rec.Body)
	}
}

// TestEveryAPIEndpointRefusesBadCredentials walks all /api/v1 routes: no
// token and a wrong token get 401 JSON; an analyst gets 403 on admin routes.
func TestEveryAPIEndpointRefusesBadCredentials(t *testing.T) {
	f := newFixture(t)
	var analyst struct{ Secret string }
	if rec := f.do("POST", "/api/v1/tokens", adminToken, map[string]string{"name": "bi", "role": "analyst"}, &analyst); rec.Code != 201 {
		t.Fatalf("create analyst token: %d %s", rec.Code, rec.Body)
	}
	adminOnly := regexp.MustCompile(`^/api/v1/(tokens|write-keys)`)
	checked := 0
	for _, r := range f.srv.Routes() {
		if !strings.HasPrefix(r.Path, "/api/v1/") {
			continue
		}
		path := strings.ReplaceAll(r.Path, ":id", "x")
		for _, token := range []string{"", "wrong-token"} {
			var e api.Error
			rec := f.do(r.Method, path, token, nil, &e)
			if rec.Code != 401 || e.Code != api.CodeUnauthorized {
				t.Errorf("%s %s with token %q: %d %s, want 401 unauthorized", r.Method, path, token, rec.Code, rec.Body)
			}
		}
		if adminOnly.MatchString(r.Path) {
			var e api.Error
			if rec := f.do(r.Method, path, analyst.Secret, nil, &e); rec.Code != 403 || e.Code != api.CodeForbidden {
				t.Errorf("%s %s as analyst: %d %s, want 403", r.Method, path, rec.Code, rec.Body)
			}
		}
		checked++
	}
	if checked < 7 {
		t.Fatalf("checked %d routes, want all /api/v1 routes", checked)
	}
}

func TestTokenLifecycle(t *testing.T) {
	f := newFixture(t)
	var created struct {
		ID, Role, Secret string
	}
	if rec := f.do("POST", "/api/v1/tokens", adminToken, map[string]string{"name": "运营小王", "role": "marketer"}, &created); rec.Code != 201 {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	var who api.Principal
	if rec := f.do("GET", "/api/v1/whoami", created.Secret, nil, &who); rec.Code != 200 || who.ID != created.ID || who.Role != api.RoleMarketer {
		t.Fatalf("whoami: %d %+v", rec.Code, who)
	}
	var stored uint64
	err := f.db.Conn.QueryRow(context.Background(), "SELECT count() FROM "+f.db.Table("api_tokens")+" WHERE position(concat(id, name, toString(token_hash), created_by), ?) > 0", created.Secret).Scan(&stored)
	if err != nil || stored != 0 {
		t.Fatalf("secret found in storage (%d, %v); only its hash may be stored", stored, err)
	}
	if rec := f.do("DELETE", "/api/v1/tokens/"+created.ID, adminToken, nil, nil); rec.Code != 204 {
		t.Fatalf("revoke: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do("GET", "/api/v1/whoami", created.Secret, nil, nil); rec.Code != 401 {
		t.Fatalf("revoked token: %d, want 401", rec.Code)
	}
	if rec := f.do("DELETE", "/api/v1/tokens/"+created.ID, adminToken, nil, nil); rec.Code != 404 {
		t.Fatalf("second revoke: %d, want 404", rec.Code)
	}
	var actions uint64
	err = f.db.Conn.QueryRow(context.Background(), "SELECT count() FROM "+f.db.Table("audit_log")+" WHERE object_id = ? AND actor = 'tok_bootstrap'", created.ID).Scan(&actions)
	if err != nil || actions != 2 {
		t.Fatalf("audit log has %d actions on the token (%v), want create and revoke", actions, err)
	}
}

func TestBadInputNamesTheField(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		path, body, field string
		status            int
	}{
		{"/api/v1/tokens", `{"name":"x","role":"owner"}`, "role", 400},
		{"/api/v1/tokens", `{"role":"admin"}`, "name", 400},
		{"/api/v1/tokens", `{"name":"x","role":"admin","colour":"red"}`, "colour", 400},
		{"/api/v1/tokens", `{"name":5,"role":"admin"}`, "name", 400},
		{"/api/v1/tokens", `{"name":"x",`, "", 400},
		{"/api/v1/tokens", ``, "", 400},
		{"/api/v1/write-keys", `{"name":"x","source":"Tmall Shop"}`, "source", 400},
		{"/api/v1/tokens", `{"name":"` + strings.Repeat("x", 2<<20) + `"}`, "", 413},
	} {
		var e api.Error
		rec := f.do("POST", tc.path, adminToken, tc.body, &e)
		if rec.Code != tc.status || e.Field != tc.field || e.Message == "" || e.Code == "" {
			t.Errorf("POST %s %.40q: %d %+v, want %d naming field %q", tc.path, tc.body, rec.Code, e, tc.status, tc.field)
		}
	}
}

func TestBootstrapTokenCanBeReplaced(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	creds, err := api.NewCredentials(ctx, f.db)
	if err != nil {
		t.Fatal(err)
	}
	if err := creds.Bootstrap(ctx, "new-admin-token", ""); err != nil {
		t.Fatal(err)
	}
	if _, ok := creds.LookupToken(ctx, adminToken); ok {
		t.Fatal("old bootstrap token still valid after CDP_ADMIN_TOKEN changed")
	}
	if p, ok := creds.LookupToken(ctx, "new-admin-token"); !ok || p.Role != api.RoleAdmin {
		t.Fatalf("new bootstrap token: %+v %v", p, ok)
	}
	if p, ok := creds.LookupWriteKey(ctx, "test-write-key"); !ok || p.Source != "default" {
		t.Fatalf("write key lost: %+v %v", p, ok)
	}
}

// TestOpenAPIDocumentMatchesRoutes keeps /api/openapi.json in step with the
// router: every route is documented and every documented path is routed.
func TestOpenAPIDocumentMatchesRoutes(t *testing.T) {
	f := newIngestFixture(t, 0) // every route, ingest and WeCom included
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if rec := f.do("GET", "/api/openapi.json", "", nil, &doc); rec.Code != 200 {
		t.Fatalf("openapi.json: %d", rec.Code)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	param := regexp.MustCompile(`:(\w+)`)
	routed := map[string]bool{}
	for _, r := range f.srv.Routes() {
		routed[r.Method+" "+param.ReplaceAllString(r.Path, "{$1}")] = true
	}
	var missing, extra []string
	for k := range routed {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !routed[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing)+len(extra) > 0 {
		t.Fatalf("routes not documented: %v\ndocumented but not routed: %v", missing, extra)
	}
}

func TestMetricsExposeStoreCollectors(t *testing.T) {
	f := newFixture(t)
	rec := f.do("GET", "/metrics", "", nil, nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "cdp_engine_restarts_total") {
		t.Fatalf("metrics: %d\n%s", rec.Code, rec.Body)
	}
}

func TestUnknownPathIsJSON404(t *testing.T) {
	f := newFixture(t)
	var e api.Error
	if rec := f.do("GET", "/api/v1/nothing-here", adminToken, nil, &e); rec.Code != 404 || e.Code != api.CodeNotFound {
		t.Fatalf("%d %+v", rec.Code, e)
	}
}
