package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"
)

// errDraining cancels streams of a replica that is shutting down.
var errDraining = errors.New("gateway draining")

// DefaultDrainGrace is how long, after shutdown starts, a stream that
// answers a request (POST) may still run before it is ended; standalone
// GET streams end at once. It is below the server's 20 s drain so the
// process exits within it.
const DefaultDrainGrace = 10 * time.Second

// resumeHint ends a stream cleanly: an SSE comment and a retry field (no
// event is dispatched), then the end of the response. The client reconnects
// with Last-Event-ID (passed through to the upstream), to another replica.
const resumeHint = ": gatehouse: this replica is restarting; reconnect with Last-Event-ID\nretry: 1000\n\n"

// endingBody wraps an upstream response body so that its end is always
// explicit (issue 13, findings 6 and 7):
//   - the upstream broke mid-body (reset, EOF inside a chunk): the failure
//     is logged with tenant and request id, audited as
//     mcp.upstream_failed and counted; an event stream gets a JSON-RPC
//     error event and a clean end instead of a truncated stream;
//   - the replica is draining: the stream gets resumeHint and a clean end.
//
// Ends the gateway caused otherwise (idle, revoked) and client departures
// keep their existing handling.
type endingBody struct {
	io.ReadCloser
	g    *Gateway
	st   *reqState
	ctx  context.Context
	sse  bool
	last [2]byte // the last two bytes passed on (event boundary tracking)
	tail *bytes.Reader
}

func (g *Gateway) ending(ctx context.Context, st *reqState, sse bool, body io.ReadCloser) io.ReadCloser {
	return &endingBody{ReadCloser: body, g: g, st: st, ctx: ctx, sse: sse}
}

func (b *endingBody) Read(p []byte) (int, error) {
	if b.tail != nil {
		return b.tail.Read(p)
	}
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		if n >= 2 {
			b.last = [2]byte{p[n-2], p[n-1]}
		} else {
			b.last = [2]byte{b.last[1], p[0]}
		}
	}
	if err == nil || err == io.EOF {
		return n, err
	}
	return b.broke(n, err)
}

// broke handles a read that failed (kept out of Read, whose frame an idle
// stream keeps on its stack).
func (b *endingBody) broke(n int, err error) (int, error) {
	cause := context.Cause(b.ctx)
	switch {
	case errors.Is(cause, errDraining):
		b.g.metrics.requests.WithLabelValues(b.st.site.Tenant.Slug, "stream_closed", "draining").Inc()
		if !b.sse {
			return n, err
		}
		b.tail = bytes.NewReader([]byte(b.boundary() + resumeHint))
		return n, nil
	case b.ctx.Err() != nil:
		return n, err // idle, revoked, or the client went away: handled by serveMCP
	}
	// The upstream broke while the client was still reading.
	b.st.failed = true
	code, _, _ := classify(err, b.g.opts)
	if code == "upstream_error" || code == "timeout" {
		code = "stream_broken"
	}
	b.g.log.Warn("mcp: upstream stream broke", "tenant", b.st.site.Tenant.Slug, "request_id", b.st.reqID, "cause", code, "err", err)
	b.g.recordUpstreamFailure(context.WithoutCancel(b.ctx), b.st.site, b.st.p, code, http.StatusBadGateway)
	if !b.sse {
		return n, err // a JSON body cannot take an error after it began; the connection is cut
	}
	msg, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": idOrNull(b.st.id), "error": map[string]any{
		"code": codeUpstreamUnavailable, "message": "the upstream MCP server closed the stream before it ended", "data": map[string]any{"cause": code}}})
	b.tail = bytes.NewReader([]byte(b.boundary() + "event: message\ndata: " + string(msg) + "\n\n"))
	return n, nil
}

// boundary returns what terminates a partial line or event already sent, so
// the gateway's own event starts on a clean boundary.
func (b *endingBody) boundary() string {
	switch {
	case b.last == [2]byte{} || b.last == [2]byte{'\n', '\n'}:
		return ""
	case b.last[1] == '\n':
		return "\n"
	}
	return "\n\n"
}

func idOrNull(id json.RawMessage) json.RawMessage {
	if len(id) == 0 {
		return json.RawMessage("null")
	}
	return id
}
