//go:build linux

package store

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The supervisor side of the engine: it starts the child process that hosts
// the engine (engine_child.go), waits until it answers, watches its
// listeners, and restarts it with back-off when it dies or stops answering.

// child is one running engine process.
type child struct {
	cmd     *exec.Cmd
	control *os.File // write end of its control pipe; closing it stops the engine
	exited  chan error
	started time.Time
}

// startChild starts a child and waits up to readyTimeout until it answers
// a query; a child that has not is killed.
func (e *Engine) startChild(ctx context.Context, readyTimeout time.Duration) error {
	env, err := childEnv(e.spec)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable to host the engine: %w", err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd := exec.Command(self)
	cmd.Env = env
	cmd.Dir = e.spec.DataPath // the engine maps its working folder's files
	cmd.ExtraFiles = []*os.File{pr}
	cmd.Stderr = e.stderr
	// Its own process group: a Ctrl-C in the terminal reaches the parent,
	// which then stops the child in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	e.stderr.Reset()
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return fmt.Errorf("start engine child: %w", err)
	}
	pr.Close()
	c := &child{cmd: cmd, control: pw, exited: make(chan error, 1), started: time.Now()}
	go func() { c.exited <- cmd.Wait() }()

	if err := e.waitReady(ctx, c.exited, readyTimeout); err != nil {
		pw.Close()
		_ = cmd.Process.Kill()
		<-c.exited
		return err
	}
	e.mu.Lock()
	e.cur = c
	e.mu.Unlock()
	return nil
}

// waitReady probes the child until a query answers, the child exits or
// timeout passes. Each probe may take the rest of the time: on a loaded
// machine a starting engine answers late, and a late answer counts.
func (e *Engine) waitReady(ctx context.Context, exited chan error, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			exited <- err // leave it for the caller's wait
			return fmt.Errorf("engine child exited before it was ready (%v): %s", err, e.stderr.String())
		case <-ctx.Done():
			return fmt.Errorf("engine not ready after %s: %w; engine said: %s", timeout, ctx.Err(), e.stderr.String())
		case <-tick.C:
			if probeEngine(ctx, e.TCPAddr(), e.HTTPAddr(), e.password) == probeAnswered {
				return nil
			}
		}
	}
}

// restartTimeout is how long a restart attempt that follows failed ones
// waits for the child: ReadyTimeout doubled for each failure, at most
// eight times ReadyTimeout.
func restartTimeout(ready time.Duration, failed int) time.Duration {
	return ready << min(failed, 3)
}

// supervise waits for the current child to die and starts a new one with
// back-off, until Close.
func (e *Engine) supervise() {
	defer close(e.done)
	backoff := e.opts.MinBackoff
	for {
		failed := 0
		e.mu.Lock()
		c := e.cur
		e.mu.Unlock()
		err, stopping := e.watch(c)
		if stopping {
			e.stopChild(c)
			return
		}
		c.control.Close()
		e.mu.Lock()
		e.cur = nil
		e.mu.Unlock()
		if time.Since(c.started) > e.opts.StableAfter {
			backoff = e.opts.MinBackoff
		}
		e.logger.Error("engine child died; restarting", "err", err, "backoff", backoff, "stderr", e.stderr.String())
		for {
			select {
			case <-e.stopping:
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, e.opts.MaxBackoff)
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				select {
				case <-e.stopping:
					cancel()
				case <-ctx.Done():
				}
			}()
			err := e.startChild(ctx, restartTimeout(e.opts.ReadyTimeout, failed))
			cancel()
			if err == nil {
				break
			}
			failed++
			e.logger.Error("engine restart failed", "err", err, "next_backoff", backoff,
				"next_ready_timeout", restartTimeout(e.opts.ReadyTimeout, failed))
		}
		e.mu.Lock()
		e.restarts++
		e.mu.Unlock()
		e.metrics.EngineRestarts.Inc()
		e.logger.Info("engine child restarted", "pid", e.PID(), "restarts", e.Restarts())
	}
}

// watch waits for the child to exit, probing its listeners meanwhile
// (one probe at a time, every HealthInterval, each waiting up to
// HungAfter for its answer). A child that healthState.observe condemns is
// killed, and its exit returned like a crash's. stopping reports Close.
func (e *Engine) watch(c *child) (exit error, stopping bool) {
	tick := time.NewTicker(e.opts.HealthInterval)
	defer tick.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	results := make(chan probeResult, 1)
	inFlight := false
	defer func() {
		cancel()
		if inFlight {
			<-results
		}
	}()
	health, killed := newHealthState(time.Now()), false
	for {
		select {
		case <-e.stopping:
			return nil, true
		case err := <-c.exited:
			return err, false
		case r := <-results:
			inFlight = false
			if kill, why := health.observe(time.Now(), r, e.opts.UnhealthyAfter, e.opts.HungAfter); kill && !killed {
				e.logger.Error("engine not answering; killing the engine child to restart it", "why", why)
				_ = c.cmd.Process.Kill()
				killed = true
			}
		case <-tick.C:
			if inFlight || killed {
				continue
			}
			inFlight = true
			go func() {
				pctx, pcancel := context.WithTimeout(ctx, e.opts.HungAfter)
				defer pcancel()
				results <- probeEngine(pctx, e.TCPAddr(), e.HTTPAddr(), e.password)
			}()
		}
	}
}

// stopChild asks the engine to exit (it flushes and stops in milliseconds)
// and kills it if it has not after ten seconds.
func (e *Engine) stopChild(c *child) {
	c.control.Close()
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		e.logger.Warn("engine child did not stop in 10s; killing it")
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
	e.mu.Lock()
	e.cur = nil
	e.mu.Unlock()
}

// tailBuffer keeps the last bytes written to it, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) Reset() {
	t.mu.Lock()
	t.buf = t.buf[:0]
	t.mu.Unlock()
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}
