//go:build linux

package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// engineChildEnv marks a process started by the supervisor to host the
// engine. Its value is the JSON-encoded childSpec.
const engineChildEnv = "CDP_ENGINE_CHILD_SPEC"

// controlFD is the read end of a pipe whose write end the supervisor holds.
// When the supervisor closes it (or dies) the child stops the engine.
const controlFD = 3

// childSpec is what the supervisor tells the engine child.
type childSpec struct {
	Lib        string `json:"lib"`
	DataPath   string `json:"data_path"`
	ConfigFile string `json:"config_file"`
	TCPPort    int    `json:"tcp_port"`
	HTTPPort   int    `json:"http_port"`
	// ConnectPorts are the TCP ports the engine may connect to: the
	// native ports of its cluster's nodes (none for a single engine).
	ConnectPorts []int `json:"connect_ports,omitempty"`
}

// RunEngineChildIfRequested turns the current process into an engine host
// when the supervisor started it as one, and never returns in that case.
// Binaries that can supervise an engine (cmd/cdp, test binaries through
// storetest) call it first thing in main or TestMain.
func RunEngineChildIfRequested() {
	raw, ok := os.LookupEnv(engineChildEnv)
	if !ok {
		return
	}
	var spec childSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		fmt.Fprintf(os.Stderr, "cdp engine child: bad %s: %v\n", engineChildEnv, err)
		os.Exit(2)
	}
	if err := runEngineChild(spec); err != nil {
		fmt.Fprintf(os.Stderr, "cdp engine child: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func runEngineChild(spec childSpec) error {
	master, err := attachPTYToStdin()
	if err != nil {
		return fmt.Errorf("pseudo-terminal: %w", err)
	}
	// The engine's interactive loop echoes and prompts on the terminal;
	// nobody reads it, but the master must be drained or the loop blocks.
	go func() { _, _ = io.Copy(io.Discard, master) }()
	go func() {
		control := os.NewFile(controlFD, "control")
		_, _ = io.Copy(io.Discard, control)
		// The supervisor closed the pipe or died: ask the loop to exit,
		// which flushes and stops the engine in milliseconds.
		_, _ = master.Write([]byte("exit\r"))
	}()
	// A child of a supervisor that was killed may still be flushing on
	// this folder for a few milliseconds: wait for it, never share.
	lock, err := os.OpenFile(spec.DataPath+"/.engine-child.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("lock data folder: %w", err)
	}
	// The engine's threads are all started from this one, after it is
	// confined (engine_sandbox.go): hold it.
	runtime.LockOSThread()
	if err := confineEngine(spec); err != nil && !errors.Is(err, errNoLandlock) {
		return err
	}
	if err := loadEngineLib(spec.Lib); err != nil {
		return err
	}
	return runEngineMain(engineArgs(spec))
}

func engineArgs(spec childSpec) []string {
	args := []string{
		"clickhouse-local",
		"--path=" + spec.DataPath,
		"--listen_host=127.0.0.1",
		"--tcp_port=" + strconv.Itoa(spec.TCPPort),
		"--http_port=" + strconv.Itoa(spec.HTTPPort),
	}
	if spec.ConfigFile != "" {
		args = append(args, "--config-file="+spec.ConfigFile)
	}
	return append(args,
		"--interactive",
		// No completion list: loading it would be a query of the local
		// session, which may run exactly one (startupQueries).
		"--disable_suggestion",
		"--send_logs_level=none",
		"--query", startupQuery,
	)
}

// startupQuery opens the listeners. It is the only query the local session
// (the built-in user default, which has no password) runs, and it must be
// one statement: default's quota allows startupQueries and counts a query
// as it starts, so no client can slip in between.
const startupQuery = "SYSTEM START LISTEN QUERIES ALL"

// startupQueries is the number of queries in startupQuery.
const startupQueries = 1

// attachPTYToStdin makes a fresh pseudo-terminal the process's standard
// input, as clickhouse-local's interactive loop requires, and returns the
// master side.
func attachPTYToStdin() (*os.File, error) {
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	master := os.NewFile(uintptr(mfd), "/dev/ptmx")
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, fmt.Errorf("unlock: %w", err)
	}
	n, err := unix.IoctlGetInt(mfd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, fmt.Errorf("pty number: %w", err)
	}
	slave, err := unix.Open("/dev/pts/"+strconv.Itoa(n), unix.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, err
	}
	if err := unix.Dup3(slave, 0, 0); err != nil {
		master.Close()
		return nil, fmt.Errorf("dup3: %w", err)
	}
	unix.Close(slave)
	return master, nil
}

// childEnvKept are the variables an engine child keeps from the
// platform's environment: what the engine and the C library read (locale,
// time zone, temporary folder), never the platform's settings, which hold
// its secrets (CDP_PII_KEY, CDP_ADMIN_TOKEN, CDP_WECOM_SECRET, ...).
var childEnvKept = map[string]bool{"PATH": true, "TZ": true, "TZDIR": true, "TMPDIR": true, "LANG": true, "LANGUAGE": true}

// childHome is the engine child's HOME, inside its data folder: the engine
// creates $HOME/.local/state/clickhouse at start, and its sandbox lets it
// write only in its data folder, so with the platform's HOME it failed on
// any machine where that folder did not exist yet (a fresh one).
func childHome(dataPath string) string { return filepath.Join(dataPath, "home") }

// childEnv returns the environment for an engine child: the kept variables
// (and LC_*), HOME inside its data folder, plus this spec.
func childEnv(spec childSpec) ([]string, error) {
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if childEnvKept[k] || strings.HasPrefix(k, "LC_") {
			env = append(env, kv)
		}
	}
	return append(env, "HOME="+childHome(spec.DataPath), engineChildEnv+"="+string(raw)), nil
}
