package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/egress"
	stalecache "github.com/gatehouse/gatehouse/tenants/stale"
)

// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document,
// MCP 2025-11-25 "Client ID Metadata Documents"): the client_id is an https
// URL whose document names the client and its redirect URIs.

// CIMD limits of docs/RULES.md §5.
const (
	CIMDMaxBytes   = 5 * 1024
	CIMDTimeout    = 5 * time.Second
	cimdDefaultTTL = 5 * time.Minute // no caching headers: a short heuristic lifetime
	cimdMaxTTL     = 24 * time.Hour
	cimdMaxEntries = 10_000
)

// CIMDDocument is the part of a client metadata document we use.
type CIMDDocument struct {
	ClientID                string   `json:"client_id"`
	ClientName              string   `json:"client_name"`
	ClientURI               string   `json:"client_uri"`
	LogoURI                 string   `json:"logo_uri"`
	RedirectURIs            []string `json:"redirect_uris"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	Scope                   string   `json:"scope"`
	ApplicationType         string   `json:"application_type"`
	// JWKS or JWKSURI: the keys of a private_key_jwt client (CIMD §6.2).
	JWKS    json.RawMessage `json:"jwks,omitempty"`
	JWKSURI string          `json:"jwks_uri,omitempty"`
}

// IsCIMDClientID reports whether a client_id is a metadata document URL.
func IsCIMDClientID(id string) bool { return strings.HasPrefix(id, "https://") }

// ValidateCIMDURL checks the client_id URL rules: https, a host, a non-root
// path, no credentials, no fragment, no dot segments.
func ValidateCIMDURL(raw string) error {
	if len(raw) > 2048 {
		return errors.New("client_id URL is longer than 2048 characters")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Hostname() == "" {
		return errors.New("client_id URL must be an absolute https URL")
	}
	if u.User != nil || u.Fragment != "" || strings.Contains(raw, "#") {
		return errors.New("client_id URL must not contain credentials or a fragment")
	}
	if u.Path == "" || u.Path == "/" {
		return errors.New("client_id URL must have a path")
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == "." || seg == ".." {
			return errors.New("client_id URL must not contain dot segments")
		}
	}
	return nil
}

// CIMDResolver fetches and caches metadata documents (tenants/stale: one
// fetch per URL however many requests wait for it, a bounded number of
// documents, failures never kept). The cache honours Cache-Control max-age
// (capped at a day); no-store/no-cache are not cached.
type CIMDResolver struct {
	client *http.Client
	cache  *stalecache.Cache[*CIMDDocument]
}

// CIMDOptions for NewCIMDResolver; nil means defaults.
type CIMDOptions struct {
	// Client overrides the fetching client (tests: one trusting a test CA);
	// it never follows redirects whatever its own CheckRedirect says.
	// Default: the outbound address policy (tenants/egress), https only,
	// public addresses only unless AllowPrivate.
	Client       *http.Client
	AllowPrivate bool
	Now          func() time.Time
	// MaxEntries bounds the documents kept (default 10 000).
	MaxEntries int
}

// NewCIMDResolver returns a resolver.
func NewCIMDResolver(opts *CIMDOptions) *CIMDResolver {
	if opts == nil {
		opts = &CIMDOptions{}
	}
	// The CIMD draft: a redirect is never followed, not even by a given
	// client. Following one would let an open redirect on an allowed host
	// (cimd_allowed_hosts) vouch for a document served elsewhere, under the
	// allowed host's name.
	c := egress.WithoutRedirects(documentClient(opts.Client, opts.AllowPrivate, CIMDTimeout))
	max := opts.MaxEntries
	if max <= 0 {
		max = cimdMaxEntries
	}
	// No stale serving: a document is the client's own statement of its
	// redirect URIs, so a fetch that fails is an error, not the old copy.
	return &CIMDResolver{client: c, cache: stalecache.New[*CIMDDocument](stalecache.Options{
		TTL: cimdDefaultTTL, LoadTimeout: CIMDTimeout, MaxEntries: max, Now: opts.Now})}
}

// Resolve returns the document at clientID, from cache when fresh.
func (r *CIMDResolver) Resolve(ctx context.Context, clientID string) (*CIMDDocument, error) {
	if err := ValidateCIMDURL(clientID); err != nil {
		return nil, err
	}
	return r.cache.GetFor(ctx, clientID, func(ctx context.Context) (*CIMDDocument, time.Duration, error) {
		return r.fetch(ctx, clientID)
	})
}

func (r *CIMDResolver) fetch(ctx context.Context, clientID string) (*CIMDDocument, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, CIMDTimeout)
	defer cancel()
	resp, err := egress.Get(ctx, r.client, clientID, http.Header{"Accept": {"application/json"}})
	if err != nil {
		if errors.Is(err, egress.ErrForbiddenAddress) {
			return nil, 0, errors.New("client metadata document host resolves to a non-public address")
		}
		return nil, 0, fmt.Errorf("fetching client metadata document: %w", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return nil, 0, fmt.Errorf("client metadata document answered HTTP %d (a redirect); redirects are not followed, the document must be served at its client_id URL", resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return nil, 0, fmt.Errorf("client metadata document answered HTTP %d, not 200", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !isJSONType(ct) {
		return nil, 0, fmt.Errorf("client metadata document has Content-Type %q, not application/json", ct)
	}
	body, err := egress.ReadLimited(resp.Body, CIMDMaxBytes)
	if err != nil {
		if errors.Is(err, egress.ErrTooLarge) {
			return nil, 0, fmt.Errorf("client metadata document is larger than %d bytes", CIMDMaxBytes)
		}
		return nil, 0, fmt.Errorf("reading client metadata document: %w", err)
	}
	var doc CIMDDocument
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, 0, fmt.Errorf("client metadata document is not valid JSON: %w", err)
	}
	if doc.ClientID != clientID {
		return nil, 0, errors.New("client metadata document's client_id does not equal its URL")
	}
	if len(doc.RedirectURIs) == 0 {
		return nil, 0, errors.New("client metadata document has no redirect_uris")
	}
	return &doc, cacheTTL(resp.Header), nil
}

// isJSONType accepts application/json and structured +json types
// (RFC 6839), with any parameters.
func isJSONType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// cacheTTL reads Cache-Control (RFC 9111 §5.2.2).
func cacheTTL(h http.Header) time.Duration {
	cc := strings.ToLower(strings.Join(h.Values("Cache-Control"), ","))
	if cc == "" {
		return cimdDefaultTTL
	}
	ttl := cimdDefaultTTL
	for _, d := range strings.Split(cc, ",") {
		d = strings.TrimSpace(d)
		switch {
		case d == "no-store" || d == "no-cache":
			return 0
		case strings.HasPrefix(d, "max-age="):
			n, err := strconv.Atoi(strings.Trim(strings.TrimPrefix(d, "max-age="), `"`))
			if err != nil || n < 0 {
				return 0
			}
			ttl = time.Duration(n) * time.Second
		}
	}
	if ttl > cimdMaxTTL {
		ttl = cimdMaxTTL
	}
	return ttl
}

// hostAllowed matches a host against an allow-list; "*.example.com" matches
// subdomains. An empty list allows every (public) host.
func hostAllowed(host string, list []string) bool {
	if len(list) == 0 {
		return true
	}
	for _, a := range list {
		if tenants.HostMatches(a, host) {
			return true
		}
	}
	return false
}
