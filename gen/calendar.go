package gen

import (
	"time"

	"github.com/granarycdp/cdp/demand/calendar"
	"github.com/granarycdp/cdp/schema"
)

// All local dates (promotions, opening hours, the MMDD of a live room) are
// in Beijing time, schema.Beijing: a fixed zone, which keeps the output
// independent of the machine's tzdata.

const (
	msPerMinute = int64(time.Minute / time.Millisecond)
	msPerHour   = int64(time.Hour / time.Millisecond)
	msPerDay    = int64(24 * time.Hour / time.Millisecond)
	cstOffsetMS = 8 * msPerHour
)

// promoKind names the seasonal peaks of the grain-and-oil trade.
type promoKind uint8

const (
	promoSpring    promoKind = iota // 春节 stocking up (年货节)
	promo618                        // 618
	promoDouble11                   // 双11
	promoMidAutumn                  // 中秋 gift boxes
	numPromoKinds
)

// promo is one occurrence of a seasonal peak.
type promo struct {
	kind promoKind
	// start and end bound the window (ms, end exclusive); peak is the
	// start of the local day on which buying peaks.
	start, peak, end int64
	// online promotions (618, 双11) happen on Tmall, Douyin and the mini
	// program; festivals move every channel.
	online bool
	// pull is the probability that a purchase falling due near the
	// window is moved into it (households wait for, or stock up at, the
	// promotion).
	pull float64
}

// localDay is the start (ms) of a local calendar day.
func localDay(year int, month time.Month, day int) int64 {
	return time.Date(year, month, day, 0, 0, 0, 0, schema.Beijing).UnixMilli()
}

// promotions lists the peaks whose windows come near [from, to).
func promotions(from, to int64) []promo {
	y0 := time.UnixMilli(from).In(schema.Beijing).Year() - 1
	y1 := time.UnixMilli(to).In(schema.Beijing).Year() + 1
	var out []promo
	for y := y0; y <= y1; y++ {
		cny := calendar.Date(calendar.SpringFestival, y).UnixMilli()
		mid := calendar.Date(calendar.MidAutumn, y).UnixMilli()
		for _, p := range []promo{
			// 年货: three weeks of stocking up before New Year's Eve,
			// busiest a week before.
			{kind: promoSpring, start: cny - 21*msPerDay, peak: cny - 8*msPerDay, end: cny - msPerDay, pull: 0.35},
			// 618 opens on the evening of May 31 and peaks on June 18.
			{kind: promo618, start: localDay(y, 5, 31) + 20*msPerHour, peak: localDay(y, 6, 18), end: localDay(y, 6, 19), online: true, pull: 0.45},
			// 双11 opens on the evening of October 31 and peaks on the day.
			{kind: promoDouble11, start: localDay(y, 10, 31) + 20*msPerHour, peak: localDay(y, 11, 11), end: localDay(y, 11, 12), online: true, pull: 0.6},
			// Mid-Autumn gift boxes: the two weeks before the festival.
			{kind: promoMidAutumn, start: mid - 14*msPerDay, peak: mid - 5*msPerDay, end: mid - msPerDay, pull: 0.2},
		} {
			if p.end > from-30*msPerDay && p.start < to+30*msPerDay {
				out = append(out, p)
			}
		}
	}
	return out
}

// civil returns the calendar date of a day number counted from
// 1970-01-01 (Howard Hinnant's civil_from_days).
func civil(days int64) (year, month, day int64) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	year = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day = doy - (153*mp+2)/5 + 1
	month = mp + 3
	if mp >= 10 {
		month = mp - 9
	}
	if month <= 2 {
		year++
	}
	return year, month, day
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// appendDigits appends v as exactly n decimal digits.
func appendDigits(b []byte, v int64, n int) []byte {
	var tmp [20]byte
	for i := n - 1; i >= 0; i-- {
		tmp[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, tmp[:n]...)
}

// appendUTC appends ms as RFC 3339 in UTC with milliseconds
// (2026-11-20T07:59:00.123Z), the way Segment SDKs stamp events.
func appendUTC(b []byte, ms int64) []byte {
	b = appendClock(b, ms)
	b = append(b, '.')
	b = appendDigits(b, ms-floorDiv(ms, 1000)*1000, 3)
	return append(b, 'Z')
}

// appendLocal appends ms as RFC 3339 in China Standard Time, to the
// second (2026-11-11T00:01:00+08:00), the way order systems export.
func appendLocal(b []byte, ms int64) []byte {
	b = appendClock(b, ms+cstOffsetMS)
	return append(b, "+08:00"...)
}

// appendClock appends the date and time of day of ms, without a zone.
func appendClock(b []byte, ms int64) []byte {
	days := floorDiv(ms, msPerDay)
	y, m, d := civil(days)
	sec := (ms - days*msPerDay) / 1000
	b = appendDigits(b, y, 4)
	b = append(b, '-')
	b = appendDigits(b, m, 2)
	b = append(b, '-')
	b = appendDigits(b, d, 2)
	b = append(b, 'T')
	b = appendDigits(b, sec/3600, 2)
	b = append(b, ':')
	b = appendDigits(b, sec/60%60, 2)
	b = append(b, ':')
	return appendDigits(b, sec%60, 2)
}

// localMMDD is the local month and day of ms as four digits (0611).
func localMMDD(ms int64) string {
	_, m, d := civil(floorDiv(ms+cstOffsetMS, msPerDay))
	return string(appendDigits(appendDigits(nil, m, 2), d, 2))
}

// localDayStart is the start (ms) of the local day containing ms.
func localDayStart(ms int64) int64 {
	return floorDiv(ms+cstOffsetMS, msPerDay)*msPerDay - cstOffsetMS
}
