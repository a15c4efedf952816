//go:build linux

package store

import (
	"context"
	"fmt"
	"net"
	"net/http"
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

func (e *Engine) startChild(ctx context.Context) error {
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

	if err := e.waitReady(ctx, c.exited); err != nil {
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

func (e *Engine) waitReady(ctx context.Context, exited chan error) error {
	ctx, cancel := context.WithTimeout(ctx, e.opts.ReadyTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	url := "http://" + e.HTTPAddr() + "/ping"
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			exited <- err // leave it for the caller's wait
			return fmt.Errorf("engine child exited before it was ready (%v): %s", err, e.stderr.String())
		case <-ctx.Done():
			return fmt.Errorf("engine not ready after %s: %w; engine said: %s", e.opts.ReadyTimeout, ctx.Err(), e.stderr.String())
		case <-tick.C:
			resp, err := client.Get(url)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
			}
		}
	}
}

// supervise waits for the current child to die and starts a new one with
// back-off, until Close.
func (e *Engine) supervise() {
	defer close(e.done)
	backoff := e.opts.MinBackoff
	for {
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
			err := e.startChild(ctx)
			cancel()
			if err == nil {
				break
			}
			e.logger.Error("engine restart failed", "err", err, "next_backoff", backoff)
		}
		e.mu.Lock()
		e.restarts++
		e.mu.Unlock()
		e.metrics.EngineRestarts.Inc()
		e.logger.Info("engine child restarted", "pid", e.PID(), "restarts", e.Restarts())
	}
}

// watch waits for the child to exit, checking its listeners meanwhile: a
// child whose listeners have not answered for UnhealthyAfter is killed,
// and its exit returned like a crash's. stopping reports Close.
func (e *Engine) watch(c *child) (exit error, stopping bool) {
	tick := time.NewTicker(e.opts.HealthInterval)
	defer tick.Stop()
	answered, killed := time.Now(), false
	for {
		select {
		case <-e.stopping:
			return nil, true
		case err := <-c.exited:
			return err, false
		case <-tick.C:
			if e.listening() {
				answered = time.Now()
			} else if !killed && time.Since(answered) > e.opts.UnhealthyAfter {
				e.logger.Error("engine listeners not answering; killing the engine child to restart it",
					"silent_ms", time.Since(answered).Milliseconds())
				_ = c.cmd.Process.Kill()
				killed = true
			}
		}
	}
}

// listening reports whether both listeners accept a new connection and
// HTTP answers /ping. Connections are never reused: a listener stopped by
// SYSTEM STOP LISTEN leaves open connections working.
func (e *Engine) listening() bool {
	const timeout = 2 * time.Second
	conn, err := net.DialTimeout("tcp", e.TCPAddr(), timeout)
	if err != nil {
		return false
	}
	conn.Close()
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + e.HTTPAddr() + "/ping")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
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
