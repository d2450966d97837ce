package api_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/api"
)

// Issue 13: the vulnerability-report contact is the operator's setting,
// served as RFC 9116 security.txt on every host (the platform's, a tenant
// subdomain, a custom domain) without a tenant lookup; with no contact
// configured there is no file.
func TestSecurityTxt(t *testing.T) {
	cs := &countingStore{}
	contacts := []string{"mailto:security@operator.example", "https://operator.example/security"}
	srv, _ := wrappedServer(t, cs, "tenants.example", io.Discard, &api.Options{SecurityContacts: contacts})
	for _, host := range []string{"", "acme.tenants.example", "custom.example.org"} {
		resp, body := doReq(t, srv, request{method: "GET", path: "/.well-known/security.txt", host: host})
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Fatalf("host %q: %d %q", host, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		fields := map[string][]string{}
		for _, line := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
			k, v, ok := strings.Cut(line, ": ")
			if !ok {
				t.Fatalf("not a field line (RFC 9116 §4): %q", line)
			}
			fields[k] = append(fields[k], v)
		}
		if strings.Join(fields["Contact"], " ") != strings.Join(contacts, " ") {
			t.Errorf("Contact fields %v, want %v in order (RFC 9116 §2.5.3)", fields["Contact"], contacts)
		}
		if len(fields["Expires"]) != 1 {
			t.Fatalf("Expires must appear exactly once (§2.5.5): %v", fields["Expires"])
		}
		exp, err := time.Parse(time.RFC3339, fields["Expires"][0])
		if err != nil || time.Until(exp) < 30*24*time.Hour || time.Until(exp) > 365*24*time.Hour {
			t.Errorf("Expires %q: want an RFC 3339 date under a year ahead (%v)", fields["Expires"][0], err)
		}
		if len(fields["Preferred-Languages"]) != 1 || fields["Preferred-Languages"][0] != "en" {
			t.Errorf("Preferred-Languages %v", fields["Preferred-Languages"])
		}
	}
	if resp, err := http.Head(srv.URL + "/.well-known/security.txt"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("HEAD: %v %v", resp, err)
	}
	if n := cs.lookups.Load(); n != 0 {
		t.Fatalf("security.txt made %d tenant lookups", n)
	}

	// No contact configured: no file, and no placeholder address.
	bare, _ := wrappedServer(t, &countingStore{}, "", io.Discard)
	if resp, _ := doReq(t, bare, request{method: "GET", path: "/.well-known/security.txt"}); resp.StatusCode != 404 {
		t.Fatalf("without GATEHOUSE_SECURITY_CONTACT: %d, want 404", resp.StatusCode)
	}
}
