package main

import (
	"context"
	"testing"
	"time"

	"github.com/granarycdp/cdp/demand"
	"github.com/granarycdp/cdp/store/storetest"
)

// TestDemoDemandWorldAlertsItsSurges: the demo's demand world, written up
// to a start at any hour, has its two surges (demoSurges, the generator's
// truth) alerted by the catch-up rounds, recorded for the API's last 7
// days, and handed over to the in-process targets.
func TestDemoDemandWorldAlertsItsSurges(t *testing.T) {
	db := storetest.Migrated(t)
	ctx := context.Background()
	now := time.Now().Truncate(time.Hour).Add(37 * time.Minute)
	svc := demand.New(db, nil)
	n := &demand.Notifier{DB: db}
	alerts, err := demoDemand(ctx, db, svc, demand.RunOptions{Notifier: n}, 7, now, storetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	recorded, err := svc.Alerts(ctx, now.AddDate(0, 0, -7), 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(recorded) != len(alerts) {
		t.Fatalf("%d alerts recorded, %d detected", len(recorded), len(alerts))
	}
	for _, sg := range demoSurges(now) {
		found := false
		for _, a := range recorded {
			if a.Key == (demand.Key{Class: sg.Class, Province: sg.Province, City: sg.City}) {
				found = true
				if a.To.Before(sg.Onset) || a.To.After(now) {
					t.Errorf("the surge in %s from %s alerted for the window to %s", sg.City, sg.Onset, a.To)
				}
			}
		}
		if !found {
			t.Errorf("the demo's surge in %s is not alerted; alerts: %+v", sg.City, recorded)
		}
	}
	t.Logf("%d alerts", len(alerts))
}
