package identity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Mainland mobile numbers in free text.
//
// The platform keeps no mobile number in clear outside the vault, whatever
// field it arrives in: the collector passes every string of every record
// through Protector.ScrubText / ScrubJSON before spooling it, and every
// error message through MaskMobiles. The rule for what counts as a mobile
// number, chosen so that ids, timestamps and amounts are left alone:
//
//   - Digits are ASCII or full-width (０-９). Digit groups joined by short
//     separator runs (at most 3 of: spaces, the ideographic space, hyphens
//     and dashes, dots, brackets, '+', and the URL escapes %20 %2B %2D %2E
//     %28 %29) form a chain, e.g. "+86 (138) 1234-5678".
//   - The chain, or a part of it, is a mobile number when its digits are
//     1[3-9] followed by 9 digits, optionally after a country code 86 or
//     0086 (with or without '+'): the whole chain; or, within a longer
//     chain, one group of such digits ("房间 302 13812345678") or three
//     groups laid out 3-4-4 ("302 138 1234 5678").
//   - Whole tokens only: a number glued to a latin letter or to another
//     digit is part of an id ("u13812345678", a 19-digit order number, a
//     13-digit millisecond timestamp) and is not one. A number joined by a
//     dot to more digits is a decimal or an address: dots separate a phone
//     only in the 3-4-4 layout ("138.1234.5678", never "139.224.112.35").
//   - Not recognised: numbers written in Chinese numerals, percent-encoded
//     digits, JSON numbers in exponent notation.
//
// A number found becomes a token "[phone *******5678 h:<hash>]": the
// mask for people, the keyed hash (the same as the phone identifier's) so
// that erasure finds every record holding it. The token is deterministic,
// so an id made of a phone number still deduplicates and joins.

// phoneDigit tells an ASCII or full-width digit and its ASCII form.
func phoneDigit(r rune) (byte, bool) {
	switch {
	case r >= '0' && r <= '9':
		return byte(r), true
	case r >= '０' && r <= '９':
		return byte('0' + r - '０'), true
	}
	return 0, false
}

// isWordRune tells runes that glue a number into a longer token: digits of
// any script and latin letters (ASCII or full-width).
func isWordRune(r rune) bool {
	return unicode.IsDigit(r) || r < 128 && (r|0x20 >= 'a' && r|0x20 <= 'z') ||
		r >= 'Ａ' && r <= 'Ｚ' || r >= 'ａ' && r <= 'ｚ'
}

func isSeparatorRune(r rune) bool {
	switch r {
	case ' ', '\u00a0', '\u3000', '-', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2212', '－',
		'.', '．', '(', ')', '（', '）', '+', '＋':
		return true
	}
	return false
}

// urlSeparators are percent escapes that stand for a separator.
var urlSeparators = []string{"%20", "%2B", "%2b", "%2D", "%2d", "%2E", "%2e", "%28", "%29"}

// separatorAt returns the width of the separator at s[i:] (0 for none)
// and whether it is a dot.
func separatorAt(s string, i int) (int, bool) {
	if s[i] == '%' {
		for _, u := range urlSeparators {
			if strings.HasPrefix(s[i:], u) {
				return 3, u[2] == 'E' || u[2] == 'e'
			}
		}
		return 0, false
	}
	r, w := utf8.DecodeRuneInString(s[i:])
	if isSeparatorRune(r) {
		return w, r == '.' || r == '．'
	}
	return 0, false
}

// percentPlusBefore tells whether s[:i] ends with a URL-escaped '+'.
func percentPlusBefore(s string, i int) bool {
	return i >= 3 && s[i-3] == '%' && s[i-2] == '2' && (s[i-1] == 'B' || s[i-1] == 'b')
}

type digitGroup struct {
	start, end int    // byte offsets in the text
	digits     string // ASCII
	dotBefore  bool   // the separator run before it has a dot
}

// mobileSpan is a mobile number found in a text: the bytes it covers and
// the 11-digit local number.
type mobileSpan struct {
	start, end int
	local      string
}

// localMobile returns the 11-digit mobile number digits stand for, with an
// optional 86 or 0086 country code, or "".
func localMobile(d string) string {
	switch {
	case len(d) == 15 && strings.HasPrefix(d, "0086"):
		d = d[4:]
	case len(d) == 13 && strings.HasPrefix(d, "86"):
		d = d[2:]
	}
	if len(d) != 11 || d[0] != '1' || d[1] < '3' || d[1] > '9' {
		return ""
	}
	for i := 2; i < 11; i++ {
		if d[i] < '0' || d[i] > '9' {
			return ""
		}
	}
	return d
}

// findMobiles returns the mobile numbers of s, in order, not overlapping.
func findMobiles(s string) []mobileSpan {
	if fewPhoneDigits(s) {
		return nil
	}
	return scanMobiles(s)
}

// minMobileDigits is the fewest digits of a chain that can hold a mobile
// number (findMobiles passes over shorter chains).
const minMobileDigits = 11

// fewPhoneDigits tells, from the bytes alone, that s has fewer than
// minMobileDigits phone digits in all (ASCII or full-width), so no mobile
// number: most strings (names, topics, ids, small JSON objects) are
// answered without decoding a rune. A full-width digit is U+FF10-U+FF19,
// EF BC 90-99 in UTF-8.
func fewPhoneDigits[T string | []byte](s T) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c-'0' <= 9:
			n++
		case c == 0xEF && i+2 < len(s) && s[i+1] == 0xBC && s[i+2]-0x90 <= 9:
			n++
			i += 2
		default:
			continue
		}
		if n >= minMobileDigits {
			return false
		}
	}
	return true
}

// scanMobiles is findMobiles without the shortcut.
func scanMobiles(s string) []mobileSpan {
	var out []mobileSpan
	prev := rune(-1) // the rune before i
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		if _, ok := phoneDigit(r); !ok {
			prev, i = r, i+w
			continue
		}
		if end, n := chainExtent(s, i); n < minMobileDigits {
			prev, _ = utf8.DecodeLastRuneInString(s[:end]) // too few digits for a number: the common case
			i = end
			continue
		}
		glued := prev >= 0 && isWordRune(prev) && !percentPlusBefore(s, i)
		groups, end := digitChain(s, i)
		next, _ := utf8.DecodeRuneInString(s[end:])
		gluedEnd := end < len(s) && isWordRune(next)
		out = append(out, chainMobiles(s, groups, glued, gluedEnd)...)
		prev, _ = utf8.DecodeLastRuneInString(s[:end])
		i = end
	}
	return out
}

// chainExtent is digitChain without allocating: where the chain starting
// at s[i] ends and how many digits it has.
func chainExtent(s string, i int) (end, digits int) {
	for {
		for i < len(s) {
			r, w := utf8.DecodeRuneInString(s[i:])
			if !isPhoneDigitRune(r) {
				break
			}
			digits++
			i += w
		}
		j, n := i, 0
		for n < 3 && j < len(s) {
			w, _ := separatorAt(s, j)
			if w == 0 {
				break
			}
			j += w
			n++
		}
		if n == 0 || j >= len(s) {
			return i, digits
		}
		if r, _ := utf8.DecodeRuneInString(s[j:]); !isPhoneDigitRune(r) {
			return i, digits
		}
		i = j
	}
}

// digitChain reads the chain of digit groups starting at s[i] (a digit)
// and returns its groups and where it ends.
func digitChain(s string, i int) ([]digitGroup, int) {
	var groups []digitGroup
	dot := false
	for {
		g := digitGroup{start: i, dotBefore: dot}
		var d []byte
		for i < len(s) {
			r, w := utf8.DecodeRuneInString(s[i:])
			v, ok := phoneDigit(r)
			if !ok {
				break
			}
			d = append(d, v)
			i += w
		}
		g.end, g.digits = i, string(d)
		groups = append(groups, g)
		// A separator run of at most 3, then a digit, continues the chain.
		j, n := i, 0
		dot = false
		for n < 3 && j < len(s) {
			w, isDot := separatorAt(s, j)
			if w == 0 {
				break
			}
			dot = dot || isDot
			j += w
			n++
		}
		if n == 0 || j >= len(s) {
			return groups, i
		}
		if r, _ := utf8.DecodeRuneInString(s[j:]); !isPhoneDigitRune(r) {
			return groups, i
		}
		i = j
	}
}

func isPhoneDigitRune(r rune) bool { _, ok := phoneDigit(r); return ok }

// chainMobiles applies the rule to one chain.
func chainMobiles(s string, groups []digitGroup, gluedStart, gluedEnd bool) []mobileSpan {
	span := func(first, last int, local string) mobileSpan {
		start := groups[first].start
		// A '+' (or %2B) right before the first group belongs to it.
		if strings.HasSuffix(s[:start], "+") {
			start--
		} else if strings.HasSuffix(s[:start], "＋") {
			start -= len("＋")
		} else if percentPlusBefore(s, start) {
			start -= 3
		}
		return mobileSpan{start: start, end: groups[last].end, local: local}
	}
	all := ""
	dots, sizes := false, make([]int, 0, len(groups))
	for k, g := range groups {
		all += g.digits
		dots = dots || k > 0 && g.dotBefore
		sizes = append(sizes, len(g.digits))
	}
	if !gluedStart && !gluedEnd {
		if local := localMobile(all); local != "" && (!dots || layout344(sizes)) {
			return []mobileSpan{span(0, len(groups)-1, local)}
		}
	}
	var out []mobileSpan
	for k := 0; k < len(groups); {
		if first, last, local := groupMobile(groups, k, gluedStart, gluedEnd); local != "" {
			out = append(out, span(first, last, local))
			k = last + 1
			continue
		}
		k++
	}
	return out
}

// groupMobile looks for a mobile number made of groups from k on within a
// longer chain: one group, or three laid out 3-4-4, optionally after a
// country-code group. It returns the first and last group of the number
// and its local digits ("" for none).
func groupMobile(groups []digitGroup, k int, gluedStart, gluedEnd bool) (first, last int, local string) {
	for _, cc := range []bool{true, false} {
		a := k
		if cc {
			if d := groups[k].digits; d != "86" && d != "0086" || k+1 == len(groups) || groups[k+1].dotBefore {
				continue
			}
			a = k + 1
		}
		for _, n := range []int{1, 3} {
			b := a + n - 1
			switch {
			case b >= len(groups), k == 0 && gluedStart, b == len(groups)-1 && gluedEnd:
				continue
			case groups[k].dotBefore, b+1 < len(groups) && groups[b+1].dotBefore:
				continue // part of a decimal number or an address
			case n == 3 && !layout344([]int{len(groups[a].digits), len(groups[a+1].digits), len(groups[b].digits)}):
				continue
			}
			d := ""
			for _, g := range groups[a : b+1] {
				d += g.digits
			}
			if local := localMobile(d); local != "" {
				return k, b, local
			}
		}
	}
	return 0, 0, ""
}

func layout344(sizes []int) bool {
	if len(sizes) == 4 && (sizes[0] == 2 || sizes[0] == 4) { // 86 or 0086 first
		sizes = sizes[1:]
	}
	return len(sizes) == 3 && sizes[0] == 3 && sizes[1] == 4 && sizes[2] == 4
}

// replaceMobiles rewrites every mobile number of s with repl's answer.
func replaceMobiles(s string, repl func(local string) string) (string, bool) {
	spans := findMobiles(s)
	if len(spans) == 0 {
		return s, false
	}
	var b strings.Builder
	last := 0
	for _, m := range spans {
		b.WriteString(s[last:m.start])
		b.WriteString(repl(m.local))
		last = m.end
	}
	b.WriteString(s[last:])
	return b.String(), true
}

// MaskMobiles replaces each mobile number in s by its mask
// (*******5678). Error messages, answers and logs pass through it.
func MaskMobiles(s string) string {
	out, _ := replaceMobiles(s, func(local string) string { return MaskPhone("+86" + local) })
	return out
}

// HasMobile tells whether s holds a mobile number by the rule above.
func HasMobile(s string) bool { return len(findMobiles(s)) > 0 }

// tokenPrefix starts every token ScrubText writes.
const tokenPrefix = "[phone "

// mobileToken matches a token ScrubText wrote.
var mobileToken = regexp.MustCompile(`\[phone (\*{7}[0-9]{4}) h:[0-9a-f]{32}\]`)

// ScrubText replaces each mobile number in s by its token
// "[phone *******5678 h:<hash>]" and hands each number's protected
// form to keep (nil: not kept), for the vault.
func (p *Protector) ScrubText(s string, keep func(Protected)) string {
	out, _ := p.scrubText(s, keep)
	return out
}

func (p *Protector) scrubText(s string, keep func(Protected)) (string, bool) {
	return replaceMobiles(s, func(local string) string {
		e164 := "+86" + local
		h, masked := p.Hash(e164), MaskPhone(e164)
		if keep != nil {
			keep(Protected{Hash: h, Masked: masked, Ciphertext: p.Encrypt(e164)})
		}
		return tokenPrefix + masked + " " + h + "]"
	})
}

// ScrubJSON scrubs a JSON document: every string (object keys included,
// and strings that hold JSON themselves) and every integer number, after
// JSON unescaping (so "\u0031\u0033..." is seen as the digits it is). raw
// is returned unchanged when it holds no mobile number; otherwise it is
// re-encoded (object keys then come sorted). raw that is not valid JSON
// is scrubbed as text.
func (p *Protector) ScrubJSON(raw []byte, keep func(Protected)) []byte {
	if len(raw) == 0 || !bytes.Contains(raw, []byte(`\u`)) && (fewPhoneDigits(raw) || !HasMobile(string(raw))) {
		return raw
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return []byte(p.ScrubText(string(raw), keep))
	}
	v, changed := p.scrubValue(v, keep)
	if !changed {
		return raw
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte(p.ScrubText(string(raw), keep)) // not expected: decoded values re-encode
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func (p *Protector) scrubValue(v any, keep func(Protected)) (any, bool) {
	switch x := v.(type) {
	case string:
		if t := strings.TrimSpace(x); len(t) > 1 && (t[0] == '{' || t[0] == '[') && json.Valid([]byte(t)) {
			if out := p.ScrubJSON([]byte(x), keep); !bytes.Equal(out, []byte(x)) {
				return string(out), true
			}
			return x, false
		}
		return p.scrubText(x, keep)
	case json.Number:
		if _, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			if out, changed := p.scrubText(string(x), keep); changed {
				return out, true
			}
		}
		return x, false
	case []any:
		changed := false
		for i, e := range x {
			var c bool
			if x[i], c = p.scrubValue(e, keep); c {
				changed = true
			}
		}
		return x, changed
	case map[string]any:
		changed := false
		for k, e := range x {
			nk, ck := p.scrubText(k, keep)
			ne, ce := p.scrubValue(e, keep)
			if ck {
				delete(x, k)
			}
			if ck || ce {
				x[nk] = ne
				changed = true
			}
		}
		return x, changed
	}
	return v, false
}

// unescapeDigits turns JSON \u escapes of digits, separators and '+' into
// the characters, so that a number hidden in escapes is seen as one.
func unescapeDigits(s string) string {
	if !strings.Contains(s, `\u`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+6 <= len(s) && s[i+1] == 'u' {
			if n, err := strconv.ParseUint(s[i+2:i+6], 16, 32); err == nil {
				if r := rune(n); isPhoneDigitRune(r) || isSeparatorRune(r) {
					b.WriteRune(r)
					i += 5
					continue
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ScrubPayload scrubs text that may be anything (a refused record's raw
// body): JSON escapes of digits are undone first, mobile numbers become
// tokens, and every other run of 7 or more digits (landlines, ID card
// numbers) is masked keeping only its last 4, tokens excepted.
// Numbers found are not kept in the vault.
func (p *Protector) ScrubPayload(s string) string {
	s = p.ScrubText(unescapeDigits(s), nil)
	locs := mobileToken.FindAllStringIndex(s, -1)
	var b strings.Builder
	last := 0
	for _, l := range locs {
		b.WriteString(MaskDigitRuns(s[last:l[0]]))
		b.WriteString(s[l[0]:l[1]])
		last = l[1]
	}
	b.WriteString(MaskDigitRuns(s[last:]))
	return b.String()
}

// MaskDigitRuns hides runs of 7 or more ASCII digits (landlines, ID card
// numbers), keeping only the last 4, as every mask does.
func MaskDigitRuns(s string) string {
	b := []byte(s)
	for i := 0; i < len(b); {
		j := i
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j-i >= 7 {
			for k := i; k < j-4; k++ {
				b[k] = '*'
			}
		}
		if j == i {
			j++
		}
		i = j
	}
	return string(b)
}

// MaskLogAttr is a slog.HandlerOptions.ReplaceAttr that masks mobile
// numbers in log messages and attributes (strings, errors, numbers and
// any other value as it would print), so that no log line carries one.
func MaskLogAttr(_ []string, a slog.Attr) slog.Attr {
	var s string
	switch a.Value.Kind() {
	case slog.KindString:
		s = a.Value.String()
	case slog.KindInt64, slog.KindUint64, slog.KindAny:
		s = fmt.Sprint(a.Value.Any())
	default:
		return a
	}
	if HasMobile(s) {
		a.Value = slog.StringValue(MaskMobiles(s))
	}
	return a
}
