package demand

import (
	"sort"
	"sync"
	"time"
)

// External regressors of the forecast (docs/demand.md): named daily values
// (promo, temp_max_c, rain_mm, ...) for a region and optionally one class,
// imported as CSV (ImportRegressors) with future days included, so that a
// planned promotion or a weather forecast enters the forecast of its days.

// RegressorValue is one value: Name on the Beijing day Date in a region
// (Province and City empty: the nation; City empty: the province) for
// Class (empty: every class).
type RegressorValue struct {
	Name     string    `json:"name"`
	Date     time.Time `json:"date"`
	Province string    `json:"province"`
	City     string    `json:"city"`
	Class    string    `json:"class"`
	Value    float64   `json:"value"`
}

// regressorScope is where a value applies, without the day.
type regressorScope struct{ name, province, city, class string }

// Regressors are loaded regressor values, looked up by series and day.
// A series' value of a name on a day is the most specific one given: its
// city's before its province's before the nation's, and at each the
// class's own before the one of every class; none is 0 (no effect).
// Safe for concurrent use.
type Regressors struct {
	names  []string
	values map[regressorScope]map[int32]float64 // day: days since the Unix epoch in Beijing

	mu    sync.Mutex
	dense map[denseKey][]float64
}

type denseKey struct {
	name  string
	key   Key
	start int32
	n     int
}

// NewRegressors indexes values.
func NewRegressors(values []RegressorValue) *Regressors {
	r := &Regressors{values: map[regressorScope]map[int32]float64{}, dense: map[denseKey][]float64{}}
	seen := map[string]bool{}
	for _, v := range values {
		s := regressorScope{v.Name, v.Province, v.City, v.Class}
		if r.values[s] == nil {
			r.values[s] = map[int32]float64{}
		}
		r.values[s][epochDay(v.Date)] = v.Value
		if !seen[v.Name] {
			seen[v.Name] = true
			r.names = append(r.names, v.Name)
		}
	}
	sort.Strings(r.names)
	return r
}

// Names are the regressors' names, sorted.
func (r *Regressors) Names() []string {
	if r == nil {
		return nil
	}
	return r.names
}

// epochDay numbers t's Beijing day from 1970-01-01.
func epochDay(t time.Time) int32 {
	b := t.In(beijing)
	return int32(time.Date(b.Year(), b.Month(), b.Day(), 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// series is the values of name for series k on the n days from start
// (computed once per name, series and range).
func (r *Regressors) series(name string, k Key, start time.Time, n int) []float64 {
	dk := denseKey{name, k, epochDay(start.Add(12 * time.Hour)), n}
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.dense[dk]; ok {
		return s
	}
	// The scopes that apply, most specific first.
	var scopes []map[int32]float64
	regions := [][2]string{{"", ""}}
	if k.Province != "" {
		regions = append([][2]string{{k.Province, ""}}, regions...)
	}
	if k.City != "" {
		regions = append([][2]string{{k.Province, k.City}}, regions...)
	}
	for _, region := range regions {
		for _, class := range []string{k.Class, ""} {
			if v := r.values[regressorScope{name, region[0], region[1], class}]; v != nil {
				scopes = append(scopes, v)
			}
		}
	}
	var out []float64
	if len(scopes) > 0 {
		out = make([]float64, n)
		for i := range out {
			for _, s := range scopes {
				if v, ok := s[dk.start+int32(i)]; ok {
					out[i] = v
					break
				}
			}
		}
	}
	r.dense[dk] = out
	return out
}
