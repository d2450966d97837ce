package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/tenants/egress"
)

// Key sets of other parties: enterprise IdPs (ID-JAG issuers) and clients
// authenticating with private_key_jwt. Every fetch goes through the
// outbound address policy (tenants/egress), https only, bounded in size and
// time, and is cached; an unknown kid refetches at most every
// keySetRefetch (so a rotated key is picked up, and a stream of bogus kids
// cannot make us hammer the IdP).
const (
	keySetTTL      = 10 * time.Minute
	keySetRefetch  = 30 * time.Second
	keySetMaxBytes = 256 << 10
	keySetTimeout  = 5 * time.Second
)

// KeySets fetches and caches JWK sets and issuer metadata.
type KeySets struct {
	client *http.Client
	now    func() time.Time

	mu    sync.Mutex
	cache map[string]keySetEntry
}

type keySetEntry struct {
	keys    []jose.JSONWebKey
	jwksURI string // discovery entries: the issuer's jwks_uri
	fetched time.Time
}

// KeySetOptions configure NewKeySets; Client nil means an egress client
// (https only, no redirects: a key set or metadata document is read where
// it is named, never where it points).
type KeySetOptions struct {
	Client       *http.Client
	AllowPrivate bool
	Now          func() time.Time
}

// NewKeySets returns an empty cache.
func NewKeySets(opts *KeySetOptions) *KeySets {
	if opts == nil {
		opts = &KeySetOptions{}
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &KeySets{client: documentClient(opts.Client, opts.AllowPrivate, keySetTimeout), now: now, cache: map[string]keySetEntry{}}
}

// documentClient is the client that reads a document a client or an issuer
// names (a CIMD, a key set, issuer metadata): the given one, else an egress
// client, https only, that follows no redirect (a document is read where it
// is named, never where it points).
func documentClient(given *http.Client, allowPrivate bool, timeout time.Duration) *http.Client {
	if given != nil {
		return given
	}
	return egress.NewClient(egress.Options{Policy: egress.Policy{AllowPrivate: allowPrivate}, HTTPSOnly: true,
		Timeout: timeout, Redirects: egress.NoRedirects})
}

func (k *KeySets) cached(key string, maxAge time.Duration) (keySetEntry, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	e, ok := k.cache[key]
	return e, ok && k.now().Sub(e.fetched) < maxAge
}

func (k *KeySets) store(key string, e keySetEntry) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.cache) > 10000 {
		for kk, v := range k.cache {
			if k.now().Sub(v.fetched) >= keySetTTL {
				delete(k.cache, kk)
			}
		}
	}
	k.cache[key] = e
}

// Keys returns the key set at jwksURI; fresh asks for a refetch (unknown
// kid), honoured when the cached copy is older than keySetRefetch.
func (k *KeySets) Keys(ctx context.Context, jwksURI string, fresh bool) ([]jose.JSONWebKey, error) {
	maxAge := keySetTTL
	if fresh {
		maxAge = keySetRefetch
	}
	if e, ok := k.cached("jwks "+jwksURI, maxAge); ok {
		return e.keys, nil
	}
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := k.getJSON(ctx, jwksURI, &raw); err != nil {
		return nil, fmt.Errorf("key set %s: %w", jwksURI, err)
	}
	var keys []jose.JSONWebKey
	for _, r := range raw.Keys {
		var jwk jose.JSONWebKey
		// A key of a type we cannot use is skipped, not fatal to the set.
		if json.Unmarshal(r, &jwk) == nil && jwk.Valid() {
			keys = append(keys, jwk)
		}
	}
	k.store("jwks "+jwksURI, keySetEntry{keys: keys, fetched: k.now()})
	return keys, nil
}

// DiscoverJWKSURI reads the issuer's jwks_uri from its RFC 8414 metadata,
// else its OpenID Provider configuration (both in the path-inserted form
// first, then OIDC's path-appended form). The metadata's issuer must equal
// issuer (RFC 8414 §3.3), and jwks_uri must be https.
func (k *KeySets) DiscoverJWKSURI(ctx context.Context, issuer string) (string, error) {
	if e, ok := k.cached("meta "+issuer, keySetTTL); ok {
		return e.jwksURI, nil
	}
	u, err := url.Parse(issuer)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return "", errors.New("issuer must be an https URL")
	}
	path := strings.TrimSuffix(u.Path, "/")
	origin := u.Scheme + "://" + u.Host
	candidates := []string{
		origin + "/.well-known/oauth-authorization-server" + path,
		origin + "/.well-known/openid-configuration" + path,
	}
	if path != "" {
		candidates = append(candidates, origin+path+"/.well-known/openid-configuration")
	}
	var last error
	for _, c := range candidates {
		var meta struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := k.getJSON(ctx, c, &meta); err != nil {
			last = err
			continue
		}
		if meta.Issuer != issuer {
			return "", fmt.Errorf("metadata at %s names issuer %q, not %q", c, meta.Issuer, issuer)
		}
		if ju, err := url.Parse(meta.JWKSURI); err != nil || ju.Scheme != "https" || ju.Host == "" {
			return "", fmt.Errorf("metadata at %s has no https jwks_uri", c)
		}
		k.store("meta "+issuer, keySetEntry{jwksURI: meta.JWKSURI, fetched: k.now()})
		return meta.JWKSURI, nil
	}
	return "", fmt.Errorf("no metadata found for issuer %s: %w", issuer, last)
}

func (k *KeySets) getJSON(ctx context.Context, rawURL string, v any) error {
	if u, err := url.Parse(rawURL); err != nil || u.Scheme != "https" {
		return errors.New("only https URLs are fetched")
	}
	ctx, cancel := context.WithTimeout(ctx, keySetTimeout)
	defer cancel()
	resp, err := egress.Get(ctx, k.client, rawURL, http.Header{"Accept": {"application/json"}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	body, err := egress.ReadLimited(resp.Body, keySetMaxBytes)
	if err != nil {
		return err
	}
	return json.Unmarshal(body, v)
}
