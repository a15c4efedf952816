package demand

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The regressor CSV (docs/demand.md): a header naming the columns name,
// date, province, city, class and value (in any order; city and class may
// be left out), then one value a line:
//
//	name,date,province,city,class,value
//	promo,2026-12-12,四川,,高油酸花生油,1
//	rain_mm,2026-12-12,四川,成都,,12.5

// RegressorColumns are the regressor CSV's columns.
var RegressorColumns = []string{"name", "date", "province", "city", "class", "value"}

// MaxRegressorRows bounds one file: a year of daily values for every city
// of a large catalogue and a few names (400 cities × 366 days × 3).
const MaxRegressorRows = 500_000

// regressorName is what a regressor's name may be: it names a fitted
// effect in forecasts and the API.
var regressorName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// ParseRegressorCSV reads and checks a whole regressor CSV. A bad line is
// an *InvalidError whose Field names its line and column ("line 7:
// date"); a value given twice for the same name, day, region and class is
// one. Nothing is returned unless every line is good.
func ParseRegressorCSV(r io.Reader) ([]RegressorValue, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	col, width, err := readRegressorHeader(cr)
	if err != nil {
		return nil, err
	}
	var out []RegressorValue
	seen := regressorDays{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvError(err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line
		}
		if len(out) == MaxRegressorRows {
			return nil, invalid(fmt.Sprintf("line %d", line), "more than %d values: split the file", MaxRegressorRows)
		}
		if len(rec) != width {
			return nil, invalid(fmt.Sprintf("line %d", line), "%d columns, the header has %d", len(rec), width)
		}
		l := regressorLine{rec: rec, col: col, line: line}
		v, err := l.value()
		if err != nil {
			return nil, err
		}
		if err := seen.add(v, l); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, invalid("line 2", "the file has a header but no values")
	}
	return out, nil
}

// readRegressorHeader reads the regressor CSV's header: the index of each
// column by its name (trimmed, lower-case, without a byte order mark)
// and the number of columns, every line's width. Each column is known and
// at most once; name, date, province and value are required.
func readRegressorHeader(cr *csv.Reader) (col map[string]int, width int, err error) {
	header, err := cr.Read()
	if err == io.EOF {
		return nil, 0, invalid("line 1", "the file is empty: it needs a header (%s)", strings.Join(RegressorColumns, ","))
	}
	if err != nil {
		return nil, 0, csvError(err)
	}
	col = map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if _, dup := col[h]; dup {
			return nil, 0, invalid("line 1: "+h, "column %q appears twice", h)
		}
		col[h] = i
	}
	for _, need := range []string{"name", "date", "province", "value"} {
		if _, ok := col[need]; !ok {
			return nil, 0, invalid("line 1: "+need, "the header has no %q column (columns: %s)", need, strings.Join(RegressorColumns, ","))
		}
	}
	for h := range col {
		if !isRegressorColumn(h) {
			return nil, 0, invalid("line 1: "+h, "unknown column %q (columns: %s)", h, strings.Join(RegressorColumns, ","))
		}
	}
	return col, len(header), nil
}

// regressorLine is a line of the regressor CSV (its number in the file),
// its fields found by the header's column indexes.
type regressorLine struct {
	rec  []string
	col  map[string]int
	line int
}

// get is the line's value of column c, trimmed; "" when the header has
// no such column.
func (l regressorLine) get(c string) string {
	if i, ok := l.col[c]; ok && i < len(l.rec) {
		return strings.TrimSpace(l.rec[i])
	}
	return ""
}

// field names column c of the line in an *InvalidError ("line 7: date").
func (l regressorLine) field(c string) string { return fmt.Sprintf("line %d: %s", l.line, c) }

// value checks the line's fields and returns them as a value.
func (l regressorLine) value() (RegressorValue, error) {
	v := RegressorValue{Name: l.get("name"), Province: l.get("province"), City: l.get("city"), Class: l.get("class")}
	if !regressorName.MatchString(v.Name) {
		return v, invalid(l.field("name"), "%q: a name is 1-40 lower-case letters, digits or _, starting with a letter (promo, rain_mm)", v.Name)
	}
	day, err := time.ParseInLocation(time.DateOnly, l.get("date"), beijing)
	if err != nil {
		return v, invalid(l.field("date"), "%q is not a date (YYYY-MM-DD, a Beijing day)", l.get("date"))
	}
	v.Date = day
	for _, c := range []string{"province", "city", "class"} {
		if s := l.get(c); utf8.RuneCountInString(s) > 64 || !utf8.ValidString(s) {
			return v, invalid(l.field(c), "must be UTF-8 text of at most 64 characters (save the file as UTF-8)")
		}
	}
	if v.City != "" && v.Province == "" {
		return v, invalid(l.field("province"), "a city's value needs its province")
	}
	x, err := strconv.ParseFloat(l.get("value"), 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) > 1e9 {
		return v, invalid(l.field("value"), "%q is not a number", l.get("value"))
	}
	v.Value = x
	return v, nil
}

// regressorDays are the values read so far: the line of each one by its
// name, region and class, then its day.
type regressorDays map[regressorScope]map[int32]int

// add records v, read from line l; an error naming the earlier line when
// the file already gave a value for v's name, day, region and class.
func (s regressorDays) add(v RegressorValue, l regressorLine) error {
	scope := regressorScope{v.Name, v.Province, v.City, v.Class}
	if s[scope] == nil {
		s[scope] = map[int32]int{}
	}
	day := epochDay(v.Date)
	if first, dup := s[scope][day]; dup {
		return invalid(l.field("date"), "%s on %s for this region and class is already on line %d", v.Name, l.get("date"), first)
	}
	s[scope][day] = l.line
	return nil
}

func isRegressorColumn(h string) bool {
	for _, c := range RegressorColumns {
		if c == h {
			return true
		}
	}
	return false
}

// csvError is a malformed CSV line as an *InvalidError naming it.
func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return invalid(fmt.Sprintf("line %d", pe.StartLine), "%v", pe.Err)
	}
	return fmt.Errorf("demand: read regressor CSV: %w", err)
}
