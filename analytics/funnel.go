package analytics

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/segments"
)

var propertyKey = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,63}$`)

// BucketSeconds are the edges of the time-to-convert distribution; the
// last bucket runs to the window's end.
var BucketSeconds = []int64{0, 60, 600, 3600, 6 * 3600, 86400, 3 * 86400, 7 * 86400, 14 * 86400, 30 * 86400}

// FunnelSeries is a funnel's counts, for everyone or one breakdown value.
type FunnelSeries struct {
	// Value is the breakdown value ("" for the total, and for persons
	// without a value in a breakdown).
	Value string `json:"value"`
	// Persons[k] reached step k+1.
	Persons []uint64 `json:"persons"`
	// MedianSeconds[k] is the median time from step 1 to step k+1 of
	// those who reached it (0 for step 1).
	MedianSeconds []float64 `json:"median_seconds"`
	// TimeToConvert[j] counts persons who reached the last step within
	// [BucketSeconds[j], BucketSeconds[j+1]) of the first.
	TimeToConvert []uint64 `json:"time_to_convert"`
}

// FunnelResult is a funnel's answer.
type FunnelResult struct {
	Steps         []string       `json:"steps"`
	Total         FunnelSeries   `json:"total"`
	Breakdown     []FunnelSeries `json:"breakdown"`
	BucketSeconds []int64        `json:"bucket_seconds"`
	Meta
}

// Funnel computes a funnel, from the cache when the same definition was
// computed within the cache's age (refresh: never).
func (s *Service) Funnel(ctx context.Context, f Funnel, refresh bool) (FunnelResult, error) {
	r, err := s.prepare(&f)
	if err != nil {
		return FunnelResult{}, err
	}
	res, meta, err := cached(s, keyOf("funnel", f), refresh, func() (FunnelResult, error) { return s.funnel(ctx, f, r) })
	res.Meta = meta
	return res, err
}

// Normalize checks a funnel and fills its defaults (the range, window,
// order and step labels), as Funnel and FunnelPeople do.
func (s *Service) Normalize(f *Funnel) error {
	_, err := s.prepare(f)
	return err
}

func (s *Service) prepare(f *Funnel) (dateRange, error) {
	r, err := s.parseRange(f.From, f.To, 30)
	if err != nil {
		return r, err
	}
	if err := f.normalize(); err != nil {
		return r, err
	}
	f.From, f.To = r.from.Format(dateLayout), r.to.Format(dateLayout)
	return r, nil
}

func (s *Service) funnel(ctx context.Context, f Funnel, r dateRange) (FunnelResult, error) {
	res := FunnelResult{BucketSeconds: append(BucketSeconds, int64(f.WindowHours)*3600), Breakdown: []FunnelSeries{}}
	for _, st := range f.Steps {
		res.Steps = append(res.Steps, st.Label)
	}
	total, err := s.funnelSeries(ctx, f, r, "")
	if err != nil {
		return res, err
	}
	if len(total) == 1 {
		res.Total = total[0]
	} else {
		res.Total = emptySeries(len(f.Steps))
	}
	if f.Breakdown != "" {
		b, err := s.funnelSeries(ctx, f, r, f.Breakdown)
		if err != nil {
			return res, err
		}
		res.Breakdown = append(res.Breakdown, b...)
	}
	return res, nil
}

func emptySeries(n int) FunnelSeries {
	return FunnelSeries{Persons: make([]uint64, n), MedianSeconds: make([]float64, n), TimeToConvert: make([]uint64, len(BucketSeconds))}
}

// funnelSeries runs the funnel grouped by a breakdown ("" for one row).
func (s *Service) funnelSeries(ctx context.Context, f Funnel, r dateRange, breakdown string) ([]FunnelSeries, error) {
	var p params
	people, err := s.funnelPeople(ctx, &p, f, r, breakdown)
	if err != nil {
		return nil, err
	}
	// Each aggregate reads level and times once, through arrays over the
	// steps and buckets: ClickHouse evaluates a subquery's expression once
	// per reference, and times is the costly one.
	n := len(f.Steps)
	edges := append(append([]int64(nil), BucketSeconds...), int64(f.WindowHours)*3600+1)
	var ms []string
	for _, e := range edges {
		ms = append(ms, strconv.FormatInt(e*1000, 10))
	}
	q := fmt.Sprintf(`SELECT b, sumForEach(arrayMap(k -> toUInt64(level >= k), range(1, %[1]d))),
	arrayMap(x -> ifNull(x, 0) / 1000, quantileExactForEach(0.5)(arrayMap(k -> if(level >= k, toNullable(times[k]), NULL), range(1, %[1]d)))),
	sumForEach(arrayMap(j -> toUInt64(level = %[2]d AND times[%[2]d] >= e[j] AND times[%[2]d] < e[j + 1]), range(1, %[3]d)))
FROM (SELECT b, level, times, [%[4]s] AS e FROM %[5]s) GROUP BY b ORDER BY count() DESC, b LIMIT 200`, n+1, n, len(BucketSeconds)+1, strings.Join(ms, ", "), people)
	rows, err := s.db.Conn.Query(s.readContext(ctx), q, p.list...)
	if err != nil {
		return nil, fmt.Errorf("analytics: funnel: %w", err)
	}
	defer rows.Close()
	var out []FunnelSeries
	for rows.Next() {
		var fs FunnelSeries
		if err := rows.Scan(&fs.Value, &fs.Persons, &fs.MedianSeconds, &fs.TimeToConvert); err != nil {
			return nil, fmt.Errorf("analytics: funnel: %w", err)
		}
		out = append(out, fs)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("analytics: funnel: %w", err)
	}
	return out, nil
}

// Outcomes of a funnel step whose people are saved.
const (
	Converted = "converted"
	Dropped   = "dropped"
)

// FunnelPeople returns the persons of a step of a funnel: converted (who
// reached step, 1-based) or dropped (who reached the step before but not
// this one), of one breakdown value when value is not nil. They are the
// persons the funnel counts for that step (Persons[step-1], or
// Persons[step-2] - Persons[step-1]).
func (s *Service) FunnelPeople(ctx context.Context, f Funnel, step int, outcome string, value *string) (*roaring.Bitmap, error) {
	r, err := s.prepare(&f)
	if err != nil {
		return nil, err
	}
	cond := ""
	switch {
	case step < 1 || step > len(f.Steps):
		return nil, invalid("step", "a step from 1 to %d, not %d", len(f.Steps), step)
	case outcome == Converted:
		cond = "level >= " + strconv.Itoa(step)
	case outcome == Dropped && step >= 2:
		cond = "level = " + strconv.Itoa(step-1)
	case outcome == Dropped:
		return nil, invalid("step", "nobody drops at the first step: the funnel counts only those who did it")
	default:
		return nil, invalid("outcome", "converted or dropped, not %q", outcome)
	}
	breakdown := ""
	var p params
	if value != nil {
		breakdown = f.Breakdown
		if breakdown == "" {
			return nil, invalid("value", "a breakdown value needs a funnel with a breakdown")
		}
	}
	people, err := s.funnelPeople(ctx, &p, f, r, breakdown)
	if err != nil {
		return nil, err
	}
	if value != nil {
		cond += " AND b = " + p.add("String", *value)
	}
	var state []byte
	if err := s.db.Conn.QueryRow(s.readContext(ctx), "SELECT toString(groupBitmapState(c)) FROM "+people+" WHERE "+cond, p.list...).Scan(&state); err != nil {
		return nil, fmt.Errorf("analytics: funnel people: %w", err)
	}
	return segments.DecodeGroupBitmap(state)
}

// funnelPeople is the subquery of one row per person who did the first
// step (any step, in any order) in the range: c (the OneID), level (the
// steps reached), times (ms from the first step to each step reached)
// and b (the breakdown value).
func (s *Service) funnelPeople(ctx context.Context, p *params, f Funnel, r dateRange, breakdown string) (string, error) {
	n := len(f.Steps)
	w := int64(f.WindowHours) * 3600 * 1000
	from, to := r.from.UnixMilli(), r.to.AddDate(0, 0, 1).UnixMilli()
	facts := s.funnelFacts(p, f, from, to, w, false)
	// Only persons who entered (did a first step in the range; in any
	// order, any step before its end) can have an attempt: their OneIDs
	// are found first from the entry actions alone, so that the arrays
	// below are built for them only and not for everyone who did a later
	// step (at 10M persons: 0.7M entered of 3.7M with an action).
	entered := "(SELECT " + schema.OneIDOf("e") + " FROM " + s.funnelFacts(p, f, from, to, w, true) + " AS e " + schema.OneIDJoin(s.db.Table, "e") + ")"
	var ts []string
	for k := 1; k <= n; k++ {
		ts = append(ts, fmt.Sprintf("arraySort(groupArrayIf(f.t, f.m%d))", k))
	}
	wf, chEntry := fmt.Sprintf("windowFunnel(%d)", w), "argMinIf(f.ch, f.t, f.m1)"
	if f.Order == OrderStrict {
		wf = fmt.Sprintf("windowFunnel(%d, 'strict_order')", w)
	}
	var conds []string
	for k := 1; k <= n; k++ {
		conds = append(conds, fmt.Sprintf("f.m%d", k))
	}
	wf += "(toUInt64(f.t), " + strings.Join(conds, ", ") + ")"
	if f.Order == OrderAny {
		wf, chEntry = "0", "argMin(f.ch, f.t)"
	}
	inner := "SELECT " + schema.OneIDOf("f") + " AS c, toUInt8(" + wf + ") AS wf, [" + strings.Join(ts, ", ") + "] AS ts, " +
		"arraySort(groupArrayIf(f.t, f.x)) AS tx, " + chEntry + " AS ch\nFROM " + facts + " AS f " + schema.OneIDJoin(s.db.Table, "f") +
		"\nWHERE c IN " + entered + "\nGROUP BY c"
	level := "wf"
	if f.Order == OrderAny {
		level = "lvl"
	}
	// attempts: per start, the times of the steps reached from it; best:
	// the earliest start reaching the most steps.
	q := "(SELECT c, " + level + " AS level, arrayMap(x -> x - best[1], best) AS times, ch, " + attemptsSQL(f.Order, w, to) + ",\n" +
		"    arrayMap(a -> length(a), attempts) AS lens, arrayMax(lens) AS lvl, attempts[indexOf(lens, lvl)] AS best,\n" +
		"    arrayExists(u -> u >= best[1] AND u <= if(lvl >= " + strconv.Itoa(n) + ", best[-1], best[1] + " + strconv.FormatInt(w, 10) + "), tx) AS excluded\n" +
		"FROM (" + inner + ") WHERE length(attempts) > 0 AND NOT excluded)"
	return s.withBreakdown(ctx, p, q, breakdown, f.Segments)
}

// attemptsSQL is the per-start attempts: in order, each step's earliest
// time after the previous step's within the window from the start; in
// any order, the earliest time of each step within the window, sorted.
func attemptsSQL(order string, w, to int64) string {
	win := strconv.FormatInt(w, 10)
	if order == OrderAny {
		return "arrayMap(s -> arraySort(arrayFilter(x -> x >= 0, arrayMap(tk -> ifNull(arrayFirstOrNull(u -> u >= s AND u <= s + " + win +
			", tk), -1), ts))), arrayFilter(x -> x < " + strconv.FormatInt(to, 10) + ", arraySort(arrayFlatten(ts)))) AS attempts"
	}
	return "arrayMap(s -> arrayFilter(x -> x >= 0, arrayFold((acc, tk) -> if(acc[-1] < 0, acc, arrayPushBack(acc, ifNull(arrayFirstOrNull(u -> u >= acc[-1] AND u <= s + " +
		win + ", tk), -1))), arrayPopFront(ts), [s])), ts[1]) AS attempts"
}

// funnelFacts is the union of the actions of the funnel's kinds in the
// range (the first step in [from, to), the rest up to to + w): the raw
// person_id, t (ms), ch (channel) and m1..mn, x (which steps and the
// exclusion the action matches). With entry, only the actions an attempt
// can start from: first steps (any step before to in any order).
func (s *Service) funnelFacts(p *params, f Funnel, from, to, w int64, entry bool) string {
	var parts []string
	starts := f.Steps[:1]
	if f.Order == OrderAny {
		starts = f.Steps
	}
	for _, src := range schema.ActionSources(s.db.Table) {
		used, lines := false, false
		kinds := append(append([]Step(nil), f.Steps...), exclusionSteps(f)...)
		if entry {
			kinds = starts
		}
		for _, st := range kinds {
			if st.Kind == src.Kind {
				used = true
				for _, fl := range st.Filters {
					_, isLine := lineFields[fl.Field]
					lines = lines || (src.Kind == "order" && isLine)
				}
			}
		}
		if !used {
			continue
		}
		var ms []string
		for k, st := range f.Steps {
			c := stepCond(p, src, st)
			if k == 0 && f.Order != OrderAny {
				c = "(" + c + ") AND " + src.TS + " < fromUnixTimestamp64Milli(" + strconv.FormatInt(to, 10) + ")"
			}
			ms = append(ms, "toUInt8("+c+") AS m"+strconv.Itoa(k+1))
		}
		x := "0"
		if f.Exclusion != nil {
			x = stepCond(p, src, *f.Exclusion)
		}
		q := "SELECT a.person_id AS person_id, toInt64(toUnixTimestamp64Milli(" + src.TS + ")) AS t, " + src.Channel + " AS ch, " +
			strings.Join(ms, ", ") + ", toUInt8(" + x + ") AS x\n    FROM " + src.Table
		if lines {
			q += " LEFT JOIN " + schema.OrderCategories(s.db.Table) + " AS oc ON oc.channel = a.channel AND oc.order_id = a.order_id"
		}
		q += "\n    WHERE " + src.Where + namesCond(p, src, f) + " AND " + src.TS + " >= fromUnixTimestamp64Milli(" + strconv.FormatInt(from, 10) + ") AND " +
			src.TS + " < fromUnixTimestamp64Milli(" + strconv.FormatInt(to+w, 10) + ") AND (m1"
		for k := 2; k <= len(starts) || (!entry && k <= len(f.Steps)); k++ {
			q += " OR m" + strconv.Itoa(k)
		}
		switch {
		case !entry:
			q += " OR x)"
		case f.Order == OrderAny:
			q += ") AND " + src.TS + " < fromUnixTimestamp64Milli(" + strconv.FormatInt(to, 10) + ")"
		default:
			q += ")"
		}
		parts = append(parts, q)
	}
	return "(" + strings.Join(parts, "\n    UNION ALL\n    ") + ")"
}

// namesCond narrows a source's rows to the names its steps ask for, on
// the stored column (events are sorted by event name first): "" when a
// step of its kind takes any name.
func namesCond(p *params, src schema.ActionSource, f Funnel) string {
	if src.NameColumn == "" {
		return ""
	}
	var names []string
	for _, st := range append(append([]Step(nil), f.Steps...), exclusionSteps(f)...) {
		if st.Kind != src.Kind {
			continue
		}
		if st.Name == "" {
			return ""
		}
		names = append(names, st.Name)
	}
	return " AND " + src.NameColumn + " IN " + p.add("Array(String)", names)
}

func exclusionSteps(f Funnel) []Step {
	if f.Exclusion == nil {
		return nil
	}
	return []Step{*f.Exclusion}
}

// stepCond is the condition of a step on a source's rows ("0" when the
// step is of another kind or filters on a field the source lacks).
func stepCond(p *params, src schema.ActionSource, st Step) string {
	if st.Kind != src.Kind {
		return "0"
	}
	conds := []string{"1"}
	if st.Name != "" {
		conds = append(conds, src.Name+" = "+p.add("String", st.Name))
	}
	for _, fl := range st.Filters {
		e, ok := fieldExpr(st.Kind, src, fl.Field)
		if !ok {
			return "0"
		}
		conds = append(conds, filterCond(p, e, fl))
	}
	return strings.Join(conds, " AND ")
}

func filterCond(p *params, e string, fl Filter) string {
	_, isLine := lineFields[fl.Field]
	switch {
	case fl.Op == "gte" || fl.Op == "lte":
		op := map[string]string{"gte": ">=", "lte": "<="}[fl.Op]
		x, _ := strconv.ParseFloat(fl.Values[0], 64)
		if !numericFields[fl.Field] {
			e = "toFloat64OrNull(" + e + ")"
		}
		return "ifNull(" + e + " " + op + " " + p.add("Float64", x) + ", 0)"
	case isLine && fl.Op == "in":
		return "hasAny(" + e + ", " + p.add("Array(String)", fl.Values) + ")"
	case isLine && fl.Op == "not_in":
		return "NOT hasAny(" + e + ", " + p.add("Array(String)", fl.Values) + ")"
	case isLine:
		return "arrayExists(v -> multiSearchAnyCaseInsensitiveUTF8(v, " + p.add("Array(String)", fl.Values) + "), " + e + ")"
	case numericFields[fl.Field]:
		e = "toString(" + e + ")"
	}
	switch fl.Op {
	case "in":
		return e + " IN " + p.add("Array(String)", fl.Values)
	case "not_in":
		return e + " NOT IN " + p.add("Array(String)", fl.Values)
	}
	return "multiSearchAnyCaseInsensitiveUTF8(" + e + ", " + p.add("Array(String)", fl.Values) + ")"
}

// withBreakdown adds b, the breakdown value, to a subquery of persons (c).
func (s *Service) withBreakdown(ctx context.Context, p *params, q, breakdown string, segs []string) (string, error) {
	t := s.db.Table
	switch breakdown {
	case "":
		return "(SELECT *, '' AS b FROM " + q + ")", nil
	case "channel":
		return "(SELECT *, ch AS b FROM " + q + ")", nil
	case "city", "city_tier":
		b := "ifNull(g.city, '')"
		if breakdown == "city_tier" {
			b = "toString(" + schema.CityTier(b) + ")"
		}
		return "(SELECT q.*, " + b + " AS b FROM " + q + " AS q LEFT JOIN (SELECT person_id, argMaxIf(city, ordered_at, city != '') AS city FROM " +
			schema.ValidOrders(t, "") + " GROUP BY person_id) AS g ON g.person_id = q.c)", nil
	case "state":
		return "(SELECT q.*, ifNull(a.state, '') AS b FROM " + q + " AS q LEFT JOIN (SELECT " + schema.OneIDOf("w") + " AS person_id, argMin(toString(w.state), w.ts) AS state FROM " +
			t("wecom_contact_events") + " AS w " + schema.OneIDJoin(t, "w") + " WHERE w.change_type = 'add_external_contact' AND w.person_id != 0 GROUP BY person_id) AS a ON a.person_id = q.c)", nil
	}
	if s.segs == nil {
		return "", invalid("breakdown", "segments are not available")
	}
	var ifs []string
	for i, id := range segs {
		bm, err := s.segs.SegmentMembers(ctx, id)
		if err != nil {
			return "", invalid(fmt.Sprintf("segments[%d]", i), "%v", err)
		}
		raw, err := segments.EncodeGroupBitmap(bm)
		if err != nil {
			return "", err
		}
		ifs = append(ifs, "if(bitmapContains(CAST("+p.add("String", string(raw))+" AS AggregateFunction(groupBitmap, UInt32)), c), "+p.add("String", id)+", '')")
	}
	return "(SELECT *, arrayJoin(if(empty(arrayFilter(x -> x != '', [" + strings.Join(ifs, ", ") + "]) AS m), [''], m)) AS b FROM " + q + ")", nil
}
