package segments

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/RoaringBitmap/roaring/v2"
)

// The trait snapshot kept between restarts (Options.PersistTraits).
//
// After each full read the engine writes the snapshot it built to
// segment_trait_snapshots with the high-water marks of that read: the
// highest orders.spool_seq and persons.version seen before it began. A
// new engine's first load reads that row back and patches, as Refresh
// does, the persons changed since:
//
//   - persons of order rows with a higher spool_seq (every version of an
//     order the pipeline writes carries the position of its record in
//     the spool, and the pipeline inserts batches one at a time in spool
//     order, so a row below the mark was visible when the mark was read),
//     or received in the last persistMargin before the read (rows written
//     outside the spool carry no position);
//   - persons whose persons row has a higher version (merges, unmerges:
//     their canonical persons are read again whole, which also covers the
//     order rows an unmerge re-attributes in place), less persistMargin,
//     since versions are clock readings of more than one writer.
//
// An erasure changes orders in place (person_id 0), which no mark sees:
// it deletes the persisted rows (identity.Service.Erase), and a row read
// before an erasure recorded in suppressions is not used (the erasure may
// have run while the read was under way, before the row was written).
// Invalidate also stops this engine from using the row.

// persistFormat is the encoding of the snapshot column; rows of another
// format are ignored (a full read replaces them).
const persistFormat = 1

// persistMargin widens the marks for writers whose positions are clock
// readings: ten minutes is far beyond the clock steps NTP makes and the
// time a batch stays between its versions and its insert.
const persistMargin = 10 * time.Minute

// persistMagic starts an encoded snapshot.
var persistMagic = []byte("cdp-traits\x00")

// errPersisted: a persisted snapshot that cannot be decoded.
var errPersisted = errors.New("segments: malformed persisted trait snapshot")

// traitMarks are the high-water marks of a full read, taken before it
// began.
type traitMarks struct {
	readAt         time.Time // platform clock
	ordersSeq      uint64
	personsVersion uint64
}

// readMarks reads the marks; call it before the read it marks.
func (e *Engine) readMarks(ctx context.Context) (traitMarks, error) {
	m := traitMarks{readAt: time.Now()}
	err := e.db.Conn.QueryRow(ctx, "SELECT (SELECT max(spool_seq) FROM "+e.db.Table("orders")+"), (SELECT max(version) FROM "+e.db.Table("persons")+")").
		Scan(&m.ordersSeq, &m.personsVersion)
	if err != nil {
		return m, fmt.Errorf("segments: read trait marks: %w", err)
	}
	return m, nil
}

// persist writes s, read after marks, as the persisted snapshot.
func (e *Engine) persist(ctx context.Context, s *traitSnapshot, m traitMarks) error {
	enc, err := s.encode()
	if err != nil {
		return err
	}
	batch, err := e.db.Conn.PrepareBatch(ctx, "INSERT INTO "+e.db.Table("segment_trait_snapshots")+
		" (slot, read_at, orders_seq, persons_version, format, snapshot)")
	if err != nil {
		return fmt.Errorf("segments: persist traits: %w", err)
	}
	defer batch.Close()
	if err := batch.Append(uint8(0), m.readAt, m.ordersSeq, m.personsVersion, uint16(persistFormat), string(enc)); err != nil {
		return fmt.Errorf("segments: persist traits: %w", err)
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("segments: persist traits: %w", err)
	}
	return nil
}

// restore reads the persisted snapshot and patches the persons changed
// since its marks. It returns nil without error when there is none to
// use (none written, another format, an erasure since).
func (e *Engine) restore(ctx context.Context, now time.Time) (*traitSnapshot, error) {
	start := time.Now()
	t := e.db.Table("segment_trait_snapshots")
	q := "SELECT read_at, orders_seq, persons_version, snapshot, " +
		"(SELECT max(ts) FROM " + e.db.Table("suppressions") + " WHERE reason = 'erased') " +
		"FROM " + t + " WHERE format = " + fmt.Sprint(persistFormat) + " ORDER BY read_at DESC LIMIT 1"
	rows, err := e.db.Conn.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("segments: read persisted traits: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	var m traitMarks
	var enc []byte
	var erased time.Time
	if err := rows.Scan(&m.readAt, &m.ordersSeq, &m.personsVersion, &enc, &erased); err != nil {
		return nil, fmt.Errorf("segments: read persisted traits: %w", err)
	}
	rows.Close()
	if !erased.Before(m.readAt.Add(-persistMargin)) {
		e.log.Info("the persisted segment traits may predate an erasure; reading them in full", "read_at", m.readAt, "erasure", erased)
		return nil, nil
	}
	s, err := decodeSnapshot(enc, e.opts.CityTiers, now)
	if err != nil {
		return nil, err
	}
	decoded := time.Since(start)
	changed, err := e.changedSince(ctx, m)
	if err != nil {
		return nil, err
	}
	// A person split from its canonical person (unmerge) leaves its
	// orders folded into it in the snapshot: read that one again too.
	changed.Iterate(func(id uint32) bool {
		if c, ok := s.merges.canonical(id); ok {
			changed.Add(c)
		}
		return true
	})
	if !changed.IsEmpty() {
		persons := changed.ToArray()
		canon, err := e.readUniverse(ctx, persons)
		if err != nil {
			return nil, err
		}
		clear := roaring.Or(changed, canon)
		if s, err = e.patchSnapshot(ctx, s, canon, clear, &traitPatch{canon: canon, clear: clear}); err != nil {
			return nil, err
		}
	}
	e.log.Debug("segment traits restored", "read_at", m.readAt, "persons", s.universe.GetCardinality(),
		"changed", changed.GetCardinality(), "decoded", decoded, "took", time.Since(start))
	return s, nil
}

// changedSince is the person ids whose traits may differ from a snapshot
// read after m (see the top of this file).
func (e *Engine) changedSince(ctx context.Context, m traitMarks) (*roaring.Bitmap, error) {
	version := m.personsVersion
	if margin := uint64(persistMargin); version > margin {
		version -= margin // a clock reading in nanoseconds (small versions are not)
	}
	q := "SELECT toString(groupBitmapState(person_id)) FROM (" +
		"SELECT person_id FROM " + e.db.Table("orders") + " WHERE person_id != 0 AND (spool_seq > {seq:UInt64} OR received_at >= fromUnixTimestamp64Milli({since:Int64}, 'UTC'))" +
		" UNION ALL SELECT person_id FROM " + e.db.Table("persons") + " WHERE version > {version:UInt64})"
	bm, err := e.queryBitmap(ctx, "changed since the persisted traits", q, []any{
		clickhouse.Named("seq", m.ordersSeq), clickhouse.Named("since", m.readAt.Add(-persistMargin).UnixMilli()), clickhouse.Named("version", version)})
	if err != nil {
		return nil, err
	}
	return bm, nil
}

// encode writes the snapshot: the universe, the numeric indexes, city and
// province, and channels, each bitmap in roaring's portable format, then
// its merges (merged person, canonical person; ascending). city_tier is
// not written: it follows from city and Options.CityTiers.
func (s *traitSnapshot) encode() ([]byte, error) {
	var w snapWriter
	w.buf.Write(persistMagic)
	w.bitmap(s.universe)
	names := make([]string, 0, len(s.numeric))
	for name := range s.numeric {
		names = append(names, name)
	}
	slices.Sort(names)
	w.uvarint(uint64(len(names)))
	for _, name := range names {
		b := s.numeric[name]
		w.str(name)
		w.bitmap(b.exists)
		w.uvarint(uint64(len(b.slices)))
		for _, sl := range b.slices {
			w.bitmap(sl)
		}
	}
	for _, cs := range [][]category{s.categories["city"], s.categories["province"], s.channels} {
		w.uvarint(uint64(len(cs)))
		for _, c := range cs {
			w.str(c.value.(string))
			w.bitmap(c.members)
		}
	}
	w.uvarint(uint64(len(s.merges.ids)))
	for i, id := range s.merges.ids {
		w.uvarint(uint64(id))
		w.uvarint(uint64(s.merges.into[i]))
	}
	return w.buf.Bytes(), w.err
}

// decodeSnapshot reads what encode wrote; every bitmap is validated.
func decodeSnapshot(b []byte, tiers map[string]int, now time.Time) (*traitSnapshot, error) {
	if !bytes.HasPrefix(b, persistMagic) {
		return nil, fmt.Errorf("%w: no header", errPersisted)
	}
	r := snapReader{b: b[len(persistMagic):]}
	s := &traitSnapshot{loaded: now, numeric: map[string]*bsi{}, categories: map[string][]category{}}
	s.universe = r.bitmap()
	for range r.count() {
		name := r.str()
		idx := &bsi{exists: r.bitmap()}
		for range r.count() {
			idx.slices = append(idx.slices, r.bitmap())
		}
		s.numeric[name] = idx
	}
	var lists [3][]category
	for i := range lists {
		for range r.count() {
			lists[i] = append(lists[i], category{value: r.str(), members: r.bitmap()})
		}
	}
	n := r.count()
	merges := make(map[uint32]uint32, n)
	for range n {
		id, into := r.uint32(), r.uint32()
		merges[id] = into
	}
	if r.err == nil && len(r.b) > 0 {
		r.err = fmt.Errorf("%w: %d bytes after the end", errPersisted, len(r.b))
	}
	if r.err != nil {
		return nil, r.err
	}
	for name, spec := range traitSpecs {
		if !spec.categorical && s.numeric[spec.column] == nil {
			return nil, fmt.Errorf("%w: no index of %s", errPersisted, name)
		}
	}
	s.fixZeroDefaults()
	s.categories["city"], s.categories["province"], s.channels = lists[0], lists[1], lists[2]
	s.categories["city_tier"] = tiersOf(s.categories["city"], tiers)
	s.merges = newMerges(merges)
	return s, nil
}

type snapWriter struct {
	buf bytes.Buffer
	err error
}

func (w *snapWriter) uvarint(n uint64) { w.buf.Write(binary.AppendUvarint(nil, n)) }

func (w *snapWriter) str(s string) {
	w.uvarint(uint64(len(s)))
	w.buf.WriteString(s)
}

func (w *snapWriter) bitmap(bm *roaring.Bitmap) {
	w.uvarint(bm.GetSerializedSizeInBytes())
	if _, err := bm.WriteTo(&w.buf); err != nil && w.err == nil {
		w.err = err
	}
}

// snapReader reads what snapWriter wrote; the first error sticks and
// makes every later read return zero values.
type snapReader struct {
	b   []byte
	err error
}

func (r *snapReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	n, w := binary.Uvarint(r.b)
	if w <= 0 {
		r.err = fmt.Errorf("%w: bad length", errPersisted)
		return 0
	}
	r.b = r.b[w:]
	return n
}

func (r *snapReader) uint32() uint32 {
	n := r.uvarint()
	if n > math.MaxUint32 && r.err == nil {
		r.err = fmt.Errorf("%w: person id %d", errPersisted, n)
	}
	return uint32(n)
}

// count is a number of items, each at least a byte long.
func (r *snapReader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err = fmt.Errorf("%w: %d items in %d bytes", errPersisted, n, len(r.b))
		return 0
	}
	return int(n)
}

func (r *snapReader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = fmt.Errorf("%w: %d bytes wanted, %d left", errPersisted, n, len(r.b))
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *snapReader) str() string { return string(r.bytes()) }

func (r *snapReader) bitmap() *roaring.Bitmap {
	body := r.bytes()
	if r.err != nil {
		return roaring.New()
	}
	if err := checkPortable(body); err != nil { // what bm.Validate checks, in linear time
		r.err = fmt.Errorf("%w: %v", errPersisted, err)
		return roaring.New()
	}
	bm := roaring.New()
	if err := bm.UnmarshalBinary(body); err != nil {
		r.err = fmt.Errorf("%w: %v", errPersisted, err)
	}
	return bm
}
