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

var inviteLinkRE = regexp.MustCompile(`data-copy="(http[^"]+/invite\?token=([^"]+))"`)

// An owner invites a viewer by link; the viewer signs up with it, joins,
// reads the team and is refused every admin and owner action.
func TestInvitedViewerReadsButIsRefusedAdminActions(t *testing.T) {
	e := newEnv(t, envOpts{})
	ten, owner := e.tenant("acme", "Acme")
	ob := e.browser()
	ob.login(owner)
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
	inv := vb.get("/invite?token=" + tok)
	wantStatus(t, inv, http.StatusOK)
	if !strings.Contains(inv.Body, "Acme") || !strings.Contains(inv.Body, "vic@example.com") {
		t.Fatalf("invitation page:\n%.2000s", inv.Body)
	}
	r = vb.submit("/signup?invite="+tok, "/signup", url.Values{"email": {"vic@example.com"}, "password": {testPassword}, "invite": {tok}, "name": {"Vic Viewer"}})
	wantStatus(t, r, http.StatusSeeOther)
	if r.Header.Get("Location") != "/console/t/acme" {
		t.Fatalf("after invited sign-up: %q", r.Header.Get("Location"))
	}
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

func TestNonMemberGets404ForAnotherTeam(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, ownerA := e.tenant("alpha", "Alpha")
	e.tenant("beta", "Beta")
	b := e.browser()
	b.login(ownerA)
	wantStatus(t, b.get("/console/t/nonexistent"), http.StatusNotFound)
	for _, p := range []string{"", "/settings", "/clients", "/grants", "/audit", "/doctor", "/keys", "/members"} {
		r := b.get("/console/t/beta" + p)
		if r.StatusCode != http.StatusNotFound || strings.Contains(r.Body, "Beta") {
			t.Errorf("GET beta%s: %d", p, r.StatusCode)
		}
	}
	r := b.submit("/console/t/alpha", "/console/t/beta/api-keys", url.Values{"name": {"stolen"}})
	wantStatus(t, r, http.StatusNotFound)
}

func TestLastOwnerCannotLeaveOrBeDemoted(t *testing.T) {
	e := newEnv(t, envOpts{})
	ten, owner := e.tenant("acme", "Acme")
	a, _ := e.store.GetAccountByEmail(context.Background(), owner)
	b := e.browser()
	b.login(owner)
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
	ob := e.browser()
	ob.login(owner)
	wantStatus(t, ob.get("/console/operator"), http.StatusNotFound) // not an operator
	_, op := e.operator()
	page := op.get("/console/operator?q=acme")
	wantStatus(t, page, http.StatusOK)
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
	before := sessionCookieOf(op)
	wantStatus(t, op.submit("/console/teams/new", "/console/teams/new", url.Values{"name": {"Ops"}, "slug": {"ops-team"}, "upstream_mcp_url": {"https://x.example/mcp"}, "idp_type": {"dev"}}), http.StatusSeeOther)
	if sessionCookieOf(op) != before {
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
	page := op.get("/console/operator/mail")
	wantStatus(t, page, http.StatusOK)
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
	b := e.browser()
	b.login(a.Email)
	form := b.get("/console/teams/new")
	if !strings.Contains(form.Body, `data-suggest-from="name"`) || !strings.Contains(form.Body, `<script src="/static/app.js`) || strings.Contains(form.Body, "<script>") {
		t.Fatalf("no progressive slug suggestion from a script file:\n%.3000s", form.Body)
	}
	r := b.get("/console/teams/slug?" + url.Values{"name": {"Café Ürban Labs"}}.Encode())
	wantStatus(t, r, http.StatusOK)
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
