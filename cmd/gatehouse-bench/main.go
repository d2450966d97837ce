// Command gatehouse-bench is the load tool of docs/PERFORMANCE.md: pointed at
// any running Gatehouse (its URL and admin token), it provisions its own
// tenant and clients through /api/v1, starts its own upstream MCP server
// (instant, or delayed with --upstream-delay) and a bare
// httputil.ReverseProxy in front of it, then runs the named scenarios at a
// given concurrency and duration and prints req/s, p50/p90/p99/max and
// errors per scenario.
//
//	gatehouse-bench --url http://127.0.0.1:8080 --admin-token $TOKEN \
//	    --scenarios token-client-credentials,gateway,gateway-bare-proxy --concurrency 32 --duration 10s
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == bareProxyCommand {
		if err := serveBareProxy(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "gatehouse-bench bare proxy:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gatehouse-bench:", err)
		os.Exit(1)
	}
}
