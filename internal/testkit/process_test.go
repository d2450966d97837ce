package testkit

import (
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Writes from many goroutines, read while they run, all arrive whole (go
// test -race checks the locking).
func TestBufferConcurrentWrites(t *testing.T) {
	var buf Buffer
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				_, _ = buf.Write([]byte("line\n"))
				_ = buf.String()
			}
		}()
	}
	wg.Wait()
	if got := strings.Count(buf.String(), "line\n"); got != 800 {
		t.Fatalf("%d lines, want 800", got)
	}
}

// A process that ignores SIGTERM is killed after the grace period; one
// that honours it exits before.
func TestStopProcess(t *testing.T) {
	for _, c := range []struct {
		script string
		killed bool
	}{
		{"sleep 30", false},
		{"trap '' TERM; sleep 5", true}, // the orphaned sleep ends by itself
	} {
		cmd := exec.Command("sh", "-c", c.script)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		time.Sleep(200 * time.Millisecond) // let the shell set its trap
		start := time.Now()
		StopProcess(cmd.Process, done, time.Second)
		took := time.Since(start)
		ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if killed := ws.Signaled() && ws.Signal() == syscall.SIGKILL; killed != c.killed || (c.killed && took < time.Second) {
			t.Errorf("%q: killed=%v after %v (%v)", c.script, killed, took, ws)
		}
	}
}
