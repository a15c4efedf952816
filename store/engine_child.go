//go:build linux

package store

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
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
		"--send_logs_level=none",
		"--query", "SYSTEM START LISTEN TCP; SYSTEM START LISTEN HTTP",
	)
}

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

// childEnv returns the environment for an engine child: the parent's minus
// any stale spec, plus this spec.
func childEnv(spec childSpec) ([]string, error) {
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, engineChildEnv+"=") {
			env = append(env, kv)
		}
	}
	return append(env, engineChildEnv+"="+string(raw)), nil
}
