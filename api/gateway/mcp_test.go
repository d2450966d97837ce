package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehouse/gatehouse/api/demo"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/tokens"
)

// guard bounds waits that only a bug makes long (a deadlock guard, not a
// timing assertion).
const guard = 20 * time.Second

func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(guard):
		t.Fatalf("gave up waiting for %s", what)
	}
	var zero T
	return zero
}

// sdkUpstream serves an official-SDK MCP server (the demo tools plus setup's)
// behind a recorder.
func sdkUpstream(t *testing.T, opts *mcp.StreamableHTTPOptions, setup func(*mcp.Server)) (*httptest.Server, *upstreamRec, *mcp.Server) {
	t.Helper()
	s := demo.NewServer()
	if setup != nil {
		setup(s)
	}
	rec := &upstreamRec{next: mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, opts)}
	us := httptest.NewServer(rec)
	t.Cleanup(us.Close)
	return us, rec, s
}

func connect(t *testing.T, url string, hc *http.Client, copts *mcp.ClientOptions, sopts *mcp.ClientSessionOptions) *mcp.ClientSession {
	t.Helper()
	return connectT(t, &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: hc, MaxRetries: -1}, copts, sopts)
}

func connectT(t *testing.T, tr *mcp.StreamableClientTransport, copts *mcp.ClientOptions, sopts *mcp.ClientSessionOptions) *mcp.ClientSession {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "gateway-test", Version: "1"}, copts)
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	cs, err := c.Connect(ctx, tr, sopts)
	if err != nil {
		t.Fatalf("connect through the gateway: %v", err)
	}
	return cs
}

func textOf(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	if res.IsError {
		t.Fatalf("tool error: %+v", res.Content)
	}
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// docs/RULES.md §6: tools/list and tools/call through the gateway with the official
// Go SDK client, for an upstream answering POSTs with SSE and one answering
// with JSON. The upstream never sees the client's token, gets the identity
// headers, and can verify the assertion with the tenant's JWKS.
func TestSDKClientThroughGateway(t *testing.T) {
	for _, mode := range []string{"sse", "json"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, nil)
			us, rec, _ := sdkUpstream(t, &mcp.StreamableHTTPOptions{JSONResponse: mode == "json"}, nil)
			tn := e.tenant("acme", us.URL+"/mcp", nil)
			tok, g := e.token(tn, &tokOpts{scope: "mcp"})

			var mu sync.Mutex
			ctypes := map[string]bool{}
			rt := &bearerRT{tok: tok, base: http.DefaultTransport, onResponse: func(r *http.Request, resp *http.Response) {
				if r.Method == http.MethodPost && resp.StatusCode == 200 {
					mu.Lock()
					ctypes[strings.Split(resp.Header.Get("Content-Type"), ";")[0]] = true
					mu.Unlock()
				}
			}}
			// A client trying to pass its own identity headers and cookies.
			hc := &http.Client{Transport: headerRT{base: rt, h: map[string]string{"X-Gatehouse-Subject": "admin", "x-gatehouse-tenant": "evil", "Cookie": "gh_session=secret"}}}
			cs := connect(t, e.mcpURL(tn), hc, nil, &mcp.ClientSessionOptions{})
			defer cs.Close()

			tools, err := cs.ListTools(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			names := map[string]bool{}
			for _, tl := range tools.Tools {
				names[tl.Name] = true
			}
			if !names["echo"] || !names["add"] || !names["countdown"] {
				t.Fatalf("tools/list through gateway: %v", names)
			}
			res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "hello through gatehouse"}})
			if err != nil {
				t.Fatal(err)
			}
			if got := textOf(t, res); got != "hello through gatehouse" {
				t.Fatalf("echo = %q", got)
			}
			res, err = cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "whoami"})
			if err != nil {
				t.Fatal(err)
			}
			who := textOf(t, res)
			for _, want := range []string{"X-Gatehouse-Tenant: acme", "X-Gatehouse-Subject: " + g.Subject, "X-Gatehouse-Email: alice@example.com", "X-Gatehouse-Client-Id: client-acme", "X-Gatehouse-Scopes: mcp"} {
				if !strings.Contains(who, want) {
					t.Fatalf("upstream identity lacks %q:\n%s", want, who)
				}
			}
			mu.Lock()
			wantCT := map[string]string{"sse": "text/event-stream", "json": "application/json"}[mode]
			if !ctypes[wantCT] {
				t.Fatalf("POST responses %v, want %s among them", ctypes, wantCT)
			}
			mu.Unlock()

			jwks, err := e.keys.JWKS(context.Background(), tn.ID)
			if err != nil {
				t.Fatal(err)
			}
			reqs := rec.all()
			if len(reqs) < 3 {
				t.Fatalf("upstream saw %d requests", len(reqs))
			}
			for _, r := range reqs {
				if r.Header.Get("Authorization") != "" || strings.Contains(fmt.Sprint(r.Header), tok) {
					t.Fatal("the client's token reached the upstream")
				}
				if r.Header.Get("Cookie") != "" {
					t.Fatal("the client's cookies reached the upstream")
				}
				if got := r.Header.Values("X-Gatehouse-Subject"); len(got) != 1 || got[0] != g.Subject {
					t.Fatalf("X-Gatehouse-Subject = %v, want only %s", got, g.Subject)
				}
				if got := r.Header.Values("X-Gatehouse-Tenant"); len(got) != 1 || got[0] != "acme" {
					t.Fatalf("X-Gatehouse-Tenant = %v", got)
				}
				a, err := verifyAssertion(jwks, r.Header.Get("X-Gatehouse-Assertion"), us.URL+"/mcp", time.Now())
				if err != nil {
					t.Fatalf("assertion does not verify: %v", err)
				}
				if a.Issuer != e.pathSite(tn).Issuer || a.Subject != g.Subject || a.ClientID != "client-acme" || a.Scope != "mcp" || a.ExpiresAt-a.IssuedAt != 60 || a.JTI == "" || a.Email != "alice@example.com" {
					t.Fatalf("assertion claims: %+v", a)
				}
			}
			// An assertion is bound to its audience: another upstream URL refuses it.
			if _, err := verifyAssertion(jwks, reqs[0].Header.Get("X-Gatehouse-Assertion"), "https://other.example/mcp", time.Now()); err == nil {
				t.Fatal("assertion accepted for another audience")
			}
			if _, err := verifyAssertion(jwks, reqs[0].Header.Get("X-Gatehouse-Assertion"), us.URL+"/mcp", time.Now().Add(2*time.Minute)); err == nil {
				t.Fatal("assertion accepted after it expired")
			}
			if n := len(e.audit.Find(tenants.ActMCPToolCalled)); n != 2 {
				t.Fatalf("mcp.tool_called events = %d, want 2 (default audit level tools)", n)
			}
			if ev := e.audit.Last(tenants.ActMCPToolCalled); ev.Details["tool"] != "whoami" || ev.ClientID != "client-acme" || ev.Subject != g.Subject {
				t.Fatalf("tool_called event: %+v", ev)
			}
		})
	}
}

type headerRT struct {
	base http.RoundTripper
	h    map[string]string
}

func (h headerRT) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h.h {
		r.Header[k] = []string{v}
	}
	return h.base.RoundTrip(r)
}

// verifyAssertion is the check of docs/UPSTREAM.md: ES256 signature by a key
// of the tenant's JWKS, typ, aud = the upstream's own URL, exp.
func verifyAssertion(jwks jose.JSONWebKeySet, raw, audience string, now time.Time) (*assertion, error) {
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return nil, err
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("want one signature")
	}
	h := jws.Signatures[0].Header
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != tokens.TypAssertion {
		return nil, fmt.Errorf("typ %q", typ)
	}
	keys := jwks.Key(h.KeyID)
	if len(keys) == 0 {
		return nil, errors.New("unknown kid")
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		return nil, err
	}
	var a assertion
	if err := json.Unmarshal(payload, &a); err != nil {
		return nil, err
	}
	if a.Audience != audience {
		return nil, fmt.Errorf("aud %q", a.Audience)
	}
	if now.Unix() >= a.ExpiresAt {
		return nil, errors.New("expired")
	}
	return &a, nil
}

type assertion struct {
	Issuer    string `json:"iss"`
	Principal string `json:"principal"`
	Subject   string `json:"sub"`
	Audience  string `json:"aud"`
	ClientID  string `json:"client_id"`
	Scope     string `json:"scope"`
	Email     string `json:"email"`
	Tenant    string `json:"tenant"`
	JTI       string `json:"jti"`
	IssuedAt  int64  `json:"iat"`
	ExpiresAt int64  `json:"exp"`
}

// docs/RULES.md §6 "streamed event by event with no buffering": the client
// receives progress 1 while the upstream tool is blocked before progress 2;
// the tool only continues after the client has seen it.
func TestSSEEventsArriveBeforeToolFinishes(t *testing.T) {
	e := newEnv(t, nil)
	proceed1, proceed2 := make(chan struct{}), make(chan struct{})
	toolDone := make(chan struct{})
	var once1, once2 sync.Once
	open1 := func() { once1.Do(func() { close(proceed1) }) }
	open2 := func() { once2.Do(func() { close(proceed2) }) }
	us, _, _ := sdkUpstream(t, nil, func(s *mcp.Server) {
		mcp.AddTool(s, &mcp.Tool{Name: "stepper"}, func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
			defer close(toolDone)
			tok := req.Params.GetProgressToken()
			for i, gate := range []chan struct{}{proceed1, proceed2} {
				if err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: float64(i + 1), Total: 3}); err != nil {
					return nil, nil, err
				}
				select {
				case <-gate:
				case <-ctx.Done():
					return nil, nil, ctx.Err()
				}
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "finished"}}}, nil, nil
		})
	})
	tn := e.tenant("acme", us.URL+"/mcp", nil)
	tok, _ := e.token(tn, nil)
	t.Cleanup(func() { open1(); open2() }) // on failure, let the servers shut down
	progress := make(chan float64, 10)
	// No standalone GET: only the POST's own SSE stream can carry the progress.
	cs := connectT(t, &mcp.StreamableClientTransport{Endpoint: e.mcpURL(tn), HTTPClient: bearerClient(tok), MaxRetries: -1, DisableStandaloneSSE: true},
		&mcp.ClientOptions{
			ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) { progress <- r.Params.Progress },
		}, nil)
	defer cs.Close()
	defer func() { open1(); open2() }() // runs before cs.Close on failure

	result := make(chan *mcp.CallToolResult, 1)
	callErr := make(chan error, 1)
	go func() {
		p := &mcp.CallToolParams{Name: "stepper", Arguments: map[string]any{}}
		p.SetProgressToken("step")
		res, err := cs.CallTool(context.Background(), p)
		if err != nil {
			callErr <- err
			return
		}
		result <- res
	}()
	if got := wait(t, progress, "progress 1 while the tool is blocked (the gateway buffers SSE?)"); got != 1 {
		t.Fatalf("first progress = %v", got)
	}
	select {
	case <-toolDone:
		t.Fatal("tool finished before it was allowed to")
	case <-result:
		t.Fatal("result arrived before the tool was allowed to finish")
	default:
	}
	open1()
	if got := wait(t, progress, "progress 2"); got != 2 {
		t.Fatalf("second progress = %v", got)
	}
	select {
	case <-result:
		t.Fatal("result arrived before the tool was allowed to finish")
	default:
	}
	open2()
	select {
	case res := <-result:
		if textOf(t, res) != "finished" {
			t.Fatal("wrong result")
		}
	case err := <-callErr:
		t.Fatal(err)
	case <-time.After(guard):
		t.Fatal("no result")
	}
}

// docs/RULES.md §6: the GET stream carries server-initiated messages, and DELETE
// ends the session upstream; Mcp-Session-Id and MCP-Protocol-Version pass
// both ways.
func TestGETStreamAndDELETESession(t *testing.T) {
	e := newEnv(t, nil)
	us, rec, srv := sdkUpstream(t, nil, nil)
	tn := e.tenant("acme", us.URL+"/mcp", nil)
	tok, _ := e.token(tn, nil)
	getOpen := make(chan struct{}, 1)
	rt := &bearerRT{tok: tok, base: http.DefaultTransport, onResponse: func(r *http.Request, resp *http.Response) {
		if r.Method == http.MethodGet && resp.StatusCode == 200 && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			select {
			case getOpen <- struct{}{}:
			default:
			}
		}
	}}
	changed := make(chan struct{}, 1)
	cs := connect(t, e.mcpURL(tn)+"/", &http.Client{Transport: rt}, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
			select {
			case changed <- struct{}{}:
			default:
			}
		},
	}, nil)
	sid := cs.ID()
	if sid == "" {
		t.Fatal("no Mcp-Session-Id came back through the gateway")
	}
	wait(t, getOpen, "the GET stream to open")
	// The upstream now pushes a notification that only the GET stream carries.
	mcp.AddTool(srv, &mcp.Tool{Name: "late"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{}, nil, nil
	})
	wait(t, changed, "tools/list_changed over the GET stream")
	if err := cs.Close(); err != nil {
		t.Fatal(err)
	}
	var sawGet, sawDelete bool
	for _, r := range rec.all() {
		switch r.Method {
		case http.MethodGet:
			sawGet = r.Header.Get("Mcp-Session-Id") == sid && r.Header.Get("Mcp-Protocol-Version") != ""
		case http.MethodDelete:
			sawDelete = r.Header.Get("Mcp-Session-Id") == sid
		}
	}
	if !sawGet || !sawDelete {
		t.Fatalf("upstream GET with session: %v, DELETE with session: %v", sawGet, sawDelete)
	}
}

// MCP 2026-07-28: no sessions, Mcp-Method/Mcp-Name headers on every request
// (the SDK server rejects a request whose headers do not match its body);
// the per-tool policy reads the headers too.
func TestProtocol20260728Headers(t *testing.T) {
	e := newEnv(t, nil)
	us, rec, _ := sdkUpstream(t, &mcp.StreamableHTTPOptions{Stateless: true}, nil)
	tn := e.tenant("acme", us.URL+"/mcp", &tenants.Settings{ToolScopes: map[string]string{"add": "math"}})
	tok, _ := e.token(tn, nil)
	cs := connect(t, e.mcpURL(tn), bearerClient(tok), nil, &mcp.ClientSessionOptions{ProtocolVersion: "2026-07-28"})
	defer cs.Close()
	if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" {
		t.Fatalf("negotiated %s", v)
	}
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "new protocol"}})
	if err != nil {
		t.Fatal(err)
	}
	if textOf(t, res) != "new protocol" {
		t.Fatal("wrong echo")
	}
	var saw bool
	for _, r := range rec.all() {
		if r.Header.Get("Mcp-Method") == "tools/call" && r.Header.Get("Mcp-Name") == "echo" && r.Header.Get("Mcp-Protocol-Version") == "2026-07-28" {
			saw = true
		}
	}
	if !saw {
		t.Fatal("upstream did not receive Mcp-Method/Mcp-Name/MCP-Protocol-Version")
	}
	before := len(rec.all())
	if _, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "add", Arguments: map[string]any{"a": 1, "b": 2}}); err == nil {
		t.Fatal("add without scope math succeeded")
	}
	if len(rec.all()) != before {
		t.Fatal("the refused call reached the upstream")
	}
	if e.counter("acme", "denied", tenants.ReasonScope) != 1 {
		t.Fatal("scope denial not counted")
	}
}

// docs/RULES.md §6: a client that disconnects mid-stream cancels the upstream
// request, so the upstream handler stops.
func TestClientDisconnectCancelsUpstream(t *testing.T) {
	e := newEnv(t, nil)
	started, cancelled, release := make(chan struct{}), make(chan struct{}), make(chan struct{})
	us := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		fmt.Fprint(w, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progress\":1}}\n\n")
		w.(http.Flusher).Flush()
		close(started)
		select {
		case <-r.Context().Done():
			close(cancelled)
		case <-release:
		}
	}))
	defer us.Close()
	defer close(release)
	tn := e.tenant("acme", us.URL+"/mcp", nil)
	tok, _ := e.token(tn, nil)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.mcpURL(tn), strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"long"}}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "event: message\n" {
		t.Fatalf("first SSE line %q %v", line, err)
	}
	wait(t, started, "upstream start")
	select {
	case <-cancelled:
		t.Fatal("upstream cancelled before the client left")
	default:
	}
	cancel()
	resp.Body.Close()
	wait(t, cancelled, "the upstream request to be cancelled after the client disconnected")
}

// The same with the official SDK on 2026-07-28, where the POST is the
// request's whole life: the tool handler's context ends.
func TestClientDisconnectCancelsSDKToolHandler(t *testing.T) {
	e := newEnv(t, nil)
	running, stopped, release := make(chan struct{}), make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(release) })
	us, _, _ := sdkUpstream(t, &mcp.StreamableHTTPOptions{Stateless: true, PropagateRequestCancellation: true}, func(s *mcp.Server) {
		mcp.AddTool(s, &mcp.Tool{Name: "forever"}, func(ctx context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
			close(running)
			select {
			case <-ctx.Done():
				close(stopped)
			case <-release:
			}
			return nil, nil, ctx.Err()
		})
	})
	tn := e.tenant("acme", us.URL+"/mcp", nil)
	tok, _ := e.token(tn, nil)
	cs := connect(t, e.mcpURL(tn), bearerClient(tok), nil, &mcp.ClientSessionOptions{ProtocolVersion: "2026-07-28"})
	defer cs.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "forever", Arguments: map[string]any{}})
		done <- err
	}()
	wait(t, running, "the tool to start")
	cancel()
	wait(t, stopped, "the upstream tool handler to be cancelled")
	<-done
}

// Mcp-Session-Id, MCP-Protocol-Version, Mcp-Method, Mcp-Name and
// Last-Event-ID pass both ways; hop-by-hop and upstream-internal headers do not.
func TestTransportHeadersBothWays(t *testing.T) {
	e := newEnv(t, nil)
	up := &upstreamRec{next: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, k := range []string{"Mcp-Session-Id", "Mcp-Protocol-Version", "Mcp-Method", "Mcp-Name", "Last-Event-Id"} {
			if v := r.Header.Get(k); v != "" {
				w.Header().Set(k, v)
			}
		}
		w.Header().Set("Set-Cookie", "upstream=1; Path=/")
		w.Header().Set("Access-Control-Allow-Origin", "https://upstream.internal")
		w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="http://10.0.0.5/prm"`)
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "id: s1_5\ndata: {}\n\n")
	})}
	tn := e.tenant("acme", serveMCP(t, up), nil)
	tok, _ := e.token(tn, nil)
	hdr := map[string]string{"Authorization": "Bearer " + tok, "Mcp-Session-Id": "sess-1", "MCP-Protocol-Version": "2025-11-25",
		"Mcp-Method": "tools/call", "Mcp-Name": "echo", "Last-Event-ID": "s1_4"}
	resp := e.do(http.MethodGet, e.mcpURL(tn), "", hdr)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, k := range []string{"Mcp-Session-Id", "Mcp-Protocol-Version", "Mcp-Method", "Mcp-Name", "Last-Event-Id"} {
		in := up.all()[0].Header.Get(k)
		if in == "" || resp.Header.Get(k) != in {
			t.Fatalf("%s: upstream got %q, client got back %q", k, in, resp.Header.Get(k))
		}
	}
	if resp.Header.Get("Set-Cookie") != "" || resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("WWW-Authenticate") != "" {
		t.Fatalf("upstream headers leaked: %v", resp.Header)
	}
	if body := readAll(t, resp.Body); body != "id: s1_5\ndata: {}\n\n" {
		t.Fatalf("SSE body altered: %q", body)
	}
}
