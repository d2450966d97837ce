// Command gatehouse runs the platform: serve | worker | migrate | tenant | admin-token | version.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `gatehouse — hosted MCP connectors with OAuth done right

Usage:
  gatehouse serve [--addr A] [--public-url U]
                                   run the HTTP server (embedded default: SQLite + in-process queue and workers)
  gatehouse worker                 run the background workers against GATEHOUSE_REDIS_URL
  gatehouse migrate up|down|status apply, roll back one, or list database migrations
  gatehouse tenant create --slug S --upstream URL [--name N] [--idp dev|github|google|oidc] [--json]
  gatehouse tenant set-idp SLUG --idp TYPE [--idp-client-id ID] [--idp-client-secret-file PATH|-]
  gatehouse tenant list|get SLUG|delete SLUG
  gatehouse admin-token rotate [--out FILE]
                                   replace the generated admin token (printed to a terminal or written to FILE)
  gatehouse secrets reseal [--dry-run] [--json]
                                   re-seal secrets at rest under the first GATEHOUSE_SECRET_KEY (after a rotation)
  gatehouse healthcheck            exit 0 if this host's operations listener (GATEHOUSE_ADMIN_ADDR) answers /readyz
  gatehouse admin grant EMAIL      give an account the operator (platform) role
  gatehouse version

Configuration is read from GATEHOUSE_* environment variables (every secret
also as NAME_FILE); see README.md. "gatehouse COMMAND --help" describes a command.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "gatehouse:", err)
		os.Exit(1)
	}
}

// usageError is a usage message returned as an error (exit status 1).
type usageError string

func (u usageError) Error() string { return string(u) }

// newFlagSet returns a flag set that prints its usage to stdout on --help
// (a requested help is not an error) and stays quiet otherwise.
func newFlagSet(name, text string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintln(os.Stdout, text)
		fs.SetOutput(os.Stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parseVerb parses the flags after a command's one verb. Without the verb,
// --help still prints the usage (flag.ErrHelp) and anything else is a
// usage error.
func parseVerb(fs *flag.FlagSet, args []string, verb, usage string) error {
	if len(args) == 0 || args[0] != verb {
		if err := fs.Parse(args); err != nil {
			return err
		}
		return usageError(usage)
	}
	return fs.Parse(args[1:])
}

func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "-h", "--help", "-help":
			return true
		case "--":
			return false
		}
	}
	return false
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stdout, usage)
		return fmt.Errorf("a subcommand is required")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "version", "--version":
		fmt.Fprintln(stdout, "gatehouse", version)
		return nil
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	switch cmd {
	case "serve", "worker", "migrate", "tenant", "admin", "admin-token", "healthcheck", "secrets":
	default:
		fmt.Fprint(stdout, usage)
		return fmt.Errorf("unknown subcommand %q", cmd)
	}
	// Help never fails on the configuration and never creates a file: each
	// command parses its flags before it opens anything.
	if wantsHelp(rest) {
		cfg, err := loadConfig()
		if err != nil {
			cfg = &Config{}
		}
		switch cmd {
		case "serve":
			return serve(ctx, cfg, rest)
		case "tenant":
			return tenantCmd(ctx, cfg, rest, stdin, stdout)
		case "admin-token":
			return adminTokenCmd(ctx, cfg, rest, stdout, false)
		case "secrets":
			return secretsCmd(ctx, cfg, rest, stdout)
		}
		fmt.Fprint(stdout, usage)
		return nil
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	for _, w := range cfg.warnings {
		fmt.Fprintln(os.Stderr, "gatehouse: warning:", w)
	}
	if cmd == "serve" {
		return serve(ctx, cfg, rest) // validates after its flags
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	switch cmd {
	case "worker":
		return worker(ctx, cfg, rest)
	case "migrate":
		return migrate(ctx, cfg, rest)
	case "tenant":
		return tenantCmd(ctx, cfg, rest, stdin, stdout)
	case "healthcheck":
		return healthcheck(ctx, cfg)
	case "secrets":
		return secretsCmd(ctx, cfg, rest, stdout)
	case "admin":
		return adminCmd(ctx, cfg, rest, stdout)
	default:
		return adminTokenCmd(ctx, cfg, rest, stdout, isTerminal(os.Stdout))
	}
}

// isTerminal reports whether f is a character device (a person's terminal,
// not a pipe or a log collector).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
