package spool

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestSpoolFilesArePrivate checks that spooled records (phones are hashed,
// but names, addresses and order lines are not) can be read by the
// platform's user only: the folder is 0700 and every file in it 0600,
// whatever the umask, and a folder an older version made 0755 with 0644
// files is tightened when it is opened.
func TestSpoolFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0) // the most permissive umask: modes are the code's own
	defer syscall.Umask(old)
	check := func(dir string) {
		t.Helper()
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			st, err := os.Stat(path)
			if err != nil {
				return err
			}
			want := fs.FileMode(0o600)
			if d.IsDir() {
				want = 0o700
			}
			if got := st.Mode().Perm(); got != want {
				t.Errorf("%s has mode %04o, want %04o", path, got, want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	// A new spool: folder, log files, checkpoint, reserve and lock.
	dir := filepath.Join(t.TempDir(), "spool")
	s := openT(t, Options{Dir: dir, FileBytes: 4 << 10})
	for k := range uint64(20) {
		if _, _, err := s.Append(ctxT(t), payload(k, sizeOf(k))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Plan(1, 10); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(10); err != nil {
		t.Fatal(err)
	}
	check(dir)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A spool left by an older version: everything readable by all.
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if d.IsDir() {
			mode = 0o755
		}
		return os.Chmod(path, mode)
	})
	if err != nil {
		t.Fatal(err)
	}
	s = openT(t, Options{Dir: dir, FileBytes: 4 << 10})
	check(dir)
	if got := s.LastSeq(); got != 20 {
		t.Fatalf("reopened spool has %d records, want 20", got)
	}
}
