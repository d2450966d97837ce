package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// The wrk load generator (--load wrk): the issue's own method, `wrk -t2
// -c32 --latency`, where the C load generator leaves the server more of a
// small machine than the Go one does. Scenarios of one request each run
// under wrk; token-refresh, token-authcode and gateway-stream (whose
// requests depend on earlier answers) stay on the Go generator.

// wrkRequest is one request of a scenario's rotation; each wrk connection
// sends them in turn.
type wrkRequest struct {
	method, url string
	headers     map[string]string
	body        string
}

// wrkPlan is what one wrk run sends.
type wrkPlan struct {
	reqs []wrkRequest
	// spreadIPs gives every request its own X-Forwarded-For (the token
	// endpoint's limit counts per client IP, as spreadIPs does for Go).
	spreadIPs bool
}

// wrkPlan returns the requests of scenario name, or nil when it stays on
// the Go generator.
func (b *bench) wrkPlan(name string) *wrkPlan {
	p := &wrkPlan{}
	switch name {
	case "metadata":
		p.reqs = b.metadataRequests(&b.benchTenant)
	case "metadata-spread":
		p.reqs = b.metadataRequests(b.spread...)
	case "token-client-credentials":
		p.reqs = []wrkRequest{form(b.issuer+"/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {b.ccID}, "client_secret": {b.ccSecret}, "resource": {b.resource}}, "")}
		p.spreadIPs = b.cfg.SpreadIPs
	case "introspect":
		for _, s := range b.sessions {
			p.reqs = append(p.reqs, form(b.issuer+"/oauth/introspect", url.Values{"token": {s.at}}, b.apiKey))
		}
	case "gateway":
		for _, s := range b.sessions {
			p.reqs = append(p.reqs, mcpRequest(b.mcpURL, s.at))
		}
	case "gateway-spread":
		for _, s := range b.spreadSs {
			p.reqs = append(p.reqs, mcpRequest(s.t.mcpURL, s.at))
		}
	case "gateway-direct":
		p.reqs = []wrkRequest{mcpRequest(b.upstream, "")}
	case "gateway-bare-proxy":
		p.reqs = []wrkRequest{mcpRequest(b.bare, "")}
	default:
		return nil
	}
	return p
}

func (b *bench) metadataRequests(ts ...*benchTenant) []wrkRequest {
	var out []wrkRequest
	for _, t := range ts {
		out = append(out, wrkRequest{method: "GET", url: b.cfg.URL + "/.well-known/oauth-authorization-server" + strings.TrimPrefix(t.issuer, b.cfg.URL)},
			wrkRequest{method: "GET", url: t.issuer + "/jwks.json"})
	}
	return out
}

// form is a form POST, with a bearer credential when given.
func form(u string, v url.Values, bearer string) wrkRequest {
	h := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	if bearer != "" {
		h["Authorization"] = "Bearer " + bearer
	}
	return wrkRequest{method: "POST", url: u, headers: h, body: v.Encode()}
}

// mcpRequest is the tools/list call of mcpCall.
func mcpRequest(u, token string) wrkRequest {
	h := map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream", "Mcp-Protocol-Version": "2025-06-18"}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	return wrkRequest{method: "POST", url: u, headers: h, body: string(toolsList)}
}

// wrkScript is the Lua script of a plan: each thread starts at its own
// place in the rotation; done() prints the figures as one JSON line, so
// nothing depends on wrk's text layout.
const wrkScript = `
local spread = %t
local reqs = {
%s}
local n = #reqs
local i = 0
local formatted = {}
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  local id = tid or 1
  math.randomseed(os.time() * 1000 + id)
  i = ((id - 1) * 7919) %% n
  if not spread then
    for k, r in ipairs(reqs) do formatted[k] = wrk.format(r[1], r[2], r[3], r[4]) end
  end
end
function request()
  i = i %% n + 1
  if spread then
    local r = reqs[i]
    r[3]["X-Forwarded-For"] = string.format("10.%%d.%%d.%%d", math.random(0, 255), math.random(0, 255), math.random(0, 255))
    return wrk.format(r[1], r[2], r[3], r[4])
  end
  return formatted[i]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("%s{\"requests\":%%d,\"duration_us\":%%d,\"connect\":%%d,\"read\":%%d,\"write\":%%d,\"status\":%%d,\"timeout\":%%d,\"p50_us\":%%d,\"p90_us\":%%d,\"p99_us\":%%d,\"max_us\":%%d}\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`

// wrkMarker starts the line done() prints.
const wrkMarker = "gatehouse-wrk "

// luaString quotes s as a Lua long string (tokens, paths and form bodies
// never contain its closing bracket).
func luaString(s string) (string, error) {
	if strings.Contains(s, "]==]") || strings.HasPrefix(s, "\n") {
		return "", fmt.Errorf("cannot quote %.40q for Lua", s)
	}
	return "[==[" + s + "]==]", nil
}

// script renders the plan's Lua script and the base URL wrk is given (every
// request of a plan goes to the same host).
func (p *wrkPlan) script() (base, lua string, err error) {
	var rows strings.Builder
	for _, r := range p.reqs {
		u, err := url.Parse(r.url)
		if err != nil {
			return "", "", err
		}
		if base == "" {
			base = u.Scheme + "://" + u.Host
		} else if base != u.Scheme+"://"+u.Host {
			return "", "", fmt.Errorf("wrk plan spans hosts %s and %s", base, u.Host)
		}
		path, err := luaString(u.RequestURI())
		if err != nil {
			return "", "", err
		}
		keys := make([]string, 0, len(r.headers))
		for k := range r.headers {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var hs []string
		for _, k := range keys {
			v, err := luaString(r.headers[k])
			if err != nil {
				return "", "", err
			}
			hs = append(hs, fmt.Sprintf("[%q]=%s", k, v))
		}
		body := "nil"
		if r.body != "" {
			if body, err = luaString(r.body); err != nil {
				return "", "", err
			}
		}
		fmt.Fprintf(&rows, "  {%q, %s, {%s}, %s},\n", r.method, path, strings.Join(hs, ", "), body)
	}
	if base == "" {
		return "", "", errors.New("empty wrk plan")
	}
	return base, fmt.Sprintf(wrkScript, p.spreadIPs, rows.String(), wrkMarker), nil
}

// wrkFigures is what done() prints: latencies in microseconds.
type wrkFigures struct {
	Requests   int64 `json:"requests"`
	DurationUS int64 `json:"duration_us"`
	Connect    int64 `json:"connect"`
	Read       int64 `json:"read"`
	Write      int64 `json:"write"`
	Status     int64 `json:"status"`
	Timeout    int64 `json:"timeout"`
	P50US      int64 `json:"p50_us"`
	P90US      int64 `json:"p90_us"`
	P99US      int64 `json:"p99_us"`
	MaxUS      int64 `json:"max_us"`
}

func (f *wrkFigures) socketErrors() int64 { return f.Connect + f.Read + f.Write + f.Timeout }

// parseWrk finds done()'s line in wrk's output.
func parseWrk(out []byte) (*wrkFigures, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), wrkMarker); ok {
			var f wrkFigures
			if err := json.Unmarshal([]byte(line), &f); err != nil {
				return nil, fmt.Errorf("wrk figures: %w", err)
			}
			return &f, nil
		}
	}
	return nil, fmt.Errorf("no figures in wrk's output: %.300s", out)
}

// wrkSeconds is d as wrk's -d (whole seconds, at least one).
func wrkSeconds(d time.Duration) string {
	return fmt.Sprintf("%ds", max(1, int(math.Round(d.Seconds()))))
}

// runWrk runs one wrk of the plan for d (warm-up first when given).
func (b *bench) runWrk(ctx context.Context, name string, p *wrkPlan, warmup, d time.Duration) (*wrkFigures, error) {
	base, lua, err := p.script()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "gatehouse-bench-wrk")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "scenario.lua")
	if err := os.WriteFile(script, []byte(lua), 0o600); err != nil { // tokens inside
		return nil, err
	}
	one := func(d time.Duration) (*wrkFigures, error) {
		cmd := exec.CommandContext(ctx, b.cfg.WrkPath, "-t", fmt.Sprint(b.cfg.WrkThreads), "-c", fmt.Sprint(b.cfg.Concurrency),
			"-d", wrkSeconds(d), "--latency", "--timeout", "10s", "-s", script, base)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("%s: %w: %.300s", name, err, out)
		}
		return parseWrk(out)
	}
	if warmup > 0 {
		if _, err := one(warmup); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(b.progress, "\r\x1b[K%-26s wrk -t%d -c%d -d%s …", name, b.cfg.WrkThreads, b.cfg.Concurrency, wrkSeconds(d))
	return one(d)
}

// summarizeWrk merges the rounds of one scenario: requests, errors and time
// add up; p50/p90/p99 are the rounds' figures weighted by their requests
// (wrk gives no histogram to merge), max the largest.
func summarizeWrk(name string, conc int, runs []*wrkFigures) *result {
	r := &result{Scenario: name, Concurrency: conc, Load: "wrk"}
	var p50, p90, p99 float64
	var non2xx, socket int64
	for _, f := range runs {
		r.Requests += f.Requests
		r.Seconds += float64(f.DurationUS) / 1e6
		non2xx += f.Status
		socket += f.socketErrors()
		w := float64(f.Requests)
		p50, p90, p99 = p50+w*float64(f.P50US), p90+w*float64(f.P90US), p99+w*float64(f.P99US)
		r.Max = max(r.Max, float64(f.MaxUS)/1000)
	}
	r.Errors = non2xx + socket
	if r.Requests > 0 {
		n := float64(r.Requests) * 1000
		r.P50, r.P90, r.P99 = round(p50/n), round(p90/n), round(p99/n)
	}
	if r.Seconds > 0 {
		r.RPS = float64(r.Requests) / r.Seconds
	}
	if r.Errors > 0 {
		r.ErrorSamples = []string{fmt.Sprintf("wrk: %d non-2xx/3xx responses, %d socket errors", non2xx, socket)}
	}
	return r
}
