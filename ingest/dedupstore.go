package ingest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Keys on disk: a generation's keys are its index (8 bytes, big-endian)
// followed by the deduplication key, with an empty value. The store's own
// values sit under metaPrefix, above every generation.
var (
	metaPrefix    = []byte{0xff, 0xff, 'm', 'e', 't', 'a', '/'}
	metaWatermark = append(append([]byte{}, metaPrefix...), "watermark"...)
	metaStep      = append(append([]byte{}, metaPrefix...), "step"...)
)

func genPrefix(idx int64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(idx))
}

func diskKey(gen int64, key string) []byte {
	return appendDiskKey(make([]byte, 0, 8+len(key)), gen, key)
}

// appendDiskKey appends diskKey(gen, key) to dst.
func appendDiskKey(dst []byte, gen int64, key string) []byte {
	return append(binary.BigEndian.AppendUint64(dst, uint64(gen)), key...)
}

func seqBytes(s uint64) []byte { return binary.BigEndian.AppendUint64(nil, s) }

// Pebble's memory: its memtables (at most two of dedupMemTableBytes) and
// its block cache, besides the filters. Pebble keeps its own Bloom filter
// per table (10 bits per key, on disk, read through the cache) so that a
// key the generation filter let through costs a filter block, not a scan.
const (
	dedupMemTableBytes = 8 << 20
	dedupCacheBytes    = 16 << 20
)

// OpenDedup opens (or creates) the deduplication store in opts.Dir. The
// generations found there are restored with their filters: a filter file
// written when its generation ended is loaded; a generation without one
// (the newest after a crash) answers "maybe" until its filter is rebuilt
// from its keys in the background. Collector.Warm then adds the keys the
// store may have missed in a crash.
func OpenDedup(opts DedupOptions) (*Dedup, error) {
	if opts.Window <= 0 {
		opts.Window = defaultDedupWindow
	}
	if opts.FilterBytes <= 0 && opts.Dir == "" {
		opts.FilterBytes = memoryFilterBytes
	} else if opts.FilterBytes <= 0 {
		opts.FilterBytes = defaultFilterBytes
	}
	if opts.PlannedKeys <= 0 {
		opts.PlannedKeys = defaultPlannedKeys
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Dedup{
		opts: opts, logger: opts.Logger.With("component", "ingest-dedup"), newest: -1, stop: make(chan struct{}),
		step:   (opts.Window + dedupGenerations - 1) / dedupGenerations,
		perGen: opts.FilterBytes / (dedupGenerations + 1),
	}
	for i := range d.stripes {
		d.stripes[i].pending = map[string]keyState{}
		d.stripes[i].cond.L = &d.stripes[i].mu
	}
	dir := opts.Dir
	if dir == "" {
		d.fs, dir = vfs.NewMem(), "dedup"
	} else {
		d.fs = vfs.Default
		if err := privateDir(dir); err != nil {
			return nil, err
		}
	}
	d.filters = d.fs.PathJoin(dir, "filters")
	if err := d.fs.MkdirAll(d.filters, 0o700); err != nil {
		return nil, fmt.Errorf("deduplication store: %w", err)
	}
	db, err := pebble.Open(d.fs.PathJoin(dir, "keys"), pebbleOptions(d.fs, d.logger))
	if err != nil {
		return nil, fmt.Errorf("deduplication store: open %s: %w", dir, err)
	}
	d.db = db
	if err := d.restore(); err != nil {
		db.Close()
		return nil, fmt.Errorf("deduplication store: %w", err)
	}
	return d, nil
}

// privateDir makes dir, readable by the platform's user only: keys name
// WeCom users and messages.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("deduplication store: %w", err)
	}
	if fi, err := os.Stat(dir); err != nil {
		return fmt.Errorf("deduplication store: %w", err)
	} else if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("deduplication store: make %s private: %w", dir, err)
		}
	}
	return nil
}

func pebbleOptions(fs vfs.FS, logger *slog.Logger) *pebble.Options {
	o := &pebble.Options{
		FS:           fs,
		MemTableSize: dedupMemTableBytes,
		CacheSize:    dedupCacheBytes,
		Logger:       pebbleLogger{logger},
		// No write-ahead log. The keys' durability comes from the spool
		// and the watermark, not from the store: a key and the watermark
		// that covers it are written in one batch, so they reach disk in
		// the same memtable flush, and after a crash Warm adds back from
		// the spool and ClickHouse every key above the watermark found on
		// disk. A WAL would add nothing to that, and its writer does not
		// recover from a full disk (commits blocked for good after
		// ENOSPC, even once space was freed: TestSpoolDiskFullAnswers507AndResumes);
		// a failed memtable flush is retried in the background instead.
		DisableWAL: true,
	}
	o.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	return o
}

// pebbleLogger passes Pebble's errors to the platform's log.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(string, ...any) {}
func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Warn("deduplication store", "detail", fmt.Sprintf(format, args...))
}
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error("deduplication store failed", "detail", msg)
	panic("deduplication store: " + msg)
}

// bind tells the store where the collector's spool ends (the watermark).
func (d *Dedup) bind(lastSeq func() uint64) {
	d.flightMu.Lock()
	d.lastSeq = lastSeq
	d.flightMu.Unlock()
}

// Close stops the filter rebuilds, writes the newest generation's filter
// (so the next start needs no rebuild) and closes the store. Requests must
// have stopped.
func (d *Dedup) Close() error {
	close(d.stop)
	d.bg.Wait()
	d.mu.Lock()
	if n := len(d.gens); n > 0 && d.gens[n-1].trusted.Load() {
		d.writeFilter(d.gens[n-1])
	}
	d.mu.Unlock()
	// Without a WAL the memtable is lost unless flushed: flush it so a
	// clean restart finds every key and the newest watermark on disk.
	return errors.Join(d.db.Flush(), d.db.Close())
}

// setDurable writes one value and flushes it to disk: without a WAL a
// write is durable once its memtable is flushed.
func (d *Dedup) setDurable(key, value []byte) error {
	if err := d.db.Set(key, value, pebble.NoSync); err != nil {
		return err
	}
	return d.db.Flush()
}

// onDisk reports whether generation gen holds key.
func (d *Dedup) onDisk(gen int64, key string) (bool, error) {
	d.diskLookups.Add(1)
	_, closer, err := d.db.Get(diskKey(gen, key))
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("deduplication lookup: %w", err)
	}
	return true, closer.Close()
}

// restore finds the generations on disk (keys or filter files) and their
// filters. A store written with another generation length (the window
// changed) is emptied: Warm then refills it from ClickHouse. The newest
// generation's file is deleted (durably) once loaded: it receives keys
// again, and a crash must not leave a file that lacks them.
func (d *Dedup) restore() error {
	if v, closer, err := d.db.Get(metaStep); err == nil {
		same := binary.BigEndian.Uint64(v) == uint64(d.step)
		closer.Close()
		if !same {
			return d.reset()
		}
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return err
	} else if err := d.setDurable(metaStep, seqBytes(uint64(d.step))); err != nil {
		return err
	}
	gens, err := d.diskGenerations()
	if err != nil {
		return err
	}
	files := d.filterFiles()
	for idx := range files {
		gens[idx] = true
	}
	for idx := range gens {
		d.newest = max(d.newest, idx)
	}
	for idx := d.newest - dedupGenerations; idx <= d.newest && d.newest >= 0; idx++ {
		if !gens[idx] {
			continue
		}
		g := d.loadGeneration(idx, files[idx])
		d.gens = append(d.gens, g)
		if !g.trusted.Load() {
			d.bg.Add(1)
			go d.rebuild(g)
		}
	}
	for idx, name := range files {
		if idx < d.newest-dedupGenerations || idx == d.newest {
			d.fs.Remove(name)
		}
	}
	return syncDir(d.fs, d.filters)
}

// loadGeneration restores generation idx with the filter of its file, or
// an untrusted empty one to rebuild.
func (d *Dedup) loadGeneration(idx int64, file string) *generation {
	if file != "" {
		f, err := readFilterFile(d.fs, file, idx)
		if err == nil && f.bytes() <= d.perGen {
			g := &generation{idx: idx, filter: f}
			g.trusted.Store(true)
			return g
		}
		d.logger.Info("deduplication filter file not used; rebuilding it from the keys", "generation", idx, "err", err)
	}
	return &generation{idx: idx, filter: newBlockedBloom(d.perGen, bloomProbes(d.perGen, d.opts.PlannedKeys/dedupGenerations))}
}

// reset empties the store: every key, the filters, the watermark.
func (d *Dedup) reset() error {
	d.logger.Warn("deduplication store written with another window; emptied, Warm refills it from ClickHouse")
	b := d.db.NewBatch()
	b.DeleteRange(genPrefix(0), metaPrefix, nil)
	b.Delete(metaWatermark, nil)
	b.Set(metaStep, seqBytes(uint64(d.step)), nil)
	err := b.Commit(pebble.NoSync)
	if err == nil {
		err = d.db.Flush()
	}
	b.Close()
	if err != nil {
		return err
	}
	for _, name := range d.filterFiles() {
		d.fs.Remove(name)
	}
	return syncDir(d.fs, d.filters)
}

// diskGenerations lists the generations holding keys, one seek each.
func (d *Dedup) diskGenerations() (map[int64]bool, error) {
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: genPrefix(0), UpperBound: metaPrefix})
	if err != nil {
		return nil, err
	}
	gens := map[int64]bool{}
	for ok := it.First(); ok; {
		if len(it.Key()) < 8 {
			ok = it.Next()
			continue
		}
		idx := int64(binary.BigEndian.Uint64(it.Key()))
		gens[idx] = true
		ok = it.SeekGE(genPrefix(idx + 1))
	}
	return gens, errors.Join(it.Error(), it.Close())
}

// rebuild fills generation g's filter from its keys on disk, then trusts
// it. Keys added meanwhile went into the same filter. A generation that
// no longer receives keys gets its filter file.
func (d *Dedup) rebuild(g *generation) {
	defer d.bg.Done()
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: genPrefix(g.idx), UpperBound: genPrefix(g.idx + 1)})
	if err != nil {
		d.logger.Error("deduplication filter not rebuilt; the generation is looked up on disk", "generation", g.idx, "err", err)
		return
	}
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if n++; n%4096 == 0 && (g.dropped.Load() || d.stopping()) {
			it.Close()
			return
		}
		g.filter.add(xxhash.Sum64(it.Key()[8:]))
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		d.logger.Error("deduplication filter not rebuilt; the generation is looked up on disk", "generation", g.idx, "err", err)
		return
	}
	g.trusted.Store(true)
	d.logger.Info("deduplication filter rebuilt", "generation", g.idx, "keys", n)
	d.mu.RLock()
	closed := g.idx < d.newest
	d.mu.RUnlock()
	if closed {
		d.writeFilter(g)
	}
}

func (d *Dedup) stopping() bool {
	select {
	case <-d.stop:
		return true
	default:
		return false
	}
}

// persistLater writes the filter of a generation that stopped receiving
// keys, in the background; one still being rebuilt is written by its
// rebuild. The caller holds d.mu, so no lookup is adding to it any more.
func (d *Dedup) persistLater(g *generation) {
	if !g.trusted.Load() {
		return
	}
	d.bg.Add(1)
	go func() {
		defer d.bg.Done()
		d.writeFilter(g)
	}()
}

func (d *Dedup) filterName(idx int64) string {
	return d.fs.PathJoin(d.filters, strconv.FormatInt(idx, 10)+".bloom")
}

// writeFilter writes g's filter to its file: a temporary file renamed
// over. It is not synced: a file a crash tore fails its checksum and the
// filter is rebuilt from the keys.
func (d *Dedup) writeFilter(g *generation) {
	d.persistMu.Lock()
	defer d.persistMu.Unlock()
	if g.dropped.Load() || g.reopened.Load() {
		return
	}
	name := d.filterName(g.idx)
	err := writeFile(d.fs, name+".tmp", g.filter.marshal(g.idx))
	if err == nil {
		err = d.fs.Rename(name+".tmp", name)
	}
	if err != nil {
		d.logger.Warn("deduplication filter not saved; the next start rebuilds it", "generation", g.idx, "err", err)
	}
}

func (d *Dedup) removeFilterFile(idx int64) { d.fs.Remove(d.filterName(idx)) }

// filterFiles lists the filter files by generation, removing temporary
// files a crash left.
func (d *Dedup) filterFiles() map[int64]string {
	names, _ := d.fs.List(d.filters)
	files := map[int64]string{}
	for _, n := range names {
		if strings.HasSuffix(n, ".tmp") {
			d.fs.Remove(d.fs.PathJoin(d.filters, n))
			continue
		}
		if idx, err := strconv.ParseInt(strings.TrimSuffix(n, ".bloom"), 10, 64); err == nil && strings.HasSuffix(n, ".bloom") {
			files[idx] = d.fs.PathJoin(d.filters, n)
		}
	}
	return files
}

func writeFile(fs vfs.FS, name string, b []byte) error {
	f, err := fs.Create(name, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	return errors.Join(err, f.Close())
}

func readFilterFile(fs vfs.FS, name string, idx int64) (*blockedBloom, error) {
	f, err := fs.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	return unmarshalBloom(b, idx)
}

func syncDir(fs vfs.FS, dir string) error {
	f, err := fs.OpenDir(dir)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// warmKey is the key of a record known to be durable (in the spool or in
// ClickHouse) and when it arrived.
type warmKey struct {
	key string
	at  time.Time
}

// remember adds keys unless known, each to the generation of its arrival
// (skipping those older than the window); it returns how many it added.
// Warm uses it; it does not move the watermark.
func (d *Dedup) remember(keys []warmKey, now time.Time) (int, error) {
	b := d.db.NewBatch()
	defer b.Close()
	added := 0
	for _, k := range keys {
		h := xxhash.Sum64String(k.key)
		s := &d.stripes[h%dedupStripes]
		s.mu.Lock()
		_, pending := s.pending[k.key]
		at := k.at
		if at.IsZero() || at.After(now) {
			at = now
		}
		gen, found, expired, err := d.lookup(k.key, h, now, at, !pending)
		s.mu.Unlock()
		if err != nil {
			return added, err
		}
		if pending || found || expired {
			continue
		}
		b.Set(diskKey(gen, k.key), nil, nil)
		added++
	}
	return added, b.Commit(pebble.NoSync)
}

// watermark is the durable watermark: every record whose spool sequence
// is at most it has its keys in the store. ok is false for a store that
// never had one (new, emptied, or never warmed).
func (d *Dedup) watermark() (uint64, bool, error) {
	v, closer, err := d.db.Get(metaWatermark)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer closer.Close()
	return binary.BigEndian.Uint64(v), true, nil
}

// warmedUpTo records that the keys of every record up to spool sequence
// last are in the store (synced), and lets commits advance the watermark.
func (d *Dedup) warmedUpTo(last uint64) error {
	if err := d.setDurable(metaWatermark, seqBytes(last)); err != nil {
		return err
	}
	d.flightMu.Lock()
	d.warmed = true
	d.flightMu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, g := range d.gens {
		if g.reopened.Swap(false) {
			d.persistLater(g)
		}
	}
	return nil
}

// DedupStats describe a deduplication store's use of memory and disk.
type DedupStats struct {
	Generations int   // live generations
	FilterBytes int64 // memory of their filters (at most DedupOptions.FilterBytes)
	PebbleBytes int64 // Pebble's memtables and block cache (outside the Go heap)
	DiskBytes   int64 // the store's size on disk
	DiskLookups int64 // keys looked up on disk since the start (a filter said maybe)
}

// Stats reports the store's memory and disk use.
func (d *Dedup) Stats() DedupStats {
	m := d.db.Metrics()
	return DedupStats{Generations: d.generations(), FilterBytes: d.filterBytes(), PebbleBytes: int64(m.MemTable.Size) + m.BlockCache.Size,
		DiskBytes: int64(m.DiskSpaceUsage()), DiskLookups: d.diskLookups.Load()}
}

func (d *Dedup) generations() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.gens)
}

// filterBytes is the memory of the live generations' filters.
func (d *Dedup) filterBytes() int64 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var n int64
	for _, g := range d.gens {
		n += g.filter.bytes()
	}
	return n
}
