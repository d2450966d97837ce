package tenants

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"sync"
	"time"
)

// RandomToken returns a 256-bit random value, base64url without padding.
// Used for client secrets, API keys, codes and refresh tokens.
func RandomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("tenants: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// RandomID returns a 128-bit random identifier, hex.
func RandomID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("tenants: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// HashSecret is the stored form of a high-entropy secret: SHA-256, hex.
// High-entropy secrets need no slow hash (docs/RULES.md §5).
func HashSecret(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

var (
	ordMu   sync.Mutex
	ordLast uint64
)

// OrderedID returns a 32-hex-char id that sorts by creation time (ms
// timestamp, a per-process counter, then randomness), for audit events and
// deliveries where newest-first paging uses the id.
func OrderedID(t time.Time) string {
	ms := uint64(t.UnixMilli())
	ordMu.Lock()
	if ms <= ordLast>>16 {
		ordLast++
	} else {
		ordLast = ms << 16
	}
	seq := ordLast
	ordMu.Unlock()
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], seq)
	if _, err := rand.Read(b[8:]); err != nil {
		panic("tenants: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// ETag is a strong entity tag of a document (RFC 9110 §8.8.3).
func ETag(doc []byte) string {
	sum := sha256.Sum256(doc)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}
