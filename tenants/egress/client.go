package egress

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// Redirects says what a client does with a 3xx answer.
type Redirects uint8

const (
	// SameHost follows up to MaxRedirects redirects that stay on the
	// request's host (and never from https to http); any other redirect is
	// an error.
	SameHost Redirects = iota
	// NoRedirects returns the 3xx answer itself; the caller treats it as
	// the non-200 answer it is.
	NoRedirects
)

// ErrHTTPSRequired is matched (errors.Is) when an http:// URL is refused.
var ErrHTTPSRequired = errors.New("only https URLs may be fetched")

// ErrRedirectRefused is matched (errors.Is) when a redirect is refused.
var ErrRedirectRefused = errors.New("redirect refused")

// ErrTooLarge is returned by ReadLimited when the body exceeds the limit.
var ErrTooLarge = errors.New("response body too large")

// Options of NewClient.
type Options struct {
	Policy Policy
	// Timeout for the whole request, body included (default 10 s); it
	// also bounds dialing, the TLS handshake and the response headers.
	Timeout time.Duration
	// HTTPSOnly refuses http:// URLs, redirects included.
	HTTPSOnly bool
	// Redirects policy (default SameHost) and the most followed (default 3).
	Redirects    Redirects
	MaxRedirects int
	// TLSConfig for the transport (tests: trust a test CA).
	TLSConfig *tls.Config
	// Lookup and Connect are the Dialer's test seams (see Dialer).
	Lookup  func(ctx context.Context, network, host string) ([]netip.Addr, error)
	Connect func(ctx context.Context, network, addr string) (net.Conn, error)
}

// NewClient returns an HTTP client whose every connection passes the
// policy. It uses no proxy (a proxy would hide the real destination).
func NewClient(o Options) *http.Client {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	d := &Dialer{Policy: o.Policy, Timeout: timeout, Lookup: o.Lookup, Connect: o.Connect}
	var rt http.RoundTripper = &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		TLSClientConfig:       o.TLSConfig,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          20,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	if o.HTTPSOnly {
		rt = httpsOnly{rt}
	}
	c := &http.Client{Transport: rt, Timeout: timeout}
	if o.Redirects == NoRedirects {
		return WithoutRedirects(c)
	}
	max := o.MaxRedirects
	if max <= 0 {
		max = 3
	}
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= max {
			return fmt.Errorf("%w: more than %d redirects", ErrRedirectRefused, max)
		}
		from := via[0].URL
		if req.URL.Host != from.Host {
			return fmt.Errorf("%w: %s redirected to another host", ErrRedirectRefused, from.Host)
		}
		if from.Scheme == "https" && req.URL.Scheme != "https" {
			return fmt.Errorf("%w: https redirected to %s", ErrRedirectRefused, req.URL.Scheme)
		}
		return nil
	}
	return c
}

// WithoutRedirects returns a copy of c that never follows a redirect: the
// 3xx answer is returned to the caller as is.
func WithoutRedirects(c *http.Client) *http.Client {
	nc := *c
	nc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &nc
}

// httpsOnly refuses every request that is not https (the first one and
// each redirect: the client sends both through its transport).
type httpsOnly struct{ rt http.RoundTripper }

func (h httpsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("%w: %s://%s", ErrHTTPSRequired, req.URL.Scheme, req.URL.Host)
	}
	return h.rt.RoundTrip(req)
}

// ReadLimited reads at most limit bytes of r, failing with ErrTooLarge past it.
func ReadLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, ErrTooLarge
	}
	return b, nil
}

// Get fetches url with ctx through c.
func Get(ctx context.Context, c *http.Client, url string, header http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return c.Do(req)
}
