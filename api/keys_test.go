package api_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/granarycdp/cdp/api"
	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/store/storetest"
)

// createWriteKey creates a write key through the API with the given scope
// ("" leaves it out) and returns its secret.
func (f *fixture) createWriteKey(source, scope string) string {
	f.t.Helper()
	body := map[string]string{"name": source + " key", "source": source}
	if scope != "" {
		body["scope"] = scope
	}
	var created struct{ Secret, Scope string }
	if rec := f.do("POST", "/api/v1/write-keys", adminToken, body, &created); rec.Code != 201 || created.Secret == "" {
		f.t.Fatalf("create %s write key: %d %s", scope, rec.Code, rec.Body)
	}
	return created.Secret
}

// count answers a count() query.
func (f *fixture) count(query string) uint64 {
	f.t.Helper()
	var n uint64
	if err := f.db.Conn.QueryRow(context.Background(), query).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// refusedForScope checks that an answer is 403 naming the key's scope.
func refusedForScope(t *testing.T, what string, rec *httptest.ResponseRecorder) {
	t.Helper()
	var e api.Error
	_ = json.Unmarshal(rec.Body.Bytes(), &e)
	if rec.Code != 403 || e.Code != api.CodeForbidden || !strings.Contains(e.Message, "scope client") || !strings.Contains(e.Message, "scope server") {
		t.Fatalf("%s with a client key: %d %s, want 403 naming the key's scope and the one needed", what, rec.Code, rec.Body)
	}
}

// A mini-program ships its write key inside client code. With it, an
// attacker posts an order in a victim's phone: a fake purchase that would
// feed segments, RFM and campaign conversions.
func TestClientKeyCannotPostOrders(t *testing.T) {
	f := newIngestFixture(t, 0)
	client := f.createWriteKey("mini_program", "client")
	order := `{"channel":"mini_program","order_id":"FAKE-1","status":"completed","ordered_at":"2026-10-01T10:00:00+08:00","amount":"9999","buyer":{"phone":"13900001111"}}`
	refusedForScope(t, "POST /v1/orders", f.post("/v1/orders", client, []byte(order), nil))
	f.sync()
	if n := f.count("SELECT count() FROM " + f.db.Table("orders") + " WHERE order_id = 'FAKE-1'"); n != 0 {
		t.Fatalf("%d orders stored from a client key", n)
	}
	// The same order from a server key is stored: the refusal is the
	// key's scope, not the body.
	if rec := f.post("/v1/orders", f.createWriteKey("mini_program", "server"), []byte(order), nil); rec.Code != 200 {
		t.Fatalf("server key: %d %s", rec.Code, rec.Body)
	}
	f.sync()
	if n := f.count("SELECT count() FROM " + f.db.Table("orders") + " WHERE order_id = 'FAKE-1'"); n != 1 {
		t.Fatalf("%d orders stored from a server key, want 1", n)
	}
}

// The same attacker uploads an order export.
func TestClientKeyCannotImportOrders(t *testing.T) {
	f := newIngestFixture(t, 0)
	client := f.createWriteKey("mini_program", "client")
	line := `{"channel":"pos","order_id":"FAKE-2","status":"completed","ordered_at":"2026-10-01T10:00:00+08:00","amount":"59","buyer":{"phone":"13900001111"}}` + "\n"
	refusedForScope(t, "POST /v1/import/orders", f.post("/v1/import/orders", client, []byte(line), nil))
	f.sync()
	if n := f.count("SELECT count() FROM " + f.db.Table("orders") + " WHERE order_id = 'FAKE-2'"); n != 0 {
		t.Fatalf("%d orders imported with a client key", n)
	}
	if rec := f.post("/v1/import/orders", writeKey, []byte(line), nil); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"accepted":1`) {
		t.Fatalf("server key: %d %s", rec.Code, rec.Body)
	}
	// Event files are an import too: a client sends events one by one.
	refusedForScope(t, "POST /v1/import/events", f.post("/v1/import/events?event=video_complete", client, []byte(`{"userId":"u1"}`+"\n"), nil))
	// Nor may it preview one: a preview parses the upload and answers its
	// rows as they would be stored, an import's first step.
	refusedForScope(t, "POST /v1/import/preview", f.post("/v1/import/preview?kind=orders", client, []byte(line), nil))
}

// The same attacker uploads a chat archive in which every customer writes
// 退订, opting the brand's whole WeCom audience out.
func TestClientKeyCannotImportChatArchive(t *testing.T) {
	f := newIngestFixture(t, 0)
	client := f.createWriteKey("mini_program", "client")
	chat := `{"msgid":"fake-m1","action":"send","from":"wmEXT001","tolist":["zhangsan"],"roomid":"","msgtime":1732500000000,"msgtype":"text","text":{"content":"退订"}}` + "\n"
	refusedForScope(t, "POST /v1/import/wecom-archive", f.post("/v1/import/wecom-archive", client, []byte(chat), nil))
	f.sync()
	if n := f.count("SELECT count() FROM " + f.db.Table("wecom_messages") + " WHERE msgid = 'fake-m1'"); n != 0 {
		t.Fatalf("%d chat messages imported with a client key", n)
	}
	if rec := f.post("/v1/import/wecom-archive", writeKey, []byte(chat), nil); rec.Code != 200 {
		t.Fatalf("server key: %d %s", rec.Code, rec.Body)
	}
	f.sync()
	if n := f.count("SELECT count() FROM " + f.db.Table("wecom_messages") + " WHERE msgid = 'fake-m1'"); n != 1 {
		t.Fatalf("%d chat messages imported with a server key, want 1", n)
	}
}

// What a client key is for still works, and a key created without a scope
// is a client key: the least privilege.
func TestClientKeySendsBehaviourAndIsTheDefault(t *testing.T) {
	f := newIngestFixture(t, 0)
	var created struct{ ID, Scope string }
	if rec := f.do("POST", "/api/v1/write-keys", adminToken, map[string]string{"name": "小程序 SDK", "source": "mini_program"}, &created); rec.Code != 201 || created.Scope != "client" {
		t.Fatalf("create without scope: %d %s, want 201 with scope client", rec.Code, rec.Body)
	}
	var list struct{ Items []struct{ ID, Scope string } }
	f.do("GET", "/api/v1/write-keys", adminToken, nil, &list)
	scopes := map[string]string{}
	for _, p := range list.Items {
		scopes[p.ID] = p.Scope
	}
	if scopes[created.ID] != "client" || scopes["wk_bootstrap"] != "server" {
		t.Fatalf("listed scopes %v, want %s client and wk_bootstrap (CDP_WRITE_KEY) server", scopes, created.ID)
	}
	client := f.createWriteKey("mini_program", "")
	if rec := f.post("/v1/track", client, []byte(`{"userId":"u1","event":"video_complete","properties":{"topic":"控糖"}}`), nil); rec.Code != 200 {
		t.Fatalf("track with a client key: %d %s", rec.Code, rec.Body)
	}
	refusedForScope(t, "POST /v1/orders", f.post("/v1/orders", client, []byte(`{}`), nil))
}

// Keys created before scopes existed keep working for what they did: they
// become server keys, so an order sync running on a server does not stop
// at the upgrade.
func TestExistingKeysMigrateToServer(t *testing.T) {
	db := storetest.DB(t)
	ctx := context.Background()
	target := schema.Target{Database: db.Database}
	// The write_keys table as released in migration 1, and a key in it.
	for _, stmt := range append(schema.Bootstrap(target), schema.All()[0].Statements(target)...) {
		if err := db.Conn.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	err := db.Conn.Exec(ctx, "INSERT INTO "+db.Table("write_keys")+
		" (id, name, source, key_hash, created_at, created_by, revoked, version) VALUES ('wk_old', 'Tmall order sync', 'tmall', ?, now64(), 'tok_x', 0, 1)",
		api.Hash("old-key"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := schema.Migrate(ctx, db.Conn, target, storetest.Logger()); err != nil {
		t.Fatal(err)
	}
	creds, err := api.NewCredentials(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if err := creds.Bootstrap(ctx, adminToken, ""); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, db: db, srv: api.New(api.Options{DB: db, Credentials: creds, Logger: storetest.Logger()})}
	var list struct {
		Items []struct{ ID, Scope string }
	}
	if rec := f.do("GET", "/api/v1/write-keys", adminToken, nil, &list); rec.Code != 200 || len(list.Items) != 1 || list.Items[0].ID != "wk_old" || list.Items[0].Scope != "server" {
		t.Fatalf("write keys after the migration: %d %s, want wk_old with scope server", rec.Code, rec.Body)
	}
	// Revoking copies the row (SELECT *): it works on a migrated row.
	if rec := f.do("DELETE", "/api/v1/write-keys/wk_old", adminToken, nil, nil); rec.Code != 204 {
		t.Fatalf("revoke: %d %s", rec.Code, rec.Body)
	}
	if _, ok := creds.LookupWriteKey(ctx, "old-key"); ok {
		t.Fatal("revoked migrated key still valid")
	}
}
