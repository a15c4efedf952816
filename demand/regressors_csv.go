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
	header, err := cr.Read()
	if err == io.EOF {
		return nil, invalid("line 1", "the file is empty: it needs a header (%s)", strings.Join(RegressorColumns, ","))
	}
	if err != nil {
		return nil, csvError(err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if _, dup := col[h]; dup {
			return nil, invalid("line 1: "+h, "column %q appears twice", h)
		}
		col[h] = i
	}
	for _, need := range []string{"name", "date", "province", "value"} {
		if _, ok := col[need]; !ok {
			return nil, invalid("line 1: "+need, "the header has no %q column (columns: %s)", need, strings.Join(RegressorColumns, ","))
		}
	}
	for h := range col {
		if !isRegressorColumn(h) {
			return nil, invalid("line 1: "+h, "unknown column %q (columns: %s)", h, strings.Join(RegressorColumns, ","))
		}
	}
	var out []RegressorValue
	seen := map[regressorScope]map[int32]int{}
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
			continue
		}
		if len(out) == MaxRegressorRows {
			return nil, invalid(fmt.Sprintf("line %d", line), "more than %d values: split the file", MaxRegressorRows)
		}
		get := func(c string) string {
			if i, ok := col[c]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		field := func(c string) string { return fmt.Sprintf("line %d: %s", line, c) }
		if len(rec) != len(header) {
			return nil, invalid(fmt.Sprintf("line %d", line), "%d columns, the header has %d", len(rec), len(header))
		}
		v := RegressorValue{Name: get("name"), Province: get("province"), City: get("city"), Class: get("class")}
		if !regressorName.MatchString(v.Name) {
			return nil, invalid(field("name"), "%q: a name is 1-40 lower-case letters, digits or _, starting with a letter (promo, rain_mm)", v.Name)
		}
		day, err := time.ParseInLocation(time.DateOnly, get("date"), beijing)
		if err != nil {
			return nil, invalid(field("date"), "%q is not a date (YYYY-MM-DD, a Beijing day)", get("date"))
		}
		v.Date = day
		for _, c := range []string{"province", "city", "class"} {
			if s := get(c); utf8.RuneCountInString(s) > 64 || !utf8.ValidString(s) {
				return nil, invalid(field(c), "must be UTF-8 text of at most 64 characters (save the file as UTF-8)")
			}
		}
		if v.City != "" && v.Province == "" {
			return nil, invalid(field("province"), "a city's value needs its province")
		}
		x, err := strconv.ParseFloat(get("value"), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) > 1e9 {
			return nil, invalid(field("value"), "%q is not a number", get("value"))
		}
		v.Value = x
		s := regressorScope{v.Name, v.Province, v.City, v.Class}
		if seen[s] == nil {
			seen[s] = map[int32]int{}
		}
		if first, dup := seen[s][epochDay(day)]; dup {
			return nil, invalid(field("date"), "%s on %s for this region and class is already on line %d", v.Name, get("date"), first)
		}
		seen[s][epochDay(day)] = line
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, invalid("line 2", "the file has a header but no values")
	}
	return out, nil
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
