package calendar

import (
	"testing"
	"time"
)

func TestNearKnowsTheFestivals(t *testing.T) {
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 12, 0, 0, 0, Beijing) }
	for _, c := range []struct {
		day    time.Time
		event  Event
		offset int
		ok     bool
	}{
		{day(2026, 2, 10), SpringFestival, -7, true},
		{day(2026, 6, 17), Sale618, -1, true},    // 端午 (6-19) is two days away: the nearer event wins
		{day(2025, 10, 1), NationalDay, 0, true}, // 中秋 is 10-06 that year
		{day(2025, 10, 5), MidAutumn, -1, true},
		{day(2025, 11, 11), Double11, 0, true},
		{day(2025, 8, 10), "", 0, false},
		{day(2040, 6, 18), Sale618, 0, true}, // outside the table's years: typical dates, computed
	} {
		e, off, ok := Near(c.day)
		if e != c.event || off != c.offset || ok != c.ok {
			t.Errorf("%s: %s %d %v, want %s %d %v", c.day.Format(time.DateOnly), e, off, ok, c.event, c.offset, c.ok)
		}
	}
}
