package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// scenarioNames in the order they run when --scenarios is "all".
var scenarioNames = []string{
	"metadata", "token-client-credentials", "token-refresh", "token-authcode", "introspect",
	"gateway-direct", "gateway-bare-proxy", "gateway", "gateway-stream",
}

type config struct {
	URL           string
	AdminToken    string
	Scenarios     []string
	Concurrency   int
	Duration      time.Duration
	Warmup        time.Duration
	JSON          bool
	UpstreamDelay time.Duration
	UpstreamURL   string
	UpstreamAddr  string
	Streams       int
	Rounds        int
	BareProcess   bool
	SpreadIPs     bool
	MetricsURL    string
	ServerPID     int
	Keep          bool
	Progress      bool
	Tenants       int
	Markdown      bool
	Load          string // go or wrk, after resolving auto
	WrkPath       string
	WrkThreads    int
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("gatehouse-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &config{}
	var scen string
	fs.StringVar(&c.URL, "url", "http://127.0.0.1:8080", "base URL of the Gatehouse to load (its public listener)")
	fs.StringVar(&c.AdminToken, "admin-token", os.Getenv("GATEHOUSE_ADMIN_TOKEN"), "admin token for /api/v1 (default $GATEHOUSE_ADMIN_TOKEN)")
	fs.StringVar(&scen, "scenarios", "all", "comma-separated scenarios: "+strings.Join(scenarioNames, ", ")+"; or all")
	fs.IntVar(&c.Concurrency, "concurrency", 32, "concurrent workers per scenario")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "measured time per scenario (gateway-stream: how long the streams are held)")
	fs.DurationVar(&c.Warmup, "warmup", time.Second, "unmeasured warm-up per scenario")
	fs.BoolVar(&c.JSON, "json", false, "print the results as JSON instead of a table")
	fs.DurationVar(&c.UpstreamDelay, "upstream-delay", 0, "delay of the tool's own upstream MCP server per request (e.g. 10ms)")
	fs.StringVar(&c.UpstreamURL, "upstream-url", "", "use this upstream MCP URL instead of starting one (it must answer tools/list statelessly)")
	fs.StringVar(&c.UpstreamAddr, "upstream-listen", "127.0.0.1:0", "listen address of the tool's own upstream and bare proxy (the server must reach it)")
	fs.IntVar(&c.Streams, "streams", 1000, "gateway-stream: SSE streams held open at once")
	fs.IntVar(&c.Rounds, "rounds", 1, "run the request scenarios this many times in turn, each for duration/rounds (fairer ratios on a shared machine)")
	fs.BoolVar(&c.SpreadIPs, "spread-ips", true, "send each request with its own X-Forwarded-For client address (needs GATEHOUSE_TRUSTED_PROXIES=127.0.0.1/32 on the server; the token and authorize limits count per client IP)")
	fs.BoolVar(&c.BareProcess, "bare-proxy-process", true, "run the bare proxy in its own process (as the server under test is); false: inside this one")
	fs.StringVar(&c.MetricsURL, "metrics-url", "", "the server's /metrics for memory per stream (default: --url + /metrics, unless --server-pid is given), e.g. http://127.0.0.1:9090/metrics")
	fs.IntVar(&c.ServerPID, "server-pid", 0, "the server's process id, for memory per stream from /proc when --metrics-url is not given")
	fs.BoolVar(&c.Keep, "keep", false, "keep the provisioned tenant afterwards (default: delete it)")
	fs.BoolVar(&c.Progress, "progress", true, "print a progress line on stderr while running")
	fs.IntVar(&c.Tenants, "tenants", 0, "also provision this many tenants through the API (bench-spread-NNNNN, reused when kept with --keep) and run metadata, token-refresh and gateway spread over all of them, with the ratio to one tenant (the server's GATEHOUSE_API_REQUESTS_PER_MINUTE must allow it)")
	fs.BoolVar(&c.Markdown, "markdown", false, "print the table as Markdown")
	fs.StringVar(&c.Load, "load", "auto", "load generator of the one-request scenarios: go (this tool), wrk (wrk -t2 -cN --latency, the issue's method), or auto (wrk when --wrk is found)")
	fs.StringVar(&c.WrkPath, "wrk", "wrk", "the wrk binary")
	fs.IntVar(&c.WrkThreads, "wrk-threads", 2, "wrk threads (-t)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := c.resolveLoad(); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	c.URL = strings.TrimRight(c.URL, "/")
	if c.AdminToken == "" {
		return nil, errors.New("--admin-token (or GATEHOUSE_ADMIN_TOKEN) is required")
	}
	if c.Concurrency < 1 || c.Duration <= 0 || c.Streams < 1 || c.Rounds < 1 || c.Tenants < 0 {
		return nil, errors.New("--concurrency, --duration, --streams and --rounds must be positive, --tenants not negative")
	}
	if scen == "" || scen == "all" {
		c.Scenarios = scenarioNames
	} else {
		for _, s := range strings.Split(scen, ",") {
			s = strings.TrimSpace(s)
			if !known(s) {
				return nil, fmt.Errorf("unknown scenario %q (known: %s)", s, strings.Join(scenarioNames, ", "))
			}
			c.Scenarios = append(c.Scenarios, s)
		}
	}
	return c, nil
}

// resolveLoad turns --load auto into go or wrk, and checks that a wrk asked
// for is there.
func (c *config) resolveLoad() error {
	switch c.Load {
	case "go":
		return nil
	case "wrk", "auto":
		path, err := exec.LookPath(c.WrkPath)
		if err != nil {
			if c.Load == "wrk" {
				return fmt.Errorf("--load wrk: %w (apt-get install wrk, or --load go)", err)
			}
			c.Load = "go"
			return nil
		}
		c.Load, c.WrkPath = "wrk", path
		if c.WrkThreads < 1 {
			return errors.New("--wrk-threads must be positive")
		}
		return nil
	}
	return fmt.Errorf("--load %q: want go, wrk or auto", c.Load)
}

func known(s string) bool {
	for _, n := range scenarioNames {
		if n == s {
			return true
		}
	}
	return false
}

// report is what --json prints.
type report struct {
	Machine  machine            `json:"machine"`
	Config   reportConfig       `json:"config"`
	Results  []*result          `json:"results"`
	Ratios   map[string]float64 `json:"ratios,omitempty"`
	Finished time.Time          `json:"finished"`
}

type reportConfig struct {
	URL           string `json:"url"`
	Concurrency   int    `json:"concurrency"`
	Duration      string `json:"duration"`
	Rounds        int    `json:"rounds"`
	Load          string `json:"load"`
	UpstreamDelay string `json:"upstream_delay"`
	Streams       int    `json:"streams,omitempty"`
}

type machine struct {
	CPUs      int    `json:"cpus"`
	OS        string `json:"os"`
	Go        string `json:"go"`
	Load      string `json:"loadavg,omitempty"`
	ModelName string `json:"cpu,omitempty"`
}

func thisMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			m.Load = strings.Join(f[:3], " ")
		}
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.ModelName = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// run is the whole tool: provision, run each scenario, report, clean up.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	progress := io.Discard
	if cfg.Progress {
		progress = stderr
	}
	b := newBench(cfg, progress)
	defer b.close()
	if err := b.startUpstream(); err != nil {
		return err
	}
	fmt.Fprintf(progress, "provisioning a bench tenant at %s …\n", cfg.URL)
	if err := b.provision(ctx); err != nil {
		b.cleanup()
		return fmt.Errorf("provisioning: %w", err)
	}
	defer b.cleanup()
	if cfg.Tenants > 0 {
		fmt.Fprintf(progress, "provisioning %d spread tenants …\n", cfg.Tenants)
		defer b.cleanupSpread(context.WithoutCancel(ctx))
		if err := b.provisionSpread(ctx); err != nil {
			return fmt.Errorf("provisioning: %w", err)
		}
	}

	rep := &report{Machine: thisMachine(), Config: reportConfig{URL: cfg.URL, Concurrency: cfg.Concurrency, Duration: cfg.Duration.String(), Rounds: cfg.Rounds, Load: cfg.Load,
		UpstreamDelay: cfg.UpstreamDelay.String()}}
	var requests []string
	stream := false
	for _, name := range cfg.Scenarios {
		if name == "gateway-stream" {
			stream = true
		} else {
			requests = append(requests, name)
			if twin := spreadOf[name]; twin != "" && cfg.Tenants > 0 {
				requests = append(requests, twin)
			}
		}
	}
	rep.Results = b.runScenarios(ctx, requests)
	if stream && ctx.Err() == nil {
		rep.Config.Streams = cfg.Streams
		rep.Results = append(rep.Results, b.runStreams(ctx))
	}
	rep.Ratios = ratios(rep.Results)
	rep.Finished = time.Now().UTC()
	if cfg.JSON {
		return writeJSON(stdout, rep)
	}
	if cfg.Markdown {
		writeMarkdown(stdout, rep)
		return nil
	}
	writeTable(stdout, rep)
	return nil
}

var errStatus = errors.New("unexpected status")

// statusErr describes an unexpected response (a short, token-free excerpt).
func statusErr(resp *http.Response, body []byte) error {
	ex := strings.TrimSpace(string(body))
	if len(ex) > 160 {
		ex = ex[:160] + "…"
	}
	return fmt.Errorf("%w %d from %s %s: %s", errStatus, resp.StatusCode, resp.Request.Method, resp.Request.URL.Path, ex)
}
