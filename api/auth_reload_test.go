package api

import (
	"context"
	"testing"
	"time"

	"github.com/granarycdp/cdp/store/storetest"
)

// TestStaleCredentialsAreReloadedByOneRequestAtATime: past the refresh
// interval a lookup reloads the credentials, but not while another
// request's reload is under way: it answers from the last credentials
// without querying. Before, every request in the window queried
// ClickHouse (an acknowledgement p99 of 100-220 ms every 30 s under
// `cdp bench --load`).
func TestStaleCredentialsAreReloadedByOneRequestAtATime(t *testing.T) {
	ctx := context.Background()
	c, err := NewCredentials(ctx, storetest.Migrated(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PutWriteKey(ctx, Principal{ID: "wk_1", Name: "pos", Source: "pos", Scope: ScopeServer}, "cdp_wk_secret", "test"); err != nil {
		t.Fatal(err)
	}
	stale := func() {
		c.mu.Lock()
		c.loaded = time.Now().Add(-2 * c.refresh)
		c.mu.Unlock()
	}
	stale()
	c.reloading.Store(true) // another request is reloading
	before := c.reloads.Load()
	if _, ok := c.LookupWriteKey(ctx, "cdp_wk_secret"); !ok {
		t.Fatal("the write key is not found during another request's reload")
	}
	if n := c.reloads.Load() - before; n != 0 {
		t.Fatalf("a lookup during another request's reload reloaded %d times, want 0", n)
	}
	c.reloading.Store(false)
	if _, ok := c.LookupWriteKey(ctx, "cdp_wk_secret"); !ok {
		t.Fatal("the write key is not found after the reload")
	}
	if n := c.reloads.Load() - before; n != 1 {
		t.Fatalf("a lookup of stale credentials reloaded %d times, want 1", n)
	}
	if c.reloading.Load() {
		t.Fatal("the reload left its flag set: no request would reload again")
	}
	if _, ok := c.LookupToken(ctx, "cdp_at_unknown"); ok {
		t.Fatal("an unknown token was accepted")
	}
	if n := c.reloads.Load() - before; n != 1 {
		t.Fatalf("a lookup of fresh credentials reloaded (%d reloads in all), want none", n)
	}
}
