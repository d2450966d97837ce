package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// accessTTL is the test tenants' access_token_ttl: the smallest the
// settings allow, so the SDKs meet an expired token within the test.
const accessTTL = 60

// sdkResult is what ts/aisdk.mjs and ts/agents.mjs print last.
type sdkResult struct {
	OK             bool     `json:"ok"`
	Error          string   `json:"error"`
	ClientID       string   `json:"clientId"`
	Tools          []string `json:"tools"`
	Echo           string   `json:"echo"`
	Authorizations int      `json:"authorizations"`
	Refresh        struct {
		Status       int      `json:"refreshStatus"`
		AfterSeconds int      `json:"refreshAfterSeconds"`
		After401     bool     `json:"refreshAfter401"`
		FailedCalls  []string `json:"failedCalls"`
		Text         string   `json:"textAfterRefresh"`
	} `json:"refresh"`
	Trace []tsTrace `json:"trace"`
}

// runSDKDriver runs one SDK driver against a connector URL: it completes
// each AUTHORIZE line like a person, and returns the driver's result, the
// forms the person went through and the hosts the guard blocked.
func runSDKDriver(ctx context.Context, script, resource string) (r sdkResult, pages, blocked, authURLs []string, err error) {
	arg := fmt.Sprintf(`{"url":%q}`, resource)
	p, err := startNode(ctx, nil, nil, script, arg)
	if err != nil {
		return r, nil, nil, nil, err
	}
	defer p.stop()
	var last string
	for line := range p.lines {
		if u, ok := strings.CutPrefix(line, "AUTHORIZE "); ok {
			authURLs = append(authURLs, u)
			cb, pg, aerr := person(u, func(next *url.URL) bool { return next.Hostname() == "127.0.0.1" && next.Path == "/callback" })
			pages = append(pages, pg...)
			if aerr == nil {
				aerr = visit(cb)
			}
			if aerr != nil {
				return r, pages, p.blocked(), authURLs, fmt.Errorf("completing the authorization: %w\nstderr: %s", aerr, tail(p.stderrText(), 2000))
			}
			continue
		}
		last = line
	}
	<-p.done
	if jerr := jsonLine(last, &r); jerr != nil {
		return r, pages, p.blocked(), authURLs, fmt.Errorf("%w (exit %v)\nstderr: %s", jerr, p.err, tail(p.stderrText(), 2000))
	}
	if !r.OK {
		return r, pages, p.blocked(), authURLs, fmt.Errorf("driver failed: %s\nstderr: %s", r.Error, tail(p.stderrText(), 2000))
	}
	return r, pages, p.blocked(), authURLs, nil
}

type sdkJob struct {
	client, pkg, script string
	s                   *server
	backend, mode       string
	tn                  tenant
	start               time.Time
	done                chan sdkJobResult
}

type sdkJobResult struct {
	r                        sdkResult
	pages, blocked, authURLs []string
	err                      error
}

// The Vercel AI SDK (@ai-sdk/mcp) and the OpenAI Agents SDK (@openai/agents,
// MCPServerStreamableHttp) with their OAuth provider hooks: discovery, DCR,
// PKCE, list and call tools through the gateway, then keep calling until
// the 60 s access token has expired and the SDK has refreshed it. Both URL
// modes embedded, one Postgres + Redis run each. The runs all wait for the
// same expiry, so they run at once (not as parallel subtests: -parallel is
// the core count and would queue them). This file sorts first among the
// client tests so that the wait overlaps the rest of the suite.
func TestSDKClientsOAuthAndRefresh(t *testing.T) {
	t.Parallel()
	needNodePackage(t, "@ai-sdk/mcp")
	needNodePackage(t, "@openai/agents")
	emb := sharedServer(t)
	pg := productionServers(t, 1)[0]
	settings := map[string]any{"access_token_ttl": accessTTL}
	var jobs []*sdkJob
	for _, c := range []struct{ client, pkg, script, pgMode string }{
		{"Vercel AI SDK", "@ai-sdk/mcp", "ts/aisdk.mjs", "host"},
		{"OpenAI Agents SDK", "@openai/agents", "ts/agents.mjs", "path"},
	} {
		for _, b := range []struct {
			s             *server
			backend, mode string
		}{{emb, backendEmbedded, "path"}, {emb, backendEmbedded, "host"}, {pg, backendPostgres, c.pgMode}} {
			tn := devLoginTenant(t, b.s, "sdk", settings)
			jobs = append(jobs, &sdkJob{client: c.client, pkg: c.pkg, script: c.script, s: b.s, backend: b.backend, mode: b.mode, tn: tn,
				start: time.Now(), done: make(chan sdkJobResult, 1)})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	for _, j := range jobs {
		go func(j *sdkJob) {
			r, pages, blocked, authURLs, err := runSDKDriver(ctx, j.script, j.tn.urls(j.mode).Resource)
			j.done <- sdkJobResult{r, pages, blocked, authURLs, err}
		}(j)
	}
	for _, j := range jobs {
		t.Run(j.client+"/"+j.backend+"/"+j.mode, func(t *testing.T) {
			row := compatRow{Client: j.client, Package: j.pkg, Version: npmVersion(t, j.pkg), Mode: j.mode, Backend: j.backend}
			recordCompat(t, &row, j.start)
			res := <-j.done
			site := j.tn.urls(j.mode)
			if res.err != nil {
				t.Fatalf("%v\nwire:\n%s", res.err, wireFor(site.Resource))
			}
			checkSDKRun(t, j, res, site.Resource)
			row.Notes = fmt.Sprintf("refreshed %d s after issuance (%s)", res.r.Refresh.AfterSeconds,
				map[bool]string{true: "after a 401", false: "before expiry"}[res.r.Refresh.After401])
		})
	}
}

func checkSDKRun(t *testing.T, j *sdkJob, res sdkJobResult, resource string) {
	t.Helper()
	r := res.r
	if strings.Join(r.Tools, ",") != "add,countdown,echo,whoami" {
		t.Errorf("tools %v", r.Tools)
	}
	if !strings.Contains(r.Echo, "hello from the") {
		t.Errorf("tool call answered %q", r.Echo)
	}
	if r.Authorizations != 1 {
		t.Errorf("%d authorizations, want 1 (the refresh must not send the user back to log in)", r.Authorizations)
	}
	if len(res.pages) == 0 || res.pages[0] != "login" {
		t.Errorf("the person went through %v, want the dev login form first", res.pages)
	}
	if r.Refresh.Status != http.StatusOK || r.Refresh.Text != "after expiry" || len(r.Refresh.FailedCalls) > 0 {
		t.Errorf("refresh %+v", r.Refresh)
	}
	// The refresh happened because the token expired, not earlier: the
	// gateway refuses it from exp + 30 s skew on.
	if r.Refresh.AfterSeconds < accessTTL-5 {
		t.Errorf("refreshed %d s after issuance, before the %d s token expired", r.Refresh.AfterSeconds, accessTTL)
	}
	// The authorization request: PKCE S256 and the connector URL as the
	// RFC 8707 resource, byte for byte.
	for _, a := range res.authURLs {
		q, _ := url.Parse(a)
		if q.Query().Get("code_challenge_method") != "S256" || q.Query().Get("resource") != resource {
			t.Errorf("authorization request without S256 or with resource %q: %s", q.Query().Get("resource"), a)
		}
	}
	if len(res.blocked) > 0 {
		t.Errorf("the client tried to reach %v (only loopback is allowed)", res.blocked)
	}
	u, _ := url.Parse(resource)
	for _, x := range r.Trace {
		if x.Host != u.Host {
			t.Errorf("request left the tenant's origin: %+v", x)
		}
	}
	// The server's side of the story: one code exchange, at least one
	// refresh, and tool calls recorded for this client.
	counts := auditCounts(t, j.s, j.tn.slug, r.ClientID, func(c map[string]int) bool {
		return c["code.issued"] == 1 && c["token.refreshed"] >= 1 && c["mcp.tool_called"] >= 2
	})
	if j.client == "Vercel AI SDK" {
		// Named by the User-Agent of its MCP requests; its OAuth requests
		// carry Node's own.
		wantDoctorNames(t, j.s, j.tn.slug, r.ClientID, "Vercel AI SDK", "Vercel AI SDK", "Node.js HTTP client")
	} else {
		// Nothing the Agents SDK sends names it (COMPATIBILITY.md).
		wantDoctorNames(t, j.s, j.tn.slug, r.ClientID, "", "Node.js HTTP client")
	}
	t.Logf("%s %s/%s: refresh %d s after issuance (after 401: %v); audit %v", j.client, j.backend, j.mode,
		r.Refresh.AfterSeconds, r.Refresh.After401, counts)
}

// auditCounts counts a client's successful audit events by action, polling
// (events are written in batches) until ok holds or 15 s have passed.
func auditCounts(t *testing.T, s *server, slug, clientID string, ok func(map[string]int) bool) map[string]int {
	t.Helper()
	var counts map[string]int
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		st, m := s.api(t, http.MethodGet, "/api/v1/tenants/"+slug+"/audit?client_id="+url.QueryEscape(clientID)+"&limit=200", nil)
		if st != http.StatusOK {
			t.Fatalf("audit: %d %v", st, m)
		}
		counts = map[string]int{}
		items, _ := m["items"].([]any)
		for _, it := range items {
			if ev, _ := it.(map[string]any); ev["outcome"] == "success" {
				a, _ := ev["action"].(string)
				counts[a]++
			}
		}
		if ok(counts) {
			return counts
		}
		if time.Now().After(deadline) {
			t.Errorf("audit for client %s: %v", clientID, counts)
			return counts
		}
	}
}
