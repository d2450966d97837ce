package oauth

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/dpop"
)

// DPoP at the token endpoint (RFC 9449 §5): a valid proof binds the access
// token to the proof's key (cnf.jkt, token_type DPoP) and, for a public
// client, the refresh token too; a refresh of a bound refresh token needs a
// proof by the same key.

// ErrInvalidDPoPProof is RFC 9449 §5's error code.
const ErrInvalidDPoPProof = "invalid_dpop_proof"

type dpopKey struct{}

// tokenDPoP checks the DPoP header values of a token request and returns
// ctx carrying the proof's key thumbprint (none: ctx unchanged).
func (s *Server) tokenDPoP(ctx context.Context, site tenants.Site, proofs []string) (context.Context, *Error) {
	switch len(proofs) {
	case 0:
		if site.Tenant.Settings.DPoPRequired {
			return ctx, newErr(ErrInvalidDPoPProof, "this server issues DPoP-bound tokens only: send a DPoP proof (RFC 9449)")
		}
		return ctx, nil
	case 1:
	default:
		return ctx, newErr(ErrInvalidDPoPProof, "send exactly one DPoP header")
	}
	now := s.now()
	p, err := dpop.Verify(proofs[0], dpop.Check{Method: "POST", Now: now, URLMatches: func(u string) bool {
		// The token endpoint of the metadata, or the 2025-03-26 default one.
		return u == site.Endpoint("token") || u == site.Issuer+"/token"
	}})
	if err != nil {
		return ctx, newErr(ErrInvalidDPoPProof, "%s", err.Error())
	}
	if err := s.Store.UseJTI(ctx, site.Tenant.ID, p.ReplayKey(), p.Expires(), now); err != nil {
		if errors.Is(err, tenants.ErrReplayed) {
			return ctx, newErr(ErrInvalidDPoPProof, "%s", dpop.ErrReplayed.Error())
		}
		return ctx, serverError(err)
	}
	return context.WithValue(ctx, dpopKey{}, p.JKT), nil
}

// dpopJKT is the proven key of this token request, "" without DPoP.
func dpopJKT(ctx context.Context) string {
	jkt, _ := ctx.Value(dpopKey{}).(string)
	return jkt
}

// rtJKT is the key a new refresh token is bound to: a public client's
// proven key (a confidential client's refresh token is already bound to its
// credentials, RFC 9449 §5).
func rtJKT(ctx context.Context, c *tenants.Client) string {
	if confidential(c) {
		return ""
	}
	return dpopJKT(ctx)
}
