// Package calendar knows the Chinese retail calendar of the grain-and-oil
// trade: the lunar festivals (春节, 端午, 中秋) by Gregorian date, the
// fixed holidays (国庆) and the online shopping festivals (618, 双11).
// Dates are Beijing calendar days. It imports only schema (the zone), so
// the demo generator and the demand baselines share one table.
package calendar

import (
	"sync"
	"time"

	"github.com/granarycdp/cdp/schema"
)

// Event names a calendar event.
type Event string

// The events of the trade's calendar.
const (
	SpringFestival Event = "春节"
	DragonBoat     Event = "端午"
	MidAutumn      Event = "中秋"
	NationalDay    Event = "国庆"
	Sale618        Event = "618"
	Double11       Event = "双11"
)

// Events lists every event, in calendar order of a typical year.
var Events = []Event{SpringFestival, DragonBoat, Sale618, MidAutumn, NationalDay, Double11}

// lunar gives the Gregorian month*100+day of the lunar festivals by year
// (2020-2035).
var lunar = map[Event]map[int]int{
	SpringFestival: {2020: 125, 2021: 212, 2022: 201, 2023: 122, 2024: 210, 2025: 129, 2026: 217, 2027: 206,
		2028: 126, 2029: 213, 2030: 203, 2031: 123, 2032: 211, 2033: 131, 2034: 219, 2035: 208},
	DragonBoat: {2020: 625, 2021: 614, 2022: 603, 2023: 622, 2024: 610, 2025: 531, 2026: 619, 2027: 609,
		2028: 528, 2029: 616, 2030: 605, 2031: 624, 2032: 612, 2033: 601, 2034: 620, 2035: 610},
	MidAutumn: {2020: 1001, 2021: 921, 2022: 910, 2023: 929, 2024: 917, 2025: 1006, 2026: 925, 2027: 915,
		2028: 1003, 2029: 922, 2030: 912, 2031: 1001, 2032: 919, 2033: 908, 2034: 927, 2035: 916},
}

// typical are the dates used outside the table's years.
var typical = map[Event]int{SpringFestival: 205, DragonBoat: 612, MidAutumn: 920, NationalDay: 1001, Sale618: 618, Double11: 1111}

// Beijing is the zone of calendar days (schema.Beijing).
var Beijing = schema.Beijing

// Date is the Beijing day of an event in a year (midnight, Beijing).
// Lunar festivals outside 2020-2035 fall on a typical date.
func Date(e Event, year int) time.Time {
	md, ok := lunar[e][year]
	if !ok {
		md = typical[e]
	}
	return time.Date(year, time.Month(md/100), md%100, 0, 0, 0, 0, Beijing)
}

// Window is the span of days, relative to an event's date, in which it
// moves demand: buying for 春节 starts three weeks before, gift boxes two
// weeks before 中秋, 618 and 双11 presales open ten days before.
var Window = map[Event][2]int{
	SpringFestival: {-24, 6}, DragonBoat: {-10, 1}, MidAutumn: {-16, 1},
	NationalDay: {-5, 6}, Sale618: {-18, 1}, Double11: {-11, 1},
}

// Near is the event whose window holds day (a Beijing day) and the day's
// offset from the event's date; ok is false outside every window. Where
// windows overlap (国庆 and a late 中秋), the nearer event wins.
func Near(day time.Time) (e Event, offset int, ok bool) {
	d := dayOf(day)
	nearOnce.Do(fillNear)
	if i := int(d.Sub(nearFrom).Hours()) / 24; i >= 0 && i < len(nearTable) {
		n := nearTable[i]
		return n.event, n.offset, n.ok
	}
	return near(d)
}

// nearTable caches Near for the days of 2019-2036 (detection asks it for
// every day of every window it tests).
var (
	nearOnce  sync.Once
	nearFrom  = time.Date(2019, 1, 1, 0, 0, 0, 0, Beijing)
	nearTable []nearDay
)

type nearDay struct {
	event  Event
	offset int
	ok     bool
}

func fillNear() {
	end := time.Date(2037, 1, 1, 0, 0, 0, 0, Beijing)
	for d := nearFrom; d.Before(end); d = d.AddDate(0, 0, 1) {
		e, off, ok := near(d)
		nearTable = append(nearTable, nearDay{e, off, ok})
	}
}

// near computes Near for a Beijing midnight.
func near(d time.Time) (e Event, offset int, ok bool) {
	best := 1 << 30
	for _, ev := range Events {
		for _, y := range []int{d.Year() - 1, d.Year(), d.Year() + 1} {
			off := int(d.Sub(Date(ev, y)).Hours()) / 24
			w := Window[ev]
			if off >= w[0] && off <= w[1] && abs(off) < best {
				e, offset, ok, best = ev, off, true, abs(off)
			}
		}
	}
	return e, offset, ok
}

func dayOf(t time.Time) time.Time {
	b := t.In(Beijing)
	return time.Date(b.Year(), b.Month(), b.Day(), 0, 0, 0, 0, Beijing)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
