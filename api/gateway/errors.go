package gateway

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/tenants/egress"
)

// JSON-RPC error codes the gateway answers with (the MCP path answers
// JSON-RPC errors; -32000..-32099 are implementation-defined).
const (
	codeParseError          = -32700
	codeInvalidRequest      = -32600
	codeInternal            = -32603
	codeUnauthorized        = -32001
	codeForbidden           = -32003
	codeNotFound            = -32004
	codeUpstreamUnavailable = -32010
	codeUpstreamTimeout     = -32011
)

// writeRPCError writes a JSON-RPC error response with an HTTP status.
func writeRPCError(w http.ResponseWriter, status int, id json.RawMessage, code int, msg string, data map[string]any) {
	httpx.WriteRPCError(w, status, id, code, msg, data)
}

// classify names an upstream failure without its address: a short cause
// code for audit and metrics, the HTTP status (502 refused/unreachable,
// 504 too slow) and a client-safe message.
func classify(err error, o Options) (code string, status int, msg string) {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var tlsRecord tls.RecordHeaderError
	var certErr *tls.CertificateVerificationError
	switch {
	case errors.Is(err, errIdle):
		return "idle_timeout", http.StatusGatewayTimeout, fmt.Sprintf("upstream MCP server sent nothing for %s", o.IdleTimeout)
	case errors.Is(err, errUpstreamRedirect):
		return "redirect", http.StatusBadGateway, "upstream MCP server answered with a redirect to another origin"
	case errors.Is(err, errUpstreamUnauthorized):
		return "upstream_unauthorized", http.StatusBadGateway, "upstream MCP server refused the gateway's identity assertion (401)"
	case errors.Is(err, egress.ErrForbiddenAddress):
		return "forbidden_address", http.StatusBadGateway, "upstream MCP server address is not allowed"
	case errors.As(err, &dnsErr):
		return "dns", http.StatusBadGateway, "upstream MCP server host name does not resolve"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused", http.StatusBadGateway, "upstream MCP server refused the connection"
	case errors.As(err, &opErr) && opErr.Op == "dial" && opErr.Timeout():
		return "connect_timeout", http.StatusGatewayTimeout, fmt.Sprintf("upstream MCP server did not accept a connection within %s", o.ConnectTimeout)
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return "unreachable", http.StatusBadGateway, "upstream MCP server is unreachable"
	case errors.As(err, &certErr), errors.As(err, &tlsRecord), strings.Contains(err.Error(), "tls: "):
		return "tls", http.StatusBadGateway, "TLS handshake with the upstream MCP server failed"
	case strings.Contains(err.Error(), "timeout awaiting response headers"):
		return "response_timeout", http.StatusGatewayTimeout, fmt.Sprintf("upstream MCP server did not answer within %s", o.ResponseHeaderTimeout)
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return "timeout", http.StatusGatewayTimeout, "upstream MCP server timed out"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return "connection_closed", http.StatusBadGateway, "upstream MCP server closed the connection without answering"
	}
	return "upstream_error", http.StatusBadGateway, "upstream MCP server request failed"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func humanBytes(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	if n%(1<<10) == 0 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
