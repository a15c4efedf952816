//go:build linux

package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// EngineOptions configure the embedded ClickHouse engine.
type EngineOptions struct {
	// LibPath is libchdb.so; empty means DefaultEngineLibPath(). A missing
	// library is fetched (see EnsureEngineLib).
	LibPath string
	// DataDir holds the engine's data (a "clickhouse" folder is made inside).
	DataDir string
	// TCPPort and HTTPPort are the loopback ports for the native and HTTP
	// protocols. Zero picks a free port once; restarts keep it.
	TCPPort, HTTPPort int
	// BI is the engine's read-only user for BI tools; none when BI.Name is
	// empty. The platform's own user (PlatformUser) always exists.
	BI BIUser
	// ReadyTimeout bounds the first start of the child until a query
	// answers. A restart after a crash waits twice as long as the restart
	// before it, up to eight times ReadyTimeout: a node restarted on a
	// loaded machine may take minutes to answer, and killing it at each
	// deadline would never let it come back.
	ReadyTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait before a restart; the wait
	// doubles for each crash and resets once a child has lived StableAfter.
	MinBackoff, MaxBackoff, StableAfter time.Duration
	// The supervisor probes the child every HealthInterval with new
	// connections: a native connection, and `SELECT 1` over HTTP as the
	// platform's user. It kills the child (and restarts it like after a
	// crash) when the listeners have refused connections for
	// UnhealthyAfter, as after a SYSTEM STOP LISTEN, or when no probe has
	// answered for HungAfter although the listeners accept: a hung
	// engine. A probe waits up to HungAfter for its answer, so an engine
	// that answers slowly on a loaded machine is never killed.
	HealthInterval, UnhealthyAfter, HungAfter time.Duration
	Logger                                    *slog.Logger
	Metrics                                   *Metrics

	// Cluster, when set, makes the engine a node of a sharded cluster
	// (see EngineCluster).
	Cluster *EngineCluster

	// defaultQueries is the quota of the built-in user default, which
	// runs the startup query; tests raise it to play a client that got a
	// query in.
	defaultQueries int
}

// DefaultEngineOptions returns the options `cdp serve` uses.
func DefaultEngineOptions() EngineOptions {
	return EngineOptions{
		DataDir:  "data",
		TCPPort:  9000,
		HTTPPort: 8123,
		// Listeners open 90-220 ms after the process starts and the library
		// loads in under half a second cold; 60 s leaves room for a slow disk
		// replaying a large data folder.
		ReadyTimeout: 60 * time.Second,
		MinBackoff:   100 * time.Millisecond,
		MaxBackoff:   10 * time.Second,
		StableAfter:  30 * time.Second,
		// A refused connection is answered by the kernel at once whatever
		// the load: 10 s of refusals is a stopped listener. A query that
		// does not answer may be load (a 2-core machine at a load of 40
		// left /ping unanswered for 11 s): two minutes of silence is a
		// hung engine.
		HealthInterval: time.Second,
		UnhealthyAfter: 10 * time.Second,
		HungAfter:      2 * time.Minute,
	}
}

// PortInUseError reports a configured port that another process holds.
type PortInUseError struct {
	Protocol string // "native" or "http"
	Port     int
}

func (e *PortInUseError) Error() string {
	return fmt.Sprintf("port %d for the engine's %s protocol is already in use on 127.0.0.1", e.Port, e.Protocol)
}

// Engine is a supervised embedded ClickHouse engine running in a child
// process of this binary. It is safe for concurrent use. Close stops it.
type Engine struct {
	lock     *os.File // flock on the data folder, held until Close
	opts     EngineOptions
	spec     childSpec
	password string // PlatformUser's
	passFile string
	logger   *slog.Logger
	metrics  *Metrics
	stderr   *tailBuffer
	done     chan struct{} // closed when the supervisor loop has ended
	stopping chan struct{} // closed by Close

	closeOnce sync.Once

	mu       sync.Mutex
	cur      *child // nil between a crash and the restart
	restarts int
}

// StartEngine fetches the library if needed, starts the child and waits
// until it answers on its HTTP port. The engine then keeps running, restarted
// after crashes, until Close.
func StartEngine(ctx context.Context, opts EngineOptions) (*Engine, error) {
	opts = opts.withDefaults()
	lib, err := EnsureEngineLib(ctx, opts.LibPath, opts.Logger)
	if err != nil {
		return nil, err
	}
	dataPath, lock, err := openDataDir(opts.DataDir)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			lock.Close()
		}
	}()
	spec, password, err := prepareChild(ctx, opts, lib, dataPath)
	if err != nil {
		return nil, err
	}
	if landlockABI() < 1 {
		opts.Logger.Warn("engine not confined: " + errNoLandlock.Error())
	}
	e := &Engine{
		lock:     lock,
		opts:     opts,
		spec:     spec,
		password: password,
		passFile: filepath.Join(opts.DataDir, PlatformPasswordFile),
		logger:   opts.Logger.With("component", "engine"),
		metrics:  opts.Metrics,
		stderr:   newTailBuffer(8 << 10),
		done:     make(chan struct{}),
		stopping: make(chan struct{}),
	}
	started := time.Now()
	if err := e.startChild(ctx, opts.ReadyTimeout); err != nil {
		return nil, err
	}
	e.logger.Info("embedded ClickHouse engine ready",
		"native", e.TCPAddr(), "http", e.HTTPAddr(), "data", dataPath,
		"start_ms", time.Since(started).Milliseconds())
	go e.supervise()
	ok = true
	return e, nil
}

// withDefaults returns o with its zero durations, quota, logger and metrics
// replaced by the defaults (DefaultEngineOptions, a discarding logger, fresh
// metrics).
func (o EngineOptions) withDefaults() EngineOptions {
	def := DefaultEngineOptions()
	for _, d := range []struct{ v, def *time.Duration }{
		{&o.ReadyTimeout, &def.ReadyTimeout},
		{&o.MinBackoff, &def.MinBackoff},
		{&o.MaxBackoff, &def.MaxBackoff},
		{&o.StableAfter, &def.StableAfter},
		{&o.HealthInterval, &def.HealthInterval},
		{&o.UnhealthyAfter, &def.UnhealthyAfter},
		{&o.HungAfter, &def.HungAfter},
	} {
		if *d.v == 0 {
			*d.v = *d.def
		}
	}
	if o.defaultQueries == 0 {
		o.defaultQueries = startupQueries
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	return o
}

// openDataDir makes the engine's data folder, dataDir/clickhouse (0700),
// and locks it; it returns its absolute path and the lock, held until the
// file is closed.
func openDataDir(dataDir string) (string, *os.File, error) {
	dataPath, err := filepath.Abs(filepath.Join(dataDir, "clickhouse"))
	if err != nil {
		return "", nil, err
	}
	if err := os.MkdirAll(dataPath, 0o700); err != nil {
		return "", nil, fmt.Errorf("engine data folder: %w", err)
	}
	lock, err := lockDataDir(dataPath)
	if err != nil {
		return "", nil, err
	}
	return dataPath, lock, nil
}

// prepareChild readies what the engine child needs: PlatformUser's
// password, the ports (once an orphaned child of a killed run has let them
// go) and the users' config file in dataPath. It returns the child's spec
// and the password.
func prepareChild(ctx context.Context, opts EngineOptions, lib, dataPath string) (childSpec, string, error) {
	password, err := platformPassword(opts.DataDir, opts.Logger)
	if err != nil {
		return childSpec{}, "", err
	}
	spec := childSpec{Lib: lib, DataPath: dataPath}
	waitOrphan(ctx, dataPath, opts.Logger)
	if spec.TCPPort, err = claimPort("native", opts.TCPPort); err != nil {
		return childSpec{}, "", err
	}
	if spec.HTTPPort, err = claimPort("http", opts.HTTPPort); err != nil {
		return childSpec{}, "", err
	}
	users, err := engineConfigXML(password, opts)
	if err != nil {
		return childSpec{}, "", err
	}
	if opts.Cluster != nil {
		spec.ConnectPorts = opts.Cluster.ports()
	}
	spec.ConfigFile = filepath.Join(dataPath, engineConfigName)
	if err := os.WriteFile(spec.ConfigFile, []byte(users), 0o600); err != nil {
		return childSpec{}, "", fmt.Errorf("engine config: %w", err)
	}
	return spec, password, nil
}

// orphanWait bounds the wait for the engine child of a killed platform.
const orphanWait = 30 * time.Second

// waitOrphan waits (at most orphanWait) while the engine child of a
// platform that was killed still runs on this data folder: it exits as
// soon as it sees its control pipe close, flushing first, and until then
// it holds the folder and the engine's ports. A restart by a supervisor
// (systemd) right after a crash would otherwise find the ports busy.
func waitOrphan(ctx context.Context, dataPath string, logger *slog.Logger) {
	f, err := os.OpenFile(filepath.Join(dataPath, ".engine-child.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(ctx, orphanWait)
	defer cancel()
	for logged := false; ; logged = true {
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			unix.Flock(int(f.Fd()), unix.LOCK_UN)
			return
		}
		if !logged && logger != nil {
			logger.Warn("the engine of a previous run is still stopping on this data folder; waiting for it", "data", dataPath)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// lockDataDir takes an exclusive lock on the engine's data folder: two
// engines on one folder would corrupt it.
func lockDataDir(dataPath string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dataPath, ".cdp-engine.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("data folder %s is in use by another cdp process (choose another --data-dir / CDP_DATA_DIR)", dataPath)
	}
	return f, nil
}

// claimPort checks that a configured port is free, or picks a free one.
func claimPort(protocol string, port int) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		if port != 0 && errors.Is(err, syscall.EADDRINUSE) {
			return 0, &PortInUseError{Protocol: protocol, Port: port}
		}
		return 0, fmt.Errorf("engine %s port %d: %w", protocol, port, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// TCPAddr is the native protocol's address (host:port).
func (e *Engine) TCPAddr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(e.spec.TCPPort)) }

// HTTPAddr is the HTTP protocol's address (host:port).
func (e *Engine) HTTPAddr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(e.spec.HTTPPort))
}

// DSN is a native-protocol DSN for PlatformUser on loopback, with
// database as the platform's database. It holds the password: never log it.
func (e *Engine) DSN(database string) string {
	return engineDSN("clickhouse", e.TCPAddr(), e.password, database)
}

// HTTPDSN is DSN for the HTTP protocol.
func (e *Engine) HTTPDSN(database string) string {
	return engineDSN("http", e.HTTPAddr(), e.password, database)
}

// PasswordFile is the file that holds PlatformUser's password.
func (e *Engine) PasswordFile() string { return e.passFile }

func engineDSN(scheme, addr, password, database string) string {
	u := url.URL{Scheme: scheme, User: url.UserPassword(PlatformUser, password), Host: addr, Path: "/" + database}
	if scheme == "clickhouse" {
		// The engine is on loopback, where compressing blocks saves no
		// transfer and costs both sides CPU: LZ4 was 2.6% of the
		// platform's CPU in cdp bench's ingest (docs/ingest.md). A DSN
		// without compress gets LZ4 (Open), as a remote server wants.
		u.RawQuery = "compress=none"
	}
	return u.String()
}

// EngineDSN is the native-protocol DSN of PlatformUser on the engine of
// another process (`cdp serve`) that keeps its data in dataDir and listens
// on tcpAddr: it reads the password from dataDir.
func EngineDSN(dataDir, tcpAddr, database string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(dataDir, PlatformPasswordFile))
	if err != nil {
		return "", err
	}
	return engineDSN("clickhouse", tcpAddr, strings.TrimSpace(string(raw)), database), nil
}

// PlatformPasswordFile, in EngineOptions.DataDir, holds PlatformUser's
// password: generated on the first start, mode 0600, like the first admin
// token and the BI password.
const PlatformPasswordFile = "clickhouse-password"

// platformPassword reads PlatformUser's password from dataDir, or makes
// one. A file others can read is made private again.
func platformPassword(dataDir string, logger *slog.Logger) (string, error) {
	path := filepath.Join(dataDir, PlatformPasswordFile)
	password, err := SecretFile(path, func() (string, error) {
		var b [24]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		return base64.RawURLEncoding.EncodeToString(b[:]), nil
	}, logger)
	if err != nil {
		return "", fmt.Errorf("engine password: %w", err)
	}
	if len(password) < 12 {
		return "", fmt.Errorf("engine password in %s: at least 12 characters (delete the file to get a new one)", path)
	}
	return password, nil
}

// SecretFile returns the secret kept in path, or one made by generate and
// written there first (mode 0600, never over a file that appeared
// meanwhile). A file others may read is made private, and that is logged.
func SecretFile(path string, generate func() (string, error), logger *slog.Logger) (string, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		secret, err := generate()
		if err != nil {
			return "", err
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return "", err
		}
		_, err = f.WriteString(secret + "\n")
		if err = errors.Join(err, f.Close()); err != nil {
			return "", err
		}
		return secret, nil
	}
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		if logger != nil {
			logger.Warn("a secret file was readable by others; made it private", "file", path)
		}
		if err := os.Chmod(path, 0o600); err != nil {
			return "", err
		}
	}
	return strings.TrimSpace(string(raw)), nil
}

// Restarts is the number of times the supervisor restarted a dead child.
func (e *Engine) Restarts() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.restarts
}

// PID is the current child's process id (0 while none runs).
func (e *Engine) PID() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cur == nil {
		return 0
	}
	return e.cur.cmd.Process.Pid
}

// ResidentMB is the current child's resident memory in MB (0 when none
// runs or it cannot be read).
func (e *Engine) ResidentMB() float64 {
	pid := e.PID()
	if pid == 0 {
		return 0
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// Kill sends SIGKILL to the current child, as a crash would; the supervisor
// then restarts it. It exists for fault-injection tests and operators.
func (e *Engine) Kill() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cur == nil {
		return errors.New("engine child not running")
	}
	return e.cur.cmd.Process.Kill()
}

// Close stops the engine and waits for the child to exit.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() { close(e.stopping) })
	<-e.done
	return e.lock.Close()
}
