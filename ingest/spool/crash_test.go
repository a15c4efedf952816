package spool

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The crash test runs this test binary again as a child that appends from
// several goroutines, printing each acknowledged range, while a consumer reads,
// plans and commits with a lag, printing each plan and commit. The parent
// SIGKILLs it at a random acknowledgement and checks what Open recovers.
const (
	crashDirEnv   = "SPOOL_CRASH_CHILD_DIR"
	crashRoundEnv = "SPOOL_CRASH_CHILD_ROUND"
	crashSeedEnv  = "SPOOL_CRASH_CHILD_SEED"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		round, _ := strconv.ParseUint(os.Getenv(crashRoundEnv), 10, 64)
		seed, _ := strconv.ParseUint(os.Getenv(crashSeedEnv), 10, 64)
		if err := crashChild(dir, round, seed); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashKey names a record written by a crash child: round, appender, Append
// number of that appender, index in the Append.
type crashKey struct{ round, gid, n, i uint64 }

func (k crashKey) String() string { return fmt.Sprintf("r%d g%d n%d i%d", k.round, k.gid, k.n, k.i) }

// crashPayload is the content of record k: its name, then bytes seeded by it.
// Most records are small, one in sixteen up to 32 KiB, as collectors send.
func crashPayload(k crashKey) []byte {
	r := rand.New(rand.NewPCG(k.round<<48|k.gid<<40|k.n, k.i))
	size := 200 + r.IntN(800)
	if r.IntN(16) == 0 {
		size = 200 + r.IntN(32<<10-200)
	}
	p := fmt.Appendf(make([]byte, 0, size), "%s|", k)
	for len(p) < size {
		p = append(p, byte(r.Uint32()))
	}
	return p
}

func parseCrashKey(p []byte) (crashKey, bool) {
	var k crashKey
	head, _, ok := bytes.Cut(p, []byte("|"))
	if !ok {
		return k, false
	}
	_, err := fmt.Sscanf(string(head), "r%d g%d n%d i%d", &k.round, &k.gid, &k.n, &k.i)
	return k, err == nil
}

// crashChild appends until killed, or for at most a minute if the parent
// never kills it.
func crashChild(dir string, round, seed uint64) error {
	s, err := Open(Options{Dir: dir, FileBytes: 256 << 10})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// One write per line: a line reaches the parent whole or not at all.
	say := func(format string, args ...any) error {
		_, err := os.Stdout.Write(fmt.Appendf(nil, format+"\n", args...))
		return err
	}
	const appenders = 6
	errs := make(chan error, appenders+1)
	for gid := range uint64(appenders) {
		go func() {
			r := rand.New(rand.NewPCG(seed, gid))
			for n := uint64(0); ; n++ {
				recs := make([][]byte, 1+r.IntN(3))
				for i := range recs {
					recs[i] = crashPayload(crashKey{round, gid, n, uint64(i)})
				}
				first, last, err := s.Append(ctx, recs...)
				if err == nil {
					err = say("A %d %d %d %d %d", first, last, gid, n, len(recs))
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	go func() {
		// Commit only what is 500 records behind the newest, so most
		// acknowledged records stay to be checked, and plans are pending
		// at the kill.
		var plans []Range
		next := s.Committed() + 1
		if p := s.Plans(); len(p) > 0 {
			// Re-form the recovered batches first, as the real
			// consumer does.
			plans = p
			next = p[len(p)-1].Last + 1
		}
		for {
			recs, err := s.Read(ctx, next, 300, 1<<20)
			if err == nil {
				first, last := recs[0].Seq, recs[len(recs)-1].Seq
				if err = s.Plan(first, last); err == nil {
					err = say("P %d %d", first, last)
				}
				plans = append(plans, Range{first, last})
				next = last + 1
			}
			for err == nil && len(plans) > 0 && s.LastSeq()-plans[0].Last > 500 {
				if err = s.Commit(plans[0].Last); err == nil {
					err = say("C %d", plans[0].Last)
				}
				plans = plans[1:]
			}
			if err != nil {
				errs <- err
				return
			}
		}
	}()
	return <-errs
}

// crashLog is what the parent learnt from a child's output.
type crashLog struct {
	acked     map[uint64]crashKey // sequence number -> record
	plans     []Range
	committed uint64
}

func TestCrashRecoversEveryAcknowledgedRecord(t *testing.T) {
	dir := t.TempDir()
	log := crashLog{acked: map[uint64]crashKey{}}
	for round := range uint64(3) {
		seed := rand.Uint64()
		killAfter := 100 + rand.IntN(2000)
		t.Logf("round %d: seed %d, kill after %d acknowledged Appends", round, seed, killAfter)
		runCrashChild(t, dir, round, seed, killAfter, &log)
		checkCrashRecovery(t, dir, &log)
	}
}

// runCrashChild runs a child until it has acknowledged killAfter Appends,
// SIGKILLs it and adds what it printed to log.
func runCrashChild(t *testing.T, dir string, round, seed uint64, killAfter int, log *crashLog) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		crashDirEnv+"="+dir,
		crashRoundEnv+"="+strconv.FormatUint(round, 10),
		crashSeedEnv+"="+strconv.FormatUint(seed, 10))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	kill := func() { once.Do(func() { cmd.Process.Kill() }) }
	defer kill()

	acks := 0
	rd := bufio.NewReader(out)
	for {
		// Lines the child wrote before it died are still in the pipe and
		// count; a line without its newline was never written whole.
		line, err := rd.ReadString('\n')
		if err != nil {
			break
		}
		f := strings.Fields(line)
		nums := make([]uint64, len(f)-1)
		for i := range nums {
			if nums[i], err = strconv.ParseUint(f[i+1], 10, 64); err != nil {
				t.Fatalf("child printed %q", line)
			}
		}
		switch f[0] {
		case "A":
			first, last, gid, n := nums[0], nums[1], nums[2], nums[3]
			for seq := first; seq <= last; seq++ {
				if prev, ok := log.acked[seq]; ok {
					t.Fatalf("record %d acknowledged twice: %v and %v", seq, prev, crashKey{round, gid, n, seq - first})
				}
				log.acked[seq] = crashKey{round, gid, n, seq - first}
			}
			if acks++; acks == killAfter {
				kill()
			}
		case "P":
			log.plans = append(log.plans, Range{nums[0], nums[1]})
		case "C":
			log.committed = max(log.committed, nums[0])
		default:
			t.Fatalf("child printed %q", line)
		}
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v after %d acknowledgements, not by our SIGKILL; stderr:\n%s", err, acks, stderr.String())
	}
	if acks < killAfter {
		t.Fatalf("child died after %d of %d acknowledgements", acks, killAfter)
	}
}

// checkCrashRecovery opens the spool a child left and checks it against
// what the child acknowledged.
func checkCrashRecovery(t *testing.T, dir string, log *crashLog) {
	t.Helper()
	s := openT(t, Options{Dir: dir, FileBytes: 256 << 10})
	defer closeT(t, s)
	committed, last := s.Committed(), s.LastSeq()
	if committed < log.committed {
		t.Fatalf("committed %d after recovery, but Commit(%d) returned", committed, log.committed)
	}
	var maxAcked uint64
	for seq := range log.acked {
		maxAcked = max(maxAcked, seq)
	}
	if last < maxAcked {
		t.Fatalf("LastSeq %d after recovery, but record %d was acknowledged", last, maxAcked)
	}

	// Every record left is whole, once, in a dense sequence; every
	// acknowledged one is there with its bytes.
	seen := map[crashKey]uint64{}
	checked := 0
	for from := committed + 1; from <= last; {
		recs, err := s.Read(ctxT(t), from, 1000, 4<<20)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Seq != from {
				t.Fatalf("read record %d, want %d", r.Seq, from)
			}
			from++
			k, ok := parseCrashKey(r.Data)
			if !ok || !bytes.Equal(r.Data, crashPayload(k)) {
				t.Fatalf("record %d is not a record the child wrote: %q...", r.Seq, r.Data[:min(len(r.Data), 40)])
			}
			if prev, ok := seen[k]; ok {
				t.Fatalf("record %v stored twice, as %d and %d", k, prev, r.Seq)
			}
			seen[k] = r.Seq
			if want, ok := log.acked[r.Seq]; ok {
				if k != want {
					t.Fatalf("record %d holds %v, but %v was acknowledged as %d", r.Seq, k, want, r.Seq)
				}
				checked++
			}
		}
	}
	for seq, k := range log.acked {
		if seq > committed && seen[k] != seq {
			t.Fatalf("acknowledged record %v (%d) is missing", k, seq)
		}
	}

	// Plans pick up exactly where the committed point is, and every plan
	// that Plan confirmed and no commit covered is still there.
	plans := s.Plans()
	want := committed + 1
	for _, p := range plans {
		if p.First != want || p.Last < p.First || p.Last > last {
			t.Fatalf("recovered plans %v do not run on from committed %d within %d", plans, committed, last)
		}
		want = p.Last + 1
	}
	for _, p := range log.plans {
		if p.Last > committed && !slices.Contains(plans, p) {
			t.Fatalf("plan %v confirmed but not recovered (plans %v, committed %d)", p, plans, committed)
		}
	}
	t.Logf("recovered: committed %d, last %d, %d plans; checked %d acknowledged records (%d acknowledged in all)",
		committed, last, len(plans), checked, len(log.acked))
	if checked == 0 {
		t.Fatalf("no acknowledged record above the committed point to check")
	}
}
