package api_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestSidebarInHeadlessChromium opens the staff sidebar in headless
// Chromium (web/e2e/sidebar.mjs) against a platform whose WeCom is the
// fake: the page signs in with the fake's OAuth2 code, a stand-in `wx`
// that checks the signatures against the fake's tickets answers
// getCurExternalContact with a customer of the fake's, and the card must
// show the masked phone and the orders. It needs /usr/bin/chromium, node
// and web/e2e/node_modules (`.ci/run` or `make e2e-deps`); with
// CDP_SKIP_BROWSER_TESTS=1 it is skipped when they are missing.
func TestSidebarInHeadlessChromium(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	_, chromium := os.Stat("/usr/bin/chromium")
	_, playwright := os.Stat(filepath.Join(root, "web", "e2e", "node_modules", "playwright-core"))
	if err != nil || chromium != nil || playwright != nil {
		msg := "browser test prerequisites missing (node, /usr/bin/chromium, web/e2e/node_modules): run `.ci/run` or `make e2e-deps`"
		if os.Getenv("CDP_SKIP_BROWSER_TESTS") == "1" {
			t.Skip(msg)
		}
		t.Fatal(msg)
	}
	f := newIngestFixture(t, 0)
	f.sidebarCustomers()
	srv := httptest.NewServer(f.srv.Handler())
	defer srv.Close()
	// The tickets the stand-in checks: fetched now, cached for the page.
	if _, err := f.opts.Sidebar.Sign(context.Background(), srv.URL+"/sidebar/"); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "test-artifacts", "sidebar")
	os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(root, "web", "e2e", "sidebar.mjs"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CDP_BASE_URL="+srv.URL, "CDP_ADMIN_TOKEN="+adminToken, "CDP_ARTIFACTS="+dir, "CDP_CHROMIUM=/usr/bin/chromium",
		"CDP_SIDEBAR_URL="+srv.URL+"/sidebar/?code="+f.fake.OAuthCode("zhangsan")+"&state=sidebar",
		"CDP_SIDEBAR_CUSTOMER="+sideA, "CDP_SIDEBAR_PHONE="+sidePhone,
		"CDP_SIDEBAR_TICKETS="+f.fake.Ticket("jsapi")+","+f.fake.Ticket("agent_config"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("sidebar browser test failed (%v); screenshots in %s:\n%s", err, dir, out.String())
	}
	t.Logf("sidebar browser test passed; screenshots in %s\n%s", dir, out.String())
}
