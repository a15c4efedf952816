package segments

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/RoaringBitmap/roaring/v2"
)

// ClickHouse's groupBitmap state for UInt32 (RoaringBitmapWithSmallSet)
// is one byte saying which form follows, then either
//
//	0: a small set: a varint count, then that many UInt32 little-endian;
//	1: a varint byte length, then a 32-bit roaring bitmap in the portable
//	   format that Go's roaring reads and writes.
//
// ClickHouse writes the small form up to 32 values. Reading a state as
// toString(groupBitmapState(x)) and decoding it here is about ten times
// faster than bitmapToArray for a million ids (BenchmarkReadState).

// smallSetMax is the largest small set ClickHouse writes.
const smallSetMax = 32

var errState = errors.New("segments: malformed groupBitmap state")

// DecodeGroupBitmap decodes a ClickHouse groupBitmap(UInt32) state. The
// bitmap is validated; it belongs to the caller.
func DecodeGroupBitmap(state []byte) (*roaring.Bitmap, error) {
	if len(state) < 2 {
		return nil, fmt.Errorf("%w: %d bytes", errState, len(state))
	}
	n, w := binary.Uvarint(state[1:])
	if w <= 0 {
		return nil, fmt.Errorf("%w: bad length", errState)
	}
	body := state[1+w:]
	switch state[0] {
	case 0:
		if n > smallSetMax || uint64(len(body)) != 4*n {
			return nil, fmt.Errorf("%w: small set of %d values in %d bytes", errState, n, len(body))
		}
		bm := roaring.New()
		for i := uint64(0); i < n; i++ {
			bm.Add(binary.LittleEndian.Uint32(body[4*i:]))
		}
		return bm, nil
	case 1:
		if uint64(len(body)) != n {
			return nil, fmt.Errorf("%w: roaring of %d bytes in %d", errState, n, len(body))
		}
		if err := checkPortable(body); err != nil { // what bm.Validate checks, in linear time
			return nil, fmt.Errorf("%w: %v", errState, err)
		}
		bm := roaring.New()
		if err := bm.UnmarshalBinary(body); err != nil {
			return nil, fmt.Errorf("%w: %v", errState, err)
		}
		return bm, nil
	}
	return nil, fmt.Errorf("%w: form %d", errState, state[0])
}

// EncodeGroupBitmap encodes a bitmap as a ClickHouse groupBitmap(UInt32)
// state, in the form ClickHouse uses for its cardinality. Insert it with CAST({s:String} AS AggregateFunction(groupBitmap,
// UInt32)), e.g. into segment_members.
func EncodeGroupBitmap(bm *roaring.Bitmap) ([]byte, error) {
	var buf bytes.Buffer
	if card := bm.GetCardinality(); card <= smallSetMax {
		buf.WriteByte(0)
		buf.Write(binary.AppendUvarint(nil, card))
		bm.Iterate(func(x uint32) bool {
			buf.Write(binary.LittleEndian.AppendUint32(nil, x))
			return true
		})
		return buf.Bytes(), nil
	}
	buf.WriteByte(1)
	buf.Write(binary.AppendUvarint(nil, bm.GetSerializedSizeInBytes()))
	if _, err := bm.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// A groupArray state (toString(groupArrayState(x))) is a varint count,
// then the values: fixed-width little-endian for numbers, a varint length
// and the bytes for each String.

// decodeArrayState decodes a groupArray state of a fixed-width number
// type of width bytes.
func decodeArrayState[T any](state []byte, width int, get func([]byte) T) ([]T, error) {
	n, w := binary.Uvarint(state)
	if w <= 0 || uint64(len(state)-w) != n*uint64(width) {
		return nil, fmt.Errorf("%w: array of %d values of %d bytes in %d bytes", errState, n, width, len(state))
	}
	out := make([]T, n)
	body := state[w:]
	for i := range out {
		out[i] = get(body[i*width:])
	}
	return out, nil
}

// decodeStringArrayState decodes a groupArray(String) state; equal texts
// share one string from intern (a few dozen cities for a million persons).
func decodeStringArrayState(state []byte, intern map[string]string) ([]string, error) {
	n, w := binary.Uvarint(state)
	if w <= 0 || n > uint64(len(state)) {
		return nil, fmt.Errorf("%w: array of %d texts in %d bytes", errState, n, len(state))
	}
	out := make([]string, n)
	body := state[w:]
	for i := range out {
		l, w := binary.Uvarint(body)
		if w <= 0 || l > uint64(len(body)-w) {
			return nil, fmt.Errorf("%w: text %d of %d", errState, i, n)
		}
		b := body[w : w+int(l)]
		s, ok := intern[string(b)]
		if !ok {
			s = string(b)
			intern[s] = s
		}
		out[i] = s
		body = body[w+int(l):]
	}
	if len(body) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after %d texts", errState, len(body), n)
	}
	return out, nil
}
