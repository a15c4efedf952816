package demand

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/granarycdp/cdp/schema"
)

// Granularities of a series.
const (
	Hour = "hour"
	Day  = "day"
)

// SeriesQuery selects one demand series. Class or SKU names what (a SKU
// has order demand only: signals are per class); Province and City, when
// set, narrow the region (empty: summed over it). Granularity is hour
// (UTC hours) or day (Beijing days); From and To bound it, [From, To).
type SeriesQuery struct {
	Class       string    `json:"class"`
	SKU         string    `json:"sku"`
	Province    string    `json:"province"`
	City        string    `json:"city"`
	Granularity string    `json:"granularity"`
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
}

// Point is a series' value in one bucket: signals by source and order
// demand (units and amount in yuan of valid order lines).
type Point struct {
	At     time.Time `json:"at"`
	Search uint64    `json:"search"`
	View   uint64    `json:"view"`
	Chat   uint64    `json:"chat"`
	Units  float64   `json:"units"`
	Amount float64   `json:"amount"`
}

// maxBuckets bounds a series read.
const maxBuckets = 24 * 400

func (q *SeriesQuery) validate() error {
	switch {
	case (q.Class == "") == (q.SKU == ""):
		return invalid("class", "give a class or a sku, not both")
	case q.Granularity != Hour && q.Granularity != Day:
		return invalid("granularity", "must be hour or day")
	case q.From.IsZero() || !q.To.After(q.From):
		return invalid("to", "must be after from")
	}
	step := time.Hour
	if q.Granularity == Day {
		step = 24 * time.Hour
	}
	if q.To.Sub(q.From)/step > maxBuckets {
		return invalid("from", "at most %d buckets", maxBuckets)
	}
	return nil
}

// Series reads one demand series, one Point per bucket with data, in time
// order (buckets without any are left out).
func (s *Service) Series(ctx context.Context, q SeriesQuery) ([]Point, error) {
	if err := q.validate(); err != nil {
		return nil, err
	}
	bucket := func(hour string) string {
		return "toDateTime(" + schema.BeijingDate(hour) + ", '" + schema.BeijingName + "')"
	}
	if q.Granularity == Hour {
		bucket = func(hour string) string { return hour }
	}
	where, args := "hour >= ? AND hour < ?", []any{q.From, q.To}
	for _, f := range []struct{ col, v string }{{"class", q.Class}, {"province", q.Province}, {"city", q.City}} {
		if f.v != "" {
			where += " AND " + f.col + " = ?"
			args = append(args, f.v)
		}
	}
	orderWhere, orderArgs := where, append([]any(nil), args...)
	if q.SKU != "" {
		orderWhere += " AND sku = ?"
		orderArgs = append(orderArgs, q.SKU)
	}
	sql := "SELECT toDateTime(b, 'UTC'), sum(se), sum(vi), sum(ch), sum(un), sum(am) FROM (\n"
	if q.SKU == "" {
		sql += "SELECT " + bucket("hour") + " AS b, sumIf(signals, source = 'search') AS se, sumIf(signals, source = 'view') AS vi, " +
			"sumIf(signals, source = 'chat') AS ch, 0. AS un, 0. AS am FROM " + s.db.Table("demand_signals_hourly") + " WHERE " + where + " GROUP BY b\nUNION ALL\n"
	} else {
		args = nil
	}
	sql += "SELECT " + bucket("hour") + " AS b, toUInt64(0), toUInt64(0), toUInt64(0), sum(units), sum(amount) FROM " +
		schema.DemandOrders(s.db.Table, "o.ordered_at >= ? - INTERVAL 1 DAY AND o.ordered_at < ? + INTERVAL 1 DAY") +
		" WHERE " + orderWhere + " GROUP BY b) GROUP BY b ORDER BY b"
	all := append(append(args, q.From, q.To), orderArgs...)
	rows, err := s.db.Conn.Query(ctx, sql, all...)
	if err != nil {
		return nil, fmt.Errorf("demand: read series: %w", err)
	}
	defer rows.Close()
	var out []Point
	for rows.Next() {
		var p Point
		if err := rows.Scan(&p.At, &p.Search, &p.View, &p.Chat, &p.Units, &p.Amount); err != nil {
			return nil, fmt.Errorf("demand: read series: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("demand: read series: %w", err)
	}
	return out, nil
}

// Key names a daily series of the matrix: a class in a region (Province
// and City empty for the nation, City empty for a whole province).
type Key struct {
	Class    string `json:"class"`
	Province string `json:"province"`
	City     string `json:"city"`
}

// Daily is a matrix of daily series: for each key, one count per 24-hour
// window from Start (Beijing days when Start is a Beijing midnight; any
// hour for rolling windows): searches plus views plus chats, the demand
// signal.
type Daily struct {
	Start  time.Time
	Days   int
	Series map[Key][]float64
	cal    []nearDay
}

// Levels of a matrix: every city, every province, or the nation.
const (
	LevelCity     = "city"
	LevelProvince = "province"
	LevelNation   = "nation"
)

// Signals reads the signal counts of every class at a level in the
// 24-hour windows from start (truncated to its hour), days of them: the
// input of surge detection. A Beijing midnight start gives Beijing days.
func (s *Service) Signals(ctx context.Context, level string, start time.Time, days int) (*Daily, error) {
	region := map[string]string{LevelCity: "province, city", LevelProvince: "province, ''", LevelNation: "'', ''"}[level]
	if region == "" {
		return nil, invalid("level", "must be city, province or nation")
	}
	series, err := s.cells(ctx, "signals", region, level != LevelNation, start, 24, days, nil)
	if err != nil {
		return nil, err
	}
	return &Daily{Start: start.Truncate(time.Hour), Days: days, Series: series}, nil
}

// CitySignalsHourly reads the hourly signal counts of every class and
// city for the hours [start, start+hours) (start truncated to its hour).
func (s *Service) CitySignalsHourly(ctx context.Context, start time.Time, hours int) (*Hourly, error) {
	series, err := s.cells(ctx, "hourly signals", "province, city", true, start, 1, hours, nil)
	if err != nil {
		return nil, err
	}
	return &Hourly{Start: start.Truncate(time.Hour), Hours: hours, Series: series}, nil
}

// OrderUnits reads the units ordered (valid orders) of every class and
// city in the 24-hour windows from start, days of them.
func (s *Service) OrderUnits(ctx context.Context, start time.Time, days int) (*Daily, error) {
	series, err := s.cells(ctx, "order units", "province, city", true, start, 24, days, &orderCells)
	if err != nil {
		return nil, err
	}
	return &Daily{Start: start.Truncate(time.Hour), Days: days, Series: series}, nil
}

// cellSource is what cells reads: a FROM expression of rows with hour,
// class, province and city, its value column, and whether the FROM takes
// the range's bounds as two leading arguments.
type cellSource struct {
	from   func(s *Service) string
	value  string
	bounds bool
}

var (
	signalCells = cellSource{from: func(s *Service) string { return s.db.Table("demand_signals_hourly") }, value: "signals"}
	orderCells  = cellSource{from: func(s *Service) string {
		return schema.DemandOrders(s.db.Table, "o.ordered_at >= toDateTime(?, 'UTC') AND o.ordered_at < toDateTime(?, 'UTC')")
	}, value: "units", bounds: true}
)

// cells reads counts per class and region (the region columns'
// expressions; located: only rows with a province) in n buckets of width
// hours from start (truncated to its hour), from src (signals when nil).
func (s *Service) cells(ctx context.Context, what, region string, located bool, start time.Time, width, n int, src *cellSource) (map[Key][]float64, error) {
	if src == nil {
		src = &signalCells
	}
	start = start.Truncate(time.Hour)
	q := "SELECT class, " + region + ", toUInt32(intDiv(toUnixTimestamp(hour) - ?, ?)) AS b, toFloat64(sum(" + src.value + ")) FROM " +
		src.from(s) + " WHERE hour >= toDateTime(?, 'UTC') AND hour < toDateTime(?, 'UTC')"
	if located {
		q += " AND province != ''"
	}
	q += " GROUP BY 1, 2, 3, b"
	end := start.Add(time.Duration(width*n) * time.Hour)
	args := []any{start.Unix(), width * 3600}
	if src.bounds {
		args = append(args, start.Unix(), end.Unix())
	}
	rows, err := s.db.Conn.Query(ctx, q, append(args, start.Unix(), end.Unix())...)
	if err != nil {
		return nil, fmt.Errorf("demand: read %s: %w", what, err)
	}
	defer rows.Close()
	out := map[Key][]float64{}
	for rows.Next() {
		var k Key
		var b uint32
		var c float64
		if err := rows.Scan(&k.Class, &k.Province, &k.City, &b, &c); err != nil {
			return nil, fmt.Errorf("demand: read %s: %w", what, err)
		}
		if out[k] == nil {
			out[k] = make([]float64, n)
		}
		out[k][b] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("demand: read %s: %w", what, err)
	}
	return out, nil
}

// Keys returns the matrix's keys in order.
func (d *Daily) Keys() []Key {
	keys := make([]Key, 0, len(d.Series))
	for k := range d.Series {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.Class != b.Class {
			return a.Class < b.Class
		}
		if a.Province != b.Province {
			return a.Province < b.Province
		}
		return a.City < b.City
	})
	return keys
}

// beijing is the zone of days.
var beijing = schema.Beijing

// beijingDay is the start of t's Beijing day.
func beijingDay(t time.Time) time.Time {
	b := t.In(beijing)
	return time.Date(b.Year(), b.Month(), b.Day(), 0, 0, 0, 0, beijing)
}
