// Package safefetch is the HTTP client for fetching URLs that tenants or
// clients name (client ID metadata documents, audit webhooks): it refuses
// loopback, private, link-local, multicast and cloud-metadata addresses
// after DNS resolution — checked at dial time, so redirects and DNS
// rebinding are covered — and bounds time and size.
package safefetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrForbiddenAddress is returned when a URL resolves to a refused address.
var ErrForbiddenAddress = errors.New("address not allowed (loopback, private, link-local or metadata)")

// ErrTooLarge is returned by ReadLimited when the body exceeds the limit.
var ErrTooLarge = errors.New("response body too large")

// Options for NewClient; nil means defaults.
type Options struct {
	// AllowPrivate permits any address (tests only: GATEHOUSE_ALLOW_PRIVATE_FETCH).
	AllowPrivate bool
	// Timeout for the whole request (default 5s).
	Timeout time.Duration
	// MaxRedirects followed (default 3).
	MaxRedirects int
	// HTTPSOnly refuses http:// URLs, redirects included.
	HTTPSOnly bool
	// Transport base (tests: a TLS config trusting a test CA). Its DialContext is replaced.
	TLSClientConfig func(*http.Transport)
}

// Forbidden reports whether ip must not be fetched from.
func Forbidden(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsMulticast() || ip.IsUnspecified() || ip.IsInterfaceLocalMulticast() {
		return true
	}
	for _, p := range refused {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

var refused = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4", "255.255.255.255/32",
		"64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001:db8::/32", "fc00::/7", "fe80::/10", "fd00:ec2::254/128",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// NewClient returns an http.Client that enforces the address policy on
// every connection it opens.
func NewClient(opts *Options) *http.Client {
	if opts == nil {
		opts = &Options{}
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	maxRedirects := opts.MaxRedirects
	if maxRedirects == 0 {
		maxRedirects = 3
	}
	dialer := &net.Dialer{
		Timeout: timeout,
		Control: func(network, address string, _ syscall.RawConn) error {
			if opts.AllowPrivate {
				return nil
			}
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
			}
			if Forbidden(ap.Addr()) {
				return fmt.Errorf("%w: %s", ErrForbiddenAddress, ap.Addr())
			}
			return nil
		},
	}
	tr := &http.Transport{
		DialContext:           dialer.DialContext,
		Proxy:                 nil, // a proxy would hide the real destination
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          20,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	if opts.TLSClientConfig != nil {
		opts.TLSClientConfig(tr)
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			if opts.HTTPSOnly && req.URL.Scheme != "https" {
				return errors.New("redirect to a non-https URL refused")
			}
			return nil
		},
	}
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
