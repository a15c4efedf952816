//go:build linux && cgo

package store

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

typedef void *(*cdp_query_cmdline_fn)(int, char **);
typedef const char *(*cdp_result_error_fn)(void *);
typedef void (*cdp_set_signals_fn)(int);

static cdp_query_cmdline_fn cdp_query_cmdline;
static cdp_result_error_fn cdp_result_error;
static cdp_set_signals_fn cdp_set_signals;

// cdp_engine_load opens the library and resolves the three entry points the
// host needs. It returns NULL on success and a message otherwise.
static const char *cdp_engine_load(const char *path) {
	void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) return dlerror();
	cdp_query_cmdline = (cdp_query_cmdline_fn)dlsym(lib, "chdb_query_cmdline");
	cdp_result_error = (cdp_result_error_fn)dlsym(lib, "chdb_result_error");
	cdp_set_signals = (cdp_set_signals_fn)dlsym(lib, "chdb_set_signal_handlers_enabled");
	if (!cdp_query_cmdline || !cdp_result_error || !cdp_set_signals)
		return "library lacks chdb_query_cmdline, chdb_result_error or chdb_set_signal_handlers_enabled";
	return NULL;
}

// cdp_engine_disable_signals stops the engine from installing its fatal
// signal handlers. The library call also resets these signals to their
// defaults, which would break the Go runtime (preemption uses SIGURG, panics
// recover from SIGSEGV), so the Go handlers are saved first and put back.
static void cdp_engine_disable_signals(void) {
	static const int sigs[] = {SIGILL, SIGABRT, SIGFPE, SIGBUS, SIGSEGV, SIGURG, SIGTRAP, SIGSYS, SIGTSTP};
	enum { n = sizeof(sigs) / sizeof(sigs[0]) };
	struct sigaction saved[n];
	for (int i = 0; i < n; i++) sigaction(sigs[i], NULL, &saved[i]);
	cdp_set_signals(0);
	for (int i = 0; i < n; i++) sigaction(sigs[i], &saved[i], NULL);
}

// cdp_engine_run runs clickhouse-local's main with argv and blocks until it
// returns. The error text, if any, is copied and must be freed by the caller.
static char *cdp_engine_run(int argc, char **argv) {
	void *res = cdp_query_cmdline(argc, argv);
	if (res == NULL) return strdup("engine returned no result");
	const char *err = cdp_result_error(res);
	return (err != NULL && err[0] != 0) ? strdup(err) : NULL;
}
*/
import "C"

import (
	"errors"
	"runtime"
	"unsafe"
)

// loadEngineLib loads libchdb.so into this process.
func loadEngineLib(path string) error {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	if msg := C.cdp_engine_load(cpath); msg != nil {
		return errors.New("load " + path + ": " + C.GoString(msg))
	}
	C.cdp_engine_disable_signals()
	return nil
}

// runEngineMain runs the engine's command-line main with args (args[0] is
// the program name) and blocks until it returns.
func runEngineMain(args []string) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	argv := make([]*C.char, len(args))
	for i, a := range args {
		argv[i] = C.CString(a)
	}
	defer func() {
		for _, p := range argv {
			C.free(unsafe.Pointer(p))
		}
	}()
	msg := C.cdp_engine_run(C.int(len(argv)), (**C.char)(unsafe.Pointer(&argv[0])))
	if msg != nil {
		defer C.free(unsafe.Pointer(msg))
		return errors.New(C.GoString(msg))
	}
	return nil
}
