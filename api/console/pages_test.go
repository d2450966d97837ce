package console

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

func TestSettingsFormPatchesTenant(t *testing.T) {
	e, ten, b := acmeOwner(t)
	form := url.Values{"name": {"Acme Two"}, "upstream_mcp_url": {"https://new.example/mcp"},
		"settings.access_token_ttl": {"600"}, "settings.scopes": {"mcp admin"}, "settings.default_scopes": {"mcp"},
		"settings.dcr_policy": {"closed"}, "settings.audit_mcp_calls": {"all"}, "settings.skip_consent": {"on"}, "settings.forward_upstream_token": {"on"},
		"settings.client_credentials": {"on"}, "settings.tool_scopes": {"delete_repo = admin\nadd=mcp"},
		"settings.scope_descriptions": {"mcp = Use the Acme tools"}}
	r := b.submit("/console/t/acme/settings", "/console/t/acme/settings", form)
	wantStatus(t, r, http.StatusSeeOther)
	got, _ := e.store.GetTenant(context.Background(), ten.ID)
	st := got.Settings
	if got.Name != "Acme Two" || got.UpstreamMCPURL != "https://new.example/mcp" || st.AccessTokenTTL == nil || *st.AccessTokenTTL != 600 ||
		st.DCR() != tenants.DCRClosed || st.AuditMCP() != tenants.AuditMCPAll || !st.SkipConsent || !st.ForwardUpstreamToken || !st.ClientCredentials ||
		st.ToolScopes["delete_repo"] != "admin" || st.ToolScopes["add"] != "mcp" || strings.Join(st.Scopes, " ") != "mcp admin" ||
		st.ScopeDescriptions["mcp"] != "Use the Acme tools" {
		t.Fatalf("settings not applied: %+v %+v", got, st)
	}
	page := b.get("/console/t/acme/settings")
	if !strings.Contains(page.Body, "Settings saved.") || !strings.Contains(page.Body, `value="600"`) ||
		!strings.Contains(page.Body, `name="settings.client_credentials" type="checkbox" checked`) {
		t.Fatal("saved settings not shown")
	}
	// Removing a tool from the list removes it; an empty TTL returns to the default.
	form.Set("settings.tool_scopes", "add = mcp")
	form.Set("settings.access_token_ttl", "")
	wantStatus(t, b.submit("/console/t/acme/settings", "/console/t/acme/settings", form), http.StatusSeeOther)
	got, _ = e.store.GetTenant(context.Background(), ten.ID)
	if _, ok := got.Settings.ToolScopes["delete_repo"]; ok || got.Settings.AccessTokenTTL != nil {
		t.Fatalf("removal not applied: %+v", got.Settings)
	}
	// Invalid values re-render with the domain's field message and change nothing.
	form.Set("settings.access_token_ttl", "5")
	form.Set("settings.default_scopes", "other")
	r = b.submit("/console/t/acme/settings", "/console/t/acme/settings", form)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.Body, "must be between 60 and 86400") || !strings.Contains(r.Body, `value="5"`) {
		t.Fatalf("validation not shown:\n%s", r.Body)
	}
	again, _ := e.store.GetTenant(context.Background(), ten.ID)
	if again.Settings.AccessTokenTTL != nil || strings.Join(again.Settings.DefaultScopes, " ") != "mcp" {
		t.Fatal("invalid settings were written")
	}
	form.Set("settings.access_token_ttl", "abc")
	r = b.submit("/console/t/acme/settings", "/console/t/acme/settings", form)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.Body, "must be a whole number") {
		t.Fatal("non-number not reported")
	}
}

// The IdP client secret is write-only: stored sealed, never rendered, kept
// when the field is left empty.
func TestIdPFormSecretIsWriteOnly(t *testing.T) {
	e, ten, b := acmeOwner(t)
	const secret = "super-secret-idp-value"
	r := b.submit("/console/t/acme/settings", "/console/t/acme/idp", url.Values{"idp_type": {"oidc"}, "idp_client_id": {"cid"},
		"idp_client_secret": {secret}, "idp_issuer_url": {"https://login.example.com"}, "idp_allowed_domains": {"example.com"}})
	wantStatus(t, r, http.StatusSeeOther)
	idps, _ := e.store.ListIdPs(context.Background(), ten.ID)
	if len(idps) != 1 || idps[0].Type != "oidc" || idps[0].ClientSecretSealed == "" {
		t.Fatalf("idp not replaced: %+v", idps)
	}
	sealed := idps[0].ClientSecretSealed
	page := b.get("/console/t/acme/settings")
	if strings.Contains(page.Body, secret) || strings.Contains(page.Body, sealed) {
		t.Fatal("IdP secret rendered")
	}
	if !strings.Contains(page.Body, "set (never shown)") {
		t.Fatal("page does not say a secret is set")
	}
	// Saving again without a secret keeps it.
	r = b.submit("/console/t/acme/settings", "/console/t/acme/idp", url.Values{"idp_type": {"oidc"}, "idp_client_id": {"cid2"}, "idp_issuer_url": {"https://login.example.com"}})
	wantStatus(t, r, http.StatusSeeOther)
	cfg, _ := e.store.GetIdP(context.Background(), ten.ID, "oidc")
	if cfg.ClientID != "cid2" || cfg.ClientSecretSealed != sealed {
		t.Fatalf("secret not kept: %+v", cfg)
	}
	// Errors re-render with field messages.
	r = b.submit("/console/t/acme/settings", "/console/t/acme/idp", url.Values{"idp_type": {"oidc"}, "idp_client_id": {""}, "idp_issuer_url": {"nope"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.Body, "is required for oidc") || !strings.Contains(r.Body, "must be an absolute http(s) URL") {
		t.Fatalf("idp errors not shown:\n%s", r.Body)
	}
}

var secretRE = regexp.MustCompile(`ghs_[A-Za-z0-9_-]{43}`)

func TestClientsPreregisterShowsSecretOnceAndDelete(t *testing.T) {
	e, ten, b := acmeOwner(t)
	r := b.submit("/console/t/acme/clients", "/console/t/acme/clients", url.Values{"client_name": {"Internal bot"},
		"redirect_uris": {"https://bot.example/cb\nhttp://127.0.0.1/callback"}, "token_endpoint_auth_method": {"client_secret_basic"}})
	wantStatus(t, r, http.StatusSeeOther)
	page := b.get("/console/t/acme/clients")
	secret := secretRE.FindString(page.Body)
	if secret == "" {
		t.Fatalf("secret not shown:\n%s", page.Body)
	}
	items, _, _ := e.store.ListClients(context.Background(), ten.ID, tenants.Page{})
	if len(items) != 1 || items[0].SecretHash != tenants.HashSecret(secret) || items[0].Kind != tenants.ClientPreregistered {
		t.Fatalf("client: %+v", items)
	}
	if again := b.get("/console/t/acme/clients"); secretRE.MatchString(again.Body) {
		t.Fatal("secret shown twice")
	}
	// Bad redirect URI: field error, nothing created.
	r = b.submit("/console/t/acme/clients", "/console/t/acme/clients", url.Values{"client_name": {"Bad"}, "redirect_uris": {"http://evil.example/cb"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.Body, "evil.example") {
		t.Fatal("redirect error not shown")
	}
	// Delete revokes the client's grants.
	g := &tenants.Grant{TenantID: ten.ID, ID: tenants.RandomID(), Subject: "u1", ClientID: items[0].ID, Scopes: tenants.Strings{"mcp"},
		CreatedAt: time.Now().UTC(), ExpiresAt: time.Now().Add(time.Hour).UTC()}
	if err := e.store.CreateGrant(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	r = b.submit("/console/t/acme/clients", "/console/t/acme/clients/delete", url.Values{"client_id": {items[0].ID}})
	wantStatus(t, r, http.StatusSeeOther)
	if _, err := e.store.GetClient(context.Background(), ten.ID, items[0].ID); err == nil {
		t.Fatal("client not deleted")
	}
	r = b.submit("/console/t/acme/clients", "/console/t/acme/clients/delete", url.Values{"client_id": {"nope"}})
	wantStatus(t, r, http.StatusNotFound)
}

func TestGrantRevoke(t *testing.T) {
	e := newEnv(t, envOpts{})
	ten, key := e.tenant("acme", "Acme")
	other, _ := e.tenant("other", "Other")
	mk := func(tid string) *tenants.Grant {
		g := &tenants.Grant{TenantID: tid, ID: tenants.RandomID(), Subject: "alice", ClientID: "c1", Scopes: tenants.Strings{"mcp"},
			CreatedAt: time.Now().UTC(), ExpiresAt: time.Now().Add(time.Hour).UTC()}
		if err := e.store.CreateGrant(context.Background(), g); err != nil {
			t.Fatal(err)
		}
		return g
	}
	g, og := mk(ten.ID), mk(other.ID)
	b := e.signedIn(key)
	page := b.get("/console/t/acme/grants")
	if !strings.Contains(page.Body, "alice") || !strings.Contains(page.Body, "/grants/"+g.ID+"/revoke") {
		t.Fatal("grant not listed")
	}
	// Another tenant's grant id through this tenant's URL: not found, not revoked.
	r := b.submit("/console/t/acme/grants", "/console/t/acme/grants/"+og.ID+"/revoke", nil)
	wantStatus(t, r, http.StatusNotFound)
	if got, _ := e.store.GetGrant(context.Background(), other.ID, og.ID); got.RevokedAt != nil {
		t.Fatal("foreign grant revoked")
	}
	r = b.submit("/console/t/acme/grants", "/console/t/acme/grants/"+g.ID+"/revoke", nil)
	wantStatus(t, r, http.StatusSeeOther)
	got, _ := e.store.GetGrant(context.Background(), ten.ID, g.ID)
	if got.RevokedAt == nil {
		t.Fatal("grant not revoked")
	}
	evs, _, _ := e.store.ListAuditEvents(context.Background(), ten.ID, tenants.AuditFilter{Action: tenants.ActGrantRevoked})
	if len(evs) != 1 || evs[0].Actor != "account:"+key {
		t.Fatalf("revocation audit: %+v", evs)
	}
	// The reason in words, not its code.
	if page := b.get("/console/t/acme/grants?all=1"); !strings.Contains(page.Body, "(revoked in the console)") || strings.Contains(page.Body, "(console)") {
		t.Fatalf("revocation reason not in words:\n%.3000s", page.Body)
	}
}

func TestAuditFiltersAndPaging(t *testing.T) {
	e, ten, b := acmeOwner(t)
	base := time.Now().Add(-time.Hour).UTC()
	var evs []tenants.AuditEvent
	for i := 0; i < 60; i++ {
		at := base.Add(time.Duration(i) * time.Second)
		evs = append(evs, tenants.AuditEvent{ID: tenants.OrderedID(at), TenantID: ten.ID, Time: at, Action: tenants.ActTokenIssued, ClientID: "client-a", Outcome: "success"})
	}
	at := base.Add(2 * time.Minute)
	evs = append(evs, tenants.AuditEvent{ID: tenants.OrderedID(at), TenantID: ten.ID, Time: at, Action: tenants.ActMCPDenied, Reason: "no_header", Outcome: "failure", UserAgent: "Claude-User"})
	if err := e.store.InsertAuditEvents(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	r := b.page("/console/t/acme/audit?action=mcp.denied")
	if !strings.Contains(r.Body, "no_header") || strings.Contains(r.Body, "<code>token.issued</code>") {
		t.Fatal("action filter not applied")
	}
	r = b.get("/console/t/acme/audit?client_id=client-a")
	if strings.Count(r.Body, "<code>token.issued</code>") != 50 || !strings.Contains(r.Body, "Older →") {
		t.Fatalf("first page: %d rows", strings.Count(r.Body, "<code>token.issued</code>"))
	}
	next := regexp.MustCompile(`href="(/console/t/acme/audit\?[^"]*cursor=[^"]*)">Older`).FindStringSubmatch(r.Body)
	if next == nil {
		t.Fatal("no next link")
	}
	r = b.page(strings.ReplaceAll(next[1], "&amp;", "&"))
	if n := strings.Count(r.Body, "<code>token.issued</code>"); n != 10 || strings.Contains(r.Body, "Older →") {
		t.Fatalf("second page: %d rows", n)
	}
}

// Every paged list answers a forged or stale cursor with its first page and
// a notice saying so, never an error.
func TestListPagesFallBackToTheFirstPageOnABadCursor(t *testing.T) {
	e, ten, b := acmeOwner(t)
	usr := &tenants.User{TenantID: ten.ID, IdP: tenants.IdPDev, IdPSubject: "ada", Name: "Ada Lovelace"}
	if err := e.store.UpsertUser(context.Background(), usr); err != nil {
		t.Fatal(err)
	}
	// (The operator's team list is keyed by slug: any text is a cursor there.)
	// The stores' cursors are base64url; this one cannot be any of them.
	for path, says := range map[string]string{
		"/console/t/acme/clients":         "showing the first page",
		"/console/t/acme/grants":          "showing the first page",
		"/console/t/acme/users":           "showing the first page",
		"/console/t/acme/users/" + usr.ID: "showing the first page",
		"/console/t/acme/audit":           "showing the newest events",
	} {
		r := b.page(path + "?cursor=" + url.QueryEscape("not base64!"))
		if !strings.Contains(r.Body, "That page link is no longer valid; "+says+".") {
			t.Errorf("%s with a bad cursor: no notice", path)
		}
	}
}

func TestKeysPageRotateAndCreate(t *testing.T) {
	e := newEnv(t, envOpts{})
	ten, key := e.tenant("acme", "Acme")
	if err := e.d.Keys.Ensure(context.Background(), ten.ID); err != nil {
		t.Fatal(err)
	}
	before, _ := e.store.ListSigningKeys(context.Background(), ten.ID)
	var activeBefore string
	for _, k := range before {
		if k.State == tenants.KeyActive {
			activeBefore = k.KID
		}
	}
	b := e.signedIn(key)
	r := b.submit("/console/t/acme/keys", "/console/t/acme/keys/rotate", nil)
	wantStatus(t, r, http.StatusSeeOther)
	after, _ := e.store.ListSigningKeys(context.Background(), ten.ID)
	var activeAfter string
	for _, k := range after {
		if k.State == tenants.KeyActive {
			activeAfter = k.KID
		}
		if k.KID == activeBefore && k.State != tenants.KeyRetired {
			t.Fatalf("old key state %s", k.State)
		}
	}
	if activeAfter == "" || activeAfter == activeBefore {
		t.Fatalf("not rotated: %s → %s", activeBefore, activeAfter)
	}
	page := b.get("/console/t/acme/keys")
	if !strings.Contains(page.Body, "Signing key rotated") || !strings.Contains(page.Body, activeAfter) {
		t.Fatal("rotation not shown")
	}
	r = b.submit("/console/t/acme/keys", "/console/t/acme/api-keys", url.Values{"name": {"ci"}})
	wantStatus(t, r, http.StatusSeeOther)
	page = b.get("/console/t/acme/keys")
	newKey := keyRE.FindString(page.Body)
	if newKey == "" {
		t.Fatal("new API key not shown")
	}
	if k, err := e.store.GetAPIKeyByHash(context.Background(), tenants.HashSecret(newKey)); err != nil || k.Name != "ci" {
		t.Fatalf("shown key not stored: %v", err)
	}
	if keyRE.MatchString(b.get("/console/t/acme/keys").Body) {
		t.Fatal("API key shown twice")
	}
}

func TestOverviewShowsURLsAndConnectHelp(t *testing.T) {
	e := newEnv(t, envOpts{tenantDomain: "connect.example.com"})
	_, key := e.tenant("acme", "Acme")
	b := e.signedIn(key)
	r := b.page("/console/t/acme")
	port := e.srv.URL[strings.LastIndex(e.srv.URL, ":"):]
	for _, want := range []string{
		e.srv.URL + "/t/acme/mcp", "http://acme.connect.example.com" + port + "/mcp", "Recommended for Claude.ai",
		e.srv.URL + "/.well-known/oauth-protected-resource/t/acme/mcp", e.srv.URL + "/.well-known/oauth-authorization-server/t/acme",
		"claude mcp add --transport http acme http://acme.connect.example.com" + port + "/mcp",
		"ChatGPT", "Cursor", "VS Code", "MCP Inspector", "npx -y @modelcontextprotocol/inspector@",
		`&#34;args&#34;: [&#34;-y&#34;, &#34;mcp-remote@`, "createMCPClient({ transport: { type: &#39;http&#39;, url: &#39;http://acme.connect.example.com" + port + "/mcp",
		"new MCPServerStreamableHttp({ url: &#39;",
	} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
}

func TestDoctorPageRendersDiagnosis(t *testing.T) {
	e, ten, b := acmeOwner(t)
	now := time.Now().UTC()
	mk := func(d time.Duration, ev tenants.AuditEvent) tenants.AuditEvent {
		ev.TenantID, ev.Time = ten.ID, now.Add(d)
		ev.ID = tenants.OrderedID(ev.Time)
		if ev.Outcome == "" {
			ev.Outcome = tenants.OutcomeSuccess
		}
		return ev
	}
	cl := &tenants.Client{TenantID: ten.ID, ID: "claude-client", Kind: tenants.ClientDCR, Name: "Claude", CreatedAt: now.Add(-10 * time.Minute)}
	if err := e.store.CreateClient(context.Background(), cl); err != nil {
		t.Fatal(err)
	}
	evs := []tenants.AuditEvent{
		mk(-10*time.Minute, tenants.AuditEvent{Action: tenants.ActClientRegistered, ClientID: cl.ID, UserAgent: "Claude-User"}),
		mk(-9*time.Minute, tenants.AuditEvent{Action: tenants.ActAuthorizeStarted, ClientID: cl.ID}),
		mk(-9*time.Minute+time.Second, tenants.AuditEvent{Action: tenants.ActLoginSucceeded, ClientID: cl.ID, Subject: "alice"}),
		mk(-9*time.Minute+2*time.Second, tenants.AuditEvent{Action: tenants.ActCodeIssued, ClientID: cl.ID}),
		mk(-9*time.Minute+3*time.Second, tenants.AuditEvent{Action: tenants.ActTokenIssued, ClientID: cl.ID, UserAgent: "Claude-User"}),
		mk(-8*time.Minute, tenants.AuditEvent{Action: tenants.ActMCPDenied, Reason: tenants.ReasonNoHeader, Outcome: tenants.OutcomeFailure, UserAgent: "Claude-User"}),
		mk(-8*time.Minute+time.Second, tenants.AuditEvent{Action: tenants.ActMCPDenied, Reason: tenants.ReasonNoHeader, Outcome: tenants.OutcomeFailure, UserAgent: "Claude-User"}),
		mk(-8*time.Minute+2*time.Second, tenants.AuditEvent{Action: tenants.ActMCPDenied, Reason: tenants.ReasonNoHeader, Outcome: tenants.OutcomeFailure, UserAgent: "Claude-User"}),
	}
	if err := e.store.InsertAuditEvents(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	r := b.page("/console/t/acme/doctor?self_check=1")
	// Pills in words from the doctor's tables (issue 11), never the codes.
	if strings.Contains(r.Body, ">failing<") || strings.Contains(r.Body, ">done<") || strings.Contains(r.Body, "step: mcp,") {
		t.Error("doctor page shows a status, state or step code instead of words")
	}
	for _, want := range []string{"Claude", "badge-failing", ">Not working</span>", ">Done</span>", "class=\"problem\"", "Access token issued", "no Authorization header",
		"<strong>Claude.ai</strong>", // the client software named in the timeline
		// The self-check ran against this server's public URLs (only the
		// console is mounted here, so its checks fail; they are listed).
		"Path mode — ", "Protected resource metadata (RFC 9728)", e.srv.URL + "/.well-known/oauth-protected-resource/t/acme/mcp"} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("doctor page lacks %q", want)
		}
	}
	// Without asking, no self-check runs (its probes are audited).
	r = b.page("/console/t/acme/doctor")
	if strings.Contains(r.Body, "Path mode — ") || !strings.Contains(r.Body, "Run self-check") || !strings.Contains(r.Body, "no Authorization header") {
		t.Error("plain doctor view ran the self-check or lost the diagnosis")
	}
}

func TestLandingShowsDemoConnector(t *testing.T) {
	e := newEnv(t, envOpts{})
	b := e.browser()
	r := b.page("/")
	if strings.Contains(r.Body, "Try the demo connector") {
		t.Fatal("demo box without a demo tenant")
	}
	e.tenant("demo", "Demo")
	r = b.get("/")
	if !strings.Contains(r.Body, "Try the demo connector") || !strings.Contains(r.Body, e.srv.URL+"/t/demo/mcp") || !strings.Contains(r.Body, `href="/signup"`) {
		t.Fatal("landing lacks the demo connector or signup link")
	}
}

// An unverified custom domain shows the TXT record that verifies it.
func TestOverviewShowsCustomDomainChallenge(t *testing.T) {
	e, ten, b := acmeOwner(t)
	domain := "mcp.acme-corp.com"
	ten.CustomDomain = &domain
	if err := e.store.UpdateTenant(context.Background(), ten); err != nil {
		t.Fatal(err)
	}
	r := b.page("/console/t/acme")
	ch := tenants.ChallengeFor(ten.ID, domain)
	for _, want := range []string{"not verified yet", ch.Name, ch.Value} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
	ten.CustomDomainVerified = true
	if err := e.store.UpdateTenant(context.Background(), ten); err != nil {
		t.Fatal(err)
	}
	r = b.get("/console/t/acme")
	if strings.Contains(r.Body, ch.Value) || !strings.Contains(r.Body, "verified") {
		t.Error("a verified domain still shows its challenge")
	}
}

// An admin sets a custom domain (and sees its TXT challenge and status),
// removes it, adds an audit webhook (its signing secret shown once, stored
// sealed) and deletes it — through the same validation as the API; a
// viewer reads the page and changes nothing.
func TestDomainAndWebhookInTheConsole(t *testing.T) {
	e := newEnv(t, envOpts{})
	ten, b := e.ownerBrowser("acme", "Acme")
	ctx := context.Background()
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
	vb := e.viewerBrowser(ten)
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
