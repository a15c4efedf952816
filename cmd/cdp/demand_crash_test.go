package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/granarycdp/cdp/demand"
	"github.com/granarycdp/cdp/demand/demandtest"
	"github.com/granarycdp/cdp/store/storetest"
)

// TestSIGKILLDuringAlertDeliveryDeliversEachAlertOnce records 20 surge
// alerts for a `cdp serve` whose supply system (CDP_SUPPLY_WEBHOOKS) is a
// slow fake (demandtest.Receiver); the platform delivers them by its retry loop and is killed
// with SIGKILL right after the fake processed the seventh, before its
// answer reached the platform. After a restart on the same database the
// pending deliveries are posted at start: the fake has processed every
// alert exactly once (the cut-off one was posted again under its key and
// answered as a repeat), every post was correctly signed, and the
// journal holds no undelivered row.
func TestSIGKILLDuringAlertDeliveryDeliversEachAlertOnce(t *testing.T) {
	db := storetest.DB(t)
	oms := demandtest.New("oms-secret-0123456789")
	oms.Delay = 50 * time.Millisecond // the platform is killed with a post in flight
	srv := httptest.NewServer(oms)
	defer srv.Close()
	env := []string{"CDP_CLICKHOUSE_DSN=" + storetest.DSN(t, db.Database), "CDP_DATA_DIR=" + t.TempDir(),
		"CDP_WRITE_KEY=demand-key", "CDP_ADMIN_TOKEN=demand-admin", "CDP_ALLOW_LOOPBACK_HTTP=true",
		"CDP_WEBHOOKS=oms=" + srv.URL + "|oms-secret-0123456789", "CDP_SUPPLY_WEBHOOKS=oms", "CDP_SUPPLY_RETRY_SECONDS=1"}
	p := startPlatform(t, env) // migrates the database
	var alerts []demand.Alert
	to := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for i := range 20 {
		alerts = append(alerts, demand.Alert{ID: fmt.Sprintf("dmd-crash-%02d", i), From: to.Add(-24 * time.Hour), To: to.Add(time.Duration(i) * time.Hour),
			Test: demand.Test{Key: demand.Key{Class: "高油酸花生油", Province: "四川", City: fmt.Sprintf("城%d", i)}, Observed: 40, Expected: 10, Ratio: 4, Q: 1e-5}})
	}
	killed := make(chan int, 1)
	oms.OnProcess(func(n int) {
		if n == 7 {
			p.cmd.Process.Signal(syscall.SIGKILL)
			killed <- n
		}
	})
	n := &demand.Notifier{DB: db, Targets: []demand.Target{{Name: "oms"}}}
	if err := n.Record(context.Background(), alerts); err != nil {
		t.Fatal(err)
	}
	select {
	case <-killed:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the platform delivered %d alerts and was not killed:\n%s", oms.Processed(), p.logs.String())
	}
	p.cmd.Wait()
	oms.OnProcess(nil)
	if at := oms.Processed(); at >= len(alerts) {
		t.Fatalf("all %d alerts were processed before the kill", at)
	}

	p = startPlatform(t, env)
	defer p.stop(syscall.SIGTERM)
	pending := func() int {
		return storetest.Count(t, db, "SELECT count() FROM "+db.Table("demand_deliveries")+" FINAL WHERE state != 'delivered'")
	}
	until(t, 2*time.Minute, "every alert delivered after the restart", func() bool { return pending() == 0 })
	keys := make([]string, len(alerts))
	for i, a := range alerts {
		keys[i] = a.ID + ":oms"
	}
	if err := oms.ExactlyOnce(keys); err != nil {
		t.Error(err)
	}
	t.Log(oms.Summary())
}
