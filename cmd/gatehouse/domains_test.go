package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants/testdns"
)

// A custom domain end to end: the API shows the TXT record to publish; the
// on-demand TLS ask on the admin port refuses the domain until the worker
// finds the record (DNS server on loopback), then allows it.
func TestCustomDomainVerificationAndTLSAsk(t *testing.T) {
	d := testdns.Start(t)
	_, base, admin := serveReady(t, "GATEHOUSE_ALLOW_PRIVATE_FETCH=true",
		"GATEHOUSE_TEST_DNS_ADDR="+d.Addr, "GATEHOUSE_TENANT_DOMAIN=tenants.example.com")
	code, body := apiCall(t, "POST", base+"/api/v1/tenants", testAdminToken,
		`{"slug":"acme","name":"Acme","upstream_mcp_url":"https://mcp.example.com/mcp","custom_domain":"mcp.acme-corp.com"}`)
	if code != 201 {
		t.Fatalf("create: %d %v", code, body)
	}
	ch, _ := body["custom_domain_challenge"].(map[string]any)
	if ch == nil || ch["type"] != "TXT" || ch["name"] != "_gatehouse-challenge.mcp.acme-corp.com" || ch["value"] == "" {
		t.Fatalf("challenge: %v", body)
	}
	ask := func(domain string) int {
		t.Helper()
		resp, err := http.Get(admin + "/tls/ask?domain=" + domain)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for domain, want := range map[string]int{"mcp.acme-corp.com": 404, "acme.tenants.example.com": 200, "nobody.tenants.example.com": 404,
		"127.0.0.1": 200, "evil.example.net": 404, "": 400} {
		if got := ask(domain); got != want {
			t.Errorf("ask %q: %d, want %d", domain, got, want)
		}
	}
	// The public listener does not answer the ask.
	if resp, err := http.Get(base + "/tls/ask?domain=127.0.0.1"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("the ask endpoint is on the public listener")
		}
	}
	d.Set(ch["name"].(string), ch["value"].(string))
	waitFor(t, "the domain to be verified", 20*time.Second, func() bool { return ask("mcp.acme-corp.com") == 200 })
	code, body = apiCall(t, "GET", base+"/api/v1/tenants/acme", testAdminToken, "")
	if code != 200 || body["custom_domain_verified"] != true || body["custom_domain_challenge"] != nil {
		t.Errorf("after verification: %d %v", code, body)
	}
}
