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

// scanFn scans the current row into dest.
type scanFn func(dest ...any) error

// each runs q and calls row for every row; errors (the query's, a scan's
// or row's own) are wrapped with what, which names the query.
func (s *Service) each(ctx context.Context, what, q string, args []any, row func(scan scanFn) error) error {
	rows, err := s.db.Conn.Query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("wecomops: %s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return fmt.Errorf("wecomops: %s: %w", what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("wecomops: %s: %w", what, err)
	}
	return nil
}

// queryStrings runs a one-column query; what names it in errors.
func (s *Service) queryStrings(ctx context.Context, what, q string, args ...any) ([]string, error) {
	var out []string
	err := s.each(ctx, what, q, args, func(scan scanFn) error {
		var v string
		if err := scan(&v); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, err
}
