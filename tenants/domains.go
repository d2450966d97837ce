package tenants

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// DomainChallengeLabel prefixes the DNS name whose TXT record proves a
// tenant controls its custom domain.
const DomainChallengeLabel = "_gatehouse-challenge."

// DomainChallenge is the TXT record that verifies a custom domain.
type DomainChallenge struct {
	Type  string `json:"type"`  // TXT
	Name  string `json:"name"`  // _gatehouse-challenge.{domain}
	Value string `json:"value"` // gatehouse-verification=…
}

// ChallengeFor is the record tenantID must publish to verify domain. The
// value binds the tenant: the DNS owner's record verifies the tenant it was
// made for, never another tenant claiming the same name. It is not a
// secret (proof comes from controlling the zone), so it is derived, not
// stored, and survives key rotation.
func ChallengeFor(tenantID, domain string) DomainChallenge {
	domain = strings.TrimSuffix(strings.ToLower(domain), ".")
	sum := sha256.Sum256([]byte("gatehouse-domain-challenge\x00" + tenantID + "\x00" + domain))
	return DomainChallenge{Type: "TXT", Name: DomainChallengeLabel + domain,
		Value: "gatehouse-verification=" + base64.RawURLEncoding.EncodeToString(sum[:20])}
}
