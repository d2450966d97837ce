package tenants

import (
	"context"
	"time"
)

// Grant revocation reasons of the user-level rules (docs/SECURITY.md §10,
// §11), as recorded on the grant and in its grant.revoked event.
const (
	// RevokedIdPChanged: the tenant changed the IdP type or issuer the user
	// signed in with; the same subject may be another person now.
	RevokedIdPChanged = "idp_changed"
	// RevokedNoLongerAllowed: the tenant narrowed allowed_domains or
	// allowed_orgs and the user no longer qualifies.
	RevokedNoLongerAllowed = "no_longer_allowed"
	// RevokedUserAccess: an admin revoked all of the user's access.
	RevokedUserAccess = "user_access_revoked"
	// RevokedUpstreamRefused: the upstream IdP refused to refresh the
	// user's token for good (invalid_grant), or the user no longer passes
	// the sign-in rules at refresh (offboarded).
	RevokedUpstreamRefused = "upstream_refused"

	// Reasons of the authorization server and the admin surfaces.
	RevokedClientDeleted = "client_deleted"   // the grant's client was deleted
	RevokedByAdmin       = "revoked_by_admin" // revoked through the provisioning API
	RevokedInConsole     = "console"          // revoked by a team member in the console
	RevokedByClient      = "token_revoked"    // the client revoked its token (RFC 7009)
	RevokedCodeReused    = "code_reused"      // its authorization code was redeemed twice (RFC 6749 §4.1.2)
	RevokedRefreshReused = "refresh_reused"   // a rotated refresh token was replayed (RFC 9700 §4.14.2)
)

// revokedWhy says each revocation reason in words a customer reads.
var revokedWhy = map[string]string{
	RevokedIdPChanged:      "the team changed its identity provider",
	RevokedNoLongerAllowed: "the person no longer passes the team's sign-in rules",
	RevokedUserAccess:      "all of the person's access was revoked",
	RevokedUpstreamRefused: "the identity provider refused to renew the sign-in",
	RevokedClientDeleted:   "the client was deleted",
	RevokedByAdmin:         "revoked through the API",
	RevokedInConsole:       "revoked in the console",
	RevokedByClient:        "the client revoked its token",
	RevokedCodeReused:      "its authorization code was used twice",
	RevokedRefreshReused:   "an old refresh token was used again",
}

// RevokedWhy is the grant's revocation reason in words; a reason without
// words is shown as its code.
func (g Grant) RevokedWhy() string {
	if w, ok := revokedWhy[g.RevokedReason]; ok {
		return w
	}
	return g.RevokedReason
}

// RevokeUserAccess ends all of a user's access: every live grant is revoked
// (each audited as grant.revoked with reason and announced on the bus, so
// gateways drop cached liveness at once) and the user's consents and
// pending authorizations are forgotten, so a new authorization asks again.
// It returns the number of grants revoked.
func RevokeUserAccess(ctx context.Context, s Store, bus Bus, a Auditor, tenantID, userID, reason string) (int, error) {
	return RevokeUserAccessThrough(ctx, s, bus, a, tenantID, userID, reason, "")
}

// RevokeUserAccessThrough is RevokeUserAccess for a caller that found the
// user out through grant through (the upstream-refresh worker): that grant
// is revoked last, after the consents are gone, so a pass that fails half
// way leaves it live — still due — and the next pass ends the rest.
// Revoked first, a failure after it would leave the user's other grants
// live with nothing left to retry them.
func RevokeUserAccessThrough(ctx context.Context, s Store, bus Bus, a Auditor, tenantID, userID, reason, through string) (int, error) {
	gs, err := s.ListLiveGrantsForUser(ctx, tenantID, userID, time.Now())
	if err != nil {
		return 0, err
	}
	last := false
	for _, g := range gs {
		if g.ID == through {
			last = true
			continue
		}
		if err := RevokeGrant(ctx, s, bus, a, tenantID, g.ID, reason); err != nil {
			return 0, err
		}
	}
	if err := s.DeleteConsentsForUser(ctx, tenantID, userID); err != nil {
		return len(gs), err
	}
	if last {
		if err := RevokeGrant(ctx, s, bus, a, tenantID, through, reason); err != nil {
			return len(gs) - 1, err
		}
	}
	return len(gs), nil
}

// RevokeUnadmitted ends the access of every user of t whom the tenant's
// IdP configuration no longer admits (IdPConfig.Admits): their IdP type was
// removed or its issuer changed (§10), or allowed_domains/allowed_orgs
// narrowed past them (§11). It returns how many users and grants it
// revoked.
func (p *Provisioner) RevokeUnadmitted(ctx context.Context, t *Tenant) (users, grants int, err error) {
	cfgs, err := p.Store.ListIdPs(ctx, t.ID)
	if err != nil {
		return 0, 0, err
	}
	byType := map[string]*IdPConfig{}
	for i := range cfgs {
		byType[cfgs[i].Type] = &cfgs[i]
	}
	for items, err := range Pages(200, func(pg Page) ([]User, string, error) { return p.Store.ListUsers(ctx, t.ID, pg) }) {
		if err != nil {
			return users, grants, err
		}
		for i := range items {
			u := &items[i]
			if u.IdP == IdPEnterprise {
				continue // admitted by the enterprise IdP list (DeleteEnterpriseIdP)
			}
			cfg := byType[u.IdP]
			if cfg != nil && cfg.Admits(u) {
				continue
			}
			reason := RevokedNoLongerAllowed
			if cfg == nil || u.IdPIssuer != cfg.Issuer() {
				reason = RevokedIdPChanged
			}
			n, err := RevokeUserAccess(ctx, p.Store, p.Bus, p.Auditor, t.ID, u.ID, reason)
			if err != nil {
				return users, grants, err
			}
			if n > 0 {
				users++
				grants += n
			}
		}
	}
	return users, grants, nil
}

// RevokeUser is the admin's "revoke all of this user's access" (API and
// console): every live grant of the user ends and their consents are
// forgotten; audited as admin.user.revoked beside each grant.revoked.
// ErrNotFound for a user the tenant does not have.
func (p *Provisioner) RevokeUser(ctx context.Context, t *Tenant, userID string) (int, error) {
	if _, err := p.Store.GetUser(ctx, t.ID, userID); err != nil {
		return 0, err
	}
	n, err := RevokeUserAccess(ctx, p.Store, p.Bus, p.Auditor, t.ID, userID, RevokedUserAccess)
	if err != nil {
		return n, err
	}
	p.audit(ctx, t.ID, "admin.user.revoked", JSONMap{DetailUserID: userID, DetailRevokedGrants: n})
	return n, nil
}
