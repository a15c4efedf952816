package segments

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
)

// patchLeaf returns old brought up to date at now for the dirty persons:
// the leaf's query restricted to their canonical persons replaces what old
// says of them (clone, remove, add).
func (e *Engine) patchLeaf(ctx context.Context, l *sqlLeaf, old, dirty *roaring.Bitmap, now time.Time) (*roaring.Bitmap, error) {
	canon, err := e.canon.of(ctx, dirty, e.readUniverse)
	if err != nil {
		return nil, err
	}
	fresh, err := e.queryBitmap(ctx, l.desc, l.refresh, l.args(now.UnixMilli(), canon.ToArray()))
	if err != nil {
		return nil, err
	}
	fresh.And(canon)
	clear := roaring.Or(dirty, canon)
	bm := roaring.AndNot(old, clear)
	bm.Or(fresh)
	return bm, nil
}

// canonMemo shares the canonical persons of a dirty set between the leaves
// patched for it. In a live round every leaf the round reads usually has
// the same dirty set (the persons of the batches since the last round),
// and each patch needs their canonical persons: one read (readUniverse)
// serves every leaf patched for an equal set, concurrent patches waiting
// for it, until the next Refresh or Invalidate, which may have moved
// persons between canonical persons (bump). It holds the last set only.
type canonMemo struct {
	mu    sync.Mutex
	epoch uint64 // bumped by Refresh and Invalidate
	last  *canonRead
	reads atomic.Int64 // readUniverse calls made, for tests
}

type canonRead struct {
	epoch uint64
	dirty *roaring.Bitmap // frozen
	done  chan struct{}
	canon *roaring.Bitmap // frozen once done
	err   error
}

// bump makes every later call read again.
func (m *canonMemo) bump() {
	m.mu.Lock()
	m.epoch++
	m.last = nil
	m.mu.Unlock()
}

// current returns the epoch, for bumpAndSeed.
func (m *canonMemo) current() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.epoch
}

// bumpAndSeed is a Refresh's bump, recording canon as the canonical
// persons of dirty: the persons the Refresh marks dirty in the leaves are
// dirty, its persons and the canonical persons it read for them (whose
// own canonical persons are themselves), so the leaves patched next for
// exactly that set need no read of their own (one of every persons row
// for the thousands of ids of a round under load). It records nothing
// when another bump came since epoch, the epoch before the Refresh's
// read: canon may predate what that bump announced.
func (m *canonMemo) bumpAndSeed(epoch uint64, dirty, canon *roaring.Bitmap) {
	m.mu.Lock()
	defer m.mu.Unlock()
	seed := m.epoch == epoch
	m.epoch++
	m.last = nil
	if seed {
		r := &canonRead{epoch: m.epoch, dirty: dirty.Clone(), done: make(chan struct{}), canon: canon}
		close(r.done)
		m.last = r
	}
}

// of returns the canonical persons of dirty (frozen: do not modify), from
// read or from the read of an equal set since the last bump.
func (m *canonMemo) of(ctx context.Context, dirty *roaring.Bitmap,
	read func(context.Context, []uint32) (*roaring.Bitmap, error)) (*roaring.Bitmap, error) {
	for {
		m.mu.Lock()
		if r := m.last; r != nil && r.epoch == m.epoch && r.dirty.Equals(dirty) {
			m.mu.Unlock()
			select {
			case <-r.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if r.err != nil && isContextErr(r.err) && ctx.Err() == nil {
				continue // its reader gave up; of cleared it
			}
			return r.canon, r.err
		}
		r := &canonRead{epoch: m.epoch, dirty: dirty.Clone(), done: make(chan struct{})}
		m.last = r
		m.mu.Unlock()
		m.reads.Add(1)
		r.canon, r.err = read(ctx, dirty.ToArray())
		if r.err != nil {
			m.mu.Lock()
			if m.last == r {
				m.last = nil
			}
			m.mu.Unlock()
		}
		close(r.done)
		return r.canon, r.err
	}
}
