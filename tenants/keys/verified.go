package keys

import (
	"crypto/sha256"
	"sync"
)

// DefaultVerifiedCacheSize bounds how many verified tokens one key set
// remembers (Options.VerifiedCacheSize).
const DefaultVerifiedCacheSize = 4096

// verifiedCache remembers the tokens whose ES256 signature checked out
// against one key set, so a token presented again (every gateway call and
// introspection of the same access token) skips the JWS parse, the ECDSA
// verification and, through VerifyClaims, the decode of its claims. It
// lives inside the keySet: a reload, rotation or Invalidate builds a new key
// set and with it an empty cache, so a token of a removed key can never be
// answered from here. The key is the SHA-256 of the whole compact token, so
// a changed byte of header, payload or signature misses. Only what the
// token's bytes decide is remembered: callers check every claim (exp, iss,
// aud, grant liveness) on every call.
type verifiedCache struct {
	max int
	mu  sync.Mutex
	m   map[[sha256.Size]byte]verifiedSig
}

// verifiedSig is what a hit needs besides the token itself: the payload is
// decoded again from the token; claims are VerifyClaims's decoded value
// (nil from Verify), so a hit also skips the JSON decode of the claims.
type verifiedSig struct {
	kid    string // the key set's own string
	typ    string
	claims any
}

func newVerifiedCache(max int) *verifiedCache {
	return &verifiedCache{max: max, m: map[[sha256.Size]byte]verifiedSig{}}
}

func (c *verifiedCache) get(sum [sha256.Size]byte) (verifiedSig, bool) {
	c.mu.Lock()
	v, ok := c.m[sum]
	c.mu.Unlock()
	return v, ok
}

// put records a verified token; when full it drops an arbitrary entry (Go's
// map iteration starts at a random place), so the bound holds without
// bookkeeping and a flood of one-off tokens cannot pin the cache.
func (c *verifiedCache) put(sum [sha256.Size]byte, v verifiedSig) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	if _, ok := c.m[sum]; !ok && len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[sum] = v
	c.mu.Unlock()
}

func (c *verifiedCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
