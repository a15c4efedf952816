package store

import (
	"fmt"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
)

// BenchmarkDriverAppendWholeOrByRow measures what appendColumn chooses
// between: the driver appending a column given whole (Append) or a value
// or an array at a time (AppendRow), for 20,000 rows of identifiers
// (Array(String), three a row) and of event names (LowCardinality(String),
// 20 distinct). Run: go test ./store -run '^$' -bench DriverAppendWholeOrByRow
func BenchmarkDriverAppendWholeOrByRow(b *testing.B) {
	ids := make([][]string, 20_000)
	names := make([]string, len(ids))
	for i := range ids {
		ids[i], names[i] = []string{"phone", fmt.Sprintf("h:%d", i), "unionid"}, fmt.Sprint("event", i%20)
	}
	for _, c := range []struct {
		typ    column.Type
		values any
		rows   func(column.Interface) error
	}{
		{"Array(String)", ids, func(col column.Interface) error { return eachRow(col, ids) }},
		{"LowCardinality(String)", names, func(col column.Interface) error { return eachRow(col, names) }},
	} {
		newColumn := func(b *testing.B) column.Interface {
			col, err := c.typ.Column("c", nil)
			if err != nil {
				b.Fatal(err)
			}
			return col
		}
		b.Run(string(c.typ)+"/whole", func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := newColumn(b).Append(c.values); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(string(c.typ)+"/by-row", func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if err := c.rows(newColumn(b)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func eachRow[T any](col column.Interface, values []T) error {
	for _, v := range values {
		if err := col.AppendRow(v); err != nil {
			return err
		}
	}
	return nil
}
