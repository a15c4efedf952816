package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/granarycdp/cdp/demand"
	"github.com/granarycdp/cdp/gen"
	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/store"
)

// The demo's demand world (gen.GenerateDemand): the Douyin searches of one
// class, 高油酸花生油, in every city of the catalogue, up to the platform's
// start, with two recent surges (demoSurges). Its events are written as
// the Douyin collector's search events with their location, and the
// detection rounds of the last days are run at once (RoundsBetween), so
// the 需求感知 page shows alerts from the first minute.
const (
	demoDemandClass = "高油酸花生油"
	// demoDemandScale is the world's daily searches of a class of weight 1
	// in a city of weight 1: about 136,000 searches over the 450 days
	// detection reads, and 成都 sees about 6 a day. At 2 (about 3 a day
	// in 成都) its surge was missed at some hours of the start: of starts
	// every 2 hours over one day, 4 of 12 had no 成都 alert.
	demoDemandScale = 4
	// demoDemandCatchUp is how far back the demo's catch-up round goes:
	// both surges started within it.
	demoDemandCatchUp = 3 * 24 * time.Hour
)

// demoSurges are the surges of the demo's demand world, as of now (on the
// hour): 高油酸花生油 searches in 成都 ×5 from 40 hours ago and in 杭州 ×4
// from 44 hours ago, each for 5 days, so that both are under way and
// alerted whatever the hour of the start: with 成都's from 20 or 30 hours
// ago, starts at some hours of some days (one in five, every 3 hours over
// three days) had no 成都 alert; from 40 hours, none of 48 starts (every
// 3-4 hours over 3 and 4 days) missed either surge.
func demoSurges(now time.Time) []gen.Surge {
	h := now.Truncate(time.Hour)
	return []gen.Surge{
		{Class: demoDemandClass, Province: "四川", City: "成都", Onset: h.Add(-40 * time.Hour), Days: 5, Factor: 5},
		{Class: demoDemandClass, Province: "浙江", City: "杭州", Onset: h.Add(-44 * time.Hour), Days: 5, Factor: 4},
	}
}

// demoDemand writes the demo's demand world up to now and runs the
// detection rounds of its last demoDemandCatchUp (on the serve loop's
// hours, every opts.Step), recording and delivering the alerts as the
// loop would. It returns the alerts.
func demoDemand(ctx context.Context, db *store.DB, svc *demand.Service, opts demand.RunOptions, seed uint64, now time.Time, logger *slog.Logger) ([]demand.Alert, error) {
	o := opts.Detect
	if o == (demand.DetectOptions{}) {
		o = demand.DefaultDetectOptions()
	}
	// History, the cooldown's windows and the catch-up, as DetectBetween
	// reads them, and a day of margin.
	days := o.History() + o.Cooldown + int(demoDemandCatchUp/(24*time.Hour)) + 2
	today := now.In(schema.Beijing)
	today = time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, schema.Beijing)
	w := gen.GenerateDemand(gen.DemandConfig{Seed: seed, Start: today.AddDate(0, 0, 1-days), Days: days, Scale: demoDemandScale, Surges: demoSurges(now)})
	r := rand.New(rand.NewPCG(seed, 0xde3a))
	var rows [][]any
	for _, k := range w.Keys {
		if k.Class != demoDemandClass {
			continue
		}
		loc := fmt.Sprintf(`{"location":{"region":%q,"city":%q}}`, k.Province, k.City)
		for h, n := range w.Hourly[k] {
			hour := w.Start.Add(time.Duration(h) * time.Hour)
			for range n {
				at := hour.Add(time.Duration(r.IntN(3600)) * time.Second)
				if !at.Before(now) {
					continue
				}
				rows = append(rows, []any{fmt.Sprintf("demo-demand-%d", len(rows)), "track", "search", at, at, "douyin", uint32(0), `{"keyword":"` + demoDemandClass + `"}`, loc})
			}
		}
	}
	start := time.Now()
	for i := 0; i < len(rows); i += 100_000 {
		if err := demoInsert(ctx, db, "events", "message_id, type, event, ts, received_at, source, person_id, properties, context", rows[i:min(i+100_000, len(rows))]); err != nil {
			return nil, err
		}
	}
	written := time.Since(start)
	if opts.Step <= 0 {
		opts.Step = 4
	}
	last := now.Truncate(time.Duration(opts.Step) * time.Hour) // the serve loop's last round
	alerts, err := svc.RoundsBetween(ctx, last.Add(-demoDemandCatchUp), last, opts)
	if err != nil {
		return nil, fmt.Errorf("demo demand rounds: %w", err)
	}
	logger.Info("demo demand world written and its rounds run", "searches", len(rows), "written_in", written.Round(time.Millisecond),
		"detected_in", (time.Since(start) - written).Round(time.Millisecond), "alerts", len(alerts))
	return alerts, nil
}
