package segments

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
)

// Leaves counted here. A leaf whose persons are those with a number of
// its rows in a range (an existence leaf: at least one; a count leaf:
// did("search", 30) >= 2, bought("rice", 90) == 2) that is not read by
// day has a second form, countedForm: its query returns the raw person id
// of every row, as groupArray states (fixed-width little-endian ids, one
// string per group of at most 2^22 rows), and the engine counts them in a
// byte per person id, folds merged persons into their canonical ones with
// the trait snapshot's merges (merges.go) and keeps the ids whose count is
// in the range.
//
// Why: ClickHouse's part of it is then a read of the rows and an append,
// where its own forms build a hash table of every person of the rows (a
// count's GROUP BY) or a roaring bitmap one id at a time (groupBitmap),
// both tens of nanoseconds a row. Over the 676,409 searches of 30 days in
// the million-person world, single-threaded on this machine: the count's
// GROUP BY ... HAVING 49-74 ms, the existence groupBitmap 37-60 ms, the
// groupArray states 21-28 ms; counting 676,409 ids in a byte array takes
// about a millisecond here. The count leaf no longer reads the persons
// table for the merged persons either (3-6 ms at a million persons).
// BenchmarkCountedLeaves measures both forms in one run (docs/segments.md).
// The byte array spans every person id (14.5 MB at the 10M world), so a
// leaf of a few rows costs a few milliseconds of scanning it more than its
// query; a large one saves the engine far more.
//
// Only on one node: over a sharded cluster the Distributed query would
// carry every row's id from the shards instead of a bitmap per shard, so
// the engine keeps the bitmap forms there. The refresh variant (a few
// persons) keeps the general shape everywhere.

// countedGroups splits countedForm's rows into groups of at most 2^22
// rows (16 MB states): the engine refuses a groupArray state of more than
// 16,777,215 values ("Too large array size"), and no one string should
// hold a whole large window. Any split serves, since the engine adds the
// counts up; rowNumberInAllBlocks costs no more than grouping by a chunk
// of person ids did, which bounded nothing for a window of many rows per
// person.
const countedGroups = "intDiv(rowNumberInAllBlocks(), 4194304)"

// countedForm is the counted form of a leaf: the persons with a number of
// rows of query in [lo, hi]. Counts saturate at 255, so hi is 255 for "no
// upper bound", and a range that needs counts past 254 has no counted
// form.
type countedForm struct {
	query  string
	lo, hi uint8
}

// countedRange returns the bytes of a count range r (r nil: existence,
// at least one row), false when the counted form cannot tell it.
func countedRange(r *intRange) (lo, hi uint8, ok bool) {
	if r == nil {
		return 1, 255, true
	}
	if r.lo < 1 || r.lo > 254 || r.hi != maxInt && (r.hi < r.lo || r.hi > 254) {
		return 0, 0, false
	}
	if r.hi == maxInt {
		return uint8(r.lo), 255, true
	}
	return uint8(r.lo), uint8(r.hi), true
}

// renderCounted renders the counted form's query of a spec of the one-level
// shape (rowsShape): the raw person ids of the fact's rows, in groups.
// The rows keep no personKnown condition: the engine drops person id 0
// (unresolved records) as it counts (rowCounts.bitmap), and the condition
// had ClickHouse load and test the person_id bloom filter of every part,
// which skips nothing for it (FilteringMarksWithSecondaryKeysMicroseconds:
// 5 ms of such a query on average under the load run).
func (g *sqlGen) renderCounted(s leafSpec) string {
	var b strings.Builder
	rows := *s.fact
	rows.group, rows.cols = false, ""
	rows.where = slices.DeleteFunc(slices.Clone(rows.where), func(w string) bool { return w == personKnown })
	b.WriteString("SELECT toString(groupArrayState(f.person_id)) FROM (")
	g.renderFact(&b, &rows, false)
	b.WriteString(") AS f\nGROUP BY " + countedGroups)
	return b.String()
}

// countLeaf computes a leaf by its counted form: the canonical persons
// whose rows number within the form's range.
func (e *Engine) countLeaf(ctx context.Context, l *sqlLeaf, now time.Time) (*roaring.Bitmap, error) {
	var c rowCounts
	if n := e.personsBound(); n > 0 {
		c.reserve(n) // one allocation, not a doubling per growth
	}
	err := e.admitted(ctx, l.desc, func(ctx context.Context) error {
		rows, err := e.db.Conn.Query(ctx, l.counted.query, l.args(now.UnixMilli(), nil)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		var state []byte
		for rows.Next() {
			if err := rows.Scan(&state); err != nil {
				return err
			}
			if err := c.addState(state); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	m, err := e.mergesFor(ctx)
	if err != nil {
		return nil, err
	}
	c.fold(m)
	bm := c.bitmap(l.counted.lo, l.counted.hi)
	e.log.Debug("segment leaf", "leaf", l.desc, "persons", bm.GetCardinality(), "counted", true)
	return bm, nil
}

// personsBound is one past the largest person id of the published trait
// snapshot (its universe and merged persons), 0 when none is published.
func (e *Engine) personsBound() uint64 {
	s := e.published()
	if s == nil {
		return 0
	}
	var n uint64
	if !s.universe.IsEmpty() {
		n = uint64(s.universe.Maximum()) + 1
	}
	if s.merges != nil && len(s.merges.ids) > 0 {
		ids := s.merges.ids
		n = max(n, uint64(ids[len(ids)-1])+1)
	}
	return n
}

// denseIDs bounds rowCounts' byte array (64 MB); ids past it, which no
// person has unless a record names an id of no person, are counted in a
// map.
const denseIDs = 1 << 26

// rowCounts counts rows per person id, saturating at 255.
type rowCounts struct {
	n   []uint8 // n[id], for ids below len(n)
	far map[uint32]uint8
}

// reserve makes room in the byte array for ids below end (up to denseIDs),
// doubling at least, so ids in any order grow it a few times.
func (c *rowCounts) reserve(end uint64) {
	end = min(end, denseIDs)
	if end <= uint64(len(c.n)) {
		return
	}
	grown := make([]uint8, max(end, min(2*uint64(len(c.n)), denseIDs)))
	copy(grown, c.n)
	c.n = grown
}

// addState counts the ids of a groupArray(UInt32) state.
func (c *rowCounts) addState(state []byte) error {
	n, w := binary.Uvarint(state)
	if w <= 0 || uint64(len(state)-w) != n*4 {
		return fmt.Errorf("%w: array of %d ids in %d bytes", errState, n, len(state))
	}
	dense := c.n
	for body := state[w:]; len(body) >= 4; body = body[4:] {
		id := binary.LittleEndian.Uint32(body)
		if int(id) < len(dense) {
			if dense[id] != 255 {
				dense[id]++
			}
			continue
		}
		c.add(id, 1)
		dense = c.n
	}
	return nil
}

// add adds v rows to id, saturating.
func (c *rowCounts) add(id uint32, v uint8) {
	if uint64(id) >= uint64(len(c.n)) && uint64(id) < denseIDs {
		c.reserve(uint64(id) + 1)
	}
	if int(id) < len(c.n) {
		c.n[id] = satAdd(c.n[id], v)
		return
	}
	if c.far == nil {
		c.far = map[uint32]uint8{}
	}
	c.far[id] = satAdd(c.far[id], v)
}

func satAdd(a, b uint8) uint8 {
	if s := a + b; s >= a {
		return s
	}
	return 255
}

// take returns id's count and sets it to 0.
func (c *rowCounts) take(id uint32) uint8 {
	if int(id) < len(c.n) {
		v := c.n[id]
		c.n[id] = 0
		return v
	}
	v := c.far[id]
	delete(c.far, id)
	return v
}

// fold moves the rows of merged persons to their canonical persons.
func (c *rowCounts) fold(m *merges) {
	for i, id := range m.ids {
		if v := c.take(id); v > 0 {
			c.add(m.into[i], v)
		}
	}
}

// bitmap returns the ids (not 0, unresolved records) whose count is in
// [lo, hi].
func (c *rowCounts) bitmap(lo, hi uint8) *roaring.Bitmap {
	words := make([]uint64, (len(c.n)+63)/64)
	for i := 0; i < len(c.n); i += 8 {
		if i+8 <= len(c.n) && binary.LittleEndian.Uint64(c.n[i:]) == 0 {
			continue
		}
		for j := i; j < min(i+8, len(c.n)); j++ {
			if v := c.n[j]; v >= lo && v <= hi {
				words[j/64] |= 1 << (j % 64)
			}
		}
	}
	if len(words) > 0 {
		words[0] &^= 1
	}
	bm := roaring.FromDense(words, false)
	for id, v := range c.far {
		if v >= lo && v <= hi {
			bm.Add(id)
		}
	}
	return bm
}
