package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/access"
)

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

// copyBuffers are the proxy's response copy buffers. An open stream holds
// one for as long as it waits for the next event, so they are small (the
// default is 32 KiB per response; 2 KiB keeps an idle stream within its
// memory budget, docs/PERFORMANCE.md): events are flushed as they arrive
// anyway, and a JSON answer is only written in more pieces.
type copyBuffers struct{ pool sync.Pool }

const copyBufferSize = 2 << 10

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
