package identity

// idTable maps identifiers, by their keyed 128-bit hash (idKey), to a
// uint32 (the owning person, with contestedBit). It replaces a Go map of
// idKey → uint32, which costs about 43 bytes per identifier (24-byte
// slots and a control byte, at the swiss table's load of 7/16 to 7/8):
// here an identifier is one 16-byte slot in a sorted array, about 17 bytes
// with the arrays' spare room (BenchmarkIDTable).
//
// A slot keeps 96 bits of the key: all of a, and the high 32 bits of b.
// Two identifiers collide when those agree; among 100 million
// identifiers the chance that any two do is n²/2⁹⁷ ≈ 10⁻¹³.
//
// Slots are sorted by key in buckets chosen by the key's top depth bits,
// and the directory doubles when buckets hold more than splitAt slots on
// average (keys are uniform hashes, so buckets fill evenly). A doubling
// copies nothing: each bucket is split where its next bit turns to one
// and both halves keep the old array until they outgrow it. Lookups are a
// binary search in one bucket (about 9 steps at 256-512 slots, a few
// cache lines); an insert or delete moves half a bucket on average.
//
// An idTable is not safe for concurrent use; the Graph's lock guards it.
type idTable struct {
	depth   uint8
	buckets [][]idSlot
	n       int
}

// idSlot is a 96-bit key and its value: hi is the key's a, lo holds the
// high 32 bits of its b above the value.
type idSlot struct{ hi, lo uint64 }

// splitAt is the average number of slots per bucket at which the
// directory doubles: buckets then hold 256-512 slots, 4-8 KiB, so an
// insert moves about 3 KiB and the directory's 24-byte slice headers cost
// less than 0.1 byte per identifier.
const splitAt = 512

func newIDTable() *idTable { return &idTable{buckets: make([][]idSlot, 1)} }

func (t *idTable) len() int { return t.n }

func (t *idTable) bucket(hi uint64) int {
	if t.depth == 0 {
		return 0
	}
	return int(hi >> (64 - t.depth))
}

// search returns the bucket of k and the position of the first slot not
// below k in it, and whether that slot is k.
func (t *idTable) search(k idKey) (int, int, bool) {
	bi := t.bucket(k.a)
	b := t.buckets[bi]
	kb := k.b >> 32
	lo, hi := 0, len(b)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		s := b[m]
		if s.hi < k.a || (s.hi == k.a && s.lo>>32 < kb) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return bi, lo, lo < len(b) && b[lo].hi == k.a && b[lo].lo>>32 == kb
}

// get returns k's value.
func (t *idTable) get(k idKey) (uint32, bool) {
	bi, i, ok := t.search(k)
	if !ok {
		return 0, false
	}
	return uint32(t.buckets[bi][i].lo), true
}

// set gives k the value v, adding k when it is new.
func (t *idTable) set(k idKey, v uint32) {
	bi, i, ok := t.search(k)
	b := t.buckets[bi]
	s := idSlot{hi: k.a, lo: k.b>>32<<32 | uint64(v)}
	if ok {
		b[i] = s
		return
	}
	if len(b) == cap(b) {
		// Grow by an eighth, not append's doubling: the spare room of
		// thousands of buckets is what the table costs beyond its slots.
		// Appending to nil rounds the capacity up to the allocator's size
		// class, so the class's spare bytes are usable slots, not waste.
		nb := append([]idSlot(nil), make([]idSlot, len(b)+len(b)/8+4)...)[:len(b)]
		copy(nb, b)
		b = nb
	}
	b = b[:len(b)+1]
	copy(b[i+1:], b[i:])
	b[i] = s
	t.buckets[bi] = b
	t.n++
	if t.n > splitAt<<t.depth && t.depth < 32 {
		t.split()
	}
}

// del removes k.
func (t *idTable) del(k idKey) {
	bi, i, ok := t.search(k)
	if !ok {
		return
	}
	b := t.buckets[bi]
	copy(b[i:], b[i+1:])
	t.buckets[bi] = b[:len(b)-1]
	t.n--
}

// split doubles the directory: bucket i becomes buckets 2i (the keys whose
// next bit is zero) and 2i+1, sharing its array.
func (t *idTable) split() {
	next := make([][]idSlot, 2*len(t.buckets))
	bit := uint64(1) << (63 - t.depth)
	for i, b := range t.buckets {
		lo, hi := 0, len(b)
		for lo < hi { // the first slot with the bit set (sorted by hi)
			m := int(uint(lo+hi) >> 1)
			if b[m].hi&bit == 0 {
				lo = m + 1
			} else {
				hi = m
			}
		}
		next[2*i], next[2*i+1] = b[:lo:lo], b[lo:]
	}
	t.buckets = next
	t.depth++
}
