// Package dpop verifies DPoP proofs (RFC 9449): at the token endpoint,
// which binds the tokens it issues to the proof's key (cnf.jkt), and at the
// gateway, which checks that a DPoP-bound access token comes with a fresh
// proof by the same key for this request. Replay of a proof's jti is
// refused by the caller's single-use store, shared by every replica.
package dpop

import (
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/tenants"
)

// Typ is the JOSE typ of a proof (RFC 9449 §4.2).
const Typ = "dpop+jwt"

// Proof windows: a proof is accepted MaxAge after its iat and Skew before
// (client clocks); its jti is remembered until both have passed.
const (
	MaxAge = 2 * time.Minute
	Skew   = 30 * time.Second
)

// Errors name why a proof was refused (the error_description).
var (
	ErrMalformed = errors.New("DPoP proof is not a JWT signed with an asymmetric algorithm")
	ErrType      = errors.New("DPoP proof typ must be dpop+jwt")
	ErrKey       = errors.New("DPoP proof jwk must be a public asymmetric key")
	ErrSignature = errors.New("DPoP proof signature does not verify with its jwk")
	ErrClaims    = errors.New("DPoP proof must carry jti, htm, htu and iat")
	ErrMethod    = errors.New("DPoP proof htm does not match the request method")
	ErrURL       = errors.New("DPoP proof htu does not match the request URL")
	ErrTime      = errors.New("DPoP proof iat is outside the accepted window")
	ErrATH       = errors.New("DPoP proof ath does not match the access token")
	ErrReplayed  = errors.New("DPoP proof was already used (jti)")
	ErrKeyBound  = errors.New("DPoP proof key is not the key the token is bound to")
)

// Proof is a verified proof.
type Proof struct {
	JKT string // RFC 7638 SHA-256 thumbprint of the proof's key, base64url
	JTI string
	IAT time.Time
}

// ReplayKey is the single-use key of the proof (tenants.UsedJTI), and
// Expires how long it must be kept.
func (p *Proof) ReplayKey() string  { return tenants.JTIKey("dpop", p.JKT, p.JTI) }
func (p *Proof) Expires() time.Time { return p.IAT.Add(MaxAge + Skew) }

type claims struct {
	JTI string   `json:"jti"`
	HTM string   `json:"htm"`
	HTU string   `json:"htu"`
	IAT *float64 `json:"iat"`
	ATH string   `json:"ath"`
}

// Check is what the proof must match: the request's method, a URL test for
// htu (query and fragment already removed, RFC 9449 §4.3 step 9), and the
// access token it accompanies ("" at the token endpoint).
type Check struct {
	Method      string
	URLMatches  func(htu string) bool
	AccessToken string
	Now         time.Time
}

// Verify checks one proof (RFC 9449 §4.3, steps 2–11; replay is the caller's).
func Verify(raw string, c Check) (*Proof, error) {
	if raw == "" || len(raw) > 8<<10 {
		return nil, ErrMalformed
	}
	jws, err := jose.ParseSigned(raw, tenants.AsymmetricAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, ErrMalformed
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, Typ) {
		return nil, ErrType
	}
	jwk := h.JSONWebKey
	if jwk == nil || !jwk.Valid() || !jwk.IsPublic() {
		return nil, ErrKey
	}
	if _, sym := jwk.Key.([]byte); sym {
		return nil, ErrKey
	}
	payload, err := jws.Verify(jwk.Key)
	if err != nil {
		return nil, ErrSignature
	}
	var cl claims
	if json.Unmarshal(payload, &cl) != nil || cl.JTI == "" || cl.HTM == "" || cl.HTU == "" || cl.IAT == nil {
		return nil, ErrClaims
	}
	if cl.HTM != c.Method {
		return nil, ErrMethod
	}
	u, err := url.Parse(cl.HTU)
	if err != nil {
		return nil, ErrURL
	}
	u.RawQuery, u.Fragment, u.ForceQuery = "", "", false
	if !c.URLMatches(u.String()) {
		return nil, ErrURL
	}
	iat := time.Unix(int64(*cl.IAT), 0)
	if iat.After(c.Now.Add(Skew)) || c.Now.After(iat.Add(MaxAge)) {
		return nil, ErrTime
	}
	if c.AccessToken != "" && cl.ATH != ATH(c.AccessToken) {
		return nil, ErrATH
	}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, ErrKey
	}
	return &Proof{JKT: base64.RawURLEncoding.EncodeToString(tp), JTI: cl.JTI, IAT: iat}, nil
}

// ATH is the access token hash of a proof (RFC 9449 §4.2).
func ATH(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
