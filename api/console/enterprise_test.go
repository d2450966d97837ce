package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The console's Enterprise page (DESIGN §11): it shows the values to
// register at the IdP per URL mode, trusts an IdP through the domain
// (validation messages in the form), and removes it.
func TestEnterpriseIdPsPage(t *testing.T) {
	e, ten, b := acmeOwner(t)
	page := b.page("/console/t/acme/enterprise")
	if !strings.Contains(page.Body, "/t/acme/mcp") || !strings.Contains(page.Body, "/t/acme/oauth/token") || !strings.Contains(page.Body, "No enterprise IdP is trusted") {
		t.Fatalf("targets not shown:\n%.3000s", page.Body)
	}
	bad := url.Values{"issuer": {"http://acme.okta.example"}, "allowed_clients": {""}}
	r := b.submit("/console/t/acme/enterprise", "/console/t/acme/enterprise", bad)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.Body, "must be an https URL") || !strings.Contains(r.Body, "at least one client id") {
		t.Fatalf("validation not shown:\n%.3000s", r.Body)
	}
	good := url.Values{"issuer": {"https://acme.okta.example"}, "allowed_clients": {"vscode-acme\nclaude-acme"}, "scopes": {"mcp"}}
	wantStatus(t, b.submit("/console/t/acme/enterprise", "/console/t/acme/enterprise", good), http.StatusSeeOther)
	list, _ := e.store.ListEnterpriseIdPs(context.Background(), ten.ID)
	if len(list) != 1 || len(list[0].AllowedClients) != 2 || list[0].Issuer != "https://acme.okta.example" {
		t.Fatalf("stored: %+v", list)
	}
	page = b.get("/console/t/acme/enterprise")
	if !strings.Contains(page.Body, "vscode-acme, claude-acme") || !strings.Contains(page.Body, "from the issuer's metadata") {
		i := strings.Index(page.Body, "Trusted IdPs")
		t.Fatalf("IdP not listed:\n%.1500s", page.Body[i:])
	}
	wantStatus(t, b.submit("/console/t/acme/enterprise", "/console/t/acme/enterprise/"+list[0].ID+"/delete", url.Values{}), http.StatusSeeOther)
	if list, _ := e.store.ListEnterpriseIdPs(context.Background(), ten.ID); len(list) != 0 {
		t.Fatalf("not removed: %+v", list)
	}
	// dpop_required is a setting like the others.
	form := url.Values{"name": {"Acme"}, "upstream_mcp_url": {"https://new.example/mcp"}, "settings.dcr_policy": {"open"}, "settings.audit_mcp_calls": {"tools"},
		"settings.dpop_required": {"on"}}
	wantStatus(t, b.submit("/console/t/acme/settings", "/console/t/acme/settings", form), http.StatusSeeOther)
	if got, _ := e.store.GetTenant(context.Background(), ten.ID); !got.Settings.DPoPRequired {
		t.Fatal("dpop_required not saved")
	}
	if !strings.Contains(b.get("/console/t/acme/settings").Body, `name="settings.dpop_required" type="checkbox" checked`) {
		t.Fatal("dpop_required not shown")
	}
}

// A private_key_jwt client from the console: keys instead of a secret.
func TestPrivateKeyJWTClientForm(t *testing.T) {
	e := newEnv(t, envOpts{})
	ten, key := e.tenant("acme", "Acme")
	b := e.signedIn(key)
	form := url.Values{"client_id": {"machine-1"}, "token_endpoint_auth_method": {"private_key_jwt"}, "client_credentials": {"on"}, "jwks": {`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`}}
	r := b.submit("/console/t/acme/clients", "/console/t/acme/clients", form)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.Body, "asymmetric keys only") {
		t.Fatalf("key error not shown:\n%.2000s", r.Body)
	}
	form.Set("jwks", `{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`)
	wantStatus(t, b.submit("/console/t/acme/clients", "/console/t/acme/clients", form), http.StatusSeeOther)
	cl, err := e.store.GetClient(context.Background(), ten.ID, "machine-1")
	if err != nil || cl.TokenEndpointAuthMethod != "private_key_jwt" || cl.SecretHash != "" || cl.JWKS == "" {
		t.Fatalf("client: %+v %v", cl, err)
	}
	form.Set("client_id", "machine-2")
	form.Set("jwks", "https://keys.example/jwks")
	wantStatus(t, b.submit("/console/t/acme/clients", "/console/t/acme/clients", form), http.StatusSeeOther)
	if cl, err := e.store.GetClient(context.Background(), ten.ID, "machine-2"); err != nil || cl.JWKSURI != "https://keys.example/jwks" {
		t.Fatalf("client: %+v %v", cl, err)
	}
}
