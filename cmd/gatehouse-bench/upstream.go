package main

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehouse/gatehouse/api/demo"
)

// upstreamHandler is the tool's own upstream MCP server: the demo server
// (official Go SDK) in stateless JSON mode, so every POST stands alone, each
// request held for delay first. A GET asking for an event stream is held
// open (one comment, then silence) in place of the standalone GET stream a
// stateful server would keep: gateway-stream measures what the gateway
// spends on an open stream, whatever flows on it.
func upstreamHandler(delay time.Duration) http.Handler {
	s := demo.NewServer()
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
			w.Header().Set("Content-Type", "text/event-stream")
			w.Header().Set("Cache-Control", "no-cache")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(": open\n\n"))
			_ = http.NewResponseController(w).Flush()
			<-r.Context().Done()
			return
		}
		if delay > 0 {
			time.Sleep(delay)
		}
		h.ServeHTTP(w, r)
	})
}

// bareProxy is the ceiling for any proxy on this machine: an
// httputil.ReverseProxy with nothing added, keeping enough idle upstream
// connections for the load (the default of 2 per host would measure
// connection churn instead).
func bareProxy(target *url.URL, conc int) http.Handler {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 0
	tr.MaxIdleConnsPerHost = conc*2 + 16
	tr.DisableCompression = true
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			u := *target
			pr.Out.URL = &u
			pr.Out.Host = ""
		},
		Transport:     tr,
		FlushInterval: -1,
		// wrk drops its connections at the end of a run: no line each.
		ErrorLog: log.New(io.Discard, "", 0),
	}
}

// bareProxyCommand is the hidden subcommand that runs the bare proxy in a
// process of its own, so it competes for the CPU as the server under test
// does instead of sharing the load generator's process.
const bareProxyCommand = "__bare-proxy"

// serveBareProxy runs the bare proxy (args: listen address, target URL,
// concurrency), prints its base URL, and serves until its standard input
// closes (the parent ended).
func serveBareProxy(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("want: %s LISTEN TARGET CONCURRENCY", bareProxyCommand)
	}
	target, err := url.Parse(args[1])
	if err != nil {
		return err
	}
	conc, err := strconv.Atoi(args[2])
	if err != nil {
		return err
	}
	srv, base, err := serveOn(args[0], bareProxy(target, conc))
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Println(base)
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}

// startBareProxyProcess starts this executable's bare proxy subcommand and
// returns its base URL and a function that stops it.
func startBareProxyProcess(listen string, target *url.URL, conc int) (string, func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(exe, bareProxyCommand, listen, target.String(), strconv.Itoa(conc))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("the bare proxy process did not start: %w", err)
	}
	return strings.TrimSpace(line), stop, nil
}

// serveOn serves h on addr and returns its base URL.
func serveOn(addr string, h http.Handler) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return srv, "http://" + ln.Addr().String(), nil
}
