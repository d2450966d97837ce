package testkit

import (
	"bytes"
	"sync"
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
