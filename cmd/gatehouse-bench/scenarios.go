package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// toolsList is the JSON-RPC request of the gateway scenarios.
var toolsList = []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}`)

// runScenarios runs the request scenarios for --rounds rounds, each
// scenario a slice of --duration per round, so that on a shared machine a
// change in background load hits every scenario alike (the ratios between
// them are what the run is for). Results are in the order of names.
func (b *bench) runScenarios(ctx context.Context, names []string) []*result {
	type acc struct {
		rec     *recorder
		iters   []iteration
		elapsed time.Duration
		err     error
		plan    *wrkPlan // --load wrk
		wrk     []*wrkFigures
	}
	accs := map[string]*acc{}
	slice := b.cfg.Duration / time.Duration(b.cfg.Rounds)
	for round := 0; round < b.cfg.Rounds; round++ {
		for _, name := range names {
			a := accs[name]
			if a == nil {
				a = &acc{rec: &recorder{name: name, progress: b.progress}}
				a.iters, a.err = b.iterations(name)
				if a.err == nil && b.cfg.Load == "wrk" {
					if a.plan = b.wrkPlan(name); a.plan != nil {
						// wrk checks only the status: one request first
						// checks the answer itself (active, tools listed).
						if err := a.iters[0](ctx); err != nil {
							a.err = fmt.Errorf("before wrk: %w", err)
						}
					}
				}
				accs[name] = a
			}
			if a.err != nil || ctx.Err() != nil {
				continue
			}
			warmup := time.Duration(0)
			if round == 0 {
				warmup = b.cfg.Warmup
			}
			if strings.HasSuffix(name, "-spread") {
				// A round runs every scenario, so rounds come more than a
				// minute apart — longer than an idle tenant stays cached:
				// touch every spread tenant once, untimed, so the measured
				// slice sees 10,000 warm tenants, not first touches.
				b.warmSpread(ctx, name, a.iters)
			}
			if a.plan != nil {
				f, err := b.runWrk(ctx, name, a.plan, warmup, slice)
				if err != nil {
					a.err = err
					continue
				}
				a.wrk = append(a.wrk, f)
				continue
			}
			a.elapsed += measure(ctx, a.rec, warmup, slice, a.iters)
		}
	}
	var out []*result
	for _, name := range names {
		a := accs[name]
		if a == nil {
			continue
		}
		if a.err != nil {
			out = append(out, &result{Scenario: name, Concurrency: b.cfg.Concurrency, Errors: 1, ErrorSamples: []string{a.err.Error()}})
			continue
		}
		if a.plan != nil {
			out = append(out, summarizeWrk(name, b.cfg.Concurrency, a.wrk))
			continue
		}
		out = append(out, summarize(name, b.cfg.Concurrency, a.elapsed, a.rec))
	}
	return out
}

// warmSpread runs each worker's iteration once per target of its stride
// (two documents per tenant for metadata), all workers at once, untimed;
// errors are left to the measured run.
func (b *bench) warmSpread(ctx context.Context, name string, iters []iteration) {
	per := (len(b.spread) + b.cfg.Concurrency - 1) / b.cfg.Concurrency
	if name == "metadata-spread" {
		per *= 2
	}
	fmt.Fprintf(b.progress, "\r\x1b[Kwarming %s over %d tenants …", name, len(b.spread))
	var wg sync.WaitGroup
	for _, it := range iters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < per && ctx.Err() == nil; k++ {
				_ = it(ctx)
			}
		}()
	}
	wg.Wait()
}

func (b *bench) iterations(name string) ([]iteration, error) {
	n := b.cfg.Concurrency
	iters := make([]iteration, n)
	for i := range iters {
		var it iteration
		switch name {
		case "metadata":
			it = b.metadata(&b.benchTenant)
		case "token-client-credentials":
			if b.ccErr != nil {
				return nil, b.ccErr
			}
			it = b.clientCredentials
		case "token-refresh":
			it = b.refresh(b.sessions[i])
		case "token-authcode":
			br, user := b.browser(), fmt.Sprintf("bench-user-%d", i)
			it = func(ctx context.Context) error {
				_, _, err := b.flow(ctx, &b.benchTenant, br, user)
				return err
			}
		case "introspect":
			it = b.introspect(b.sessions[i])
		case "gateway":
			it = b.mcpCall(b.mcpURL, b.sessions[i].at)
		case "metadata-spread":
			it = b.metadata(b.spread[i%len(b.spread):]...)
		case "token-refresh-spread":
			it = b.refresh(b.spreadSs[i%len(b.spreadSs):]...)
		case "gateway-spread":
			it = b.mcpSessions(b.spreadSs[i%len(b.spreadSs):]...)
		case "gateway-direct":
			it = b.mcpCall(b.upstream, "")
		case "gateway-bare-proxy":
			it = b.mcpCall(b.bare, "")
		default:
			return nil, fmt.Errorf("unknown scenario %q", name)
		}
		iters[i] = it
	}
	return iters, nil
}

// metadata alternates the two documents every client fetches: AS metadata
// (RFC 8414) and the JWKS, of each tenant of ts in turn (a stride of
// --concurrency, so the workers together cover every tenant).
func (b *bench) metadata(ts ...*benchTenant) iteration {
	var urls []string
	for k := 0; k < len(ts); k += b.cfg.Concurrency {
		t := ts[k]
		urls = append(urls, b.cfg.URL+"/.well-known/oauth-authorization-server"+strings.TrimPrefix(t.issuer, b.cfg.URL), t.issuer+"/jwks.json")
	}
	i := 0
	return func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, urls[i%len(urls)], nil)
		i++
		return b.expect(req, http.StatusOK, "")
	}
}

func (b *bench) clientCredentials(ctx context.Context) error {
	_, err := b.token(ctx, b.issuer, url.Values{"grant_type": {"client_credentials"}, "client_id": {b.ccID}, "client_secret": {b.ccSecret}, "resource": {b.resource}})
	return err
}

// refresh follows the rotation chain of each session of ss in turn (a
// stride of --concurrency); a broken chain is an error, and a new flow
// starts a new one.
func (b *bench) refresh(ss ...*session) iteration {
	mine := stride(ss, b.cfg.Concurrency)
	i := 0
	return func(ctx context.Context) error {
		s := mine[i%len(mine)]
		i++
		tok, err := b.token(ctx, s.t.issuer, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s.rt}, "client_id": {s.t.pubID}})
		if err == nil && tok.RefreshToken == "" {
			err = errors.New("refresh returned no new refresh token")
		}
		if err != nil {
			if at, rt, ferr := b.flow(ctx, s.t, s.br, s.user); ferr == nil {
				s.at, s.rt = at, rt
			}
			return err
		}
		s.rt = tok.RefreshToken
		return nil
	}
}

// mcpSessions is tools/list through the gateway with each session of ss in
// turn (a stride of --concurrency).
func (b *bench) mcpSessions(ss ...*session) iteration {
	var calls []iteration
	for _, s := range stride(ss, b.cfg.Concurrency) {
		calls = append(calls, b.mcpCall(s.t.mcpURL, s.at))
	}
	i := 0
	return func(ctx context.Context) error {
		c := calls[i%len(calls)]
		i++
		return c(ctx)
	}
}

func stride[T any](xs []T, n int) []T {
	var out []T
	for k := 0; k < len(xs); k += n {
		out = append(out, xs[k])
	}
	return out
}

// introspect asks about the worker's live access token with the API key.
func (b *bench) introspect(s *session) iteration {
	body := url.Values{"token": {s.at}}.Encode()
	return func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.issuer+"/oauth/introspect", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+b.apiKey)
		return b.expect(req, http.StatusOK, `"active":true`)
	}
}

// mcpCall is tools/list to target, with a bearer token when given.
func (b *bench) mcpCall(target, token string) iteration {
	return func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(toolsList))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return b.expect(req, http.StatusOK, `"tools"`)
	}
}

// expect sends req and checks the status and that the body contains want.
func (b *bench) expect(req *http.Request, status int, want string) error {
	resp, body, err := b.do(b.hc, req)
	if err != nil {
		return err
	}
	if resp.StatusCode != status || (want != "" && !bytes.Contains(body, []byte(want))) {
		return statusErr(resp, body)
	}
	return nil
}
