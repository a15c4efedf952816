package campaigns

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/RoaringBitmap/roaring/v2"

	"github.com/granarycdp/cdp/segments"
)

// Every query of the package binds its values as ClickHouse query
// parameters, written {name:Type} in the SQL and passed as named(name,
// value): the server parses each value as its declared type, and a
// parameter is matched by its name, never by counting question marks.
// Every query also has a name, which its errors carry ("campaigns: read
// cap counts: ..."), so that a failure says which query failed.

// named is a query parameter: named("campaign", c.ID) for {campaign:String}.
var named = clickhouse.Named

// queryError names the query an error came from.
func queryError(name string, err error) error {
	return fmt.Errorf("campaigns: %s: %w", name, err)
}

// each runs the read query name and calls scan for each of its rows. Its
// error, the query's, a scan's or the rows', names the query.
func (s *Service) each(ctx context.Context, name, query string, args []any, scan func(driver.Rows) error) error {
	rows, err := s.DB.Conn.Query(ctx, query, args...)
	if err != nil {
		return queryError(name, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return queryError(name, err)
		}
	}
	if err := rows.Err(); err != nil {
		return queryError(name, err)
	}
	return nil
}

// collect runs the read query name and returns its rows, each read into
// a T by scan (none: an empty slice).
func collect[T any](ctx context.Context, s *Service, name, query string, args []any, scan func(driver.Rows, *T) error) ([]T, error) {
	out := []T{}
	err := s.each(ctx, name, query, args, func(rows driver.Rows) error {
		var v T
		if err := scan(rows, &v); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// one runs the query name, which returns one row, into dest.
func (s *Service) one(ctx context.Context, name, query string, args []any, dest ...any) error {
	if err := s.DB.Conn.QueryRow(ctx, query, args...).Scan(dest...); err != nil {
		return queryError(name, err)
	}
	return nil
}

// exec runs the statement name.
func (s *Service) exec(ctx context.Context, name, query string, args ...any) error {
	if err := s.DB.Conn.Exec(ctx, query, args...); err != nil {
		return queryError(name, err)
	}
	return nil
}

// insert writes rows into table through the writer, deduplicated by
// token (see rowsToken).
func (s *Service) insert(ctx context.Context, name, table string, columns []string, token string, rows [][]any) error {
	if err := s.Writer.Table(table, columns...).Insert(ctx, rowsToken(token, rows), rows); err != nil {
		return queryError(name, err)
	}
	return nil
}

// bitmap runs the query name, which returns person ids, as one bitmap.
func (s *Service) bitmap(ctx context.Context, name, query string, args ...any) (*roaring.Bitmap, error) {
	var raw string
	if err := s.one(ctx, name, "SELECT toString(groupBitmapState(toUInt32(person_id))) FROM ("+query+")", args, &raw); err != nil {
		return nil, err
	}
	bm, err := segments.DecodeGroupBitmap([]byte(raw))
	if err != nil {
		return nil, queryError(name, err)
	}
	return bm, nil
}

// listJSON runs the query name, whose rows are one JSON definition each.
func listJSON[T any](ctx context.Context, s *Service, name, query string) ([]T, error) {
	return collect(ctx, s, name, query, nil, func(rows driver.Rows, v *T) error {
		var def string
		if err := rows.Scan(&def); err != nil {
			return err
		}
		return json.Unmarshal([]byte(def), v)
	})
}
