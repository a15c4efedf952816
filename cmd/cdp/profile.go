package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
)

// benchProfile records pprof profiles of one benchmark phase into dir
// (--profile): a CPU profile of the phase and the allocation profile at
// its start and its end, whose difference is what the phase allocated.
// With dir empty it does nothing. Stop it once.
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
