package demand

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"time"
)

// Alert is a detected surge with its evidence: the series, the 24-hour
// window whose count alarmed, the test (observed against expected, ratio,
// z, p and the adjusted q), and the same class's other cities of the
// province in that window.
type Alert struct {
	// ID is stable for a series and window: the idempotency key of its
	// delivery.
	ID   string    `json:"id"`
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	Test
	Neighbours []Neighbour `json:"neighbours"`
}

// Neighbour is a neighbouring region's test in the alert's window.
type Neighbour struct {
	Province string  `json:"province"`
	City     string  `json:"city"`
	Observed float64 `json:"observed"`
	Expected float64 `json:"expected"`
	Ratio    float64 `json:"ratio"`
	Alarmed  bool    `json:"alarmed"`
}

// cooldown remembers each series' last alarm: a series alarmed within
// o.Cooldown days before raises no new alert (a surge's later windows
// continue its alert, they do not raise new ones).
type cooldown map[Key]time.Time

// alerts turns window t's tests into alerts, with their neighbours (for
// a city, the province's other cities; for a province, its cities). A
// province's or the nation's alarm that the alarmed regions within it
// explain is left out (see explained): the narrower region says where the
// surge is.
func (c cooldown) alerts(d *Daily, t int, tests []Test, o DetectOptions) []Alert {
	byProvince := map[[2]string][]Test{}
	within := map[Key][2]float64{} // aggregate -> observed, expected of the alarmed regions within
	for _, x := range tests {
		p := [2]string{x.Key.Class, x.Key.Province}
		byProvince[p] = append(byProvince[p], x)
		if o.Alarmed(x) && x.Key.Level() == LevelCity {
			k := Key{Class: x.Key.Class, Province: x.Key.Province}
			within[k] = [2]float64{within[k][0] + x.Observed, within[k][1] + x.Expected}
		}
	}
	for _, x := range tests { // the nation: its alarmed provinces, else their alarmed cities
		if x.Key.Level() == LevelProvince {
			w, n := within[x.Key], Key{Class: x.Key.Class}
			if o.Alarmed(x) && !explained(x, w, o) {
				w = [2]float64{x.Observed, x.Expected}
			}
			within[n] = [2]float64{within[n][0] + w[0], within[n][1] + w[1]}
		}
	}
	var out []Alert
	end := d.window(t + 1)
	for _, x := range tests {
		if !o.Alarmed(x) || (x.Key.City == "" && explained(x, within[x.Key], o)) {
			continue
		}
		prev, seen := c[x.Key]
		c[x.Key] = end
		if seen && end.Sub(prev) <= time.Duration(o.Cooldown)*24*time.Hour {
			continue
		}
		a := Alert{ID: alertID(x.Key, end), From: d.window(t), To: end, Test: x}
		for _, n := range byProvince[[2]string{x.Key.Class, x.Key.Province}] {
			if n.Key != x.Key && n.Key.City != "" {
				a.Neighbours = append(a.Neighbours, Neighbour{Province: n.Key.Province, City: n.Key.City, Observed: n.Observed,
					Expected: n.Expected, Ratio: n.Ratio, Alarmed: o.Alarmed(n)})
			}
		}
		sort.Slice(a.Neighbours, func(i, j int) bool { return a.Neighbours[i].Ratio > a.Neighbours[j].Ratio })
		out = append(out, a)
	}
	return out
}

// explained reports whether an aggregate's rise is its alarmed cities'
// (their observed and expected counts in w): the rest of the region rose
// by less than a quarter, or not beyond what an alarm needs (its upper
// tail, at the aggregate's dispersion, above o.Alpha). A single city's
// surge then raises its alert only, through all the windows it lasts; a
// surge spread over the province, the province's too.
func explained(x Test, w [2]float64, o DetectOptions) bool {
	if w[1] == 0 {
		return false
	}
	rest, seen := x.Expected-w[1], x.Observed-w[0]
	return rest <= 0 || seen/rest < 1.25 || upperTail(seen, rest, x.Dispersion) > o.Alpha
}

// Detect tests the windows [from, to) of d (indices) in order and returns
// the alerts, one per surge (see cooldown).
func Detect(d *Daily, from, to int, o DetectOptions) []Alert {
	c := cooldown{}
	var out []Alert
	for t := from; t < to; t++ {
		out = append(out, c.alerts(d, t, TestLevels(d, t, o), o)...)
	}
	return out
}

// Hourly is a matrix of hourly series: one count per hour from Start.
type Hourly struct {
	Start  time.Time
	Hours  int
	Series map[Key][]float64
	prefix map[Key][]float64
}

// Windows is the matrix of the days 24-hour windows ending at hour index
// end (exclusive); a window reaching before Start counts what it holds.
func (h *Hourly) Windows(end, days int) *Daily {
	if h.prefix == nil {
		h.prefix = map[Key][]float64{}
		for k, s := range h.Series {
			p := make([]float64, len(s)+1)
			for i, x := range s {
				p[i+1] = p[i] + x
			}
			h.prefix[k] = p
		}
	}
	d := &Daily{Start: h.Start.Add(time.Duration(end-24*days) * time.Hour), Days: days, Series: map[Key][]float64{}}
	for k, p := range h.prefix {
		at := func(j int) float64 { return p[min(max(j, 0), len(p)-1)] }
		w := make([]float64, days)
		for i := range days {
			w[i] = at(end-24*(days-i-1)) - at(end-24*(days-i))
		}
		d.Series[k] = w
	}
	return d
}

// DetectRolling tests the 24-hour windows ending every step hours at the
// hour indices [from, to] of h, each with o.History() days of windows
// before it, and returns the alerts, one per surge: a surge is seen
// within hours of its onset, not only when its Beijing day ends.
func DetectRolling(h *Hourly, from, to, step int, o DetectOptions) []Alert {
	c := cooldown{}
	var out []Alert
	days := o.History()
	for end := from; end <= to; end += step {
		d := h.Windows(end, days)
		out = append(out, c.alerts(d, days-1, TestLevels(d, days-1, o), o)...)
	}
	return out
}

// alertID names the alert of a series for the window ending at end.
func alertID(k Key, end time.Time) string {
	h := fnv.New64a()
	h.Write([]byte(k.Class + "\x00" + k.Province + "\x00" + k.City))
	return fmt.Sprintf("dmd-%s-%016x", end.UTC().Format("2006010215"), h.Sum64())
}

// DetectAt tests the 24-hour window ending at the hour of at (every
// city-level series, o.History() days of windows before it) and returns
// its alerts. The windows of the Cooldown days before, every step hours,
// are tested again first, so a series alarmed in them raises none now:
// the alerts of consecutive calls (at advancing by step) are each surge
// once. step is 1 to 24 hours.
func (s *Service) DetectAt(ctx context.Context, at time.Time, step int, o DetectOptions) ([]Alert, error) {
	end := at.Truncate(time.Hour)
	return s.DetectBetween(ctx, end.Add(-time.Hour), end, step, o)
}

// DetectBetween tests, in one pass, the windows DetectAt would test at
// each hour after from up to the hour of to, every step hours back from
// to, and returns their alerts: those of DetectAt called at each of those
// hours in turn (the Cooldown days before the first are tested again
// first). It is a catch-up of the rounds of a period, as when the demo
// loads a demand world with its recent surges.
func (s *Service) DetectBetween(ctx context.Context, from, to time.Time, step int, o DetectOptions) ([]Alert, error) {
	if step < 1 || step > 24 {
		return nil, invalid("step", "must be 1 to 24 hours")
	}
	end := to.Truncate(time.Hour)
	if !end.After(from) {
		return nil, nil
	}
	span := int((end.Sub(from)-time.Nanosecond)/(time.Duration(step)*time.Hour)) * step
	back := o.Cooldown * 24 / step * step
	days := o.History() + (back+span)/24 + 1
	h, err := s.CitySignalsHourly(ctx, end.Add(-time.Duration(days)*24*time.Hour), 24*days)
	if err != nil {
		return nil, err
	}
	var out []Alert
	for _, a := range DetectRolling(h, h.Hours-back-span, h.Hours, step, o) {
		if a.To.After(from) {
			out = append(out, a)
		}
	}
	return out, nil
}

// Alerts returns the recorded alerts (Notifier.Record) whose window ended
// at or after since, latest first, at most limit (1-1000).
func (s *Service) Alerts(ctx context.Context, since time.Time, limit int) ([]Alert, error) {
	if limit < 1 || limit > 1000 {
		return nil, invalid("limit", "must be 1 to 1000")
	}
	rows, err := s.db.Conn.Query(ctx, "SELECT evidence FROM "+s.db.Table("demand_alerts")+
		" FINAL WHERE window_to >= toDateTime(?, 'UTC') ORDER BY window_to DESC, alert_id LIMIT ?", since.Unix(), limit)
	if err != nil {
		return nil, fmt.Errorf("demand: read alerts: %w", err)
	}
	defer rows.Close()
	out := []Alert{}
	for rows.Next() {
		var ev string
		var a Alert
		if err := rows.Scan(&ev); err != nil {
			return nil, fmt.Errorf("demand: read alerts: %w", err)
		}
		if err := json.Unmarshal([]byte(ev), &a); err != nil {
			return nil, fmt.Errorf("demand: read alerts: alert evidence: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("demand: read alerts: %w", err)
	}
	return out, nil
}
