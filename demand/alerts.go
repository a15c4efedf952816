package demand

import (
	"context"
	"fmt"
	"hash/fnv"
	"sort"
	"time"
)

// Alert is a detected surge with its evidence: the series, the day, the
// test (observed against expected, ratio, z, p and the adjusted q), and
// the same class's other cities of the province that day.
type Alert struct {
	// ID is stable for a series and day: the idempotency key of its
	// delivery.
	ID  string    `json:"id"`
	Day time.Time `json:"day"`
	Test
	Neighbours []Neighbour `json:"neighbours"`
}

// Neighbour is a neighbouring region's test on the alert's day.
type Neighbour struct {
	Province string  `json:"province"`
	City     string  `json:"city"`
	Observed float64 `json:"observed"`
	Expected float64 `json:"expected"`
	Ratio    float64 `json:"ratio"`
	Alarmed  bool    `json:"alarmed"`
}

// Detect tests the days [from, to) of d (indices) in order and returns the
// alerts: each alarm of a series not alarmed within the Cooldown days
// before (a surge's later days continue its alert, they do not raise new
// ones), with its neighbours.
func Detect(d *Daily, from, to int, o DetectOptions) []Alert {
	last := map[Key]int{}
	var out []Alert
	for t := from; t < to; t++ {
		tests := TestDay(d, t, o)
		byProvince := map[[2]string][]Test{}
		for _, x := range tests {
			p := [2]string{x.Key.Class, x.Key.Province}
			byProvince[p] = append(byProvince[p], x)
		}
		for _, x := range tests {
			if !o.Alarmed(x) {
				continue
			}
			prev, seen := last[x.Key]
			last[x.Key] = t
			if seen && t-prev <= o.Cooldown {
				continue
			}
			a := Alert{ID: alertID(x.Key, d.day(t)), Day: d.day(t), Test: x}
			for _, n := range byProvince[[2]string{x.Key.Class, x.Key.Province}] {
				if n.Key != x.Key {
					a.Neighbours = append(a.Neighbours, Neighbour{Province: n.Key.Province, City: n.Key.City, Observed: n.Observed,
						Expected: n.Expected, Ratio: n.Ratio, Alarmed: o.Alarmed(n)})
				}
			}
			sort.Slice(a.Neighbours, func(i, j int) bool { return a.Neighbours[i].Ratio > a.Neighbours[j].Ratio })
			out = append(out, a)
		}
	}
	return out
}

// alertID names the alert of a series on a day.
func alertID(k Key, day time.Time) string {
	h := fnv.New64a()
	h.Write([]byte(k.Class + "\x00" + k.Province + "\x00" + k.City))
	return fmt.Sprintf("dmd-%s-%016x", day.Format("20060102"), h.Sum64())
}

// DetectDay reads the city-level signals up to the Beijing day of day and
// returns the alerts raised on it (a series alarmed within the cooldown
// before it raises none).
func (s *Service) DetectDay(ctx context.Context, day time.Time, o DetectOptions) ([]Alert, error) {
	days := o.History()
	end := beijingDay(day).AddDate(0, 0, 1)
	d, err := s.Signals(ctx, LevelCity, end.AddDate(0, 0, -days), days)
	if err != nil {
		return nil, err
	}
	all := Detect(d, days-1-o.Cooldown, days, o)
	var out []Alert
	for _, a := range all {
		if a.Day.Equal(d.day(days - 1)) {
			out = append(out, a)
		}
	}
	return out, nil
}
