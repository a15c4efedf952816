package demand

import (
	"context"
	"fmt"
	"time"
)

// ImportRegressors writes checked regressor values (ParseRegressorCSV) to
// demand_regressors in one insert, by the token id by: a value already
// there for the same name, day, region and class is replaced, not
// added to.
func (s *Service) ImportRegressors(ctx context.Context, values []RegressorValue, by string) error {
	if len(values) == 0 {
		return invalid("file", "no values")
	}
	now := s.now()
	batch, err := s.db.Conn.PrepareBatch(ctx, "INSERT INTO "+s.db.Table("demand_regressors")+
		" (name, date, province, city, class, value, imported_by, imported_at, version)")
	if err != nil {
		return fmt.Errorf("demand: write regressors: %w", err)
	}
	defer batch.Close()
	for _, v := range values {
		day := beijingDay(v.Date)
		if err := batch.Append(v.Name, time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC), v.Province, v.City, v.Class, v.Value,
			by, now, uint64(now.UnixNano())); err != nil {
			return fmt.Errorf("demand: write regressors: %w", err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("demand: write regressors: %w", err)
	}
	return nil
}

// RegressorSummary is what is loaded of one regressor.
type RegressorSummary struct {
	Name       string    `json:"name"`
	From       string    `json:"from"`
	To         string    `json:"to"`
	Rows       uint64    `json:"rows"`
	Regions    uint64    `json:"regions"`
	Classes    uint64    `json:"classes"`
	ImportedAt time.Time `json:"imported_at"`
	ImportedBy string    `json:"imported_by"`
}

// RegressorSummaries lists the loaded regressors by name: their first and
// last day (YYYY-MM-DD), values, regions (a province or city, or the
// nation), classes (empty counts as one: every class) and latest import.
func (s *Service) RegressorSummaries(ctx context.Context) ([]RegressorSummary, error) {
	rows, err := s.db.Conn.Query(ctx, "SELECT toString(name), toString(min(date)), toString(max(date)), count(), uniqExact(province, city), uniqExact(class), "+
		"max(imported_at), argMax(imported_by, imported_at) FROM "+s.db.Table("demand_regressors")+" FINAL GROUP BY name ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("demand: read regressors: %w", err)
	}
	defer rows.Close()
	out := []RegressorSummary{}
	for rows.Next() {
		var r RegressorSummary
		if err := rows.Scan(&r.Name, &r.From, &r.To, &r.Rows, &r.Regions, &r.Classes, &r.ImportedAt, &r.ImportedBy); err != nil {
			return nil, fmt.Errorf("demand: read regressors: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// LoadRegressors reads the regressor values of the Beijing days [from, to).
func (s *Service) LoadRegressors(ctx context.Context, from, to time.Time) (*Regressors, error) {
	rows, err := s.db.Conn.Query(ctx, "SELECT toString(name), toString(date), toString(province), toString(city), toString(class), value FROM "+
		s.db.Table("demand_regressors")+" FINAL WHERE date >= toDate(?) AND date < toDate(?)", beijingDay(from).Format(time.DateOnly), beijingDay(to).Format(time.DateOnly))
	if err != nil {
		return nil, fmt.Errorf("demand: read regressors: %w", err)
	}
	defer rows.Close()
	var values []RegressorValue
	for rows.Next() {
		var v RegressorValue
		var day string
		if err := rows.Scan(&v.Name, &day, &v.Province, &v.City, &v.Class, &v.Value); err != nil {
			return nil, fmt.Errorf("demand: read regressors: %w", err)
		}
		if v.Date, err = time.ParseInLocation(time.DateOnly, day, beijing); err != nil {
			return nil, fmt.Errorf("demand: read regressors: %w", err)
		}
		values = append(values, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("demand: read regressors: %w", err)
	}
	return NewRegressors(values), nil
}
