package testdb

import (
	"testing"
	"time"
)

// Eventually polls cond until it holds, failing the test when d passes
// first. It waits for asynchronous work (a server starting, a subscription
// taking hold, a queued task running); it never asserts on how long that
// took.
func Eventually(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
