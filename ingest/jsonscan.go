package ingest

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// A hand-written, one-pass JSON scanner for the request bodies of the
// events API (trackspec_scan.go). It validates exactly the grammar
// encoding/json accepts and hands out the byte spans of values, without
// reflection or copies. It never reports an error itself: any input it
// does not take (invalid JSON, nesting deeper than maxScanDepth, an
// escaped or case-folded key) makes the caller fall back to encoding/json,
// so answers to bad input stay byte for byte what they were.

// maxScanDepth bounds the scanner's nesting; deeper (still valid) input
// goes to encoding/json, whose limit is 10,000.
const maxScanDepth = 512

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipSpace returns the index of the first non-whitespace byte at or
// after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// scanString returns the index just past the string starting at b[i] (a
// quote) and whether it holds an escape; end is -1 if the string is not
// valid JSON (unterminated, a control character, a bad escape).
func scanString(b []byte, i int) (end int, escaped bool) {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, escaped
		case c < 0x20:
			return -1, false
		case c == '\\':
			escaped = true
			i++
			if i >= len(b) {
				return -1, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) || !isHex(b[i+1]) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) {
					return -1, false
				}
				i += 4
			default:
				return -1, false
			}
		}
	}
	return -1, false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// scanNumber returns the index just past the number at b[i], or -1.
func scanNumber(b []byte, i int) int {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	}
	return i
}

// scanValue returns the index just past the JSON value starting at b[i]
// (no leading whitespace), or -1 when there is none or it is invalid.
func scanValue(b []byte, i, depth int) int {
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '"':
		end, _ := scanString(b, i)
		return end
	case c == '{':
		return scanObject(b, i, depth+1, nil)
	case c == '[':
		return scanArray(b, i, depth+1, nil)
	case c == '-' || isDigit(c):
		return scanNumber(b, i)
	case c == 't':
		return scanLiteral(b, i, "true")
	case c == 'f':
		return scanLiteral(b, i, "false")
	case c == 'n':
		return scanLiteral(b, i, "null")
	}
	return -1
}

func scanLiteral(b []byte, i int, lit string) int {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit)
	}
	return -1
}

// scanObject scans the object at b[i] ('{'), calling member (when not nil)
// with each key's span (without quotes; escaped tells whether it holds an
// escape) and its value's span. It returns the index just past the object,
// or -1 when it is invalid or member returned false.
func scanObject(b []byte, i, depth int, member func(key []byte, escaped bool, value []byte) bool) int {
	i, done := opening(b, i, depth, '}')
	if done {
		return i
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return -1
		}
		kEnd, escaped := scanString(b, i)
		if kEnd < 0 {
			return -1
		}
		key := b[i+1 : kEnd-1]
		i = skipSpace(b, kEnd)
		if i >= len(b) || b[i] != ':' {
			return -1
		}
		vStart := skipSpace(b, i+1)
		vEnd := scanValue(b, vStart, depth)
		if vEnd < 0 {
			return -1
		}
		if member != nil && !member(key, escaped, b[vStart:vEnd]) {
			return -1
		}
		if i, done = afterValue(b, vEnd, '}'); done || i < 0 {
			return i
		}
	}
}

// opening reads past a container's opening byte at b[i]: the index of
// its first member or element and false, or the index past an empty
// container (or -1 past maxScanDepth) and true.
func opening(b []byte, i, depth int, closing byte) (int, bool) {
	if depth > maxScanDepth {
		return -1, true
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == closing {
		return i + 1, true
	}
	return i, false
}

// afterValue reads the separator after a member or element at b[i:]: the
// index of the next one and false after a comma, the index past the
// container and true at its closing byte, -1 otherwise.
func afterValue(b []byte, i int, closing byte) (int, bool) {
	i = skipSpace(b, i)
	switch {
	case i >= len(b):
		return -1, true
	case b[i] == ',':
		return skipSpace(b, i+1), false
	case b[i] == closing:
		return i + 1, true
	}
	return -1, true
}

// scanArray scans the array at b[i] ('['), calling elem (when not nil)
// with each element's span; like scanObject otherwise.
func scanArray(b []byte, i, depth int, elem func(value []byte) bool) int {
	i, done := opening(b, i, depth, ']')
	if done {
		return i
	}
	for {
		vEnd := scanValue(b, i, depth)
		if vEnd < 0 {
			return -1
		}
		if elem != nil && !elem(b[i:vEnd]) {
			return -1
		}
		if i, done = afterValue(b, vEnd, ']'); done || i < 0 {
			return i
		}
	}
}

// isNull tells whether a value's span is the literal null.
func isNull(v []byte) bool { return len(v) == 4 && string(v) == "null" }

// stringValue decodes a JSON value span into dst as encoding/json decodes
// it into a string field: a string is stored, null leaves dst as it is.
// Any other value is refused (false). A string with escapes or invalid
// UTF-8 is decoded by encoding/json itself (U+FFFD for bad bytes).
func stringValue(v []byte, dst *string) bool {
	if isNull(v) {
		return true
	}
	if len(v) < 2 || v[0] != '"' {
		return false
	}
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		*dst = string(inner)
		return true
	}
	return json.Unmarshal(v, dst) == nil
}

// keyIndex returns the index of key in names, -1 when no name is the
// key, and -2 when none is exactly the key but encoding/json would match
// one case-insensitively (or an escape might spell one): the caller
// falls back to encoding/json.
func keyIndex(key []byte, escaped bool, names []string) int {
	for n, name := range names {
		if string(key) == name {
			return n
		}
	}
	if escaped {
		return -2
	}
	for _, name := range names {
		if bytes.EqualFold(key, []byte(name)) {
			return -2
		}
	}
	return -1
}
