package httpx

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"
)

// Connection timeouts of the public listener (slowloris-safe while MCP
// streams stay open): headers must arrive within ReadHeaderTimeout, a
// request body within BodyReadTimeout, and an idle keep-alive connection
// is closed after IdleTimeout. There is no WriteTimeout and no ReadTimeout
// (both would cut long-lived MCP streams); the gateway bounds each stream
// by its idle timeout instead.
const (
	ReadHeaderTimeout = 10 * time.Second
	BodyReadTimeout   = 30 * time.Second
	IdleTimeout       = 120 * time.Second
	MaxHeaderBytes    = 64 << 10 // larger request headers get 431
)

// NewServer returns the http.Server for the public listener with the
// timeouts above.
func NewServer(h http.Handler) *http.Server {
	return newServer(h, ReadHeaderTimeout, BodyReadTimeout, IdleTimeout)
}

func newServer(h http.Handler, header, body, idle time.Duration) *http.Server {
	return &http.Server{
		Handler:           BodyDeadline(h, body),
		ReadHeaderTimeout: header,
		IdleTimeout:       idle,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
}

// BodyDeadline gives a request body d to arrive: a client trickling its
// body a byte at a time (slow POST) is cut when the deadline passes, the
// read fails and the handler answers as for any broken body. The deadline
// is lifted once the body is read, so the response — an MCP stream — is
// not bounded by it.
func BodyDeadline(next http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if rc.SetReadDeadline(time.Now().Add(d)) != nil {
			next.ServeHTTP(w, r)
			return
		}
		r.Body = &deadlineBody{ReadCloser: r.Body, clear: func() { _ = rc.SetReadDeadline(time.Time{}) }}
		next.ServeHTTP(w, r)
	})
}

var errSlowBody = errors.New("request body not received in time")

type deadlineBody struct {
	io.ReadCloser
	clear   func()
	cleared bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.cleared {
		b.cleared = true
		b.clear()
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = errSlowBody
	}
	return n, err
}
