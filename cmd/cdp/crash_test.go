package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/granarycdp/cdp/store/storetest"
)

// platform is a `cdp serve` child process.
type platform struct {
	cmd  *exec.Cmd
	base string
	logs *syncBuffer
}

func startPlatform(t *testing.T, env []string) *platform {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	p := &platform{base: "http://" + addr, logs: &syncBuffer{}}
	p.cmd = exec.Command(os.Args[0])
	p.cmd.Env = append(append(os.Environ(), env...), "CDP_TEST_RUN_MAIN=serve", "CDP_HTTP_ADDR="+addr, "CDP_LOG_LEVEL=warn")
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(p.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			p.cmd.Process.Kill()
			t.Fatalf("platform not healthy:\n%s", p.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *platform) stop(sig syscall.Signal) {
	p.cmd.Process.Signal(sig)
	p.cmd.Wait()
}

func postBatch(base string, body []byte) (int, error) {
	req, _ := http.NewRequest("POST", base+"/v1/batch", bytes.NewReader(body))
	req.SetBasicAuth("crash-key", "")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestSIGKILLDuringIngestLosesNothingAndStoresNothingTwice kills `cdp
// serve` with SIGKILL while four clients stream batches, restarts it on
// the same data folder, and has the clients resend every batch (as SDKs
// retry unanswered requests). Every event must then be in ClickHouse
// exactly once: the acknowledged ones from the spool, the others from the
// resend, and none twice although many were sent twice.
func TestSIGKILLDuringIngestLosesNothingAndStoresNothingTwice(t *testing.T) {
	db := storetest.DB(t)
	env := []string{"CDP_CLICKHOUSE_DSN=" + storetest.DSN(t, db.Database), "CDP_DATA_DIR=" + t.TempDir(),
		"CDP_WRITE_KEY=crash-key", "CDP_ADMIN_TOKEN=crash-admin"}
	p := startPlatform(t, env)

	const clients, perBatch, killAfter = 4, 200, 40_000
	var (
		mu      sync.Mutex
		batches [][]byte
		ackedB  []string // "c<client>-b<batch>" of acknowledged batches
		acked   atomic.Int64
		wg      sync.WaitGroup
	)
	stop := make(chan struct{})
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := 0; ; b++ {
				select {
				case <-stop:
					return
				default:
				}
				var msgs []string
				for i := range perBatch {
					msgs = append(msgs, fmt.Sprintf(`{"type":"track","event":"video_play","messageId":"c%d-b%d-%d","userId":"u%d","properties":{"topic":"控糖"}}`, c, b, i, i))
				}
				body := []byte(`{"batch":[` + strings.Join(msgs, ",") + `]}`)
				mu.Lock()
				batches = append(batches, body)
				mu.Unlock()
				status, err := postBatch(p.base, body)
				if err != nil {
					return // the platform died under us
				}
				if status == 200 {
					mu.Lock()
					ackedB = append(ackedB, fmt.Sprintf("c%d-b%d", c, b))
					mu.Unlock()
					acked.Add(perBatch)
				}
			}
		}()
	}
	for acked.Load() < killAfter {
		time.Sleep(time.Millisecond)
	}
	p.cmd.Process.Kill()
	p.cmd.Wait()
	close(stop)
	wg.Wait()
	t.Logf("killed after %d acknowledged events; %d batches sent", acked.Load(), len(batches))

	p = startPlatform(t, env)
	defer p.stop(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Before any resend: every acknowledged event is there, replayed from
	// the spool if it had not reached ClickHouse before the kill.
	for {
		var n uint64
		err := db.Conn.QueryRow(ctx, "SELECT uniqExact(message_id) FROM "+db.Table("events")+
			" WHERE has(?, replaceRegexpOne(message_id, '-\\d+$', ''))", ackedB).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n == uint64(acked.Load()) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("only %d of %d acknowledged events present after the restart", n, acked.Load())
		case <-time.After(50 * time.Millisecond):
		}
	}
	for _, body := range batches {
		if status, err := postBatch(p.base, body); err != nil || status != 200 {
			t.Fatalf("resend: %d %v", status, err)
		}
	}
	want := uint64(len(batches) * perBatch)
	var rows, distinct uint64
	for {
		err := db.Conn.QueryRow(ctx, "SELECT count(), uniqExact(message_id) FROM "+db.Table("events")).Scan(&rows, &distinct)
		if err != nil {
			t.Fatal(err)
		}
		if rows > want || distinct == want {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("only %d of %d events arrived:\n%s", distinct, want, p.logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if rows != want || distinct != want {
		t.Fatalf("%d rows, %d distinct; want exactly %d once each", rows, distinct, want)
	}
}
