package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/granarycdp/cdp/store"
)

// TestEngineCommandPointsToThePasswordFile: `cdp engine` tells how to
// connect as the platform's engine user without printing the password,
// which is in <data-dir>/clickhouse-password; with it the engine answers,
// without it (the built-in user) it does not.
func TestEngineCommandPointsToThePasswordFile(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, logs syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"engine", "--data-dir", dir, "--engine-tcp-port", "0", "--engine-http-port", "0"}, &out, &logs)
	}()
	defer func() {
		cancel()
		<-done
	}()
	native := regexp.MustCompile(`native: (127\.0\.0\.1:\d+)`)
	waitFor(t, 2*time.Minute, "the engine's connection details", func() bool {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("cdp engine ended: %v\n%s", err, logs.String())
		default:
		}
		return native.MatchString(out.String()) && strings.Contains(out.String(), "DSN:")
	})
	passFile := filepath.Join(dir, store.PlatformPasswordFile)
	raw, err := os.ReadFile(passFile)
	if err != nil {
		t.Fatal(err)
	}
	password := strings.TrimSpace(string(raw))
	if strings.Contains(out.String(), password) || strings.Contains(logs.String(), password) {
		t.Fatalf("cdp engine printed the password:\n%s", out.String())
	}
	if !strings.Contains(out.String(), passFile) || !strings.Contains(out.String(), "--user "+store.PlatformUser) {
		t.Fatalf("cdp engine does not point to the password file:\n%s", out.String())
	}
	addr := native.FindStringSubmatch(out.String())[1]
	dsn, err := store.EngineDSN(dir, addr, "cdp")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		dsn   string
		works bool
	}{{dsn, true}, {"clickhouse://default@" + addr + "/cdp", false}} {
		db, err := store.Open(c.dsn, nil)
		if err != nil {
			t.Fatal(err)
		}
		qctx, qcancel := context.WithTimeout(ctx, 30*time.Second)
		_, err = db.ServerVersion(qctx)
		qcancel()
		db.Close()
		if (err == nil) != c.works {
			t.Errorf("%s: err %v, want works=%v", strings.Replace(c.dsn, password, "***", 1), err, c.works)
		}
	}
}
