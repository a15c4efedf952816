package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
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

// fixtureDB makes the fixtures' database; the one-engine/cluster
// comparison (cluster_test.go) points it at each in turn.
var fixtureDB = storetest.Migrated

func newFixtureTB(tb testing.TB, t *testing.T) *fixture {
	tb.Helper()
	db := fixtureDB(tb)
	creds := bootstrapped(tb, db)
	reg := prometheus.NewRegistry()
	store.NewMetrics(reg).EngineRestarts.Add(0)
	srv := api.New(api.Options{DB: db, Credentials: creds, Version: "test", Gatherer: reg, MetricsToken: metricsToken, Logger: storetest.Logger()})
	return &fixture{t: t, srv: srv, db: db}
}

// bootstrapped is db's credentials with the admin token and the test
// write key.
func bootstrapped(tb testing.TB, db *store.DB) *api.Credentials {
	tb.Helper()
	ctx := context.Background()
	creds, err := api.NewCredentials(ctx, db)
	if err != nil {
		tb.Fatal(err)
	}
	if err := creds.Bootstrap(ctx, adminToken, "test-write-key"); err != nil {
		tb.Fatal(err)
	}
	return creds
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

// deadClickHouse is a server whose pool points at a port nobody listens
// on (127.0.0.1:1), standing for a dead ClickHouse.
func deadClickHouse(t *testing.T, f *fixture, logger *slog.Logger) *api.Server {
	t.Helper()
	dead, err := store.Open("clickhouse://default@127.0.0.1:1/cdp?dial_timeout=200ms", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dead.Close() })
	creds, _ := api.NewCredentials(context.Background(), f.db)
	return api.New(api.Options{DB: dead, Credentials: creds, Logger: logger})
}

func TestHealthzIs503WhileClickHouseUnreachable(t *testing.T) {
	f := newFixture(t)
	srv := deadClickHouse(t, f, nil)
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	var h api.Health
	_ = json.Unmarshal(rec.Body.Bytes(), &h)
	if rec.Code != 503 || h.Status != "unavailable" || h.Error == "" {
		t.Fatalf("healthz %d %s, want 503 unavailable", rec.Code, rec.Body)
	}
}

// Who may call what. Every route the router has must fall into exactly one
// of these classes; a route added later that fits none fails
// TestEveryEndpointRefusesBadCredentials until its author decides.
var (
	// publicRoutes answer without a credential and reveal nothing personal.
	publicRoutes = map[string]bool{"GET /healthz": true, "GET /api/openapi.json": true,
		// The staff sidebar's sign-in: its credential is WeCom's OAuth2
		// code in the body, checked with WeCom.
		"POST /api/sidebar/session": true}
	// adminRoutes need the admin role: credentials, audit, the actions
	// that rewrite identities (unmerge, erasure) and revealing a phone.
	adminRoutes = regexp.MustCompile(`^(\w+ /api/v1/(tokens|write-keys|admin)(/.*)?|POST /api/v1/merges/:id/unmerge|DELETE /api/v1/profiles/:id|POST /api/v1/profiles/:id/reveal-phone|PUT /api/v1/demand/terms|POST /api/v1/demand/regressors)$`)
	// readOnlyPosts are POSTs that only read (a query too large for a
	// URL), open to analysts. Every other POST, PUT, PATCH and DELETE
	// needs at least the marketer role: the analyst role is read-only.
	readOnlyPosts = map[string]bool{
		"POST /api/v1/segments/estimate":  true,
		"POST /api/v1/segments/overlap":   true,
		"POST /api/v1/profiles/summaries": true,
		// Analyses (a definition too large for a URL); saving a funnel
		// step's people (funnel/segment) needs a marketer.
		"POST /api/v1/analytics/funnel":     true,
		"POST /api/v1/analytics/retention":  true,
		"POST /api/v1/analytics/repurchase": true,
		"POST /api/v1/analytics/ltv":        true,
		"POST /api/v1/analytics/lifecycle":  true,
		// A demand series (its definition in the body).
		"POST /api/v1/demand/series": true,
	}
	// clientIngestRoutes are the /v1 routes a client write key may call:
	// what an SDK in a web page or mini-program sends. Every other /v1
	// route (orders, imports) needs a server key.
	clientIngestRoutes = map[string]bool{
		"POST /v1/track": true, "POST /v1/identify": true, "POST /v1/page": true, "POST /v1/screen": true,
		"POST /v1/group": true, "POST /v1/alias": true, "POST /v1/batch": true,
	}
)

// neededRole is the weakest role that may call an /api/v1 route.
func neededRole(method, path string) api.Role {
	route := method + " " + path
	switch {
	case adminRoutes.MatchString(route):
		return api.RoleAdmin
	case method == "GET" || method == "HEAD" || readOnlyPosts[route]:
		return api.RoleAnalyst
	}
	return api.RoleMarketer
}

// TestEveryEndpointRefusesBadCredentials enumerates the router's routes
// (so routes added later are covered without editing this test), on a
// server with every part configured: each /api/v1 route refuses a missing
// token, a wrong one and a write key with 401, and every role weaker than
// the route needs with 403, while the roles that may call it get past the
// checks; each /v1 ingest route refuses a missing or wrong write key and
// an API token with 401, a client key with 403 unless it is one of
// clientIngestRoutes, and admits a server key; the WeCom callback refuses
// a bad signature.
func TestEveryEndpointRefusesBadCredentials(t *testing.T) {
	f := newIngestFixture(t, 0)
	keys := map[string]string{"client": f.createWriteKey("mini_program", "client"), "server": f.createWriteKey("tmall", "server")}
	tokens := map[api.Role]string{api.RoleAdmin: adminToken}
	for _, role := range []api.Role{api.RoleAnalyst, api.RoleMarketer} {
		var created struct{ Secret string }
		if rec := f.do("POST", "/api/v1/tokens", adminToken, map[string]string{"name": string(role), "role": string(role)}, &created); rec.Code != 201 {
			t.Fatalf("create %s token: %d %s", role, rec.Code, rec.Body)
		}
		tokens[role] = created.Secret
	}
	roles := []api.Role{api.RoleAnalyst, api.RoleMarketer, api.RoleAdmin}
	send := func(method, path string, auth func(*http.Request)) (*httptest.ResponseRecorder, api.Error) {
		req := httptest.NewRequest(method, path, strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		auth(req)
		rec := httptest.NewRecorder()
		f.srv.Handler().ServeHTTP(rec, req)
		var e api.Error
		_ = json.Unmarshal(rec.Body.Bytes(), &e)
		return rec, e
	}
	bearer := func(tok string) func(*http.Request) {
		return func(r *http.Request) {
			if tok != "" {
				r.Header.Set("Authorization", "Bearer "+tok)
			}
		}
	}
	basic := func(key string) func(*http.Request) {
		return func(r *http.Request) {
			if key != "" {
				r.SetBasicAuth(key, "")
			}
		}
	}
	classes := map[string]int{}
	for _, r := range f.srv.Routes() {
		route := r.Method + " " + r.Path
		path := regexp.MustCompile(`:\w+`).ReplaceAllString(r.Path, "1")
		switch {
		case publicRoutes[route]:
			classes["public"]++
		case strings.HasPrefix(r.Path, "/api/v1/"):
			classes["api"]++
			for name, auth := range map[string]func(*http.Request){"no token": bearer(""), "a wrong token": bearer("wrong-token"),
				"a write key as token": bearer(writeKey), "the admin token as Basic user": basic(adminToken)} {
				if rec, e := send(r.Method, path, auth); rec.Code != 401 || e.Code != api.CodeUnauthorized {
					t.Errorf("%s with %s: %d %s, want 401 unauthorized", route, name, rec.Code, rec.Body)
				}
			}
			need := neededRole(r.Method, r.Path)
			for _, role := range roles {
				rec, e := send(r.Method, path, bearer(tokens[role]))
				switch {
				case !role.Allows(need) && (rec.Code != 403 || e.Code != api.CodeForbidden):
					t.Errorf("%s as %s: %d %s, want 403 (the route needs %s)", route, role, rec.Code, rec.Body, need)
				case role.Allows(need) && (rec.Code == 401 || rec.Code == 403):
					t.Errorf("%s as %s: %d %s, but %s may call it", route, role, rec.Code, rec.Body, role)
				}
			}
		case strings.HasPrefix(r.Path, "/v1/"):
			classes["ingest"]++
			for name, auth := range map[string]func(*http.Request){"no write key": basic(""), "a wrong write key": basic("wrong-key"),
				"an API token as write key": basic(adminToken), "a write key as bearer token": bearer(writeKey)} {
				if rec, e := send(r.Method, path, auth); rec.Code != 401 || e.Code != api.CodeUnauthorized {
					t.Errorf("%s with %s: %d %s, want 401 unauthorized", route, name, rec.Code, rec.Body)
				}
			}
			for _, scope := range []string{"client", "server"} {
				rec, e := send(r.Method, path, basic(keys[scope]))
				allowed := scope == "server" || clientIngestRoutes[route]
				switch {
				case !allowed && (rec.Code != 403 || e.Code != api.CodeForbidden || !strings.Contains(e.Message, "scope "+scope)):
					t.Errorf("%s with a %s key: %d %s, want 403 naming the scope (add the route to clientIngestRoutes if SDKs may call it)", route, scope, rec.Code, rec.Body)
				case allowed && (rec.Code == 401 || rec.Code == 403):
					t.Errorf("%s with a %s key: %d %s, but a %s key may call it", route, scope, rec.Code, rec.Body, scope)
				}
			}
		case strings.HasPrefix(r.Path, "/api/sidebar/"):
			// The staff sidebar: a sidebar session (POST /api/sidebar/session),
			// never an API token or a write key.
			classes["sidebar"]++
			for name, auth := range map[string]func(*http.Request){"no session": bearer(""), "a wrong session": bearer("cdp_sb_wrong"),
				"the admin token": bearer(adminToken), "a write key": bearer(writeKey)} {
				if rec, e := send(r.Method, path, auth); rec.Code != 401 || e.Code != api.CodeUnauthorized {
					t.Errorf("%s with %s: %d %s, want 401 unauthorized", route, name, rec.Code, rec.Body)
				}
			}
		case route == "GET /metrics":
			// Scrapers authenticate with the metrics token, nothing else.
			classes["metrics"]++
			for name, auth := range map[string]func(*http.Request){"no token": bearer(""), "a wrong token": bearer("wrong-token"),
				"the admin token": bearer(adminToken), "a write key": basic(writeKey)} {
				if rec, e := send(r.Method, path, auth); rec.Code != 401 || e.Code != api.CodeUnauthorized {
					t.Errorf("%s with %s: %d %s, want 401 unauthorized", route, name, rec.Code, rec.Body)
				}
			}
		case r.Path == "/wecom/callback":
			// WeCom authenticates by signature, not by key.
			classes["wecom"]++
			q := "?msg_signature=bad&timestamp=1&nonce=n&echostr=x"
			if rec, e := send(r.Method, path+q, basic(writeKey)); rec.Code != 401 || e.Code != api.CodeUnauthorized {
				t.Errorf("%s with a bad signature: %d %s, want 401", route, rec.Code, rec.Body)
			}
		default:
			t.Errorf("%s: no credential class; add it to publicRoutes or put it under /api/v1 or /v1", route)
		}
	}
	t.Logf("checked routes: %v", classes)
	if classes["api"] < 30 || classes["ingest"] < 10 || classes["wecom"] != 2 || classes["metrics"] != 1 || classes["sidebar"] != 2 || classes["public"] != len(publicRoutes) {
		t.Fatalf("checked %v routes; the fixture should route every part", classes)
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
		{"/api/v1/write-keys", `{"name":"x","source":"tmall","scope":"admin"}`, "scope", 400},
		{"/api/v1/write-keys", `{"name":"x","source":"tmall","scope":"Server"}`, "scope", 400},
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
	rec := f.do("GET", "/metrics", metricsToken, nil, nil)
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
