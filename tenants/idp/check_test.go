package idp

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/tenants"
)

// The console's "test" button: discovery and the authorization request
// against a real OIDC provider (mockoidc); a wrong issuer or client ID is a
// failed step with a reason.
func TestCheckOIDCProvider(t *testing.T) {
	m := startMock(t)
	hc := &http.Client{}
	steps := Check(context.Background(), mockConfig(m, hc, tenants.IdPOIDC))
	for _, s := range steps {
		if !s.OK {
			t.Fatalf("good config: step %s failed: %s", s.Name, s.Detail)
		}
	}
	if len(steps) != 3 {
		t.Fatalf("steps: %+v", steps)
	}
	bad := mockConfig(m, hc, tenants.IdPOIDC)
	bad.IdP.IssuerURL = m.Issuer() + "/nope"
	steps = Check(context.Background(), bad)
	if last := steps[len(steps)-1]; last.OK || last.Name != "Discovery" {
		t.Fatalf("wrong issuer: %+v", steps)
	}
	wrong := mockConfig(m, hc, tenants.IdPOIDC)
	wrong.IdP.ClientID = "not-the-client"
	steps = Check(context.Background(), wrong)
	if last := steps[len(steps)-1]; last.OK || !strings.Contains(last.Detail, "client ID") {
		t.Fatalf("wrong client: %+v", steps)
	}
	if s := Check(context.Background(), Config{IdP: &tenants.IdPConfig{Type: tenants.IdPOIDC, IssuerURL: m.Issuer()}}); s[0].OK {
		t.Fatalf("no client id: %+v", s)
	}
}
