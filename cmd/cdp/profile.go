package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// benchProfile records pprof profiles of one benchmark phase into dir
// (--profile): a CPU profile of the phase and the allocation profile at
// its start and its end, whose difference is what the phase allocated
// (its inuse_space sample is the live heap at the end; heapAt writes one
// in between, for `go tool pprof -diff_base`). With dir empty it does
// nothing. Stop it once.
type benchProfile struct {
	dir string
	cpu *os.File
}

// startProfile starts profiling into dir (created if needed).
func startProfile(dir string) (*benchProfile, error) {
	p := &benchProfile{dir: dir}
	if dir == "" {
		return p, nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("bench --profile: %w", err)
	}
	if err := p.writeAllocs("allocs-start.pb.gz"); err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(dir, "cpu.pb.gz"))
	if err != nil {
		return nil, fmt.Errorf("bench --profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("bench --profile: %w", err)
	}
	p.cpu = f
	return p, nil
}

// stop ends the CPU profile and writes the allocations at the end.
func (p *benchProfile) stop() error {
	if p.cpu == nil {
		return nil
	}
	pprof.StopCPUProfile()
	err := p.cpu.Close()
	p.cpu = nil
	if err != nil {
		return fmt.Errorf("bench --profile: %w", err)
	}
	return p.writeAllocs("allocs.pb.gz")
}

// heapAt writes the live heap now into dir as heap-<name>.pb.gz (the load
// run writes heap-warmup.pb.gz at the end of its warm-up): the end's
// allocs.pb.gz taken with it as -diff_base shows what grew after it.
func (p *benchProfile) heapAt(name string) error {
	if p.dir == "" {
		return nil
	}
	return p.writeAllocs("heap-" + name + ".pb.gz")
}

func (p *benchProfile) writeAllocs(name string) error {
	runtime.GC() // the profile shows allocations up to the last GC
	f, err := os.Create(filepath.Join(p.dir, name))
	if err != nil {
		return fmt.Errorf("bench --profile: %w", err)
	}
	defer f.Close()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		return fmt.Errorf("bench --profile: %w", err)
	}
	return nil
}

// cpuTimes is the CPU time (user and system) used so far by this process
// and by the embedded engine's child process (zero without one).
type cpuTimes struct{ platform, engine time.Duration }

// readCPU reads this process's CPU time (getrusage) and that of the
// process enginePID (/proc/<pid>/stat, fields 14 and 15 in clock ticks),
// which is 0 for none.
func readCPU(enginePID int) cpuTimes {
	var t cpuTimes
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) == nil {
		t.platform = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if enginePID == 0 {
		return t
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", enginePID))
	if err != nil {
		return t
	}
	// The command name (field 2) may hold spaces: count after its ')'.
	fields := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
	if len(fields) < 13 {
		return t
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const ticksPerSecond = 100 // USER_HZ on Linux
	t.engine = time.Duration(utime+stime) * time.Second / ticksPerSecond
	return t
}

// sub returns the CPU used between o and t.
func (t cpuTimes) sub(o cpuTimes) cpuTimes {
	return cpuTimes{platform: t.platform - o.platform, engine: t.engine - o.engine}
}
