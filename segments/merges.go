package segments

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
)

// The merged persons, held by the trait snapshot so that leaf queries do
// not each read the persons table to find them.
//
// Every leaf maps the person ids of its records to OneIDs. Only merged
// persons (a few percent) map to another id, but finding them reads every
// persons row: at a million persons that read was repeated by each leaf of
// an evaluation, before its own scan. The trait snapshot reads them anyway
// (to fold the trait rows of merged persons) and Refresh patches them with
// the rest of the snapshot, so an existence leaf's query returns the raw
// person ids of its rows and the engine folds the merged ones into their
// OneIDs (fold), with the published snapshot's merges or, when none is
// published yet, merges read afresh (mergesFor). A count leaf must count
// per OneID before it compares: on one node the engine counts its rows
// itself and folds the counts with the same merges (counts.go); on a
// sharded cluster its query reads the merged persons itself (sql.go,
// renderRows: sending the snapshot's merges as query parameters cost more
// than the read).
//
// Consistency with merges under way: Refresh publishes the patched
// snapshot before it marks the persons dirty in the cached leaves, so a
// leaf computed before the mark (with the old merges) is patched for
// them at its next read, and one computed after it uses the new merges.

// merges maps merged persons to their canonical persons. Immutable.
type merges struct {
	ids  []uint32        // merged persons, ascending
	into []uint32        // into[i] is the canonical person of ids[i]
	set  *roaring.Bitmap // ids
}

// newMerges builds merges from a map of merged person to canonical person.
func newMerges(m map[uint32]uint32) *merges {
	out := &merges{ids: make([]uint32, 0, len(m)), into: make([]uint32, 0, len(m)), set: roaring.New()}
	for id := range m {
		out.ids = append(out.ids, id)
	}
	slices.Sort(out.ids)
	for _, id := range out.ids {
		out.into = append(out.into, m[id])
	}
	out.set.AddMany(out.ids)
	out.set.RunOptimize()
	return out
}

// canonical returns the canonical person of the merged person id.
func (m *merges) canonical(id uint32) (uint32, bool) {
	i, found := slices.BinarySearch(m.ids, id)
	if !found {
		return 0, false
	}
	return m.into[i], true
}

// fold maps the person ids of raw to their canonical persons: merged ones
// are replaced by theirs, others stay. raw is not modified.
func (m *merges) fold(raw *roaring.Bitmap) *roaring.Bitmap {
	hit := roaring.And(raw, m.set)
	if hit.IsEmpty() {
		return raw
	}
	out := roaring.AndNot(raw, hit)
	hit.Iterate(func(id uint32) bool {
		into, found := m.canonical(id)
		if !found {
			panic("BUG: merges.fold: a merged person missing from its list")
		}
		out.Add(into)
		return true
	})
	return out
}

// patch returns the merges with those of clear replaced: entries whose
// merged or canonical person is in clear are dropped, then fresh (the
// current merges of the canonical persons refreshed) is added.
func (m *merges) patch(clear *roaring.Bitmap, fresh map[uint32]uint32) *merges {
	next := make(map[uint32]uint32, len(m.ids)+len(fresh))
	for i, id := range m.ids {
		if !clear.Contains(id) && !clear.Contains(m.into[i]) {
			next[id] = m.into[i]
		}
	}
	for id, into := range fresh {
		next[id] = into
	}
	return newMerges(next)
}

// readMerges reads every merge from ClickHouse, for a leaf folded when no
// snapshot is published (see mergesFor).
func (e *Engine) readMerges(ctx context.Context) (*merges, error) {
	ids, intos, err := e.queryMerges(ctx, nil)
	if err != nil {
		return nil, err
	}
	m := make(map[uint32]uint32, len(ids))
	for i, id := range ids {
		m[id] = intos[i]
	}
	return newMerges(m), nil
}

// queryMerges runs mergesSQL: every merged person and its canonical
// person, or (args holding {persons}) those of the canonical persons given.
func (e *Engine) queryMerges(ctx context.Context, args []any) (ids, intos []uint32, err error) {
	var a, b []byte
	if err := e.db.Conn.QueryRow(readContext(ctx), e.mergesSQL(len(args) > 0), args...).Scan(&a, &b); err != nil {
		return nil, nil, fmt.Errorf("segments: read merges: %w", err)
	}
	if ids, err = decodeArrayState(a, 4, binary.LittleEndian.Uint32); err != nil {
		return nil, nil, fmt.Errorf("segments: read merges: %w", err)
	}
	if intos, err = decodeArrayState(b, 4, binary.LittleEndian.Uint32); err != nil {
		return nil, nil, fmt.Errorf("segments: read merges: %w", err)
	}
	if len(ids) != len(intos) {
		return nil, nil, fmt.Errorf("segments: read merges: %w: %d persons, %d canonical", errState, len(ids), len(intos))
	}
	return ids, intos, nil
}

// published returns the published trait snapshot, nil when none is
// loaded.
func (e *Engine) published() *traitSnapshot {
	e.traitsMu.Lock()
	defer e.traitsMu.Unlock()
	return e.traits
}

// publishedMerges returns the merges of the published trait snapshot,
// nil when none is loaded. Refresh keeps them current at any age.
func (e *Engine) publishedMerges() *merges {
	if s := e.published(); s != nil {
		return s.merges
	}
	return nil
}

// mergesFor returns the merges to fold a leaf with: those of the
// published snapshot (at least as new as any Refresh that marked persons
// dirty before the leaf's computation began, as Refresh publishes first),
// or, when none is published (a load that a Refresh overtook, whose
// result was not published), read afresh.
func (e *Engine) mergesFor(ctx context.Context) (*merges, error) {
	if m := e.publishedMerges(); m != nil {
		return m, nil
	}
	return e.readMerges(ctx)
}

// computeLeaf runs a leaf's full query: its rows' person ids counted here
// (counts.go) when the leaf has that form and the engine is one node, or
// ClickHouse's bitmap. folded: the bitmap holds canonical persons
// already.
func (e *Engine) computeLeaf(ctx context.Context, l *sqlLeaf, now time.Time) (bm *roaring.Bitmap, folded bool, err error) {
	if l.counted != nil && !e.db.Sharded {
		bm, err = e.countLeaf(ctx, l, now)
		return bm, true, err
	}
	bm, err = e.queryBitmap(ctx, l.desc, l.query, l.args(now.UnixMilli(), nil))
	return bm, false, err
}
