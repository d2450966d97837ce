package doctor_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/doctor"
)

func idjag(iss string) opt {
	return details(tenants.JSONMap{tenants.DetailGrantType: tenants.GrantJWTBearer, tenants.DetailGrantProfile: tenants.GrantProfileIDJAG,
		tenants.DetailEnterpriseIssuer: iss})
}

// The enterprise path (docs/RULES.md §11) has no authorize, login, consent or
// code step: the timeline names the ID-JAG and its IdP, the funnel marks
// those steps skipped, and a refused ID-JAG is the problem, in words.
func TestEnterprisePathInTheTimeline(t *testing.T) {
	var b events
	b.add(0, tenants.ActTokenIssued, "c1", idjag("https://acme.okta.com"))
	b.add(5*time.Second, tenants.ActMCPToolCalled, "c1", details(tenants.JSONMap{tenants.DetailTool: "echo"}))
	c := only(t, diagnose(&b, time.Hour, clients("c1", "VS Code")), "c1")
	if c.Status != doctor.StatusOK || c.Problem != nil {
		t.Fatalf("status %s problem %+v", c.Status, c.Problem)
	}
	if got := c.Timeline[0].Label; got != "Access token issued from an enterprise ID-JAG (SSO at https://acme.okta.com)" {
		t.Fatalf("label %q", got)
	}
	for _, st := range []string{doctor.StepAuthorize, doctor.StepLogin, doctor.StepConsent, doctor.StepCode} {
		if stepState(c, st) != doctor.StateSkipped {
			t.Errorf("step %s is %s, want skipped", st, stepState(c, st))
		}
	}
}

func TestEnterpriseRefusalIsTheProblem(t *testing.T) {
	var b events
	b.add(0, tenants.ActTokenIssued, "c1", idjag("https://acme.okta.com"), failed(), reason(tenants.ReasonWrongAud))
	c := only(t, diagnose(&b, time.Hour, clients("c1", "VS Code")), "c1")
	p := wantProblem(t, c, doctor.ProblemEnterpriseRefused)
	if !strings.Contains(p.Detail, "audience") || !strings.Contains(c.Timeline[0].Label, "from https://acme.okta.com") {
		t.Fatalf("detail %q, label %q", p.Detail, c.Timeline[0].Label)
	}
	if stepState(c, doctor.StepToken) != doctor.StateFailed || stepState(c, doctor.StepAuthorize) != doctor.StateSkipped {
		t.Fatalf("steps %+v", c.Steps)
	}
}
