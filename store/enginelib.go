package store

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// The embedded engine is ClickHouse built as a shared library by the chDB
// project and published on the npm registry. The version is pinned and both
// the tarball and the library are checked against these digests.
const (
	EngineLibPackage     = "@chdb/lib-linux-x64-gnu"
	EngineLibVersion     = "26.7.3-stable.1"
	engineTarballSHA256  = "c0d32b129e988f2b9a9a31c9141aecf5e1e2453f9a079efc4d36ab8e3f92b2ad"
	engineLibSHA256      = "36ad4e999882821ef13cf2d0f52c93f48e6ee1b4498b35a201c23ce4b8d15bf5"
	engineLibMemberInTar = "package/libchdb.so"
)

// ErrEngineLibMissing is returned when libchdb.so is absent and cannot be
// fetched; its message says what to run.
var ErrEngineLibMissing = errors.New("embedded ClickHouse engine library missing")

// DefaultEngineLibPath is where the library is cached when no path is
// configured: $XDG_CACHE_HOME/cdp/engine/<version>/libchdb.so, or
// ~/.cache/... — outside any checkout, shared by all of them.
func DefaultEngineLibPath() string {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		if home, err := os.UserHomeDir(); err == nil {
			base = filepath.Join(home, ".cache")
		} else {
			base = os.TempDir()
		}
	}
	return filepath.Join(base, "cdp", "engine", EngineLibVersion, "libchdb.so")
}

// EnsureEngineLib makes sure a verified libchdb.so is at path (the default
// path when empty), fetching it with `npm pack` when it is missing. It
// returns the path. Concurrent callers (parallel test binaries) are
// serialised by a lock file beside the library.
func EnsureEngineLib(ctx context.Context, path string, logger *slog.Logger) (string, error) {
	if path == "" {
		path = DefaultEngineLibPath()
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("engine library folder: %w", err)
	}
	unlock, err := lockFile(filepath.Join(dir, ".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()

	if _, err := os.Stat(path); err == nil {
		if err := verifyEngineLib(path); err != nil {
			return "", err
		}
		return path, nil
	}
	if err := fetchEngineLib(ctx, path, logger); err != nil {
		return "", err
	}
	return path, nil
}

func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("engine library lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("engine library lock: %w", err)
	}
	return func() { f.Close() }, nil
}

// verifyEngineLib checks the library's SHA-256. Hashing 566 MB costs about
// half a second, so a verified file leaves a stamp (digest, size, mtime)
// beside it and later starts only compare the stamp with the file.
func verifyEngineLib(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	stamp := fmt.Sprintf("%s %d %d\n", engineLibSHA256, st.Size(), st.ModTime().UnixNano())
	stampPath := path + ".verified"
	if b, err := os.ReadFile(stampPath); err == nil && string(b) == stamp {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("hash %s: %w", path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != engineLibSHA256 {
		return fmt.Errorf("%s has SHA-256 %s, want %s (%s@%s); delete it to fetch it again",
			path, got, engineLibSHA256, EngineLibPackage, EngineLibVersion)
	}
	// A stamp that cannot be written only costs a re-hash next time.
	_ = os.WriteFile(stampPath, []byte(stamp), 0o644)
	return nil
}

func fetchEngineLib(ctx context.Context, path string, logger *slog.Logger) error {
	spec := EngineLibPackage + "@" + EngineLibVersion
	manual := fmt.Sprintf("run: npm pack %s && tar xzf chdb-lib-linux-x64-gnu-%s.tgz %s && mv %s %s "+
		"(or set CDP_ENGINE_LIB to a copy of libchdb.so, or CDP_CLICKHOUSE_DSN to a ClickHouse server)",
		spec, EngineLibVersion, engineLibMemberInTar, engineLibMemberInTar, path)
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("%w at %s and npm is not installed to fetch it; install Node.js with npm, or %s",
			ErrEngineLibMissing, path, manual)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(path), "fetch-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	logger.Info("fetching the embedded ClickHouse engine (~178 MB, once)", "package", spec, "to", path)
	cmd := exec.CommandContext(ctx, npm, "pack", spec, "--silent", "--pack-destination", tmp)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w at %s: npm pack %s failed: %v: %s; %s",
			ErrEngineLibMissing, path, spec, err, strings.TrimSpace(string(out)), manual)
	}
	tarballs, _ := filepath.Glob(filepath.Join(tmp, "*.tgz"))
	if len(tarballs) != 1 {
		return fmt.Errorf("%w: npm pack left %d tarballs in %s; %s", ErrEngineLibMissing, len(tarballs), tmp, manual)
	}
	if err := checkFileSHA256(tarballs[0], engineTarballSHA256); err != nil {
		return err
	}
	part := filepath.Join(tmp, "libchdb.so")
	if err := extractTarMember(tarballs[0], engineLibMemberInTar, part); err != nil {
		return err
	}
	if err := checkFileSHA256(part, engineLibSHA256); err != nil {
		return err
	}
	if err := os.Rename(part, path); err != nil {
		return err
	}
	return verifyEngineLib(path)
}

func checkFileSHA256(path, want string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("%s: SHA-256 %s, want %s", filepath.Base(path), got, want)
	}
	return nil
}

func extractTarMember(tarball, member, dst string) error {
	f, err := os.Open(tarball)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", tarball, err)
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return fmt.Errorf("%s has no %s", tarball, member)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", tarball, err)
		}
		if hdr.Name != member {
			continue
		}
		out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, tr); err != nil {
			out.Close()
			return err
		}
		return errors.Join(out.Sync(), out.Close())
	}
}
