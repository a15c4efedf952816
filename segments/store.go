package segments

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/RoaringBitmap/roaring/v2"

	"github.com/granarycdp/cdp/store"
)

// Definition is a segment: a named, versioned rule and its membership.
type Definition struct {
	ID          string    `json:"id"`
	Version     uint32    `json:"version"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Rule        string    `json:"rule"`
	Live        bool      `json:"live"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by"`
	Size        uint64    `json:"size"`
	ComputedAt  time.Time `json:"computed_at"`
}

// Change is who entered and left a live segment after new records.
type Change struct {
	Segment string
	Entered []uint32
	Exited  []uint32
	At      time.Time
}

// Errors of the segment store.
var (
	ErrNotFound = errors.New("segments: no such segment")
	ErrCycle    = errors.New("segments: in_segment would make a cycle")
)

// Store keeps segment definitions (versioned in ClickHouse) and their
// current membership (in memory, snapshotted to segment_members), and keeps
// live segments current as records arrive. It implements SegmentResolver
// for in_segment. It is safe for concurrent use.
type Store struct {
	db     *store.DB
	engine *Engine
	logger *slog.Logger
	// OnChange receives every change of membership (entries and exits of
	// live updates, recomputes and window expiry: campaign triggers); it
	// must not block for long. Set it before the store is used.
	OnChange func(Change)
	// ExpiryEvery is how often live segments are re-evaluated without new
	// records, so that a window's end ("not in the last 60 days") takes
	// effect; leaves older than the engine's LeafMaxAge are recomputed
	// then, so expiry shows within ExpiryEvery + LeafMaxAge.
	ExpiryEvery time.Duration
	// LiveEvery is the least time between the starts of two live rounds:
	// records that arrive meanwhile wait and are refreshed together in
	// the next round. A round's cost hardly depends on how many persons it
	// holds: each live segment's leaf patch scans the leaf's window for
	// them, and the campaign triggers it wakes read sends, consents and
	// profiles. Rounds back to back (0, the default) follow every ingest
	// commit, several a second under load. Set it before RunLive.
	LiveEvery time.Duration
	// after is time.After; tests replace it to hold a round back.
	after func(time.Duration) <-chan time.Time

	mu      sync.RWMutex
	defs    map[string]*Definition
	members map[string]*roaring.Bitmap // frozen: replaced, never modified
	plans   map[string]*Compiled

	// writes orders membership writes against erasures: setMembers holds
	// it for reading from its update of members to its change log, Forget
	// for writing while it adds to erased, so a write under way when a
	// person is erased lands before the erasure's own writes and mutations,
	// and any later one leaves the person out.
	writes sync.RWMutex
	erased *roaring.Bitmap // persons erased in this process (guarded by mu)

	live    chan struct{} // wakes the live loop
	pendMu  sync.Mutex
	pending map[string]*roaring.Bitmap // persons touched, by kind of record
}

// NewStore loads the definitions and their latest membership snapshots and
// makes the store the engine's in_segment resolver.
func NewStore(ctx context.Context, db *store.DB, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{db: db, logger: opts.Logger, defs: map[string]*Definition{}, members: map[string]*roaring.Bitmap{},
		plans: map[string]*Compiled{}, live: make(chan struct{}, 1), pending: map[string]*roaring.Bitmap{}, after: time.After}
	opts.Segments = s
	s.engine = NewEngine(db, opts)
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Engine is the store's rule engine (estimates, overlaps).
func (s *Store) Engine() *Engine { return s.engine }

func (s *Store) load(ctx context.Context) error {
	rows, err := s.db.Conn.Query(ctx, `SELECT segment_id, argMax(version, version), argMax(name, version), argMax(description, version),
			argMax(rule, version), argMax(live, version), argMax(deleted, version), min(created_at), argMax(created_by, version)
		FROM `+s.db.Table("segments")+` GROUP BY segment_id`)
	if err != nil {
		return fmt.Errorf("load segments: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var d Definition
		var live, deleted uint8
		if err := rows.Scan(&d.ID, &d.Version, &d.Name, &d.Description, &d.Rule, &live, &deleted, &d.CreatedAt, &d.CreatedBy); err != nil {
			return err
		}
		if deleted != 0 {
			continue
		}
		d.Live = live != 0
		c, unbounded, err := s.engine.checkSaved(d.Rule)
		if err != nil {
			s.logger.Error("stored segment rule no longer checks; it is skipped", "segment", d.ID, "err", err)
			continue
		}
		if unbounded != nil {
			s.logger.Warn("stored segment rule is refused by today's checks (it reads without bounds or costs too much per customer); "+
				"it keeps running within the engine's limits, but saving it again needs a rule the checks accept",
				"segment", d.ID, "problem", unbounded)
		}
		s.defs[d.ID], s.plans[d.ID] = &d, c
	}
	if err := rows.Err(); err != nil {
		return err
	}
	// toString of an aggregate state is its serialised bytes.
	snaps, err := s.db.Conn.Query(ctx, "SELECT segment_id, computed_at, toString(members) FROM "+s.db.Table("segment_members")+" FINAL")
	if err != nil {
		return err
	}
	defer snaps.Close()
	for snaps.Next() {
		var id, raw string
		var at time.Time
		if err := snaps.Scan(&id, &at, &raw); err != nil {
			return err
		}
		d, ok := s.defs[id]
		if !ok {
			continue
		}
		bm, err := DecodeGroupBitmap([]byte(raw))
		if err != nil {
			return fmt.Errorf("segment %s snapshot: %w", id, err)
		}
		s.members[id], d.Size, d.ComputedAt = bm, bm.GetCardinality(), at
	}
	return snaps.Err()
}

// SegmentMembers resolves in_segment.
func (s *Store) SegmentMembers(ctx context.Context, id string) (*roaring.Bitmap, error) {
	s.mu.RLock()
	bm, ok := s.members[id]
	_, known := s.defs[id]
	s.mu.RUnlock()
	if !known {
		return nil, fmt.Errorf("%w: %s", ErrUnknownSegment, id)
	}
	if !ok {
		return roaring.New(), nil
	}
	return bm, nil
}

// List returns every segment, by name.
func (s *Store) List() []Definition {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Definition, 0, len(s.defs))
	for _, d := range s.defs {
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Get returns one segment.
func (s *Store) Get(id string) (Definition, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d, ok := s.defs[id]
	if !ok {
		return Definition{}, ErrNotFound
	}
	return *d, nil
}

// Members returns a segment's current members (frozen: do not modify).
func (s *Store) Members(id string) (*roaring.Bitmap, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, ok := s.defs[id]; !ok {
		return nil, ErrNotFound
	}
	if bm, ok := s.members[id]; ok {
		return bm, nil
	}
	return roaring.New(), nil
}

// SegmentsOf lists the segments a person is in.
func (s *Store) SegmentsOf(person uint32) []Definition {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []Definition{}
	for id, bm := range s.members {
		if bm.Contains(person) {
			out = append(out, *s.defs[id])
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Save creates a segment (id empty) or a new version of one, computes its
// membership and snapshots it. Rule problems are *RuleError.
func (s *Store) Save(ctx context.Context, d Definition, by string) (Definition, error) {
	c, err := s.engine.Check(d.Rule)
	if err != nil {
		return Definition{}, err
	}
	s.mu.Lock()
	if d.ID == "" {
		d.ID, d.Version, d.CreatedAt = newSegmentID(), 1, time.Now()
	} else if old, ok := s.defs[d.ID]; ok {
		d.Version, d.CreatedAt = old.Version+1, old.CreatedAt
	} else {
		s.mu.Unlock()
		return Definition{}, ErrNotFound
	}
	err = s.cycleLocked(d.ID, c)
	s.mu.Unlock()
	if err != nil {
		return Definition{}, err
	}
	d.CreatedBy = by
	if err := s.writeDefinition(ctx, d, false); err != nil {
		return Definition{}, err
	}
	s.mu.Lock()
	s.defs[d.ID], s.plans[d.ID] = &d, c
	s.mu.Unlock()
	return s.Recompute(ctx, d.ID)
}

// cycleLocked refuses a rule whose in_segment references lead back to id.
func (s *Store) cycleLocked(id string, c *Compiled) error {
	seen := map[string]bool{}
	var visit func(ids []string) error
	visit = func(ids []string) error {
		for _, ref := range ids {
			if ref == id {
				return fmt.Errorf("%w: %s refers back to itself", ErrCycle, id)
			}
			if seen[ref] {
				continue
			}
			seen[ref] = true
			if p, ok := s.plans[ref]; ok {
				if err := visit(p.Segments()); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return visit(c.Segments())
}

// Delete removes a segment (its definitions stay in history).
func (s *Store) Delete(ctx context.Context, id, by string) error {
	s.mu.Lock()
	d, ok := s.defs[id]
	if ok {
		for other, p := range s.plans {
			for _, ref := range p.Segments() {
				if ref == id && other != id {
					s.mu.Unlock()
					return fmt.Errorf("segment %s is used by %s (in_segment)", id, other)
				}
			}
		}
	}
	s.mu.Unlock()
	if !ok {
		return ErrNotFound
	}
	del := *d
	del.Version++
	del.CreatedBy = by
	if err := s.writeDefinition(ctx, del, true); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.defs, id)
	delete(s.plans, id)
	delete(s.members, id)
	s.mu.Unlock()
	return nil
}

func (s *Store) writeDefinition(ctx context.Context, d Definition, deleted bool) error {
	return s.db.Conn.Exec(ctx, "INSERT INTO "+s.db.Table("segments")+
		" (segment_id, version, name, description, rule, live, deleted, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		d.ID, d.Version, d.Name, d.Description, d.Rule, b2u(d.Live), b2u(deleted), time.Now(), d.CreatedBy)
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// History lists a segment's versions, newest first.
func (s *Store) History(ctx context.Context, id string) ([]Definition, error) {
	rows, err := s.db.Conn.Query(ctx, "SELECT version, name, description, rule, live, deleted, created_at, created_by FROM "+
		s.db.Table("segments")+" WHERE segment_id = ? ORDER BY version DESC", id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Definition
	for rows.Next() {
		d := Definition{ID: id}
		var live, deleted uint8
		if err := rows.Scan(&d.Version, &d.Name, &d.Description, &d.Rule, &live, &deleted, &d.CreatedAt, &d.CreatedBy); err != nil {
			return nil, err
		}
		d.Live = live != 0
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, ErrNotFound
	}
	return out, rows.Err()
}

// Recompute evaluates a segment in full and snapshots its membership.
func (s *Store) Recompute(ctx context.Context, id string) (Definition, error) {
	s.mu.RLock()
	c, ok := s.plans[id]
	s.mu.RUnlock()
	if !ok {
		return Definition{}, ErrNotFound
	}
	bm, err := s.engine.Evaluate(ctx, c)
	if err != nil {
		return Definition{}, err
	}
	bm.RunOptimize()
	return s.setMembers(ctx, id, bm)
}

// setMembers replaces a segment's membership, writes the snapshot and
// logs who entered and left (segment_changes), and reports the change.
func (s *Store) setMembers(ctx context.Context, id string, bm *roaring.Bitmap) (Definition, error) {
	// The engine's clock, the one the rule was evaluated at: the change
	// log's times compare with the campaigns' and journeys' launch times
	// on the same clock (their catch-up after a restart reads them).
	now := s.engine.opts.Now()
	s.writes.RLock()
	defer s.writes.RUnlock()
	s.mu.Lock()
	d, ok := s.defs[id]
	if !ok {
		s.mu.Unlock()
		return Definition{}, ErrNotFound
	}
	old := s.members[id]
	if old == nil {
		old = roaring.New()
	}
	if s.erased != nil && bm.Intersects(s.erased) {
		// Computed before an erasure (a live round under way): the
		// erased persons neither enter nor stay.
		bm = roaring.AndNot(bm, s.erased)
	}
	change := Change{Segment: id, Entered: roaring.AndNot(bm, old).ToArray(), Exited: roaring.AndNot(old, bm).ToArray(), At: now}
	s.members[id] = bm
	d.Size, d.ComputedAt = bm.GetCardinality(), now
	out, version := *d, d.Version
	s.mu.Unlock()
	raw, err := EncodeGroupBitmap(bm)
	if err != nil {
		return out, err
	}
	err = s.db.Conn.Exec(ctx, "INSERT INTO "+s.db.Table("segment_members")+
		" (segment_id, version, computed_at, members, size) SELECT ?, ?, ?, CAST(? AS AggregateFunction(groupBitmap, UInt32)), ?",
		id, version, now, string(raw), bm.GetCardinality())
	if err != nil {
		return out, err
	}
	if len(change.Entered)+len(change.Exited) == 0 {
		return out, nil
	}
	if err := s.logChange(ctx, change); err != nil {
		return out, err
	}
	if s.OnChange != nil {
		s.OnChange(change)
	}
	return out, nil
}

func (s *Store) logChange(ctx context.Context, c Change) error {
	batch, err := s.db.Conn.PrepareBatch(ctx, "INSERT INTO "+s.db.Table("segment_changes")+" (segment_id, person_id, change, ts)")
	if err != nil {
		return err
	}
	defer batch.Close()
	for _, list := range []struct {
		ids  []uint32
		kind string
	}{{c.Entered, "enter"}, {c.Exited, "exit"}} {
		for _, p := range list.ids {
			if err := batch.Append(c.Segment, p, list.kind, c.At); err != nil {
				return err
			}
		}
	}
	return batch.Send()
}

// Forget removes persons (erased) from every segment, and keeps them out
// of every membership written later by this process: a live round that
// read their records before the erasure deleted them would otherwise
// write them back after it (a snapshot, an enter or exit in the change
// log). It returns once no membership write that may hold them is under
// way, so the erasure that follows covers everything written before.
func (s *Store) Forget(ctx context.Context, persons []uint32) error {
	gone := roaring.BitmapOf(persons...)
	s.writes.Lock()
	s.mu.Lock()
	if s.erased == nil {
		s.erased = roaring.New()
	}
	s.erased.Or(gone)
	s.mu.Unlock()
	s.writes.Unlock()
	s.mu.RLock()
	var ids []string
	for id, bm := range s.members {
		if bm.Intersects(gone) {
			ids = append(ids, id)
		}
	}
	s.mu.RUnlock()
	var errs []error
	for _, id := range ids {
		s.mu.RLock()
		bm := roaring.AndNot(s.members[id], gone)
		s.mu.RUnlock()
		if _, err := s.setMembers(ctx, id, bm); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func newSegmentID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "seg_" + hex.EncodeToString(b[:])
}

// Kinds of records, as the ingest pipeline names the tables it wrote.
func KindsOfTables(tables []string) []string {
	m := map[string]bool{}
	for _, t := range tables {
		switch {
		case t == "events":
			m[KindEvents] = true
		case strings.HasPrefix(t, "order"):
			m[KindOrders], m[KindTraits] = true, true
		case t == "wecom_messages":
			m[KindChats] = true
		case t == "persons":
			m[KindPersons] = true
		}
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// EnteredSince lists the persons the change log (segment_changes) shows
// entering segment id strictly after since who are still members, each
// with the time of their latest entry; a deleted segment has none. The
// catch-up of segment-entry campaigns and journeys after a start reads it:
// an entry is logged and snapshotted before it is queued in memory for
// them, so a process killed in between restarts with the person already a
// member and no live change to bring them.
func (s *Store) EnteredSince(ctx context.Context, id string, since time.Time) (map[uint32]time.Time, error) {
	members, err := s.Members(id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Conn.Query(ctx, "SELECT person_id, max(ts) FROM "+s.db.Table("segment_changes")+
		" WHERE segment_id = {segment:String} AND change = 'enter' AND ts > {since:DateTime64(3, 'UTC')} GROUP BY person_id",
		clickhouse.Named("segment", id), clickhouse.Named("since", since))
	if err != nil {
		return nil, fmt.Errorf("segments: read the entries of %s: %w", id, err)
	}
	defer rows.Close()
	out := map[uint32]time.Time{}
	for rows.Next() {
		var p uint32
		var at time.Time
		if err := rows.Scan(&p, &at); err != nil {
			return nil, fmt.Errorf("segments: read the entries of %s: %w", id, err)
		}
		if members.Contains(p) {
			out[p] = at
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("segments: read the entries of %s: %w", id, err)
	}
	return out, nil
}
