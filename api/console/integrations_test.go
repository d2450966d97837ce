package console

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/tenants"
)

// An admin sets a custom domain (and sees its TXT challenge and status),
// removes it, adds an audit webhook (its signing secret shown once, stored
// sealed) and deletes it — through the same validation as the API; a
// viewer reads the page and changes nothing.
func TestDomainAndWebhookInTheConsole(t *testing.T) {
	e := newEnv(t, envOpts{})
	ten, owner := e.tenant("acme", "Acme")
	ctx := context.Background()
	b := e.browser()
	b.login(owner)
	page := "/console/t/acme/integrations"
	wantStatus(t, b.get(page), http.StatusOK)

	// Bad input: the provisioning rules answer, nothing is stored.
	r := b.submit(page, page+"/domain", url.Values{"custom_domain": {"not a domain"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	r = b.submit(page, page+"/domain", url.Values{"custom_domain": {"MCP.Acme.example"}})
	wantStatus(t, r, http.StatusSeeOther)
	got, _ := e.store.GetTenant(ctx, ten.ID)
	if got.CustomDomain == nil || *got.CustomDomain != "mcp.acme.example" || got.CustomDomainVerified {
		t.Fatalf("custom domain %+v", got.CustomDomain)
	}
	body := b.get(page).Body
	ch := tenants.ChallengeFor(ten.ID, "mcp.acme.example")
	for _, want := range []string{"mcp.acme.example", "waiting for the DNS record", ch.Name, ch.Value} {
		if !strings.Contains(body, want) {
			t.Fatalf("domain section lacks %q:\n%.4000s", want, body)
		}
	}
	wantStatus(t, b.submit(page, page+"/domain/remove", nil), http.StatusSeeOther)
	if got, _ := e.store.GetTenant(ctx, ten.ID); got.CustomDomain != nil {
		t.Fatal("custom domain not removed")
	}

	wantStatus(t, b.submit(page, page+"/webhook", url.Values{"audit_webhook_url": {"ftp://nope"}}), http.StatusUnprocessableEntity)
	wantStatus(t, b.submit(page, page+"/webhook", url.Values{"audit_webhook_url": {"https://hooks.acme.example/gatehouse"}}), http.StatusSeeOther)
	first := b.get(page).Body
	m := regexp.MustCompile(`shown once.*?data-copy="([^"]+)"`).FindStringSubmatch(strings.ReplaceAll(first, "\n", " "))
	if m == nil || len(m[1]) < 32 {
		t.Fatalf("signing secret not shown once:\n%.4000s", first)
	}
	secret := m[1]
	got, _ = e.store.GetTenant(ctx, ten.ID)
	if got.Settings.AuditWebhookURL != "https://hooks.acme.example/gatehouse" || got.SealedSecrets[tenants.SecretAuditWebhookSecret] == "" {
		t.Fatalf("webhook not stored: %+v", got.Settings)
	}
	if strings.Contains(got.SealedSecrets[tenants.SecretAuditWebhookSecret], secret) {
		t.Fatal("the signing secret is stored in the clear")
	}
	if again := b.get(page).Body; strings.Contains(again, secret) || !strings.Contains(again, "https://hooks.acme.example/gatehouse") {
		t.Fatal("the secret was shown twice, or the webhook is not listed")
	}
	viewer := e.account("vic@example.com", "Vic")
	e.member(ten, viewer, tenants.RoleViewer)
	vb := e.browser()
	vb.login(viewer.Email)
	if vp := vb.get(page); vp.StatusCode != http.StatusOK || strings.Contains(vp.Body, "/webhook/remove") {
		t.Fatal("viewer: page not readable, or offered delete")
	}
	wantStatus(t, vb.submit(page, page+"/webhook/remove", nil), http.StatusForbidden)
	wantStatus(t, b.submit(page, page+"/webhook/remove", nil), http.StatusSeeOther)
	got, _ = e.store.GetTenant(ctx, ten.ID)
	if got.Settings.AuditWebhookURL != "" || got.SealedSecrets[tenants.SecretAuditWebhookSecret] != "" {
		t.Fatalf("webhook not deleted: %+v %v", got.Settings, got.SealedSecrets)
	}
}
