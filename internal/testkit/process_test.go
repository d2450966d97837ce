package testkit

import (
	"strings"
	"sync"
	"testing"
)

// Writes from many goroutines, read while they run, all arrive whole (go
// test -race checks the locking).
func TestLockedBufferConcurrentWrites(t *testing.T) {
	var buf LockedBuffer
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
