package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/access"
)

// MCP transport headers passed both ways (docs/RULES.md §6).
const (
	hdrSessionID       = "Mcp-Session-Id"
	hdrProtocolVersion = "Mcp-Protocol-Version"
	hdrMethod          = "Mcp-Method"
	hdrName            = "Mcp-Name"
)

// reqState travels with a forwarded request from the handler to the proxy
// callbacks.
type reqState struct {
	site     tenants.Site
	target   *url.URL
	body     []byte // POST body (already read and checked); nil otherwise
	id       json.RawMessage
	identity http.Header
	clientIP string
	reqID    string
	cancel   context.CancelCauseFunc
	idle     time.Duration
	// failed is set by the error handler (the upstream call failed).
	failed bool
	method string
	p      *access.Principal
}

type stateKey struct{}

func stateFrom(r *http.Request) *reqState {
	st, _ := r.Context().Value(stateKey{}).(*reqState)
	return st
}

// serveMCP is the connector URL: authenticate, apply tool scopes, forward.
func (g *Gateway) serveMCP(c *gin.Context) {
	site := httpx.Site(c)
	t := site.Tenant
	r := c.Request
	ctx := r.Context()

	if r.Header.Get("Upgrade") != "" {
		// Streamable HTTP never upgrades; a 101 would hand the client a raw
		// tunnel to the upstream past every check below.
		g.metrics.requests.WithLabelValues(t.Slug, "rejected", "upgrade").Inc()
		writeRPCError(c.Writer, http.StatusBadRequest, nil, codeInvalidRequest,
			"protocol upgrades (e.g. WebSocket) are not supported on the MCP endpoint; use Streamable HTTP", nil)
		return
	}

	p, den, err := g.verifier.AuthenticateRequest(ctx, site, access.Request{Authorization: r.Header.Values("Authorization"),
		DPoP: r.Header.Values("DPoP"), Method: r.Method})
	if err != nil {
		g.d.Sites.Outage().Down(err) // logged once per outage, not per request
		g.metrics.requests.WithLabelValues(t.Slug, "error", "auth_unavailable").Inc()
		httpx.WriteUnavailable(c.Writer, c.Request)
		return
	}
	if den != nil {
		g.deny(c, site, den, nil, nil)
		return
	}
	if g.overQuota(c, site, p) {
		return
	}
	done := g.admit(c, site, p)
	if done == nil {
		return
	}
	defer done()

	var body []byte
	var parsed *access.Body
	if r.Method == http.MethodPost {
		if r.ContentLength > g.opts.MaxBodyBytes {
			g.tooLarge(c, site, p)
			return
		}
		body, err = io.ReadAll(http.MaxBytesReader(c.Writer, r.Body, g.opts.MaxBodyBytes))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				g.tooLarge(c, site, p)
				return
			}
			// The client went away mid-body; nothing to answer.
			g.metrics.requests.WithLabelValues(t.Slug, "client_gone", "body_read").Inc()
			c.Abort()
			return
		}
		if parsed, err = access.ParseBody(body); err != nil {
			g.metrics.requests.WithLabelValues(t.Slug, "rejected", "parse_error").Inc()
			writeRPCError(c.Writer, http.StatusBadRequest, nil, codeParseError, "parse error: the request body is not valid JSON", nil)
			return
		}
	}

	tools := access.ToolNames(parsed, r.Header.Get(hdrMethod), r.Header.Get(hdrName))
	if missing := access.MissingToolScopes(t.Settings.ToolScopes, tools, p.Claims); len(missing) > 0 {
		g.deny(c, site, access.ScopeDenial(missing, tools, p.Claims), parsed, tools)
		return
	}

	target, err := url.Parse(t.UpstreamMCPURL)
	if err != nil || target.Host == "" {
		g.upstreamFailed(c, site, p, parsed.SingleID(), "bad_upstream_url", http.StatusBadGateway, "the tenant's upstream MCP URL is invalid")
		return
	}
	fwd, err := g.identity.Build(ctx, site, p, t.UpstreamMCPURL)
	if err != nil {
		g.log.Error("mcp: building upstream identity failed", "tenant", t.Slug, "err", err)
		writeRPCError(c.Writer, http.StatusInternalServerError, parsed.SingleID(), codeInternal, "internal error while forwarding", nil)
		return
	}
	if fwd.UpstreamTokenErr != nil {
		g.log.Warn("mcp: upstream IdP token not forwarded", "tenant", t.Slug, "grant", p.Grant.ID, "err", fwd.UpstreamTokenErr)
	}
	if fwd.StaticHeadersErr != nil {
		g.log.Error("mcp: tenant upstream_headers not forwarded", "tenant", t.Slug, "err", fwd.StaticHeadersErr)
	}

	g.allowed(ctx, site, p, r.Method, parsed, tools)

	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	st := &reqState{site: site, target: target, body: body, id: parsed.SingleID(), identity: fwd.Header,
		clientIP: c.ClientIP(), reqID: c.GetString("request_id"), cancel: cancel, idle: g.opts.IdleTimeout, p: p, method: r.Method}
	out := r.WithContext(context.WithValue(pctx, stateKey{}, st))
	w := &deadlineWriter{ResponseWriter: c.Writer, rc: http.NewResponseController(c.Writer), idle: g.opts.IdleTimeout}
	defer w.clear()
	defer func() {
		// A stream the gateway cut ends in the proxy's abort panic; account
		// for it on the way out.
		switch cause := context.Cause(pctx); {
		case st.failed:
		case errors.Is(cause, errIdle):
			g.metrics.requests.WithLabelValues(t.Slug, "stream_closed", "idle_timeout").Inc()
		case errors.Is(cause, errRevoked):
			g.metrics.requests.WithLabelValues(t.Slug, "stream_closed", tenants.ReasonRevoked).Inc()
			if g.d.Auditor != nil {
				g.d.Auditor.Record(context.WithoutCancel(ctx), tenants.AuditEvent{TenantID: t.ID, Action: tenants.ActMCPDenied,
					ClientID: p.Claims.ClientID, Subject: p.Claims.Subject, Outcome: tenants.OutcomeFailure, Reason: tenants.ReasonRevoked,
					Details: tenants.JSONMap{tenants.DetailHTTPMethod: r.Method, tenants.DetailStreamClosed: true, tenants.DetailGrantID: p.Claims.GrantID}})
			}
		}
	}()
	g.proxy.ServeHTTP(w, out)
}

func (g *Gateway) tooLarge(c *gin.Context, site tenants.Site, p *access.Principal) {
	g.metrics.requests.WithLabelValues(site.Tenant.Slug, "rejected", "body_too_large").Inc()
	c.Header("Connection", "close")
	writeRPCError(c.Writer, http.StatusRequestEntityTooLarge, nil, codeInvalidRequest,
		"request body exceeds the "+humanBytes(g.opts.MaxBodyBytes)+" limit of this MCP endpoint", nil)
}

// rewrite builds the upstream request: the tenant's URL, none of the
// client's credentials or identity-like headers, then the identity.
func (g *Gateway) rewrite(pr *httputil.ProxyRequest) {
	st := stateFrom(pr.In)
	u := *st.target
	pr.Out.URL = &u
	pr.Out.Host = ""
	h := pr.Out.Header
	for k := range h {
		if tenants.DropClientHeader(k) {
			delete(h, k)
		}
	}
	for _, k := range []string{"Accept-Encoding", "X-Real-Ip", "X-Request-Id"} {
		h.Del(k)
	}
	for k, v := range st.identity {
		h[k] = v
	}
	if st.clientIP != "" {
		h.Set("X-Forwarded-For", st.clientIP)
	}
	h.Set("X-Forwarded-Proto", schemeOf(st.site.Origin))
	if st.reqID != "" {
		h.Set("X-Request-Id", st.reqID)
	}
	if st.body != nil {
		b := st.body
		pr.Out.Body = io.NopCloser(bytes.NewReader(b))
		pr.Out.ContentLength = int64(len(b))
		pr.Out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		h.Del("Transfer-Encoding")
	} else {
		// GET (the stream) and DELETE (end of session) carry no JSON-RPC
		// message: a body on them was never parsed, so it could carry a
		// tools/call past tool_scopes. It stays here (docs/SECURITY.md §9).
		pr.Out.Body = http.NoBody
		pr.Out.ContentLength = 0
		pr.Out.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
		pr.Out.TransferEncoding = nil
		for _, k := range []string{"Content-Length", "Transfer-Encoding", "Content-Type", "Content-Encoding"} {
			h.Del(k)
		}
	}
}

func schemeOf(origin string) string {
	if strings.HasPrefix(origin, "https://") {
		return "https"
	}
	return "http"
}

var errUpstreamRedirect = errors.New("upstream answered with a redirect")
var errUpstreamUnauthorized = errors.New("upstream refused the gateway's identity")

// modifyResponse hides what must not reach the client from the upstream
// (cookies for the platform's domain, its own auth challenges, CORS, the
// internal address in a redirect) and arms the idle timer on the body.
func (g *Gateway) modifyResponse(resp *http.Response) error {
	st := stateFrom(resp.Request)
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400 && resp.StatusCode != http.StatusNotModified:
		return errUpstreamRedirect
	case resp.StatusCode == http.StatusUnauthorized:
		// Passing it on would send the client into a re-login loop against
		// this authorization server.
		return errUpstreamUnauthorized
	}
	h := resp.Header
	for k := range h {
		if strings.HasPrefix(k, "Access-Control-") {
			delete(h, k)
		}
	}
	for _, k := range []string{"Set-Cookie", "Www-Authenticate", "Alt-Svc", "Strict-Transport-Security", "Location", "Content-Location", "X-Request-Id"} {
		h.Del(k)
	}
	if st != nil && resp.Body != nil && resp.Body != http.NoBody {
		slug := st.site.Tenant.Slug
		stream := strings.HasPrefix(h.Get("Content-Type"), "text/event-stream")
		var stopWatch func()
		if stream {
			g.metrics.streams.WithLabelValues(slug).Inc()
			stopWatch = g.watch(st)
		}
		ib := &idleBody{ReadCloser: resp.Body, idle: st.idle}
		ib.timer = time.AfterFunc(st.idle, func() { st.cancel(errIdle) })
		ib.onClose = func() {
			if stream {
				stopWatch()
				g.metrics.streams.WithLabelValues(slug).Dec()
			}
		}
		resp.Body = g.ending(resp.Request.Context(), st, stream, ib)
	}
	return nil
}

// upstreamError answers a failed upstream call: 502 when it refused or
// could not be reached, 504 when it was too slow; a JSON-RPC error naming
// the cause, never the upstream's address.
func (g *Gateway) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	st := stateFrom(r)
	if st == nil {
		writeRPCError(w, http.StatusBadGateway, nil, codeUpstreamUnavailable, "upstream MCP server unavailable", nil)
		return
	}
	st.failed = true
	ctx := r.Context()
	cause := context.Cause(ctx)
	if ctx.Err() != nil && !errors.Is(cause, errIdle) {
		// The client went away; there is nobody to answer.
		g.metrics.requests.WithLabelValues(st.site.Tenant.Slug, "client_gone", "disconnect").Inc()
		return
	}
	if errors.Is(cause, errIdle) {
		err = errIdle
	}
	code, status, msg := classify(err, g.opts)
	g.log.Warn("mcp: upstream request failed", "tenant", st.site.Tenant.Slug, "cause", code, "err", err, "request_id", st.reqID)
	g.recordUpstreamFailure(context.WithoutCancel(ctx), st.site, st.p, code, status)
	writeRPCError(w, status, st.id, rpcCodeFor(status), msg, map[string]any{"cause": code})
}

func (g *Gateway) upstreamFailed(c *gin.Context, site tenants.Site, p *access.Principal, id json.RawMessage, code string, status int, msg string) {
	g.recordUpstreamFailure(c.Request.Context(), site, p, code, status)
	writeRPCError(c.Writer, status, id, rpcCodeFor(status), msg, map[string]any{"cause": code})
}

func rpcCodeFor(status int) int {
	if status == http.StatusGatewayTimeout {
		return codeUpstreamTimeout
	}
	return codeUpstreamUnavailable
}

// streamRegistry knows the open streams of each grant, so a revocation
// notice can cut them.
type streamRegistry struct {
	mu   sync.Mutex
	open map[string]map[*reqState]struct{}
}

func (s *streamRegistry) add(key string, st *reqState) {
	s.mu.Lock()
	if s.open[key] == nil {
		s.open[key] = map[*reqState]struct{}{}
	}
	s.open[key][st] = struct{}{}
	s.mu.Unlock()
}

func (s *streamRegistry) remove(key string, st *reqState) {
	s.mu.Lock()
	delete(s.open[key], st)
	if len(s.open[key]) == 0 {
		delete(s.open, key)
	}
	s.mu.Unlock()
}

// cut closes every open stream of a grant; payload is "<tenant_id> <grant_id>".
func (s *streamRegistry) cut(payload string) {
	s.mu.Lock()
	var sts []*reqState
	for st := range s.open[payload] {
		sts = append(sts, st)
	}
	s.mu.Unlock()
	for _, st := range sts {
		st.cancel(errRevoked)
	}
}

// watch registers an open stream and re-checks its grant every liveness
// TTL (the fallback when a revocation notice is lost). It returns the stop
// function. The re-check is a timer, not a goroutine per stream: an idle
// stream costs memory, and a goroutine's stack is most of what it would add.
func (g *Gateway) watch(st *reqState) func() {
	key := st.site.Tenant.ID + " " + st.p.Claims.GrantID
	g.streams.add(key, st)
	if g.draining() {
		g.drainStream(st)
	}
	var (
		mu      sync.Mutex
		stopped bool
		timer   *time.Timer
	)
	var check func()
	check = func() {
		live, err := g.verifier.GrantLive(context.Background(), st.site.Tenant.ID, st.p.Claims.GrantID)
		if err == nil && !live {
			st.cancel(errRevoked)
			return
		}
		mu.Lock()
		if !stopped {
			timer = time.AfterFunc(g.verifier.TTL(), check)
		}
		mu.Unlock()
	}
	mu.Lock()
	timer = time.AfterFunc(g.verifier.TTL(), check)
	mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			mu.Lock()
			stopped = true
			timer.Stop()
			mu.Unlock()
			g.streams.remove(key, st)
		})
	}
}

// copyBuffers are the proxy's response copy buffers. An open stream holds
// one while it waits for the next event, so they are small (the default is
// 32 KiB per response): events are flushed as they arrive anyway.
type copyBuffers struct{ pool sync.Pool }

const copyBufferSize = 8 << 10

func (b *copyBuffers) Get() []byte {
	if p, ok := b.pool.Get().(*[]byte); ok {
		return *p
	}
	return make([]byte, copyBufferSize)
}

func (b *copyBuffers) Put(p []byte) {
	if cap(p) == copyBufferSize {
		p = p[:copyBufferSize]
		b.pool.Put(&p)
	}
}

// followRedirects re-sends a request the upstream redirected within its own
// origin (e.g. /mcp → /mcp/, as Starlette does) instead of handing the
// client a Location with an internal address. Other redirects are left for
// modifyResponse to refuse.
type followRedirects struct{ base http.RoundTripper }

func (f *followRedirects) RoundTrip(req *http.Request) (*http.Response, error) {
	for hop := 0; ; hop++ {
		resp, err := f.base.RoundTrip(req)
		if err != nil || hop == 3 {
			return resp, err
		}
		switch resp.StatusCode {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		default:
			return resp, nil
		}
		loc, perr := req.URL.Parse(resp.Header.Get("Location"))
		if perr != nil || loc.Scheme != req.URL.Scheme || loc.Host != req.URL.Host || (req.Body != nil && req.Body != http.NoBody && req.GetBody == nil) {
			return resp, nil
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		next := req.Clone(req.Context())
		next.URL = loc
		next.Host = ""
		if req.GetBody != nil {
			if next.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
		req = next
	}
}

// idleBody cancels the upstream request when no byte arrived for idle.
type idleBody struct {
	io.ReadCloser
	idle    time.Duration
	timer   *time.Timer
	onClose func()
	once    sync.Once
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.timer.Reset(b.idle)
	}
	return n, err
}

func (b *idleBody) Close() error {
	b.once.Do(func() {
		b.timer.Stop()
		if b.onClose != nil {
			b.onClose()
		}
	})
	return b.ReadCloser.Close()
}

// deadlineWriter gives every write to the client idle time to complete, so
// a client that stops reading cannot hold a stream (and its upstream) open
// forever; the server has no WriteTimeout because streams are long-lived.
type deadlineWriter struct {
	http.ResponseWriter
	rc   *http.ResponseController
	idle time.Duration
	set  bool
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	if w.rc.SetWriteDeadline(time.Now().Add(w.idle)) == nil {
		w.set = true
	}
	return w.ResponseWriter.Write(p)
}

// WriteHeader sends an event stream's headers at once. gin (and
// httputil.ReverseProxy) would otherwise hold them until the first body
// byte, and a standalone GET stream that has no event yet would leave the
// client waiting for headers forever.
func (w *deadlineWriter) WriteHeader(code int) {
	w.ResponseWriter.WriteHeader(code)
	if strings.HasPrefix(w.Header().Get("Content-Type"), "text/event-stream") {
		_ = w.rc.Flush()
	}
}

// Unwrap lets http.ResponseController reach Flush on the real writer.
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush flushes the real writer.
func (w *deadlineWriter) Flush() { _ = w.rc.Flush() }

func (w *deadlineWriter) clear() {
	if w.set {
		_ = w.rc.SetWriteDeadline(time.Time{})
	}
}
