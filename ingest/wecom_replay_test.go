package ingest

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// TestWeComNonceMemoryIsBoundedByTheWindow moves the clock: a pair is
// refused as a replay while its timestamp is within the window and as
// stale after it, and then forgotten, so the memory holds only the
// window's callbacks; past MaxNonces new callbacks are answered ErrNonceMemoryFull;
// a released pair (a callback not taken) is accepted again.
func TestWeComNonceMemoryIsBoundedByTheWindow(t *testing.T) {
	w := &WeCom{}
	t0 := time.Unix(1_790_000_000, 0)
	ts := func(at time.Time) string { return fmt.Sprint(at.Unix()) }
	if _, err := w.admit(ts(t0), "n1", t0); err != nil {
		t.Fatal(err)
	}
	for _, d := range []time.Duration{0, time.Minute, 5 * time.Minute} {
		if _, err := w.admit(ts(t0), "n1", t0.Add(d)); !errors.Is(err, ErrReplayed) {
			t.Fatalf("replay %v later: %v, want ErrReplayed", d, err)
		}
	}
	if _, err := w.admit(ts(t0), "n1", t0.Add(5*time.Minute+time.Second)); !errors.Is(err, ErrStaleTimestamp) {
		t.Fatalf("replay after the window: %v, want ErrStaleTimestamp", err)
	}
	if _, err := w.admit("17900000OO", "n1", t0); !errors.Is(err, ErrStaleTimestamp) {
		t.Fatalf("a timestamp that is no number: %v", err)
	}

	// 10 minutes of callbacks at 20/s: 12,000 pairs; after the sweep only
	// those whose timestamps are within 5 minutes of the clock remain.
	at := t0
	for i := range 12_000 {
		at = t0.Add(time.Duration(i) * 50 * time.Millisecond)
		if _, err := w.admit(ts(at), fmt.Sprint("m", i), at); err != nil {
			t.Fatalf("callback %d: %v", i, err)
		}
	}
	if n := w.rememberedNonces(); n > 2*6_000+1024 {
		t.Fatalf("%d pairs remembered after 10 minutes at 20/s, want about the last 5 minutes' 6,000 (at most twice, between sweeps)", n)
	}

	// The cap: a full memory answers ErrNonceMemoryFull, it does not forget.
	small := &WeCom{MaxNonces: 3}
	for i := range 3 {
		if _, err := small.admit(ts(t0), fmt.Sprint("c", i), t0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := small.admit(ts(t0), "c3", t0); !errors.Is(err, ErrNonceMemoryFull) {
		t.Fatalf("past MaxNonces: %v, want ErrNonceMemoryFull", err)
	}
	// A released pair can come again (WeCom resending a callback that was
	// answered 503).
	release, err := w.admit(ts(at), "again", at)
	if err != nil {
		t.Fatal(err)
	}
	release()
	if _, err := w.admit(ts(at), "again", at); err != nil {
		t.Fatalf("a released pair: %v", err)
	}
}

// TestWeComNonceMemorySize measures the memory of 200,000 remembered
// pairs (DefaultMaxNonces), the most a WeCom may hold.
func TestWeComNonceMemorySize(t *testing.T) {
	w := &WeCom{}
	t0 := time.Unix(1_790_000_000, 0)
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	before := m.HeapAlloc
	for i := range DefaultMaxNonces {
		if _, err := w.admit(fmt.Sprint(t0.Unix()), fmt.Sprintf("%032d", i), t0); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&m)
	size := int64(m.HeapAlloc) - int64(before)
	runtime.KeepAlive(w)
	t.Logf("%d pairs: %.1f MB, %d bytes each", DefaultMaxNonces, float64(size)/(1<<20), size/DefaultMaxNonces)
	if size > 20<<20 {
		t.Fatalf("%d pairs take %d MB, want under 20", DefaultMaxNonces, size>>20)
	}
}

// TestWeComNonceMemoryFullRecoversAfterTheWindow fills the memory with one
// window's callbacks (more than half of MaxNonces live at the sweep, which
// used to push the next sweep past the limit) and moves the clock past the
// window: the pairs have expired, so the next callback is admitted instead
// of every callback being refused until a restart.
func TestWeComNonceMemoryFullRecoversAfterTheWindow(t *testing.T) {
	w := &WeCom{MaxNonces: 3000}
	t0 := time.Unix(1_790_000_000, 0)
	ts := fmt.Sprint(t0.Unix())
	for i := range 3000 {
		if _, err := w.admit(ts, fmt.Sprint("n", i), t0); err != nil {
			t.Fatalf("callback %d: %v", i, err)
		}
	}
	_, err := w.admit(ts, "one-too-many", t0)
	if !errors.Is(err, ErrNonceMemoryFull) || errors.Is(err, ErrBusy) {
		t.Errorf("past MaxNonces within the window: %v, want ErrNonceMemoryFull (not the spool's ErrBusy)", err)
	}
	later := t0.Add(400 * time.Second)
	if _, err := w.admit(fmt.Sprint(later.Unix()), "after-the-window", later); err != nil {
		t.Fatalf("a callback 400 s later, every remembered pair expired: %v", err)
	}
	if n := w.rememberedNonces(); n != 1 {
		t.Fatalf("%d pairs remembered after the window, want 1", n)
	}
}
