//go:build pprof

package main

import (
	"log/slog"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof on http.DefaultServeMux
	"os"
)

// Profiling builds only (go build -tags pprof, docs/PERFORMANCE.md): serve
// net/http/pprof on GATEHOUSE_PPROF_ADDR (a loopback address). Release
// builds contain none of this.
func init() {
	addr := os.Getenv("GATEHOUSE_PPROF_ADDR")
	if addr == "" {
		return
	}
	slog.Warn("profiling build: pprof served", "addr", addr)
	go func() { _ = http.ListenAndServe(addr, nil) }()
}
