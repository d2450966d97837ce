package access

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/dpop"
)

// DPoP at the connector URL (RFC 9449 §7): a DPoP-bound access token
// (cnf.jkt) is accepted only with the DPoP scheme and a fresh proof by the
// bound key for this method and connector URL, carrying the token's hash;
// each proof once, across replicas. A bound token sent as Bearer, or (with
// the tenant's dpop_required) an unbound token, is refused.

// ErrCodeInvalidDPoPProof is RFC 9449 §7.1's error code.
const ErrCodeInvalidDPoPProof = "invalid_dpop_proof"

// SchemeDPoP names the DPoP authentication scheme.
const SchemeDPoP = "DPoP"

// Request is what authentication reads from an HTTP request.
type Request struct {
	Authorization []string // Authorization header values
	DPoP          []string // DPoP header values
	Method        string
}

// jtiUser is the single-use store (tenants.EnterpriseStore.UseJTI).
type jtiUser interface {
	UseJTI(ctx context.Context, tenantID, key string, expiresAt, now time.Time) error
}

// AuthenticateRequest is Authenticate for the Bearer and DPoP schemes.
func (v *Verifier) AuthenticateRequest(ctx context.Context, site tenants.Site, r Request) (*Principal, *Denial, error) {
	required := site.Tenant.Settings.DPoPRequired
	if len(r.Authorization) == 1 {
		if scheme, tok, _ := strings.Cut(strings.TrimSpace(r.Authorization[0]), " "); strings.EqualFold(scheme, SchemeDPoP) {
			return v.authenticateDPoP(ctx, site, strings.TrimSpace(tok), r)
		}
	}
	p, d, err := v.Authenticate(ctx, site, r.Authorization)
	switch {
	case err != nil:
		return nil, nil, err
	case d != nil:
		d.OfferDPoP = required
		return nil, d, nil
	case p.Claims.Confirmation != nil:
		// RFC 9449 §7.2: a bound token presented as a bearer token.
		d := dpopDeny(ErrCodeInvalidToken, "this access token is DPoP-bound: send it with the DPoP scheme and a DPoP proof", p)
		d.Scheme, d.OfferDPoP = "", true
		return nil, d, nil
	case required:
		d := dpopDeny(ErrCodeInvalidToken, "this connector accepts DPoP-bound access tokens only (dpop_required)", p)
		d.Scheme, d.OfferDPoP = "", true
		return nil, d, nil
	}
	return p, nil, nil
}

func (v *Verifier) authenticateDPoP(ctx context.Context, site tenants.Site, tok string, r Request) (*Principal, *Denial, error) {
	p, d, err := v.Authenticate(ctx, site, []string{"Bearer " + tok})
	if err != nil {
		return nil, nil, err
	}
	if d != nil {
		d.Scheme = SchemeDPoP
		return nil, d, nil
	}
	if p.Claims.Confirmation == nil || p.Claims.Confirmation.JKT == "" {
		return nil, dpopDeny(ErrCodeInvalidToken, "the access token is not DPoP-bound; send it with the Bearer scheme", p), nil
	}
	if len(r.DPoP) != 1 {
		return nil, dpopDeny(ErrCodeInvalidDPoPProof, "send exactly one DPoP proof with a DPoP-bound token", p), nil
	}
	now := v.now()
	proof, err := dpop.Verify(r.DPoP[0], dpop.Check{Method: r.Method, URLMatches: site.MatchesResource, AccessToken: tok, Now: now})
	if err != nil {
		return nil, dpopDeny(ErrCodeInvalidDPoPProof, err.Error(), p), nil
	}
	if proof.JKT != p.Claims.Confirmation.JKT {
		return nil, dpopDeny(ErrCodeInvalidDPoPProof, dpop.ErrKeyBound.Error(), p), nil
	}
	store, ok := v.store.(jtiUser)
	if !ok {
		return nil, nil, errors.New("access: the store cannot record DPoP proof identifiers")
	}
	if err := store.UseJTI(ctx, site.Tenant.ID, proof.ReplayKey(), proof.Expires(), now); err != nil {
		if errors.Is(err, tenants.ErrReplayed) {
			return nil, dpopDeny(ErrCodeInvalidDPoPProof, dpop.ErrReplayed.Error(), p), nil
		}
		return nil, nil, err
	}
	return p, nil, nil
}

func dpopDeny(code, desc string, p *Principal) *Denial {
	d := deny(http.StatusUnauthorized, tenants.ReasonDPoP, code, desc)
	d.Scheme = SchemeDPoP
	d.ClientID, d.Subject = p.Claims.ClientID, p.Claims.Subject
	return d
}

// Challenges are the WWW-Authenticate values of d: the Bearer challenge
// (unless the error is the DPoP scheme's), and a DPoP challenge naming the
// accepted algorithms (RFC 9449 §7.1) — carrying the error when it is the
// DPoP scheme's — whenever DPoP is involved or required.
func (d *Denial) Challenges(site tenants.Site) []string {
	var out []string
	if d.Scheme != SchemeDPoP {
		out = append(out, d.Challenge(site))
	}
	if d.Scheme == SchemeDPoP || d.OfferDPoP || site.Tenant.Settings.DPoPRequired {
		bearer := *d
		if d.Scheme != SchemeDPoP {
			bearer.Code, bearer.Description = "", ""
		}
		ch := bearer.Challenge(site) // the same attributes, under the DPoP scheme
		out = append(out, SchemeDPoP+` algs="`+strings.Join(tenants.AlgNames(), " ")+`", `+strings.TrimPrefix(ch, "Bearer "))
	}
	return out
}
