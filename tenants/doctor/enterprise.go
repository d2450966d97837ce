package doctor

import (
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/tenants"
)

// enterpriseWords say why an ID-JAG was refused, in plain words.
var enterpriseWords = map[string]string{
	tenants.ReasonUntrustedIssuer:  "its issuer is not a trusted enterprise IdP of this tenant",
	tenants.ReasonWrongAud:         "its audience (aud) is not this connector's issuer for this URL mode",
	tenants.ReasonWrongResource:    "its resource is not this connector's URL",
	tenants.ReasonReplayed:         "it was already used (jti)",
	tenants.ReasonExpired:          "it had expired",
	tenants.ReasonNotYetValid:      "it was issued in the future (clock skew?)",
	tenants.ReasonLifetime:         "its lifetime is longer than allowed",
	tenants.ReasonClientMismatch:   "it was issued to another client",
	tenants.ReasonClientNotAllowed: "the client is not in the IdP's allowed_clients",
	tenants.ReasonScopeWidened:     "the request asked more scope than it carries",
	tenants.ReasonWrongType:        "it is not an ID-JAG (typ)",
	tenants.ReasonMalformed:        "it is not a JWT signed with an asymmetric algorithm",
	tenants.ReasonBadSignature:     "its signature does not verify with the IdP's keys",
	tenants.ReasonUnknownKey:       "it names a key the IdP does not publish",
	tenants.ReasonKeysUnavailable:  "the IdP's keys could not be fetched",
	tenants.ReasonMissingClaim:     "it lacks sub, jti, exp, iat or client_id",
}

// enterpriseLabel labels token.issued events of the enterprise path
// (jwt-bearer with an ID-JAG, docs/RULES.md §11); "" for other grants.
func enterpriseLabel(ev tenants.AuditEvent) string {
	if detailString(ev, tenants.DetailGrantProfile) != tenants.GrantProfileIDJAG {
		return ""
	}
	iss := detailString(ev, tenants.DetailEnterpriseIssuer)
	if ev.Outcome == tenants.OutcomeFailure {
		l := "Enterprise ID-JAG refused"
		if iss != "" {
			l += " (from " + iss + ")"
		}
		if w, ok := enterpriseWords[ev.Reason]; ok {
			l += ": " + w
		}
		return l
	}
	return "Access token issued from an enterprise ID-JAG (SSO at " + iss + ")"
}

// enterpriseRefused is the problem of a client whose only attempt was a
// refused ID-JAG (the enterprise path has no authorize, login or consent
// step: the steps before the token are skipped, not missing).
func (d *diagnosis) enterpriseRefused(att []tenants.AuditEvent) *Problem {
	var bad *tenants.AuditEvent
	for i := range att {
		if att[i].Action == tenants.ActTokenIssued && att[i].Outcome == tenants.OutcomeFailure && enterpriseLabel(att[i]) != "" {
			bad = &att[i]
		}
	}
	if bad == nil {
		return nil
	}
	d.markBeforeToken(StateSkipped)
	d.mark(StepToken, StateFailed, bad.Time)
	return newProblem(ProblemEnterpriseRefused, bad.Time, fmt.Sprintf("client %s presented an ID-JAG at %s: %s.",
		quoteName(d.name), fmtTime(bad.Time, d.in.Now), strings.TrimPrefix(enterpriseLabel(*bad), "Enterprise ID-JAG refused")))
}
