package store_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// TestStartWaitsForTheOrphanedEngineChild plays a restart right after the
// platform was killed: the old engine child still holds the data folder
// (its lock) and the engine's native port for a moment while it flushes.
// The new engine waits for it instead of failing on the busy port.
func TestStartWaitsForTheOrphanedEngineChild(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "clickhouse"), 0o750); err != nil {
		t.Fatal(err)
	}
	e, err := storetest.StartEngine(dir)
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	var lockPath string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Name() == ".engine-child.lock" {
			lockPath = p
		}
		return nil
	})
	if lockPath == "" {
		t.Fatal("no engine child lock in the data folder")
	}
	f, err := os.OpenFile(lockPath, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0") // the orphan's native port
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	const hold = 400 * time.Millisecond
	released := make(chan time.Time, 1)
	go func() {
		time.Sleep(hold) // the orphan's flush
		released <- time.Now()
		l.Close()
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
	}()
	opts := store.DefaultEngineOptions()
	opts.DataDir, opts.TCPPort, opts.HTTPPort, opts.LibPath, opts.Logger = dir, port, 0, os.Getenv("CDP_ENGINE_LIB"), storetest.Logger()
	e2, err := store.StartEngine(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	up := time.Now()
	if r := <-released; up.Before(r) {
		t.Fatalf("the engine started %v before the previous child released the folder", r.Sub(up))
	}
}
