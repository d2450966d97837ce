package console

import (
	"context"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/tenants"
)

var inviteLinkRE = regexp.MustCompile(`data-copy="(http[^"]+/invite\?token=([^"]+))"`)

// An owner invites a viewer by link; the viewer signs up with it, joins,
// reads the team and is refused every admin and owner action.
func TestInvitedViewerReadsButIsRefusedAdminActions(t *testing.T) {
	e := newEnv(t, envOpts{})
	ten, owner := e.tenant("acme", "Acme")
	ob := e.signedIn(owner)
	r := ob.submit("/console/t/acme/members", "/console/t/acme/members/invite", url.Values{"email": {"Vic@Example.com"}, "role": {"viewer"}})
	wantStatus(t, r, http.StatusSeeOther)
	page := ob.get("/console/t/acme/members")
	m := inviteLinkRE.FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatalf("invitation link not shown:\n%.3000s", page.Body)
	}
	tok := m[2]
	if e.lastLink("vic@example.com", "/invite") != tok {
		t.Fatal("invitation not in the mail outbox")
	}
	vb := e.browser()
	inv := vb.page("/invite?token=" + tok)
	if !strings.Contains(inv.Body, "Acme") || !strings.Contains(inv.Body, "vic@example.com") {
		t.Fatalf("invitation page:\n%.2000s", inv.Body)
	}
	r = vb.submit("/signup?invite="+tok, "/signup", url.Values{"email": {"vic@example.com"}, "password": {testPassword}, "invite": {tok}, "name": {"Vic Viewer"}})
	wantRedirect(t, r, "/console/t/acme")
	for _, p := range []string{"", "/settings", "/clients", "/grants", "/audit", "/doctor", "/keys", "/members"} {
		wantStatus(t, vb.get("/console/t/acme"+p), http.StatusOK)
	}
	before, _ := e.store.GetTenant(context.Background(), ten.ID)
	for _, action := range []string{"/settings", "/idp", "/clients", "/keys/rotate", "/api-keys", "/members/invite", "/delete"} {
		r := vb.submit("/console/t/acme", "/console/t/acme"+action, url.Values{"name": {"Hacked"}, "settings.access_token_ttl": {"60"}, "email": {"x@example.com"}, "role": {"owner"}, "confirm_slug": {"acme"}})
		if r.StatusCode != http.StatusForbidden {
			t.Errorf("viewer POST %s: %d", action, r.StatusCode)
		}
	}
	after, _ := e.store.GetTenant(context.Background(), ten.ID)
	if after.Name != before.Name || after.Settings.AccessTokenTTL != nil || e.apiKeyCount(ten) != 0 {
		t.Fatal("a viewer changed the team")
	}
	if strings.Contains(vb.get("/console/t/acme/keys").Body, `action="/console/t/acme/api-keys"`) {
		t.Error("viewer is offered the API key form")
	}
	// The invitation is single use.
	wantStatus(t, e.browser().get("/invite?token="+tok), http.StatusBadRequest)
}

// A member of one team gets 404 for every route of another team, pages and
// forms alike, exactly like a team that does not exist (never 403, never
// success), and the other team is unchanged afterwards. The routes come from
// the router, so a new team route is covered without editing this test.
func TestNonMemberGets404ForEveryRouteOfAnotherTeam(t *testing.T) {
	e := newEnv(t, envOpts{})
	alpha, ownerA := e.tenant("alpha", "Alpha")
	beta, ownerB := e.tenant("beta", "Beta")
	// Beta has a custom domain and an audit webhook, so that every
	// Integrations form (set or replace, remove) would change something.
	patch := `{"custom_domain":"mcp.beta.example","settings":{"audit_webhook_url":"https://hooks.beta.example/gatehouse","audit_webhook_secret":"beta-webhook-secret-0123456789abcdef"}}`
	if _, _, err := e.prov.PatchTenant(context.Background(), beta, []byte(patch), tenants.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	ownerOfB, _ := e.store.GetAccountByEmail(context.Background(), ownerB)
	before := e.teamState(beta)

	b := e.signedIn(ownerA)
	wantStatus(t, b.get("/console/t/nonexistent"), http.StatusNotFound)
	csrf := b.csrf("/console/t/" + alpha.Slug)
	// What a form of beta would be sent: valid-looking values for every field
	// the team forms read, so that only the membership check can refuse it.
	form := url.Values{"csrf": {csrf}, "name": {"Hacked"}, "custom_domain": {"evil.example"},
		"audit_webhook_url": {"https://evil.example/hook"}, "email": {"x@example.com"}, "role": {"owner"},
		"confirm_slug": {"beta"}, "client_id": {"stolen"}, "issuer": {"https://evil.example"}, "idp_type": {"dev"}}
	params := strings.NewReplacer(":slug", beta.Slug, ":account", ownerOfB.ID, ":type", "dev", ":id", "any")
	routes := 0
	for _, rt := range e.engine.Routes() {
		if !strings.HasPrefix(rt.Path, "/console/t/:slug") {
			continue
		}
		routes++
		path := params.Replace(rt.Path)
		var r *resp
		switch rt.Method {
		case http.MethodGet:
			r = b.get(path)
		case http.MethodPost:
			r = b.post(path, form)
		default:
			t.Fatalf("%s %s: no request for this method", rt.Method, rt.Path)
		}
		if r.StatusCode != http.StatusNotFound || strings.Contains(r.Body, "Beta") {
			t.Errorf("%s %s as a member of alpha: status %d, want 404 without beta's name", rt.Method, path, r.StatusCode)
		}
	}
	if routes < 30 {
		t.Fatalf("only %d team routes found: the router is not the console's", routes)
	}
	if after := e.teamState(beta); !reflect.DeepEqual(after, before) {
		t.Fatalf("beta changed:\nbefore %+v %+v\nafter  %+v %+v", *before.Tenant, before, *after.Tenant, after)
	}
	// The same forms from beta's own owner do change it: the 404s above
	// were the membership check, not a form the handlers would refuse.
	ob := e.signedIn(ownerB)
	wantStatus(t, ob.submit("/console/t/beta/integrations", "/console/t/beta/integrations/domain/remove", nil), http.StatusSeeOther)
	if reflect.DeepEqual(e.teamState(beta), before) {
		t.Fatal("beta's owner removed the domain, but the team state did not change: teamState misses it")
	}
}

// teamState is what a team's console forms can change, read from the store.
type teamState struct {
	Tenant      *tenants.Tenant
	Members     []tenants.MemberView
	Invitations []tenants.Invitation
	APIKeys     []tenants.APIKey
	Clients     []tenants.Client
	IdPs        []tenants.IdPConfig
	Enterprise  []tenants.EnterpriseIdP
	Grants      []tenants.Grant
}

func (e *env) teamState(t *tenants.Tenant) teamState {
	e.t.Helper()
	ctx := context.Background()
	var s teamState
	var errs [8]error
	s.Tenant, errs[0] = e.store.GetTenant(ctx, t.ID)
	s.Members, errs[1] = e.store.ListMembers(ctx, t.ID)
	s.Invitations, errs[2] = e.store.ListInvitations(ctx, t.ID)
	s.APIKeys, errs[3] = e.store.ListAPIKeys(ctx, t.ID)
	s.Clients, _, errs[4] = e.store.ListClients(ctx, t.ID, tenants.Page{Limit: 200})
	s.IdPs, errs[5] = e.store.ListIdPs(ctx, t.ID)
	s.Enterprise, errs[6] = e.store.ListEnterpriseIdPs(ctx, t.ID)
	s.Grants, _, errs[7] = e.store.ListGrants(ctx, t.ID, tenants.Page{Limit: 200})
	for _, err := range errs {
		if err != nil {
			e.t.Fatal(err)
		}
	}
	return s
}

func TestLastOwnerCannotLeaveOrBeDemoted(t *testing.T) {
	e := newEnv(t, envOpts{})
	ten, owner := e.tenant("acme", "Acme")
	a, _ := e.store.GetAccountByEmail(context.Background(), owner)
	b := e.signedIn(owner)
	wantStatus(t, b.submit("/console/t/acme/members", "/console/t/acme/members/"+a.ID+"/remove", nil), http.StatusConflict)
	wantStatus(t, b.submit("/console/t/acme/members", "/console/t/acme/members/"+a.ID+"/role", url.Values{"role": {"admin"}}), http.StatusConflict)
	if n, _ := e.store.CountOwners(context.Background(), ten.ID); n != 1 {
		t.Fatalf("owners: %d", n)
	}
	other := e.account("co@example.com", "Co Owner")
	e.member(ten, other, tenants.RoleOwner)
	wantStatus(t, b.submit("/console/t/acme/members", "/console/t/acme/members/"+a.ID+"/remove", nil), http.StatusSeeOther)
	wantStatus(t, b.get("/console/t/acme"), http.StatusNotFound)
}

func TestOperatorSuspendsAndDeletesTeams(t *testing.T) {
	e := newEnv(t, envOpts{})
	ten, owner := e.tenant("acme", "Acme Corp")
	e.tenant("globex", "Globex")
	ob := e.signedIn(owner)
	wantStatus(t, ob.get("/console/operator"), http.StatusNotFound) // not an operator
	_, op := e.operator()
	page := op.page("/console/operator?q=acme")
	if !strings.Contains(page.Body, "Acme Corp") || strings.Contains(page.Body, "Globex") {
		t.Fatalf("search:\n%.3000s", page.Body)
	}
	wantStatus(t, ob.submit("/console/t/acme", "/console/operator/teams/acme/suspend", nil), http.StatusNotFound)
	wantStatus(t, op.submit("/console/operator", "/console/operator/teams/acme/suspend", nil), http.StatusSeeOther)
	got, _ := e.store.GetTenant(context.Background(), ten.ID)
	if !got.Suspended() {
		t.Fatal("not suspended")
	}
	if !strings.Contains(ob.get("/console/t/acme").Body, "suspended by the platform operator") {
		t.Error("owner not told the team is suspended")
	}
	audit := op.get("/console/operator/audit")
	if !strings.Contains(audit.Body, "operator@example.com suspended the team") {
		t.Fatalf("platform audit:\n%.3000s", audit.Body)
	}
	wantStatus(t, op.submit("/console/operator", "/console/operator/teams/acme/resume", nil), http.StatusSeeOther)
	got, _ = e.store.GetTenant(context.Background(), ten.ID)
	if got.Suspended() {
		t.Fatal("not resumed")
	}
	wantStatus(t, op.submit("/console/operator", "/console/operator/teams/globex/delete", url.Values{"confirm_slug": {"globex"}}), http.StatusSeeOther)
	if _, err := e.store.GetTenantBySlug(context.Background(), "globex"); err == nil {
		t.Fatal("not deleted")
	}
	// An operator creating a team keeps their own session.
	before := op.sessionCookieOf()
	wantStatus(t, op.submit("/console/teams/new", "/console/teams/new", url.Values{"name": {"Ops"}, "slug": {"ops-team"}, "upstream_mcp_url": {"https://x.example/mcp"}, "idp_type": {"dev"}}), http.StatusSeeOther)
	if op.sessionCookieOf() != before {
		t.Fatal("creating a team replaced the operator's session")
	}
	wantStatus(t, op.get("/console/operator"), http.StatusOK)
}

// Without SMTP the operator's mail view shows the links people need.
func TestOperatorMailViewShowsUnsentLinks(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, op := e.operator()
	wantStatus(t, signup(e.browser(), "new@example.com", testPassword), http.StatusOK)
	tok := e.lastLink("new@example.com", "/account/verify")
	page := op.page("/console/operator/mail")
	if !strings.Contains(page.Body, tok) || !strings.Contains(page.Body, "not sent") {
		t.Fatalf("mail view:\n%.3000s", page.Body)
	}
	if strings.Contains(e.logs.String(), tok) {
		t.Fatal("the JSON log carries a link token")
	}
}

// Left empty, the slug is made from the team name (tenants.SuggestSlug);
// the page's script asks the same rule at /console/teams/slug as one types,
// from a same-origin file (the CSP allows no inline script).
func TestTeamSlugSuggestedFromName(t *testing.T) {
	e := newEnv(t, envOpts{})
	a := e.account("ada@example.com", "Ada")
	b := e.signedIn(a.Email)
	form := b.get("/console/teams/new")
	if !strings.Contains(form.Body, `data-suggest-from="name"`) || !strings.Contains(form.Body, `<script src="/static/app.js`) || strings.Contains(form.Body, "<script>") {
		t.Fatalf("no progressive slug suggestion from a script file:\n%.3000s", form.Body)
	}
	r := b.page("/console/teams/slug?" + url.Values{"name": {"Café Ürban Labs"}}.Encode())
	if strings.TrimSpace(r.Body) != `{"slug":"cafe-urban-labs"}` {
		t.Fatalf("suggestion %s", r.Body)
	}
	r = b.submit("/console/teams/new", "/console/teams/new", url.Values{"name": {"Café Ürban Labs"}, "slug": {""}, "upstream_mcp_url": {"https://x.example/mcp"}, "idp_type": {"dev"}})
	wantStatus(t, r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); !strings.HasPrefix(loc, "/console/t/cafe-urban-labs") {
		t.Fatalf("created at %q", loc)
	}
	// Signed out, the suggestion endpoint is not served.
	if r := e.browser().get("/console/teams/slug?name=x"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("signed out: %d", r.StatusCode)
	}
}
