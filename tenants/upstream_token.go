package tenants

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// UpstreamToken is a user's token at the tenant's upstream IdP. It is kept
// sealed on the grant (Grant.UpstreamTokenSealed) for the gateway
// (forward_upstream_token) and the upstream-refresh worker.
type UpstreamToken struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	Expiry       time.Time `json:"expiry,omitempty"`
}

// Seal contexts bind a sealed value to the row it was sealed for, so a
// sealed value copied to another row does not open.

// UpstreamTokenContext is the seal context of Grant.UpstreamTokenSealed.
func UpstreamTokenContext(tenantID, grantID string) string {
	return "grant_upstream_token:" + tenantID + ":" + grantID
}

// PendingUpstreamTokenContext is the seal context of the upstream token held
// on a pending authorization until its code is issued.
func PendingUpstreamTokenContext(tenantID, pendingID string) string {
	return "pending_upstream_token:" + tenantID + ":" + pendingID
}

// PendingVerifierContext is the seal context of the upstream PKCE verifier
// of a pending authorization.
func PendingVerifierContext(tenantID, pendingID string) string {
	return "pending_upstream_verifier:" + tenantID + ":" + pendingID
}

// SealUpstreamToken seals t for the grant (tenantID, grantID).
func SealUpstreamToken(s *Sealer, tenantID, grantID string, t *UpstreamToken) (string, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return "", err
	}
	return s.Seal(string(b), UpstreamTokenContext(tenantID, grantID))
}

// OpenUpstreamToken opens the upstream token sealed on g.
func OpenUpstreamToken(s *Sealer, g *Grant) (*UpstreamToken, error) {
	raw, err := s.Open(g.UpstreamTokenSealed, UpstreamTokenContext(g.TenantID, g.ID))
	if err != nil {
		return nil, fmt.Errorf("open upstream token: %w", err)
	}
	var t UpstreamToken
	if err := json.Unmarshal([]byte(raw), &t); err != nil {
		return nil, fmt.Errorf("decode upstream token: %w", err)
	}
	return &t, nil
}

// GrantRevokedPayload is the TopicGrantRevoked bus payload.
func GrantRevokedPayload(tenantID, grantID string) string { return tenantID + " " + grantID }

// ParseGrantRevoked reads a TopicGrantRevoked payload.
func ParseGrantRevoked(payload string) (tenantID, grantID string, ok bool) {
	tenantID, grantID, ok = strings.Cut(payload, " ")
	return tenantID, grantID, ok && tenantID != "" && grantID != ""
}
