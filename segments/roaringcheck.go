package segments

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// The portable roaring format (github.com/RoaringBitmap/RoaringFormatSpec),
// as ClickHouse writes it in a groupBitmap state.
const (
	serialCookieNoRun = 12346 // a uint32 container count follows; no run containers
	serialCookie      = 12347 // low 16 bits; the high 16 are the count less one
	noOffsetThreshold = 4     // with runs, offsets are written from this many containers
	arrayMax          = 4096  // containers of more values are bitmaps
)

// checkPortable checks a serialized 32-bit roaring bitmap for everything
// roaring's Validate checks (keys strictly increasing; array containers of
// 1..4,096 strictly increasing values; bitmap containers whose population
// is their stated cardinality; run containers of at least one run, runs
// inside the container, in order, neither overlapping nor touching), and
// that it holds no bytes past its last container, in time linear in its
// size. Validate checks every pair of runs of a container, quadratic in
// their number: a universe of a million persons with every 50th merged
// away has 1,300 runs a container and took 100 ms of it at each trait
// load (10 times as many containers at 10 million persons).
func checkPortable(b []byte) error {
	if len(b) < 4 {
		return fmt.Errorf("%d bytes", len(b))
	}
	cookie := binary.LittleEndian.Uint32(b)
	var n int
	var runs []byte // bitset: container i is a run container
	pos := 4
	offsets := true
	switch {
	case cookie&0xFFFF == serialCookie:
		n = int(cookie>>16) + 1
		if len(b) < pos+(n+7)/8 {
			return fmt.Errorf("run bitset of %d containers cut", n)
		}
		runs = b[pos : pos+(n+7)/8]
		pos += (n + 7) / 8
		offsets = n >= noOffsetThreshold
	case cookie == serialCookieNoRun:
		if len(b) < 8 {
			return fmt.Errorf("container count cut")
		}
		n = int(binary.LittleEndian.Uint32(b[4:]))
		pos = 8
	default:
		return fmt.Errorf("cookie %d", cookie)
	}
	if n > 1<<16 || len(b) < pos+4*n {
		return fmt.Errorf("header of %d containers in %d bytes", n, len(b))
	}
	header := b[pos : pos+4*n]
	pos += 4 * n
	if offsets {
		pos += 4 * n
	}
	for i := range n {
		key, card := binary.LittleEndian.Uint16(header[4*i:]), int(binary.LittleEndian.Uint16(header[4*i+2:]))+1
		if i > 0 && key <= binary.LittleEndian.Uint16(header[4*i-4:]) {
			return fmt.Errorf("container keys out of order at %d", i)
		}
		var size int
		var err error
		switch {
		case runs != nil && runs[i/8]&(1<<(i%8)) != 0:
			size, err = checkRuns(b[min(pos, len(b)):])
		case card > arrayMax:
			size, err = checkBitmapContainer(b[min(pos, len(b)):], card)
		default:
			size, err = checkArrayContainer(b[min(pos, len(b)):], card)
		}
		if err != nil {
			return fmt.Errorf("container %d: %w", i, err)
		}
		pos += size
	}
	if pos != len(b) {
		return fmt.Errorf("%d bytes after the containers, %d before", len(b)-pos, pos)
	}
	return nil
}

// checkRuns checks a run container at the start of b and returns its size.
func checkRuns(b []byte) (int, error) {
	if len(b) < 2 {
		return 0, fmt.Errorf("run count cut")
	}
	nr := int(binary.LittleEndian.Uint16(b))
	if nr == 0 {
		return 0, fmt.Errorf("no runs")
	}
	if len(b) < 2+4*nr {
		return 0, fmt.Errorf("%d runs cut", nr)
	}
	next := -1 // the least start the next run may have
	for r := range nr {
		start, length := int(binary.LittleEndian.Uint16(b[2+4*r:])), int(binary.LittleEndian.Uint16(b[4+4*r:]))
		if start+length > 0xFFFF {
			return 0, fmt.Errorf("run %d past the container", r)
		}
		if start < next {
			return 0, fmt.Errorf("run %d out of order, overlapping or touching", r)
		}
		next = start + length + 2
	}
	return 2 + 4*nr, nil
}

// checkBitmapContainer checks a bitmap container of card values.
func checkBitmapContainer(b []byte, card int) (int, error) {
	if len(b) < 8192 {
		return 0, fmt.Errorf("bitmap cut")
	}
	pop := 0
	for w := 0; w < 8192; w += 8 {
		pop += bits.OnesCount64(binary.LittleEndian.Uint64(b[w:]))
	}
	if pop != card {
		return 0, fmt.Errorf("bitmap of %d values says %d", pop, card)
	}
	return 8192, nil
}

// checkArrayContainer checks an array container of card values.
func checkArrayContainer(b []byte, card int) (int, error) {
	if len(b) < 2*card {
		return 0, fmt.Errorf("array of %d values cut", card)
	}
	for v := 1; v < card; v++ {
		if binary.LittleEndian.Uint16(b[2*v:]) <= binary.LittleEndian.Uint16(b[2*v-2:]) {
			return 0, fmt.Errorf("array out of order at %d", v)
		}
	}
	return 2 * card, nil
}
