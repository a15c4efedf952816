package imports

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/granarycdp/cdp/schema"
)

// beijing is the zone of exports' times, which carry none.
var beijing = schema.Beijing

// CleanCell undoes what exports do to keep Excel from mangling long
// numbers: ="123…" formulas, a leading apostrophe or tab; and trims.
func CleanCell(v string) string {
	v = strings.TrimSpace(strings.Trim(v, "\t"))
	if len(v) >= 3 && strings.HasPrefix(v, `="`) && strings.HasSuffix(v, `"`) {
		v = v[2 : len(v)-1]
	}
	v = strings.TrimPrefix(v, "'")
	return strings.TrimSpace(v)
}

// timeLayouts are the ways exports write a time, by the separator that
// tells them apart; a time without a zone is Beijing time.
var timeLayouts = map[string][]string{
	"年": {"2006年1月2日 15:04:05", "2006年1月2日 15:04", "2006年1月2日"},
	"/": {"2006/1/2 15:04:05", "2006/1/2 15:04", "2006/1/2"},
	"T": {time.RFC3339Nano, "2006-01-02T15:04:05"},
	"-": {"2006-01-02 15:04:05", "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04", "2006-01-02"},
	".": {"2006.1.2 15:04:05", "2006.1.2"},
}

// ParseTime reads a time as exports write it: ISO-8601, "2026-11-11
// 00:01:00", "2026/11/11 0:01", "2026年11月11日", all without a zone meaning
// Beijing time; an Excel serial date (a workbook's date cell, 46337.5); a
// Unix time in seconds (10 digits) or milliseconds (13 digits).
func ParseTime(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, false
	}
	for _, sep := range []string{"年", "/", "T", "-", "."} {
		if !strings.Contains(v, sep) {
			continue
		}
		for _, l := range timeLayouts[sep] {
			if t, err := time.ParseInLocation(l, v, beijing); err == nil {
				return t, true
			}
		}
		if sep != "." {
			return time.Time{}, false
		}
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 || math.IsInf(f, 0) {
		return time.Time{}, false
	}
	switch {
	case f > 1e12 && f < 1e13 && !strings.Contains(v, "."):
		return time.UnixMilli(int64(f)), true
	case f > 1e9 && f < 1e10 && !strings.Contains(v, "."):
		return time.Unix(int64(f), 0), true
	case f >= 20000 && f < 80000: // 1954-2119 as an Excel serial date
		t, err := excelize.ExcelDateToTime(f, false)
		if err != nil {
			return time.Time{}, false
		}
		// The serial is a wall-clock time (Beijing's in these exports).
		t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, beijing)
		return t.Round(time.Second), true
	}
	return time.Time{}, false
}

// ParseAmount reads an amount as exports write it: "129.70", "¥129.70",
// "￥1,299.00", "129.7元"; ok is false for anything else.
func ParseAmount(v string) (string, bool) {
	v = strings.TrimSpace(v)
	v = strings.TrimLeft(v, "¥￥")
	v = strings.TrimSuffix(v, "元")
	v = strings.ReplaceAll(strings.TrimSpace(v), ",", "")
	if v == "" {
		return "", false
	}
	if _, err := strconv.ParseFloat(v, 64); err != nil {
		return "", false
	}
	return v, true
}

// extension is a virtual (privacy) number's extension: platforms hand the
// seller a relay number valid for the order, "17012345678转1234" or
// "17012345678-1234".
var extension = regexp.MustCompile(`\d{11}\s*(转|-|_|#|,|，|ext\.?|分机)\s*\d{1,6}$`)

// PhoneUnusable tells a buyer phone that must never be an identifier: a
// masked number (138****1234: any of * ＊ × ● x X in it), a virtual number
// with an extension, or anything with more digits than a mobile number.
// Such a value names no person (many buyers share a mask; a relay number
// is reassigned after the order), so an import drops it rather than
// linking the orders of different people.
func PhoneUnusable(v string) bool {
	v = strings.TrimSpace(v)
	if v == "" {
		return false
	}
	if strings.ContainsAny(v, "*＊×●xX") {
		return true
	}
	if extension.MatchString(v) {
		return true
	}
	digits := 0
	for _, r := range v {
		if r >= '0' && r <= '9' {
			digits++
		}
	}
	return digits > 13 || digits < 11
}

// provinceSuffix ends the name of a province-level division in an
// address.
var provinceSuffix = []string{"特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市"}

// municipalities are province-level cities: their province and city are
// the same.
var municipalities = []string{"北京", "上海", "天津", "重庆"}

// SplitAddress takes the province and city from a mainland address as
// exports write it ("浙江省 杭州市 西湖区 文三路 1 号", "上海 上海市 浦东新区 ...",
// "广西壮族自治区南宁市..."): the province without its suffix (浙江), the
// city without 市 (杭州). Street and house are not kept.
func SplitAddress(addr string) (province, city string) {
	s := strings.TrimSpace(addr)
	if s == "" {
		return "", ""
	}
	for _, m := range municipalities {
		if strings.HasPrefix(s, m) {
			return m, m
		}
	}
	rest := ""
	for _, suf := range provinceSuffix {
		if i := strings.Index(s, suf); i > 0 && i <= 15 {
			province, rest = s[:i], s[i+len(suf):]
			break
		}
	}
	if province == "" {
		f := strings.Fields(s)
		if len(f) < 2 {
			return "", ""
		}
		province, rest = f[0], strings.Join(f[1:], " ")
	}
	rest = strings.TrimSpace(rest)
	for _, suf := range []string{"自治州", "地区", "盟", "市"} {
		if i := strings.Index(rest, suf); i > 0 && i <= 24 {
			return province, strings.TrimSpace(rest[:i])
		}
	}
	if f := strings.Fields(rest); len(f) > 0 {
		return province, f[0]
	}
	return province, ""
}
