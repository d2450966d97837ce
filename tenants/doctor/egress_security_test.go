package doctor_test

import (
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/doctor"
	"github.com/gatehouse/gatehouse/tenants/egress/egresstest"
)

// checkAdvertisedURLs is doctor.CheckAdvertisedURLs, spelled out so this
// file states the id the report carries.
const checkAdvertisedURLs = "advertised_urls"

// Hole 4 (docs/SECURITY.md §4): the self-check fetches only URLs the
// platform derives from the site. Metadata that advertises other
// registration, token and JWKS URLs — here the loopback trap — is reported
// as a mismatch, and the trap sees no connection; the derived URLs are
// still checked.
func TestSecurity_04_DoctorFetchesOnlyDerivedURLs(t *testing.T) {
	trap := egresstest.NewTrap(t)
	f := &fakeTenant{advertise: map[string]string{
		"registration_endpoint": trap.URL + "/register",
		"token_endpoint":        trap.URL + "/token",
		"jwks_uri":              trap.URL + "/latest/meta-data/jwks",
	}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	f.site = func() tenants.Site { return pathSite(srv) }
	res := doctor.SelfCheck(context.Background(), srv.Client(), f.site())
	trap.Untouched(t)
	found := false
	for _, c := range res.Checks {
		if strings.HasPrefix(c.URL, trap.URL) {
			t.Errorf("check %s names the advertised URL %s as the one checked", c.ID, c.URL)
		}
		if c.ID == checkAdvertisedURLs {
			found = true
			for _, m := range []string{"registration_endpoint", "token_endpoint", "jwks_uri", f.site().Endpoint("register"), "not fetched"} {
				if c.OK || !strings.Contains(c.Detail, m) {
					t.Errorf("advertised URL mismatch not reported (%q missing): %+v", m, c)
				}
			}
		}
	}
	if !found {
		t.Fatalf("no %s check: %v", checkAdvertisedURLs, failedChecks(res))
	}
	// The derived endpoints were checked (and pass): only the mismatch fails.
	if fails := failedChecks(res); len(fails) != 1 {
		t.Errorf("failures %v, want only the advertised-URL mismatch", fails)
	}
}

// Hole 4: no response body is echoed in a check's detail (the self-check of
// a verified custom domain fetches whatever that domain points at).
func TestSecurity_04_DoctorNeverEchoesBodies(t *testing.T) {
	marker := "SECRET-" + tenants.RandomID()
	f := &fakeTenant{bodyMarker: marker}
	srv := httptest.NewServer(f)
	defer srv.Close()
	f.site = func() tenants.Site { return pathSite(srv) }
	res := doctor.SelfCheck(context.Background(), srv.Client(), f.site())
	if res.Failed == 0 {
		t.Fatal("failing registration and JWKS answers were not reported")
	}
	for _, c := range res.Checks {
		if strings.Contains(c.Detail, marker) || strings.Contains(c.Detail, "internal answer") {
			t.Errorf("check %s echoes the response body: %s", c.ID, c.Detail)
		}
	}
}

// Hole 4: the self-check client is the outbound address policy's. A
// deployment on loopback (path and host mode, *.localhost) is refused
// without private fetch — its server sees no connection — and checks
// itself fully with GATEHOUSE_ALLOW_PRIVATE_FETCH (the e2e doctor tests).
func TestSecurity_04_DoctorUsesTheAddressPolicy(t *testing.T) {
	for _, allow := range []bool{false, true} {
		f := &fakeTenant{}
		srv := egresstest.NewTrap(t)
		srv.Config.Handler = f
		_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
		sites := []func() tenants.Site{
			func() tenants.Site { return pathSite(srv.Server) },
			func() tenants.Site {
				return tenants.HostSite("http", "acme.gh.localhost:"+port, &tenants.Tenant{ID: "t1", Slug: "acme"})
			},
		}
		hc := doctor.NewSelfCheckClient(5*time.Second, allow)
		for _, site := range sites {
			f.site = site
			res := doctor.SelfCheck(context.Background(), hc, site())
			if allow && res.Failed != 0 {
				t.Errorf("private fetch allowed, %s: failures %v", site().Issuer, failedChecks(res))
			}
			if !allow {
				if res.Passed != 0 {
					t.Errorf("strict policy, %s: %d checks passed", site().Issuer, res.Passed)
				}
				for _, c := range res.Checks {
					if c.URL != "" && !strings.Contains(c.Detail, "outbound address policy") {
						t.Errorf("strict policy, check %s: %s", c.ID, c.Detail)
					}
				}
			}
		}
		srv.DialedIf(t, allow)
	}
}
