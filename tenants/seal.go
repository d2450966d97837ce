package tenants

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Sealer seals secrets at rest with AES-256-GCM (docs/RULES.md §5). The first key
// seals; every key opens, found by the key id in the sealed value, so keys
// can rotate: add a new key first in GATEHOUSE_SECRET_KEY, keep the old ones.
//
// Sealed form: "v1.<kid>.<base64url(nonce||ciphertext)>". The caller's
// context string is bound as associated data, so a value sealed for one row
// cannot be replayed into another.
type Sealer struct {
	keys  map[string]cipher.AEAD
	first string
	raw   [][]byte // every key in configured order, for MAC key derivation
}

// ErrUnseal means a sealed value could not be opened (wrong key, tampered, or
// moved from the place it was sealed for).
var ErrUnseal = errors.New("sealed value cannot be opened")

// NewSealer builds a Sealer from raw 32-byte keys; keys[0] seals.
func NewSealer(keys [][]byte) (*Sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("at least one secret key is required")
	}
	s := &Sealer{keys: map[string]cipher.AEAD{}}
	for i, k := range keys {
		if len(k) != 32 {
			return nil, fmt.Errorf("secret key %d is %d bytes; AES-256 needs 32", i+1, len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		id := KeyID(k)
		s.keys[id] = aead
		if i == 0 {
			s.first = id
		}
		s.raw = append(s.raw, append([]byte(nil), k...))
	}
	return s, nil
}

// ParseSecretKeys decodes base64 (std or url, padded or not) keys.
func ParseSecretKeys(encoded []string) ([][]byte, error) {
	var out [][]byte
	for i, e := range encoded {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		var b []byte
		var err error
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err = enc.DecodeString(e); err == nil {
				break
			}
		}
		if err != nil {
			return nil, fmt.Errorf("GATEHOUSE_SECRET_KEY entry %d is not base64", i+1)
		}
		if len(b) != 32 {
			return nil, fmt.Errorf("GATEHOUSE_SECRET_KEY entry %d decodes to %d bytes; want 32", i+1, len(b))
		}
		out = append(out, b)
	}
	return out, nil
}

// KeyID names a key without revealing it.
func KeyID(k []byte) string {
	h := sha256.Sum256(append([]byte("gatehouse-seal-kid:"), k...))
	return hex.EncodeToString(h[:4])
}

// Seal encrypts plaintext bound to context.
func (s *Sealer) Seal(plaintext, context string) (string, error) {
	aead := s.keys[s.first]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	ct := aead.Seal(nonce, nonce, []byte(plaintext), []byte(context))
	return "v1." + s.first + "." + base64.RawURLEncoding.EncodeToString(ct), nil
}

// Open decrypts a value sealed for context. "" opens to "".
func (s *Sealer) Open(sealed, context string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	parts := strings.SplitN(sealed, ".", 3)
	if len(parts) != 3 || parts[0] != "v1" {
		return "", ErrUnseal
	}
	aead, ok := s.keys[parts[1]]
	if !ok {
		return "", fmt.Errorf("%w: key %s is not configured", ErrUnseal, parts[1])
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(raw) < aead.NonceSize() {
		return "", ErrUnseal
	}
	pt, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(context))
	if err != nil {
		return "", ErrUnseal
	}
	return string(pt), nil
}

// CurrentKeyID is the id of the key that seals new values (the first of
// GATEHOUSE_SECRET_KEY); workers re-seal when it changes.
func (s *Sealer) CurrentKeyID() string { return s.first }

// NeedsReseal reports whether sealed was sealed with a key other than the
// current first key (for background re-sealing after rotation).
func (s *Sealer) NeedsReseal(sealed string) bool {
	parts := strings.SplitN(sealed, ".", 3)
	return len(parts) == 3 && parts[1] != s.first
}

// MAC returns HMAC-SHA256 of data under a key derived from the current
// (first) sealing key and purpose. Used where a value must be re-derivable
// but never stored (a rotated refresh token's successor, CSRF tokens, list
// cursors). New values always use the first key; check values with
// VerifyMAC, or MACs where a derived value is looked up, so that a key
// rotation (a new key first in GATEHOUSE_SECRET_KEY, the old one kept)
// leaves live values valid.
func (s *Sealer) MAC(purpose string, data []byte) []byte {
	return macUnder(s.raw[0], purpose, data)
}

// MACs returns the MAC of data under every configured key, the current key
// first: the candidates a value made before a rotation may equal.
func (s *Sealer) MACs(purpose string, data []byte) [][]byte {
	out := make([][]byte, len(s.raw))
	for i, k := range s.raw {
		out[i] = macUnder(k, purpose, data)
	}
	return out
}

// minMACLen is the shortest (truncated) MAC VerifyMAC accepts: 96 bits.
const minMACLen = 12

// VerifyMAC reports whether mac is the MAC of data for purpose under any
// configured key. A MAC truncated to its first n bytes (n >= 12) is
// compared on those bytes. Comparisons are constant-time.
func (s *Sealer) VerifyMAC(purpose string, data, mac []byte) bool {
	if len(mac) < minMACLen || len(mac) > sha256.Size {
		return false
	}
	ok := false
	for _, m := range s.MACs(purpose, data) {
		if hmac.Equal(m[:len(mac)], mac) {
			ok = true
		}
	}
	return ok
}

// MACText is the MAC as text: unpadded base64url of its first n bytes
// (n <= 0 or n > 32: all 32).
func (s *Sealer) MACText(purpose string, data []byte, n int) string {
	m := s.MAC(purpose, data)
	if n > 0 && n < len(m) {
		m = m[:n]
	}
	return base64.RawURLEncoding.EncodeToString(m)
}

// VerifyMACText is VerifyMAC for a value made by MACText.
func (s *Sealer) VerifyMACText(purpose string, data []byte, text string) bool {
	mac, err := base64.RawURLEncoding.DecodeString(text)
	return err == nil && s.VerifyMAC(purpose, data, mac)
}

func macUnder(key []byte, purpose string, data []byte) []byte {
	k := hmac.New(sha256.New, key)
	k.Write([]byte("gatehouse-mac:" + purpose))
	m := hmac.New(sha256.New, k.Sum(nil))
	m.Write(data)
	return m.Sum(nil)
}
