package testkit

import (
	"bytes"
	"os"
	"sync"
	"syscall"
	"time"
)

// LockedBuffer collects what another goroutine writes (a child process's
// output copied by exec, a server's logger) for the test to read while the
// writer may still run.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything written so far.
func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// StopProcess ends a child process as an orchestrator would: SIGTERM (it
// drains and exits cleanly), then SIGKILL if it has not exited within
// grace. done is closed when the process's Wait returns.
func StopProcess(p *os.Process, done <-chan struct{}, grace time.Duration) {
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		_ = p.Kill()
		<-done
	}
}
