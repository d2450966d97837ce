// Command gatehouse runs the platform: serve | worker | migrate | tenant | version.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `gatehouse — hosted MCP connectors with OAuth done right

Usage:
  gatehouse serve                  run the HTTP server (embedded default: SQLite + in-process queue and workers)
  gatehouse worker                 run the background workers against GATEHOUSE_REDIS_URL
  gatehouse migrate up|down|status apply, roll back one, or list database migrations
  gatehouse tenant create --slug S --upstream URL [--name N] [--idp dev|github|google|oidc] [--json]
  gatehouse tenant list|get SLUG|delete SLUG
  gatehouse version

Configuration is read from GATEHOUSE_* environment variables; see README.md.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gatehouse:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Print(usage)
		return fmt.Errorf("a subcommand is required")
	}
	cmd, rest := args[0], args[1:]
	if cmd == "version" || cmd == "--version" {
		fmt.Println("gatehouse", version)
		return nil
	}
	if cmd == "help" || cmd == "-h" || cmd == "--help" {
		fmt.Print(usage)
		return nil
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	switch cmd {
	case "serve":
		return serve(ctx, cfg, rest)
	case "worker":
		return worker(ctx, cfg, rest)
	case "migrate":
		return migrate(ctx, cfg, rest)
	case "tenant":
		return tenantCmd(ctx, cfg, rest, os.Stdout)
	default:
		fmt.Print(usage)
		return fmt.Errorf("unknown subcommand %q", cmd)
	}
}
