package segments

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

// roaringAccepts is what DecodeGroupBitmap did before checkPortable:
// roaring's UnmarshalBinary and Validate (a panic counts as a refusal).
func roaringAccepts(b []byte) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	bm := roaring.New()
	return bm.UnmarshalBinary(b) == nil && bm.Validate() == nil
}

// checkPortableAccepts is checkPortable, where a panic fails the test.
func checkPortableAccepts(t *testing.T, b []byte) bool {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("checkPortable panicked on % x: %v", b, r)
		}
	}()
	return checkPortable(b) == nil
}

// portableSamples are serialized bitmaps of every container kind: empty,
// arrays, bitmaps, runs (few and many, with and without offsets), mixed.
func portableSamples(r *rand.Rand) [][]byte {
	var bms []*roaring.Bitmap
	bms = append(bms, roaring.New(), roaring.BitmapOf(7), roaring.BitmapOf(1, 2, 3, 70000, 1<<31))
	dense := roaring.New()
	dense.AddRange(0, 140000)
	for id := uint32(0); id < 140000; id += 50 { // the universe's shape: a run container of 1,300 runs
		dense.Remove(id)
	}
	bms = append(bms, dense)
	few := roaring.New()
	few.AddRange(10, 20)
	few.AddRange(100, 65536*2+5)
	bms = append(bms, few)
	for range 6 {
		bm := roaring.New()
		for range 1 + r.IntN(5) {
			base := uint32(r.IntN(8)) << 16
			switch r.IntN(3) {
			case 0: // array
				for range 1 + r.IntN(50) {
					bm.Add(base + uint32(r.IntN(65536)))
				}
			case 1: // bitmap
				for range 5000 + r.IntN(20000) {
					bm.Add(base + uint32(r.IntN(65536)))
				}
			default: // runs
				for range 1 + r.IntN(20) {
					lo := base + uint32(r.IntN(60000))
					bm.AddRange(uint64(lo), uint64(lo)+uint64(1+r.IntN(5000)))
				}
			}
		}
		bms = append(bms, bm)
	}
	var out [][]byte
	for _, bm := range bms {
		for _, opt := range []bool{false, true} {
			c := bm.Clone()
			if opt {
				c.RunOptimize()
			}
			b, err := c.ToBytes()
			if err != nil {
				panic(err)
			}
			out = append(out, b)
		}
	}
	return out
}

// TestCheckPortableAgreesWithValidate: checkPortable accepts every
// well-formed bitmap, and refuses whatever roaring's UnmarshalBinary and
// Validate refuse, over bitmaps of every container kind and thousands of
// corruptions of them (bytes changed, cut, appended). It may refuse more
// (bytes after the last container), never less.
func TestCheckPortableAgreesWithValidate(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 3))
	refused, stricter := 0, 0
	for _, b := range portableSamples(r) {
		if !checkPortableAccepts(t, b) {
			t.Fatalf("a well-formed bitmap of %d bytes refused: %v", len(b), checkPortable(b))
		}
		for range 200 {
			bad := append([]byte(nil), b...)
			switch r.IntN(4) {
			case 0:
				bad = bad[:r.IntN(len(bad))]
			case 1:
				bad = append(bad, byte(r.IntN(256)))
			default:
				for range 1 + r.IntN(3) {
					i := r.IntN(min(len(bad), 64+r.IntN(len(bad)))) // headers most of the time
					bad[i] ^= byte(1 + r.IntN(255))
				}
			}
			mine, theirs := checkPortableAccepts(t, bad), roaringAccepts(bad)
			if mine && !theirs {
				t.Fatalf("checkPortable accepts what roaring refuses: % x", bad[:min(len(bad), 64)])
			}
			if !mine {
				refused++
				if theirs {
					stricter++
				}
			}
		}
	}
	if refused == 0 {
		t.Fatal("no corruption was refused: the test corrupts nothing")
	}
	t.Logf("%d corruptions refused, %d of them accepted by roaring", refused, stricter)
}

// oneRunContainer is a serialized bitmap of one run container of the
// given (start, length less one) pairs, as written, right or wrong.
func oneRunContainer(runs ...[2]uint16) []byte {
	b := binary.LittleEndian.AppendUint32(nil, serialCookie) // one container
	b = append(b, 1)                                         // it is a run container
	card := 0
	for _, r := range runs {
		card += int(r[1]) + 1
	}
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint16(b, uint16(card-1))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(runs)))
	for _, r := range runs {
		b = binary.LittleEndian.AppendUint16(b, r[0])
		b = binary.LittleEndian.AppendUint16(b, r[1])
	}
	return b
}

// TestCheckPortableRefusesBadRuns: runs that touch, overlap, come out of
// order or pass the container's end are refused, as by Validate.
func TestCheckPortableRefusesBadRuns(t *testing.T) {
	if b := oneRunContainer([2]uint16{1, 3}, [2]uint16{6, 0}, [2]uint16{100, 9}); !checkPortableAccepts(t, b) || !roaringAccepts(b) {
		t.Fatalf("good runs: checkPortable %v, roaring %v", checkPortable(b), roaringAccepts(b))
	}
	for name, b := range map[string][]byte{
		"touching":     oneRunContainer([2]uint16{1, 3}, [2]uint16{5, 0}),
		"overlapping":  oneRunContainer([2]uint16{1, 3}, [2]uint16{4, 2}),
		"out of order": oneRunContainer([2]uint16{10, 1}, [2]uint16{1, 1}),
		"same start":   oneRunContainer([2]uint16{1, 1}, [2]uint16{1, 2}),
		"past the end": oneRunContainer([2]uint16{65530, 10}),
		"no runs":      oneRunContainer(),
	} {
		if checkPortableAccepts(t, b) {
			t.Errorf("%s: accepted (roaring accepts: %v)", name, roaringAccepts(b))
		}
	}
}
