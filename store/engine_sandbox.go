//go:build linux

package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The engine's SQL can reach the file system in ways no grant controls: in
// clickhouse-local the file() function reads any path the process can
// (ClickHouse checks user_files_path only in a server), for every user,
// the read-only BI user included. So the engine child confines itself with
// Landlock (Linux 5.13 and later) before it loads the engine: it keeps
// read-write access to its data folder and read access to the library,
// /proc, /sys, the time zone files and a few devices, and nothing else (no
// <data-dir>/pii.key, admin-token, clickhouse-password, no home folder, no
// other process's /proc entry, no program to execute). Where the kernel
// supports it (Landlock ABI 4, Linux 6.7), it may also bind only its two
// ports and connect nowhere (a cluster node: only to its nodes' native
// ports), and (ABI 6) signal no process outside itself.

// landlockRulesetAttr is struct landlock_ruleset_attr as of ABI 6 (x/sys's
// LandlockRulesetAttr has later fields older kernels refuse); the
// kernel is given only the part its ABI knows.
type landlockRulesetAttr struct {
	handledFS, handledNet, scoped uint64
}

// landlockNetPortAttr is struct landlock_net_port_attr.
type landlockNetPortAttr struct {
	allowed, port uint64
}

const landlockRuleNetPort = 2

// landlockABI returns the kernel's Landlock ABI version, 0 without Landlock.
func landlockABI() int {
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 {
		return 0
	}
	return int(v)
}

// sandboxPath is one file or folder the engine may use.
type sandboxPath struct {
	path  string
	write bool
}

// sandboxPaths are what the engine needs besides its data folder and
// library. Missing ones are skipped.
var sandboxPaths = []sandboxPath{
	// Its own /proc/<pid> (opened as /proc/self in the child), system
	// figures and cgroup limits; no other process's /proc entry (the
	// platform's environ is readable by its user, and Landlock's ptrace
	// rule does not cover it on every kernel).
	{path: "/proc/self"}, {path: "/proc/meminfo"}, {path: "/proc/cpuinfo"}, {path: "/proc/stat"},
	{path: "/proc/loadavg"}, {path: "/proc/uptime"}, {path: "/proc/vmstat"}, {path: "/proc/sys"},
	{path: "/proc/pressure"}, {path: "/proc/filesystems"},
	{path: "/sys/fs/cgroup"}, {path: "/sys/devices/system/cpu"}, {path: "/sys/devices/system/node"},
	// The library's own dependencies (libc, libpthread, libdl, libm).
	{path: "/etc/ld.so.cache"}, {path: "/lib"}, {path: "/lib64"}, {path: "/usr/lib"}, {path: "/usr/lib64"},
	{path: "/etc/localtime"}, {path: "/etc/timezone"}, {path: "/usr/share/zoneinfo"},
	{path: "/dev/null", write: true}, {path: "/dev/zero"}, {path: "/dev/urandom"}, {path: "/dev/random"},
}

// Landlock file system rights the engine is given.
const (
	landlockRead = unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_READ_DIR
	// landlockReadWrite is everything but executing, devices, FIFOs and
	// sockets.
	landlockReadWrite = landlockRead | unix.LANDLOCK_ACCESS_FS_WRITE_FILE | unix.LANDLOCK_ACCESS_FS_REMOVE_DIR |
		unix.LANDLOCK_ACCESS_FS_REMOVE_FILE | unix.LANDLOCK_ACCESS_FS_MAKE_DIR | unix.LANDLOCK_ACCESS_FS_MAKE_REG |
		unix.LANDLOCK_ACCESS_FS_MAKE_SYM
	// landlockFileRights are the rights that apply to a file (the others
	// apply to folders only).
	landlockFileRights = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE | unix.LANDLOCK_ACCESS_FS_READ_FILE
)

// confineEngine restricts the calling OS thread, and every thread it
// starts afterwards, to what the engine needs. The caller holds the thread
// (runtime.LockOSThread) and starts the engine from it. Without Landlock
// it does nothing and returns errNoLandlock.
func confineEngine(spec childSpec) error {
	abi := landlockABI()
	if abi < 1 {
		return errNoLandlock
	}
	attr, size, extra := landlockRuleset(abi)
	fd, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), size, 0)
	if errno != 0 {
		return fmt.Errorf("landlock ruleset: %w", errno)
	}
	defer unix.Close(int(fd))
	rules := landlockRules{fd: fd, handledFS: attr.handledFS}
	if err := rules.allowPath(spec.DataPath, landlockReadWrite|extra); err != nil {
		return err
	}
	if err := rules.allowPath(filepath.Dir(spec.Lib), landlockRead); err != nil {
		return err
	}
	for _, p := range sandboxPaths {
		rights := uint64(landlockRead)
		if p.write {
			rights |= unix.LANDLOCK_ACCESS_FS_WRITE_FILE
		}
		if err := rules.allowPath(p.path, rights); err != nil {
			return err
		}
	}
	if abi >= 4 {
		for _, port := range []int{spec.TCPPort, spec.HTTPPort} {
			if err := rules.allowNet(port, unix.LANDLOCK_ACCESS_NET_BIND_TCP); err != nil {
				return err
			}
		}
		// A cluster node reaches the other nodes (Distributed tables).
		for _, port := range spec.ConnectPorts {
			if err := rules.allowNet(port, unix.LANDLOCK_ACCESS_NET_CONNECT_TCP); err != nil {
				return err
			}
		}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	if _, _, errno := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, fd, 0, 0); errno != 0 {
		return fmt.Errorf("landlock restrict: %w", errno)
	}
	return nil
}

// landlockRuleset returns the ruleset attributes for Landlock ABI abi, the
// size of the part of them that ABI knows, and the rights a later ABI adds
// that the engine is granted where it writes: moving files between folders
// (REFER, ABI 2) and truncating (ABI 3). From ABI 4 binding and connecting
// TCP ports is handled, and from ABI 6 signals and abstract unix sockets are
// scoped to the engine itself.
func landlockRuleset(abi int) (attr landlockRulesetAttr, size uintptr, extra uint64) {
	attr = landlockRulesetAttr{handledFS: landlockReadWrite | unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_MAKE_CHAR |
		unix.LANDLOCK_ACCESS_FS_MAKE_SOCK | unix.LANDLOCK_ACCESS_FS_MAKE_FIFO | unix.LANDLOCK_ACCESS_FS_MAKE_BLOCK}
	size = unsafe.Sizeof(attr.handledFS)
	if abi >= 2 {
		extra |= unix.LANDLOCK_ACCESS_FS_REFER
	}
	if abi >= 3 {
		extra |= unix.LANDLOCK_ACCESS_FS_TRUNCATE
	}
	attr.handledFS |= extra
	if abi >= 4 {
		attr.handledNet = unix.LANDLOCK_ACCESS_NET_BIND_TCP | unix.LANDLOCK_ACCESS_NET_CONNECT_TCP
		size = unsafe.Offsetof(attr.scoped)
	}
	if abi >= 6 {
		attr.scoped = unix.LANDLOCK_SCOPE_SIGNAL | unix.LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
		size = unsafe.Sizeof(attr)
	}
	return attr, size, extra
}

// landlockRules adds rules to the Landlock ruleset fd, which handles the
// file system rights handledFS.
type landlockRules struct {
	fd        uintptr
	handledFS uint64
}

// allowPath grants rights (those the ruleset handles; on a file, only
// those that apply to files) beneath path. A missing path is skipped.
func (r landlockRules) allowPath(path string, rights uint64) error {
	p, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("landlock %s: %w", path, err)
	}
	defer unix.Close(p)
	var st unix.Stat_t
	if err := unix.Fstat(p, &st); err != nil {
		return fmt.Errorf("landlock %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		rights &= landlockFileRights | unix.LANDLOCK_ACCESS_FS_TRUNCATE
	}
	rule := unix.LandlockPathBeneathAttr{Allowed_access: rights & r.handledFS, Parent_fd: int32(p)}
	if _, _, errno := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, r.fd, unix.LANDLOCK_RULE_PATH_BENEATH,
		uintptr(unsafe.Pointer(&rule)), 0, 0, 0); errno != 0 {
		return fmt.Errorf("landlock %s: %w", path, errno)
	}
	return nil
}

// allowNet lets the engine bind or connect (access) TCP port (Landlock
// ABI 4 and later).
func (r landlockRules) allowNet(port int, access uint64) error {
	rule := landlockNetPortAttr{allowed: access, port: uint64(port)}
	if _, _, errno := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, r.fd, landlockRuleNetPort,
		uintptr(unsafe.Pointer(&rule)), 0, 0, 0); errno != 0 {
		return fmt.Errorf("landlock port %d: %w", port, errno)
	}
	return nil
}

// errNoLandlock: the kernel has no Landlock, so the engine runs unconfined.
var errNoLandlock = errors.New("the kernel has no Landlock (Linux 5.13 or later with landlock in the lsm= list): the engine's file() function can read any file this user can")
