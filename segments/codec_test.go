package segments

import (
	"context"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/RoaringBitmap/roaring/v2"

	"github.com/granarycdp/cdp/store/storetest"
)

// TestGroupBitmapRoundTrip reads ClickHouse's states (small and large
// forms) and has ClickHouse read ours.
func TestGroupBitmapRoundTrip(t *testing.T) {
	db := storetest.DB(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name, gen string // completes SELECT toString(groupBitmapState(...))
		want      *roaring.Bitmap
	}{
		{"empty", "toUInt32(number))) FROM numbers(0)", roaring.New()},
		{"small", "toUInt32(number * 7))) FROM numbers(5)", roaring.BitmapOf(0, 7, 14, 21, 28)},
		{"large", "toUInt32(number * 3))) FROM numbers(100000)", func() *roaring.Bitmap {
			bm := roaring.New()
			for i := uint32(0); i < 100000; i++ {
				bm.Add(i * 3)
			}
			return bm
		}()},
		{"runs", "toUInt32(number))) FROM numbers(70000)", func() *roaring.Bitmap {
			bm := roaring.New()
			bm.AddRange(0, 70000)
			return bm
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var state []byte
			if err := db.Conn.QueryRow(ctx, "SELECT toString(groupBitmapState("+tc.gen).Scan(&state); err != nil {
				t.Fatal(err)
			}
			got, err := DecodeGroupBitmap(state)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equals(tc.want) {
				t.Fatalf("decoded %d ids, want %d", got.GetCardinality(), tc.want.GetCardinality())
			}
			ours, err := EncodeGroupBitmap(tc.want)
			if err != nil {
				t.Fatal(err)
			}
			var card uint64
			var sum uint64
			err = db.Conn.QueryRow(ctx, "SELECT bitmapCardinality(s), arraySum(bitmapToArray(s)) FROM (SELECT CAST({s:String} AS AggregateFunction(groupBitmap, UInt32)) AS s)",
				clickhouse.Named("s", string(ours))).Scan(&card, &sum)
			if err != nil {
				t.Fatal(err)
			}
			var wantSum uint64
			tc.want.Iterate(func(x uint32) bool { wantSum += uint64(x); return true })
			if card != tc.want.GetCardinality() || sum != wantSum {
				t.Errorf("ClickHouse read %d ids summing to %d, want %d and %d", card, sum, tc.want.GetCardinality(), wantSum)
			}
		})
	}
}

func TestDecodeGroupBitmapRefusesGarbage(t *testing.T) {
	for _, state := range [][]byte{
		nil, {0}, {2, 0}, {0, 2, 1, 0, 0, 0}, {0, 40}, {1, 5, 1, 2, 3}, {1, 4, 0x3a, 0x30, 0, 0},
	} {
		if _, err := DecodeGroupBitmap(state); err == nil {
			t.Errorf("% x decoded without an error", state)
		}
	}
}
