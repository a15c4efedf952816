package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/granarycdp/cdp/store/storetest"
)

func TestMain(m *testing.M) {
	// The crash test runs the real binary's main in a child process.
	if args := os.Getenv("CDP_TEST_RUN_MAIN"); args != "" {
		os.Args = append([]string{"cdp"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	storetest.Main(m)
}

// syncBuffer is a bytes.Buffer safe for the server's logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestHelpExplainsEverySetting(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"help"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	var c config
	for _, s := range c.settings() {
		if !strings.Contains(out.String(), "--"+s.flag) || !strings.Contains(out.String(), s.env) {
			t.Errorf("help lacks --%s / %s", s.flag, s.env)
		}
	}
	for _, cmd := range commands {
		if !strings.Contains(out.String(), cmd.name) {
			t.Errorf("help lacks command %s", cmd.name)
		}
	}
}

func TestEnvironmentSetsAndFlagOverrides(t *testing.T) {
	t.Setenv("CDP_HTTP_ADDR", "127.0.0.1:9999")
	t.Setenv("CDP_ENGINE_TCP_PORT", "19000")
	var c config
	if _, err := c.parse("serve", []string{"--engine-tcp-port=29000"}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "127.0.0.1:9999" || c.EngineTCPPort != 29000 || c.EngineHTTPPort != 8123 {
		t.Fatalf("got %+v", c)
	}
	t.Setenv("CDP_ENGINE_HTTP_PORT", "eighty")
	if _, err := c.parse("serve", nil, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "CDP_ENGINE_HTTP_PORT") {
		t.Fatalf("bad number: %v, want an error naming CDP_ENGINE_HTTP_PORT", err)
	}
}

func TestUnknownCommandFails(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"srve"}, &out, &out); err == nil || !strings.Contains(err.Error(), "srve") {
		t.Fatalf("got %v", err)
	}
}

func TestBusyEnginePortNamesTheSetting(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, p, _ := net.SplitHostPort(l.Addr().String())
	var out bytes.Buffer
	err = run(context.Background(), []string{"migrate", "--data-dir", t.TempDir(), "--engine-tcp-port", p, "--engine-http-port", "0"}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "CDP_ENGINE_TCP_PORT") || !strings.Contains(err.Error(), p) {
		t.Fatalf("got %v, want an error naming port %s and CDP_ENGINE_TCP_PORT", err, p)
	}
}

// TestServeEmbeddedEndToEnd runs `cdp serve` on the embedded engine, checks
// /healthz and the first admin token, then stops it with the context (as
// SIGINT does) and runs it again on the same data.
func TestServeEmbeddedEndToEnd(t *testing.T) {
	dir := t.TempDir()
	args := []string{"serve", "--data-dir", dir, "--http-addr", "127.0.0.1:0",
		"--engine-tcp-port", "0", "--engine-http-port", "0"}
	for round := 1; round <= 2; round++ {
		ctx, cancel := context.WithCancel(context.Background())
		var logs syncBuffer
		done := make(chan error, 1)
		go func() { done <- run(ctx, args, &logs, &logs) }()

		base := waitForURL(t, &logs, done)
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		var h struct {
			Status            string `json:"status"`
			ClickHouseVersion string `json:"clickhouse_version"`
			SchemaVersion     int    `json:"schema_version"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&h)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(h.ClickHouseVersion, "26.") || h.SchemaVersion < 1 {
			t.Fatalf("round %d healthz %d %+v", round, resp.StatusCode, h)
		}
		token, err := os.ReadFile(filepath.Join(dir, "admin-token"))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", base+"/api/v1/whoami", nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("round %d: first admin token refused: %d", round, resp.StatusCode)
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("round %d: serve: %v\n%s", round, err, logs.String())
			}
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop within 30 s of cancellation")
		}
	}
}

var apiURL = regexp.MustCompile(`api=(http://127\.0\.0\.1:\d+)/api/v1`)

func waitForURL(t *testing.T, logs *syncBuffer, done chan error) string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if m := apiURL.FindStringSubmatch(logs.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended early: %v\n%s", err, logs.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("serve printed no URL:\n%s", logs.String())
	return ""
}
