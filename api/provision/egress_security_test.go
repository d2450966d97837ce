package provision_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/tenants/egress/egresstest"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// Hole 2 (docs/SECURITY.md §2): PUT /idp validates issuer_url when it is
// saved — https (http only where private fetch is allowed), no query, no
// fragment, no credentials — with a problem+json field error. Saving
// fetches nothing: the loopback trap named by every URL sees no connection.
func TestSecurity_02_IssuerURLSSRF_SavedIssuerURLRules(t *testing.T) {
	trap := egresstest.NewTrap(t)
	tlsTrap := strings.Replace(trap.URL, "http://", "https://", 1)
	e := newEnv(t, testdb.SQLite(t), nil)
	e.mkTenant("acme", nil)
	put := func(issuer string) resp {
		return e.admin("PUT", "/api/v1/tenants/acme/idp", map[string]any{"type": "oidc", "client_id": "c", "client_secret": "s", "issuer_url": issuer})
	}
	for issuer, want := range map[string]string{
		trap.URL:                             "must be an https URL",
		tlsTrap + "/?":                       "must not contain a query",
		tlsTrap + "/internal?path=/metadata": "must not contain a query",
		tlsTrap + "/#x":                      "must not contain a fragment",
		"https://user:pw@" + strings.TrimPrefix(tlsTrap, "https://"): "must not contain credentials",
		"ftp://idp.example.com": "absolute http(s) URL",
	} {
		p := put(issuer).problem(t, http.StatusBadRequest)
		fieldErr(t, p, "issuer_url", want)
	}
	if r := put("https://login.example.com/tenant-1"); r.status != http.StatusOK {
		t.Fatalf("a valid https issuer: %d %s", r.status, r.body)
	}
	trap.Untouched(t)

	// With private fetch allowed (tests), http is accepted; a query is not.
	e.deps.Provisioner.AllowPrivateFetch = true // the one provisioner, built at start
	if r := put(trap.URL); r.status != http.StatusOK {
		t.Fatalf("http issuer with private fetch allowed: %d %s", r.status, r.body)
	}
	fieldErr(t, put(trap.URL+"/?x").problem(t, http.StatusBadRequest), "issuer_url", "must not contain a query")
	trap.Untouched(t)
}
