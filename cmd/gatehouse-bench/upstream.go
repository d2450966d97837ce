package main

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
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
	}
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
