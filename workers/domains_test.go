package workers

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/testdb"
	"github.com/gatehouse/gatehouse/tenants/testdns"
)

// A custom domain is verified only by the TXT record made for its tenant,
// at _gatehouse-challenge.{domain}; then it resolves the tenant and is audited.
func TestCustomDomainTXTVerification(t *testing.T) {
	d := testdns.Start(t)
	store := testdb.Open(t, testdb.SQLite(t))
	e := newEnv(t, store, startMiniredis(t), func(o *Options) { o.Resolver = d.Resolver() })
	tn := newTenant(t, store, "domains")
	domain := "Docs.Example.org"
	tn.CustomDomain = &domain
	must(t, store.UpdateTenant(ctx, tn))
	ch := tenants.ChallengeFor(tn.ID, domain)
	if ch.Name != "_gatehouse-challenge.docs.example.org" || !strings.HasPrefix(ch.Value, "gatehouse-verification=") {
		t.Fatalf("challenge %+v", ch)
	}
	verified := func() bool {
		got, err := store.GetTenant(ctx, tn.ID)
		must(t, err)
		return got.CustomDomainVerified
	}
	steps := []struct {
		what   string
		values []string
	}{
		{"no record", nil},
		{"a wrong value", []string{"gatehouse-verification=nope"}},
		{"another tenant's value for the same domain", []string{tenants.ChallengeFor("other-tenant", domain).Value}},
	}
	for _, s := range steps {
		if s.values != nil {
			d.Set(ch.Name, s.values...)
		}
		must(t, e.rt.verifyDomains(ctx))
		if verified() {
			t.Fatalf("verified with %s", s.what)
		}
	}
	if _, err := store.GetTenantByDomain(ctx, "docs.example.org"); err == nil {
		t.Fatal("an unverified domain resolves")
	}
	d.Set(ch.Name, "v=spf1 -all", ch.Value) // among other records
	must(t, e.rt.verifyDomains(ctx))
	if !verified() {
		t.Fatal("the right record did not verify the domain")
	}
	e.start() // the queued auditor writes the event
	var events []tenants.AuditEvent
	testdb.Eventually(t, "the verification audit event", 30*time.Second, func() bool {
		var err error
		events, _, err = store.ListAuditEvents(ctx, tn.ID, tenants.AuditFilter{Action: "admin.custom_domain.verified", Page: tenants.Page{Limit: 10}})
		must(t, err)
		return len(events) > 0
	})
	if len(events) != 1 || events[0].Details["domain"] != domain {
		t.Fatalf("audit: %+v", events)
	}
}
