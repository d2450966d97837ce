package testkit

import (
	"os"
	"syscall"
	"time"
)

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
