package ingest

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// The events table's topic, keyword and completion columns have DEFAULT
// expressions that read them from the row's properties
// (JSONExtractString(properties, 'topic'), JSONExtractString(properties,
// 'keyword'), JSONExtractFloat(properties, 'completion_ratio'), as Float32).
// Left to the engine, every inserted row's JSON is parsed three times more.
// The pipeline sends the three values itself, computed here in one pass over
// the properties, when it is sure to compute exactly what the engine would;
// the DEFAULT stays for every other writer.
//
// derivedColumns takes only the shapes whose answer is certain: a valid JSON
// object in valid UTF-8 (no escaped surrogates anywhere: the engine's parser
// refuses a lone one, and the whole document with it), whose top-level keys
// carry no escape, whose topic and keyword are strings or null or absent
// (the first of repeated keys counts, as in the engine), and whose
// completion_ratio is a number the engine reads as a double (an integer of
// 64 bits, or a decimal that neither overflows nor underflows), or is
// absent, null, a boolean, an array or an object (all 0). Anything else
// (a topic that is a number, which the engine answers with the number's
// text; a ratio given as a string, which the engine parses its own way; an
// invalid document) reports ok false, and the batch holding it is inserted
// without the three columns, so the engine computes them as before.
// TestDerivedColumnsMatchTheEngine compares both on odd inputs.
func derivedColumns(props []byte) (topic, keyword string, completion float32, ok bool) {
	if len(props) == 0 {
		return "", "", 0, false
	}
	if !utf8.Valid(props) {
		return "", "", 0, false
	}
	start := skipSpace(props, 0)
	if start >= len(props) || props[start] != '{' {
		return "", "", 0, false
	}
	var seenTopic, seenKeyword, seenRatio bool
	ok = true
	end := scanObject(props, start, 1, func(key []byte, escaped bool, v []byte) bool {
		if escaped {
			ok = false
			return false
		}
		switch string(key) {
		case "topic":
			if !seenTopic {
				seenTopic = true
				topic, ok = derivedString(v)
			}
		case "keyword":
			if !seenKeyword {
				seenKeyword = true
				keyword, ok = derivedString(v)
			}
		case "completion_ratio":
			if !seenRatio {
				seenRatio = true
				completion, ok = derivedFloat(v)
			}
		}
		return ok
	})
	if !ok || end < 0 || skipSpace(props, end) != len(props) {
		return "", "", 0, false
	}
	if bytes.Contains(props, []byte(`\ud`)) || bytes.Contains(props, []byte(`\uD`)) {
		return "", "", 0, false // an escaped surrogate, maybe lone: the engine's call
	}
	return topic, keyword, completion, true
}

// derivedString is JSONExtractString of a value span when it is a string
// (unescaped) or null (""); ok is false for any other value.
func derivedString(v []byte) (string, bool) {
	if isNull(v) {
		return "", true
	}
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), true
	}
	if bytes.Contains(inner, []byte(`\ud`)) || bytes.Contains(inner, []byte(`\uD`)) {
		return "", false
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return "", false
	}
	return s, true
}

// derivedFloat is JSONExtractFloat of a value span, as Float32: a number
// read as the engine reads it, 0 for null, booleans, arrays and objects;
// ok is false for a string (parsed by the engine's own rules) and for a
// number the engine's parser may refuse or read otherwise (an integer
// beyond 64 bits, a decimal that overflows or underflows a double).
func derivedFloat(v []byte) (float32, bool) {
	switch c := v[0]; {
	case c == '"':
		return 0, false
	case c == '-' || isDigit(c):
	default:
		return 0, true // null, true, false, [...], {...}
	}
	s := string(v)
	if bytes.IndexAny(v, ".eE") < 0 {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return float32(float64(i)), true
		}
		if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return float32(float64(u)), true
		}
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || f == 0 && bytes.ContainsAny(bytes.TrimLeft(mantissa(v), "-0."), "123456789") {
		return 0, false
	}
	return float32(f), true
}

// mantissa is a number's span before its exponent.
func mantissa(v []byte) []byte {
	if i := bytes.IndexAny(v, "eE"); i >= 0 {
		return v[:i]
	}
	return v
}
