package wecomops

import (
	"context"
	"fmt"
)

// insert writes rows into table (cols in order) as one batch; no rows,
// no insert.
func (s *Service) insert(ctx context.Context, table, cols string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	b, err := s.db.Conn.PrepareBatch(ctx, "INSERT INTO "+s.db.Table(table)+" ("+cols+")")
	if err != nil {
		return err
	}
	defer b.Close()
	for _, r := range rows {
		if err := b.Append(r...); err != nil {
			return err
		}
	}
	return b.Send()
}

// queryStrings runs a one-column query; what names it in errors.
func (s *Service) queryStrings(ctx context.Context, what, q string, args ...any) ([]string, error) {
	rows, err := s.db.Conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("wecomops: %s: %w", what, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("wecomops: %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("wecomops: %s: %w", what, err)
	}
	return out, nil
}
