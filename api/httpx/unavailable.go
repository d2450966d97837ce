package httpx

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// RetryAfterSeconds is what a 503 asks clients to wait.
const RetryAfterSeconds = "5"

// JSON-RPC error code of a 503 on the MCP path (implementation-defined
// range -32000..-32099).
const RPCCodeUnavailable = -32013

// IsProbe reports whether path is an operations endpoint. Probes never
// touch tenant resolution: a Kubernetes probe to the pod IP must not fail
// because the database is down (issue 13, finding 2).
func IsProbe(path string) bool {
	switch path {
	case "/healthz", "/readyz", "/metrics":
		return true
	}
	return false
}

// Unavailable makes err match tenants.ErrUnavailable (a store failure that
// is not "not found").
func Unavailable(err error) error {
	if err == nil || errors.Is(err, tenants.ErrUnavailable) {
		return err
	}
	return &tenants.UnavailableError{Cause: err}
}

// Surface is the error format of the endpoint a request is aimed at.
type Surface int

// Surfaces.
const (
	SurfaceOAuth Surface = iota // RFC 6749 §5.2 JSON
	SurfaceAPI                  // RFC 9457 problem+json
	SurfaceMCP                  // JSON-RPC error
)

// SurfaceOf names the surface of a (host-mode rewritten or not) path. This
// is the one place that decides the format of answers given before a
// route's own handler runs (503s, refused input).
func SurfaceOf(path string) Surface {
	switch {
	case strings.HasPrefix(path, "/api/"):
		return SurfaceAPI
	case strings.HasPrefix(path, "/.well-known/"):
		return SurfaceOAuth
	case strings.HasSuffix(path, "/mcp") || strings.HasSuffix(path, "/mcp/") || path == "mcp":
		return SurfaceMCP
	}
	return SurfaceOAuth
}

// WriteRPCError writes a JSON-RPC 2.0 error response with an HTTP status.
func WriteRPCError(w http.ResponseWriter, status int, id json.RawMessage, code int, msg string, data map[string]any) {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	type rpcError struct {
		Code    int            `json:"code"`
		Message string         `json:"message"`
		Data    map[string]any `json:"data,omitempty"`
	}
	b, _ := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   rpcError        `json:"error"`
	}{"2.0", id, rpcError{code, msg, data}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// WriteError answers a request refused before its handler ran, in the
// format of its surface. oauthCode is the RFC 6749 error code; problemType
// the RFC 9457 type URI; rpcCode the JSON-RPC code.
func WriteError(w http.ResponseWriter, r *http.Request, status int, oauthCode, problemType string, rpcCode int, msg string) {
	switch SurfaceOf(r.URL.Path) {
	case SurfaceMCP:
		WriteRPCError(w, status, nil, rpcCode, msg, nil)
	case SurfaceAPI:
		b, _ := json.Marshal(map[string]any{"type": problemType, "title": http.StatusText(status), "status": status,
			"detail": msg, "instance": r.URL.Path})
		w.Header().Set("Content-Type", "application/problem+json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_, _ = w.Write(b)
	default:
		b, _ := json.Marshal(map[string]string{"error": oauthCode, "error_description": msg})
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_, _ = w.Write(b)
	}
}

// ProblemUnavailable is the RFC 9457 type of a 503.
const ProblemUnavailable = "urn:gatehouse:problem:unavailable"

// WriteUnavailable answers 503 with Retry-After: temporarily_unavailable
// (RFC 6749 §4.1.2.1) on OAuth endpoints, a JSON-RPC error on the MCP
// path, problem+json on the API. The cause is not shown (it names hosts);
// the Outage tracker logs it once.
func WriteUnavailable(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", RetryAfterSeconds)
	WriteError(w, r, http.StatusServiceUnavailable, "temporarily_unavailable", ProblemUnavailable, RPCCodeUnavailable,
		"the service is temporarily unavailable; retry shortly")
}

// Outage logs a dependency outage once when it starts and once when it
// ends, instead of once per failed request.
type Outage struct {
	mu     sync.Mutex
	log    *slog.Logger
	down   bool
	since  time.Time
	failed int
}

// SetLogger sets where the outage is logged (default slog.Default()).
func (o *Outage) SetLogger(l *slog.Logger) {
	o.mu.Lock()
	o.log = l
	o.mu.Unlock()
}

func (o *Outage) logger() *slog.Logger {
	if o.log == nil {
		return slog.Default()
	}
	return o.log
}

// Down records a failure; the first of an outage is logged.
func (o *Outage) Down(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failed++
	if o.down {
		return
	}
	o.down, o.since, o.failed = true, time.Now(), 1
	o.logger().Error("database unavailable: tenant endpoints answer 503 (cached tenants and verified tokens keep being served) until it recovers", "err", err)
}

// Up records a success; the end of an outage is logged.
func (o *Outage) Up() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.down {
		return
	}
	o.down = false
	o.logger().Info("database reachable again", "outage_seconds", time.Since(o.since).Seconds(), "failed_lookups", o.failed)
}

// Outage is the resolver's outage tracker (other surfaces report store
// failures to it, so one outage is logged once).
func (s *Sites) Outage() *Outage { return &s.outage }
