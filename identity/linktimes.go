package identity

import (
	"math"
	"time"
)

// linkTimes keeps when each identifier of a windowed type (devices,
// anonymous ids) was linked to each person, for the windowed limits. Most
// persons hold one of a type: its time is a 16-byte map entry (person and
// type, Unix nanoseconds); only the later ones go into a slice. A map of
// slices of time.Time cost ~52 bytes for a person's one device, here ~23.
type linkTimes struct {
	first map[timeKey]int64
	more  map[timeKey][]int64
}

type timeKey struct {
	person uint32
	typ    uint8
}

func newLinkTimes() linkTimes {
	return linkTimes{first: map[timeKey]int64{}, more: map[timeKey][]int64{}}
}

// add records a link at t.
func (l *linkTimes) add(k timeKey, t time.Time) {
	if _, ok := l.first[k]; !ok {
		l.first[k] = linkTime(t)
		return
	}
	l.more[k] = append(l.more[k], linkTime(t))
}

// within counts k's links in the window before at: at.Sub(t) < window and
// not t.After(at).
func (l *linkTimes) within(k timeKey, at time.Time, window time.Duration) int {
	t, ok := l.first[k]
	if !ok {
		return 0
	}
	now, n := linkTime(at), 0
	in := func(t int64) {
		// A difference that overflows is centuries, never within a window.
		if d := now - t; t <= now && d >= 0 && d < int64(window) {
			n++
		}
	}
	in(t)
	for _, t := range l.more[k] {
		in(t)
	}
	return n
}

// forget drops a person's times.
func (l *linkTimes) forget(p uint32) {
	for ti := range uint8(len(personState{}.own)) {
		delete(l.first, timeKey{p, ti})
		delete(l.more, timeKey{p, ti})
	}
}

// linkTime is a link's time as Unix nanoseconds, the form linkTimes keeps
// (8 bytes where a time.Time takes 24); times outside that form's range,
// before 1678 or after 2262, are clamped to its ends.
func linkTime(t time.Time) int64 {
	switch {
	case t.Before(minLinkTime):
		return math.MinInt64
	case t.After(maxLinkTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

var minLinkTime, maxLinkTime = time.Unix(0, math.MinInt64), time.Unix(0, math.MaxInt64)
