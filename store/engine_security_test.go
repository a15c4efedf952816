//go:build linux

package store_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// The attacks below come from a process on the same machine (any user) or
// a web page in a browser there: they know the engine's loopback ports and
// nothing else.

// secretFile writes a file the engine must never read for anyone: it
// stands for <data-dir>/pii.key.
func secretFile(t *testing.T) (path, content string) {
	t.Helper()
	content = "pii-key-" + strings.Repeat("x", 16)
	path = filepath.Join(t.TempDir(), "pii.key")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, content
}

// TestEngineRefusesCredentiallessNativeQueries: a native client with the
// engine's built-in user and no password runs nothing, not even SELECT 1,
// and cannot close the listeners.
func TestEngineRefusesCredentiallessNativeQueries(t *testing.T) {
	native, _ := storetest.BIAddrs(t)
	secret, _ := secretFile(t)
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{native}, Auth: clickhouse.Auth{Username: "default"},
		DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{
		"SELECT 1",
		"SELECT name FROM system.databases",
		"SELECT file('" + secret + "')",
		"SELECT * FROM file('" + secret + "', 'LineAsString')",
		"SYSTEM STOP LISTEN QUERIES ALL",
		"CREATE DATABASE attacker",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := conn.Exec(ctx, q)
		cancel()
		if err == nil {
			t.Errorf("credential-less native %q ran", q)
		}
	}
}

// TestEngineRefusesCredentiallessHTTPFromAForeignPage: a page on
// http://evil.example POSTs text/plain (a "simple" request a browser sends
// without asking) to the engine's HTTP port: reading a file, dropping the
// platform's database, or anything at all is refused, and the database is
// still there afterwards.
func TestEngineRefusesCredentiallessHTTPFromAForeignPage(t *testing.T) {
	_, httpAddr := storetest.BIAddrs(t)
	db := storetest.Migrated(t)
	secret, content := secretFile(t)
	post := func(q string) (int, string) {
		req, err := http.NewRequest(http.MethodPost, "http://"+httpAddr+"/", strings.NewReader(q))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
		req.Header.Set("Origin", "http://evil.example")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, q := range []string{
		"SELECT 1",
		"SELECT * FROM file('" + secret + "', 'LineAsString')",
		"SELECT file('" + secret + "')",
		"SELECT count() FROM `" + db.Database + "`.events",
		"DROP DATABASE `" + db.Database + "`",
	} {
		code, body := post(q)
		if code == http.StatusOK {
			t.Errorf("credential-less POST %q answered 200: %.200s", q, body)
		}
		if strings.Contains(body, content) {
			t.Errorf("credential-less POST %q returned the secret file", q)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n uint64
	if err := db.Conn.QueryRow(ctx, "SELECT count() FROM system.databases WHERE name = ?", db.Database).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the platform's database is gone after the attack (%d, %v)", n, err)
	}
}

// TestEnginePlatformUserCannotReadFilesOrURLs: the platform's own
// connection (storetest.DB, as the platform connects) reads no file and
// fetches no URL, by table function or by the file() scalar function, so
// an SQL injection in the platform could not either. Nor can the BI user.
func TestEnginePlatformUserCannotReadFilesOrURLs(t *testing.T) {
	db := storetest.DB(t)
	secret, content := secretFile(t)
	_, httpAddr := storetest.BIAddrs(t)
	queries := []string{
		"SELECT * FROM file('" + secret + "', 'LineAsString')",
		"SELECT file('" + secret + "')",
		"SELECT * FROM url('http://" + httpAddr + "/ping', 'LineAsString')",
		"SELECT * FROM remote('" + httpAddr + "', system.one)",
		"SELECT * FROM executable('sh', 'LineAsString', 'x String')",
	}
	for _, q := range queries {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var out string
		err := db.Conn.QueryRow(ctx, q).Scan(&out)
		cancel()
		if err == nil || strings.Contains(out, content) {
			t.Errorf("platform user ran %q: %q", q, out)
		}
	}
	native, _ := storetest.BIAddrs(t)
	bi, err := clickhouse.Open(&clickhouse.Options{Addr: []string{native},
		Auth: clickhouse.Auth{Username: storetest.BIUser, Password: storetest.BIPassword}, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer bi.Close()
	for _, q := range queries[:2] {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var out string
		err := bi.QueryRow(ctx, q).Scan(&out)
		cancel()
		if err == nil || strings.Contains(out, content) {
			t.Errorf("BI user ran %q: %q", q, out)
		}
	}
}

// TestEngineChildEnvironmentHoldsNoSecret: the engine child does not
// inherit the platform's secrets; /proc/<pid>/environ is what a crash
// dump, a debugger or an engine bug would show.
func TestEngineChildEnvironmentHoldsNoSecret(t *testing.T) {
	secrets := map[string]string{
		"CDP_PII_KEY": "pii-secret-value", "CDP_ADMIN_TOKEN": "admin-secret-value", "CDP_WRITE_KEY": "write-secret-value",
		"CDP_WECOM_SECRET": "wecom-secret-value", "CDP_WECOM_AES_KEY": "wecom-aes-value", "CDP_WECOM_TOKEN": "wecom-token-value",
		"CDP_BI_PASSWORD": "bi-secret-value", "CDP_WEBHOOKS": "https://hooks.example/secret-path",
		"CDP_CLICKHOUSE_DSN": "clickhouse://u:dsn-secret@h/db",
	}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	dir := t.TempDir()
	e, err := storetest.StartEngine(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(e.PID()) + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	env := string(raw)
	for k, v := range secrets {
		if strings.Contains(env, k+"=") || strings.Contains(env, v) {
			t.Errorf("the engine child's environment holds %s", k)
		}
	}
	if !strings.Contains(env, "PATH=") {
		t.Errorf("the engine child's environment lost PATH: %q", env)
	}
	if pw, err := os.ReadFile(filepath.Join(dir, "clickhouse-password")); err == nil {
		if p := strings.TrimSpace(string(pw)); p == "" || strings.Contains(env, p) {
			t.Error("the engine child's environment holds the platform's engine password")
		}
	}
}

// TestEngineRestartsWhenItsListenersAreStopped: a client that gets one
// credential-less query in (the residue docs/architecture.md describes)
// can stop the listeners; the supervisor notices within UnhealthyAfter and
// restarts the engine, which serves the platform again.
func TestEngineRestartsWhenItsListenersAreStopped(t *testing.T) {
	opts := storetest.EngineOptions(t.TempDir())
	store.LetOneCredentiallessQueryIn(&opts)
	opts.HealthInterval, opts.UnhealthyAfter = 20*time.Millisecond, 300*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	e, err := store.StartEngine(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	pid := e.PID()
	resp, err := http.Post("http://"+e.HTTPAddr()+"/", "text/plain", strings.NewReader("SYSTEM STOP LISTEN QUERIES ALL"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the stop query was refused (%s): the test cannot stop the listeners", resp.Status)
	}
	waitFor(t, 2*time.Minute, func() bool { return e.Restarts() >= 1 && e.PID() != 0 && e.PID() != pid })
	db, err := store.Open(e.DSN("after_stop"), storetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.WaitReachable(ctx); err != nil {
		t.Fatalf("the restarted engine does not serve the platform: %v", err)
	}
}

// TestEnginePasswordIsGeneratedOnceAndKeptPrivate: the platform's engine
// password is made on the first start into a folder and file only its
// owner can read, kept across restarts (existing clients' DSNs stay
// valid), and made private again if someone loosened the file.
func TestEnginePasswordIsGeneratedOnceAndKeptPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	e, err := storetest.StartEngine(dir)
	if err != nil {
		t.Fatal(err)
	}
	first := e.DSN("cdp")
	e.Close()
	path := filepath.Join(dir, store.PlatformPasswordFile)
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != want {
			t.Fatalf("%s: %v %v, want mode %o", p, st.Mode(), err, want)
		}
	}
	raw, _ := os.ReadFile(path)
	if pw := strings.TrimSpace(string(raw)); len(pw) < 24 || !strings.Contains(first, pw) {
		t.Fatalf("password %q (DSN without it, or too short)", pw)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	e, err = storetest.StartEngine(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.DSN("cdp") != strings.Replace(first, port(first), port(e.DSN("cdp")), 1) {
		t.Fatal("the password changed across a restart")
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("password file left %v", st.Mode())
	}
	dsn, err := store.EngineDSN(dir, e.TCPAddr(), "cdp")
	if err != nil || dsn != e.DSN("cdp") {
		t.Fatalf("EngineDSN = %v; want the engine's own DSN", err)
	}
}

func port(dsn string) string {
	u, _ := url.Parse(dsn)
	return u.Port()
}

// TestEngineStartsOnAFreshHome: the engine creates
// $HOME/.local/state/clickhouse at start, and its sandbox lets it write
// only in its data folder. With the platform's HOME, a machine on which
// that folder did not exist yet (a fresh one: the README's first command)
// could not start the engine ("create_directories: Permission denied").
// Its HOME is now inside its data folder.
func TestEngineStartsOnAFreshHome(t *testing.T) {
	if os.Getenv("XDG_CACHE_HOME") == "" { // the engine library stays where it is
		cache, err := os.UserCacheDir()
		if err != nil {
			t.Skip("no cache folder for the engine library:", err)
		}
		t.Setenv("XDG_CACHE_HOME", cache)
	}
	home := t.TempDir() // empty: no .local, and outside the sandbox
	t.Setenv("HOME", home)
	dir := t.TempDir()
	e, err := storetest.StartEngine(dir)
	if err != nil {
		t.Fatalf("the engine does not start with a fresh HOME: %v", err)
	}
	defer e.Close()
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(e.PID()) + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "\x00HOME="+dir+"/") {
		t.Errorf("the engine child's HOME is not in its data folder %s: %q", dir, raw)
	}
	if _, err := os.Stat(filepath.Join(home, ".local")); err == nil {
		t.Error("the engine wrote into the platform's HOME")
	}
}
