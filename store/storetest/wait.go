package storetest

import (
	"testing"
	"time"
)

// Eventually polls cond every 10 ms until it holds, failing the test with
// what after limit: the condition, not a sleep, ends the wait.
func Eventually(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
