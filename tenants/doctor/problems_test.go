package doctor_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/doctor"
)

// Every code of the problem table is reachable from audit events, and the
// problem the diagnosis emits carries exactly the table's words (headline,
// fix, step in words) with the tenant filled in. A code the table describes
// but no scenario reaches fails, as does a scenario whose words are not the
// table's.
func TestEveryProblemCodeIsReachableWithItsWords(t *testing.T) {
	auth := func(b *events) {
		b.add(0, tenants.ActAuthorizeStarted, "c1")
		b.add(time.Second, tenants.ActLoginSucceeded, "c1")
	}
	denied := func(r string) func(*events) {
		return func(b *events) {
			b.flow("c1")
			b.add(time.Second, tenants.ActMCPDenied, "c1", reason(r))
		}
	}
	allCalls := &tenants.Tenant{ID: "t1", Slug: "acme", Settings: tenants.Settings{AuditMCPCalls: tenants.AuditMCPAll}}
	cases := []struct {
		name   string
		code   string
		other  bool // the code's second case
		tenant *tenants.Tenant
		build  func(*events)
	}{
		{"registered only", doctor.ProblemAuthorizeNotStarted, false, nil, func(b *events) { b.add(0, tenants.ActClientRegistered, "c1") }},
		{"authorize refused", doctor.ProblemAuthorizeRefused, false, nil, func(b *events) {
			b.add(0, tenants.ActAuthorizeStarted, "c1", failed(), reason("invalid_request"))
		}},
		{"login failed", doctor.ProblemLoginFailed, false, nil, func(b *events) {
			b.add(0, tenants.ActAuthorizeStarted, "c1")
			b.add(time.Second, tenants.ActLoginFailed, "c1", failed(), reason("idp_error"))
		}},
		{"login never finished", doctor.ProblemLoginNotCompleted, false, nil, func(b *events) { b.add(0, tenants.ActAuthorizeStarted, "c1") }},
		{"consent denied", doctor.ProblemConsentDenied, false, nil, func(b *events) {
			auth(b)
			b.add(2*time.Second, tenants.ActConsentDenied, "c1")
		}},
		{"no code", doctor.ProblemCodeNotIssued, false, nil, auth},
		{"token refused", doctor.ProblemTokenNotIssued, false, nil, func(b *events) {
			auth(b)
			b.add(2*time.Second, tenants.ActCodeIssued, "c1")
			b.add(3*time.Second, tenants.ActTokenIssued, "c1", failed(), reason("invalid_grant"))
		}},
		{"code never exchanged", doctor.ProblemTokenNotIssued, true, nil, func(b *events) {
			auth(b)
			b.add(2*time.Second, tenants.ActCodeIssued, "c1")
		}},
		{"ID-JAG refused", doctor.ProblemEnterpriseRefused, false, nil, func(b *events) {
			b.add(0, tenants.ActTokenIssued, "c1", idjag("https://idp.example"), failed(), reason(tenants.ReasonUntrustedIssuer))
		}},
		{"no request, every call audited", doctor.ProblemNoMCPRequest, false, allCalls, func(b *events) { b.flow("c1") }},
		{"no request recorded", doctor.ProblemNoMCPRequest, true, nil, func(b *events) { b.flow("c1") }},
		{"no header", doctor.ProblemNoAuthHeader, false, nil, denied(tenants.ReasonNoHeader)},
		{"wrong audience", doctor.ProblemWrongAudience, false, nil, denied(tenants.ReasonWrongAud)},
		{"expired", doctor.ProblemExpired, false, nil, denied(tenants.ReasonExpired)},
		{"revoked", doctor.ProblemRevoked, false, nil, denied(tenants.ReasonRevoked)},
		{"unknown key", doctor.ProblemUnknownKey, false, nil, denied(tenants.ReasonUnknownKey)},
		{"bad token", doctor.ProblemBadToken, false, nil, denied(tenants.ReasonMalformed)},
		{"DPoP proof missing", doctor.ProblemBadToken, false, nil, denied(tenants.ReasonDPoP)},
		{"scope", doctor.ProblemScope, false, nil, denied(tenants.ReasonScope)},
		{"upstream failed", doctor.ProblemUpstreamFailed, false, nil, func(b *events) {
			b.flow("c1")
			b.add(time.Second, tenants.ActUpstreamFailed, "c1", failed(), reason("connection refused"))
		}},
		{"refresh reused", doctor.ProblemRefreshReused, false, nil, func(b *events) {
			b.flow("c1")
			b.add(time.Second, tenants.ActRefreshReused, "c1", failed())
		}},
	}
	reached := map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b events
			tc.build(&b)
			tn := tc.tenant
			if tn == nil {
				tn = tenant
			}
			r := doctor.Diagnose(doctor.Input{Tenant: tn, Now: t0.Add(time.Hour), Events: b.list, Clients: clients("c1", "Claude")})
			c := only(t, r, "c1")
			p := c.Problem
			if p == nil || p.Code != tc.code {
				t.Fatalf("problem %+v, want %s", p, tc.code)
			}
			reached[p.Code] = true
			title, fix, otherTitle, otherFix, ok := doctor.ProblemWords(p.Code)
			if tc.other {
				title, fix = otherTitle, otherFix
			}
			if !ok || p.Title != title || p.Detail == "" {
				t.Errorf("title %q, want the table's %q; detail %q", p.Title, title, p.Detail)
			}
			// The fix is the table's (or a reason-specific one of the same
			// entry), with the tenant's slug filled in.
			if strings.Contains(p.Fix, "{slug}") || p.Fix == "" ||
				(p.Code != doctor.ProblemLoginFailed && p.Fix != strings.ReplaceAll(fix, "{slug}", "acme")) {
				t.Errorf("fix %q, want the table's %q for tenant acme", p.Fix, fix)
			}
			if p.StepLabel == "" || p.StepLabel != doctor.StepLabel(p.Step) {
				t.Errorf("step %q labelled %q", p.Step, p.StepLabel)
			}
			if c.StatusLabel != doctor.StatusLabel(c.Status) || r.StatusLabel != doctor.StatusLabel(r.Status) || c.StatusLabel == "" {
				t.Errorf("status labels %q/%q for %s/%s", c.StatusLabel, r.StatusLabel, c.Status, r.Status)
			}
			for _, s := range c.Steps {
				if s.StateLabel == "" || s.StateLabel != doctor.StateLabel(s.State) {
					t.Errorf("step %s state %s labelled %q", s.Step, s.State, s.StateLabel)
				}
			}
		})
	}
	for _, code := range doctor.ProblemCodes() {
		if !reached[code] {
			t.Errorf("no scenario reaches %s", code)
		}
	}
	if !slices.Contains(doctor.ProblemCodes(), doctor.ProblemScope) {
		t.Fatal("ProblemCodes lists nothing")
	}
}
